#!/usr/bin/env bash
# make test: set everything up, run every test tier against a real server,
# and end with one line "N passed, N failed" over all tiers.
set -uo pipefail
source "$(dirname "$0")/common.sh"
cd "$AEGIS_ROOT"

passed=0
failed=0
logdir="$AEGIS_ROOT/build/test-logs"
mkdir -p "$logdir"

# Each tier's heading says how long the run has taken so far.
SECONDS=0
tier() { echo "== $* ($((SECONDS / 60)) min $((SECONDS % 60)) s so far)"; }

# Adds a tier's counts to the totals and prints them.
count() {  # tier passed failed
  echo "   $1: $2 passed, $3 failed"
  passed=$((passed + $2))
  failed=$((failed + $3))
}

tier "set-up: packages, build (g++ -Werror), install, cluster"
# Stop the cluster at the end when this run started it (a cluster that was
# already running, e.g. for make demo, is left running).
if ! scripts/cluster.sh status >/dev/null 2>&1; then
  trap 'scripts/cluster.sh stop' EXIT
fi
if ! scripts/deps.sh || ! scripts/build.sh || ! scripts/cluster.sh start; then
  echo "0 passed, 1 failed"
  exit 1
fi

# Tier 4's server scripts run in lanes, one script at a time in each (the
# machine has two cores). A lane prints "ok NAME (N s)" or "FAILED NAME (N
# s)" and the log's tail.
server_lane() {  # scripts...
  local t name started
  for t in "$@"; do
    name=$(basename "$t" .sh)
    started=$SECONDS
    if bash "$t" >"$logdir/server-$name.log" 2>&1; then
      echo "   ok     $name ($((SECONDS - started)) s)"
    else
      echo "   FAILED $name ($((SECONDS - started)) s)"; tail -n 30 "$logdir/server-$name.log"
    fi
  done
}
# - early: scripts marked "make test: starts early", which mostly wait (a
#   Prometheus writing for a minute): started now, beside tiers 0 to 3;
# - own: the other scripts that start clusters of their own
#   (scripts/test-cluster.sh: crashes, restarts), then the Citus tier;
# - shared: the scripts on the shared cluster, which one of them restarts
#   and another reconfigures, so one at a time.
# Own-cluster scripts marked "make test: either lane" join the shared lane
# when the Citus tier runs (it is the longest part of the own lane) and the
# own lane when it does not.
citus_runs=false
scripts/citus-cluster.sh available >/dev/null 2>&1 && citus_runs=true
early=() own=() shared=()
for t in test/server/*.sh; do
  if grep -q '^# make test: starts early' "$t"; then
    early+=("$t")
  elif ! grep -q 'test-cluster.sh' "$t"; then
    shared+=("$t")
  elif grep -q '^# make test: either lane' "$t" && $citus_runs; then
    shared+=("$t")
  else
    own+=("$t")
  fi
done
rm -f "$logdir"/server-*-lane.out
server_lane "${early[@]}" >"$logdir/server-early-lane.out" 2>&1 &
early_lane=$!

tier "tier 0: warning-free under clang too, and under g++ -O3"
if scripts/check-clang.sh >"$logdir/clang.log" 2>&1; then
  count clang 1 0
else
  head -n 40 "$logdir/clang.log"
  count clang 0 1
fi

# The benchmark builds the core with CMake's Release flags (-O3); some g++
# warnings (maybe-uninitialized) appear only there, so build it here too.
if { cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release &&
     cmake --build build/release -j"$(nproc)" --target aegis_core; } >"$logdir/release.log" 2>&1; then
  count release-build 1 0
else
  grep -E "error|warning" "$logdir/release.log" | head -n 20
  count release-build 0 1
fi

tier "tier 1: C++ unit tests (GoogleTest, ASan+UBSan)"
scripts/unit.sh >"$logdir/unit.log" 2>&1
rc=$?
p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$logdir/unit.log" | tail -n1)
f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$logdir/unit.log" | tail -n1)
p=${p:-0}; f=${f:-0}
if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; tail -n 40 "$logdir/unit.log"; fi
[ "$f" != 0 ] && grep -E "FAILED|Failure|ERROR" "$logdir/unit.log" | head -n 40
count unit "$p" "$f"
# A skipped test (a data file of ../shared/data missing) is neither a pass nor
# a failure; say so rather than let it vanish.
s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$logdir/unit.log" | tail -n1)
if [ -n "$s" ] && [ "$s" != 0 ]; then
  echo "   unit: $s skipped, not counted:"
  grep -A1 ': Skipped$' "$logdir/unit.log" | grep -v -e ': Skipped$' -e '^--$' | sed 's/^/     /'
fi

tier "tier 2: pg_regress (sql/ -> expected/)"
scripts/check-schedule.sh || count schedule 0 1
mkdir -p build/regress
make -s installcheck PG_CONFIG="$PG_CONFIG" >"$logdir/regress.log" 2>&1
p=$(grep -cE '\.\.\. ok' "$logdir/regress.log")
f=$(grep -cE '\.\.\. FAILED' "$logdir/regress.log")
cat "$logdir/regress.log" | grep -E '\.\.\. (ok|FAILED)' | sed 's/^/   /'
[ "$f" != 0 ] && [ -f build/regress/regression.diffs ] && head -n 80 build/regress/regression.diffs
count regress "$p" "$f"

tier "tier 2b: isolation tests (pg_isolation_regress: concurrent sessions step by step)"
rm -rf build/isolation && mkdir -p build/isolation
"$(dirname "$("$PG_CONFIG" --pgxs)")/../test/isolation/pg_isolation_regress" \
  --inputdir=test/isolation --outputdir=build/isolation --dbname=aegis_isolation \
  $(cat test/isolation/schedule) >"$logdir/isolation.log" 2>&1
rc=$?
p=$(grep -cE '\.\.\. ok' "$logdir/isolation.log")
f=$(grep -cE '\.\.\. FAILED' "$logdir/isolation.log")
if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; tail -n 20 "$logdir/isolation.log"; fi
grep -E '\.\.\. (ok|FAILED)' "$logdir/isolation.log" | sed 's/^/   /'
[ "$f" != 0 ] && [ -f build/isolation/regression.diffs ] && head -n 80 build/isolation/regression.diffs
count isolation "$p" "$f"

tier "tier 3: pgTAP contract tests"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS aegis_tap" -c "CREATE DATABASE aegis_tap" >/dev/null
psql -X -q -d aegis_tap -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION aegis_timeseries" >/dev/null
pg_prove -v -d aegis_tap test/pgtap/*.sql >"$logdir/pgtap.log" 2>&1
rc=$?
p=$(grep -cE '^ok [0-9]+' "$logdir/pgtap.log")
f=$(grep -cE '^not ok [0-9]+' "$logdir/pgtap.log")
if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; fi
tail -n 3 "$logdir/pgtap.log" | sed 's/^/   /'
[ "$f" != 0 ] && grep -E '^not ok|^#' "$logdir/pgtap.log" | head -n 40
count pgtap "$p" "$f"

tier "tier 4: server-level tests"
# Tier 5 (Citus: clusters of its own too, its single node included) runs at
# the end of the own lane, while the shared lane's longer scripts still run;
# it is reported below.
rm -f "$logdir/citus.rc" "$logdir/citus.log"
(
  server_lane "${own[@]}"
  test/citus/run.sh >"$logdir/citus.log" 2>&1
  echo $? >"$logdir/citus.rc"
) >"$logdir/server-own-lane.out" 2>&1 &
own_lane=$!
server_lane "${shared[@]}" | tee "$logdir/server-shared-lane.out"
wait "$own_lane"
echo "   (scripts with clusters of their own, run beside those:)"
cat "$logdir/server-own-lane.out"
wait "$early_lane"
echo "   (started before tier 0, run beside tiers 0 to 4:)"
cat "$logdir/server-early-lane.out"
p=$(cat "$logdir"/server-*-lane.out | grep -cE '^   ok     ')
f=$(cat "$logdir"/server-*-lane.out | grep -cE '^   FAILED ')
[ $((p + f)) = $((${#early[@]} + ${#own[@]} + ${#shared[@]})) ] || f=$((f + 1))
count server "$p" "$f"

tier "tier 5: scale-out on Citus (a coordinator and two workers; run in tier 4's first lane)"
rc=$(cat "$logdir/citus.rc" 2>/dev/null || echo 1)
if [ "$rc" = 77 ]; then
  # Citus is not in Debian's archive: without it the tier cannot run, and it
  # is not counted (docs/scale-out.md says how to build it).
  echo "   citus: skipped, not counted: $(sed -n 's/^skipped: //p' "$logdir/citus.log")"
else
  p=$(grep -cE '^ok - ' "$logdir/citus.log" 2>/dev/null); p=${p:-0}
  f=$(grep -cE '^not ok - ' "$logdir/citus.log" 2>/dev/null); f=${f:-0}
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; tail -n 20 "$logdir/citus.log"; fi
  grep -E '^(ok|not ok) - ' "$logdir/citus.log" | cut -c1-150 | sed 's/^/   /'
  [ "$f" != 0 ] && grep -A12 '^not ok' "$logdir/citus.log" | head -n 60
  count citus "$p" "$f"
fi

echo "   (all tiers: $((SECONDS / 60)) min $((SECONDS % 60)) s)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
