#!/usr/bin/env bash
# Upgrades: every released version's install script is frozen (its SHA-256
# is checked here), still installs, and upgrades with ALTER EXTENSION ...
# UPDATE to the current version, keeping its data; the upgraded schema equals
# a fresh install of the current version object by object
# (test/server/upgrade_schema.sql). See src/sql/versions/README.md.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
cd "$AEGIS_ROOT"

# The released install scripts, frozen: name and SHA-256.
declare -A frozen=(
  [0.1.0]=ecce282dbe13454bef023173564f32a509e2538da7be551c697b5a118fe6eb9d
)
current=$(sed -n "s/^default_version = '\(.*\)'/\1/p" aegis_timeseries.control)
work="$AEGIS_ROOT/build/upgrade"
mkdir -p "$work"

for version in "${!frozen[@]}"; do
  file=src/sql/versions/aegis_timeseries--$version.sql
  sum=$(sha256sum "$file" | cut -d' ' -f1)
  [ "$sum" = "${frozen[$version]}" ] || { echo "not ok - $file changed (SHA-256 $sum): released scripts are frozen"; exit 1; }
  echo "ok - $file is unchanged"

  old=aegis_upgrade_from_${version//./_}
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $old" -c "CREATE DATABASE $old"
  psql -X -q -v ON_ERROR_STOP=1 -d $old >/dev/null <<SQL
CREATE EXTENSION aegis_timeseries VERSION '$version';
SELECT aegis.create_metric('up_cpu', 'gauge', 'percent', 'CPU');
-- Blocks (a batch straight into them), recent rows, a compressed range with a
-- late point over it, a counter, and a second series of another metric.
SELECT aegis.write('up_cpu', '{"host": "a"}',
                   ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '10 s' FROM generate_series(0, 2999) i),
                   ARRAY(SELECT round((50 + 20 * sin(i / 100.0))::numeric, 2)::float8 FROM generate_series(0, 2999) i));
INSERT INTO aegis.points SELECT 'up_req', jsonb_build_object('host', 'a'), '2024-01-01'::timestamptz + i * interval '15 s', i * 3
  FROM generate_series(0, 499) i;
SELECT aegis.compress('0');
SELECT aegis.write('up_cpu', '{"host": "a"}', '2024-01-01 00:05:00', 99.5);
SELECT aegis.write('up_cpu', '{"host": "b"}', '2024-01-01 00:00:00', 1);
SQL
  snapshot() {  # what the data reads as
    psql -X -At -d "$1" <<'SQL'
SELECT metric, tags, count(*), md5(string_agg(ts::text || '=' || float8send(value)::text, ',' ORDER BY ts))
  FROM aegis.read('{__name__=~"up_.*"}') GROUP BY 1, 2 ORDER BY 1, 2::text;
SELECT bucket, tags, value FROM aegis.aggregate('up_cpu', 'avg', '2024-01-01', '2024-01-02', '1 hour') ORDER BY 1, 2::text;
SELECT bucket, value FROM aegis.aggregate('up_req', 'increase', '2024-01-01', '2024-01-02', '30 minutes') ORDER BY 1;
SELECT metric, series, points, compressed_points, blocks FROM aegis.stats ORDER BY 1;
SELECT metric, tags, ts, value FROM aegis.latest('{__name__=~"up_.*"}') ORDER BY 1, 2::text;
SELECT count(*), sum(value) FROM aegis.read('up_cpu', '2024-01-01 02:00:05', '2024-01-01 02:30');
SQL
  }
  snapshot $old >"$work/before.txt"
  psql -X -q -v ON_ERROR_STOP=1 -d $old -c "ALTER EXTENSION aegis_timeseries UPDATE"
  got=$(psql -X -At -d $old -c "SELECT extversion FROM pg_extension WHERE extname = 'aegis_timeseries'")
  [ "$got" = "$current" ] || { echo "not ok - $version updated to '$got', not $current"; exit 1; }
  echo "ok - $version updates to $current"
  snapshot $old >"$work/after.txt"
  diff -u "$work/before.txt" "$work/after.txt" ||
    { echo "not ok - the data of $version reads differently after the update"; exit 1; }
  echo "ok - after the update every point, aggregate and count reads as before ($(wc -l <"$work/before.txt") lines)"
  # The legacy partition knows its longest block, so reads that start inside
  # a block still find it (the window read in the snapshot above).
  spans=$(psql -X -At -d $old -c "SELECT (SELECT max(max_span) FROM aegis.block_spans WHERE partition = 'aegis.blocks_legacy'::regclass) = (SELECT max((extract(epoch FROM ts_max - ts_min) * 1000000)::bigint) FROM aegis.blocks_legacy)")
  [ "$spans" = t ] || { echo "not ok - aegis.block_spans does not give the legacy partition's longest block ('$spans')"; exit 1; }
  echo "ok - aegis.block_spans gives the legacy partition's longest block"

  # The upgraded schema is the current version's, object by object.
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS aegis_upgrade_fresh" -c "CREATE DATABASE aegis_upgrade_fresh"
  psql -X -q -d aegis_upgrade_fresh -c "CREATE EXTENSION aegis_timeseries"
  psql -X -q -v ON_ERROR_STOP=1 -d $old -f test/server/upgrade_schema.sql >"$work/upgraded-schema.txt"
  psql -X -q -v ON_ERROR_STOP=1 -d aegis_upgrade_fresh -f test/server/upgrade_schema.sql >"$work/fresh-schema.txt"
  diff -u "$work/fresh-schema.txt" "$work/upgraded-schema.txt" ||
    { echo "not ok - the schema upgraded from $version differs from a fresh $current install"; exit 1; }
  echo "ok - the schema upgraded from $version equals a fresh $current install ($(wc -l <"$work/fresh-schema.txt") objects and properties)"

  # And it keeps working: write, late write, compress, delete.
  psql -X -q -v ON_ERROR_STOP=1 -d $old >/dev/null <<'SQL'
