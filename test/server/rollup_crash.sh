#!/usr/bin/env bash
# Roll-ups survive crashes: the maintenance worker rolls up 4,000,000 points
# of 400 series (a transaction per series; 5-minute steps, and hourly ones
# for the older part) while the server is killed with SIGKILL in the middle
# of its rounds (as soon as it is seen to have rolled up another series). After every crash recovery each series' count, min, max and sum
# over all time, raw and rolled-up data together, equal those of the points
# written: a series is rolled up whole or not at all, never counted twice,
# never lost. At the end the worker has rolled up every series; then four
# sessions write late points beside its rounds, and once they are folded in
# every series still aggregates as the plain table holding every write.
#
# Its own cluster (scripts/test-cluster.sh), removed at the end.
#   CYCLES (4)
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
cd "$AEGIS_ROOT"

cycles=${CYCLES:-4}
dir="/tmp/aegis-rollup-crash-$AEGIS_TAG"
port=$((AEGIS_PORT + 2100))
db=aegis_rollup_crash
settings=("fsync = on" "synchronous_commit = on" "restart_after_crash = off"
          "aegis.maintenance_interval = '1s'" "aegis.compress_after = '0'")
cleanup() { scripts/test-cluster.sh destroy "$dir"; }
scripts/test-cluster.sh destroy "$dir"
trap cleanup EXIT
scripts/test-cluster.sh start "$dir" "$port" "${settings[@]}"
q() { psql -X -At -h "$dir" -p "$port" -U postgres -d $db -c "$1"; }
fail() { echo "not ok - $*"; exit 1; }

psql -X -q -h "$dir" -p "$port" -U postgres -d postgres -c "CREATE DATABASE $db"
psql -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d $db >/dev/null <<'SQL'
CREATE EXTENSION aegis_timeseries;
-- 10,000 one-minute points per series, the newest two days old.
CREATE TABLE truth AS
SELECT s, date_trunc('hour', now()) - interval '2 days' - i * interval '1 minute' AS ts,
       round((100 * sin(i / 50.0 + s) + s)::numeric, 3)::float8 AS value
  FROM generate_series(1, 400) s, generate_series(0, 9999) i;
SELECT count(*) FROM (SELECT aegis.write('r', jsonb_build_object('s', s::text), array_agg(ts ORDER BY ts),
                                         array_agg(value ORDER BY ts)) FROM truth GROUP BY s) w;
CREATE INDEX ON truth (s);
CREATE VIEW expected AS
SELECT jsonb_build_object('s', s::text) AS tags, count(*)::float8 AS count, min(value), max(value), sum(value)
  FROM truth GROUP BY s;
SQL
echo "# rollup crash: 400 series x 10,000 points, $cycles kill cycles"

# Series whose count, min, max or sum over all time differ from the points
# written (sum to 1e-9 relative: steps add in another order). The check
# reads the store about a second after its snapshot (the plain table is
# grouped first), while the worker rolls series up and retention drops the
# partitions that empties: an empty partition must stay until no snapshot
# can see its rows, or the raw points of series rolled up meanwhile vanish
# from this one (test/isolation/specs/empty_partition_drop.spec).
check() {
  q "WITH got AS (SELECT c.tags, c.value AS count, mi.value AS min, ma.value AS max, su.value AS sum
                    FROM aegis.aggregate('r{}', 'count', '-infinity', 'infinity') c
                    JOIN aegis.aggregate('r{}', 'min', '-infinity', 'infinity') mi USING (tags)
                    JOIN aegis.aggregate('r{}', 'max', '-infinity', 'infinity') ma USING (tags)
                    JOIN aegis.aggregate('r{}', 'sum', '-infinity', 'infinity') su USING (tags))
     SELECT count(*) FROM expected e FULL JOIN got g USING (tags)
      WHERE g.count IS DISTINCT FROM e.count OR g.min IS DISTINCT FROM e.min OR g.max IS DISTINCT FROM e.max
         OR g.sum IS NULL OR e.sum IS NULL OR abs(g.sum - e.sum) > 1e-9 * greatest(abs(e.sum), 1)"
}
[ "$(check)" = 0 ] || fail "the set-up does not aggregate to the points written"
q "SELECT aegis.set_downsampling('r', '[{\"after\": \"1 day\", \"step\": \"5 minutes\"}, {\"after\": \"5 days\", \"step\": \"1 hour\"}]')" >/dev/null

