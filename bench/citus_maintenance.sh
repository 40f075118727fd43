#!/usr/bin/env bash
# Times maintenance on a distributed database (docs/scale-out.md, "What runs
# where"): on the Citus cluster of scripts/citus-cluster.sh (started here if
# it is not running), a database with 200 series of 8,640 points (one day
# at 10 s) in blocks and one hour of late points of each as recent rows,
# distributed over 4 shards; then aegis.compress('0'), aegis.delete of a
# 30-minute range and aegis.merge_blocks(), each timed by psql. Prints one
# line per statement: its result and time. Needs Citus installed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
reason=$(scripts/citus-cluster.sh available) || { echo "skipped: $reason"; exit 77; }
scripts/citus-cluster.sh start >/dev/null
eval "$(scripts/citus-cluster.sh env)"
# shellcheck disable=SC2086
set -- $CITUS_WORKER_PORTS
db=aegis_citus_maintenance
for port in "$PGPORT" "$1" "$2"; do
  psql -X -q -p "$port" -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  psql -X -q -p "$port" -d $db -c "CREATE EXTENSION citus"
done
ports=("$PGPORT" "$1" "$2")
trap 'for port in "${ports[@]}"; do psql -X -q -p "$port" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done' EXIT
run() { psql -X -q -v ON_ERROR_STOP=1 -p "$PGPORT" -d $db "$@"; }
log=$(mktemp)
run -c "SELECT citus_set_coordinator_host('127.0.0.1', $PGPORT)" -c "SELECT citus_add_node('127.0.0.1', $1)" \
    -c "SELECT citus_add_node('127.0.0.1', $2)" -c "CREATE EXTENSION aegis_timeseries" \
    -c "SELECT aegis.distribute(4)" >"$log" 2>&1 || { grep -v '^NOTICE\|^DETAIL\|^HINT' "$log" >&2; exit 1; }
rm -f "$log"
run -c "SELECT count(aegis.write('m', jsonb_build_object('k', k::text),
          ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '10 s' FROM generate_series(0, 8639) i),
          ARRAY(SELECT round((k + sin(i / 30.0) * 10)::numeric, 1)::float8 FROM generate_series(0, 8639) i)))
        FROM generate_series(1, 200) k" >/dev/null
run -c "SELECT count(aegis.write('m', jsonb_build_object('k', k::text),
          ARRAY(SELECT '2024-01-01 12:00:05'::timestamptz + i * interval '10 s' FROM generate_series(0, 359) i),
          ARRAY(SELECT i::float8 FROM generate_series(0, 359) i)))
        FROM generate_series(1, 200) k" >/dev/null
for statement in "SELECT aegis.compress('0')" \
                 "SELECT aegis.delete('m', '2024-01-01 06:00:03', '2024-01-01 06:30:07')" \
                 "SELECT aegis.merge_blocks()"; do
  echo "$statement: $(run -At -c '\timing on' -c "$statement" | tr '\n' ' ')"
done
