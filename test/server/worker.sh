#!/usr/bin/env bash
# The maintenance background worker on the preloaded cluster: it runs every
# aegis.maintenance_interval (changed by a reload), compresses, rolls up,
# merges and applies retention in a database that has the extension, records each job in
# aegis.jobs with its next start, logs and records a failing job and keeps
# going, shows in pg_stat_activity, and never stands in the way of DROP
# DATABASE.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
cd "$AEGIS_ROOT"
db=aegis_worker
q() { psql -X -At -v ON_ERROR_STOP=1 -d $db -c "$1"; }
fail() { echo "not ok - $1"; psql -X -d $db -c "SELECT * FROM aegis.jobs" || true; exit 1; }
reset() {
  psql -X -q -d postgres -c "ALTER SYSTEM RESET aegis.maintenance_interval" -c "SELECT pg_reload_conf()" >/dev/null
}
trap reset EXIT

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
[ "$(psql -X -At -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'aegis maintenance launcher'")" = 1 ] ||
  fail "the launcher is not in pg_stat_activity"
echo "ok - the launcher is in pg_stat_activity as 'aegis maintenance launcher'"

psql -X -q -v ON_ERROR_STOP=1 -d $db >/dev/null <<'SQL'
CREATE EXTENSION aegis_timeseries;
-- 100 points a minute apart, the newest 20 minutes old: all older than
-- aegis.compress_after; retention keeps the last hour.
SELECT aegis.write('w_old', '{}', ARRAY(SELECT date_trunc('minute', now()) - g * interval '1 minute' FROM generate_series(20, 119) g),
                   ARRAY(SELECT g::float8 FROM generate_series(20, 119) g));
SELECT aegis.set_retention('w_old', '1 hour');
-- The same points, rolled up into 10-minute steps after 30 minutes.
SELECT aegis.write('w_roll', '{}', ARRAY(SELECT date_trunc('minute', now()) - g * interval '1 minute' FROM generate_series(20, 119) g),
                   ARRAY(SELECT g::float8 FROM generate_series(20, 119) g));
SELECT aegis.set_downsampling('w_roll', '[{"after": "30 minutes", "step": "10 minutes"}]');
-- Two small blocks in one partition (written with a block size of 2): the
-- worker, at the default size, merges them.
SET aegis.block_max_points = 2;
SELECT aegis.write('w_frag', '{}', ARRAY[date_trunc('hour', now()) - interval '1 day', date_trunc('hour', now()) - interval '1 day' + interval '1 minute'], ARRAY[1, 2]);
SELECT aegis.write('w_frag', '{}', date_trunc('hour', now()) - interval '1 day' + interval '5 minutes', 3);
SELECT aegis.compress('0');
SQL
[ "$(q "SELECT count(*) FROM aegis.blocks WHERE series_id = (SELECT series_id FROM aegis.series WHERE metric = 'w_frag')")" = 2 ] ||
  fail "the set-up did not leave two small blocks"

psql -X -q -d postgres -c "ALTER SYSTEM SET aegis.maintenance_interval = '1s'" -c "SELECT pg_reload_conf()" >/dev/null
# The database was first seen at the old interval: its first round comes
# within a minute, then one a second.
for i in $(seq 1 150); do
  done_jobs=$(q "SELECT count(*) FROM aegis.jobs WHERE next_start IS NOT NULL AND last_error IS NULL")
  left=$(q "SELECT count(*) FROM aegis.recent_points")
  [ "$done_jobs" = 4 ] && [ "$left" = 0 ] && break
  sleep 0.5
done
[ "$done_jobs" = 4 ] || fail "the worker did not record its four jobs within 75 s"
echo "ok - the worker ran compress, rollup, merge and retention and recorded them in aegis.jobs with their next start"
[ "$(q "SELECT count(*) FROM aegis.recent_points")" = 0 ] || fail "the worker did not compress"
echo "ok - it compressed every recent point older than aegis.compress_after"
[ "$(q "SELECT count(*) FROM aegis.read('w_old') WHERE ts < now() - interval '1 hour' - interval '5 seconds'")" = 0 ] ||
  fail "points older than the retention are still there"
[ "$(q "SELECT count(*) > 30 FROM aegis.read('w_old')")" = t ] || fail "retention removed kept points"
echo "ok - it applied the metric's retention"
[ "$(q "SELECT count(*) FROM aegis.read('w_roll') WHERE ts < now() - interval '40 minutes'")" = 0 ] ||
  fail "points older than the roll-up tier are still raw"