rolled() { q "SELECT count(DISTINCT series_id) FROM aegis.rollups"; }
partial=0
for cycle in $(seq 1 "$cycles"); do
  # Kill once the round is seen to have rolled up another series, after a
  # random moment more.
  before=$(rolled)
  for _ in $(seq 1 400); do [ "$(rolled)" -gt "$before" ] && break; sleep 0.05; done
  pause="0.0$((RANDOM % 10))"
  sleep "$pause"
  scripts/test-cluster.sh kill "$dir" all >/dev/null || fail "cycle $cycle: server processes still alive 30 s after the kill"
  scripts/test-cluster.sh start "$dir" "$port" "${settings[@]}" || fail "cycle $cycle: the server does not start"
  done_series=$(rolled)
  [ "$done_series" -gt "$before" ] && [ "$done_series" -lt 400 ] && partial=$((partial + 1))
  bad=$(check)
  [ "$bad" = 0 ] || fail "cycle $cycle: after the kill ($pause s) $bad series aggregate differently from the points written"
  echo "ok - cycle $cycle: killed $pause s into a round, with $done_series of 400 series rolled up; every series aggregates as written"
  [ "$done_series" -lt 400 ] || break
done

# The worker finishes the job.
for _ in $(seq 1 120); do
  raw=$(q "SELECT count(*) FROM aegis.blocks") ; steps=$(q "SELECT count(DISTINCT series_id) FROM aegis.rollups")
  [ "$raw" = 0 ] && [ "$steps" = 400 ] && break
  sleep 0.5
done
[ "$raw" = 0 ] && [ "$steps" = 400 ] || fail "the worker did not finish rolling up ($raw blocks left, $steps series rolled up)"
[ "$(check)" = 0 ] || fail "after the roll-up series aggregate differently from the points written"
hourly=$(q "SELECT count(DISTINCT series_id) FROM aegis.rollups WHERE step = '1 hour'")
[ "$hourly" = 400 ] || fail "only $hourly series have hourly steps for the part older than 5 days"
[ "$partial" -ge 1 ] || fail "no kill landed in the middle of a round"
echo "ok - the worker rolled up every series (5-minute and hourly steps); every series aggregates as written ($partial of $cycles kills landed mid-round)"
# Writers beside the rounds: 4 sessions write late points into rolled-up
# and raw ranges (new timestamps, between the minutes) for 8 seconds, each
# write and its copy in the plain table in one transaction, while the worker
# rolls up every second; once it has folded them in, every series still
# aggregates as the plain table says.
writer() {
  local w=$1 deadline=$(( $(date +%s) + 8 )) i=0
  while [ "$(date +%s)" -lt "$deadline" ]; do
    i=$((i + 1))
    q "BEGIN;
       CREATE TEMP TABLE batch ON COMMIT DROP AS
       SELECT 1 + (g * 37 + $w * 101 + $i * 7) % 400 AS s,
              date_trunc('hour', now()) - interval '2 days' - ((g * 7919 + $i * 13 + $w) % 14000) * interval '1 minute'
                - interval '1 microsecond' * ($w + 10 * $i) AS ts,
              (g % 97)::float8 AS value
         FROM generate_series(1, 50) g;
       SELECT count(aegis.write('r', jsonb_build_object('s', s::text), ts, value)) FROM batch;
       INSERT INTO truth SELECT s, ts, value FROM batch;
       COMMIT;" >/dev/null || return 1
  done
}
pids=()
for w in 1 2 3 4; do writer $w & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "a writer failed beside the roll-up rounds"; done
written=$(q "SELECT count(*) - 4000000 FROM truth")
for _ in $(seq 1 60); do
  raw_old=$(q "SELECT count(*) FROM aegis.read('r', '-infinity', now() - interval '26 hours')")
  [ "$raw_old" = 0 ] && break
  sleep 0.5
done
[ "$raw_old" = 0 ] || fail "the worker did not fold the late points in ($raw_old raw points left)"
bad=$(check)
[ "$bad" = 0 ] || fail "after late writes beside the rounds $bad series aggregate differently from the plain table"
echo "ok - $written late points written by 4 sessions beside rounds every second: folded in, every series aggregates as the plain table"
if grep -E "PANIC|TRAP:" "$dir/server.log" | head -n 5 | grep -q .; then fail "the server log shows a PANIC or an assertion"; fi
