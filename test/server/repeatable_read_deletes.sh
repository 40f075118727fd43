#!/usr/bin/env bash
# A delete_series or drop_metric under REPEATABLE READ whose snapshot predates
# a concurrent writer's commit must see that writer's points or fail with
# 40001; it must never leave them behind without their series (afterwards
# compress must still work for every series).
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
cd "$AEGIS_ROOT"
db=aegis_rr_deletes
log="$AEGIS_ROOT/build/rr-deletes.log"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -v ON_ERROR_STOP=1 -d $db >/dev/null <<'SQL'
CREATE EXTENSION aegis_timeseries;
SELECT aegis.write('rr_series', '{}', '2024-01-01', 1);
SELECT aegis.write('rr_metric', '{"k": "a"}', '2024-01-01', 1);
SELECT aegis.write('rr_metric', '{"k": "b"}', '2024-01-01', 1);
SQL

orphans() {
  psql -X -At -d $db -c "SELECT (SELECT count(*) FROM aegis.recent_points r WHERE NOT EXISTS (SELECT 1 FROM aegis.series s WHERE s.series_id = r.series_id)) + (SELECT count(*) FROM aegis.blocks b WHERE NOT EXISTS (SELECT 1 FROM aegis.series s WHERE s.series_id = b.series_id))"
}

for call in "aegis.delete_series(series_id) FROM aegis.series WHERE metric = 'rr_series'" \
            "aegis.drop_metric('rr_metric')"; do
  psql -X -q -d $db -v ON_ERROR_STOP=0 >"$log" 2>&1 <<SQL
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM aegis.series;   -- the transaction's snapshot
\! psql -X -q -d $db -c "SELECT aegis.write('rr_series', '{}', '2024-01-01 00:00:05', 5), aegis.write('rr_metric', '{\"k\": \"b\"}', '2024-01-01 00:00:05', 5)" >/dev/null
\echo CALL
SELECT $call;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
COMMIT;
SQL
  state=$(sed -n 's/^SQLSTATE //p' "$log")
  n=$(orphans)
  if [ "$n" != 0 ]; then echo "not ok - $call left $n points without a series"; cat "$log"; exit 1; fi
  if [ "$state" = 40001 ]; then
    echo "ok - under REPEATABLE READ, $call fails with 40001 and leaves nothing behind"
  elif [ "$state" = 00000 ]; then
    echo "ok - under REPEATABLE READ, $call removed every point, the writer's included"
  else
    echo "not ok - $call ended with SQLSTATE '$state'"; cat "$log"; exit 1
  fi
done
psql -X -q -v ON_ERROR_STOP=1 -d $db -c "SELECT aegis.compress('0')" >/dev/null ||
  { echo "not ok - compress failed after the deletes"; exit 1; }
left=$(psql -X -At -d $db -c "SELECT count(*) FROM aegis.recent_points")
[ "$left" = 0 ] || { echo "not ok - compress left $left recent points"; exit 1; }
echo "ok - compress packs every series afterwards"
psql -X -q -d postgres -c "DROP DATABASE $db"
