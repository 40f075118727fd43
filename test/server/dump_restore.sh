#!/usr/bin/env bash
# pg_dump keeps the catalog, recent points and compressed blocks: a dump
# restored into a new database reads back the same points and keeps working.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for db in aegis_dump_src aegis_dump_dst; do
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done
psql -X -q -v ON_ERROR_STOP=1 -d aegis_dump_src <<'SQL' >/dev/null
CREATE EXTENSION aegis_timeseries;
SELECT aegis.create_metric('temp', 'gauge', 'celsius', 'room temperature');
SELECT aegis.write('temp', jsonb_build_object('room', 'r' || r),
                   ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 min' FROM generate_series(0, 2999) i),
                   ARRAY(SELECT r * 1000 + i / 8.0 FROM generate_series(0, 2999) i))
  FROM generate_series(1, 5) r;
SELECT aegis.write('temp', '{"room": "r1"}', '2024-03-01', 42);   -- recent
SELECT aegis.write('hum', '{"room": "r1"}', '2024-03-01', 55);    -- implicit metric
SQL
"$PGBIN/pg_dump" -Fc -d aegis_dump_src -f "$tmp/dump"
"$PGBIN/pg_restore" -d aegis_dump_dst "$tmp/dump"
q="SELECT metric, tags, count(*), sum(value), min(ts), max(ts) FROM aegis.points GROUP BY 1, 2 ORDER BY 1, 2"
src=$(psql -X -At -d aegis_dump_src -c "$q"; psql -X -At -d aegis_dump_src -c "SELECT * FROM aegis.metrics ORDER BY name" | cut -d'|' -f1-6)
dst=$(psql -X -At -d aegis_dump_dst -c "$q"; psql -X -At -d aegis_dump_dst -c "SELECT * FROM aegis.metrics ORDER BY name" | cut -d'|' -f1-6)
if [ "$src" != "$dst" ] || [ -z "$src" ]; then
  echo "not ok - restored data differs"; diff <(echo "$src") <(echo "$dst"); exit 1
fi
echo "ok - restored points and metrics equal the source"
# The restored database keeps working: new series get fresh ids, writes land.
psql -X -q -v ON_ERROR_STOP=1 -d aegis_dump_dst -c "SELECT aegis.write('temp', '{\"room\": \"r9\"}', '2024-03-02', 1)" >/dev/null
n=$(psql -X -At -d aegis_dump_dst -c "SELECT count(DISTINCT series_id), max(series_id) FROM aegis.series")
[ "$n" = "7|7" ] || { echo "not ok - expected 7 series with ids up to 7 after a new write, got $n"; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 -d aegis_dump_dst -c "SELECT aegis.compress('0')" >/dev/null
echo "ok - the restored database accepts writes and compresses"
psql -X -q -d postgres -c "DROP DATABASE aegis_dump_src" -c "DROP DATABASE aegis_dump_dst"
