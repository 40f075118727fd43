#!/usr/bin/env bash
# pg_dump keeps the catalog, recent points, compressed blocks and rolled-up
# steps: a dump
# restored into a new database reads back the same points and keeps working.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS aegis_dump_src" -c "CREATE DATABASE aegis_dump_src"
psql -X -q -v ON_ERROR_STOP=1 -d aegis_dump_src <<'SQL' >/dev/null
CREATE EXTENSION aegis_timeseries;
SELECT aegis.create_metric('temp', 'gauge', 'celsius', 'room temperature');
SELECT aegis.write('temp', jsonb_build_object('room', 'r' || r),
                   ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 min' FROM generate_series(0, 2999) i),
                   ARRAY(SELECT r * 1000 + i / 8.0 FROM generate_series(0, 2999) i))
  FROM generate_series(1, 5) r;
SELECT aegis.write('temp', '{"room": "r1"}', '2024-03-01', 42);   -- recent
SELECT aegis.write('hum', '{"room": "r1"}', '2024-03-01', 55);    -- implicit metric
-- Rolled up into hourly steps before 2024-01-02 (aegis.rollups).
SELECT aegis.write('rolled', '{"room": "r1"}',
                   ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 min' FROM generate_series(0, 2999) i),
                   ARRAY(SELECT i / 4.0 FROM generate_series(0, 2999) i));
BEGIN;
SELECT aegis.set_downsampling('rolled', jsonb_build_array(jsonb_build_object(
         'after', (now() - timestamptz '2024-01-02 00:00+00')::text, 'step', '1 hour')));
SELECT aegis.apply_downsampling();
COMMIT;
SQL
q="SELECT metric, tags, count(*), sum(value), min(ts), max(ts) FROM aegis.points GROUP BY 1, 2 ORDER BY 1, 2;
   SELECT fn, value FROM unnest(ARRAY['count', 'sum', 'min', 'max', 'stddev']) fn,
                         aegis.aggregate('rolled{}', fn, '-infinity', 'infinity');
   SELECT name, downsampling, (SELECT count(*) FROM aegis.rollups) FROM aegis.metric_catalog ORDER BY 1"
src=$(psql -X -At -d aegis_dump_src -c "$q"; psql -X -At -d aegis_dump_src -c "SELECT * FROM aegis.metrics ORDER BY name" | cut -d'|' -f1-6)
# A plain restore, and parallel restores (-j 4) of the custom and directory
# formats: the extension's tables have no foreign keys between them, so their
# data may load in any order.
for mode in "custom:1" "custom:4" "directory:4"; do
  format=${mode%%:*}
  jobs=${mode##*:}
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS aegis_dump_dst" -c "CREATE DATABASE aegis_dump_dst"
  rm -rf "$tmp/dump"
  "$PGBIN/pg_dump" --format="$format" -d aegis_dump_src -f "$tmp/dump"
  "$PGBIN/pg_restore" -j "$jobs" --exit-on-error -d aegis_dump_dst "$tmp/dump" ||
    { echo "not ok - pg_restore -j $jobs of the $format format failed"; exit 1; }
  dst=$(psql -X -At -d aegis_dump_dst -c "$q"; psql -X -At -d aegis_dump_dst -c "SELECT * FROM aegis.metrics ORDER BY name" | cut -d'|' -f1-6)
  if [ "$src" != "$dst" ] || [ -z "$src" ]; then
    echo "not ok - restored data differs ($format format, -j $jobs)"; diff <(echo "$src") <(echo "$dst"); exit 1
  fi
  echo "ok - restored points and metrics equal the source ($format format, -j $jobs)"
done
# The restored database keeps working: new series get fresh ids, writes land.
psql -X -q -v ON_ERROR_STOP=1 -d aegis_dump_dst -c "SELECT aegis.write('temp', '{\"room\": \"r9\"}', '2024-03-02', 1)" >/dev/null
n=$(psql -X -At -d aegis_dump_dst -c "SELECT count(DISTINCT series_id), max(series_id) FROM aegis.series")
[ "$n" = "8|8" ] || { echo "not ok - expected 8 series with ids up to 8 after a new write, got $n"; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 -d aegis_dump_dst -c "SELECT aegis.compress('0')" >/dev/null
echo "ok - the restored database accepts writes and compresses"
psql -X -q -d postgres -c "DROP DATABASE aegis_dump_src" -c "DROP DATABASE aegis_dump_dst"
