// Tests of block format v1 (src/core/block_codec.h): exact header layout,
// bit-exact round trips of adversarial and random points, an independent
// bit-by-bit reference decoder written from docs/block-format.md, corruption
// handling, summaries, CRC-32C, and compression on the real data files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/bit_stream.h"
#include "core/bit_patterns.h"
#include "core/block_codec.h"
#include "core/crc32c.h"
#include "core/error.h"
#include "core/types.h"
#include "data_files.h"

namespace aegis::core {
namespace {

constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// Bit pattern of a double, and back (core/bit_patterns.h).
uint64_t Bits(double v) { return DoubleBits(v); }
double FromBits(uint64_t b) { return BitsToDouble(b); }

// Decoded contents of a block.
struct Points {
  std::vector<Timestamp> ts;
  std::vector<double> values;
};

// Counts of each kind of record a block holds, from the reference decoder.
struct RecordStats {
  size_t dod_buckets[6] = {0, 0, 0, 0, 0, 0};
  size_t value_same = 0;
  size_t value_reuse = 0;
  size_t value_new_window = 0;
  size_t new_window_length_64 = 0;  // '11' records whose length field is 63
  size_t reuse_length_64 = 0;       // '10' records carrying 64 bits
};

// Reads single bits, most significant first, with a hard bounds check.
class SlowBitReader {
 public:
  SlowBitReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint64_t Read(unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i) {
      if (pos_ >= size_ * 8) throw std::runtime_error("reference decoder: stream ends early");
      const unsigned bit = (data_[pos_ / 8] >> (7 - pos_ % 8)) & 1u;
      v = (v << 1) | bit;
      ++pos_;
    }
    return v;
  }
  size_t pos() const { return pos_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Reference decoder written from docs/block-format.md, one bit at a time and
// with no code shared with the real decoder. Assumes a valid block.
Points ReferenceDecode(const std::vector<uint8_t>& block, RecordStats* stats) {
  if (block.size() < 16) throw std::runtime_error("reference decoder: short block");
  auto u32 = [&](size_t at) {
    return uint32_t{block[at]} | uint32_t{block[at + 1]} << 8 | uint32_t{block[at + 2]} << 16 |
           uint32_t{block[at + 3]} << 24;
  };
  const uint32_t count = u32(4);
  const uint32_t payload = u32(8);
  if (block[0] != 1 || block[1] != 1 || block[2] != 0 || block[3] != 0 || 16 + size_t{payload} != block.size()) {
    throw std::runtime_error("reference decoder: bad header");
  }
  SlowBitReader r(block.data() + 16, payload);
  Points p;
  // Timestamps: raw, then zigzag delta-of-delta in buckets 0/8/16/24/40/64 bits.
  const unsigned bucket_bits[6] = {0, 8, 16, 24, 40, 64};
  uint64_t t = r.Read(64);
  p.ts.push_back(static_cast<int64_t>(t));
  uint64_t delta = 0;
  for (uint32_t i = 1; i < count; ++i) {
    unsigned ones = 0;
    while (ones < 5 && r.Read(1) == 1) ++ones;
    uint64_t z = 0;
    if (ones == 5) {
      z = r.Read(64);
    } else if (ones > 0) {
      uint64_t base = 1;
      for (unsigned k = 1; k < ones; ++k) base += uint64_t{1} << bucket_bits[k];
      z = base + r.Read(bucket_bits[ones]);
    }
    if (stats) ++stats->dod_buckets[ones];
    const uint64_t dod = (z & 1) ? ~(z >> 1) : (z >> 1);
    delta += dod;
    t += delta;
    p.ts.push_back(static_cast<int64_t>(t));
  }
  // Values: raw, then '0' | '10' + window bits | '11' + 5 + 6 + bits.
  uint64_t v = r.Read(64);
  p.values.push_back(FromBits(v));
  unsigned leading = 0, length = 64;
  for (uint32_t i = 1; i < count; ++i) {
    if (r.Read(1) == 0) {
      if (stats) ++stats->value_same;
    } else if (r.Read(1) == 0) {
      if (stats) ++stats->value_reuse;
      if (stats && length == 64) ++stats->reuse_length_64;
      v ^= r.Read(length) << (64 - leading - length);
    } else {
      leading = static_cast<unsigned>(r.Read(5));
      length = static_cast<unsigned>(r.Read(6)) + 1;
      if (leading + length > 64) throw std::runtime_error("reference decoder: window over 64 bits");
      if (stats) ++stats->value_new_window;
      if (stats && length == 64) ++stats->new_window_length_64;
      v ^= r.Read(length) << (64 - leading - length);
    }
    p.values.push_back(FromBits(v));
  }
  if (payload * size_t{8} - r.pos() >= 8 || r.Read(payload * size_t{8} - r.pos()) != 0) {
    throw std::runtime_error("reference decoder: bad padding");
  }
  return p;
}

// Expects two value sequences to hold the same bit patterns.
void ExpectSameBits(const std::vector<double>& expected, const std::vector<double>& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(Bits(expected[i]), Bits(actual[i])) << "value " << i << " expected " << expected[i] << " got "
                                                  << actual[i];
  }
}

// The next timestamp after t (t itself at the largest).
Timestamp JustAfter(Timestamp t) { return t == std::numeric_limits<Timestamp>::max() ? t : t + 1; }

// Encodes, decodes with DecodeBlock and the reference decoder, and checks both
// return exactly the input; returns the block.
std::vector<uint8_t> RoundTrip(const std::vector<Timestamp>& ts, const std::vector<double>& values,
                               RecordStats* stats = nullptr) {
  EXPECT_EQ(ts.size(), values.size());
  std::vector<uint8_t> block = EncodeBlock(ts.data(), values.data(), ts.size(), BlockCodec::kGorillaV1);
  std::vector<Timestamp> ts_out{123};
  std::vector<double> values_out{4.5, 6.7};
  DecodeBlock(block.data(), block.size(), &ts_out, &values_out);
  EXPECT_EQ(ts, ts_out);
  ExpectSameBits(values, values_out);
  const Points ref = ReferenceDecode(block, stats);
  EXPECT_EQ(ts, ref.ts);
  ExpectSameBits(values, ref.values);
  // A prefix: the points before `until`, and the block's count (stored
  // blocks hold rising timestamps; a prefix means nothing otherwise).
  if (!ts.empty() && std::is_sorted(ts.begin(), ts.end())) {
    for (Timestamp until : {ts.front(), JustAfter(ts[ts.size() / 2]), JustAfter(ts.back())}) {
      const size_t kept = until == kTimestampInfinity
                              ? ts.size()
                              : static_cast<size_t>(std::lower_bound(ts.begin(), ts.end(), until) - ts.begin());
      std::vector<Timestamp> ts_prefix;
      std::vector<double> values_prefix;
      EXPECT_EQ(DecodeBlockBefore(block.data(), block.size(), until, &ts_prefix, &values_prefix), ts.size());
      EXPECT_EQ(std::vector<Timestamp>(ts.begin(), ts.begin() + static_cast<std::ptrdiff_t>(kept)), ts_prefix);
      ExpectSameBits(std::vector<double>(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(kept)),
                     values_prefix);
    }
  }
  return block;
}

// Checks that decoding `block` throws Error(DataCorrupted) whose message
// contains `message_part`; returns the message.
std::string ExpectCorrupt(const std::vector<uint8_t>& block, const std::string& message_part = "") {
  std::vector<Timestamp> ts;
  std::vector<double> values;
  try {
    DecodeBlock(block.data(), block.size(), &ts, &values);
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::DataCorrupted) << e.what();
    EXPECT_NE(std::string(e.what()).find(message_part), std::string::npos)
        << "message \"" << e.what() << "\" lacks \"" << message_part << "\"";
    EXPECT_TRUE(ts.empty());
    EXPECT_TRUE(values.empty());
    return std::string(e.what()) + " | " + e.detail();
  }
  ADD_FAILURE() << "decoding a corrupt block succeeded (" << block.size() << " bytes)";
  return {};
}

// Rewrites bytes 12-15 so the checksum matches the (edited) block.
void FixChecksum(std::vector<uint8_t>* block) {
  const uint32_t crc = ComputeBlockChecksum(block->data(), block->size());
  for (int i = 0; i < 4; ++i) (*block)[12 + i] = static_cast<uint8_t>(crc >> (8 * i));
}

// Writes a u32 little-endian at `at`.
void PutU32(std::vector<uint8_t>* block, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*block)[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

// Builds a block around a hand-written payload, with a correct checksum.
std::vector<uint8_t> MakeBlock(uint32_t count, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> block(16, 0);
  block[0] = 1;
  block[1] = 1;
  PutU32(&block, 4, count);
  PutU32(&block, 8, static_cast<uint32_t>(payload.size()));
  block.insert(block.end(), payload.begin(), payload.end());
  FixChecksum(&block);
  return block;
}

// Timestamps spaced `step` apart from `start`.
std::vector<Timestamp> Regular(Timestamp start, int64_t step, size_t n) {
  std::vector<Timestamp> ts(n);
  for (size_t i = 0; i < n; ++i) ts[i] = start + static_cast<int64_t>(i) * step;
  return ts;
}

// Special doubles: every class of IEEE value, including NaN payloads.
std::vector<double> SpecialDoubles() {
  return {
      0.0,
      -0.0,
      std::numeric_limits<double>::infinity(),
      -std::numeric_limits<double>::infinity(),
      std::numeric_limits<double>::quiet_NaN(),
      -std::numeric_limits<double>::quiet_NaN(),
      FromBits(0x7FF8000000000001ull),  // quiet NaN with payload
      FromBits(0xFFF8DEADBEEF0001ull),  // negative quiet NaN with payload
      FromBits(0x7FF0000000000001ull),  // signalling NaN, smallest payload
      FromBits(0x7FF4000000000000ull),  // signalling NaN
      FromBits(0xFFF0000000000001ull),  // negative signalling NaN
      FromBits(0x7FFFFFFFFFFFFFFFull),  // all-ones NaN
      FromBits(0xFFFFFFFFFFFFFFFFull),
      std::numeric_limits<double>::denorm_min(),
      -std::numeric_limits<double>::denorm_min(),
      FromBits(0x000FFFFFFFFFFFFFull),  // largest subnormal
      FromBits(0x800FFFFFFFFFFFFFull),
      DBL_MIN,
      -DBL_MIN,
      DBL_MAX,
      -DBL_MAX,
      DBL_EPSILON,
      1.0,
      -1.0,
      0.1,
      -0.3,
      FromBits(0x8000000000000001ull),
      FromBits(0x0000000000000001ull),
      FromBits(0x8000000000000000ull),
      FromBits(0x7FEFFFFFFFFFFFFFull),
  };
}

// ---------------------------------------------------------------- CRC-32C

// Bit-at-a-time CRC-32C, the definition the fast one must match.
uint32_t SlowCrc32c(const uint8_t* data, size_t size) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int b = 0; b < 8; ++b) crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78u : 0u);
  }
  return ~crc;
}

