#!/usr/bin/env bash
# Concurrency tier: N clients (test/stress/aegis_stress concurrency) run
# random single-statement transactions at READ COMMITTED or REPEATABLE READ
# -- point and batch writes, multi-row INSERT and COPY into aegis.points,
# compress, delete_series, drop_metric and queries -- on series they share;
# then every committed transaction is replayed in commit-timestamp order
# (track_commit_timestamp) and the database must equal that model bit for
# bit, with no deadlock, no error but 40001, one series per tag set, no
# orphan rows, no overlapping blocks. The maintenance worker runs beside them
# every second, compressing every recent point and merging small blocks, so
# the model also checks that maintenance beside writers changes no data.
#
# Runs on its own cluster (scripts/test-cluster.sh), removed at the end.
#   CONCURRENCY_CLIENTS (8), CONCURRENCY_SECONDS (20), STRESS_SEED (random)
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
cd "$AEGIS_ROOT"

clients=${CONCURRENCY_CLIENTS:-8}
seconds=${CONCURRENCY_SECONDS:-20}
seed=${STRESS_SEED:-$(( (RANDOM << 15) | RANDOM ))}
dir="/tmp/aegis-concurrency-$AEGIS_TAG"
port=$((AEGIS_PORT + 1000))
db=aegis_concurrency

scripts/test-cluster.sh destroy "$dir"   # a leftover of an interrupted run
keep="$AEGIS_ROOT/build/concurrency-failed"
cleanup() {
  local rc=$?
  set +e
  if [ "$rc" != 0 ] && [ -f "$dir/server.log" ]; then   # keep the server's side of a failure
    rm -rf "$keep" && mkdir -p "$keep" && cp "$dir/server.log" "$keep/" && echo "# server log kept in $keep"
  fi
  scripts/test-cluster.sh destroy "$dir"
}
trap cleanup EXIT
bin=$(scripts/build-stress.sh)
scripts/test-cluster.sh start "$dir" "$port" \
  "track_commit_timestamp = on" "max_connections = $((clients + 20))" "shared_buffers = 256MB" \
  "fsync = off" "synchronous_commit = on" "deadlock_timeout = 200ms" \
  "aegis.maintenance_interval = '1s'" "aegis.compress_after = '0'"
psql -X -q -h "$dir" -p "$port" -U postgres -d postgres -c "CREATE DATABASE $db"
psql -X -q -h "$dir" -p "$port" -U postgres -d $db -c "CREATE EXTENSION aegis_timeseries"

echo "# aegis_stress concurrency --clients $clients --seconds $seconds --seed $seed (port $port)"
start=$(date +%s)
rc=0
"$bin" concurrency --dsn "$(scripts/test-cluster.sh dsn "$dir" "$port" $db)" \
  --clients "$clients" --seconds "$seconds" --seed "$seed" || rc=$?
echo "# took $(( $(date +%s) - start )) s"

# The worker ran beside the clients, and none of its steps failed but for a
# serialization failure (retried by its next round).
recent_jobs=$(psql -X -At -h "$dir" -p "$port" -U postgres -d $db -c \
  "SELECT count(*) FROM aegis.jobs WHERE next_start IS NOT NULL AND last_start > now() - interval '30 seconds'")
if [ "$recent_jobs" = 4 ]; then
  echo "ok - the maintenance worker ran its four jobs beside the clients, every second"
else
  echo "not ok - the maintenance worker did not run beside the clients (aegis.jobs: $recent_jobs recent jobs)"
  rc=1
fi
job_failures=$(grep -c 'aegis maintenance job ".*" failed' "$dir/server.log" || true)
if grep 'aegis maintenance job ".*" failed' "$dir/server.log" | grep -qv 'failed: 40001'; then
  grep 'aegis maintenance job ".*" failed' "$dir/server.log" | grep -v 'failed: 40001' | head -n 5
  echo "not ok - a maintenance step failed beside the clients"
  rc=1
else
  echo "ok - no maintenance step failed beside the clients but for $job_failures serialization failures"
fi

# The server's side of the first deadlocks: which of the extension's own
# statements waited (CONTEXT).
if grep -q "deadlock detected" "$dir/server.log"; then
  echo "# server log, first deadlocks:"
  awk '/ERROR:  deadlock detected/ {n++; show = n <= 3} show && !/STATEMENT:/ {print "#   " substr($0, 1, 300)} /STATEMENT:/ {show = 0}' "$dir/server.log"
fi

# A backend that crashed (or an assertion) fails the tier even when every
# client's checks passed.
if grep -E "PANIC|TRAP:|terminated by signal|server process .* was terminated" "$dir/server.log" | head -n 5 | grep -q .; then
  grep -E "PANIC|TRAP:|terminated by signal|was terminated" "$dir/server.log" | head -n 5
  echo "not ok - the server log shows a crashed backend"
  rc=1
else
  echo "ok - no backend crashed (server log)"
fi
[ $rc = 0 ] || echo "# reproduce: STRESS_SEED=$seed CONCURRENCY_CLIENTS=$clients CONCURRENCY_SECONDS=$seconds bash $0 (timing-dependent)"
exit $rc
