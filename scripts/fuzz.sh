#!/usr/bin/env bash
# Builds the libFuzzer targets for DecodeBlock (test/fuzz/block_decode_fuzz.cpp,
# whose check lives in test/fuzz/block_decode_check.h) with ASan and UBSan into
# build-fuzz/, writes a seed corpus of valid blocks, and runs the fuzzer. RUNS
# (default 1000000) sets the number of executions; extra arguments go to
# libFuzzer (e.g. -max_total_time=600). Then the same for DecodeSegments
# (test/fuzz/segments_fuzz.cpp), for a gateway write request and a packed
# batch (test/fuzz/packed_fuzz.cpp) and for the gateway's parsers
# (test/fuzz/gateway_parsers_fuzz.cpp) and its remote-write decoding
# (test/fuzz/remote_write_fuzz.cpp), at the end.
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

# Builds test/fuzz/$1.cpp twice (as its seed generator, -DAEGIS_FUZZ_SEED_MAIN,
# and as the libFuzzer target), writes its seeds into $OUT/$2 and runs it for
# $3 executions with -max_len=$4 over $OUT/$5 (new inputs, kept between runs),
# the seeds and any further corpora given.
fuzz_target() {
  local name=$1 seeds=$OUT/$2 runs=$3 max_len=$4 corpus=$OUT/$5
  shift 5
  "$CXX" -std=c++17 -g -O1 -DAEGIS_FUZZ_SEED_MAIN -Isrc src/core/*.cpp "test/fuzz/$name.cpp" -o "$OUT/${name}_seeds"
  rm -rf "$seeds"
  mkdir -p "$seeds" "$corpus"
  "$OUT/${name}_seeds" "$seeds"
  "$CXX" -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Isrc src/core/*.cpp \
    "test/fuzz/$name.cpp" -o "$OUT/$name"
  "$OUT/$name" -runs="$runs" -max_len="$max_len" -print_final_stats=1 "${EXTRA_ARGS[@]}" "$corpus" "$seeds" "$@"
}

# New inputs go to build-fuzz/corpus/ (kept between runs); seeds/ and the
# checked-in test/fuzz/corpus/ are read only.
EXTRA_ARGS=("$@")
CHECKED_IN=()
if [ -d test/fuzz/corpus ]; then CHECKED_IN+=(test/fuzz/corpus); fi
fuzz_target block_decode_fuzz seeds "$RUNS" 8192 corpus "${CHECKED_IN[@]}"

# Segment summaries: DecodeSegments over a block summary and segment bytes;
# SEGMENT_RUNS executions (default 2000000).
EXTRA_ARGS=()
fuzz_target segments_fuzz segment_seeds "${SEGMENT_RUNS:-2000000}" 4096 segment_corpus

# A gateway write request and a packed batch (test/fuzz/packed_fuzz.cpp);
# PACKED_RUNS executions (default 2000000).
EXTRA_ARGS=()
fuzz_target packed_fuzz packed_seeds "${PACKED_RUNS:-2000000}" 4096 packed_corpus

# The gateway's parsers (test/fuzz/gateway_parsers_fuzz.cpp: line protocol,
# OpenMetrics, tag JSON, load's batch cutter); GATEWAY_RUNS executions
# (default 2000000).
GW_SOURCES=(src/gateway/batch.cpp src/gateway/line_protocol.cpp src/gateway/openmetrics.cpp)
"$CXX" -std=c++17 -g -O1 -DAEGIS_FUZZ_SEED_MAIN -Isrc "${GW_SOURCES[@]}" test/fuzz/gateway_parsers_fuzz.cpp \
  -o "$OUT/gateway_parsers_fuzz_seeds"
rm -rf "$OUT/gateway_seeds"
mkdir -p "$OUT/gateway_seeds" "$OUT/gateway_corpus"
"$OUT/gateway_parsers_fuzz_seeds" "$OUT/gateway_seeds"
"$CXX" -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Isrc "${GW_SOURCES[@]}" \
  test/fuzz/gateway_parsers_fuzz.cpp -o "$OUT/gateway_parsers_fuzz"
"$OUT/gateway_parsers_fuzz" -runs="${GATEWAY_RUNS:-2000000}" -max_len=4096 -print_final_stats=1 \
  "$OUT/gateway_corpus" "$OUT/gateway_seeds"

# The gateway's remote-write decoding and its write requests
# (test/fuzz/remote_write_fuzz.cpp, protobuf's wire format read without
# messages); REMOTE_WRITE_RUNS executions (default 2000000).
mkdir -p "$OUT/proto"
protoc --proto_path=src/gateway --cpp_out="$OUT/proto" src/gateway/remote.proto
RW_SOURCES=(src/gateway/batch.cpp src/gateway/prom.cpp src/gateway/request.cpp src/core/write_request.cpp
            "$OUT/proto/remote.pb.cc")
RW_LIBS=($(pkg-config --libs protobuf) -lsnappy)
"$CXX" -std=c++17 -g -O1 -DAEGIS_FUZZ_SEED_MAIN -Isrc -I"$OUT/proto" "${RW_SOURCES[@]}" \
  test/fuzz/remote_write_fuzz.cpp "${RW_LIBS[@]}" -o "$OUT/remote_write_fuzz_seeds"
rm -rf "$OUT/remote_write_seeds"
mkdir -p "$OUT/remote_write_seeds" "$OUT/remote_write_corpus"
"$OUT/remote_write_fuzz_seeds" "$OUT/remote_write_seeds"
"$CXX" -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Isrc -I"$OUT/proto" \
  "${RW_SOURCES[@]}" test/fuzz/remote_write_fuzz.cpp "${RW_LIBS[@]}" -o "$OUT/remote_write_fuzz"
"$OUT/remote_write_fuzz" -runs="${REMOTE_WRITE_RUNS:-2000000}" -max_len=4096 -print_final_stats=1 \
  "$OUT/remote_write_corpus" "$OUT/remote_write_seeds"
