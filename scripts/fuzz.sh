#!/usr/bin/env bash
# Builds the libFuzzer target for DecodeBlock (test/fuzz/block_decode_fuzz.cpp)
# with ASan and UBSan into build-fuzz/, writes a seed corpus of valid blocks,
# and runs the fuzzer. RUNS (default 1000000) sets the number of executions;
# extra arguments go to libFuzzer (e.g. -max_total_time=600).
set -euo pipefail

cd "$(dirname "$0")/.."
CXX="${CXX:-clang++-14}"
RUNS="${RUNS:-1000000}"
OUT=build-fuzz
mkdir -p "$OUT"

# Seed generator: the same file built as a plain program.
"$CXX" -std=c++17 -g -O1 -DAEGIS_FUZZ_SEED_MAIN -Isrc src/core/*.cpp test/fuzz/block_decode_fuzz.cpp \
  -o "$OUT/block_decode_seeds"
rm -rf "$OUT/seeds"
mkdir -p "$OUT/seeds" "$OUT/corpus"
"$OUT/block_decode_seeds" "$OUT/seeds"

"$CXX" -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Isrc src/core/*.cpp \
  test/fuzz/block_decode_fuzz.cpp -o "$OUT/block_decode_fuzz"

# New inputs go to corpus/ (kept between runs); seeds/ is read only.
"$OUT/block_decode_fuzz" -runs="$RUNS" -max_len=4096 -print_final_stats=1 "$@" "$OUT/corpus" "$OUT/seeds"
