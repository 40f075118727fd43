// libFuzzer target for DecodeBlock. Each input is decoded twice: as given (so
// header and checksum checks are fuzzed) and with bytes 12-15 rewritten to the
// correct CRC-32C (so the bit-stream decoder behind the checksum is reached).
// A decode must either throw Error(DataCorrupted) or return points that
// re-encode into a block decoding to the same points, bit for bit; anything
// else aborts. Built with -DAEGIS_FUZZ_SEED_MAIN instead of -fsanitize=fuzzer,
// the file is a small program that writes a seed corpus of valid blocks.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/block_codec.h"
#include "core/error.h"

namespace {

using aegis::core::Error;
using aegis::core::ErrorCategory;
using aegis::core::Timestamp;

// Aborts with a message: the fuzzer reports it as a crash.
[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "block_decode_fuzz: %s\n", what);
  std::abort();
}

// Decodes `block`; on success checks the re-encode round trip.
void DecodeAndCheck(const std::vector<uint8_t>& block) {
  std::vector<Timestamp> ts;
  std::vector<double> values;
  try {
    aegis::core::DecodeBlock(block.data(), block.size(), &ts, &values);
  } catch (const Error& e) {
    if (e.category() != ErrorCategory::DataCorrupted) Fail("decode error with a category other than DataCorrupted");
    if (!ts.empty() || !values.empty()) Fail("outputs not cleared after a decode error");
    return;
  }
  if (ts.empty() || ts.size() != values.size()) Fail("decode returned no points or mismatched vectors");
  const std::vector<uint8_t> again = aegis::core::EncodeBlock(ts.data(), values.data(), ts.size());
  std::vector<Timestamp> ts2;
  std::vector<double> values2;
  aegis::core::DecodeBlock(again.data(), again.size(), &ts2, &values2);
  if (ts != ts2) Fail("timestamps differ after re-encoding");
  if (values.size() != values2.size() ||
      std::memcmp(values.data(), values2.data(), values.size() * sizeof(double)) != 0) {
    Fail("value bits differ after re-encoding");
  }
}

}  // namespace

#ifndef AEGIS_FUZZ_SEED_MAIN

// libFuzzer entry point.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> block(data, data + size);  // exact-size copy so ASan sees overreads
  DecodeAndCheck(block);
  if (block.size() >= aegis::core::kBlockHeaderSize) {
    const uint32_t crc = aegis::core::ComputeBlockChecksum(block.data(), block.size());
    for (int i = 0; i < 4; ++i) block[12 + i] = static_cast<uint8_t>(crc >> (8 * i));
    DecodeAndCheck(block);
  }
  return 0;
}

#else

// Writes one seed file.
static void WriteSeed(const std::string& dir, int index, const std::vector<uint8_t>& block) {
  const std::string path = dir + "/seed-" + std::to_string(index) + ".bin";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) Fail("cannot create a seed file");
  std::fwrite(block.data(), 1, block.size(), f);
  std::fclose(f);
}

// Seed generator: valid blocks of every record kind, small enough to mutate.
int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&state]() {  // splitmix64
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  int index = 0;
  const size_t sizes[] = {1, 2, 3, 5, 8, 13, 32, 64, 100};
  for (int shape = 0; shape < 6; ++shape) {
    for (size_t n : sizes) {
      std::vector<Timestamp> ts(n);
      std::vector<double> values(n);
      uint64_t t = next();
      double v = 20.0;
      for (size_t i = 0; i < n; ++i) {
        switch (shape) {
          case 0:  // regular 10 s, constant
            ts[i] = static_cast<Timestamp>(i) * 10000000;
            values[i] = 1.5;
            break;
          case 1:  // jittered, decimal walk
            t += 10000000 + next() % 2000;
            ts[i] = static_cast<Timestamp>(t);
            v += static_cast<double>(static_cast<int>(next() % 21) - 10) / 10.0;
            values[i] = v;
            break;
          case 2:  // anything
            ts[i] = static_cast<Timestamp>(next());
            std::memcpy(&values[i], &t, sizeof(double));
            t = next();
            break;
          case 3:  // extremes and specials
            ts[i] = (i % 2) ? INT64_MAX : INT64_MIN;
            values[i] = (i % 3 == 0) ? 0.1 : (i % 3 == 1) ? -0.3 : -0.0;
            break;
          case 4:  // integers, repeats, steps back
            ts[i] = static_cast<Timestamp>(1000 * (i / 2)) - static_cast<Timestamp>(i % 3);
            values[i] = static_cast<double>(next() % 100);
            break;
          default:  // sparse gaps
            t += (next() % 4 == 0) ? (uint64_t{1} << (next() % 62)) : 60000000;
            ts[i] = static_cast<Timestamp>(t);
            values[i] = static_cast<double>(i % 7) * 0.25;
        }
      }
      const std::vector<uint8_t> block = aegis::core::EncodeBlock(ts.data(), values.data(), n);
      DecodeAndCheck(block);  // every seed must itself be a valid block
      WriteSeed(dir, index++, block);
    }
  }
  std::printf("wrote %d seed blocks to %s\n", index, dir.c_str());
  return 0;
}

#endif
