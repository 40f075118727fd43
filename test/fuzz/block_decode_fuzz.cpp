// libFuzzer target for DecodeBlock. Each input goes through the check in
// block_decode_check.h (shared with the corpus regression test,
// test/unit/fuzz_corpus_test.cpp): decoded as given and with bytes 12-15
// rewritten to the correct CRC-32C, each decode must either throw
// Error(DataCorrupted) with empty outputs or return points that re-encode
// into a block decoding to the same points, bit for bit; anything else
// aborts. Inputs whose header announces more than 100,000 points (up to the
// format's limit of 1,000,000) are skipped before decoding (return 0), so the
// fuzzer does not spend its time filling 16 MB outputs for tiny constant
// blocks.
//
// Built with -DAEGIS_FUZZ_SEED_MAIN instead of -fsanitize=fuzzer, the file is
// a small program that writes a seed corpus of valid blocks: codec 1 (Gorilla)
// blocks, and codec 2 blocks of every value scheme (raw, constant, decimal
// incl. float32-widened values, corrections and NaN, dictionary, run-length,
// split, XOR) forced and as chosen by the encoder, with 1..100 points and
// timestamp exceptions; plus a few small codec 2 blocks of 65,536..100,000
// points whose packed sequences have exceptions at positions needing 4 bytes.
// Every seed is at most a few kilobytes (scripts/fuzz.sh runs with
// -max_len=8192).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "block_decode_check.h"
#include "core/bit_patterns.h"

namespace {

// Aborts with a message: the fuzzer reports it as a crash.
[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "block_decode_fuzz: %s\n", what.c_str());
  std::abort();
}

}  // namespace

#ifndef AEGIS_FUZZ_SEED_MAIN

// libFuzzer entry point.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (aegis::fuzz::SkippedForPointCount(data, size)) return 0;
  const std::string failure = aegis::fuzz::CheckBlockInput(data, size);
  if (!failure.empty()) Fail(failure);
  return 0;
}

#else

namespace {

using aegis::core::BlockCodec;
using aegis::core::Timestamp;
using aegis::core::ValueScheme;

constexpr size_t kMaxSeedBytes = 8192;  // scripts/fuzz.sh's -max_len

// Bit pattern of a double, and back (core/bit_patterns.h).
uint64_t Bits(double v) { return aegis::core::DoubleBits(v); }
double FromBits(uint64_t b) { return aegis::core::BitsToDouble(b); }

// Little-endian u32 at p.
uint32_t Load32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

// splitmix64: deterministic seeds on every machine.
class Random {
 public:
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_ = 0x9E3779B97F4A7C15ull;
};

// Writes distinct valid seeds and counts what they cover.
class SeedWriter {
 public:
  explicit SeedWriter(std::string dir) : dir_(std::move(dir)) {}

  void Add(const std::vector<uint8_t>& block, const char* label) {
    if (block.size() > kMaxSeedBytes) return;  // libFuzzer would truncate it
    if (!written_.insert(block).second) return;
    // Every seed must be a valid block that passes the fuzz check.
    std::vector<Timestamp> ts;
    std::vector<double> values;
    aegis::core::DecodeBlock(block.data(), block.size(), &ts, &values);
    const std::string failure = aegis::fuzz::CheckBlockInput(block.data(), block.size());
    if (!failure.empty()) Fail(std::string("seed ") + label + ": " + failure);
    Tally(block);
    char name[32];
    std::snprintf(name, sizeof(name), "/seed-%04d.bin", index_++);
    const std::string path = dir_ + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) Fail("cannot create " + path);
    if (std::fwrite(block.data(), 1, block.size(), f) != block.size() || std::fclose(f) != 0) {
      Fail("cannot write " + path);
    }
    bytes_ += block.size();
    largest_ = std::max(largest_, block.size());
  }

  void Report() const {
    std::printf("wrote %d seed blocks (%zu bytes, largest %zu) to %s\n", index_, bytes_, largest_, dir_.c_str());
    for (const auto& [what, count] : tally_) std::printf("  %-36s %d\n", what.c_str(), count);
  }