TEST(BlockCodecCrc32c, KnownVectors) {
  const std::string check = "123456789";
  EXPECT_EQ(Crc32c(reinterpret_cast<const uint8_t*>(check.data()), check.size()), 0xE3069283u);
  EXPECT_EQ(Crc32c(nullptr, 0), 0u);
  // RFC 3720 (iSCSI) appendix B.4 test vectors.
  std::vector<uint8_t> buf(32, 0x00);
  EXPECT_EQ(Crc32c(buf.data(), buf.size()), 0x8A9136AAu);
  std::fill(buf.begin(), buf.end(), 0xFF);
  EXPECT_EQ(Crc32c(buf.data(), buf.size()), 0x62A8AB43u);
  for (size_t i = 0; i < 32; ++i) buf[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(Crc32c(buf.data(), buf.size()), 0x46DD794Eu);
  for (size_t i = 0; i < 32; ++i) buf[i] = static_cast<uint8_t>(31 - i);
  EXPECT_EQ(Crc32c(buf.data(), buf.size()), 0x113FDB5Cu);
}

TEST(BlockCodecCrc32c, MatchesBitwiseDefinitionAndChains) {
  std::mt19937_64 rng(7);
  std::vector<uint8_t> buf(300);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t len = 0; len + offset <= buf.size(); len += 1 + len / 8) {
      const uint8_t* p = buf.data() + offset;
      ASSERT_EQ(Crc32c(p, len), SlowCrc32c(p, len)) << "offset " << offset << " len " << len;
      const size_t cut = len / 3;
      ASSERT_EQ(Crc32c(p + cut, len - cut, Crc32c(p, cut)), Crc32c(p, len));
    }
  }
}

