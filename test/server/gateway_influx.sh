#!/usr/bin/env bash
# aegis-gateway against the real InfluxDB (Debian's influxdb 1.6): both
# receive the same line-protocol requests (escaped commas, spaces and equals
# signs in measurement, tag and field names, every field type, every
# precision, duplicate points, bad lines) and must keep the same points:
# every numeric and boolean field InfluxDB stores (asked through its HTTP
# API) is in the database as metric <measurement>_<field> with the same tags
# (plus db), the same time (to the microsecond) and the same value, and
# nothing else is. Both answer a request with bad lines 400 "partial write"
# and keep its good lines. String fields are the documented difference
# (InfluxDB stores them, the gateway counts and drops them), and so are
# unsigned integers (1u), which InfluxDB 1.6 refuses and the gateway stores.
#
# Its own cluster (scripts/test-cluster.sh), so make test may run it beside
# the scripts on the shared cluster.
# make test: either lane (scripts/test.sh)
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
cd "$AEGIS_ROOT"

base=$((20000 + (AEGIS_TAG % 1000) * 5))
gw_port=$((base + 3)) influx_http=$((base + 4)) influx_rpc=$((base + 5000))
db=aegis_gateway_influx
dir="/tmp/aegis-gateway-influx-$AEGIS_TAG"
tmp=$(mktemp -d)
gw_pid= influx_pid=
cleanup() {
  set +e
  for p in $gw_pid $influx_pid; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
  scripts/test-cluster.sh destroy "$dir"
}
scripts/test-cluster.sh destroy "$dir"
trap cleanup EXIT
scripts/test-cluster.sh start "$dir" $((AEGIS_PORT + 2500))
export PGHOST=$dir PGPORT=$((AEGIS_PORT + 2500))
command -v influxd >/dev/null || { echo "not ok - influxd is not installed (scripts/deps.sh installs Debian's influxdb)"; exit 1; }

cat >"$tmp/influx.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$influx_rpc"
[meta]
  dir = "$tmp/influx/meta"
[data]
  dir = "$tmp/influx/data"
  wal-dir = "$tmp/influx/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$influx_http"
  log-enabled = false
[monitor]
  store-enabled = false
CONF
influxd -config "$tmp/influx.conf" >"$tmp/influxd.log" 2>&1 &
influx_pid=$!
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d $db -c "CREATE EXTENSION aegis_timeseries"
"$PGBIN/aegis-gateway" --listen "127.0.0.1:$gw_port" --dsn "dbname=$db" >"$tmp/gateway.log" 2>&1 &
gw_pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$influx_http/ping" >/dev/null 2>&1 && curl -sf "http://127.0.0.1:$gw_port/-/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf -XPOST "http://127.0.0.1:$influx_http/query" --data-urlencode "q=CREATE DATABASE lp" >/dev/null ||
  { tail "$tmp/influxd.log"; echo "not ok - influxd did not start"; exit 1; }

