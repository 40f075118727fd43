#!/usr/bin/env bash
# aegis-gateway load, every format. OpenMetrics against the real Prometheus:
# the same file is loaded by the gateway and turned into Prometheus blocks by
# `promtool tsdb create-blocks-from openmetrics`; every sample Prometheus then
# serves (its HTTP API) must be in the database with the same labels,
# millisecond and float64 bits (counters with resets, NaN, infinities, -0,
# label values with escapes, histogram buckets), and the TYPE, UNIT and HELP
# lines must set the metrics' kind, unit and description. CSV and line
# protocol: bad input stops (CSV) or is skipped and reported (line protocol)
# with the exit status documented in docs/gateway.md.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
cd "$AEGIS_ROOT"

db=aegis_gateway_load
base=$((20000 + (AEGIS_TAG % 1000) * 5))
prom_port=$((base + 11))
tmp=$(mktemp -d)
prom_pid=
cleanup() {
  [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
gateway=${GATEWAY_BIN:-$PGBIN/aegis-gateway}
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d $db -c "CREATE EXTENSION aegis_timeseries"
fails=0
check() {  # description, command that must succeed
  if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fails=$((fails + 1)); fi
}

python3 - "$tmp/samples.om" <<'PY'
import math, random, sys
rng = random.Random(20261205)
t0 = 1709251200  # 2024-03-01 00:00 UTC
out = open(sys.argv[1], "w")
def v(x):
    return "NaN" if math.isnan(x) else "+Inf" if x == math.inf else "-Inf" if x == -math.inf else repr(x)
def ts(ms):
    return "%d.%03d" % (ms // 1000, ms % 1000)
out.write("# TYPE work_jobs counter\n# HELP work_jobs Jobs done.\n# UNIT work_jobs jobs\n")
for inst in ["a", 'b "quoted" \\ back\nline']:
    c, ms = 0.0, t0 * 1000 + 1234
    esc = inst.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    while ms < (t0 + 7200) * 1000:
        c = 0.0 if rng.random() < 0.02 else c + rng.randint(0, 9)
        out.write('work_jobs_total{instance="%s"} %s %s\n' % (esc, v(c), ts(ms)))
        ms += rng.randint(5000, 20000)
out.write("# TYPE temp_celsius gauge\n# HELP temp_celsius Temperature.\n# UNIT temp_celsius celsius\n")
ms, x = t0 * 1000 + 7, 20.0
specials = [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]
while ms < (t0 + 7200) * 1000:
    x = rng.choice(specials) if rng.random() < 0.05 else round(x + rng.uniform(-1, 1), 3)
    out.write('temp_celsius{room="lab"} %s %s\n' % (v(x), ts(ms)))
    ms += 15000
out.write("# TYPE rpc histogram\n# HELP rpc RPC latency.\n")
for le in ["0.1", "0.5", "+Inf"]:
    for i in range(480):
        out.write('rpc_bucket{le="%s"} %d %s\n' % (le, i * (2 if le == "+Inf" else 1), ts(t0 * 1000 + i * 15000)))
for i in range(480):
    out.write("rpc_count %d %s\n" % (i * 2, ts(t0 * 1000 + i * 15000)))
out.write("# EOF\n")
PY
check "load --format openmetrics writes the whole file" \
  "\"$gateway\" load --format openmetrics --dsn dbname=$db '$tmp/samples.om' >'$tmp/load.out'"

promtool tsdb create-blocks-from openmetrics "$tmp/samples.om" "$tmp/tsdb" >/dev/null
echo "global: {}" >"$tmp/prometheus.yml"
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" --storage.tsdb.retention.time=100y \
  --web.listen-address="127.0.0.1:$prom_port" >"$tmp/prometheus.log" 2>&1 &
prom_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$prom_port/-/ready" >/dev/null 2>&1 && break; sleep 0.2; done
end=$((1709251200 + 7200))
curl -sf "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode 'query={__name__=~".+"}[3h]' \
  --data-urlencode "time=$end" >"$tmp/prom.json"
psql -X -q -A -t -F $'\t' -v ON_ERROR_STOP=1 -d $db >"$tmp/db.tsv" <<'SQL'
SELECT metric, tags::text, (extract(epoch FROM ts) * 1000)::bigint, encode(float8send(value), 'hex')
  FROM aegis.read('{__name__=~".+"}');
SQL
if python3 test/gateway/prom_compare.py "$tmp/prom.json" "$tmp/db.tsv" 0 $((end * 1000)) 3000; then :; else fails=$((fails + 1)); fi
kinds=$(psql -X -A -t -d $db -c "SELECT string_agg(name || ':' || kind || ':' || coalesce(unit, '') || ':' || coalesce(description, ''), ' ' ORDER BY name) FROM aegis.metrics")
check "TYPE, UNIT and HELP set kind, unit and description" \
  "[ \"\$kinds\" = 'rpc_bucket:histogram::RPC latency. rpc_count:counter::RPC latency. temp_celsius:gauge:celsius:Temperature. work_jobs_total:counter:jobs:Jobs done.' ] || { echo \"# \$kinds\"; false; }"

# CSV: aegis.points rows; a bad row refuses its batch (exit 1), the batches before it stay.
printf 'c,"{""k"": ""a,b""}",2024-01-01 00:00:00+00,1.5\nc,{},2024-01-01 00:00:10+00,-0\n' >"$tmp/good.csv"
check "load --format csv writes quoted JSON tags" \
  "\"$gateway\" load --format csv --dsn dbname=$db '$tmp/good.csv' >/dev/null && [ \"\$(psql -X -A -t -d $db -c \"SELECT string_agg(tags::text || '=' || value, ' ' ORDER BY ts) FROM aegis.points WHERE metric = 'c'\")\" = '{\"k\": \"a,b\"}=1.5 {}=-0' ]"
printf 'd,{},2024-01-01 00:00:00+00,1\nd,{},2024-01-01 00:00:10+00,2\nd,{},not a time,3\n' >"$tmp/bad.csv"
set +e
"$gateway" load --format csv --batch-lines 2 --dsn dbname=$db "$tmp/bad.csv" >/dev/null 2>"$tmp/bad.err"
rc=$?
set -e
check "a bad CSV row stops the load with exit 1, naming the batch; the batch before it stays" \
  "[ $rc = 1 ] && grep -q 'lines 3 to 3' '$tmp/bad.err' && grep -q '22007' '$tmp/bad.err' && [ \"\$(psql -X -A -t -d $db -c \"SELECT count(*) FROM aegis.points WHERE metric = 'd'\")\" = 2 ]"

# Line protocol: a bad line is reported and skipped (exit 3), the rest written.
printf 'lp,h=a v=1 1700000000\nlp v= 1700000001\nlp,h=b v=2i 1700000002\n' >"$tmp/x.lp"
set +e
"$gateway" load --precision s --dsn dbname=$db "$tmp/x.lp" >"$tmp/lp.out" 2>"$tmp/lp.err"
rc=$?
set -e
check "a bad line-protocol line is reported and skipped (exit 3), the others written" \
  "[ $rc = 3 ] && grep -q 'loaded 2 points from 3 lines' '$tmp/lp.out' && grep -q \"skipped: lp v= 1700000001\" '$tmp/lp.err' && [ \"\$(psql -X -A -t -d $db -c \"SELECT count(*) FROM aegis.points WHERE metric = 'lp_v'\")\" = 2 ]"
# A string field holding a newline, at a batch boundary (--batch-lines 1):
# the batch is cut after the whole line, not inside the string.
printf 'lp2,h=a s="x\ny",v=1 1700000000\nlp2,h=b v=2 1700000001\n' >"$tmp/y.lp"
set +e
"$gateway" load --precision s --batch-lines 1 --dsn dbname=$db "$tmp/y.lp" >/dev/null 2>&1
set -e
check "a string field with a newline never splits a batch inside the line" \
  "[ \"\$(psql -X -A -t -d $db -c \"SELECT string_agg(tags->>'h' || '=' || value, ' ' ORDER BY ts) FROM aegis.points WHERE metric = 'lp2_v'\")\" = 'a=1 b=2' ]"
exit $((fails > 0))