// Lengths around the hardware path's three-stripe rounds (3 x 128 bytes),
// at every alignment, and chained at a cut inside a round.
TEST(BlockCodecCrc32c, MatchesAcrossStripes) {
  std::mt19937_64 rng(11);
  std::vector<uint8_t> buf(4200);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t len : {383u, 384u, 385u, 767u, 768u, 769u, 1151u, 1152u, 3722u, 4080u, 4191u}) {
      const uint8_t* p = buf.data() + offset;
      ASSERT_EQ(Crc32c(p, len), SlowCrc32c(p, len)) << "offset " << offset << " len " << len;
      ASSERT_EQ(Crc32c(p, len), Crc32cPortable(p, len)) << "offset " << offset << " len " << len;
      const size_t cut = std::min<size_t>(500, len / 2);
      ASSERT_EQ(Crc32c(p + cut, len - cut, Crc32c(p, cut)), Crc32c(p, len));
    }
  }
  std::vector<uint8_t> zeros(1000, 0), ones(1000, 0xFF);
  EXPECT_EQ(Crc32c(zeros.data(), zeros.size()), SlowCrc32c(zeros.data(), zeros.size()));
  EXPECT_EQ(Crc32c(ones.data(), ones.size()), SlowCrc32c(ones.data(), ones.size()));
}

// ---------------------------------------------------------------- header

TEST(BlockCodecHeader, ExactLayout) {
  const std::vector<Timestamp> ts = {1000, 2000, 3000};
  const std::vector<double> values = {1.5, 1.5, 1.75};
  const std::vector<uint8_t> block = RoundTrip(ts, values);
  ASSERT_GE(block.size(), kBlockHeaderSize);
  EXPECT_EQ(kBlockHeaderSize, 16u);
  EXPECT_EQ(block[0], kBlockFormatVersion);
  EXPECT_EQ(block[1], 1);
  EXPECT_EQ(block[2], 0);
  EXPECT_EQ(block[3], 0);
  EXPECT_EQ(block[4], 3);
  EXPECT_EQ(block[5], 0);
  EXPECT_EQ(block[6], 0);
  EXPECT_EQ(block[7], 0);
  const uint32_t payload = static_cast<uint32_t>(block.size() - 16);
  EXPECT_EQ(uint32_t{block[8]} | uint32_t{block[9]} << 8 | uint32_t{block[10]} << 16 | uint32_t{block[11]} << 24,
            payload);
  std::vector<uint8_t> covered(block.begin(), block.begin() + 12);
  covered.insert(covered.end(), block.begin() + 16, block.end());
  const uint32_t crc = Crc32c(covered.data(), covered.size());
  EXPECT_EQ(uint32_t{block[12]} | uint32_t{block[13]} << 8 | uint32_t{block[14]} << 16 | uint32_t{block[15]} << 24,
            crc);

  const BlockHeader header = ReadBlockHeader(block.data(), block.size());
  EXPECT_EQ(header.version, 1);
  EXPECT_EQ(header.codec, BlockCodec::kGorillaV1);
  EXPECT_EQ(header.count, 3u);
  EXPECT_EQ(header.payload_size, payload);
  EXPECT_EQ(header.checksum, crc);

  // Payload: ts 1000 raw; first delta 1000 -> z 2000 -> '110' + (2000-257) in
  // 16 bits; dod 0 -> '0'; value 1.5 raw; '0'; XOR(1.5, 1.75) = 0x0004000000000000 ->
  // leading 13, trailing 50, length 1: '11' 01101 000000 '1'. Total 64+19+1+64+1+14 = 163
  // bits -> 21 bytes.
  EXPECT_EQ(payload, 21u);
}

TEST(BlockCodecHeader, HandWrittenPayloadDecodes) {
  // Two points (ts 5, 5) and (0.1, -0.3) with the 64-bit XOR spelled as a new
  // window: '11' + leading 00000 + length-1 111111 + 64 bits.
  std::vector<uint8_t> payload;
  BitWriter writer(&payload);
  writer.Write(5, 64);                      // first timestamp
  writer.Write(0, 1);                       // dod 0 (delta 0)
  writer.Write(Bits(0.1), 64);              // first value
  writer.Write(0b11, 2);                    // new window
  writer.Write(0, 5);                       // leading 0
  writer.Write(63, 6);                      // length 64
  writer.Write(Bits(0.1) ^ Bits(-0.3), 64);  // all 64 bits meaningful
  writer.Finish();
  const std::vector<uint8_t> block = MakeBlock(2, payload);
  std::vector<Timestamp> ts;
  std::vector<double> values;
  DecodeBlock(block.data(), block.size(), &ts, &values);
  EXPECT_EQ(ts, (std::vector<Timestamp>{5, 5}));
  ExpectSameBits({0.1, -0.3}, values);
}

// ---------------------------------------------------------------- encoder input

TEST(BlockCodecEncode, RejectsBadPointCounts) {
  const Timestamp t = 0;
  const double v = 0;
  for (size_t n : {size_t{0}, size_t{kMaxBlockPoints} + 1}) {
    try {
      EncodeBlock(&t, &v, n, BlockCodec::kGorillaV1);
      ADD_FAILURE() << "n = " << n << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::InvalidParameter);
    }
  }
}

