// libFuzzer target for DecodeSegments (src/core/segments.h). An input is a
// block summary (point count u32, ts_min and ts_max as i64, little-endian:
// 20 bytes) followed by the segment bytes, decoded with the trailing CRC-32C
// rewritten to the correct one (so that mutations reach the parser; a wrong
// checksum is refused before anything is read). Each decode must either throw
// Error(DataCorrupted) or return segments in time order, each inside the
// block, whose point counts add up to the block's and which start at its
// ts_min and end at its ts_max; anything else aborts.
//
// Built with -DAEGIS_FUZZ_SEED_MAIN instead of -fsanitize=fuzzer, the file is
// a small program that writes seeds: the segments EncodeSegments makes for
// series every 250 ms, 1 s, 10 s and 1 minute (before and after 2000),
// with decimal and raw values.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/block_codec.h"
#include "core/crc32c.h"
#include "core/error.h"
#include "core/segments.h"

using aegis::core::BlockSummary;
using aegis::core::Timestamp;

#ifndef AEGIS_FUZZ_SEED_MAIN

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 20) return 0;
  BlockSummary block;
  uint32_t count = 0;
  std::memcpy(&count, data, 4);
  std::memcpy(&block.ts_min, data + 4, 8);
  std::memcpy(&block.ts_max, data + 12, 8);
  block.count = count;
  std::vector<uint8_t> bytes(data + 20, data + size);
  if (bytes.size() >= 4) {
    const uint32_t crc = aegis::core::Crc32c(bytes.data(), bytes.size() - 4);
    for (int i = 0; i < 4; ++i) bytes[bytes.size() - 4 + static_cast<size_t>(i)] = static_cast<uint8_t>(crc >> (8 * i));
  }
  try {
    const std::vector<BlockSummary> s = aegis::core::DecodeSegments(bytes.data(), bytes.size(), block);
    uint64_t total = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      total += s[i].count;
      if (s[i].count == 0 || s[i].ts_min > s[i].ts_max) std::abort();
      if (i > 0 && s[i].ts_min <= s[i - 1].ts_max) std::abort();
    }
    if (s.empty() || total != block.count || s.front().ts_min != block.ts_min || s.back().ts_max != block.ts_max)
      std::abort();
  } catch (const aegis::core::Error& e) {
    if (e.category() != aegis::core::ErrorCategory::DataCorrupted) std::abort();
  }
  return 0;
}

#else

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SEED_DIR\n", argv[0]);
    return 2;
  }
  int written = 0;
  for (const Timestamp step : {250'000LL, 1'000'000LL, 10'000'000LL, 60'000'000LL})
    for (const Timestamp start : {-5'000'000'007LL, 757'382'400'000'000LL})
      for (const int n : {300, 1000, 3000})
        for (const bool raw : {false, true}) {
          std::vector<Timestamp> ts;
          std::vector<double> values;
          for (int i = 0; i < n; ++i) {
            ts.push_back(start + i * step);
            values.push_back(raw ? i * 0.1 + 1e-9 : (i % 97) * 0.25);
          }
          const std::vector<uint8_t> bytes = aegis::core::EncodeSegments(ts.data(), values.data(), ts.size());
          if (bytes.empty()) continue;
          const BlockSummary block = aegis::core::SummarizePoints(ts.data(), values.data(), ts.size());
          std::string input(20, '\0');
          const uint32_t count = block.count;
          std::memcpy(&input[0], &count, 4);
          std::memcpy(&input[4], &block.ts_min, 8);
          std::memcpy(&input[12], &block.ts_max, 8);
          input.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
          const std::string path = std::string(argv[1]) + "/segments-" + std::to_string(written++);
          FILE* f = std::fopen(path.c_str(), "wb");
          if (f == nullptr || std::fwrite(input.data(), 1, input.size(), f) != input.size() || std::fclose(f) != 0) {
            std::fprintf(stderr, "cannot write %s\n", path.c_str());
            return 1;
          }
        }
  std::printf("%d segment seeds\n", written);
  return 0;
}

#endif