 private:
  // Counts the codec, the top-level value scheme, decimal flags and packed
  // sequences with exceptions at the top level (timestamps, decimal digits).
  void Tally(const std::vector<uint8_t>& block) {
    const uint32_t n = Load32(block.data() + 4);
    if (block[1] == static_cast<uint8_t>(BlockCodec::kGorillaV1)) {
      ++tally_["codec 1"];
      return;
    }
    const aegis::core::BlockBitUsage usage = aegis::core::MeasureBlock(block.data(), block.size());
    ++tally_[std::string("codec 2, ") + aegis::core::ValueSchemeName(usage.value_scheme)];
    const char* positions = n - 1 > 65536 ? " (4-byte positions)" : "";
    // Timestamp section: scheme, first timestamp, then width, base, exceptions.
    if (n > 1 && Load32(block.data() + 16 + 1 + 8 + 1 + 8) != 0) {
      ++tally_[std::string("timestamp exceptions") + positions];
    }
    const size_t at = aegis::core::kBlockHeaderSize + usage.timestamp_bits / 8;
    if (usage.value_scheme == static_cast<uint8_t>(ValueScheme::kDecimal)) {
      const uint8_t flags = block[at + 1];
      if (flags & 1) ++tally_["decimal, deltas"];
      if (flags & 2) ++tally_["decimal, float32"];
      if (flags & 4) ++tally_["decimal, corrections"];
      // Digits (not deltas): width at +3, base, exception count at +12.
      if ((flags & 1) == 0 && Load32(block.data() + at + 3 + 1 + 8) != 0) {
        ++tally_[std::string("decimal digit exceptions") + (n > 65536 ? " (4-byte positions)" : "")];
      }
    }
    if (n > 65536) ++tally_["more than 65,536 points"];
  }

  std::string dir_;
  std::set<std::vector<uint8_t>> written_;
  std::map<std::string, int> tally_;
  int index_ = 0;
  size_t bytes_ = 0;
  size_t largest_ = 0;
};

constexpr int kTimestampShapes = 9;

// Timestamps of shape `shape` (0..kTimestampShapes-1).
std::vector<Timestamp> MakeTimestamps(int shape, size_t n, Random* rng) {
  std::vector<Timestamp> ts(n);
  uint64_t t = rng->Next() >> 8;
  for (size_t i = 0; i < n; ++i) {
    switch (shape) {
      case 0:  // regular 10 s
        ts[i] = static_cast<Timestamp>(i) * 10000000;
        break;
      case 1:  // jittered
        t += 10000000 + rng->Next() % 2000;
        ts[i] = static_cast<Timestamp>(t);
        break;
      case 2:  // anything
        ts[i] = static_cast<Timestamp>(rng->Next());
        break;
      case 3:  // extremes
        ts[i] = (i % 2) ? std::numeric_limits<Timestamp>::max() : std::numeric_limits<Timestamp>::min();
        break;
      case 4:  // repeats, steps back
        ts[i] = static_cast<Timestamp>(1000 * (i / 2)) - static_cast<Timestamp>(i % 3);
        break;
      case 5:  // sparse gaps of any size
        t += (rng->Next() % 4 == 0) ? (uint64_t{1} << (rng->Next() % 62)) : 60000000;
        ts[i] = static_cast<Timestamp>(t);
        break;
      case 6:  // regular 1 min with one irregular gap (a high exception)
        ts[i] = static_cast<Timestamp>(i) * 60000000 + (i >= n / 2 ? 3600000000 : 0);
        break;
      case 7:  // regular 1 s with one repeated timestamp (a low exception)
        ts[i] = static_cast<Timestamp>(i - (i > n / 3 ? 1 : 0)) * 1000000;
        break;
      default:  // decreasing
        ts[i] = 1000000000000 - static_cast<Timestamp>(i) * 1000;
    }
  }
  return ts;
}

constexpr int kValueShapes = 13;

// Values of shape `shape` (0..kValueShapes-1).
std::vector<double> MakeValues(int shape, size_t n, Random* rng) {
  std::vector<double> values(n);
  double walk = 20.0;
  for (size_t i = 0; i < n; ++i) {
    switch (shape) {
      case 0:  // constant
        values[i] = 1.5;
        break;
      case 1:  // decimal walk, one digit after the point
        walk += static_cast<double>(static_cast<int>(rng->Next() % 21) - 10) / 10.0;
        values[i] = walk;
        break;
      case 2:  // any bit pattern
        values[i] = FromBits(rng->Next());
        break;
      case 3: {  // specials
        static const double kSpecials[] = {0.1,
                                           -0.3,
                                           -0.0,
                                           0.0,
                                           std::numeric_limits<double>::quiet_NaN(),
                                           std::numeric_limits<double>::infinity(),
                                           -std::numeric_limits<double>::infinity(),
                                           std::numeric_limits<double>::denorm_min(),
                                           std::numeric_limits<double>::max(),
                                           1e300};
        values[i] = kSpecials[i % (sizeof(kSpecials) / sizeof(kSpecials[0]))];
        break;
      }
      case 4:  // small integers
        values[i] = static_cast<double>(rng->Next() % 100);
        break;
      case 5:  // float32 readings widened to double
        values[i] = static_cast<double>(static_cast<float>(rng->Next() % 5000) * 0.1f);
        break;
      case 6:  // two decimals, every seventh value anything or NaN (corrections)
        if (i % 7 == 3) {
          values[i] = (i % 14 == 3) ? FromBits(rng->Next()) : std::nan("");
        } else {
          values[i] = static_cast<double>(static_cast<int64_t>(rng->Next() % 100000) - 50000) / 100.0;
        }
        break;
      case 7: {  // few distinct values in random order
        static const double kDistinct[] = {12.5, 13.75, -4.0, 1e300};
        values[i] = kDistinct[rng->Next() % 4];
        break;
      }
      case 8:  // runs of ten
        values[i] = static_cast<double>(i / 10) * 0.5 + 3.0;
        break;
      case 9:  // full precision around 1000 (split: few high parts)
        values[i] = 1000.0 + FromBits((rng->Next() >> 12) | 0x3FF0000000000000ull) - 1.0;
        break;
      case 10:  // large digits walking slowly (decimal deltas)
        values[i] = 1e12 + static_cast<double>(i * 3 + rng->Next() % 3) / 100.0;
        break;
      case 11:  // any float32 widened, incl. NaN and infinity patterns
        values[i] = static_cast<double>(
            [](uint32_t b) {
              float f;
              std::memcpy(&f, &b, sizeof(f));
              return f;
            }(static_cast<uint32_t>(rng->Next())));
        break;
      default:  // split with runs in the high parts: few exponents, random mantissas
        values[i] = FromBits((Bits(static_cast<double>(1 << (i / 16 % 4))) & 0xFFF0000000000000ull) |
                             (rng->Next() >> 12));
    }
  }
  return values;
}