TEST(BlockCodecEncode, MaximumBlockRoundTrips) {
  std::mt19937_64 rng(99);
  std::vector<Timestamp> ts = Regular(0, 1000, kMaxBlockPoints);
  std::vector<double> values(kMaxBlockPoints);
  for (auto& v : values) v = FromBits(rng());
  const std::vector<uint8_t> block = EncodeBlock(ts.data(), values.data(), ts.size(), BlockCodec::kGorillaV1);
  std::vector<Timestamp> ts_out;
  std::vector<double> values_out;
  DecodeBlock(block.data(), block.size(), &ts_out, &values_out);
  EXPECT_EQ(ts, ts_out);
  ExpectSameBits(values, values_out);
}

// ---------------------------------------------------------------- values

TEST(BlockCodecValues, AllMeaningfulBitsXor) {
  // 0.1 -> -0.3 flips the sign bit and the lowest bit: 64 meaningful bits, the
  // case the previous engine corrupted by storing 64 in a 6-bit field.
  ASSERT_EQ(__builtin_clzll(Bits(0.1) ^ Bits(-0.3)), 0);
  ASSERT_EQ(__builtin_ctzll(Bits(0.1) ^ Bits(-0.3)), 0);
  RecordStats two;
  RoundTrip({0, 10}, {0.1, -0.3}, &two);
  EXPECT_EQ(two.value_reuse + two.value_new_window, 1u);

  // Forced through a '11' record: a narrow window first, then the 64-bit XOR.
  RecordStats four;
  RoundTrip({0, 10, 20, 30, 40}, {1.0, 1.5, 0.1, -0.3, 0.1}, &four);
  EXPECT_GE(four.new_window_length_64, 1u);

  // Many 64-bit XORs in a row, and mixed with narrow ones.
  std::vector<double> values;
  for (int i = 0; i < 500; ++i) {
    values.push_back(i % 2 ? -0.3 : 0.1);
    if (i % 7 == 0) values.push_back(1.0);
    if (i % 11 == 0) values.push_back(FromBits(0xFFFFFFFFFFFFFFFFull));
    if (i % 13 == 0) values.push_back(FromBits(0));
  }
  RecordStats many;
  RoundTrip(Regular(0, 1, values.size()), values, &many);
  EXPECT_GE(many.new_window_length_64 + many.reuse_length_64, 400u);
}

TEST(BlockCodecValues, SpecialDoublesRoundTripBitExact) {
  const std::vector<double> specials = SpecialDoubles();
  // Each special after each special (every pair as neighbours).
  std::vector<double> values;
  for (double a : specials) {
    for (double b : specials) {
      values.push_back(a);
      values.push_back(b);
    }
  }
  RoundTrip(Regular(0, 1000000, values.size()), values);
  // Each alone, and each repeated.
  for (double v : specials) {
    RoundTrip({42}, {v});
    RoundTrip(Regular(-5, 1, 3), {v, v, v});
  }
  // -0.0 and 0.0 keep their sign bits.
  const std::vector<uint8_t> block = RoundTrip({1, 2, 3, 4}, {0.0, -0.0, 0.0, -0.0});
  std::vector<Timestamp> ts;
  std::vector<double> out;
  DecodeBlock(block.data(), block.size(), &ts, &out);
  EXPECT_EQ(Bits(out[0]), 0u);
  EXPECT_EQ(Bits(out[1]), 0x8000000000000000ull);
}

TEST(BlockCodecValues, ConstantSeriesCostsOneBitPerValue) {
  for (double v : {0.0, -0.0, 42.5, std::numeric_limits<double>::quiet_NaN(), DBL_MAX}) {
    const std::vector<uint8_t> block = RoundTrip(Regular(0, 10 * kMicrosPerSecond, 1000), std::vector<double>(1000, v));
    const BlockBitUsage usage = MeasureBlock(block.data(), block.size());
    EXPECT_EQ(usage.value_bits, 64u + 999u);
  }
}

// ---------------------------------------------------------------- timestamps

TEST(BlockCodecTimestamps, RegularTenSecondsCostUnderTwoBits) {
  for (Timestamp start : {Timestamp{0}, Timestamp{-946684800LL * kMicrosPerSecond}, Timestamp{789456123456789}}) {
    const std::vector<Timestamp> ts = Regular(start, 10 * kMicrosPerSecond, 1000);
    const std::vector<uint8_t> block = RoundTrip(ts, std::vector<double>(1000, 1.0));
    const BlockBitUsage usage = MeasureBlock(block.data(), block.size());
    EXPECT_LT(static_cast<double>(usage.timestamp_bits) / 1000.0, 2.0);
    std::cout << "[ info     ] regular 10 s timestamps from " << start << ": "
              << static_cast<double>(usage.timestamp_bits) / 1000.0 << " bits/timestamp\n";
  }
}

TEST(BlockCodecTimestamps, RepeatedDecreasingAndUnsorted) {
  const std::vector<double> v3 = {1, 2, 3};
  RoundTrip({7, 7, 7}, v3);
  RoundTrip({3, 2, 1}, v3);
  RoundTrip(std::vector<Timestamp>(1000, -1), std::vector<double>(1000, 0.5));
  std::vector<Timestamp> decreasing = Regular(1000000000, -10 * kMicrosPerSecond, 1000);
  RoundTrip(decreasing, std::vector<double>(1000, 2.0));
  std::vector<Timestamp> zigzag;
  for (int i = 0; i < 1000; ++i) zigzag.push_back(i % 2 ? -i * 1000003LL : i * 999983LL);
  RoundTrip(zigzag, std::vector<double>(1000, 3.0));
}