SELECT aegis.write('up_cpu', '{"host": "a"}', '2024-01-01 00:05:00', 42);
SELECT aegis.write('up_cpu', '{"host": "c"}', '2024-01-03', 7);
SELECT aegis.compress('0');
SELECT aegis.delete_series(series_id) FROM aegis.series WHERE tags = '{"host": "b"}';
SQL
  check=$(psql -X -At -d $old -c "SELECT (SELECT value FROM aegis.read('up_cpu{host=\"a\"}') WHERE ts = '2024-01-01 00:05:00') || ' ' || (SELECT count(*) FROM aegis.series) || ' ' || (SELECT count(*) FROM aegis.recent_points)")
  [ "$check" = "42 3 0" ] || { echo "not ok - after the update writes, compress and deletes gave '$check', expected '42 3 0'"; exit 1; }
  echo "ok - after the update writes, late writes, compress and deletes work"
  # Roll-ups over the data 0.1.0 wrote (its blocks are the legacy partition).
  counts="SELECT string_agg(value::text, ' ' ORDER BY tags) FROM aegis.aggregate('up_cpu{}', 'count', '-infinity', 'infinity')"
  before=$(psql -X -At -d $old -c "$counts")
  rolled=$(psql -X -q -At -v ON_ERROR_STOP=1 -d $old <<'SQL'
BEGIN;
SELECT aegis.set_downsampling('up_cpu', jsonb_build_array(jsonb_build_object(
         'after', (now() - timestamptz '2024-01-02 12:00+00')::text, 'step', '1 hour')));
SELECT aegis.apply_downsampling() > 0;
COMMIT;
SQL
)
  rolled=$(echo "$rolled" | tail -n 1)
  after=$(psql -X -At -d $old -c "$counts")
  [ "$rolled" = t ] && [ -n "$before" ] && [ "$before" = "$after" ] ||
    { echo "not ok - rolling up upgraded data: rolled '$rolled', counts '$before' then '$after'"; exit 1; }
  echo "ok - after the update roll-ups apply to the data 0.1.0 wrote; aggregate counts the same ($after)"
  psql -X -q -d postgres -c "DROP DATABASE $old" -c "DROP DATABASE aegis_upgrade_fresh"

  # A reader granted SELECT on every table before the update can still read
  # through aggregate (which now reads aegis.blocks and aegis.rollups).
  grants=aegis_upgrade_grants
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $grants" -c "DROP ROLE IF EXISTS aegis_upgrade_reader" \
       -c "CREATE DATABASE $grants" -c "CREATE ROLE aegis_upgrade_reader"
  psql -X -q -v ON_ERROR_STOP=1 -d $grants >/dev/null <<SQL
CREATE EXTENSION aegis_timeseries VERSION '$version';
SELECT aegis.write('up_cpu', '{"host": "a"}', '2024-01-01', 1);
GRANT USAGE ON SCHEMA aegis TO aegis_upgrade_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA aegis TO aegis_upgrade_reader;
ALTER EXTENSION aegis_timeseries UPDATE;
SQL
  got=$(psql -X -At -d $grants -c "SET ROLE aegis_upgrade_reader" \
          -c "SELECT value FROM aegis.aggregate('up_cpu', 'count', '2000-01-01', 'infinity')" 2>&1 | tail -n 1)
  psql -X -q -d postgres -c "DROP DATABASE $grants" -c "DROP ROLE aegis_upgrade_reader"
  [ "$got" = 1 ] || { echo "not ok - a reader of $version cannot aggregate after the update: $got"; exit 1; }
  echo "ok - a role that could read every table of $version can still aggregate after the update"
done
