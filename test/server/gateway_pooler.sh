#!/usr/bin/env bash
# aegis-gateway behind a connection pooler (Debian's pgbouncer, transaction
# pooling, one server connection): the gateway's four connections take turns
# on one backend, so a request often reaches a backend that keeps another
# connection's series dictionary. The backend refuses it (55000) and the
# gateway sends it again from a new dictionary: every request must be
# answered 204, every sample must be in the database once, and the
# gateway's resend counter must show that the refusal happened.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
cd "$AEGIS_ROOT"

db=aegis_gateway_pooler
base=$((20000 + (AEGIS_TAG % 1000) * 5))
gw_port=$((base + 13)) bouncer_port=$((base + 14))
tmp=$(mktemp -d)
chmod 755 "$tmp"
gw_pid= bouncer_pid=
cleanup() {
  set +e
  [ -f "$tmp/pgbouncer.pid" ] && kill "$(cat "$tmp/pgbouncer.pid")" 2>/dev/null
  for p in $gw_pid $bouncer_pid; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
for prog in pgbouncer; do
  command -v "$prog" >/dev/null || [ -x "/usr/sbin/$prog" ] || { echo "not ok - $prog is not installed (scripts/deps.sh)"; exit 1; }
done
gateway=${GATEWAY_BIN:-$PGBIN/aegis-gateway}
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d $db -c "CREATE EXTENSION aegis_timeseries"
fails=0
check() {  # description, command that must succeed
  if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fails=$((fails + 1)); fi
}

cat >"$tmp/pgbouncer.ini" <<INI
[databases]
$db = host=$AEGIS_CLUSTER_DIR port=$AEGIS_PORT dbname=$db
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = trust
auth_file = $tmp/users.txt
pool_mode = transaction
default_pool_size = 1
max_client_conn = 50
logfile = $tmp/pgbouncer.log
pidfile = $tmp/pgbouncer.pid
INI
echo '"postgres" ""' >"$tmp/users.txt"
[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$tmp"
bouncer=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
as_owner "$bouncer" "$tmp/pgbouncer.ini" >/dev/null 2>&1 &
bouncer_pid=$!
up=false
for _ in $(seq 1 100); do
  psql -X -q -h 127.0.0.1 -p "$bouncer_port" -d $db -c "SELECT 1" >/dev/null 2>&1 && { up=true; break; }
  sleep 0.1
done
$up || { echo "not ok - pgbouncer did not start"; cat "$tmp/pgbouncer.log"; exit 1; }

"$gateway" --listen "127.0.0.1:$gw_port" --dsn "host=127.0.0.1 port=$bouncer_port dbname=$db user=postgres" \
  --connections 4 >"$tmp/gateway.log" 2>&1 &
gw_pid=$!
up=false
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$gw_port/-/healthy" >/dev/null 2>&1 && { up=true; break; }; sleep 0.1; done
$up || { echo "not ok - the gateway did not start"; cat "$tmp/gateway.log"; exit 1; }

# 48 requests of 2,000 series (1,000 hosts x 2 fields) each, the same
# series in every request, each request a round of its own; 4 at a time,
# large enough to overlap, so the gateway opens its four connections. Each
# request lists the hosts from another one on, and odd ones the fields the
# other way round, so connections number the series differently: a backend
# that applied one connection's slots to another's samples would write
# them to the wrong series.
requests=48 hosts=1000
python3 - "$tmp" $requests $hosts <<'PY'
import sys
tmp, requests, hosts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for r in range(requests):
    with open("%s/req%d.lp" % (tmp, r), "w") as f:
        for k in range(hosts):
            h = (k + r * 37) % hosts
            fields = ["used=%d" % (r * 100000 + h), "free=%d" % (h * 1000 + r)]
            if r % 2:
                fields.reverse()
            f.write("pool,host=h%d %s %d\n" % (h, ",".join(fields), 1700000000 + r))
PY
seq 0 $((requests - 1)) | xargs -P 4 -I{} sh -c \
  "curl -s --max-time 60 -o /dev/null -w '%{http_code}\n' --data-binary @$tmp/req{}.lp 'http://127.0.0.1:$gw_port/write?db=p&precision=s'" \
  >"$tmp/codes"
check "every request through the pooler is answered 204 ($(sort "$tmp/codes" | uniq -c | tr '\n' ' '))" \
  "[ \"\$(grep -c '^204\$' '$tmp/codes')\" = $requests ]"
got=$(psql -X -A -t -d $db -c "SELECT count(*) || ' ' || count(DISTINCT (metric, tags)) || ' ' || count(*) FILTER (
    WHERE (metric = 'pool_used' AND value = extract(epoch FROM ts)::int % 1700000000 * 100000
                                            + substr(tags ->> 'host', 2)::int)
       OR (metric = 'pool_free' AND value = substr(tags ->> 'host', 2)::int * 1000
                                            + extract(epoch FROM ts)::int % 1700000000))
  FROM aegis.points")
want="$((requests * hosts * 2)) $((hosts * 2)) $((requests * hosts * 2))"
check "every sample is in the database once, in its own series ($got; want $want)" "[ '$got' = '$want' ]"
curl -sf "http://127.0.0.1:$gw_port/metrics" >"$tmp/metrics"
resends=$(awk '$1 == "aegis_gateway_dictionary_resends_total" {print $2}' "$tmp/metrics")
defined=$(awk '$1 == "aegis_gateway_series_defined_total" {print $2}' "$tmp/metrics")
# Counters without labels are served too (they were left out before).
check "/metrics serves aegis_gateway_series_defined_total (${defined:-none}; at least the 2000 series once)" \
  "[ \"\${defined:-0}\" -ge $((hosts * 2)) ]"
check "requests that reached another connection's backend were refused and sent again (${resends:-0} resends)" \
  "[ \"\${resends:-0}\" -gt 0 ]"
check "the gateway answered no request with an internal error" "! grep -qi 'internal' '$tmp/gateway.log'"
exit $((fails > 0))