TEST(BlockCodecTimestamps, HugeGapsAndInt64Extremes) {
  // Year -4000 to year 200000 and back, in microseconds since 2000.
  const Timestamp year_minus_4000 = -6000LL * 31556952LL * kMicrosPerSecond;
  const Timestamp year_200000 = 198000LL * 31556952LL * kMicrosPerSecond;
  RoundTrip({year_minus_4000, year_200000, year_minus_4000, year_200000, 0}, {1, 2, 3, 4, 5});
  // int64 extremes: PostgreSQL's infinities are still valid codec input.
  const std::vector<Timestamp> extremes = {kInt64Min, kInt64Max, kInt64Min, kInt64Min, kInt64Max, kInt64Max,
                                           0,         kInt64Min, -1,        kInt64Max, 1,         kInt64Min + 1,
                                           kInt64Max - 1, kInt64Min, kTimestampInfinity, kTimestampMinusInfinity};
  RoundTrip(extremes, std::vector<double>(extremes.size(), 1.0));
  RoundTrip({kInt64Max}, {1.0});
  RoundTrip({kInt64Min}, {1.0});
  // Every pair of extremes.
  const std::vector<Timestamp> edges = {kInt64Min, kInt64Min + 1, -1, 0, 1, kInt64Max - 1, kInt64Max,
                                        kInt64Min / 2, kInt64Max / 2};
  std::vector<Timestamp> pairs;
  for (Timestamp a : edges) {
    for (Timestamp b : edges) {
      pairs.push_back(a);
      pairs.push_back(b);
    }
  }
  RoundTrip(pairs, std::vector<double>(pairs.size(), 0.0));
}

TEST(BlockCodecTimestamps, BeforeNineteenSeventyAndTwoThousand) {
  const Timestamp y1900 = -3155673600LL * kMicrosPerSecond;  // 1900-01-01, before 1970 and 2000
  const Timestamp y1969 = -946771200LL * kMicrosPerSecond;   // 1969-12-31, before the Unix epoch
  RoundTrip(Regular(y1900, kMicrosPerDay, 1000), std::vector<double>(1000, 20.5));
  RoundTrip(Regular(y1969, 3600 * kMicrosPerSecond, 1000), std::vector<double>(1000, -3.25));
  RoundTrip(Regular(-1500, 1, 3000), std::vector<double>(3000, 7.0));  // crosses 2000-01-01
}

TEST(BlockCodecTimestamps, EveryBucketBoundary) {
  // Delta-of-delta values around each bucket edge, both signs.
  std::vector<int64_t> dods = {0, 1, -1};
  const int64_t edges[] = {128, 129, 32896, 32897, 8421504, 8421505, 549764235392LL, 549764235393LL};
  for (int64_t e : edges) {
    for (int64_t d = -2; d <= 2; ++d) {
      dods.push_back(e + d);
      dods.push_back(-(e + d));
    }
  }
  dods.push_back(kInt64Max);
  dods.push_back(kInt64Min);
  std::vector<Timestamp> ts = {0, 0};
  uint64_t t = 0, delta = 0;
  for (int64_t dod : dods) {
    delta += static_cast<uint64_t>(dod);
    t += delta;
    ts.push_back(static_cast<int64_t>(t));
  }
  RecordStats stats;
  RoundTrip(ts, std::vector<double>(ts.size(), 1.0), &stats);
  for (int b = 0; b < 6; ++b) EXPECT_GT(stats.dod_buckets[b], 0u) << "bucket " << b << " unused";
}

// ---------------------------------------------------------------- random round trips

// Random timestamps in one of several shapes.
std::vector<Timestamp> RandomTimestamps(std::mt19937_64& rng, size_t n) {
  std::vector<Timestamp> ts(n);
  const int shape = static_cast<int>(rng() % 5);
  const int64_t steps[] = {1, 1000, kMicrosPerSecond, 10 * kMicrosPerSecond, 3600 * kMicrosPerSecond};
  const int64_t step = steps[rng() % 5];
  const int64_t jitter = static_cast<int64_t>(rng() % 4 == 0 ? 0 : (uint64_t{1} << (rng() % 40)));
  uint64_t t = rng();
  for (size_t i = 0; i < n; ++i) {
    switch (shape) {
      case 0:  // any 64-bit pattern
        ts[i] = static_cast<int64_t>(rng());
        break;
      case 1: {  // int64 edges and small values
        const int64_t pool[] = {kInt64Min, kInt64Max, 0, -1, 1, kInt64Min + 1, kInt64Max - 1};
        ts[i] = pool[rng() % 7];
        break;
      }
      default: {  // regular with jitter, gaps, repeats and steps back
        uint64_t d = static_cast<uint64_t>(step);
        if (jitter != 0) d += rng() % static_cast<uint64_t>(jitter) - static_cast<uint64_t>(jitter / 2);
        if (rng() % 50 == 0) d *= 1 + rng() % 1000;
        if (rng() % 80 == 0) d = 0;
        if (rng() % 100 == 0) d = 0 - d;
        t += d;
        ts[i] = static_cast<int64_t>(t);
      }
    }
  }
  return ts;
}

// Random values in one of several shapes.
std::vector<double> RandomValues(std::mt19937_64& rng, size_t n) {
  std::vector<double> values(n);
  const int shape = static_cast<int>(rng() % 6);
  const std::vector<double> specials = SpecialDoubles();
  double walk = static_cast<double>(static_cast<int64_t>(rng() % 2000)) - 1000.0;
  for (size_t i = 0; i < n; ++i) {
    switch (shape) {
      case 0:
        values[i] = FromBits(rng());
        break;
      case 1:
        values[i] = specials[rng() % specials.size()];
        break;
      case 2:  // decimals
        walk += static_cast<double>(static_cast<int64_t>(rng() % 201) - 100) / 100.0;
        values[i] = walk;
        break;
      case 3:  // integers
        values[i] = static_cast<double>(rng() % 20000);
        break;
      case 4:  // few distinct values
        values[i] = static_cast<double>(rng() % 4) * 0.1;
        break;
      default:  // mostly smooth, sometimes special
        walk += std::ldexp(static_cast<double>(rng() % 1000), -static_cast<int>(rng() % 60));
        values[i] = rng() % 40 == 0 ? specials[rng() % specials.size()] : walk;
    }
  }
  return values;
}