const ValueScheme kSchemes[] = {ValueScheme::kRaw,       ValueScheme::kConstant, ValueScheme::kDecimal,
                                ValueScheme::kDictionary, ValueScheme::kRunLength, ValueScheme::kSplit,
                                ValueScheme::kXor};

// Codec 2 with `scheme` forced; nothing when the scheme cannot hold the values.
void AddForced(SeedWriter* seeds, const std::vector<Timestamp>& ts, const std::vector<double>& values,
               ValueScheme scheme, const char* label) {
  std::vector<uint8_t> block;
  try {
    block = aegis::core::EncodeBlockWithScheme(ts.data(), values.data(), ts.size(), scheme);
  } catch (const aegis::core::Error& e) {
    if (e.category() != aegis::core::ErrorCategory::InvalidParameter) throw;
    return;
  }
  seeds->Add(block, label);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  SeedWriter seeds(argv[1]);
  Random rng;
  const size_t sizes[] = {1, 2, 3, 5, 8, 9, 13, 32, 64, 65, 100};
  for (int vshape = 0; vshape < kValueShapes; ++vshape) {
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); ++k) {
      const size_t n = sizes[k];
      const std::vector<Timestamp> ts = MakeTimestamps(static_cast<int>((vshape + k) % kTimestampShapes), n, &rng);
      const std::vector<double> values = MakeValues(vshape, n, &rng);
      seeds.Add(aegis::core::EncodeBlock(ts.data(), values.data(), n, BlockCodec::kGorillaV1), "codec 1");
      seeds.Add(aegis::core::EncodeBlock(ts.data(), values.data(), n, BlockCodec::kAdaptiveV2), "codec 2");
      for (ValueScheme scheme : kSchemes) AddForced(&seeds, ts, values, scheme, "codec 2, forced");
    }
  }
  // Every timestamp shape at a size where packed sequences take exceptions.
  for (int tshape = 0; tshape < kTimestampShapes; ++tshape) {
    const std::vector<Timestamp> ts = MakeTimestamps(tshape, 40, &rng);
    const std::vector<double> values = MakeValues(1, 40, &rng);
    seeds.Add(aegis::core::EncodeBlock(ts.data(), values.data(), 40, BlockCodec::kGorillaV1), "codec 1");
    seeds.Add(aegis::core::EncodeBlock(ts.data(), values.data(), 40, BlockCodec::kAdaptiveV2), "codec 2");
  }
  // Large, small-in-bytes blocks around the 2-byte/4-byte exception position
  // boundary (positions take 4 bytes in sequences of more than 65,536): the
  // timestamp deltas hold n - 1 integers, a value column n.
  for (size_t n : {size_t{65536}, size_t{65537}, size_t{65538}, size_t{100000}}) {
    const std::vector<Timestamp> ts = MakeTimestamps(6, n, &rng);  // one irregular gap
    std::vector<double> values(n, 1.5);
    seeds.Add(aegis::core::EncodeBlock(ts.data(), values.data(), n), "large constant");
    values[n - 2] = 2.5;  // one outlier: an exception in digits or indices
    seeds.Add(aegis::core::EncodeBlock(ts.data(), values.data(), n), "large outlier");
    for (ValueScheme scheme : {ValueScheme::kDecimal, ValueScheme::kDictionary, ValueScheme::kRunLength}) {
      AddForced(&seeds, ts, values, scheme, "large outlier, forced");
    }
  }
  seeds.Report();
  return 0;
}

#endif
