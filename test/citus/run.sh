#!/usr/bin/env bash
# The scale-out tier: the same workload on a single node (the project's
# cluster) and on a Citus cluster (a coordinator and two workers, started by
# scripts/citus-cluster.sh) after aegis.distribute(); every result must be
# the same, the differential test must pass on the distributed layout, the
# work must happen on the shards, and the layout must keep its promises (ids unique
# cluster-wide, reads from a worker, aegis.undistribute() and distribute()
# again, pg_dump and restore, TRUNCATE, DROP EXTENSION leaving nothing, no
# acknowledged write lost when the coordinator or a worker is killed).
# Exits 77 with the reason when Citus is not installed (skipped,
# never counted as a pass). Prints "ok"/"not ok" lines and a last line
# "N passed, N failed".
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
cd "$AEGIS_ROOT"
if ! reason=$(scripts/citus-cluster.sh available); then
  echo "skipped: $reason"
  exit 77
fi
out="$AEGIS_ROOT/build/citus"
rm -rf "$out" && mkdir -p "$out"
passed=0
failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $*"; failed=$((failed + 1)); }
# The single node: a cluster of its own (scripts/test-cluster.sh, without
# Citus), so that the tier may run beside scripts that restart the project's
# shared cluster (make test runs it in tier 4's first lane).
single_dir="/tmp/aegis-citus-single-$AEGIS_TAG"
single=(-h "$single_dir" -p "$((AEGIS_PORT + 2300))" -U postgres)
finish() {
  scripts/citus-cluster.sh stop
  scripts/test-cluster.sh destroy "$single_dir"
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit
}
scripts/test-cluster.sh destroy "$single_dir"   # a leftover of an interrupted run
scripts/test-cluster.sh start "$single_dir" "$((AEGIS_PORT + 2300))" "aegis.maintenance_worker = off" ||
  { not_ok "the single-node cluster does not start"; finish; }
psql -X -q "${single[@]}" -d postgres -c "CREATE DATABASE aegis_citus_single"
psql -X -q "${single[@]}" -d aegis_citus_single -c "CREATE EXTENSION aegis_timeseries"
if psql -X -q "${single[@]}" -d aegis_citus_single -f test/citus/workload.sql >"$out/single-workload.out" 2>&1 &&
   psql -X "${single[@]}" -d aegis_citus_single -f test/citus/results.sql >"$out/single.out" 2>&1; then
  ok "the workload runs on a single node"
else
  not_ok "the workload fails on a single node"; tail -n 20 "$out"/single*.out; finish
fi
psql -X -q "${single[@]}" -d postgres -c "DROP DATABASE aegis_citus_single"

# The Citus cluster (psql's defaults point at its coordinator from here on;
# single reaches the single node's cluster).
scripts/citus-cluster.sh start || { not_ok "the Citus cluster does not start"; finish; }
eval "$(scripts/citus-cluster.sh env)"
# shellcheck disable=SC2086
set -- $CITUS_WORKER_PORTS
coord() { psql -X -q -v ON_ERROR_STOP=1 -p "$PGPORT" -d aegis_citus "$@"; }
# Creates database $1 anew on every node, with citus in it (not on the
# coordinator when $2 is "restore": the dump brings it).
new_citus_db() {  # name [restore]
  local port
  drop_citus_db "$1"
  for port in "$PGPORT" $CITUS_WORKER_PORTS; do
    psql -X -q -p "$port" -d postgres -c "CREATE DATABASE $1" >/dev/null || return 1
    [ "$port" = "$PGPORT" ] && [ "${2:-}" = restore ] && continue
    psql -X -q -p "$port" -d "$1" -c "CREATE EXTENSION citus" >/dev/null || return 1
  done
}
# Drops database $1 on every node, with any two-phase transaction a killed
# node left prepared in it (a run that stopped before Citus recovered them).
drop_citus_db() {  # name
  local port
  for port in "$PGPORT" $CITUS_WORKER_PORTS; do
    psql -X -q -p "$port" -d postgres -At \
      -c "SELECT format('ROLLBACK PREPARED %L', gid) FROM pg_prepared_xacts WHERE database = '$1'" |
      psql -X -q -p "$port" -d "$1" >/dev/null 2>&1
    psql -X -q -p "$port" -d postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null 2>&1
  done
}
# psql arguments that add the workers to a database's coordinator.
add_workers=(-c "SELECT citus_set_coordinator_host('127.0.0.1', $PGPORT)" -c "SELECT citus_add_node('127.0.0.1', $1)"
             -c "SELECT citus_add_node('127.0.0.1', $2)")
new_citus_db aegis_citus || { not_ok "creating the database on the cluster's nodes"; finish; }
coord "${add_workers[@]}" -c "CREATE EXTENSION aegis_timeseries" >/dev/null ||
  { not_ok "setting up Citus and the extension"; finish; }

# aegis.distribute(): reference tables and co-located distributed tables.
coord -c "SELECT aegis.distribute(8)" >/dev/null && ok "aegis.distribute(8) on the coordinator" ||
  { not_ok "aegis.distribute(8)"; finish; }
