#!/usr/bin/env bash
# aegis-gateway against the real Prometheus (Debian's prometheus 2.42 and
# prometheus-node-exporter): Prometheus scrapes itself and a node exporter
# every second and remote-writes to the gateway for a minute, while the
# gateway is killed with SIGKILL and started again, and PostgreSQL is
# restarted. Afterwards every sample that Prometheus itself stored in that
# minute (asked through its HTTP API) must be in the database with the same
# labels, the same millisecond timestamp and a bit-identical value.
#
# Its own cluster (scripts/test-cluster.sh, fsync on), so restarting it
# disturbs no other test; the gateway connects as a role with only the
# writer privileges of docs/security.md.
# make test: starts early (it mostly waits for Prometheus; scripts/test.sh)
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
cd "$AEGIS_ROOT"

dir="/tmp/aegis-gateway-prom-$AEGIS_TAG"
pgport=$((AEGIS_PORT + 2200))
base=$((20000 + (AEGIS_TAG % 1000) * 5))
gw_port=$base prom_port=$((base + 1)) node_port=$((base + 2))
db=aegis_gateway
seconds=${GATEWAY_SECONDS:-60}
prom2_port=$((base + 6))
gw_pid= prom_pid= node_pid= prom2_pid=
cleanup() {
  set +e
  for p in $gw_pid $prom_pid $node_pid $prom2_pid; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  scripts/test-cluster.sh destroy "$dir"
}
scripts/test-cluster.sh destroy "$dir"
trap cleanup EXIT
for prog in prometheus prometheus-node-exporter aegis-gateway; do
  command -v "$prog" >/dev/null || [ -x "$PGBIN/$prog" ] ||
    { echo "not ok - $prog is not installed (scripts/deps.sh, make install)"; exit 1; }
done
gateway=${GATEWAY_BIN:-$PGBIN/aegis-gateway}

scripts/test-cluster.sh start "$dir" "$pgport" "fsync = on" "synchronous_commit = on"
psql -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$pgport" -U postgres -d postgres <<SQL
CREATE DATABASE $db;
\c $db
CREATE EXTENSION aegis_timeseries;
CREATE ROLE gateway_writer LOGIN;
GRANT USAGE ON SCHEMA aegis TO gateway_writer;
GRANT EXECUTE ON FUNCTION aegis.write(text, jsonb, timestamptz, double precision),
                          aegis.write(text, jsonb, timestamptz[], double precision[]),
                          aegis.write_now(text, jsonb, double precision) TO gateway_writer;
GRANT INSERT ON aegis.points TO gateway_writer;
GRANT EXECUTE ON FUNCTION aegis.describe_metric(text, text, text, text) TO gateway_writer;
CREATE ROLE gateway_reader LOGIN;
GRANT USAGE ON SCHEMA aegis TO gateway_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA aegis TO gateway_reader;
SQL
dsn="host=$dir port=$pgport dbname=$db user=gateway_writer"
read_dsn="host=$dir port=$pgport dbname=$db user=gateway_reader"

start_gateway() {
  "$gateway" --listen "127.0.0.1:$gw_port" --dsn "$dsn" --read-dsn "$read_dsn" >>"$dir/gateway.log" 2>&1 &
  gw_pid=$!
  for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$gw_port/-/healthy" >/dev/null && return; sleep 0.1; done
  echo "not ok - the gateway did not start"; cat "$dir/gateway.log"; exit 1
}
start_gateway
curl -sf "http://127.0.0.1:$gw_port/-/ready" >/dev/null || { echo "not ok - /-/ready"; exit 1; }
echo "ok - the gateway is ready (connected as gateway_writer)"

prometheus-node-exporter --web.listen-address="127.0.0.1:$node_port" >"$dir/node.log" 2>&1 &
node_pid=$!
cat >"$dir/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs: [{targets: ['127.0.0.1:$prom_port']}]
  - job_name: node
    static_configs: [{targets: ['127.0.0.1:$node_port']}]
remote_write:
  - url: http://127.0.0.1:$gw_port/api/v1/write
    queue_config: {batch_send_deadline: 1s, min_backoff: 50ms, max_backoff: 1s}
    metadata_config: {send_interval: 10s}
YML
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" >"$dir/prometheus.log" 2>&1 &
prom_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$prom_port/-/ready" >/dev/null 2>&1 && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$prom_port/-/ready" >/dev/null || { tail "$dir/prometheus.log"; echo "not ok - prometheus did not start"; exit 1; }
t_start=$(date +%s)
echo "# prometheus on :$prom_port scraping itself and node exporter :$node_port every second, writing to :$gw_port for $seconds s"

sleep $((seconds / 3))
kill -9 "$gw_pid"; wait "$gw_pid" 2>/dev/null || true
echo "# killed the gateway (SIGKILL)"
sleep 3
start_gateway
echo "# started it again"
sleep $((seconds / 3))
scripts/test-cluster.sh stop "$dir"
echo "# stopped PostgreSQL"
sleep 3
scripts/test-cluster.sh start "$dir" "$pgport" "fsync = on" "synchronous_commit = on"
echo "# started PostgreSQL again"
sleep $((seconds - 2 * (seconds / 3) - 6))
cutoff=$(( $(date +%s) - 2 ))

# Wait until Prometheus has sent everything up to the cutoff.
sent=0
for _ in $(seq 1 60); do
  sent=$(curl -sf "http://127.0.0.1:$prom_port/api/v1/query" \
          --data-urlencode 'query=min(prometheus_remote_storage_queue_highest_sent_timestamp_seconds)' |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else 0)')
  [ "$sent" -ge "$cutoff" ] && break
  sleep 1