python3 test/gateway/lp_requests.py "$tmp/req"
fails=0
for f in "$tmp"/req/*.lp; do
  name=$(basename "$f" .lp)            # NN-precision
  precision=${name#*-}
  a=$(curl -s -o "$tmp/a.out" -w '%{http_code}' -XPOST "http://127.0.0.1:$influx_http/write?db=lp&precision=$precision" --data-binary @"$f")
  b=$(curl -s -o "$tmp/b.out" -w '%{http_code}' -XPOST "http://127.0.0.1:$gw_port/write?db=lp&precision=$precision" --data-binary @"$f")
  # A string field: InfluxDB stores it (204); the gateway drops it and says so
  # with the partial-write answer (400), keeping the line's other fields.
  expect=$a
  [ "$a" = 204 ] && grep -q '=\"' "$f" && expect=400
  if [ "$expect" != "$b" ]; then
    echo "not ok - $name: InfluxDB answered $a, the gateway $b"; cat "$tmp/a.out" "$tmp/b.out"; echo; fails=$((fails + 1))
  elif [ "$b" = 400 ] && ! grep -q '"partial write' "$tmp/b.out"; then
    echo "not ok - $name: 400 without InfluxDB's partial-write error: $(cat "$tmp/b.out")"; fails=$((fails + 1))
  else
    echo "ok - $name: InfluxDB answered $a, the gateway $b"
  fi
done
# The same requests through the 2.x endpoint (bucket lp2; minutes and hours
# written as seconds) keep the same points.
for f in "$tmp"/req/*.v2; do
  precision=${f##*-}; precision=${precision%.v2}
  case $precision in n) p2=ns ;; u) p2=us ;; *) p2=${precision/[mh]/s}; [ "$precision" = ms ] && p2=ms ;; esac
  curl -s -o /dev/null -XPOST "http://127.0.0.1:$gw_port/api/v2/write?bucket=lp2&org=aegis&precision=$p2" --data-binary @"$f"
done
# Unsigned integers: InfluxDB 1.6 refuses them; the gateway stores them.
code=$(curl -s -o "$tmp/u.out" -w '%{http_code}' -XPOST "http://127.0.0.1:$gw_port/write?db=lpu&precision=s" \
  --data-binary $'uns value=18446744073709551615u 1700000000\nuns value=7u 1700000001')
got=$(psql -X -A -t -d $db -c "SELECT string_agg(value::text, ',' ORDER BY ts) FROM aegis.read('uns_value{db=\"lpu\"}')")
if [ "$code" = 204 ] && [ "$got" = "1.8446744073709552e+19,7" ]; then
  echo "ok - unsigned integer fields are stored as doubles"
else
  echo "not ok - unsigned integer fields: $code $(cat "$tmp/u.out") [$got]"; fails=$((fails + 1))
fi

curl -sf "http://127.0.0.1:$influx_http/query?db=lp&epoch=ns" --data-urlencode 'q=SHOW FIELD KEYS' >"$tmp/fields.json"
curl -sf "http://127.0.0.1:$influx_http/query?db=lp&epoch=ns" --data-urlencode 'q=SELECT * FROM /.*/' >"$tmp/influx.json"
for bucket in lp lp2; do
  psql -X -q -A -t -F $'\t' -v ON_ERROR_STOP=1 -d $db >"$tmp/db-$bucket.tsv" <<SQL
SELECT metric, tags::text, (extract(epoch FROM ts) * 1000000)::bigint, encode(float8send(value), 'hex')
  FROM aegis.read('{__name__=~".+", db="$bucket"}');
SQL
done
python3 test/gateway/lp_compare.py "$tmp/fields.json" "$tmp/influx.json" "$tmp/db-lp.tsv" lp || fails=$((fails + 1))
python3 test/gateway/lp_compare.py "$tmp/fields.json" "$tmp/influx.json" "$tmp/db-lp2.tsv" lp2 || fails=$((fails + 1))
# Bounded bodies: a gateway with --max-request-bytes 1000 answers 413 to a
# larger body however it comes (Content-Length, chunked, gzip that expands
# past the limit) and writes nothing of it; 1,000 bytes or less are written.
small_port=$((base + 12))
"$PGBIN/aegis-gateway" --listen "127.0.0.1:$small_port" --dsn "dbname=$db" --max-request-bytes 1000 >"$tmp/small.log" 2>&1 &
small_pid=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$small_port/-/healthy" >/dev/null && break; sleep 0.1; done
python3 -c 'import sys; sys.stdout.write("".join("big,n=%d v=%d 1700000000\n" % (i, i) for i in range(100)))' >"$tmp/big.lp"
gzip -c "$tmp/big.lp" >"$tmp/big.lp.gz"
codes=$(curl -s -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$small_port/write?db=lim" --data-binary @"$tmp/big.lp")
codes="$codes $(curl -s -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$small_port/write?db=lim" -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/big.lp")"
codes="$codes $(curl -s -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$small_port/write?db=lim" -H 'Content-Encoding: gzip' --data-binary @"$tmp/big.lp.gz")"
codes="$codes $(curl -s -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$small_port/write?db=lim" --data-binary 'small v=1 1700000000')"
kill "$small_pid"; wait "$small_pid" 2>/dev/null || true
stored=$(psql -X -A -t -d $db -c "SELECT string_agg(DISTINCT metric, ',') FROM aegis.read('{__name__=~\".+\", db=\"lim\"}')")
if [ "$codes" = "413 413 413 204" ] && [ "$stored" = small_v ]; then
  echo "ok - bodies over --max-request-bytes are refused (413) however they come, and nothing of them is written"
else
  echo "not ok - body limit: answers [$codes], stored [$stored]"; fails=$((fails + 1))
fi

internal=$(curl -sf "http://127.0.0.1:$gw_port/metrics" | grep -c '^aegis_gateway_requests_total{.*code="500"}' || true)
if kill -0 "$gw_pid" && [ "$internal" = 0 ]; then
  echo "ok - the gateway runs and answered no request with an internal error"
else
  echo "not ok - the gateway died or answered internal errors"; cat "$tmp/gateway.log"; fails=$((fails + 1))
fi
exit $((fails > 0))