TEST(BlockCodecRoundTrip, RandomManySeeds) {
  size_t total_points = 0;
  for (uint64_t seed = 1; seed <= 400; ++seed) {
    std::mt19937_64 rng(seed);
    size_t n = 1 + rng() % 2000;
    if (seed <= 64) n = static_cast<size_t>(seed);  // every small size
    const std::vector<Timestamp> ts = RandomTimestamps(rng, n);
    const std::vector<double> values = RandomValues(rng, n);
    SCOPED_TRACE("seed " + std::to_string(seed) + ", n " + std::to_string(n));
    RoundTrip(ts, values);
    if (HasFatalFailure()) return;
    total_points += n;
  }
  EXPECT_GT(total_points, 100000u);
}

TEST(BlockCodecRoundTrip, OneAndOneThousandPoints) {
  RoundTrip({0}, {0.0});
  RoundTrip({kInt64Min}, {FromBits(0xFFF0000000000001ull)});
  std::mt19937_64 rng(1000);
  RoundTrip(RandomTimestamps(rng, 1000), RandomValues(rng, 1000));
  RoundTrip(Regular(0, 60 * kMicrosPerSecond, 1000), RandomValues(rng, 1000));
}

// ---------------------------------------------------------------- corruption

// A small valid block with every kind of record.
std::vector<uint8_t> SampleBlock() {
  std::vector<Timestamp> ts = {0, 10, 20, 30, 31, 25, 1000000, 1000010, kInt64Max, kInt64Min, 5, 5};
  std::vector<double> values = {1.0, 1.0, 1.5, 0.1, -0.3, 2.0, 2.0, 2.25, -0.0, 0.0,
                                std::numeric_limits<double>::quiet_NaN(), 7.0};
  return EncodeBlock(ts.data(), values.data(), ts.size(), BlockCodec::kGorillaV1);
}

TEST(BlockCodecCorruption, EverySingleBitFlipIsDetected) {
  const std::vector<uint8_t> good = SampleBlock();
  for (size_t bit = 0; bit < good.size() * 8; ++bit) {
    std::vector<uint8_t> bad = good;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    SCOPED_TRACE("bit " + std::to_string(bit));
    ExpectCorrupt(bad);
  }
}

TEST(BlockCodecCorruption, EveryTruncationAndExtensionIsDetected) {
  const std::vector<uint8_t> good = SampleBlock();
  for (size_t len = 0; len < good.size(); ++len) {
    // A copy of exactly `len` bytes, so ASan catches any read past it.
    std::vector<uint8_t> bad(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len));
    SCOPED_TRACE("length " + std::to_string(len));
    ExpectCorrupt(bad);
  }
  for (uint8_t extra : {uint8_t{0}, uint8_t{0xFF}}) {
    std::vector<uint8_t> bad = good;
    bad.push_back(extra);
    EXPECT_NE(ExpectCorrupt(bad, "trailing bytes").find("1 byte follows"), std::string::npos);
  }
}

TEST(BlockCodecCorruption, HeaderErrorsSayWhatIsWrong) {
  const std::vector<uint8_t> good = SampleBlock();
  std::vector<uint8_t> bad = good;
  bad[0] = 2;
  FixChecksum(&bad);
  ExpectCorrupt(bad, "unsupported time-series block format version 2");
  bad = good;
  bad[0] = 0;
  ExpectCorrupt(bad, "format version 0");
  bad = good;
  bad[1] = 7;
  FixChecksum(&bad);
  ExpectCorrupt(bad, "unknown time-series block codec 7");
  bad = good;
  bad[3] = 1;
  FixChecksum(&bad);
  ExpectCorrupt(bad, "header");
  bad = good;
  PutU32(&bad, 4, 0);
  FixChecksum(&bad);
  ExpectCorrupt(bad, "header");
  bad = good;
  PutU32(&bad, 4, kMaxBlockPoints + 1);
  FixChecksum(&bad);
  ExpectCorrupt(bad, "header");
  bad = good;
  PutU32(&bad, 8, static_cast<uint32_t>(good.size() - 16 + 1));
  ExpectCorrupt(bad, "truncated");
  bad = good;
  bad[20] ^= 0x10;
  ExpectCorrupt(bad, "checksum mismatch");
  bad = good;
  bad[12] ^= 0x01;
  ExpectCorrupt(bad, "checksum mismatch");
  // Short blocks that still show a version or codec byte say so first.
  ExpectCorrupt({3}, "version 3");
  ExpectCorrupt({1, 9}, "codec 9");
  ExpectCorrupt({1, 1, 0}, "truncated");
  ExpectCorrupt({}, "truncated");

  try {
    ReadBlockHeader(std::vector<uint8_t>{5, 1}.data(), 2);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::DataCorrupted);
    EXPECT_NE(e.detail().find("version 1"), std::string::npos) << e.detail();
  }
}

TEST(BlockCodecCorruption, HugeCountIsRejectedBeforeAllocating) {
  // A payload of 16 bytes holds one point; a count of a million must fail on
  // the header, not after reserving a million points.
  std::vector<uint8_t> payload(16, 0);
  for (uint32_t count : {2u, 1000u, kMaxBlockPoints, 0xFFFFFFFFu}) {
    ExpectCorrupt(MakeBlock(count, payload), "header");
  }
  // 128 + 2 * (count - 1) bits is the bound: 20 bytes allow 17 points, not 18.
  std::vector<uint8_t> twenty(20, 0);
  ExpectCorrupt(MakeBlock(18, twenty), "header");
  // 17 points of all-zero bits: timestamps 0, values 0, padding 0 -> valid.
  std::vector<Timestamp> ts;
  std::vector<double> values;
  const std::vector<uint8_t> ok = MakeBlock(17, twenty);
  DecodeBlock(ok.data(), ok.size(), &ts, &values);
  EXPECT_EQ(ts, std::vector<Timestamp>(17, 0));
  ExpectSameBits(std::vector<double>(17, 0.0), values);
}

