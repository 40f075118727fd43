#!/usr/bin/env bash
# Builds the libFuzzer target for DecodeBlock (test/fuzz/block_decode_fuzz.cpp,
# whose check lives in test/fuzz/block_decode_check.h) with ASan and UBSan into
# build-fuzz/, writes a seed corpus of valid blocks, and runs the fuzzer. RUNS
# (default 1000000) sets the number of executions; extra arguments go to
# libFuzzer (e.g. -max_total_time=600).
#
# Seeds (build-fuzz/seeds/, rewritten on every run): about a thousand valid
# blocks of 1..100 points in codec 1 and in codec 2 with every value scheme
# (forced and as chosen by the encoder), with timestamp exceptions, plus small
# codec 2 blocks of 65,536..100,000 points whose exceptions need 4-byte
# positions. The largest seed is under 2 KB; -max_len=8192 leaves room to grow.
# The target skips inputs whose header announces more than 100,000 points.
# test/fuzz/corpus/ is a minimised corpus checked in for the unit test
# FuzzCorpus (test/unit/fuzz_corpus_test.cpp); it is read here as well.
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

# New inputs go to build-fuzz/corpus/ (kept between runs); seeds/ and the
# checked-in test/fuzz/corpus/ are read only.
CORPORA=("$OUT/corpus" "$OUT/seeds")
if [ -d test/fuzz/corpus ]; then CORPORA+=(test/fuzz/corpus); fi
"$OUT/block_decode_fuzz" -runs="$RUNS" -max_len=8192 -print_final_stats=1 "$@" "${CORPORA[@]}"