layout=$(coord -At -c "SELECT string_agg(logicalrelid::text || ':' || partmethod::text, ' ' ORDER BY logicalrelid::text)
                         FROM pg_dist_partition WHERE logicalrelid::text LIKE 'aegis.%'")
want="aegis.block_partitions:n aegis.block_spans:n aegis.blocks:h aegis.last_points:h aegis.metric_catalog:n aegis.recent_points:h aegis.rollups:h aegis.series:n"
[ "$layout" = "$want" ] && ok "catalogs are reference tables, data tables distributed by series_id" ||
  not_ok "layout: $layout (want $want)"
colocations=$(coord -At -c "SELECT count(DISTINCT colocationid) FROM pg_dist_partition WHERE partmethod = 'h'")
[ "$colocations" = 1 ] && ok "the data tables are co-located" || not_ok "the data tables are in $colocations colocation groups"
err=$(coord -c "SELECT aegis.distribute()" 2>&1)
[[ "$err" == *"distributed already"* ]] && ok "a second aegis.distribute() is refused: $err" ||
  not_ok "a second aegis.distribute(): $err"

if coord -f test/citus/workload.sql >"$out/distributed-workload.out" 2>&1 &&
   psql -X -p "$PGPORT" -d aegis_citus -f test/citus/results.sql >"$out/distributed.out" 2>&1; then
  ok "the workload runs on the distributed layout"
else
  not_ok "the workload fails on the distributed layout"; tail -n 20 "$out"/distributed*.out
fi
if diff -u "$out/single.out" "$out/distributed.out" >"$out/diff"; then
  ok "every result on the distributed layout equals the single node's ($(wc -l <"$out/single.out") lines)"
else
  not_ok "results differ between a single node and the distributed layout"; head -n 40 "$out/diff"
fi
# Partitions of aegis.blocks created after distribute() are distributed too.
n=$(coord -At -c "SELECT count(*) FROM aegis.block_partitions p
                   WHERE NOT EXISTS (SELECT FROM pg_dist_partition d WHERE d.logicalrelid = p.partition)")
[ "$n" = 0 ] && ok "every partition of aegis.blocks is distributed" || not_ok "$n partitions are not distributed"

# Where the work happens: the summaries, the moments and the counter runs
# come from the shards, so the coordinator reads no block row itself, also
# for series with rolled-up steps (it reads their steps and folds them
# first); where recent rows lie inside compressed blocks, or raw points
# inside rolled-up steps (the counter functions), the coordinator reads the
# points itself (results.sql shows both give the single node's values).
blocks_read() {  # the statement to count for: blocks the coordinator read or decoded
  coord -c "SELECT aegis.reset_stats()" >/dev/null &&
    coord -c "$1" >/dev/null &&
    coord -At -c "SELECT blocks_read + blocks_decoded FROM aegis.engine_stats"
}
for fn in avg stddev rate increase sample_increase irate resets changes; do
  n=$(blocks_read "SELECT * FROM aegis.aggregate('req', '$fn', '2024-01-01 04:30', '2024-01-01 08:20', '1 hour')")
  [ "$n" = 0 ] && ok "$fn is computed on the shards (the coordinator read no block)" ||
    not_ok "$fn: the coordinator read ${n:-?} blocks itself"
done
n=$(blocks_read "SELECT * FROM aegis.aggregate('req', 'rate', '2024-01-01 02:07:30', '2024-01-01 05:10', '1 hour')")
[ "${n:-0}" -gt 0 ] && ok "rate over recent rows inside blocks is read on the coordinator ($n blocks)" ||
  not_ok "rate over recent rows inside blocks: the coordinator read ${n:-?} blocks"
# read: every series' blocks decoded on its worker, a window of about
# 100,000 points a statement (a series of 250,000 points takes three), in
# time order, none decoded on the coordinator.
coord -c "SELECT aegis.write('win', '{}', array_agg('2024-05-01'::timestamptz + i * interval '1 second'),
                             array_agg(i::float8)) FROM generate_series(0, 249999) i" >/dev/null
for p in "$PGPORT" "$1" "$2"; do psql -X -q -p "$p" -d aegis_citus -c "SELECT aegis.reset_stats()" >/dev/null; done
got=$(coord -At -c "SELECT count(*) || ' ' || sum(value)::bigint || ' ' || bool_and(ts > prev OR prev IS NULL)
                      FROM (SELECT ts, value, lag(ts) OVER () AS prev
                              FROM aegis.read('{__name__=~\"cpu|req|solo|win\"}') WHERE metric = 'win') p")
c=$(coord -At -c "SELECT blocks_read + blocks_decoded FROM aegis.engine_stats")
w=0
for p in "$1" "$2"; do w=$((w + $(psql -X -At -p "$p" -d aegis_citus -c "SELECT blocks_decoded FROM aegis.engine_stats"))); done
if [ "$got" = "250000 31249875000 true" ] && [ "$c" = 0 ] && [ "$w" -gt 0 ]; then
  ok "read decodes on the shards: the workers decoded $w blocks, the coordinator none; 250,000 points of one series in order"
else
  not_ok "read on the shards: '$got' (want 250000 31249875000 true), coordinator blocks $c, workers' $w"
fi
coord -c "SELECT aegis.drop_metric('win')" >/dev/null
n=$(blocks_read "SELECT count(*) FROM aegis.rolling('{__name__=~\"cpu|req|solo\"}', 'median', '7 minutes')")
[ "$n" = 0 ] && ok "rolling is computed on the shards (the coordinator read no block)" ||
  not_ok "rolling: the coordinator read ${n:-?} blocks itself"
# SQL aggregates over aegis.points: summarised on the shards where the
# engine buckets them (time_bucket with or without an origin, Grafana's
# epoch buckets, date_trunc in UTC, one bucket), also the moments and the
# per-series counter aggregates; read on the coordinator where recent rows
# lie inside blocks.
points_sql="SELECT %s, tags, count(*), avg(value), max(value), aegis.first(value, ts), stddev(value)
              FROM aegis.points WHERE metric = 'cpu' AND ts >= '2024-01-01 01:00' GROUP BY 1, 2"
for bucket in "aegis.time_bucket('20 minutes', ts)" "aegis.time_bucket('20 minutes', ts, '2024-01-01 00:07'::timestamptz)" \
              "floor(extract(epoch FROM ts) / 900) * 900" "date_trunc('hour', ts)" "NULL::text"; do
  # shellcheck disable=SC2059
  n=$(blocks_read "SET TIME ZONE 'UTC'; $(printf "$points_sql" "$bucket")")
  [ "$n" = 0 ] && ok "SQL aggregates over aegis.points by $bucket are summarised on the shards (the coordinator read no block)" ||
    not_ok "SQL aggregates over aegis.points by $bucket: the coordinator read ${n:-?} blocks itself"
done
counters_sql="SELECT tags, aegis.time_bucket('1 hour', ts), aegis.rate(value, ts), aegis.delta(value, ts)
                FROM aegis.points WHERE metric = 'req' AND ts >= '%s' AND ts < '%s' GROUP BY metric, tags, 2"
# shellcheck disable=SC2059
n=$(blocks_read "$(printf "$counters_sql" '2024-01-01 04:30' '2024-01-01 08:20')")
[ "$n" = 0 ] && ok "aegis.rate over aegis.points per series is computed on the shards (the coordinator read no block)" ||
  not_ok "aegis.rate over aegis.points per series: the coordinator read ${n:-?} blocks itself"
# shellcheck disable=SC2059
n=$(blocks_read "$(printf "$counters_sql" '2024-01-01 02:07:30' '2024-01-01 05:10')")
[ "${n:-0}" -gt 0 ] && ok "aegis.rate over aegis.points with recent rows inside blocks is read on the coordinator ($n blocks)" ||
  not_ok "aegis.rate over aegis.points with recent rows inside blocks: the coordinator read ${n:-?} blocks"
for fn in avg max stddev rate increase sample_rate sample_increase; do
  n=$(blocks_read "SELECT * FROM aegis.aggregate('cpu', '$fn', '2024-01-01 00:30', '2024-01-01 08:00', '1 hour')")
  [ "$n" = 0 ] && ok "$fn over series with rolled-up steps is computed on the shards (the coordinator read no block)" ||
    not_ok "$fn over series with rolled-up steps: the coordinator read ${n:-?} blocks itself"
done
n=$(blocks_read "SELECT * FROM aegis.aggregate('cnt', 'rate', '2024-01-01 00:00', '2024-01-01 02:00', '10 minutes')")
[ "${n:-0}" -gt 0 ] && ok "rate over raw points inside rolled-up steps is read on the coordinator ($n blocks)" ||
  not_ok "rate over raw points inside rolled-up steps: the coordinator read ${n:-?} blocks"

# The differential test (test/server/differential.sql: read, latest and every
# aggregate function against plain SQL over the same points, through out-of-
# order and late writes, deletes, compression, merging, retention and
# roll-up) on the distributed layout, with 210,000 of its 1,200,000 writes (the
# fewest it takes; the run is about twice as long as on one node).
if new_citus_db aegis_citus_diff &&
   psql -X -q -v ON_ERROR_STOP=1 -p "$PGPORT" -d aegis_citus_diff "${add_workers[@]}" \
     -c "CREATE EXTENSION aegis_timeseries" \
     -c "SELECT aegis.distribute(8)" >"$out/differential.out" 2>&1 &&
   psql -X -q -v ON_ERROR_STOP=1 -p "$PGPORT" -d aegis_citus_diff -v writes=210000 \
     -f test/server/differential.sql >>"$out/differential.out" 2>&1; then
  ok "the differential test passes on the distributed layout ($(grep -c 'NOTICE:  ok - ' "$out/differential.out") checks against plain SQL)"
else
  not_ok "the differential test fails on the distributed layout"; grep -B2 -A6 ERROR "$out/differential.out" | head -n 30
fi
drop_citus_db aegis_citus_diff

# Reads from a worker equal the coordinator's.
psql -X -p "$1" -d aegis_citus -f test/citus/results.sql >"$out/worker.out" 2>&1
if diff -u "$out/distributed.out" "$out/worker.out" >"$out/worker.diff"; then
  ok "the same reads on a worker give the coordinator's results"
else
  not_ok "reads on a worker differ from the coordinator's"; head -n 20 "$out/worker.diff"
fi

# aegis.undistribute(): every row back in the coordinator's own tables, no
# Citus table or shard (a relation named <table>_<shard id>; the partitions
# of aegis.blocks are blocks_<date>) of the extension left on any node, the catalog's
# triggers and the data tables' policies as a new database has them; then
# the same results as the single node, and aegis.distribute() again.
definitions="SELECT string_agg(d, E'\n' ORDER BY d) FROM (
  SELECT pg_get_triggerdef(oid) AS d FROM pg_trigger WHERE tgrelid = 'aegis.series'::regclass AND NOT tgisinternal
  UNION ALL SELECT format('policy %s on %s: %s', policyname, tablename, qual) FROM pg_policies WHERE schemaname = 'aegis'
  UNION ALL SELECT format('rls %s: %s', relname, relrowsecurity) FROM pg_class
             WHERE relnamespace = 'aegis'::regnamespace AND relkind IN ('r', 'p') AND relname NOT LIKE 'blocks\\_%') x"
psql -X -q -p "$PGPORT" -d postgres -c "DROP DATABASE IF EXISTS aegis_citus_new" -c "CREATE DATABASE aegis_citus_new" &&
  psql -X -q -p "$PGPORT" -d aegis_citus_new -c "CREATE EXTENSION aegis_timeseries" &&
  psql -X -At -p "$PGPORT" -d aegis_citus_new -c "$definitions" >"$out/definitions-new.out"
psql -X -q -p "$PGPORT" -d postgres -c "DROP DATABASE aegis_citus_new"
# A writer in the middle of its transaction (its series row locked in the
# coordinator's copy of aegis.series) when aegis.undistribute() starts: the
# one waits for the other, neither fails.
(coord -c "BEGIN" -c "SELECT aegis.write('undistribute_probe', '{}', '2024-01-05', 3)" -c "SELECT pg_sleep(2)" \
   -c "COMMIT" >/dev/null 2>&1; echo $? >"$out/probe.rc") &
probe=$!
sleep 0.5
if coord -c "SELECT aegis.undistribute()" >/dev/null && wait "$probe" && [ "$(cat "$out/probe.rc")" = 0 ] &&
   [ "$(coord -At -c "SELECT value FROM aegis.latest('undistribute_probe')")" = 3 ]; then
  ok "aegis.undistribute() on the coordinator, beside a writer in the middle of its transaction"
else
  not_ok "aegis.undistribute() beside a writer (writer's exit status $(cat "$out/probe.rc" 2>/dev/null))"
fi
coord -c "SELECT aegis.drop_metric('undistribute_probe')" >/dev/null
left=""
for port in "$PGPORT" "$1" "$2"; do
  left="$left$(psql -X -At -p "$port" -d aegis_citus -c "SELECT (SELECT count(*) FROM pg_dist_partition
                 WHERE logicalrelid::text LIKE 'aegis.%') + (SELECT count(*) FROM pg_class
                 WHERE relnamespace = 'aegis'::regnamespace AND relname ~ '_[0-9]+$'
                   AND relname !~ '^blocks_(bc)?[0-9]{8}$')")"
done
[ "$left" = 000 ] && [ "$(coord -At -c "SELECT aegis.is_distributed()")" = f ] &&
  ok "after aegis.undistribute() no Citus table or shard of the extension is left on any node" ||
  not_ok "Citus tables and shards left after aegis.undistribute() (coordinator, workers): $left"
coord -At -c "$definitions" >"$out/definitions-undistributed.out"
if diff -u "$out/definitions-new.out" "$out/definitions-undistributed.out" >"$out/definitions.diff" &&
   [ -s "$out/definitions-new.out" ]; then
  ok "the catalog's triggers and the row-level security policies are back as CREATE EXTENSION makes them"
else
  not_ok "triggers and policies after aegis.undistribute() differ from a new database's"; cat "$out/definitions.diff"
fi
psql -X -p "$PGPORT" -d aegis_citus -f test/citus/results.sql >"$out/undistributed.out" 2>&1
if diff -u "$out/single.out" "$out/undistributed.out" >"$out/undistributed.diff"; then
  ok "every result after aegis.undistribute() equals the single node's"
else
  not_ok "results after aegis.undistribute() differ from the single node's"; head -n 40 "$out/undistributed.diff"
fi
# Distributing tables that hold rows: Citus copies them into the shards and
# aegis.distribute() empties the coordinator's tables (the shells).
if coord -c "SELECT aegis.distribute(4)" >/dev/null &&
   psql -X -p "$PGPORT" -d aegis_citus -f test/citus/results.sql >"$out/redistributed.out" 2>&1 &&
   diff -u "$out/single.out" "$out/redistributed.out" >"$out/redistributed.diff"; then
  ok "aegis.distribute(4) of the tables with their rows: every result equals the single node's"
else
  not_ok "aegis.distribute() after aegis.undistribute()"; head -n 40 "$out/redistributed.diff"
fi
shells=$(coord -At -c "SELECT sum(pg_relation_size(p.logicalrelid)) FROM pg_dist_partition p
                        JOIN pg_class c ON c.oid = p.logicalrelid WHERE c.relnamespace = 'aegis'::regnamespace")
[ "$shells" = 0 ] && ok "the coordinator's shell tables keep no copy of the distributed rows" ||
  not_ok "the coordinator's shell tables hold $shells bytes after aegis.distribute()"

# Dump and restore: pg_dump of the distributed database on the coordinator
# (COPY of a distributed table reads its shards) restores into a single node
# without Citus (its entries left out of the restore list) and into a new
# database of the Citus cluster, distributed there again; both give the
# single node's results.
"$PGBIN/pg_dump" -Fc -p "$PGPORT" -d aegis_citus -f "$out/dump" &&
  "$PGBIN/pg_restore" -l "$out/dump" | grep -v 'EXTENSION - citus\|EXTENSION citus' >"$out/dump.list"
psql -X -q "${single[@]}" -d postgres -c "DROP DATABASE IF EXISTS aegis_citus_restored" \
  -c "CREATE DATABASE aegis_citus_restored" -c "ALTER DATABASE aegis_citus_restored SET aegis.maintenance_worker = off"
if "$PGBIN/pg_restore" "${single[@]}" -j 4 --exit-on-error -L "$out/dump.list" -d aegis_citus_restored "$out/dump" &&
   psql -X "${single[@]}" -d aegis_citus_restored -f test/citus/results.sql >"$out/restored-single.out" 2>&1 &&
   diff -u "$out/single.out" "$out/restored-single.out" >"$out/restored-single.diff"; then
  ok "pg_dump of the distributed database restores into a single node with the same results"
else
  not_ok "restoring the distributed database's dump into a single node"; head -n 40 "$out/restored-single.diff"
fi
psql -X -q "${single[@]}" -d postgres -c "DROP DATABASE IF EXISTS aegis_citus_restored"
if new_citus_db aegis_citus_restored restore &&
   "$PGBIN/pg_restore" --exit-on-error -p "$PGPORT" -d aegis_citus_restored "$out/dump" &&
   psql -X -q -v ON_ERROR_STOP=1 -p "$PGPORT" -d aegis_citus_restored "${add_workers[@]}" \
     -c "SELECT aegis.distribute(4)" >/dev/null 2>&1 &&
   psql -X -p "$PGPORT" -d aegis_citus_restored -f test/citus/results.sql >"$out/restored-citus.out" 2>&1 &&
   diff -u "$out/single.out" "$out/restored-citus.out" >"$out/restored-citus.diff"; then
  ok "the dump restores into a new Citus database, distributed again, with the same results"
else
  not_ok "restoring the dump into a new Citus database and distributing it"; head -n 40 "$out/restored-citus.diff"
fi
drop_citus_db aegis_citus_restored

# Packed batches written on a server without Citus stay visible after the
# database is restored on one that preloads it (citus created in it, its
# catalog listing no table of the extension) and left undistributed: its
# reads take the one-node paths, which lay the batches over the stored
# points (the shards' paths are for distributed databases only; Citus turns
# packed writes off, so only such batches can exist there).
packed_reads="SELECT (SELECT count(*) FROM aegis.packed_points),
  (SELECT count(*) || ' ' || sum(value) FROM aegis.read('pk')),
  (SELECT string_agg(value::text, ',' ORDER BY tags ->> 'h') FROM aegis.aggregate('pk', 'sum', '2024-01-01', '2024-01-02')),
  (SELECT string_agg(value::text, ',' ORDER BY tags ->> 'h') FROM aegis.aggregate('pk', 'stddev', '2024-01-01', '2024-01-02')),
  (SELECT string_agg(value::text, ',' ORDER BY tags ->> 'h') FROM aegis.aggregate('pk', 'rate', '2024-01-01', '2024-01-02')),
  (SELECT count(*) || ' ' || sum(value) FROM aegis.rolling('pk', 'max', '2 minutes'))"
psql -X -q "${single[@]}" -d postgres -c "DROP DATABASE IF EXISTS aegis_citus_packed" -c "CREATE DATABASE aegis_citus_packed"
psql -X -q -v ON_ERROR_STOP=1 "${single[@]}" -d aegis_citus_packed >/dev/null <<'SQL'
CREATE EXTENSION aegis_timeseries;
SET aegis.packed_write_series = 2;
INSERT INTO aegis.points (metric, tags, ts, value)
  SELECT 'pk', jsonb_build_object('h', 'h' || i), '2024-01-01'::timestamptz + j * interval '1 minute', i * 10 + j % 4
    FROM generate_series(1, 3) i, generate_series(0, 5) j;
SQL
want=$(psql -X -At "${single[@]}" -d aegis_citus_packed -c "$packed_reads" 2>&1)
got=""
if "$PGBIN/pg_dump" -Fc "${single[@]}" -d aegis_citus_packed -f "$out/packed.dump" &&
   psql -X -q -p "$PGPORT" -d postgres -c "DROP DATABASE IF EXISTS aegis_citus_packed" \
     -c "CREATE DATABASE aegis_citus_packed" -c "ALTER DATABASE aegis_citus_packed SET aegis.maintenance_worker = off" &&
   psql -X -q -p "$PGPORT" -d aegis_citus_packed -c "CREATE EXTENSION citus" &&
   "$PGBIN/pg_restore" --exit-on-error -p "$PGPORT" -d aegis_citus_packed "$out/packed.dump"; then
  got=$(psql -X -At -p "$PGPORT" -d aegis_citus_packed -c "$packed_reads" 2>&1)
fi
if [ "${want%%|*}" = 1 ] && [ "$got" = "$want" ]; then
  ok "packed batches restored into an undistributed database on a Citus server are read as on one node ($got)"
else
  not_ok "packed batches on a Citus server, undistributed: '$got' (one node: '$want')"
fi
psql -X -q "${single[@]}" -d postgres -c "DROP DATABASE IF EXISTS aegis_citus_packed WITH (FORCE)"
psql -X -q -p "$PGPORT" -d postgres -c "DROP DATABASE IF EXISTS aegis_citus_packed WITH (FORCE)"

# A series created on a worker gets an id of its node's range, unique
# cluster-wide, and its point is read back on the coordinator.
psql -X -q -p "$2" -d aegis_citus -c "SELECT aegis.write('cpu', '{\"host\": \"on-worker\"}', '2024-01-02', 7.5)" &&
  got=$(coord -At -c "SELECT s.series_id >= (2::bigint << 48), l.value FROM aegis.series s
                       JOIN aegis.latest('cpu{host=\"on-worker\"}') l USING (series_id)")
[ "${got:-}" = "t|7.5" ] && ok "a series created on a worker has an id of its node's range, read on the coordinator" ||
  not_ok "a series created on a worker: '${got:-}' (want an id from 2 << 48 and its point)"

# latest() in the transaction that wrote reads the newest point from the
# shards' data (its last_points row is brought up to date at commit).
got=$(coord -At <<'SQL' 2>&1
BEGIN;
SELECT aegis.write('cpu', '{"host": "on-worker"}', '2024-01-03', 8.25);
SELECT ts || ' ' || value FROM aegis.latest('cpu{host="on-worker"}');
COMMIT;
SELECT ts || ' ' || value FROM aegis.latest('cpu{host="on-worker"}');
SQL
)
[ "$(echo "$got" | grep -c '^2024-01-03 00:00:00+00 8.25$')" = 2 ] &&
  ok "latest() sees the transaction's own write, and last_points has it after commit" ||
  not_ok "latest() around a write: $got"

# The catalog's triggers are gone (aegis.distribute() drops them), and a
# session that cached a series another session deleted writes it anew.
triggers=$(coord -At -c "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'aegis.series'::regclass AND NOT tgisinternal")
got=$(coord -At <<SQL 2>&1
SELECT aegis.write('cache', '{"k": "v"}', '2024-01-01', 1);
\\! psql -X -q -At -p $PGPORT -d aegis_citus -c "SELECT aegis.delete_series(series_id) FROM aegis.series WHERE metric = 'cache'"
SELECT aegis.write('cache', '{"k": "v"}', '2024-01-02', 2);
SELECT count(*) || ':' || (SELECT value FROM aegis.latest('cache')) FROM aegis.read('cache');
SQL
)
[ "$triggers" = 0 ] && [ "$(echo "$got" | tail -n 1)" = "1:2" ] &&
  ok "no trigger on aegis.series; a series another session deleted is created anew by a writer that cached it" ||
  not_ok "triggers on aegis.series: $triggers; write after another session's delete_series: $got"

# TRUNCATE of the catalog truncates the data tables too.
coord -c "TRUNCATE aegis.series" &&
  left=$(coord -At -c "SELECT (SELECT count(*) FROM aegis.recent_points) + (SELECT count(*) FROM aegis.blocks)
                            + (SELECT count(*) FROM aegis.last_points) + (SELECT count(*) FROM aegis.rollups)")
[ "${left:-x}" = 0 ] && ok "TRUNCATE aegis.series empties the distributed data tables" ||
  not_ok "after TRUNCATE aegis.series ${left:-?} rows are left"

# DROP EXTENSION leaves no table or shard behind on any node.
coord -c "DROP EXTENSION aegis_timeseries" || not_ok "DROP EXTENSION aegis_timeseries"
left=""
for port in "$PGPORT" "$1" "$2"; do
  left="$left$(psql -X -At -p "$port" -d aegis_citus -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n
                 ON n.oid = c.relnamespace WHERE n.nspname = 'aegis'")"
done
[ "$left" = 000 ] && ok "DROP EXTENSION leaves nothing on the coordinator and the workers" ||
  not_ok "relations left in schema aegis after DROP EXTENSION (coordinator, workers): $left"

# Maintenance of a distributed database runs on the coordinator only
# (aegis._maintained_here(), which the background worker asks too): on a
# worker it would lock that node's copy of the catalog rows, which does not
# exclude the writes and deletes that go through the coordinator.
maintenance_on_coordinator() {
  local err rounds
  new_citus_db aegis_citus_maint &&
    psql -X -q -v ON_ERROR_STOP=1 -p "$PGPORT" -d aegis_citus_maint "${add_workers[@]}" \
      -c "CREATE EXTENSION aegis_timeseries" -c "SELECT aegis.distribute(4)" \
      -c "SELECT aegis.write('m', jsonb_build_object('k', k::text), '2024-01-01'::timestamptz + k * interval '1 s', k)
            FROM generate_series(1, 20) k" >"$out/maint-setup.log" 2>&1 ||
    { not_ok "setting up the maintenance database"; grep -v '^NOTICE\|^DETAIL\|^HINT' "$out/maint-setup.log" | tail -n 5; return; }
  # shellcheck disable=SC2086
  set -- $CITUS_WORKER_PORTS
  err=$(psql -X -q -p "$1" -d aegis_citus_maint -c "SELECT aegis.run_maintenance()" 2>&1)
  rounds=$(psql -X -At -p "$PGPORT" -d aegis_citus_maint -c "SELECT count(*) FROM aegis.run_maintenance()" \
             -c "SELECT count(*) FROM aegis.recent_points" 2>&1 | tr '\n' ' ')
  # (a pattern match, not echo | grep -q: with pipefail, grep leaving early
  # can fail the pipe on echo's SIGPIPE)
  if [[ "$err" == *"runs on the Citus coordinator"* ]] && [ "$rounds" = "4 0 " ]; then
    ok "maintenance of a distributed database runs on the coordinator (4 jobs, every recent point compressed), a worker refuses: $(echo "$err" | head -n 1)"
  else
    not_ok "maintenance on a distributed database: on a worker '$err'; on the coordinator '$rounds' (want 4 jobs, 0 recent rows left)"
  fi
  drop_citus_db aegis_citus_maint
}
maintenance_on_coordinator

# Compression, merging, deletes and roll-ups run where the series is:
# aegis.compress, aegis.merge_blocks, aegis.delete and
# aegis.apply_downsampling on the coordinator call aegis._compress_on_shard,
# aegis._repack_on_shard, aegis._delete_on_shard and
# aegis._rollup_raw_on_shard, which Citus runs on the worker that holds the
# series, so the blocks are decoded, merged and encoded there (the
# coordinator decodes none); reads give the same points before and after
# (the delete's range aside), and a series whose block is corrupt is
# skipped by compress with a WARNING (XX001) while the others are
# compressed.
maintenance_on_shards() {
  local db=aegis_citus_compress before after warn merged counts left digest range want outside removed summary rolled steps
  # shellcheck disable=SC2086
  set -- $CITUS_WORKER_PORTS
  # Blocks of 400 points count as full in these sessions.
  new_citus_db $db &&
    psql -X -q -v ON_ERROR_STOP=1 -p "$PGPORT" -d $db "${add_workers[@]}" \
      -c "CREATE EXTENSION aegis_timeseries" -c "SELECT aegis.distribute(4)" \
      -c "SET aegis.block_max_points = 400" \
      -c "SELECT aegis.write('m', jsonb_build_object('k', k::text),
                ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '10 s' FROM generate_series(0, 1999) i),
                ARRAY(SELECT (k * 100 + i % 97)::float8 FROM generate_series(0, 1999) i))
            FROM generate_series(1, 12) k" \
      -c "SELECT aegis.write('m', jsonb_build_object('k', k::text), '2024-01-01 01:00'::timestamptz + i * interval '10 s', -i)
            FROM generate_series(1, 12) k, generate_series(0, 30) i" \
      -c "SELECT aegis.write('m', jsonb_build_object('k', k::text), '2024-01-01 01:00:05'::timestamptz + i * interval '10 s', 0.5)
            FROM generate_series(1, 12) k, generate_series(0, 30) i" \
      -c "SELECT aegis.write('m', jsonb_build_object('k', k::text), '2024-02-03'::timestamptz + i * interval '1 min', i)
            FROM generate_series(1, 12) k, generate_series(0, 9) i" \
      -c "UPDATE aegis.blocks SET data = set_byte(data, 40, get_byte(data, 40) # 255)
            WHERE series_id = (SELECT series_id FROM aegis.series WHERE tags ->> 'k' = '12')
              AND ts_min <= '2024-01-01 01:00' AND ts_max >= '2024-01-01 01:00'" \
      >"$out/compress-setup.log" 2>&1 ||
    { not_ok "setting up the maintenance database"; grep -v '^NOTICE\|^DETAIL\|^HINT' "$out/compress-setup.log" | tail -n 5; return; }
  digest="SELECT md5(string_agg(series_id || ':' || ts || ':' || value, ',' ORDER BY series_id, ts)), count(*)
            FROM aegis.read('m{k!=\"12\"}')"
  # Blocks the coordinator read or decoded, and the workers decoded, during
  # the statements given.
  blocks_during() {
    local p coord=0 workers=0
    for p in "$PGPORT" "$1" "$2"; do psql -X -q -p "$p" -d $db -c "SELECT aegis.reset_stats()" >/dev/null; done
    psql -X -At -p "$PGPORT" -d $db -c "SET aegis.block_max_points = 400" -c "$3" 2>&1 | tr '\n' ' ' >"$out/maint-run.out"
    coord=$(psql -X -At -p "$PGPORT" -d $db -c "SELECT blocks_read + blocks_decoded FROM aegis.engine_stats")
    for p in "$1" "$2"; do
      workers=$((workers + $(psql -X -At -p "$p" -d $db -c "SELECT blocks_decoded FROM aegis.engine_stats")))
    done
    echo "$coord $workers"
  }
  before=$(psql -X -At -p "$PGPORT" -d $db -c "$digest")
  counts=$(blocks_during "$1" "$2" "SELECT aegis.compress('0')")
  after=$(psql -X -At -p "$PGPORT" -d $db -c "$digest")
  warn=$(cat "$out/maint-run.out")
  left=$(psql -X -At -p "$PGPORT" -d $db -c "SELECT string_agg(DISTINCT s.tags ->> 'k', ',') || ' ' || count(*)
                                               FROM aegis.recent_points r JOIN aegis.series s USING (series_id)")
  if [ "${counts% *}" = 0 ] && [ "${counts#* }" -gt 0 ] && [ "$left" = "12 72" ] && [ "$before" = "$after" ] &&
     [[ "$warn" == *"WARNING:  corrupt block in series"* ]]; then
    ok "compress runs on the shards: the workers decoded ${counts#* } blocks, the coordinator none; reads unchanged; the series with a corrupt block skipped with a WARNING"
  else
    not_ok "compress on the shards: blocks the coordinator read and the workers decoded '$counts', recent rows left '$left' (want 12 72), digest '$before' vs '$after', output '$warn'"
  fi
  # Deletes that leave neighbouring blocks of k <> 12 thin, for merge_blocks.
  psql -X -q -p "$PGPORT" -d $db -c "SET aegis.block_max_points = 400" \
    -c "SELECT aegis.delete('m{k!=\"12\"}', '2024-01-01'::timestamptz + d * interval '400 s' + interval '70 s',
                            '2024-01-01'::timestamptz + (d + 1) * interval '400 s' - interval '30 s')
          FROM generate_series(20, 49) d" >/dev/null
  before=$(psql -X -At -p "$PGPORT" -d $db -c "$digest")
  counts=$(blocks_during "$1" "$2" "SELECT aegis.merge_blocks()")
  merged=$(awk '{print $NF}' "$out/maint-run.out")
  after=$(psql -X -At -p "$PGPORT" -d $db -c "$digest")
  if [ "${counts% *}" = 0 ] && [ "${counts#* }" -gt 0 ] && [ "${merged:-0}" -gt 0 ] 2>/dev/null && [ "$before" = "$after" ]; then
    ok "merge_blocks runs on the shards: $merged points rewritten, the workers decoded ${counts#* } blocks, the coordinator none; reads unchanged"
  else
    not_ok "merge_blocks on the shards: blocks the coordinator read and the workers decoded '$counts', output '$merged', digest '$before' vs '$after'"
  fi
  # A delete of a range that cuts blocks: it removes the points a read of
  # the range returned, leaves every other point, and decodes on the
  # workers.
  range="'2024-01-01 00:55', '2024-01-01 02:31:05'"
  want=$(psql -X -At -p "$PGPORT" -d $db -c "SELECT count(*) FROM aegis.read('m{k!=\"12\"}', $range)")
  outside="SELECT md5(string_agg(series_id || ':' || ts || ':' || value, ',' ORDER BY series_id, ts)), count(*)
             FROM aegis.read('m{k!=\"12\"}') WHERE ts < '2024-01-01 00:55' OR ts >= '2024-01-01 02:31:05'"
  before=$(psql -X -At -p "$PGPORT" -d $db -c "$outside")
  counts=$(blocks_during "$1" "$2" "SELECT aegis.delete('m{k!=\"12\"}', $range)")
  removed=$(awk '{print $NF}' "$out/maint-run.out")
  after=$(psql -X -At -p "$PGPORT" -d $db -c "$outside")
  left=$(psql -X -At -p "$PGPORT" -d $db -c "SELECT count(*) FROM aegis.read('m{k!=\"12\"}', $range)")
  if [ "${counts% *}" = 0 ] && [ "${counts#* }" -gt 0 ] && [ "${want:-0}" -gt 0 ] && [ "$removed" = "$want" ] &&
     [ "$left" = 0 ] && [ "$before" = "$after" ]; then
    ok "delete runs on the shards: $removed points removed, the workers decoded ${counts#* } blocks, the coordinator none; the other points unchanged"
  else
    not_ok "delete on the shards: blocks the coordinator read and the workers decoded '$counts', removed '$removed' of '$want', left '$left', other points '$before' vs '$after'"
  fi
  # Roll-ups: the raw part (points before 03:00 taken out of the blocks and
  # summarized into hourly steps) on the workers; counts and maxima over the
  # rolled-up range stay what they were; the series with a corrupt block is
  # not rolled up (WARNING) and the round goes on.
  summary="SELECT string_agg(a.value::text, ',' ORDER BY a.tags::text, f)
             FROM unnest(ARRAY['count', 'max']) f,
                  aegis.aggregate('m{k!=\"12\"}', f, '-infinity', '2024-01-01 03:00', NULL, '{k}') a"
  before=$(psql -X -At -p "$PGPORT" -d $db -c "$summary")
  psql -X -q -p "$PGPORT" -d $db -c "SELECT aegis.set_downsampling('m', jsonb_build_array(jsonb_build_object(
                                        'after', (now() - timestamptz '2024-01-01 03:00+00')::text, 'step', '1 hour')))" >/dev/null
  counts=$(blocks_during "$1" "$2" "SELECT aegis.apply_downsampling()")
  warn=$(cat "$out/maint-run.out")
  rolled=$(awk '{print $NF}' "$out/maint-run.out")
  after=$(psql -X -At -p "$PGPORT" -d $db -c "$summary")
  steps=$(psql -X -At -p "$PGPORT" -d $db -c "SELECT count(DISTINCT series_id) FROM aegis.rollups")
  if [ "${counts% *}" = 0 ] && [ "${counts#* }" -gt 0 ] && [ "${rolled:-0}" -gt 0 ] 2>/dev/null && [ "$steps" = 11 ] &&
     [ -n "$before" ] && [ "$before" = "$after" ] && [[ "$warn" == *"was not rolled up"* ]]; then
    ok "apply_downsampling takes the raw points on the shards: $rolled points rolled up, the workers decoded ${counts#* } blocks, the coordinator none; counts and maxima unchanged"
  else
    not_ok "apply_downsampling on the shards: blocks the coordinator read and the workers decoded '$counts', rolled up '$rolled', series with steps '$steps' (want 11), before '$before' after '$after', output '$warn'"
  fi
  # After aegis.undistribute() the four functions are still marked
  # distributed in Citus's metadata; with no table left in their colocation
  # group Citus runs them where they are called, on the local tables.
  before=$(psql -X -At -p "$PGPORT" -d $db -c "SELECT count(*) FROM aegis.read('m{k=\"3\"}')")
  want=$(psql -X -At -p "$PGPORT" -d $db -c "SELECT count(*) FROM aegis.read('m{k=\"3\"}', '2024-01-01 04:00', '2024-01-01 04:30')")
  after=$(psql -X -At -v ON_ERROR_STOP=1 -p "$PGPORT" -d $db -c "SELECT aegis.undistribute()" \
            -c "SELECT aegis.write('m', '{\"k\": \"3\"}', '2024-01-01 03:30:01', 7)" \
            -c "SELECT aegis.compress('0')" \
            -c "SELECT aegis.delete('m{k=\"3\"}', '2024-01-01 04:00', '2024-01-01 04:30')" \
            -c "SELECT count(*) FROM aegis.read('m{k=\"3\"}')" \
            -c "SELECT count(*) FROM aegis.recent_points r JOIN aegis.series s USING (series_id)
                 WHERE s.tags ->> 'k' = '3'" 2>"$out/undistributed-maint.err" | tr '\n' ' ')
  if [ "$after" = "  1 $want $((before + 1 - want)) 0 " ]; then
    ok "after aegis.undistribute() compress and delete work on the local tables"
  else
    not_ok "after aegis.undistribute(): output '$after' (want '  1 $want $((before + 1 - want)) 0 ')"
    cat "$out/undistributed-maint.err"
  fi
  drop_citus_db $db
}
maintenance_on_shards

# Crash: writers (test/stress crash-writer: batches into blocks, small
# batches, single points, COPY, late data, aegis.compress in a loop) write
# through the coordinator while a node is killed with SIGKILL (it and all its
# processes): the coordinator in the first cycle, a worker in the second.
# After the node's crash recovery and Citus's recovery of the two-phase
# commits it left (recover_prepared_transactions), every acknowledged
# transaction must be there whole, every other whole or absent, and every
# block must decode (crash-verify, over the logs of all cycles so far).
crash_cycles() {
  local bin dsn cycle node wpid rc sample wrong=""
  bin=$(scripts/build-stress.sh) || { not_ok "building test/stress/aegis_stress"; return; }
  mkdir -p "$out/crash"
  # The errors a writer sees when the worker holding its shard dies, as the
  # cycles have met them (the worker's backend relaying its own "unexpected
  # postmaster exit" before it was killed in turn; a backend of the killed
  # node that was waiting for a connection when its postmaster died), count
  # as the node's loss with --remote-loss 1, an ordinary error does not.
  for sample in "08006|connection to server was lost" \
                "XX000|failure on connection marked as essential: 127.0.0.1:55078" \
                "XX000|connection to the remote node postgres@127.0.0.1:55078 failed" \
                "XX000|server closed the connection unexpectedly while executing command on 127.0.0.1:55078" \
                "58030|failed to COPY to shard 102044 on 127.0.0.1:55078" \
                "XX000|terminating connection due to unexpected postmaster exit" \
                "XX000|postmaster was shut down, exiting"; do
    "$bin" lost-server --sqlstate "${sample%%|*}" --message "${sample#*|}" --remote-loss 1 >/dev/null ||
      wrong="$wrong [$sample]"
  done
  "$bin" lost-server --sqlstate 22003 --message "value out of range" --remote-loss 1 >/dev/null &&
    wrong="$wrong [22003 counted as a lost node]"
  [ -z "$wrong" ] && ok "crash-writer counts a lost worker's errors as the node's loss, and no other" ||
    not_ok "crash-writer's rules for a lost node:$wrong"
  new_citus_db aegis_crash && psql -X -q -v ON_ERROR_STOP=1 -p "$PGPORT" -d aegis_crash "${add_workers[@]}" \
    -c "CREATE EXTENSION aegis_timeseries" -c "SELECT aegis.distribute(4)" >"$out/crash-setup.log" 2>&1 ||
    { not_ok "setting up the crash database"; grep -v '^NOTICE\|^DETAIL\|^HINT' "$out/crash-setup.log" | tail -n 5; return; }
  dsn="host=127.0.0.1 port=$PGPORT user=postgres dbname=aegis_crash"
  for cycle in 1 2; do
    node=coord; [ "$cycle" = 2 ] && node=w1
    "$bin" crash-writer --dsn "$dsn" --log-dir "$out/crash" --run "$cycle" --writers 2 --seconds 60 \
      --seed $((cycle * 7919)) --remote-loss 1 >"$out/crash/writer-$cycle.out" 2>&1 &
    wpid=$!
    sleep 4
    scripts/citus-cluster.sh kill "$node" || { not_ok "cycle $cycle: killing $node"; kill -9 "$wpid"; return; }
    rc=0; wait "$wpid" || rc=$?
    if [ "$rc" != 0 ]; then
      not_ok "cycle $cycle: a writer failed with an error other than the lost node"; cat "$out/crash/writer-$cycle.out"
      return
    fi
    scripts/citus-cluster.sh start || { not_ok "cycle $cycle: $node does not start after the kill"; return; }
    psql -X -q -p "$PGPORT" -d aegis_crash -c "SELECT recover_prepared_transactions()" >/dev/null ||
      { not_ok "cycle $cycle: recover_prepared_transactions()"; return; }
    if "$bin" crash-verify --dsn "$dsn" --state "$out/crash/verdicts" "$out"/crash/run-*-writer-*.log \
         >"$out/crash/verify-$cycle.out" 2>&1; then
      ok "killed $node (SIGKILL, all its processes) under writers: $(grep -c '^A ' "$out"/crash/run-"$cycle"-writer-*.log | \
         awk -F: '{s += $2} END {print s}') transactions acknowledged in the cycle; $(sed -n 's/^ok - \([0-9]*\) acknowledged transactions verified.*/\1/p' \
         "$out/crash/verify-$cycle.out" | head -n 1) acknowledged so far all there after recovery"
    else
      not_ok "cycle $cycle: after killing $node"; tail -n 20 "$out/crash/verify-$cycle.out"
    fi
  done
  drop_citus_db aegis_crash
}
crash_cycles
finish
