#!/usr/bin/env bash
# Data survives a server restart and an immediate (crash) stop; concurrent
# writers creating the same series get one series; the cardinality limit holds
# under concurrency.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
cd "$AEGIS_ROOT"
db=aegis_restart
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -v ON_ERROR_STOP=1 -d $db <<'SQL' >/dev/null
CREATE EXTENSION aegis_timeseries;
SELECT aegis.write('m', '{"k": "a"}', ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 s' FROM generate_series(1, 5000) i),
                   ARRAY(SELECT i::float8 FROM generate_series(1, 5000) i));
SELECT aegis.write('m', '{"k": "b"}', '2024-01-01', 7);
SQL
before=$(psql -X -At -d $db -c "SELECT count(*), sum(value) FROM aegis.points")

# Crash-stop (immediate shutdown skips the checkpoint; WAL replays it).
as_owner "$PGBIN/pg_ctl" -D "$AEGIS_CLUSTER_DIR/data" -m immediate -w stop >/dev/null
scripts/cluster.sh start
after=$(psql -X -At -d $db -c "SELECT count(*), sum(value) FROM aegis.points")
[ "$before" = "$after" ] || { echo "not ok - points changed across a crash restart: $before vs $after"; exit 1; }
echo "ok - points survive an immediate shutdown ($after)"

# Eight writers race to create the same 50 new series.
for w in $(seq 1 8); do
  psql -X -q -d $db -c "SELECT aegis.write('race', jsonb_build_object('i', i::text), '2024-01-01'::timestamptz + $w * interval '1 s', $w) FROM generate_series(1, 50) i" >/dev/null &
done
wait
got=$(psql -X -At -d $db -c "SELECT count(*), count(DISTINCT tags) FROM aegis.series WHERE metric = 'race'")
pts=$(psql -X -At -d $db -c "SELECT count(*) FROM aegis.read('race')")
[ "$got" = "50|50" ] && [ "$pts" = 400 ] || { echo "not ok - racing writers: series $got, points $pts"; exit 1; }
echo "ok - concurrent writers share one series per tag set (50 series, 400 points)"

# Eight writers each try to create 10 series of a metric limited to 30.
fails=0
for w in $(seq 1 8); do
  ( psql -X -q -v ON_ERROR_STOP=1 -d $db -c "SET aegis.max_series_per_metric = 30" \
      -c "SELECT aegis.write('capped', jsonb_build_object('w', '$w', 'i', i::text), now(), 1) FROM generate_series(1, 10) i" \
      >/dev/null 2>"$AEGIS_ROOT/build/capped-$w.err" || true ) &
done
wait
n=$(psql -X -At -d $db -c "SELECT count(*) FROM aegis.series WHERE metric = 'capped'")
errors=$(cat "$AEGIS_ROOT"/build/capped-*.err | grep -c "too many series" || true)
rm -f "$AEGIS_ROOT"/build/capped-*.err
[ "$n" = 30 ] && [ "$errors" = 5 ] || { echo "not ok - capped metric has $n series, $errors writers refused"; exit 1; }
echo "ok - the cardinality limit holds under concurrency (30 series, 5 writers refused)"
# Six batch writers (straight into blocks) and a compression race on one
# series with overlapping time ranges: blocks never overlap and every
# timestamp is there once.
psql -X -q -d $db -c "SELECT aegis.write('overlap', '{}', '2024-01-01 00:00:30', 1)" >/dev/null
for w in $(seq 1 6); do
  psql -X -q -d $db -c "SET aegis.block_max_points = 100" \
    -c "SELECT aegis.write('overlap', '{}', ARRAY(SELECT '2024-01-01'::timestamptz + ($w * 50 + i) * interval '1 s' FROM generate_series(0, 999) i), ARRAY(SELECT $w::float8 FROM generate_series(0, 999) i))" >/dev/null &