TEST(BlockCodecCorruption, PayloadStructureErrors) {
  // Count one more than encoded: the stream ends early.
  std::vector<uint8_t> block = EncodeBlock(Regular(0, 10, 100).data(), std::vector<double>(100, 3.0).data(), 100, BlockCodec::kGorillaV1);
  PutU32(&block, 4, 101);
  FixChecksum(&block);
  EXPECT_NE(ExpectCorrupt(block, "payload").find("ends before"), std::string::npos);

  // Count one fewer: bits left over (random values, so at least 13 bits).
  std::mt19937_64 rng(5);
  std::vector<double> noisy(100);
  for (auto& v : noisy) v = FromBits(rng());
  block = EncodeBlock(Regular(0, 10, 100).data(), noisy.data(), 100, BlockCodec::kGorillaV1);
  PutU32(&block, 4, 99);
  FixChecksum(&block);
  ExpectCorrupt(block, "payload");

  // An extra zero byte inside the payload (payload length updated).
  block = EncodeBlock(Regular(0, 10, 100).data(), std::vector<double>(100, 3.0).data(), 100, BlockCodec::kGorillaV1);
  block.push_back(0);
  PutU32(&block, 8, static_cast<uint32_t>(block.size() - 16));
  FixChecksum(&block);
  EXPECT_NE(ExpectCorrupt(block, "payload").find("1 byte before the end"), std::string::npos);

  // Nonzero padding: 3 points of constant values use 64+10+1+64+2 = 141 bits,
  // so the last byte has 3 padding bits.
  block = EncodeBlock(Regular(0, 10, 3).data(), std::vector<double>(3, 3.0).data(), 3, BlockCodec::kGorillaV1);
  ASSERT_EQ(block.size(), 16u + 18u);
  for (int bit = 0; bit < 3; ++bit) {
    std::vector<uint8_t> bad = block;
    bad.back() |= static_cast<uint8_t>(1u << bit);
    FixChecksum(&bad);
    EXPECT_NE(ExpectCorrupt(bad, "payload").find("padding"), std::string::npos);
  }

  // A new window whose leading count plus length exceeds 64.
  std::vector<uint8_t> payload;
  BitWriter writer(&payload);
  writer.Write(0, 64);
  writer.Write(0, 1);
  writer.Write(Bits(1.0), 64);
  writer.Write(0b11, 2);
  writer.Write(31, 5);
  writer.Write(63, 6);  // 31 + 64 > 64
  writer.Write(0, 64);
  writer.Finish();
  EXPECT_NE(ExpectCorrupt(MakeBlock(2, payload), "payload").find("over 64"), std::string::npos);
}

TEST(BlockCodecCorruption, RandomMutationsWithValidChecksum) {
  // Mutated payloads re-sealed with a correct checksum exercise the decoder
  // itself: each must decode to something that re-encodes to the same points,
  // or fail with DataCorrupted.
  std::mt19937_64 rng(2024);
  size_t decoded = 0, rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    const size_t n = 1 + rng() % 40;
    std::vector<uint8_t> block = EncodeBlock(RandomTimestamps(rng, n).data(), RandomValues(rng, n).data(), n, BlockCodec::kGorillaV1);
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = 16 + rng() % (block.size() - 16);
      switch (rng() % 3) {
        case 0:
          block[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 1:
          block[at] = static_cast<uint8_t>(rng());
          break;
        default:
          if (block.size() > 17) block.erase(block.begin() + static_cast<std::ptrdiff_t>(at));
      }
    }
    PutU32(&block, 8, static_cast<uint32_t>(block.size() - 16));
    FixChecksum(&block);
    std::vector<Timestamp> ts;
    std::vector<double> values;
    try {
      DecodeBlock(block.data(), block.size(), &ts, &values);
    } catch (const Error& e) {
      ASSERT_EQ(e.category(), ErrorCategory::DataCorrupted) << e.what();
      ++rejected;
      continue;
    }
    ++decoded;
    const std::vector<uint8_t> again = EncodeBlock(ts.data(), values.data(), ts.size(), BlockCodec::kGorillaV1);
    std::vector<Timestamp> ts2;
    std::vector<double> values2;
    DecodeBlock(again.data(), again.size(), &ts2, &values2);
    ASSERT_EQ(ts, ts2);
    ExpectSameBits(values, values2);
  }
  EXPECT_GT(decoded, 0u);
  EXPECT_GT(rejected, 0u);
}

TEST(BlockCodecCorruption, NullOutputsAndInputs) {
  const std::vector<uint8_t> good = SampleBlock();
  std::vector<double> values;
  EXPECT_THROW(DecodeBlock(good.data(), good.size(), nullptr, &values), Error);
  std::vector<Timestamp> ts;
  try {
    DecodeBlock(nullptr, 0, &ts, &values);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::DataCorrupted);
  }
}

// ---------------------------------------------------------------- summaries

TEST(BlockCodecSummary, BasicFields) {
  const std::vector<Timestamp> ts = {30, 10, 20, 10, 30, 5, 40, 40};
  const std::vector<double> values = {1.0, 2.0, 3.0, 4.0, 5.0, -6.0, 7.0, 8.0};
  const BlockSummary s = SummarizePoints(ts.data(), values.data(), ts.size());
  EXPECT_EQ(s.count, 8u);
  EXPECT_EQ(s.ts_min, 5);
  EXPECT_EQ(s.ts_max, 40);
  EXPECT_EQ(s.min, -6.0);
  EXPECT_EQ(s.max, 8.0);
  EXPECT_EQ(s.sum, 24.0);
  EXPECT_EQ(s.first, -6.0);  // value at ts 5
  EXPECT_EQ(s.last, 8.0);    // last of the two points at ts 40
}

