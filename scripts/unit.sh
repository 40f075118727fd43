#!/usr/bin/env bash
# Builds the core with AddressSanitizer and UBSan and runs the GoogleTest suite.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$AEGIS_ROOT"
cmake -S . -B build/unit -DAEGIS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build/unit -j"$(nproc)" --target aegis_unit_tests >/dev/null
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./build/unit/aegis_unit_tests --gtest_brief=1 "$@"