done
psql -X -q -d $db -c "SET aegis.block_max_points = 100" -c "SELECT aegis.compress('0')" >/dev/null &
wait
overlaps=$(psql -X -At -d $db -c "SELECT count(*) FROM aegis.blocks a JOIN aegis.blocks b ON a.series_id = b.series_id AND a.ts_min < b.ts_min AND a.ts_max >= b.ts_min")
pts=$(psql -X -At -d $db -c "SELECT count(*), count(DISTINCT ts) FROM aegis.read('overlap')")
[ "$overlaps" = 0 ] && [ "$pts" = "1251|1251" ] || { echo "not ok - concurrent rewrites: $overlaps overlapping blocks, points $pts"; exit 1; }
echo "ok - concurrent batch writes and compression keep blocks disjoint (1251 points)"
# REPEATABLE READ: a rewrite after another transaction committed blocks in
# the same range must see them (or fail with a serialization error), never
# write an overlapping block.
psql -X -q -d $db -v ON_ERROR_STOP=0 >"$AEGIS_ROOT/build/rr.log" 2>&1 <<SQL
SET aegis.block_max_points = 100;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM aegis.blocks;
\! psql -X -q -d $db -c "SET aegis.block_max_points = 100" -c "SELECT aegis.write('rr', '{}', ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 s' FROM generate_series(0, 999) i), ARRAY(SELECT 1::float8 FROM generate_series(0, 999) i))"
SELECT aegis.write('rr', '{}', ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 s' FROM generate_series(500, 1499) i), ARRAY(SELECT 2::float8 FROM generate_series(500, 1499) i));
COMMIT;
SQL
overlaps=$(psql -X -At -d $db -c "SELECT count(*) FROM aegis.blocks a JOIN aegis.blocks b ON a.series_id = b.series_id AND a.ts_min < b.ts_min AND a.ts_max >= b.ts_min")
pts=$(psql -X -At -d $db -c "SELECT count(*), count(DISTINCT ts), sum(value) FROM aegis.read('rr')")
if grep -q "could not serialize" "$AEGIS_ROOT/build/rr.log"; then expected="1000|1000|1000"; else expected="1500|1500|2500"; fi
[ "$overlaps" = 0 ] && [ "$pts" = "$expected" ] || { echo "not ok - repeatable read rewrite: $overlaps overlapping blocks, points $pts (expected $expected)"; cat "$AEGIS_ROOT/build/rr.log"; exit 1; }
echo "ok - a REPEATABLE READ rewrite sees blocks committed after its snapshot ($pts)"

# delete_series racing a writer that holds the series: the delete waits for
# the writer, and no point outlives its series. Then a writer whose cache
# still holds a series deleted meanwhile writes to a fresh series instead.
psql -X -q -d $db -c "SELECT aegis.write('del', '{}', '2024-01-01', 0)" >/dev/null
psql -X -q -d $db -c "BEGIN" -c "SELECT aegis.write('del', '{}', '2024-01-01 00:00:01', 1)" -c "SELECT pg_sleep(1)" \
  -c "SELECT aegis.write('del', '{}', '2024-01-01 00:00:02', 2)" -c "COMMIT" >/dev/null &
sleep 0.3
psql -X -q -d $db -c "SELECT aegis.delete_series(series_id) FROM aegis.series WHERE metric = 'del'" >/dev/null
wait
psql -X -q -d $db >/dev/null <<SQL
SELECT aegis.write('del2', '{}', '2024-01-01', 0);
BEGIN;
SELECT aegis.write('del2', '{}', '2024-01-01 00:00:01', 1);
\! psql -X -q -d $db -c "SELECT aegis.delete_series(series_id) FROM aegis.series WHERE metric = 'del2'" & sleep 0.3
COMMIT;
\! sleep 0.5
SELECT aegis.write('del2', '{}', '2024-01-01 00:00:02', 2);
SQL
orphans=$(psql -X -At -d $db -c "SELECT (SELECT count(*) FROM aegis.recent_points r WHERE NOT EXISTS (SELECT 1 FROM aegis.series s WHERE s.series_id = r.series_id)) + (SELECT count(*) FROM aegis.blocks b WHERE NOT EXISTS (SELECT 1 FROM aegis.series s WHERE s.series_id = b.series_id))")
del=$(psql -X -At -d $db -c "SELECT count(*) FROM aegis.read('del')")
del2=$(psql -X -At -d $db -c "SELECT string_agg(value::text, ',') FROM aegis.read('del2')")
[ "$orphans" = 0 ] && [ "$del" = 0 ] && [ "$del2" = 2 ] || { echo "not ok - delete_series races: $orphans orphan rows, del has $del points, del2 has '$del2'"; exit 1; }
echo "ok - no point outlives its series when delete_series races writers"

# The wrapper's handler called by hand is an error, not a crash.
out=$(psql -X -q -d $db -c "SELECT aegis._points_handler()" 2>&1 || true)
[[ "$out" == *ERROR* ]] || { echo "not ok - handler called by hand: $out"; exit 1; }
psql -X -At -d $db -c "SELECT 1" >/dev/null || { echo "not ok - server gone after the handler was called by hand"; exit 1; }
echo "ok - the wrapper's handler called by hand raises an error"
psql -X -q -d postgres -c "DROP DATABASE $db"