TEST(BlockCodecSummary, FirstAndLastWithUnsortedRepeats) {
  // ts_min 1 occurs at indices 1 and 3: first is index 1's value. ts_max 9
  // occurs at 0 and 4: last is index 4's value.
  const std::vector<Timestamp> ts = {9, 1, 5, 1, 9, 3};
  const std::vector<double> values = {10, 11, 12, 13, 14, 15};
  const BlockSummary s = SummarizePoints(ts.data(), values.data(), ts.size());
  EXPECT_EQ(s.first, 11.0);
  EXPECT_EQ(s.last, 14.0);
  // One point: everything is that point.
  const Timestamp t = kInt64Min;
  const double v = -0.0;
  const BlockSummary one = SummarizePoints(&t, &v, 1);
  EXPECT_EQ(one.count, 1u);
  EXPECT_EQ(one.ts_min, kInt64Min);
  EXPECT_EQ(one.ts_max, kInt64Min);
  for (double field : {one.min, one.max, one.sum, one.first, one.last}) EXPECT_EQ(Bits(field), Bits(-0.0));
}

TEST(BlockCodecSummary, NanOrderingAndSignedZeros) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<Timestamp> ts = {1, 2, 3, 4};
  {
    const std::vector<double> values = {1.0, nan, -inf, 2.0};
    const BlockSummary s = SummarizePoints(ts.data(), values.data(), 4);
    EXPECT_TRUE(std::isnan(s.max));  // NaN is above everything
    EXPECT_EQ(s.min, -inf);
    EXPECT_TRUE(std::isnan(s.sum));
  }
  {
    const std::vector<double> values = {nan, nan, nan, nan};
    const BlockSummary s = SummarizePoints(ts.data(), values.data(), 4);
    EXPECT_TRUE(std::isnan(s.min));
    EXPECT_TRUE(std::isnan(s.max));
  }
  {
    const std::vector<double> values = {nan, 5.0, inf, -1.0};
    const BlockSummary s = SummarizePoints(ts.data(), values.data(), 4);
    EXPECT_EQ(s.min, -1.0);
    EXPECT_TRUE(std::isnan(s.max));
  }
  {
    // Ties go to the later value, as PostgreSQL's float8smaller/larger do.
    const std::vector<double> values = {0.0, -0.0, 0.0, -0.0};
    const BlockSummary s = SummarizePoints(ts.data(), values.data(), 4);
    EXPECT_EQ(Bits(s.min), Bits(-0.0));
    EXPECT_EQ(Bits(s.max), Bits(-0.0));
    EXPECT_EQ(Bits(s.sum), Bits(0.0));  // 0 + -0 = +0
    const std::vector<double> negatives = {-0.0, -0.0};
    const BlockSummary z = SummarizePoints(ts.data(), negatives.data(), 2);
    EXPECT_EQ(Bits(z.sum), Bits(-0.0));  // sum starts from the first value
  }
  {
    const std::vector<double> values = {inf, -inf, 1.0, 2.0};
    const BlockSummary s = SummarizePoints(ts.data(), values.data(), 4);
    EXPECT_EQ(s.min, -inf);
    EXPECT_EQ(s.max, inf);
    EXPECT_TRUE(std::isnan(s.sum));
  }
}

TEST(BlockCodecSummary, SumIsLeftToRight) {
  const std::vector<Timestamp> ts = {1, 2, 3};
  const std::vector<double> values = {1e16, 1.0, 1.0};
  const BlockSummary s = SummarizePoints(ts.data(), values.data(), 3);
  EXPECT_EQ(s.sum, (1e16 + 1.0) + 1.0);
  EXPECT_THROW(SummarizePoints(ts.data(), values.data(), 0), Error);
}

// ---------------------------------------------------------------- real data

TEST(BlockCodecRealData, RoundTripAndBitsPerValue) {
  const std::string dir = test_data::DataDir();
  struct File {
    const char* name;
    bool csv;
    size_t expected_points;
  };
  const File files[] = {
      {"machine_temperature_system_failure.csv", true, 22695},
      {"cpu_utilization_asg_misconfiguration.csv", true, 18050},
      {"nyc_taxi.csv", true, 10320},
      {"ETTh1.csv", true, 17420},
      {"city_temperature_f_tw.bin", false, 131072},
      {"nyc29_tw.bin", false, 131072},
  };
  if (!std::ifstream(dir + files[0].name)) GTEST_SKIP() << "data directory " << dir << " is missing";
  for (const File& f : files) {
    test_data::Series p;
    const bool loaded = f.csv ? test_data::LoadCsvColumn(dir + f.name, &p) : test_data::LoadBin(dir + f.name, &p);
    ASSERT_TRUE(loaded) << f.name;
    EXPECT_EQ(p.ts.size(), f.expected_points) << f.name;
    uint64_t ts_bits = 0, value_bits = 0, bytes = 0;
    for (size_t at = 0; at < p.ts.size(); at += 1000) {
      const size_t n = std::min<size_t>(1000, p.ts.size() - at);
      const std::vector<Timestamp> ts(p.ts.begin() + at, p.ts.begin() + at + n);
      const std::vector<double> values(p.values.begin() + at, p.values.begin() + at + n);
      const std::vector<uint8_t> block = RoundTrip(ts, values);
      if (HasFailure()) return;
      const BlockBitUsage usage = MeasureBlock(block.data(), block.size());
      ts_bits += usage.timestamp_bits;
      value_bits += usage.value_bits;
      bytes += block.size();
    }
    const double points = static_cast<double>(p.ts.size());
    char line[256];
    std::snprintf(line, sizeof(line), "%-42s %7zu points  %6.2f bits/value  %5.2f bits/timestamp  %6.2f bytes/point",
                  f.name, p.ts.size(), static_cast<double>(value_bits) / points,
                  static_cast<double>(ts_bits) / points, static_cast<double>(bytes) / points);
    std::cout << "[ info     ] " << line << "\n";
    char value[32];
    std::snprintf(value, sizeof(value), "%.2f", static_cast<double>(value_bits) / points);
    RecordProperty(std::string("bits_per_value_") + f.name, value);
  }
}

}  // namespace
}  // namespace aegis::core
