#!/usr/bin/env bash
# Crash-recovery tier: writers (test/stress/aegis_stress crash-writer: batches
# straight into blocks, small batches, single points, COPY; late data into
# and between compressed blocks; aegis.compress('0') in a loop) run while the
# server is killed with SIGKILL at a random moment; after crash recovery
# every acknowledged transaction must be there whole, every unacknowledged
# one whole or absent, nothing else, and every block must decode. Each cycle
# verifies all logs so far, so damage to earlier data is caught too. The
# maintenance worker runs every second (compressing every recent point,
# merging), so kills land in the middle of its rounds too.
#
# Odd cycles kill only the postmaster (its backends finish what they are
# doing and exit when they notice); even cycles kill the postmaster and then
# all its processes, like a machine losing power (without losing the OS's
# page cache).
#
# Its own cluster (scripts/test-cluster.sh) with fsync, synchronous_commit and
# full_page_writes on; removed at the end.
#   CYCLES (3), CRASH_WRITERS (3), STRESS_SEED (random)
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
cd "$AEGIS_ROOT"

cycles=${CYCLES:-3}
writers=${CRASH_WRITERS:-3}
seed=${STRESS_SEED:-$(( (RANDOM << 15) | RANDOM ))}
dir="/tmp/aegis-crash-$AEGIS_TAG"
port=$((AEGIS_PORT + 2000))
db=aegis_crash
logs="$dir/logs"
RANDOM=$((seed % 32768))
settings=("fsync = on" "synchronous_commit = on" "full_page_writes = on" "max_connections = 40"
          "shared_buffers = 128MB" "checkpoint_timeout = 30s" "restart_after_crash = off"
          "aegis.maintenance_interval = '1s'" "aegis.compress_after = '0'")

writer_pid=""
keep="$AEGIS_ROOT/build/crash-failed"
cleanup() {
  local rc=$?
  set +e
  [ -n "$writer_pid" ] && kill -9 "$writer_pid" 2>/dev/null
  if [ "$rc" != 0 ] && [ -d "$logs" ]; then   # keep the evidence of a failure
    rm -rf "$keep" && mkdir -p "$keep" && cp -r "$logs" "$dir/server.log" "$keep/" &&
      echo "# writer logs, verifier output and server log kept in $keep"
  fi
  scripts/test-cluster.sh destroy "$dir"
}
scripts/test-cluster.sh destroy "$dir"   # a leftover of an interrupted run
trap cleanup EXIT
bin=$(scripts/build-stress.sh)
scripts/test-cluster.sh start "$dir" "$port" "${settings[@]}"
mkdir -p "$logs"
psql -X -q -h "$dir" -p "$port" -U postgres -d postgres -c "CREATE DATABASE $db"
psql -X -q -h "$dir" -p "$port" -U postgres -d $db -c "CREATE EXTENSION aegis_timeseries"
dsn=$(scripts/test-cluster.sh dsn "$dir" "$port" $db)
echo "# crash: $cycles cycles, $writers writers + 1 compressor, seed $seed (port $port)"

alive() { kill -0 "$1" 2>/dev/null; }
fail() {
  echo "not ok - $*"
  echo "# reproduce: STRESS_SEED=$seed CYCLES=$cycles bash $0 (kill moments are timing-dependent)"
  exit 1
}

for cycle in $(seq 1 "$cycles"); do
  "$bin" crash-writer --dsn "$dsn" --log-dir "$logs" --run "$cycle" --writers "$writers" --seconds 120 \
    --seed $((seed + cycle)) >"$logs/writer-$cycle.out" 2>&1 &
  writer_pid=$!
  pause="$((2 + RANDOM % 4)).$((RANDOM % 10))"
  sleep "$pause"
  alive "$writer_pid" || { cat "$logs/writer-$cycle.out"; fail "cycle $cycle: the writers ended before the kill"; }
  kill_mode=""; [ $((cycle % 2)) = 0 ] && kill_mode=all
  processes=$(scripts/test-cluster.sh kill "$dir" $kill_mode) ||
    fail "cycle $cycle: server processes still alive 30 s after the kill"
  how="the postmaster"; [ -n "$kill_mode" ] && how="the postmaster and its $processes processes"
  # The writers end when their connections go.
  for _ in $(seq 1 600); do alive "$writer_pid" || break; sleep 0.1; done
  if alive "$writer_pid"; then
    kill -9 "$writer_pid"; cat "$logs/writer-$cycle.out"; fail "cycle $cycle: writers still running 60 s after the kill"
  fi
  writer_rc=0; wait "$writer_pid" || writer_rc=$?
  writer_pid=""
  sed 's/^/  /' "$logs/writer-$cycle.out"
  [ "$writer_rc" = 0 ] || fail "cycle $cycle: a writer failed with an error other than a lost connection"
  start=$(date +%s%N)
  scripts/test-cluster.sh start "$dir" "$port" "${settings[@]}" || fail "cycle $cycle: the server does not start after the kill"
  recovery=$(( ($(date +%s%N) - start) / 1000000 ))
  acked=$(cat "$logs"/run-"$cycle"-writer-*.log | grep -c '^A ' || true)
  echo "# cycle $cycle: killed $how after ${pause} s; $acked transactions acknowledged in this cycle; restart with crash recovery took ${recovery} ms"
  verify_rc=0
  "$bin" crash-verify --dsn "$dsn" --state "$logs/verdicts" "$logs"/run-*-writer-*.log >"$logs/verify-$cycle.out" 2>&1 || verify_rc=$?
  sed "s/^/  cycle $cycle: /" "$logs/verify-$cycle.out"
  [ "$verify_rc" = 0 ] || fail "cycle $cycle: verification after crash recovery failed"
done

if grep -E "PANIC|TRAP:" "$dir/server.log" | head -n 5 | grep -q .; then
  grep -E "PANIC|TRAP:" "$dir/server.log" | head -n 5
  fail "the server log shows a PANIC or an assertion"
fi
worker_jobs=$(psql -X -At -h "$dir" -p "$port" -U postgres -d $db -c "SELECT count(*) FROM aegis.jobs WHERE next_start IS NOT NULL")
[ "$worker_jobs" = 4 ] || fail "the maintenance worker recorded no round (aegis.jobs: $worker_jobs jobs)"
echo "ok - the maintenance worker ran its rounds (compress, rollup, merge, retention) beside the writers, killed with them"
recoveries=$(grep -c "automatic recovery in progress" "$dir/server.log" || true)
[ "$recoveries" -ge "$cycles" ] || fail "the server log shows $recoveries crash recoveries for $cycles kills"
last="$logs/verify-$cycles.out"
acked=$(sed -n 's/^ok - \([0-9]*\) acknowledged transactions verified: all \([0-9]*\) of.*/\1 transactions, \2 points/p' "$last")
unacked=$(sed -n 's/^ok - \([0-9]*\) unacknowledged transactions: \(.*\)/\1 (\2)/p' "$last")
echo "ok - $cycles kill cycles survived ($recoveries crash recoveries): acknowledged $acked verified; unacknowledged $unacked"
