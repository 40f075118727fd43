#!/usr/bin/env bash
# Builds test/stress/aegis_stress (CMake, Release, -Wall -Wextra -Werror) when
# it is missing or older than its sources, and prints its path.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$AEGIS_ROOT"
build="$AEGIS_ROOT/build/stress"
mkdir -p "$build"
{
  [ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release
  cmake --build "$build" --target aegis_stress -j"$(nproc)"
} >"$build/build.log" 2>&1 || { tail -n 40 "$build/build.log" >&2; exit 1; }
echo "$build/aegis_stress"
