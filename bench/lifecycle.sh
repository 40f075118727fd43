#!/usr/bin/env bash
# Lifecycle figures (issue 9), on the project's private cluster:
#   1. maintenance throughput: points compressed per second by run_maintenance()
#   2. apply_retention() on 10,000,000 points: whole partitions dropped, and
#      the same with a second metric that keeps everything (rows trimmed)
#   3. the stored size across 20 cycles of writing a day and expiring it
#   4. roll-up: apply_downsampling() on 10,000,000 points (points rolled up
#      per second), the bytes stored before and after, and aegis.aggregate
#      over the whole range before and after
# Medians of LIFECYCLE_RUNS runs (default 3). LIFECYCLE_SCALE=small divides
# every set by 10. Runs with aegis.partition_interval = 'day'.
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
cd "$AEGIS_ROOT"
runs=${LIFECYCLE_RUNS:-3}
div=1; [ "${LIFECYCLE_SCALE:-full}" = small ] && div=10
db=aegis_bench_lifecycle

fresh() {
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" \
    -c "ALTER DATABASE $db SET aegis.maintenance_worker = off" \
    -c "ALTER DATABASE $db SET aegis.partition_interval = 'day'" >/dev/null
  # (the worker stays out: the figures are the rounds timed here; daily
  # partitions: retention measured on data a few days to weeks old)
  psql -X -q -d $db -c "CREATE EXTENSION aegis_timeseries" >/dev/null
}
q() { psql -X -At -v ON_ERROR_STOP=1 -d $db -c "$1"; }
# Seconds a statement takes, server side.
timed() { psql -X -At -v ON_ERROR_STOP=1 -d $db -c "\\timing on" -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Writes series s0..s(n-1) of metric $1, $3 points each, 10 s apart, ending at $4.
write_set() {
  q "SELECT count(aegis.write('$1', jsonb_build_object('s', 's' || s),
            ARRAY(SELECT timestamptz '$4' - (g * interval '10 seconds') FROM generate_series($3 - 1, 0, -1) g),
            ARRAY(SELECT (s * 1000 + g % 977)::float8 FROM generate_series($3 - 1, 0, -1) g)))
       FROM generate_series(0, $2 - 1) s" >/dev/null
}

echo "== 1. maintenance throughput: compress $((2000000 / div)) recent points (200 series) in one round"
times=()
for r in $(seq 1 "$runs"); do
  fresh
  # Batches of 500 points, below the 1,000 that go straight into blocks, keep the points recent.
  psql -X -q -d $db -c "SELECT count(aegis.write('m', jsonb_build_object('s', s::text),
         ARRAY(SELECT timestamptz '2024-01-01' + g * interval '10 seconds' FROM generate_series(c * 500, c * 500 + 499) g),
         ARRAY(SELECT g::float8 FROM generate_series(c * 500, c * 500 + 499) g)))
       FROM generate_series(1, 200) s, generate_series(0, $((10000 / div)) / 500 - 1) c" >/dev/null
  times+=("$(timed "SELECT * FROM aegis.run_maintenance()")")
done
t=$(printf '%s\n' "${times[@]}" | median)
left=$(q "SELECT count(*) FROM aegis.recent_points")
printf '%-44s %12s %14s %10s\n' "round" "median ms" "points/s" "left"
printf '%-44s %12.0f %14.0f %10s\n' "run_maintenance (compress, merge, retention)" "$t" \
  "$(echo "$((2000000 / div)) / ($t / 1000)" | bc -l)" "$left"

echo
echo "== 2. apply_retention on $((10000000 / div)) points (100 series x $((100000 / div)), 10 s apart), the older half expires"
printf '%-44s %12s %14s %10s\n' "case" "median ms" "points gone" "left"
for variant in partitions trim; do
  times=()
  for r in $(seq 1 "$runs"); do
    fresh
    write_set m 100 $((100000 / div)) '2024-02-01 00:00+00'
    # The second metric keeps its points forever, so no partition is past
    # every cutoff: retention deletes and rewrites rows instead.
    [ $variant = trim ] && write_set keep 1 10 '2024-02-01 00:00+00'
    cutoff=$(q "SELECT timestamptz '2024-02-01 00:00+00' - $((100000 / div)) * interval '5 seconds'")
    out=$(psql -X -At -v ON_ERROR_STOP=1 -d $db -c "\\timing on" -c "BEGIN" \
          -c "SELECT aegis.set_retention('m', now() - timestamptz '$cutoff')" \
          -c "SELECT aegis.apply_retention()" -c "COMMIT")
    times+=("$(echo "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sed -n 3p)")
    gone=$(echo "$out" | grep -E '^[0-9]+$' | tail -1)
  done
  t=$(printf '%s\n' "${times[@]}" | median)
  left=$(q "SELECT count(*) FROM aegis.points WHERE metric = 'm'")
  label="whole partitions dropped"; [ $variant = trim ] && label="rows trimmed (another metric keeps all)"
  printf '%-44s %12.0f %14s %10s\n' "$label" "$t" "$gone" "$left"