[ "$(q "SELECT count(*) > 0 FROM aegis.rollups")" = t ] || fail "no rolled-up steps were written"
[ "$(q "SELECT value FROM aegis.aggregate('w_roll{}', 'count', '-infinity', 'infinity')")" = 100 ] ||
  fail "rolling up changed the number of points aggregate counts"
[ "$(q "SELECT value FROM aegis.aggregate('w_roll{}', 'sum', '-infinity', 'infinity')")" = 6950 ] ||
  fail "rolling up changed the sum aggregate gives"
echo "ok - it rolled up the points older than the metric's first tier; aggregate counts and sums the same"
[ "$(q "SELECT count(*) FROM aegis.blocks WHERE series_id = (SELECT series_id FROM aegis.series WHERE metric = 'w_frag')")" = 1 ] ||
  fail "the two small blocks were not merged"
[ "$(q "SELECT string_agg(value::text, ',' ORDER BY ts) FROM aegis.read('w_frag')")" = "1,2,3" ] || fail "merging changed the points"
echo "ok - it merged two small blocks of one partition into one, points unchanged"

# A reload changes the interval: next_start follows the new one.
psql -X -q -d postgres -c "ALTER SYSTEM SET aegis.maintenance_interval = '3s'" -c "SELECT pg_reload_conf()" >/dev/null
ok=
for i in $(seq 1 40); do
  gap=$(q "SELECT max(next_start - last_start) > interval '2 seconds' FROM aegis.jobs")
  [ "$gap" = t ] && { ok=1; break; }
  sleep 0.5
done
[ -n "$ok" ] || fail "after a reload to 3 s the next start did not move"
echo "ok - a reload with aegis.maintenance_interval = 3s spaces the rounds 3 s apart"
psql -X -q -d postgres -c "ALTER SYSTEM SET aegis.maintenance_interval = '1s'" -c "SELECT pg_reload_conf()" >/dev/null

# A job that fails (a corrupt block in a series to merge) is logged and
# recorded; the worker goes on with the other jobs, round after round.
psql -X -q -v ON_ERROR_STOP=1 -d $db >/dev/null <<'SQL'
SET aegis.block_max_points = 2;
SELECT aegis.write('w_bad', '{}', ARRAY[date_trunc('hour', now()) - interval '1 day', date_trunc('hour', now()) - interval '1 day' + interval '1 minute'], ARRAY[1, 2]);
SELECT aegis.write('w_bad', '{}', date_trunc('hour', now()) - interval '1 day' + interval '5 minutes', 3);
SELECT aegis.compress('0');
UPDATE aegis.blocks SET data = set_byte(data, 30, get_byte(data, 30) # 16)
 WHERE series_id = (SELECT series_id FROM aegis.series WHERE metric = 'w_bad');
SQL
before=$(q "SELECT last_start FROM aegis.jobs WHERE job = 'retention'")
for i in $(seq 1 40); do
  err=$(q "SELECT coalesce(last_error, '') FROM aegis.jobs WHERE job = 'merge'")
  [ -n "$err" ] && break
  sleep 0.5
done
case "$err" in XX001*) ;; *) fail "the failing merge was not recorded (last_error: '$err')" ;; esac
echo "ok - a failing job is recorded in aegis.jobs: $err"
grep -q 'aegis maintenance job "merge" failed' "$AEGIS_CLUSTER_DIR/server.log" || fail "the failure was not logged"
echo "ok - and logged"
sleep 2.5
[ "$(q "SELECT last_start > '$before' FROM aegis.jobs WHERE job = 'retention'")" = t ] || fail "the worker stopped after the failure"
echo "ok - the worker keeps running its other jobs"

# ALTER DATABASE ... SET aegis.maintenance_worker = off keeps the worker out.
psql -X -q -d postgres -c "ALTER DATABASE $db SET aegis.maintenance_worker = off"
sleep 1.5
before=$(q "SELECT max(last_start) FROM aegis.jobs")
sleep 3
[ "$(q "SELECT max(last_start) = '$before' FROM aegis.jobs")" = t ] ||
  fail "the worker still ran rounds with aegis.maintenance_worker = off for the database"
echo "ok - with aegis.maintenance_worker = off for the database the worker runs no round there"

# DROP DATABASE is never refused because of the worker.
psql -X -q -d postgres -c "DROP DATABASE $db" || fail "DROP DATABASE failed while the worker runs every second"
echo "ok - DROP DATABASE succeeds while the worker runs every second"