done
[ "$sent" -ge "$cutoff" ] || { echo "not ok - prometheus had not sent up to the cutoff after 60 s ($sent < $cutoff)"; exit 1; }
echo "ok - prometheus sent everything up to the cutoff"

window=$((cutoff - t_start + 5))
curl -sf "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query={__name__=~\".+\"}[${window}s]" \
  --data-urlencode "time=$cutoff" >"$dir/prom.json"
curl -sf "http://127.0.0.1:$prom_port/api/v1/query" \
  --data-urlencode 'query=sum(prometheus_remote_storage_samples_retried_total) or vector(0)' >"$dir/retried.json"
psql -X -q -A -t -F $'\t' -v ON_ERROR_STOP=1 -h "$dir" -p "$pgport" -U postgres -d $db >"$dir/db.tsv" <<SQL
SELECT metric, tags::text, (extract(epoch FROM ts) * 1000)::bigint, encode(float8send(value), 'hex')
  FROM aegis.read('{__name__=~".+"}', to_timestamp($cutoff - $window), to_timestamp($cutoff) + interval '1 ms');
SQL
retried=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["data"]["result"]; print(r[0]["value"][1] if r else "?")' "$dir/retried.json")
echo "# Prometheus retried $retried samples (the gateway's kill and PostgreSQL's restart)"
python3 test/gateway/prom_compare.py "$dir/prom.json" "$dir/db.tsv" $(((cutoff - window) * 1000)) $((cutoff * 1000)) 10000
# Metadata (sent every 10 s) set the kinds and descriptions of the metrics
# written: a counter, a summary's parts, a histogram's buckets, a gauge.
kinds=$(psql -X -A -t -F ' ' -h "$dir" -p "$pgport" -U postgres -d $db -c "
  SELECT string_agg(name || '=' || kind || (CASE WHEN description <> '' THEN '+' ELSE '-' END), ' ' ORDER BY name)
    FROM aegis.metrics
   WHERE name IN ('prometheus_http_requests_total', 'go_gc_duration_seconds', 'go_gc_duration_seconds_count',
                  'prometheus_http_request_duration_seconds_bucket', 'go_goroutines')")
want="go_gc_duration_seconds=summary+ go_gc_duration_seconds_count=counter+ go_goroutines=gauge+ prometheus_http_request_duration_seconds_bucket=histogram+ prometheus_http_requests_total=counter+"
if [ "$kinds" = "$want" ]; then
  echo "ok - remote-write metadata set the metrics' kinds and descriptions"
else
  echo "not ok - metadata: got [$kinds], want [$want]"; exit 1
fi

# The second Prometheus: remote_read only (read_recent, since its own storage
# is empty), no scrapes. The same range queries must give the same answers.
cat >"$dir/prometheus2.yml" <<YML
global: {}
remote_read:
  - url: http://127.0.0.1:$gw_port/api/v1/read
    read_recent: true
YML
prometheus --config.file="$dir/prometheus2.yml" --storage.tsdb.path="$dir/tsdb2" \
  --web.listen-address="127.0.0.1:$prom2_port" >"$dir/prometheus2.log" 2>&1 &
prom2_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$prom2_port/-/ready" >/dev/null 2>&1 && break; sleep 0.2; done
qstart=$((t_start + 15)) qend=$((cutoff - 1))
same=0 queries=0
for q in 'rate(prometheus_http_requests_total[10s])' 'sum by (job) (up)' 'max_over_time(go_goroutines[15s])' \
         'sum by (mode) (rate(node_cpu_seconds_total[5s]))' 'count by (__name__) ({job="node",__name__=~"node_memory_.*"})' \
         'scrape_duration_seconds{job!="prometheus"}' 'go_gc_duration_seconds{quantile=~"0|1",job=~"prom.*"}'; do
  queries=$((queries + 1))
  for port in $prom_port $prom2_port; do
    curl -sf "http://127.0.0.1:$port/api/v1/query_range" --data-urlencode "query=$q" \
      --data-urlencode "start=$qstart" --data-urlencode "end=$qend" --data-urlencode step=2 >"$dir/q-$port.json" ||
      echo '{"error": "request failed"}' >"$dir/q-$port.json"
  done
  if python3 - "$dir/q-$prom_port.json" "$dir/q-$prom2_port.json" "$q" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def norm(r):
    res = r.get("data", {}).get("result")
    return None if res is None else sorted((json.dumps(s["metric"], sort_keys=True), s["values"]) for s in res)
na, nb = norm(a), norm(b)
points = sum(len(v) for _, v in na or [])
if na is not None and na == nb and points > 0:
    print("ok - remote read answers %s as Prometheus does (%d series, %d points)" % (sys.argv[3], len(na), points))
    sys.exit(0)
print("not ok - remote read answers %s differently: %s" % (sys.argv[3], "no result" if not na else "%d vs %d series" % (len(na), len(nb or []))))
print("# first: %s" % json.dumps(a)[:400])
print("# second: %s" % json.dumps(b)[:400])
sys.exit(1)
PY
  then same=$((same + 1)); fi
done
[ "$same" = "$queries" ] || { echo "not ok - $((queries - same)) of $queries PromQL queries differ through remote read"; exit 1; }

# The gateway still runs and answered no request with an internal error
# (503s while PostgreSQL restarted are expected and retried).
kill -0 "$gw_pid" || { echo "not ok - the gateway is not running any more"; cat "$dir/gateway.log"; exit 1; }
internal=$(curl -sf "http://127.0.0.1:$gw_port/metrics" | grep -c '^aegis_gateway_requests_total{.*code="500"}' || true)
[ "$internal" = 0 ] || { echo "not ok - the gateway answered internal errors"; curl -s "http://127.0.0.1:$gw_port/metrics"; exit 1; }
echo "ok - the gateway runs and answered no request with an internal error"
