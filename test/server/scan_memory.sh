#!/usr/bin/env bash
# A scan of aegis.points that returns points (no aggregate the engine takes)
# holds a bounded number of them in the backend, however many one series has
# in the range: a series is read a piece at a time. Measured as the growth of
# the backend's peak resident memory (VmHWM) over a scan of one series of
# 4,000,000 points with late rows in aegis.recent_points; the rows must be
# every point once, in time order (the same count, sum and ends as
# aegis.read). Before the pieces, the scan held every point of the series,
# about 24 bytes each: some 96 MB here.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
cd "$AEGIS_ROOT"
db=aegis_scan_memory
limit_kb=40960  # 40 MB
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -v ON_ERROR_STOP=1 -d $db >/dev/null <<'SQL'
CREATE EXTENSION aegis_timeseries;
SELECT sum(aegis.write('sm_long', '{}',
                       ARRAY(SELECT '2024-01-01'::timestamptz + (c * 1000000 + i) * interval '1 s' FROM generate_series(0, 999999) i),
                       ARRAY(SELECT ((c * 1000000 + i) % 1000)::float8 FROM generate_series(0, 999999) i)))
  FROM generate_series(0, 3) c;
-- Late rows between points and over them (newer wins), below
-- aegis.block_max_points: they stay in aegis.recent_points.
SELECT aegis.write('sm_long', '{}', array_agg('2024-01-01'::timestamptz + i * interval '1 s' + interval '0.5 s' ORDER BY i),
                   array_agg(-1::float8 ORDER BY i))
  FROM generate_series(0, 3999999, 40009) i;
SELECT aegis.write('sm_long', '{}', array_agg('2024-01-01'::timestamptz + i * interval '1 s' ORDER BY i),
                   array_agg(-2::float8 ORDER BY i))
  FROM generate_series(7, 3999999, 50021) i;
SQL

# The expected rows, from aegis.read.
expected=$(psql -X -At -d $db -c "SELECT count(*), sum(value), min(ts), max(ts) FROM aegis.read('sm_long')")
# One new backend: its peak before and after the scan. value * 2 keeps the
# sum with PostgreSQL, so the scan returns every point.
out=$(psql -X -At -d $db <<'SQL'
SELECT pg_backend_pid() AS pid \gset
\setenv BPID :pid
\! echo "before $(awk '/^VmHWM/ {print $2}' /proc/$BPID/status)"
SELECT 'rows|' || count(*) || '|' || sum(value * 2) / 2 || '|' || min(ts) || '|' || max(ts)
       || '|' || bool_and(ts > prev) FILTER (WHERE prev IS NOT NULL)
  FROM (SELECT ts, value, lag(ts) OVER () AS prev FROM aegis.points WHERE metric = 'sm_long') p;
\! echo "after $(awk '/^VmHWM/ {print $2}' /proc/$BPID/status)"
SQL
)
before=$(echo "$out" | sed -n 's/^before //p')
after=$(echo "$out" | sed -n 's/^after //p')
rows=$(echo "$out" | sed -n 's/^rows|//p')
if [ -z "$before" ] || [ -z "$after" ] || [ -z "$rows" ]; then
  echo "not ok - could not measure the scan:"; echo "$out"; exit 1
fi
got="${rows%|*}"
ordered="${rows##*|}"
if [ "$got" = "$expected" ] && [ "$ordered" = true ]; then
  echo "ok - the scan returns every point of the 4,000,000-point series once, in time order ($expected)"
else
  echo "not ok - the scan returned $got (in time order: $ordered), aegis.read holds $expected"; exit 1
fi
growth=$((after - before))
if [ "$growth" -le "$limit_kb" ]; then
  echo "ok - the backend's peak memory grew by $growth kB over the scan (at most $limit_kb kB)"
else
  echo "not ok - the backend's peak memory grew by $growth kB over the scan (more than $limit_kb kB)"; exit 1
fi
psql -X -q -d postgres -c "DROP DATABASE $db"
