#!/usr/bin/env bash
# make stress: the long runs of the tiers that try to break the extension.
#   crash recovery   test/server/crash.sh with CYCLES=20 kill -9 cycles
#   concurrency      test/server/concurrency.sh with 12 clients for 5 minutes
#   fuzzing          scripts/fuzz.sh: 10 million libFuzzer executions of the
#                    block decoder under ASan and UBSan
# The first two run on their own throw-away clusters. Settings: STRESS_CYCLES
# (20), STRESS_CLIENTS (12), STRESS_SECONDS (300), STRESS_FUZZ_RUNS
# (10000000), STRESS_SEED (random per part).
# Ends with "N passed, N failed" over the parts; logs in build/stress-logs/.
set -uo pipefail
source "$(dirname "$0")/common.sh"
cd "$AEGIS_ROOT"

cycles=${STRESS_CYCLES:-20}
clients=${STRESS_CLIENTS:-12}
seconds=${STRESS_SECONDS:-300}
fuzz_runs=${STRESS_FUZZ_RUNS:-10000000}
logdir="$AEGIS_ROOT/build/stress-logs"
mkdir -p "$logdir"
passed=0
failed=0

# Runs one part: name, log file, command...; prints its ok/not ok lines.
part() {
  local name=$1 log=$2; shift 2
  local start=$SECONDS
  echo "== $name"
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1)); result=ok
  else
    failed=$((failed + 1)); result=FAILED
  fi
  grep -E '^(not )?ok - |^# (summary|reproduce|crash:|aegis_stress)|^Done [0-9]+ runs|^stat::number_of_executed_units' "$log" | grep -v '^  cycle' | sed 's/^/   /'
  echo "   $result: $name in $((SECONDS - start)) s (log: $log)"
}

echo "== set-up: build and install the extension, build aegis_stress"
if ! scripts/deps.sh >/dev/null || ! scripts/build.sh || ! scripts/build-stress.sh >/dev/null; then
  echo "0 passed, 1 failed"
  exit 1
fi

part "crash recovery: $cycles kill -9 cycles (test/server/crash.sh)" "$logdir/crash.log" \
  env CYCLES="$cycles" bash test/server/crash.sh
part "concurrency: $clients clients for $seconds s (test/server/concurrency.sh)" "$logdir/concurrency.log" \
  env CONCURRENCY_CLIENTS="$clients" CONCURRENCY_SECONDS="$seconds" bash test/server/concurrency.sh

part "fuzzing: $fuzz_runs executions of the block decoder (scripts/fuzz.sh)" "$logdir/fuzz.log" \
  env RUNS="$fuzz_runs" scripts/fuzz.sh

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