done

echo
echo "== 3. stored size across 20 cycles: write a day (50 series, 10 s apart), keep one day"
fresh
printf '%6s %12s %12s %12s %10s\n' "cycle" "points" "bytes" "partitions" "dead rows"
day=$((8640 / div))
for c in $(seq 1 20); do
  end=$(q "SELECT timestamptz '2024-03-01 00:00+00' + $c * interval '1 day'")
  write_set d 50 "$day" "$end"
  q "SELECT aegis.compress('0')" >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 -d $db -c "BEGIN" -c "SELECT aegis.set_retention('d', now() - (timestamptz '$end' - interval '1 day'))" \
       -c "SELECT aegis.apply_retention()" -c "COMMIT" >/dev/null
  psql -X -q -d $db -c "VACUUM aegis.recent_points" >/dev/null
  printf '%6s %12s %12s %12s %10s\n' "$c" "$(q "SELECT count(*) FROM aegis.points")" \
    "$(q "SELECT sum(pg_total_relation_size(partition)) + pg_total_relation_size('aegis.recent_points') FROM aegis.block_partitions")" \
    "$(q "SELECT count(*) FROM aegis.block_partitions")" \
    "$(q "SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables WHERE schemaname = 'aegis'")"
done

echo
echo "== 4. roll-up of $((10000000 / div)) points (100 series x $((100000 / div)), 10 s apart, 11.6 days): 5-minute steps"
echo "   after the newest day, hourly ones before the newest week"
bytes_q="SELECT (SELECT coalesce(sum(pg_total_relation_size(partition)), 0) FROM aegis.block_partitions)
                + pg_total_relation_size('aegis.rollups') + pg_total_relation_size('aegis.recent_points')"
agg_q="SELECT count(*) FROM aegis.aggregate('r{}', 'avg', '2024-01-01', '2024-02-02', '1 hour')"
times=(); before_ms=(); after_ms=()
for r in $(seq 1 "$runs"); do
  fresh
  write_set r 100 $((100000 / div)) '2024-02-01 00:00+00'
  bytes_before=$(q "$bytes_q")
  for i in 1 2 3; do before_ms+=("$(timed "$agg_q")"); done
  out=$(psql -X -At -v ON_ERROR_STOP=1 -d $db -c "\\timing on" -c "BEGIN" \
        -c "SELECT aegis.set_downsampling('r', jsonb_build_array(
              jsonb_build_object('after', (now() - timestamptz '2024-01-31 00:00+00')::text, 'step', '5 minutes'),
              jsonb_build_object('after', (now() - timestamptz '2024-01-25 00:00+00')::text, 'step', '1 hour')))" \
        -c "SELECT aegis.apply_downsampling()" -c "COMMIT")
  times+=("$(echo "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sed -n 3p)")
  rolled=$(echo "$out" | grep -E '^[0-9]+$' | tail -1)
  psql -X -q -d $db -c "VACUUM aegis.rollups" >/dev/null
  for i in 1 2 3; do after_ms+=("$(timed "$agg_q")"); done
  bytes_after=$(q "$bytes_q")
done
t=$(printf '%s\n' "${times[@]}" | median)
printf '%-44s %12s %14s %14s\n' "step" "median ms" "points" "points/s"
printf '%-44s %12.0f %14s %14.0f\n' "apply_downsampling (one transaction)" "$t" "$rolled" "$(echo "$rolled / ($t / 1000)" | bc -l)"
printf '%-44s %12s %14s\n' "stored bytes (blocks, rollups, recent rows)" "before" "after"
printf '%-44s %12s %14s\n' "" "$bytes_before" "$bytes_after"
printf '%-44s %12s %14s\n' "aggregate avg, 1 hour steps, all 100 series" "before ms" "after ms"
printf '%-44s %12.1f %14.1f\n' "" "$(printf '%s\n' "${before_ms[@]}" | median)" "$(printf '%s\n' "${after_ms[@]}" | median)"
psql -X -q -d postgres -c "DROP DATABASE $db" >/dev/null
