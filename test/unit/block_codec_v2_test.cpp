// Tests of block codec 2, "adaptive" (src/core/codec_v2.cpp, specified in
// docs/block-format.md, section 6): hand-built blocks of every value scheme
// that the decoder must read, the specification's worked example, bit-exact
// round trips of adversarial points through every scheme, what the automatic
// scheme choice is for, the real data files against codec 1, corruption
// handling (truncation, every single-byte change, and one crafted block per
// validation rule), and the fixed-width bit packing underneath
// (src/core/bit_pack.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/bit_pack.h"
#include "core/bit_patterns.h"
#include "core/block_codec.h"
#include "core/error.h"
#include "core/types.h"
#include "data_files.h"

namespace aegis::core {
namespace {

constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// Every scheme EncodeBlockWithScheme accepts for values that differ.
constexpr ValueScheme kVaryingSchemes[] = {ValueScheme::kRaw,       ValueScheme::kDecimal, ValueScheme::kDictionary,
                                           ValueScheme::kRunLength, ValueScheme::kSplit,   ValueScheme::kXor};

// Scheme ids as bytes, for building blocks by hand.
constexpr uint8_t kRaw = 0, kConstant = 1, kDecimal = 2, kDictionary = 3, kRunLength = 4, kSplit = 5, kXor = 6,
                  kDecimalRice = 7;

// Decimal flag bits (byte after the decimal scheme id).
constexpr uint8_t kFlagDeltas = 1, kFlagFloat32 = 2, kFlagCorrections = 4;

// Bit pattern of a double, and back (core/bit_patterns.h).
uint64_t Bits(double v) { return DoubleBits(v); }
double FromBits(uint64_t b) { return BitsToDouble(b); }

// Zigzag of a wrapped difference, as the decimal corrections store it.
uint64_t ZigZag64(uint64_t d) { return (d << 1) ^ (uint64_t{0} - (d >> 63)); }

// Timestamps spaced `step` apart from `start` (wrapping, never UB).
std::vector<Timestamp> Regular(Timestamp start, int64_t step, size_t n) {
  std::vector<Timestamp> ts(n);
  for (size_t i = 0; i < n; ++i) {
    ts[i] = static_cast<Timestamp>(static_cast<uint64_t>(start) + static_cast<uint64_t>(step) * i);
  }
  return ts;
}

// "raw", "decimal", ... for messages.
std::string SchemeName(ValueScheme s) { return ValueSchemeName(static_cast<uint8_t>(s)); }

// Reads a little-endian integer of `bytes` bytes at p.
uint64_t LoadLe(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// ---------------------------------------------------------------- byte builder

// Appends little-endian fields, for writing blocks by hand.
struct Bytes {
  std::vector<uint8_t> data;

  Bytes& U8(uint64_t v) { return Le(v, 1); }
  Bytes& U16(uint64_t v) { return Le(v, 2); }
  Bytes& U32(uint64_t v) { return Le(v, 4); }
  Bytes& U64(uint64_t v) { return Le(v, 8); }
  Bytes& F64(double v) { return U64(Bits(v)); }
  Bytes& Raw(const std::vector<uint8_t>& bytes) {
    data.insert(data.end(), bytes.begin(), bytes.end());
    return *this;
  }
  Bytes& Le(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) data.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
};

// Packs integers LSB first one bit at a time: integer i occupies bits
// [i*w, (i+1)*w) of the result read as one little-endian number. Independent of
// PackBits, so the two can be compared.
std::vector<uint8_t> ReferencePack(const std::vector<uint64_t>& v, unsigned w) {
  std::vector<uint8_t> out((v.size() * w + 7) / 8, 0);
  size_t bit = 0;
  for (uint64_t x : v) {
    for (unsigned b = 0; b < w; ++b, ++bit) {
      if ((x >> b) & 1) out[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
    }
  }
  return out;
}

// One exception of a packed sequence: position and whole value.
struct Exception {
  uint64_t position;
  uint64_t value;
};

// A packed sequence: u8 width, u64 base, u32 exception count, the offsets
// packed LSB first, the positions (u16 when m <= 65536, else u32), the values.
Bytes& Packed(Bytes* b, unsigned width, uint64_t base, const std::vector<uint64_t>& offsets,
              const std::vector<Exception>& exceptions = {}) {
  b->U8(width).U64(base).U32(exceptions.size()).Raw(ReferencePack(offsets, width));
  const int position_bytes = offsets.size() <= 65536 ? 2 : 4;
  for (const Exception& e : exceptions) b->Le(e.position, position_bytes);
  for (const Exception& e : exceptions) b->U64(e.value);
  return *b;
}

// A Rice-coded sequence by hand (section 6.4.1): u8 k, u32 exception count,
// the low parts packed in k bits, u32 stream length, the quotient stream, the
// exception positions and values.
Bytes& RiceParts(Bytes* b, unsigned k, const std::vector<uint64_t>& low, const std::vector<uint8_t>& quotients,
                 const std::vector<Exception>& exceptions = {}) {
  b->U8(k).U32(exceptions.size()).Raw(ReferencePack(low, k)).U32(quotients.size()).Raw(quotients);
  const int position_bytes = low.size() <= 65536 ? 2 : 4;
  for (const Exception& e : exceptions) b->Le(e.position, position_bytes);
  for (const Exception& e : exceptions) b->U64(e.value);
  return *b;
}

// RICE(m) of u with k low bits, written one bit at a time: q = u >> k zero
// bits and a one per integer, least significant bit first; an integer whose
// q is 32 or more is an exception (q and low part 0). Independent of the
// codec's writer.
Bytes& ReferenceRice(Bytes* b, const std::vector<uint64_t>& u, unsigned k) {
  std::vector<bool> bits;
  std::vector<uint64_t> low;
  std::vector<Exception> exceptions;
  for (size_t i = 0; i < u.size(); ++i) {
    const uint64_t q = u[i] >> k;
    if (q >= 32) exceptions.push_back({i, u[i]});
    for (uint64_t z = 0; q < 32 && z < q; ++z) bits.push_back(false);
    bits.push_back(true);
    low.push_back(q < 32 ? u[i] & ((uint64_t{1} << k) - 1 + (k == 64)) : 0);
  }
  std::vector<uint8_t> quotients((bits.size() + 7) / 8, 0);
  for (size_t i = 0; i < bits.size(); ++i) {
    if (bits[i]) quotients[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
  }
  return RiceParts(b, k, low, quotients, exceptions);
}

// Timestamp section of n points `step` apart from `start`: scheme 0, the first
// timestamp, and (n > 1) deltas packed with width 0 and base `step`.
Bytes& RegularTimestamps(Bytes* b, size_t n, int64_t start = 1000, int64_t step = 10) {
  b->U8(0).U64(static_cast<uint64_t>(start));
  if (n > 1) Packed(b, 0, static_cast<uint64_t>(step), std::vector<uint64_t>(n - 1, 0));
  return *b;
}

// A codec 2 block around `payload`, header and CRC-32C filled in.
std::vector<uint8_t> MakeV2Block(uint32_t count, const Bytes& payload) {
  Bytes b;
  b.U8(kBlockFormatVersion).U8(2).U16(0).U32(count).U32(payload.data.size()).U32(0).Raw(payload.data);
  const uint32_t crc = ComputeBlockChecksum(b.data.data(), b.data.size());
  for (int i = 0; i < 4; ++i) b.data[12 + i] = static_cast<uint8_t>(crc >> (8 * i));
  return b.data;
}

// Rewrites bytes 12-15 so the checksum matches the (edited) block.
void FixChecksum(std::vector<uint8_t>* block) {
  const uint32_t crc = ComputeBlockChecksum(block->data(), block->size());
  for (int i = 0; i < 4; ++i) (*block)[12 + i] = static_cast<uint8_t>(crc >> (8 * i));
}

// ---------------------------------------------------------------- decoding helpers

// Decoded contents of a block.
struct Points {
  std::vector<Timestamp> ts;
  std::vector<double> values;
};

// Expects two value sequences to hold the same bit patterns.
void ExpectSameBits(const std::vector<double>& expected, const std::vector<double>& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(Bits(expected[i]), Bits(actual[i]))
        << "value " << i << " of " << expected.size() << ": expected " << expected[i] << " got " << actual[i];
  }
}

// Expects two timestamp sequences to be equal, naming the first difference.
void ExpectSameTimestamps(const std::vector<Timestamp>& expected, const std::vector<Timestamp>& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(expected[i], actual[i]) << "timestamp " << i << " of " << expected.size();
  }
}

// Decodes from an exactly-sized heap copy (so AddressSanitizer reports any read
// past the end) into outputs that start out non-empty.
Points Decode(const std::vector<uint8_t>& block) {
  const std::vector<uint8_t> exact(block.begin(), block.end());
  Points p;
  p.ts = {1, 2, 3};
  p.values = {4.5};
  DecodeBlock(exact.data(), exact.size(), &p.ts, &p.values);
  return p;
}

// Byte offset of the value column (its scheme byte) inside a codec 2 block.
size_t ValueColumnOffset(const std::vector<uint8_t>& block) {
  const BlockBitUsage usage = MeasureBlock(block.data(), block.size());
  return kBlockHeaderSize + usage.timestamp_bits / 8;
}

// Scheme ids of the value column and of its first inner column and that
// column's inner column, as far as they nest.
std::vector<uint8_t> SchemeChain(const std::vector<uint8_t>& block) {
  std::vector<uint8_t> chain;
  size_t at = ValueColumnOffset(block);
  while (at < block.size()) {
    const uint8_t id = block[at];
    chain.push_back(id);
    if (id == kDictionary || id == kRunLength) {
      at += 1 + 4;  // size / run count
    } else if (id == kSplit) {
      at += 1 + 1;  // low-bit count
    } else {
      break;
    }
  }
  return chain;
}

// The next timestamp after t (t itself at the largest).
Timestamp JustAfter(Timestamp t) { return t == std::numeric_limits<Timestamp>::max() ? t : t + 1; }

// DecodeBlockBefore at `until` gives the points before it, bit for bit, and
// the block's point count.
void ExpectPrefixAt(const std::vector<uint8_t>& block, const std::vector<Timestamp>& ts,
                    const std::vector<double>& values, Timestamp until) {
  SCOPED_TRACE("until " + std::to_string(until));
  const size_t kept = until == kTimestampInfinity
                          ? ts.size()
                          : static_cast<size_t>(std::lower_bound(ts.begin(), ts.end(), until) - ts.begin());
  std::vector<Timestamp> ts_out{7};
  std::vector<double> values_out{7.5, 8.5};
  EXPECT_EQ(DecodeBlockBefore(block.data(), block.size(), until, &ts_out, &values_out), ts.size());
  ExpectSameTimestamps(std::vector<Timestamp>(ts.begin(), ts.begin() + static_cast<std::ptrdiff_t>(kept)), ts_out);
  ExpectSameBits(std::vector<double>(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(kept)),
                 values_out);
}

// DecodeBlockBetween over [since, until) gives the points in it, bit for
// bit, and the block's point count.
void ExpectRangeAt(const std::vector<uint8_t>& block, const std::vector<Timestamp>& ts,
                   const std::vector<double>& values, Timestamp since, Timestamp until) {
  SCOPED_TRACE("since " + std::to_string(since) + ", until " + std::to_string(until));
  const auto at = [&](Timestamp t) { return std::lower_bound(ts.begin(), ts.end(), t) - ts.begin(); };
  const std::ptrdiff_t end = until == kTimestampInfinity ? static_cast<std::ptrdiff_t>(ts.size()) : at(until);
  const std::ptrdiff_t begin = std::min(end, since == kTimestampMinusInfinity ? 0 : at(since));
  std::vector<Timestamp> ts_out{7};
  std::vector<double> values_out{7.5, 8.5};
  EXPECT_EQ(DecodeBlockBetween(block.data(), block.size(), since, until, &ts_out, &values_out), ts.size());
  ExpectSameTimestamps(std::vector<Timestamp>(ts.begin() + begin, ts.begin() + end), ts_out);
  ExpectSameBits(std::vector<double>(values.begin() + begin, values.begin() + end), values_out);
  // The same range from an anchor (a run of the block's points known by its
  // first and last value) at or before since: the same points.
  if (begin == 0 || !std::is_sorted(ts.begin(), ts.end()) ||
      std::adjacent_find(ts.begin(), ts.end()) != ts.end())
    return;
  const size_t n = ts.size();
  const size_t from = static_cast<size_t>(begin);
  for (size_t a : {size_t{1}, from / 2, from - 1 - (from - 1) % 8, from}) {
    if (a == 0 || a >= n) continue;
    for (size_t b : {a, std::min(n - 1, a + 37), n - 1}) {
      SCOPED_TRACE("anchor at points " + std::to_string(a) + " to " + std::to_string(b));
      const ValueAnchor anchor{ts[a], values[a], ts[b], values[b]};
      EXPECT_EQ(DecodeBlockBetween(block.data(), block.size(), since, until, &ts_out, &values_out, &anchor), n);
      ExpectSameTimestamps(std::vector<Timestamp>(ts.begin() + begin, ts.begin() + end), ts_out);
      ExpectSameBits(std::vector<double>(values.begin() + begin, values.begin() + end), values_out);
    }
  }
}

// Prefix decodes at the edges of the block and between its points, and
// range decodes from its points to its end and to a later point.
void ExpectPrefixDecodes(const std::vector<uint8_t>& block, const std::vector<Timestamp>& ts,
                         const std::vector<double>& values) {
  // Stored blocks hold rising timestamps; a prefix means nothing otherwise.
  if (!std::is_sorted(ts.begin(), ts.end())) return;
  const size_t n = ts.size();
  for (Timestamp until : {ts[0], JustAfter(ts[0]), ts[n / 3], JustAfter(ts[n / 2]), ts[n - 1], JustAfter(ts[n - 1]), kTimestampInfinity,
                          std::numeric_limits<Timestamp>::min()}) {
    ExpectPrefixAt(block, ts, values, until);
  }
  for (Timestamp since : {kTimestampMinusInfinity, ts[0], JustAfter(ts[0]), ts[n / 4], JustAfter(ts[n / 2]), ts[n - 1],
                          JustAfter(ts[n - 1]), kTimestampInfinity}) {
    for (Timestamp until : {ts[n / 3], JustAfter(ts[(3 * n) / 4]), kTimestampInfinity}) {
      ExpectRangeAt(block, ts, values, since, until);
      if (testing::Test::HasFatalFailure()) return;
    }
  }
}

// Encodes with codec 2 (automatic choice, or `forced`), checks the header,
// checksum and section sizes, decodes and checks the points come back bit for
// bit; returns the block.
std::vector<uint8_t> RoundTripV2(const std::vector<Timestamp>& ts, const std::vector<double>& values,
                                 const ValueScheme* forced = nullptr) {
  EXPECT_EQ(ts.size(), values.size());
  const size_t n = ts.size();
  const std::vector<uint8_t> block = forced == nullptr ? EncodeBlock(ts.data(), values.data(), n)
                                                       : EncodeBlockWithScheme(ts.data(), values.data(), n, *forced);
  EXPECT_GE(block.size(), kBlockHeaderSize);
  if (block.size() < kBlockHeaderSize) return block;
  EXPECT_EQ(block[0], 1);
  EXPECT_EQ(block[1], 2);
  EXPECT_EQ(block[2], 0);
  EXPECT_EQ(block[3], 0);
  EXPECT_EQ(LoadLe(block.data() + 4, 4), n);
  EXPECT_EQ(LoadLe(block.data() + 8, 4), block.size() - kBlockHeaderSize);
  EXPECT_EQ(LoadLe(block.data() + 12, 4), ComputeBlockChecksum(block.data(), block.size()));
  const Points p = Decode(block);
  ExpectSameTimestamps(ts, p.ts);
  ExpectSameBits(values, p.values);
  ExpectPrefixDecodes(block, ts, values);
  const BlockBitUsage usage = MeasureBlock(block.data(), block.size());
  EXPECT_EQ(usage.count, n);
  EXPECT_EQ(usage.padding_bits, 0u);
  EXPECT_EQ(usage.timestamp_bits + usage.value_bits, 8 * (block.size() - kBlockHeaderSize));
  // The timestamp section: scheme, first timestamp, then (n > 1) a packed
  // sequence of at least 13 bytes.
  if (n == 1) {
    EXPECT_EQ(usage.timestamp_bits, 72u);
  } else {
    EXPECT_GE(usage.timestamp_bits, 8u * (9 + 13));
  }
  EXPECT_EQ(usage.value_scheme, block[kBlockHeaderSize + usage.timestamp_bits / 8]);
  if (forced != nullptr) {
    EXPECT_EQ(usage.value_scheme, static_cast<uint8_t>(*forced)) << "forced " << SchemeName(*forced);
  }
  return block;
}

// RoundTripV2 through the automatic choice and every scheme that can hold the
// values (constant only when they are all the same bits).
void RoundTripEveryScheme(const std::vector<Timestamp>& ts, const std::vector<double>& values) {
  RoundTripV2(ts, values);
  if (testing::Test::HasFatalFailure()) return;
  bool constant = true;
  for (double v : values) constant = constant && Bits(v) == Bits(values[0]);
  for (ValueScheme s : kVaryingSchemes) {
    SCOPED_TRACE("forced " + SchemeName(s));
    RoundTripV2(ts, values, &s);
    if (testing::Test::HasFatalFailure()) return;
  }
  const ValueScheme rice = ValueScheme::kDecimalRice;
  if (values.size() >= 2) {
    SCOPED_TRACE("forced decimal-rice");
    RoundTripV2(ts, values, &rice);
    if (testing::Test::HasFatalFailure()) return;
  } else {
    EXPECT_THROW(EncodeBlockWithScheme(ts.data(), values.data(), values.size(), rice), Error);
  }
  const ValueScheme c = ValueScheme::kConstant;
  if (constant) {
    RoundTripV2(ts, values, &c);
  } else {
    try {
      EncodeBlockWithScheme(ts.data(), values.data(), values.size(), c);
      ADD_FAILURE() << "the constant scheme accepted values that differ";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::InvalidParameter) << e.what();
    }
  }
}

// Checks that decoding `block` throws Error(DataCorrupted) whose message or
// detail contains `part`, and leaves the outputs empty; returns the text.
std::string ExpectCorrupt(const std::vector<uint8_t>& block, const std::string& part = "") {
  const std::vector<uint8_t> exact(block.begin(), block.end());
  std::vector<Timestamp> ts{1, 2, 3};
  std::vector<double> values{4.5};
  try {
    DecodeBlock(exact.data(), exact.size(), &ts, &values);
  } catch (const Error& e) {
    const std::string text = std::string(e.what()) + " | " + e.detail();
    EXPECT_EQ(e.category(), ErrorCategory::DataCorrupted) << text;
    EXPECT_NE(text.find(part), std::string::npos) << "message \"" << text << "\" lacks \"" << part << "\"";
    EXPECT_TRUE(ts.empty());
    EXPECT_TRUE(values.empty());
    return text;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "decoding threw something other than aegis::core::Error: " << e.what();
    return {};
  }
  ADD_FAILURE() << "decoding a corrupt block succeeded (" << block.size() << " bytes), expected \"" << part << "\"";
  return {};
}

// Checks that a read of `block` cut at `until` (DecodeBlockBefore, and
// DecodeBlockBetween from its second point on) rejects it as a whole read
// does: the structure is checked whole, whatever the range.
void ExpectCorruptCutAt(const std::vector<uint8_t>& block, Timestamp until) {
  std::vector<Timestamp> ts;
  std::vector<double> values;
  for (Timestamp since : {kTimestampMinusInfinity, until - 1}) {
    try {
      DecodeBlockBetween(block.data(), block.size(), since, until, &ts, &values);
      ADD_FAILURE() << "a read cut at " << until << " accepted a corrupt block";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::DataCorrupted) << e.what();
    }
  }
}

// ---------------------------------------------------------------- value shapes

// Special doubles: every class of IEEE value, NaNs of both signs, quiet and
// signalling, with small, large and all-ones payloads, and values at the edges
// of the decimal scheme's digit range.
std::vector<double> SpecialDoubles() {
  std::vector<double> v = {
      0.0,
      -0.0,
      std::numeric_limits<double>::infinity(),
      -std::numeric_limits<double>::infinity(),
      std::numeric_limits<double>::denorm_min(),
      -std::numeric_limits<double>::denorm_min(),
      FromBits(0x000FFFFFFFFFFFFFull),  // largest subnormal
      FromBits(0x800FFFFFFFFFFFFFull),
      FromBits(0x0000000123456789ull),  // a subnormal in the middle
      DBL_MIN,
      -DBL_MIN,
      DBL_MAX,
      -DBL_MAX,
      DBL_EPSILON,
      1e300,
      -1e-300,
      9223372036854775808.0,  // 2^63
      2251799813685248.0,     // 2^51, the decimal digit limit
      22517998136852.48,      // about 2^51 / 100
      -22517998136852.47,
      0.1,
      -0.3,
  };
  for (uint64_t sign : {uint64_t{0}, uint64_t{1} << 63}) {
    // Quiet NaNs (mantissa bit 51 set) and signalling NaNs (clear, payload != 0).
    for (uint64_t payload : {0x0008000000000000ull, 0x0008000000000001ull, 0x0008DEADBEEF0001ull,
                             0x000FFFFFFFFFFFFFull, 0x0000000000000001ull, 0x0004000000000000ull,
                             0x0000000000001000ull, 0x0007FFFFFFFFFFFFull}) {
      v.push_back(FromBits(0x7FF0000000000000ull | sign | payload));
    }
  }
  return v;
}

// The value of a decimal string, correctly rounded.
double Decimal(int64_t digits, unsigned exponent) {
  std::string s = std::to_string(digits < 0 ? -digits : digits);
  if (s.size() <= exponent) s.insert(0, exponent + 1 - s.size(), '0');
  if (exponent > 0) s.insert(s.size() - exponent, ".");
  if (digits < 0) s.insert(0, "-");
  return std::strtod(s.c_str(), nullptr);
}

// The same decimal read as a float32 and widened.
double Float32Decimal(int64_t digits, unsigned exponent) {
  std::string s = std::to_string(digits < 0 ? -digits : digits);
  if (s.size() <= exponent) s.insert(0, exponent + 1 - s.size(), '0');
  if (exponent > 0) s.insert(s.size() - exponent, ".");
  if (digits < 0) s.insert(0, "-");
  return static_cast<double>(std::strtof(s.c_str(), nullptr));
}

// A random walk of 2-decimal values (steps of up to +-0.50) from 100.
std::vector<double> TwoDecimalWalk(size_t n, std::mt19937_64* rng) {
  std::vector<double> v(n);
  int64_t digits = 10000;
  for (size_t i = 0; i < n; ++i) {
    digits += static_cast<int64_t>((*rng)() % 101) - 50;
    v[i] = Decimal(digits, 2);
  }
  return v;
}

// A decimal-rice block read from an anchor that the block contradicts (a
// damaged segments column: another first or last value, or times the block
// has no point at) is an error, never other values.
TEST(BlockCodecV2Ranges, AnchorThatDisagreesWithTheBlock) {
  std::mt19937_64 rng(71);
  const size_t n = 1000;
  std::vector<Timestamp> ts(n);
  for (size_t i = 0; i < n; ++i) ts[i] = 1'700'000'000'000'000 + static_cast<Timestamp>(i) * 10'000'000;
  const std::vector<double> values = TwoDecimalWalk(n, &rng);
  const std::vector<uint8_t> block = EncodeBlockWithScheme(ts.data(), values.data(), n, ValueScheme::kDecimalRice);
  std::vector<Timestamp> ts_out;
  std::vector<double> values_out;
  const Timestamp since = ts[500];
  const auto read = [&](const ValueAnchor& anchor) {
    return DecodeBlockBetween(block.data(), block.size(), since, kTimestampInfinity, &ts_out, &values_out, &anchor);
  };
  // Agreeing: the points from since on.
  EXPECT_EQ(read({ts[360], values[360], ts[719], values[719]}), n);
  ExpectSameBits(std::vector<double>(values.begin() + 500, values.end()), values_out);
  const auto expect_corrupt = [&](const ValueAnchor& anchor) {
    try {
      read(anchor);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::DataCorrupted);
      EXPECT_STREQ(e.what(), "corrupt segment summaries");
    }
  };
  expect_corrupt({ts[360], values[360] + 0.01, ts[719], values[719]});   // another first value
  expect_corrupt({ts[360], values[360], ts[719], values[719] - 0.01});   // another last value
  expect_corrupt({ts[360] + 1, values[360], ts[719], values[719]});      // no point at its first time
  expect_corrupt({ts[360], values[360], ts[719] + 1, values[719]});      // nor at its last
  // An anchor that would cost more than summing from the block's start (a
  // short range early in the block, checked at its end) is not used: the
  // points come from the block, whatever the anchor says.
  const ValueAnchor costly{ts[5], values[5] + 1, ts[n - 1], 0.5};
  EXPECT_EQ(DecodeBlockBetween(block.data(), block.size(), ts[10], ts[20], &ts_out, &values_out, &costly), n);
  ExpectSameBits(std::vector<double>(values.begin() + 10, values.begin() + 20), values_out);
}

// A 2-decimal walk with special doubles at about one position in 8, always
// including the first and the last.
std::vector<double> WalkWithSpecials(size_t n, std::mt19937_64* rng) {
  const std::vector<double> specials = SpecialDoubles();
  std::vector<double> v = TwoDecimalWalk(n, rng);
  for (size_t i = 0; i < n; ++i) {
    if (i == 0 || i == n - 1 || (*rng)() % 8 == 0) v[i] = specials[(*rng)() % specials.size()];
  }
  return v;
}

// Uniformly random 64-bit patterns (NaNs and all).
std::vector<double> RandomPatterns(size_t n, std::mt19937_64* rng) {
  std::vector<double> v(n);
  for (double& x : v) x = FromBits((*rng)());
  return v;
}

// Full-precision doubles in [0, 1), a few distinct ones in random order.
std::vector<double> FewDistinct(size_t n, size_t distinct, std::mt19937_64* rng) {
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<double> pool(distinct);
  for (double& x : pool) x = uniform(*rng);
  std::vector<double> v(n);
  for (double& x : v) x = pool[(*rng)() % distinct];
  return v;
}

// Runs of random lengths 1..2*mean of a few full-precision values.
std::vector<double> Runs(size_t n, size_t mean, std::mt19937_64* rng) {
  const std::vector<double> pool = FewDistinct(7, 7, rng);
  std::vector<double> v;
  while (v.size() < n) {
    const double x = pool[(*rng)() % pool.size()];
    const size_t length = 1 + (*rng)() % (2 * mean);
    for (size_t k = 0; k < length && v.size() < n; ++k) v.push_back(x);
  }
  return v;
}

// A smooth full-precision signal (sine), the kind decimal schemes cannot hold.
std::vector<double> Smooth(size_t n) {
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = 1000.0 * std::sin(0.01 * static_cast<double>(i));
  return v;
}

// The value shapes the forced-scheme round trips run over.
struct Shape {
  const char* name;
  std::vector<double> (*make)(size_t n, std::mt19937_64* rng);
};

const Shape kShapes[] = {
    {"walk with specials", WalkWithSpecials},
    {"specials only",
     [](size_t n, std::mt19937_64* rng) {
       const std::vector<double> s = SpecialDoubles();
       std::vector<double> v(n);
       for (double& x : v) x = s[(*rng)() % s.size()];
       return v;
     }},
    {"random patterns", RandomPatterns},
    {"decimals of 0..18 digits",
     [](size_t n, std::mt19937_64* rng) {
       std::vector<double> v(n);
       for (double& x : v) {
         const unsigned e = static_cast<unsigned>((*rng)() % 19);
         x = Decimal(static_cast<int64_t>((*rng)() % 2000001) - 1000000, e);
       }
       return v;
     }},
    {"float32 decimals",
     [](size_t n, std::mt19937_64* rng) {
       std::vector<double> v(n);
       for (double& x : v) x = Float32Decimal(static_cast<int64_t>((*rng)() % 20001) - 10000, 3);
       return v;
     }},
    {"few distinct", [](size_t n, std::mt19937_64* rng) { return FewDistinct(n, 5, rng); }},
    {"runs", [](size_t n, std::mt19937_64* rng) { return Runs(n, 6, rng); }},
    {"smooth", [](size_t n, std::mt19937_64*) { return Smooth(n); }},
    {"constant NaN", [](size_t n, std::mt19937_64*) { return std::vector<double>(n, FromBits(0xFFF0000000000001ull)); }},
};

// Timestamps in one of several shapes.
std::vector<Timestamp> MakeTimestamps(int shape, size_t n, std::mt19937_64* rng) {
  std::vector<Timestamp> ts(n);
  switch (shape) {
    case 0:  // regular 10 s
      return Regular(631152000LL * kMicrosPerSecond, 10 * kMicrosPerSecond, n);
    case 1:  // regular with jitter of up to +-1 ms
      for (size_t i = 0; i < n; ++i) {
        ts[i] = static_cast<Timestamp>(i) * kMicrosPerSecond + static_cast<int64_t>((*rng)() % 2001) - 1000;
      }
      return ts;
    case 2:  // decreasing
      return Regular(kInt64Max, -7, n);
    case 3:  // repeated, in bursts
      for (size_t i = 0; i < n; ++i) ts[i] = static_cast<Timestamp>(i / 5) * 60 * kMicrosPerSecond;
      return ts;
    case 4:  // the int64 extremes alternating
      for (size_t i = 0; i < n; ++i) ts[i] = i % 2 ? kInt64Max : kInt64Min;
      return ts;
    case 5:  // random 64-bit timestamps
      for (Timestamp& t : ts) t = static_cast<Timestamp>((*rng)());
      return ts;
    case 6:  // regular with a few huge gaps (forward and back)
      ts = Regular(-5 * kMicrosPerDay, kMicrosPerSecond, n);
      for (size_t i = 1; i < n; i += 1 + (*rng)() % 97) ts[i] += (i % 2 ? 1 : -1) * (int64_t{1} << 62);
      return ts;
    default:  // regular from INT64_MIN
      return Regular(kInt64Min, 1, n);
  }
}
constexpr int kTimestampShapes = 8;

// The point counts of the round trips: around the 8-integer unpack groups
// and the 64-value sample.
constexpr size_t kCounts[] = {1, 2, 3, 7, 8, 9, 63, 64, 65, 1000};

// ---------------------------------------------------------------- layout

// Blocks written by hand from the format description must decode to the
// values they spell, one per value scheme; this pins the decoder to the
// format independently of the encoder.
TEST(BlockCodecV2Layout, HandBuiltBlockOfEverySchemeDecodes) {
  const std::vector<Timestamp> ts3 = {1000, 1010, 1020};
  struct Case {
    const char* name;
    Bytes values;
    std::vector<double> expected;
  };
  std::vector<Case> cases;
  const double nan_payload = FromBits(0x7FF4000000000123ull);
  cases.push_back({"raw", Bytes().U8(kRaw).F64(1.5).F64(-2.25).F64(nan_payload), {1.5, -2.25, nan_payload}});
  cases.push_back({"constant", Bytes().U8(kConstant).F64(42.5), {42.5, 42.5, 42.5}});
  {
    // Decimal digits 1234, 1250, 1199 at exponent 2: base 1199, width 6.
    Bytes b;
    b.U8(kDecimal).U8(0).U8(2);
    Packed(&b, 6, 1199, {35, 51, 0});
    cases.push_back({"decimal", b, {12.34, 12.5, 11.99}});
  }
  {
    // The same as digit 1234 then deltas +16, -51 (base -51, width 7).
    Bytes b;
    b.U8(kDecimal).U8(kFlagDeltas).U8(2).U64(1234);
    Packed(&b, 7, static_cast<uint64_t>(int64_t{-51}), {67, 0});
    cases.push_back({"decimal deltas", b, {12.34, 12.5, 11.99}});
  }
  {
    // Float32 mode: digits / 10^3 divided in float and widened.
    Bytes b;
    b.U8(kDecimal).U8(kFlagFloat32).U8(3);
    Packed(&b, 14, 5827, {0, 1, 10000});
    cases.push_back({"decimal float32",
                     b,
                     {static_cast<double>(5.827f), static_cast<double>(5.828f), static_cast<double>(15.827f)}});
  }
  {
    // Digits 0, 0, 5 at exponent 1 and one correction, as an exception:
    // zigzag(bits(-0.0) - bits(0.0)) at position 1 turns the second 0 into -0.0.
    Bytes b;
    b.U8(kDecimal).U8(kFlagCorrections).U8(1);
    Packed(&b, 3, 0, {0, 0, 5});
    Packed(&b, 0, 0, {0, 0, 0}, {{1, ZigZag64(Bits(-0.0))}});
    cases.push_back({"decimal corrections", b, {0.0, -0.0, 0.5}});
  }
  {
    // Dictionary of two raw values, indices 1 0 1.
    Bytes b;
    b.U8(kDictionary).U32(2).U8(kRaw).F64(-1.0).F64(7.25);
    Packed(&b, 1, 0, {1, 0, 1});
    cases.push_back({"dictionary", b, {7.25, -1.0, 7.25}});
  }
  {
    // Runs 3.5 x2, -0.0 x1.
    Bytes b;
    b.U8(kRunLength).U32(2).U8(kRaw).F64(3.5).F64(-0.0);
    Packed(&b, 2, 0, {2, 1});
    cases.push_back({"run-length", b, {3.5, 3.5, -0.0}});
  }
  {
    // Split at bit 8: high parts as a raw inner column, low bytes packed.
    const std::vector<double> x = {3.14159, -2.5e-300, 1e100};
    Bytes b;
    b.U8(kSplit).U8(8).U8(kRaw);
    for (double v : x) b.U64(Bits(v) >> 8);
    Packed(&b, 8, 0, {Bits(x[0]) & 0xFF, Bits(x[1]) & 0xFF, Bits(x[2]) & 0xFF});
    cases.push_back({"split", b, x});
  }
  {
    // Gorilla XOR stream of 1.0, 1.0, 3.0: 64 raw bits, '0', then '11',
    // 5-bit leading zeros 1, 6-bit length-1 11, the 12 meaningful bits, pad.
    Bytes b;
    b.U8(kXor).U32(12).Raw({0x3F, 0xF0, 0, 0, 0, 0, 0, 0, 0x61, 0x2F, 0xFF, 0xC0});
    cases.push_back({"xor", b, {1.0, 1.0, 3.0}});
  }
  {
    // Nested: dictionary whose distinct values are a run-length column.
    Bytes b;
    b.U8(kDictionary).U32(3).U8(kRunLength).U32(2).U8(kRaw).F64(0.5).F64(2.0);
    Packed(&b, 2, 0, {2, 1});  // run lengths 2, 1: 0.5 0.5 2.0
    Packed(&b, 2, 0, {2, 0, 1});
    cases.push_back({"dictionary of runs", b, {2.0, 0.5, 0.5}});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Bytes payload;
    RegularTimestamps(&payload, 3).Raw(c.values.data);
    const std::vector<uint8_t> block = MakeV2Block(3, payload);
    Points p;
    ASSERT_NO_THROW(p = Decode(block));
    ExpectSameTimestamps(ts3, p.ts);
    ExpectSameBits(c.expected, p.values);
    const BlockBitUsage usage = MeasureBlock(block.data(), block.size());
    EXPECT_EQ(usage.timestamp_bits, 8u * (1 + 8 + 13));
    EXPECT_EQ(usage.value_bits, 8 * c.values.data.size());
    EXPECT_EQ(usage.value_scheme, c.values.data[0]);
  }
}

// Timestamp deltas with exceptions, a width that is not a multiple of 8 and a
// base that is negative, written by hand.
TEST(BlockCodecV2Layout, HandBuiltTimestampExceptionsDecode) {
  // Deltas 5, 3, -2^40 (exception), 4, INT64_MAX (exception) from -100:
  // base 3, width 2, offsets 2 0 _ 1 _.
  Bytes payload;
  payload.U8(0).U64(static_cast<uint64_t>(int64_t{-100}));
  Packed(&payload, 2, 3, {2, 0, 0, 1, 0},
         {{2, static_cast<uint64_t>(-(int64_t{1} << 40))}, {4, static_cast<uint64_t>(kInt64Max)}});
  payload.U8(kConstant).F64(1.0);
  const Points p = Decode(MakeV2Block(6, payload));
  const int64_t t3 = -92 - (int64_t{1} << 40);
  const int64_t t4 = t3 + 4;
  const int64_t t5 = static_cast<int64_t>(static_cast<uint64_t>(t4) + static_cast<uint64_t>(kInt64Max));
  ExpectSameTimestamps({-100, -95, -92, t3, t4, t5}, p.ts);
}

// docs/block-format.md, section 6.7: the worked example, both ways.
TEST(BlockCodecV2Layout, WorkedExampleOfTheSpecification) {
  const std::vector<uint8_t> expected = {
      0x01, 0x02, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x95, 0x40, 0x68, 0x14,  // header
      0x00,                                                                                              // ts scheme
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,                                                    // t[0]
      0x00, 0x80, 0x96, 0x98, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,                      // deltas
      0x02, 0x00, 0x02,                                                                                  // decimal
      0x03, 0x28, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x19, 0x0c,          // digits
  };
  const std::vector<Timestamp> ts = {0, 10 * kMicrosPerSecond, 20 * kMicrosPerSecond, 30 * kMicrosPerSecond};
  const std::vector<double> values = {23.45, 23.47, 23.44, 23.50};
  EXPECT_EQ(EncodeBlock(ts.data(), values.data(), 4), expected);
  const Points p = Decode(expected);
  ExpectSameTimestamps(ts, p.ts);
  ExpectSameBits(values, p.values);
  EXPECT_EQ(EncodeBlock(ts.data(), values.data(), 4, BlockCodec::kGorillaV1).size(), 59u);
}

// Fields the encoder always writes canonically but the decoder must read as
// the specification says whatever they hold: the offset in an exception's
// slot and the unused high bits of the last packed byte are ignored, and a
// split's low parts contribute only their low s bits.
TEST(BlockCodecV2Layout, NonCanonicalFieldsDecodeAsSpecified) {
  {
    // Dictionary indices 1 _ 0 with width 2: slot 1 holds offset 3 (an
    // exception, value 0), the last byte's high bits are all ones.
    Bytes c;
    c.U8(kDictionary).U32(2).U8(kRaw).F64(-1.0).F64(7.25);
    c.U8(2).U64(0).U32(1).U8(0x01 | 0x0C | 0xC0).U16(1).U64(0);
    Bytes payload;
    RegularTimestamps(&payload, 3).Raw(c.data);
    const Points p = Decode(MakeV2Block(3, payload));
    ExpectSameBits({7.25, -1.0, -1.0}, p.values);
  }
  {
    // Split at s = 4 with 8-bit low parts: only the low 4 bits count.
    const double x = 3.14159;
    Bytes c;
    c.U8(kSplit).U8(4).U8(kConstant).U64(Bits(x) >> 4);
    Packed(&c, 8, 0, {(Bits(x) & 0xF) | 0xA0, (Bits(x) & 0xF) | 0xF0});
    Bytes payload;
    RegularTimestamps(&payload, 2).Raw(c.data);
    const Points p = Decode(MakeV2Block(2, payload));
    ExpectSameBits({x, x}, p.values);
  }
}

// Section 6.1: positions are u16 when the sequence has at most 65,536
// integers, u32 above, whatever the block's n. Dictionary indices of 65,536
// and 65,537 values, one exception in the last slot.
TEST(BlockCodecV2Layout, HandBuiltExceptionPositionWidths) {
  for (uint32_t n : {65536u, 65537u}) {
    Bytes c;
    c.U8(kDictionary).U32(2).U8(kRaw).F64(0.5).F64(-8.0);
    Packed(&c, 0, 0, std::vector<uint64_t>(n, 0), {{n - 1, 1}});
    Bytes payload;
    RegularTimestamps(&payload, n).Raw(c.data);
    const Points p = Decode(MakeV2Block(n, payload));
    std::vector<double> expected(n, 0.5);
    expected[n - 1] = -8.0;
    ExpectSameBits(expected, p.values);
  }
}

// What the encoder writes for the simplest inputs, byte for byte.
TEST(BlockCodecV2Layout, EncoderWritesDocumentedBytes) {
  {
    // 3 points, regular, constant value: every field is forced.
    const std::vector<Timestamp> ts = {-20, -10, 0};
    const std::vector<double> values(3, -0.0);
    Bytes payload;
    RegularTimestamps(&payload, 3, -20, 10).U8(kConstant).F64(-0.0);
    EXPECT_EQ(EncodeBlock(ts.data(), values.data(), 3), MakeV2Block(3, payload));
  }
  {
    // One point, forced raw: no delta sequence at all.
    const Timestamp t = kInt64Min;
    const double v = DBL_MAX;
    Bytes payload;
    payload.U8(0).U64(static_cast<uint64_t>(kInt64Min)).U8(kRaw).F64(DBL_MAX);
    EXPECT_EQ(EncodeBlockWithScheme(&t, &v, 1, ValueScheme::kRaw), MakeV2Block(1, payload));
  }
  {
    // Regular timestamps of 70000 points but two gaps: width 0 and two
    // exceptions whose positions (65999 and 69998, both in the deltas) take
    // 4 bytes each because there are more than 65536 deltas.
    std::vector<Timestamp> ts = Regular(0, 10, 70000);
    for (size_t i = 66000; i < ts.size(); ++i) ts[i] += 1000000;
    ts[69999] += 5;
    const std::vector<double> values(ts.size(), 1.0);
    const std::vector<uint8_t> block = EncodeBlock(ts.data(), values.data(), ts.size());
    Bytes payload;
    payload.U8(0).U64(0).U8(0).U64(10).U32(2).U32(65999).U32(69998).U64(1000010).U64(15);
    payload.U8(kConstant).F64(1.0);
    EXPECT_EQ(block, MakeV2Block(70000, payload));
  }
  {
    // 65537 points have 65536 deltas: positions still take 2 bytes, and the
    // last one, 65535, is the largest a u16 holds.
    std::vector<Timestamp> ts = Regular(0, 10, 65537);
    ts[65536] += 3;
    const std::vector<double> values(ts.size(), 1.0);
    const std::vector<uint8_t> block = EncodeBlock(ts.data(), values.data(), ts.size());
    Bytes payload;
    payload.U8(0).U64(0).U8(0).U64(10).U32(1).U16(65535).U64(13);
    payload.U8(kConstant).F64(1.0);
    EXPECT_EQ(block, MakeV2Block(65537, payload));
  }
}

TEST(BlockCodecV2Layout, SchemeNames) {
  EXPECT_STREQ(ValueSchemeName(0), "raw");
  EXPECT_STREQ(ValueSchemeName(1), "constant");
  EXPECT_STREQ(ValueSchemeName(2), "decimal");
  EXPECT_STREQ(ValueSchemeName(3), "dictionary");
  EXPECT_STREQ(ValueSchemeName(4), "run-length");
  EXPECT_STREQ(ValueSchemeName(5), "split");
  EXPECT_STREQ(ValueSchemeName(6), "xor");
  EXPECT_STREQ(ValueSchemeName(7), "decimal-rice");
  EXPECT_STREQ(ValueSchemeName(8), "unknown");
  EXPECT_STREQ(ValueSchemeName(255), "gorilla");
}

// ---------------------------------------------------------------- encoder input

TEST(BlockCodecV2Encode, RejectsBadArguments) {
  const Timestamp t = 0;
  const double v = 1.0;
  for (size_t n : {size_t{0}, size_t{kMaxBlockPoints} + 1}) {
    try {
      EncodeBlockWithScheme(&t, &v, n, ValueScheme::kRaw);
      ADD_FAILURE() << "n = " << n << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::InvalidParameter);
    }
  }
  for (uint8_t id : {0, 3, 255}) {
    try {
      EncodeBlock(&t, &v, 1, static_cast<BlockCodec>(id));
      ADD_FAILURE() << "codec " << int{id} << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::InvalidParameter);
    }
  }
  for (uint8_t id : {7, 200, 255}) {
    try {
      EncodeBlockWithScheme(&t, &v, 1, static_cast<ValueScheme>(id));
      ADD_FAILURE() << "scheme " << int{id} << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::InvalidParameter);
    }
  }
  // Constant on values that differ only in a NaN payload bit or a sign of zero.
  for (const std::vector<double>& values : {std::vector<double>{0.0, -0.0}, std::vector<double>{1.0, 1.0, 2.0},
                                            std::vector<double>{FromBits(0x7FF8000000000000ull),
                                                                FromBits(0x7FF8000000000001ull)}}) {
    const std::vector<Timestamp> ts(values.size(), 0);
    try {
      EncodeBlockWithScheme(ts.data(), values.data(), values.size(), ValueScheme::kConstant);
      ADD_FAILURE() << "constant scheme accepted differing values";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::InvalidParameter);
    }
  }
}

// ---------------------------------------------------------------- round trips

// Every value shape through every scheme at every point count.
TEST(BlockCodecV2RoundTrip, EverySchemeEveryShapeEveryCount) {
  std::mt19937_64 rng(20240611);
  for (const Shape& shape : kShapes) {
    for (size_t n : kCounts) {
      SCOPED_TRACE(std::string(shape.name) + ", n = " + std::to_string(n));
      const std::vector<double> values = shape.make(n, &rng);
      const std::vector<Timestamp> ts = MakeTimestamps(static_cast<int>(n % kTimestampShapes), n, &rng);
      RoundTripEveryScheme(ts, values);
      if (HasFatalFailure()) return;
    }
  }
}

// Blocks large enough for 4-byte exception positions (more than 65536 values
// in a sequence), with exceptions placed past position 65535.
TEST(BlockCodecV2RoundTrip, LargeCountsWithWideExceptionPositions) {
  std::mt19937_64 rng(7);
  for (size_t n : {size_t{65536}, size_t{65537}, size_t{70000}}) {
    std::vector<Timestamp> ts = Regular(0, kMicrosPerSecond, n);
    ts[n - 1] -= 3 * kMicrosPerSecond;  // decreasing at the end: a low exception
    ts[n / 2] += 12345;
    std::vector<double> values = TwoDecimalWalk(n, &rng);
    values[n - 1] = -0.0;  // corrections at the last positions
    values[n - 2] = std::numeric_limits<double>::quiet_NaN();
    values[65535] = 1e300;
    SCOPED_TRACE("n = " + std::to_string(n));
    RoundTripEveryScheme(ts, values);
    if (HasFatalFailure()) return;
  }
}

// One block of the most points allowed.
TEST(BlockCodecV2RoundTrip, MaximumBlock) {
  const std::vector<Timestamp> ts = Regular(kInt64Min, 1, kMaxBlockPoints);
  const std::vector<double> values(kMaxBlockPoints, -123.25);
  const std::vector<uint8_t> block = RoundTripV2(ts, values);
  EXPECT_LT(block.size(), 64u);
  const ValueScheme c = ValueScheme::kConstant;
  RoundTripV2(ts, values, &c);
}

// Special values alone, and mixed into 2-decimal data at every position class.
TEST(BlockCodecV2RoundTrip, SpecialValues) {
  const std::vector<double> specials = SpecialDoubles();
  RoundTripEveryScheme(Regular(0, 1, specials.size()), specials);
  std::mt19937_64 rng(3);
  for (size_t n : {size_t{9}, size_t{64}, size_t{1000}}) {
    for (size_t k = 0; k < specials.size(); ++k) {
      // One special value at the start, the middle and the end of a walk.
      std::vector<double> values = TwoDecimalWalk(n, &rng);
      values[0] = values[n / 2] = values[n - 1] = specials[k];
      SCOPED_TRACE("n = " + std::to_string(n) + ", special " + std::to_string(k));
      RoundTripEveryScheme(Regular(0, 1, n), values);
      if (HasFatalFailure()) return;
    }
  }
}

// Decimals with 0..18 digits after the point, each exponent alone.
TEST(BlockCodecV2RoundTrip, DecimalsOfEveryExponent) {
  std::mt19937_64 rng(11);
  for (unsigned e = 0; e <= 18; ++e) {
    for (size_t n : {size_t{7}, size_t{65}}) {
      std::vector<double> values(n);
      for (double& x : values) x = Decimal(static_cast<int64_t>(rng() % 20000001) - 10000000, e);
      SCOPED_TRACE("exponent " + std::to_string(e) + ", n = " + std::to_string(n));
      RoundTripEveryScheme(Regular(0, 1, n), values);
      if (HasFatalFailure()) return;
    }
  }
}

// Float32 values widened to double, which the decimal scheme's float32 mode
// is for, at every exponent that mode has, with float32 specials mixed in.
TEST(BlockCodecV2RoundTrip, Float32WidenedValues) {
  std::mt19937_64 rng(5);
  for (unsigned e = 0; e <= 10; ++e) {
    std::vector<double> values(65);
    for (double& x : values) x = Float32Decimal(static_cast<int64_t>(rng() % 2000001) - 1000000, e);
    values[10] = static_cast<double>(std::numeric_limits<float>::denorm_min());
    values[20] = static_cast<double>(-std::numeric_limits<float>::max());
    values[30] = static_cast<double>(std::numeric_limits<float>::infinity());
    values[40] = static_cast<double>(-0.0f);
    SCOPED_TRACE("exponent " + std::to_string(e));
    RoundTripEveryScheme(Regular(0, 1, values.size()), values);
    if (HasFatalFailure()) return;
  }
}

// The decimal scheme decides from a sample of 64 values: values outside the
// sample that break its pattern (not float32, not decimal, too large for the
// digits) must still come back exactly, through corrections.
TEST(BlockCodecV2RoundTrip, ValuesOutsideTheSampleBreakThePattern) {
  std::mt19937_64 rng(23);
  const size_t n = 1000;  // sampled positions are k * 1000 / 64: 0, 15, 31, ...
  for (int float32 = 0; float32 < 2; ++float32) {
    std::vector<double> values(n);
    for (double& x : values) {
      const int64_t digits = static_cast<int64_t>(rng() % 200001) - 100000;
      x = float32 ? Float32Decimal(digits, 2) : Decimal(digits, 2);
    }
    const std::vector<double> odd = {1e300, std::numeric_limits<double>::quiet_NaN(), 1152921504606846976.0,
                                     0.1 + 0.2, -0.0, FromBits(0x7FF0000000000001ull), 1e-310, 16777217.0};
    for (size_t k = 0; k < odd.size(); ++k) values[1 + k] = odd[k];
    values[n - 1] = 2251799813685248.0;
    SCOPED_TRACE(float32 ? "float32" : "double");
    const std::vector<uint8_t> block = RoundTripV2(Regular(0, 1, n), values);
    EXPECT_EQ(MeasureBlock(block.data(), block.size()).value_scheme, kDecimal);
    const size_t at = ValueColumnOffset(block);
    EXPECT_EQ(block[at + 1] & (kFlagFloat32 | kFlagCorrections), (float32 ? kFlagFloat32 : 0) | kFlagCorrections);
    const ValueScheme decimal = ValueScheme::kDecimal;
    RoundTripV2(Regular(0, 1, n), values, &decimal);
  }
}

// Decoding keeps per-thread scratch buffers: threads decoding different
// blocks at once, large and small alternately, must each get their own points.
TEST(BlockCodecV2RoundTrip, ConcurrentDecodes) {
  std::mt19937_64 rng(29);
  std::vector<Points> points(4);
  std::vector<std::vector<uint8_t>> blocks;
  for (size_t k = 0; k < points.size(); ++k) {
    const size_t n = k % 2 ? 70000 : 300;
    points[k].ts = MakeTimestamps(static_cast<int>(k), n, &rng);
    points[k].values = k < 2 ? WalkWithSpecials(n, &rng) : Runs(n, 3, &rng);
    const ValueScheme split = ValueScheme::kSplit;
    blocks.push_back(k == 3 ? EncodeBlockWithScheme(points[k].ts.data(), points[k].values.data(), n, split)
                            : EncodeBlock(points[k].ts.data(), points[k].values.data(), n));
  }
  std::vector<int> mismatches(points.size(), 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < points.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 6; ++round) {
        const size_t k = (t + static_cast<size_t>(round)) % points.size();
        std::vector<Timestamp> ts;
        std::vector<double> values;
        DecodeBlock(blocks[k].data(), blocks[k].size(), &ts, &values);
        bool same = ts == points[k].ts && values.size() == points[k].values.size();
        for (size_t i = 0; same && i < values.size(); ++i) same = Bits(values[i]) == Bits(points[k].values[i]);
        mismatches[t] += same ? 0 : 1;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (size_t t = 0; t < points.size(); ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

// Every timestamp shape at every point count.
TEST(BlockCodecV2RoundTrip, TimestampShapes) {
  std::mt19937_64 rng(17);
  for (int shape = 0; shape < kTimestampShapes; ++shape) {
    for (size_t n : kCounts) {
      SCOPED_TRACE("timestamp shape " + std::to_string(shape) + ", n = " + std::to_string(n));
      RoundTripV2(MakeTimestamps(shape, n, &rng), TwoDecimalWalk(n, &rng));
      if (HasFatalFailure()) return;
    }
  }
  // The extremes next to each other and wrapping deltas.
  for (const std::vector<Timestamp>& ts :
       {std::vector<Timestamp>{kInt64Min, kInt64Max}, std::vector<Timestamp>{kInt64Max, kInt64Min, kInt64Max},
        std::vector<Timestamp>{0, kInt64Max, kInt64Min, -1, 0, 1, kInt64Min + 1, kInt64Max - 1, 0},
        std::vector<Timestamp>{5, 5, 5, 5, 5, 5, 5, 5, 5}}) {
    RoundTripV2(ts, std::vector<double>(ts.size(), 2.5));
  }
}

// Random blocks of random shapes and sizes through the automatic choice.
TEST(BlockCodecV2RoundTrip, RandomManySeeds) {
  for (uint64_t seed = 1; seed <= 150; ++seed) {
    std::mt19937_64 rng(seed);
    const size_t n = 1 + rng() % 300;
    const Shape& shape = kShapes[rng() % std::size(kShapes)];
    SCOPED_TRACE("seed " + std::to_string(seed) + ", " + shape.name + ", n = " + std::to_string(n));
    const std::vector<Timestamp> ts = MakeTimestamps(static_cast<int>(rng() % kTimestampShapes), n, &rng);
    RoundTripV2(ts, shape.make(n, &rng));
    if (HasFatalFailure()) return;
  }
}

// ---------------------------------------------------------------- scheme choice

// Bits per point of a whole block (header included).
double BitsPerPoint(const std::vector<uint8_t>& block, size_t n) {
  return 8.0 * static_cast<double>(block.size()) / static_cast<double>(n);
}

TEST(BlockCodecV2Selection, ConstantValuesUseConstant) {
  for (double v : {0.0, -0.0, 1.1, FromBits(0x7FF0000000000001ull), -std::numeric_limits<double>::infinity()}) {
    for (size_t n : {size_t{1}, size_t{2}, size_t{1000}}) {
      const std::vector<uint8_t> block = RoundTripV2(Regular(0, 10, n), std::vector<double>(n, v));
      EXPECT_EQ(MeasureBlock(block.data(), block.size()).value_scheme, kConstant);
      EXPECT_EQ(MeasureBlock(block.data(), block.size()).value_bits, 72u);
    }
  }
}

TEST(BlockCodecV2Selection, TwoDecimalWalkUsesDecimalUnderTwelveBits) {
  std::mt19937_64 rng(99);
  for (int trial = 0; trial < 5; ++trial) {
    const size_t n = 1000;
    const std::vector<double> values = TwoDecimalWalk(n, &rng);
    const std::vector<uint8_t> block = RoundTripV2(Regular(631152000LL * kMicrosPerSecond, 60000000, n), values);
    const BlockBitUsage usage = MeasureBlock(block.data(), block.size());
    EXPECT_EQ(usage.value_scheme, kDecimal);
    EXPECT_LT(BitsPerPoint(block, n), 12.0);
    // Exact decimals at exponent 2, stored as deltas and needing no corrections.
    const size_t at = ValueColumnOffset(block);
    EXPECT_EQ(block[at + 1], kFlagDeltas) << "decimal flags";
    EXPECT_EQ(block[at + 2], 2) << "decimal exponent";
  }
}

// Decimals with printing noise (a few ulps off, like 11.529000000000002) in
// most values still use the decimal scheme, with small corrections.
TEST(BlockCodecV2Selection, DecimalsWithPrintingNoiseUseDecimal) {
  std::mt19937_64 rng(41);
  const size_t n = 1000;
  std::vector<double> values = TwoDecimalWalk(n, &rng);
  for (double& x : values) {
    if (rng() % 4 != 0) x = FromBits(Bits(x) + 1 + rng() % 3);  // 3 in 4 values
  }
  const std::vector<uint8_t> block = RoundTripV2(Regular(0, 10, n), values);
  const BlockBitUsage usage = MeasureBlock(block.data(), block.size());
  EXPECT_EQ(usage.value_scheme, kDecimal);
  EXPECT_LT(static_cast<double>(usage.value_bits) / n, 16.0);
}

TEST(BlockCodecV2Selection, FewDistinctFullPrecisionValuesUseDictionary) {
  std::mt19937_64 rng(4);
  for (size_t distinct : {size_t{2}, size_t{10}, size_t{100}}) {
    const size_t n = 1000;
    const std::vector<uint8_t> block = RoundTripV2(Regular(0, 10, n), FewDistinct(n, distinct, &rng));
    const BlockBitUsage usage = MeasureBlock(block.data(), block.size());
    EXPECT_EQ(usage.value_scheme, kDictionary) << distinct << " distinct";
    // Roughly log2(distinct) bits per index plus the dictionary itself.
    const double index_bits = std::ceil(std::log2(static_cast<double>(distinct)));
    EXPECT_LT(static_cast<double>(usage.value_bits), n * index_bits + distinct * 80.0 + 400) << distinct;
  }
}

TEST(BlockCodecV2Selection, LongRunsAreFarSmallerThanRaw) {
  std::mt19937_64 rng(8);
  for (size_t mean : {size_t{20}, size_t{100}}) {
    const size_t n = 1000;
    const std::vector<double> values = Runs(n, mean, &rng);
    const std::vector<uint8_t> block = RoundTripV2(Regular(0, 10, n), values);
    const BlockBitUsage usage = MeasureBlock(block.data(), block.size());
    EXPECT_TRUE(usage.value_scheme == kRunLength || usage.value_scheme == kConstant ||
                usage.value_scheme == kDictionary)
        << ValueSchemeName(usage.value_scheme);
    const double raw_bits = 8.0 * (1 + 8 * n);
    EXPECT_LT(static_cast<double>(usage.value_bits) * 15, raw_bits)
        << "mean run " << mean << ": " << usage.value_bits << " value bits";
  }
}

// Long runs of many distinct full-precision values: only run-length takes
// well under 3 bits per value (a dictionary needs log2(20) bits per index).
TEST(BlockCodecV2Selection, LongRunsOfDistinctValuesUseRunLength) {
  std::mt19937_64 rng(9);
  const std::vector<double> pool = FewDistinct(20, 20, &rng);
  std::vector<double> values;
  for (size_t r = 0; r < 20; ++r) values.insert(values.end(), 50, pool[r]);
  const std::vector<uint8_t> block = RoundTripV2(Regular(0, 10, values.size()), values);
  const BlockBitUsage usage = MeasureBlock(block.data(), block.size());
  EXPECT_EQ(usage.value_scheme, kRunLength);
  EXPECT_LT(static_cast<double>(usage.value_bits) / values.size(), 2.5);
}

TEST(BlockCodecV2Selection, RandomPatternsStayRaw) {
  std::mt19937_64 rng(12);
  for (size_t n : {size_t{2}, size_t{3}, size_t{8}, size_t{9}, size_t{64}, size_t{1000}, size_t{4096}}) {
    const std::vector<uint8_t> block = RoundTripV2(Regular(0, 10, n), RandomPatterns(n, &rng));
    const BlockBitUsage usage = MeasureBlock(block.data(), block.size());
    EXPECT_EQ(usage.value_scheme, kRaw) << "n = " << n;
    EXPECT_LE(usage.value_bits, 8 * (1 + 8 * n)) << "n = " << n;
  }
}

// The automatic choice is never worse than raw by more than the scheme byte,
// whatever the values.
TEST(BlockCodecV2Selection, NeverBiggerThanRaw) {
  std::mt19937_64 rng(13);
  for (const Shape& shape : kShapes) {
    for (size_t n : kCounts) {
      const std::vector<uint8_t> block = RoundTripV2(Regular(0, 10, n), shape.make(n, &rng));
      EXPECT_LE(MeasureBlock(block.data(), block.size()).value_bits, 8 * (1 + 8 * n)) << shape.name << " n=" << n;
    }
  }
}

// Decimal-rice only ever makes a block smaller: a walk whose Rice-coded
// differences go just under 3 bytes per value (the packed ones being over)
// still has the dictionary tried, as the packed size calls for. The walk's
// 500 values come twice, the second time rotated, so that the 64-value
// sample sees no repeat (which would have the dictionary tried anyway).
TEST(BlockCodecV2Selection, DecimalRiceNeverKeepsASmallerSchemeOut) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    std::mt19937_64 rng(seed);
    std::exponential_distribution<double> step(1.0 / std::ldexp(1.0, 20) / std::sqrt(2.0));
    std::vector<double> values;
    int64_t digits = 0;
    for (int i = 0; i < 500; ++i) {
      digits += static_cast<int64_t>(step(rng)) * ((rng() & 1) ? 1 : -1);
      values.push_back(Decimal(digits, 2));
    }
    for (int i = 0; i < 500; ++i) values.push_back(values[static_cast<size_t>((i + 7) % 500)]);
    const std::vector<Timestamp> ts = Regular(0, 10, values.size());
    const size_t chosen = RoundTripV2(ts, values).size();
    for (ValueScheme s : {ValueScheme::kDictionary, ValueScheme::kDecimal, ValueScheme::kDecimalRice}) {
      EXPECT_LE(chosen, EncodeBlockWithScheme(ts.data(), values.data(), values.size(), s).size())
          << "seed " << seed << ", " << SchemeName(s);
    }
  }
}

// A few large jumps in a walk of small steps become Rice exceptions instead
// of widening every integer's low part.
TEST(BlockCodecV2Selection, DecimalRiceJumpsBecomeExceptions) {
  std::mt19937_64 rng(5);
  std::geometric_distribution<int> step(0.25);
  std::vector<double> smooth, jumpy;
  int64_t digits = 0;
  for (int i = 0; i < 1000; ++i) {
    const int64_t d = (rng() & 1) ? step(rng) : -step(rng);
    digits += d;
    smooth.push_back(Decimal(digits, 2));
    jumpy.push_back(Decimal(digits + (i >= 300 && i < 700 ? 100000 : 0), 2));
  }
  const std::vector<Timestamp> ts = Regular(0, 10, 1000);
  const std::vector<uint8_t> a = RoundTripV2(ts, smooth);
  const std::vector<uint8_t> b = RoundTripV2(ts, jumpy);
  const size_t at = ValueColumnOffset(b);
  ASSERT_EQ(b[at], kDecimalRice);
  // scheme, flags, exponent, first digits, k, then the exception count.
  EXPECT_EQ(LoadLe(b.data() + at + 12, 4), 2u) << "the two jumps";
  EXPECT_LE(b.size(), a.size() + 2 * (2 + 8 + 1)) << "two exceptions' worth more than the smooth walk";
}

TEST(BlockCodecV2Selection, RegularTimestampsCostUnderOneBit) {
  for (Timestamp start : {Timestamp{0}, kInt64Min, Timestamp{631152000} * kMicrosPerSecond}) {
    for (int64_t step : {int64_t{1}, 10 * kMicrosPerSecond, int64_t{-1}, int64_t{0}}) {
      const size_t n = 1000;
      const std::vector<uint8_t> block = RoundTripV2(Regular(start, step, n), std::vector<double>(n, 1.0));
      const BlockBitUsage usage = MeasureBlock(block.data(), block.size());
      EXPECT_LT(static_cast<double>(usage.timestamp_bits) / n, 1.0) << start << " step " << step;
    }
  }
  // A little jitter stays cheap too: about the bits of the jitter range.
  std::mt19937_64 rng(2);
  const std::vector<Timestamp> ts = MakeTimestamps(1, 1000, &rng);
  const std::vector<uint8_t> block = RoundTripV2(ts, std::vector<double>(1000, 1.0));
  EXPECT_LT(MeasureBlock(block.data(), block.size()).timestamp_bits / 1000.0, 13.0);
}

// ---------------------------------------------------------------- decimal decode paths

// The decimal decoder has a scalar and an AVX2 path (picked by the CPU, not
// by the test), and the AVX2 path does groups of four with a scalar tail. For
// true decimals at every exponent, stored directly and as deltas, in double
// and float32 mode, at lengths of every remainder mod 4, the decoded values
// must be exactly the ones encoded, without needing corrections.
TEST(BlockCodecV2DecimalPaths, ExactAtEveryExponentAndLength) {
  std::mt19937_64 rng(31);
  const ValueScheme decimal = ValueScheme::kDecimal;
  for (int float32 = 0; float32 < 2; ++float32) {
    const unsigned max_e = float32 ? 10 : 18;
    for (unsigned e = 0; e <= max_e; ++e) {
      for (size_t n : {size_t{1}, size_t{2}, size_t{3}, size_t{4}, size_t{5}, size_t{8}, size_t{11}, size_t{1000},
                       size_t{1001}, size_t{1002}, size_t{1003}}) {
        for (int walk = 0; walk < 2; ++walk) {
          // Digits: random (stored directly) or a walk (stored as deltas),
          // never ending in 0 so the exponent is the smallest exact one.
          const int64_t limit = float32 ? 9999999 : 999999999999999;
          std::vector<double> values(n);
          int64_t digits = static_cast<int64_t>(rng() % 1000000);
          for (double& x : values) {
            if (walk) {
              digits += static_cast<int64_t>(rng() % 2001) - 1000;
            } else {
              digits = static_cast<int64_t>(rng() % static_cast<uint64_t>(2 * limit + 1)) - limit;
            }
            if (digits % 10 == 0) digits += 1;
            x = float32 ? Float32Decimal(digits, e) : Decimal(digits, e);
          }
          SCOPED_TRACE(std::string(float32 ? "float32" : "double") + " exponent " + std::to_string(e) +
                       ", n = " + std::to_string(n) + (walk ? ", walk" : ", random"));
          const std::vector<uint8_t> block = RoundTripV2(Regular(0, 1, n), values, &decimal);
          if (HasFatalFailure()) return;
          if (n < 8) continue;
          const size_t at = ValueColumnOffset(block);
          EXPECT_EQ(block[at + 2], e) << "decimal exponent";
          // Float32 integers (exponent 0) are as exact in double mode.
          if (e > 0) {
            EXPECT_EQ(block[at + 1] & kFlagFloat32, float32 ? kFlagFloat32 : 0) << "decimal flags";
          }
          EXPECT_EQ(block[at + 1] & kFlagCorrections, 0) << "decimal flags: corrections for true decimals";
          if (walk && n >= 1000) {
            EXPECT_EQ(block[at + 1] & kFlagDeltas, kFlagDeltas) << "decimal flags";
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------- real data

// Every 1000-point block of every data file (every column of ETTh1)
// round-trips bit for bit through codec 2, and codec 2 takes fewer value bits
// than codec 1 on each series.
TEST(BlockCodecV2RealData, RoundTripAndFewerValueBitsThanCodec1) {
  const std::string dir = test_data::DataDir();
  const char* const files[] = {
      "machine_temperature_system_failure.csv", "cpu_utilization_asg_misconfiguration.csv", "nyc_taxi.csv",
      "ETTh1.csv", "city_temperature_f_tw.bin", "nyc29_tw.bin",
  };
  for (const char* name : files) {
    if (!std::ifstream(dir + name)) GTEST_SKIP() << "data file " << dir << name << " is missing";
  }
  std::vector<std::pair<std::string, test_data::Series>> series;
  for (const char* name : files) {
    const std::string file = name;
    if (file.size() > 4 && file.compare(file.size() - 4, 4, ".csv") == 0) {
      std::vector<std::pair<std::string, test_data::Series>> columns;
      ASSERT_TRUE(test_data::LoadCsv(dir + file, &columns)) << file;
      for (auto& c : columns) series.push_back({columns.size() == 1 ? file : file + ":" + c.first, std::move(c.second)});
    } else {
      test_data::Series p;
      ASSERT_TRUE(test_data::LoadBin(dir + file, &p)) << file;
      series.push_back({file, std::move(p)});
    }
  }
  ASSERT_EQ(series.size(), 12u);  // 3 single-column CSVs, ETTh1's 7 columns, 2 binary files
  for (const auto& [name, p] : series) {
    uint64_t v1_bits = 0, v2_bits = 0, v2_ts_bits = 0;
    std::map<std::string, size_t> schemes;
    for (size_t at = 0; at < p.ts.size(); at += 1000) {
      const size_t n = std::min<size_t>(1000, p.ts.size() - at);
      const std::vector<Timestamp> ts(p.ts.begin() + static_cast<std::ptrdiff_t>(at),
                                      p.ts.begin() + static_cast<std::ptrdiff_t>(at + n));
      const std::vector<double> values(p.values.begin() + static_cast<std::ptrdiff_t>(at),
                                       p.values.begin() + static_cast<std::ptrdiff_t>(at + n));
      SCOPED_TRACE(name + ", block at " + std::to_string(at));
      const std::vector<uint8_t> v2 = RoundTripV2(ts, values);
      if (HasFailure()) return;
      const BlockBitUsage u2 = MeasureBlock(v2.data(), v2.size());
      v2_bits += u2.value_bits;
      v2_ts_bits += u2.timestamp_bits;
      ++schemes[ValueSchemeName(u2.value_scheme)];
      const std::vector<uint8_t> v1 = EncodeBlock(ts.data(), values.data(), n, BlockCodec::kGorillaV1);
      v1_bits += MeasureBlock(v1.data(), v1.size()).value_bits;
    }
    const double points = static_cast<double>(p.ts.size());
    std::string scheme_list;
    for (const auto& [scheme, count] : schemes) scheme_list += " " + scheme + "=" + std::to_string(count);
    char line[256];
    std::snprintf(line, sizeof(line), "%-42s %6.2f bits/value (codec 1: %6.2f)  %5.2f bits/timestamp ", name.c_str(),
                  static_cast<double>(v2_bits) / points, static_cast<double>(v1_bits) / points,
                  static_cast<double>(v2_ts_bits) / points);
    std::cout << "[ info     ] " << line << scheme_list << "\n";
    char value[32];
    std::snprintf(value, sizeof(value), "%.2f", static_cast<double>(v2_bits) / points);
    RecordProperty("v2_bits_per_value_" + name, value);
    EXPECT_LT(v2_bits, v1_bits) << name;
  }
}

// ---------------------------------------------------------------- corruption

// Valid blocks exercising every scheme and the nestings the encoder makes,
// small enough to mutate at every byte.
struct SampleBlock {
  std::string name;
  std::vector<uint8_t> chain;  // expected SchemeChain
  std::vector<uint8_t> block;
};

std::vector<SampleBlock> SampleBlocks() {
  std::mt19937_64 rng(77);
  std::vector<SampleBlock> out;
  auto add = [&](const std::string& name, std::vector<uint8_t> chain, const std::vector<Timestamp>& ts,
                 const std::vector<double>& values, const ValueScheme* forced) {
    out.push_back({name, std::move(chain), RoundTripV2(ts, values, forced)});
  };
  const ValueScheme raw = ValueScheme::kRaw, dictionary = ValueScheme::kDictionary, split = ValueScheme::kSplit,
                    run_length = ValueScheme::kRunLength, xor_scheme = ValueScheme::kXor,
                    decimal = ValueScheme::kDecimal, rice = ValueScheme::kDecimalRice;
  // Full-precision doubles near 1000 (differing in the low 32 bits).
  auto near_1000 = [&]() { return FromBits(Bits(1000.0) ^ (rng() & 0xFFFFFFFF)); };
  add("raw", {kRaw}, MakeTimestamps(1, 3, &rng), RandomPatterns(3, &rng), &raw);
  {
    std::vector<Timestamp> ts = Regular(0, 10, 5);
    ts[3] = -(int64_t{1} << 50);  // two timestamp exceptions
    add("constant", {kConstant}, ts, std::vector<double>(5, -0.0), nullptr);
  }
  {
    std::vector<double> v = TwoDecimalWalk(8, &rng);
    v[3] = -0.0;
    v[6] = FromBits(0xFFF0000000000001ull);
    add("decimal, corrections", {kDecimal}, Regular(0, 10, 8), v, nullptr);
  }
  {
    std::vector<double> v(6);
    for (double& x : v) x = Float32Decimal(static_cast<int64_t>(rng() % 100000), 3);
    add("decimal float32", {kDecimal}, Regular(0, 10, 6), v, &decimal);
  }
  {
    const std::vector<double> pool = {near_1000(), near_1000(), near_1000()};
    std::vector<double> v(6);
    for (size_t i = 0; i < v.size(); ++i) v[i] = pool[i % 3];
    add("dictionary of xor", {kDictionary, kXor}, Regular(0, 10, 6), v, &dictionary);
  }
  {
    const std::vector<double> pool = {near_1000(), FromBits(rng())};
    std::vector<double> v(16);
    for (size_t i = 0; i < v.size(); ++i) v[i] = pool[(i / 2) % 2];
    add("run-length of dictionary", {kRunLength, kDictionary, kRaw}, Regular(0, 10, 16), v, &run_length);
  }
  {
    const double centers[2] = {1.5, -3e6};
    std::vector<double> v(8);
    for (size_t i = 0; i < v.size(); ++i) v[i] = FromBits(Bits(centers[i % 2]) ^ (rng() & 0xFFFFF));
    add("split of dictionary", {kSplit, kDictionary, kRaw}, Regular(0, 10, 8), v, &split);
  }
  add("xor", {kXor}, Regular(0, 10, 4), Smooth(4), &xor_scheme);
  {
    // Rice codes with an escape (a jump), a correction and float32 off.
    std::vector<double> v = TwoDecimalWalk(12, &rng);
    v[5] += 1e9;
    v[9] = FromBits(0x7FF8000000000123ull);
    add("decimal-rice, escape, corrections", {kDecimalRice}, Regular(0, 10, 12), v, &rice);
  }
  {
    std::vector<double> v(7);
    for (double& x : v) x = Float32Decimal(static_cast<int64_t>(rng() % 100000), 3);
    add("decimal-rice float32", {kDecimalRice}, Regular(0, 10, 7), v, &rice);
  }
  return out;
}

TEST(BlockCodecV2Corruption, SampleBlocksUseTheirSchemes) {
  for (const SampleBlock& s : SampleBlocks()) {
    EXPECT_EQ(SchemeChain(s.block), s.chain) << s.name;
    std::cout << "[ info     ] sample block " << s.name << ": " << s.block.size() << " bytes\n";
  }
}

// Every shorter prefix fails; so does every payload cut short with the header
// made consistent (length and CRC fixed), and every extension by a byte.
TEST(BlockCodecV2Corruption, EveryTruncationAndExtensionIsDetected) {
  for (const SampleBlock& s : SampleBlocks()) {
    SCOPED_TRACE(s.name);
    for (size_t len = 0; len < s.block.size(); ++len) {
      ExpectCorrupt(std::vector<uint8_t>(s.block.begin(), s.block.begin() + static_cast<std::ptrdiff_t>(len)));
      if (len < kBlockHeaderSize) continue;
      std::vector<uint8_t> cut(s.block.begin(), s.block.begin() + static_cast<std::ptrdiff_t>(len));
      for (int i = 0; i < 4; ++i) cut[8 + i] = static_cast<uint8_t>((len - kBlockHeaderSize) >> (8 * i));
      FixChecksum(&cut);
      ExpectCorrupt(cut);
      if (HasFailure()) return;
    }
    for (uint8_t extra : {0x00, 0x5A, 0xFF}) {
      std::vector<uint8_t> longer = s.block;
      longer.push_back(extra);
      ExpectCorrupt(longer);  // header says the payload is shorter
      const uint32_t payload = static_cast<uint32_t>(longer.size() - kBlockHeaderSize);
      for (int i = 0; i < 4; ++i) longer[8 + i] = static_cast<uint8_t>(payload >> (8 * i));
      FixChecksum(&longer);
      ExpectCorrupt(longer);
    }
  }
}

// Every byte at every position set to every other value, the checksum fixed
// up afterwards (except when the change is to the checksum): decoding either
// throws DataCorrupted and leaves the outputs empty, or yields `count` points
// that survive a round trip through the encoder. The high count bytes (5-7)
// are changed in the first block only: each such change makes the decoder
// size its outputs for up to a million points before it can look at the
// payload, which takes about a millisecond here.
TEST(BlockCodecV2Corruption, EverySingleByteChangeFailsCleanlyOrDecodesConsistently) {
  size_t decoded = 0, rejected = 0;
  bool first = true;
  for (const SampleBlock& s : SampleBlocks()) {
    SCOPED_TRACE(s.name);
    for (size_t pos = 0; pos < s.block.size(); ++pos) {
      if (!first && pos >= 5 && pos < 8) continue;
      for (unsigned value = 0; value < 256; ++value) {
        if (value == s.block[pos]) continue;
        std::vector<uint8_t> b = s.block;
        b[pos] = static_cast<uint8_t>(value);
        if (pos < 12 || pos >= 16) FixChecksum(&b);
        std::vector<Timestamp> ts{1, 2, 3};
        std::vector<double> values{4.5};
        try {
          DecodeBlock(b.data(), b.size(), &ts, &values);
        } catch (const Error& e) {
          ++rejected;
          if (e.category() != ErrorCategory::DataCorrupted || !ts.empty() || !values.empty()) {
            ADD_FAILURE() << "byte " << pos << " = " << value << ": " << e.what() << " | " << e.detail()
                          << " (outputs " << ts.size() << ", " << values.size() << ")";
            return;
          }
          continue;
        } catch (const std::exception& e) {
          ADD_FAILURE() << "byte " << pos << " = " << value << ": not an aegis::core::Error: " << e.what();
          return;
        }
        // Version and reserved bytes must never pass; codec byte 1 (Gorilla)
        // may, by chance, read the payload as some valid codec 1 points.
        ASSERT_TRUE(pos >= 4 || (pos == 1 && value == 1)) << "byte " << pos << " = " << value << " decoded";
        const uint64_t count = LoadLe(b.data() + 4, 4);
        ASSERT_EQ(ts.size(), count) << "byte " << pos << " = " << value;
        ASSERT_EQ(values.size(), count) << "byte " << pos << " = " << value;
        // Re-encode: every time through the (cheap) raw scheme, every 64th time
        // through the automatic choice as well (about 100 us per block in a
        // sanitizer build).
        const std::vector<uint8_t> again = EncodeBlockWithScheme(ts.data(), values.data(), ts.size(), ValueScheme::kRaw);
        const Points p = Decode(again);
        ASSERT_EQ(p.ts, ts) << "byte " << pos << " = " << value;
        ExpectSameBits(values, p.values);
        if (decoded++ % 64 == 0) {
          SCOPED_TRACE("byte " + std::to_string(pos) + " = " + std::to_string(value));
          RoundTripV2(ts, values);
        }
        if (HasFailure()) return;
      }
    }
    first = false;
  }
  std::cout << "[ info     ] single-byte changes: " << rejected << " rejected, " << decoded
            << " decoded to other points\n";
  EXPECT_GT(rejected, 0u);
  EXPECT_GT(decoded, 0u);
}

// A payload of n points with regular timestamps and the given value column.
std::vector<uint8_t> BlockWithValues(uint32_t n, const Bytes& column) {
  Bytes payload;
  RegularTimestamps(&payload, n).Raw(column.data);
  return MakeV2Block(n, payload);
}

// Expects a hand-built block to decode to `expected` values.
void ExpectValues(const std::vector<uint8_t>& block, const std::vector<double>& expected) {
  Points p;
  try {
    p = Decode(block);
  } catch (const Error& e) {
    ADD_FAILURE() << "valid twin failed: " << e.what() << " | " << e.detail();
    return;
  }
  ExpectSameBits(expected, p.values);
}

// The header checks of docs/block-format.md, section 4, as they apply to
// codec 2 blocks (check 9: a codec 2 payload has at least 10 bytes).
TEST(BlockCodecV2Corruption, HeaderChecks) {
  Bytes ten;
  ten.U8(0).U64(0).U8(kConstant);
  Bytes nine;
  nine.U8(0).U64(0);
  ExpectCorrupt(MakeV2Block(1, nine), "corrupt time-series block header");
  ExpectCorrupt(MakeV2Block(1, ten), "corrupt time-series block payload");  // passes the header, not 6.9
  Bytes one;
  one.U8(0).U64(0).U8(kConstant).F64(4.0);
  const std::vector<uint8_t> good = MakeV2Block(1, one);
  ExpectValues(good, {4.0});
  for (uint8_t codec : {0, 3, 255}) {
    std::vector<uint8_t> b = good;
    b[1] = codec;
    FixChecksum(&b);
    ExpectCorrupt(b, "unknown time-series block codec " + std::to_string(codec));
  }
  for (uint32_t count : {0u, 2u, 1000001u}) {
    std::vector<uint8_t> b = good;
    for (int i = 0; i < 4; ++i) b[4 + i] = static_cast<uint8_t>(count >> (8 * i));
    FixChecksum(&b);
    ExpectCorrupt(b, count == 2 ? "corrupt time-series block payload" : "corrupt time-series block header");
  }
  std::vector<uint8_t> b = good;
  b[kBlockHeaderSize + 10] ^= 0x40;  // inside the constant, checksum left alone
  ExpectCorrupt(b, "checksum mismatch");
}

// Each rule of the packed integer sequence, on dictionary indices (4 values,
// dictionary of 2) and on timestamp deltas.
TEST(BlockCodecV2Corruption, CraftedPackedSequences) {
  const std::vector<double> dict = {-1.0, 2.0};
  auto dictionary_block = [&](uint8_t width, uint32_t claimed_exceptions, std::vector<uint64_t> offsets,
                              std::vector<Exception> exceptions) {
    Bytes c;
    c.U8(kDictionary).U32(2).U8(kRaw).F64(dict[0]).F64(dict[1]);
    c.U8(width).U64(0).U32(claimed_exceptions).Raw(ReferencePack(offsets, std::min<unsigned>(width, 64)));
    for (const Exception& e : exceptions) c.U16(e.position);
    for (const Exception& e : exceptions) c.U64(e.value);
    return BlockWithValues(4, c);
  };
  // The valid twin: indices 1, 0 (exception), 0, 1 (exception at the end).
  ExpectValues(dictionary_block(1, 2, {1, 0, 0, 0}, {{1, 0}, {3, 1}}), {2.0, -1.0, -1.0, 2.0});
  ExpectCorrupt(dictionary_block(65, 0, {1, 0, 0, 0}, {}), "65 bits per integer");
  ExpectCorrupt(dictionary_block(255, 0, {1, 0, 0, 0}, {}), "255 bits per integer");
  ExpectCorrupt(dictionary_block(1, 5, {1, 0, 0, 0}, {{0, 0}, {1, 0}, {2, 0}, {3, 0}, {3, 0}}),
                "5 exceptions among 4");
  ExpectCorrupt(dictionary_block(1, 0xFFFFFFFF, {1, 0, 0, 0}, {}), "4294967295 exceptions among 4");
  ExpectCorrupt(dictionary_block(1, 2, {1, 0, 0, 0}, {{1, 0}, {1, 1}}), "exception at position 1");
  ExpectCorrupt(dictionary_block(1, 2, {1, 0, 0, 0}, {{3, 0}, {1, 1}}), "exception at position 1");
  ExpectCorrupt(dictionary_block(1, 1, {1, 0, 0, 0}, {{4, 0}}), "exception at position 4");
  ExpectCorrupt(dictionary_block(1, 1, {1, 0, 0, 0}, {{65535, 0}}), "positions must rise and stay below 4");
  // Exceptions announced but their positions/values cut off.
  ExpectCorrupt(dictionary_block(1, 2, {1, 0, 0, 0}, {{1, 0}}), "The payload ends inside");
  // An index past the dictionary, packed or as an exception.
  ExpectCorrupt(dictionary_block(2, 0, {1, 0, 2, 0}, {}), "Dictionary index 2");
  ExpectCorrupt(dictionary_block(1, 1, {1, 0, 0, 0}, {{2, 0xFFFFFFFFFFFFFFFFull}}), "Dictionary index");

  // Timestamp deltas: width 65 and exceptions past the deltas.
  auto timestamp_block = [](uint8_t width, std::vector<Exception> exceptions, size_t position_bytes) {
    Bytes p;
    p.U8(0).U64(1000).U8(width).U64(10).U32(exceptions.size()).Raw(ReferencePack({0, 0}, std::min<unsigned>(width, 64)));
    for (const Exception& e : exceptions) p.Le(e.position, static_cast<int>(position_bytes));
    for (const Exception& e : exceptions) p.U64(e.value);
    p.U8(kConstant).F64(1.0);
    return MakeV2Block(3, p);
  };
  EXPECT_EQ(Decode(timestamp_block(1, {{1, 5}}, 2)).ts, (std::vector<Timestamp>{1000, 1010, 1015}));
  ExpectCorrupt(timestamp_block(65, {}, 2), "65 bits per integer");
  ExpectCorrupt(timestamp_block(1, {{2, 5}}, 2), "exception at position 2");
  // 4-byte positions where 2 are due: the bytes no longer line up.
  ExpectCorrupt(timestamp_block(1, {{1, 5}}, 4));
}

// Each rule of the value schemes, next to a valid twin that differs only in
// the field under test.
TEST(BlockCodecV2Corruption, CraftedValueSchemes) {
  // Dictionary size.
  auto dictionary = [](uint32_t size, uint32_t n) {
    Bytes c;
    c.U8(kDictionary).U32(size).U8(kConstant).F64(2.0);
    Packed(&c, 0, 0, std::vector<uint64_t>(n, 0));
    return BlockWithValues(n, c);
  };
  ExpectValues(dictionary(1, 4), {2.0, 2.0, 2.0, 2.0});
  ExpectCorrupt(dictionary(0, 4), "A dictionary of 0 values for 4 values");
  ExpectCorrupt(dictionary(5, 4), "A dictionary of 5 values for 4 values");
  ExpectCorrupt(dictionary(0xFFFFFFFF, 4), "A dictionary of 4294967295 values");

  // Run lengths.
  auto runs = [](std::vector<uint64_t> lengths, uint32_t n, uint32_t claimed_runs) {
    Bytes c;
    c.U8(kRunLength).U32(claimed_runs).U8(kConstant).F64(3.0);
    Packed(&c, 8, 0, lengths);
    return BlockWithValues(n, c);
  };
  ExpectValues(runs({3, 1}, 4, 2), {3.0, 3.0, 3.0, 3.0});
  ExpectCorrupt(runs({2, 1}, 4, 2), "The runs hold 3 values, not 4");
  ExpectCorrupt(runs({3, 2}, 4, 2), "The runs hold 5 values, not 4");
  ExpectCorrupt(runs({4, 0}, 4, 2), "A run of 0 values");
  ExpectCorrupt(runs({}, 4, 0), "0 runs cannot make 4 values");
  ExpectCorrupt(runs({1, 1, 1, 1, 0}, 4, 5), "5 runs cannot make 4 values");
  {
    // Lengths that wrap around 2^64 to the right sum.
    Bytes c;
    c.U8(kRunLength).U32(2).U8(kConstant).F64(3.0);
    Packed(&c, 64, 0, {5, 0xFFFFFFFFFFFFFFFFull});
    ExpectCorrupt(BlockWithValues(4, c), "A run of");
  }

  // Nesting: a dictionary inside a dictionary is allowed, one more level not.
  auto nested = [](uint8_t inner, uint8_t innermost) {
    Bytes c;
    c.U8(kDictionary).U32(1);
    if (inner == kDictionary) {
      c.U8(kDictionary).U32(1);
      if (innermost == kDictionary) {
        c.U8(kDictionary).U32(1).U8(kConstant).F64(9.0);
        Packed(&c, 0, 0, {0});
      } else if (innermost == kSplit) {
        c.U8(kSplit).U8(4).U8(kConstant).U64(Bits(9.0) >> 4);
        Packed(&c, 4, 0, {Bits(9.0) & 15});
      } else if (innermost == kRunLength) {
        c.U8(kRunLength).U32(1).U8(kConstant).F64(9.0);
        Packed(&c, 1, 0, {1});
      } else {
        c.U8(kConstant).F64(9.0);
      }
      Packed(&c, 0, 0, {0});
    } else {
      // split -> split -> ...
      c.U8(kSplit).U8(4);
      if (innermost == kSplit) {
        c.U8(kSplit).U8(4).U8(kConstant).U64(Bits(9.0) >> 8);
        Packed(&c, 4, 0, {(Bits(9.0) >> 4) & 15});
      } else {
        c.U8(kConstant).U64(Bits(9.0) >> 4);
      }
      Packed(&c, 4, 0, {Bits(9.0) & 15});
    }
    Packed(&c, 0, 0, {0, 0});
    return BlockWithValues(2, c);
  };
  ExpectValues(nested(kDictionary, kConstant), {9.0, 9.0});
  ExpectValues(nested(kSplit, kConstant), {9.0, 9.0});
  ExpectCorrupt(nested(kDictionary, kDictionary), "Value scheme 3 nested too deep");
  ExpectCorrupt(nested(kDictionary, kSplit), "Value scheme 5 nested too deep");
  ExpectCorrupt(nested(kDictionary, kRunLength), "Value scheme 4 nested too deep");
  ExpectCorrupt(nested(kSplit, kSplit), "Value scheme 5 nested too deep");

  // Decimal-rice (scheme 7): flags, exponent 2, first digits, RICE(n - 1).
  auto rice = [](uint8_t flags, uint64_t first, const Bytes& codes, uint32_t n) {
    Bytes c;
    c.U8(kDecimalRice).U8(flags).U8(2).U64(first).Raw(codes.data);
    return BlockWithValues(n, c);
  };
  auto codes = [](const std::vector<uint64_t>& u, unsigned k) {
    Bytes b;
    ReferenceRice(&b, u, k);
    return b;
  };
  // The example of section 6.4.1: differences +2, -3, +6 of 6.7's digits,
  // zigzag 4, 5, 12, k = 2.
  EXPECT_EQ(codes({4, 5, 12}, 2).data, (std::vector<uint8_t>{0x02, 0, 0, 0, 0, 0x04, 0x01, 0, 0, 0, 0x8A}));
  ExpectValues(rice(kFlagDeltas, 2345, codes({4, 5, 12}, 2), 4), {23.45, 23.47, 23.44, 23.50});
  // k = 0 (quotients only), long quotients, and exceptions.
  ExpectValues(rice(kFlagDeltas, 100, codes({0, 1, 2, 31}, 0), 5), {1.00, 1.00, 0.99, 1.00, 0.84});
  ExpectValues(rice(kFlagDeltas, 100, codes({ZigZag64(uint64_t{1} << 40), 256, ZigZag64(-(uint64_t{1} << 40))}, 3), 4),
               {1.00, Decimal(100 + (int64_t{1} << 40), 2), Decimal(100 + (int64_t{1} << 40) + 128, 2), 2.28});
  {
    // A quotient of 40 zero bits is allowed (the encoder would write an
    // exception), and at k = 63 a quotient of 2 shifts out of 64 bits and
    // wraps: 2 * 2^63 + 3 = 3.
    Bytes b;
    RiceParts(&b, 0, {0}, {0, 0, 0, 0, 0, 0x01});
    ExpectValues(rice(kFlagDeltas, 100, b, 2), {1.00, 1.20});
    Bytes w;
    RiceParts(&w, 63, {3}, {0x04});
    ExpectValues(rice(kFlagDeltas, 100, w, 2), {1.00, 0.98});
    // An exception's slot holds anything; the exception wins.
    Bytes x;
    RiceParts(&x, 2, {3, 1}, {0x48}, {{0, 2}});
    ExpectValues(rice(kFlagDeltas, 100, x, 3), {1.00, 1.01, 0.96});
  }
  ExpectValues(rice(kFlagDeltas | kFlagFloat32, 1, codes({2}, 1), 2),
               {static_cast<double>(1.0f / 100.0f), static_cast<double>(2.0f / 100.0f)});
  ExpectCorrupt(rice(0, 2345, codes({4, 5, 12}, 2), 4), "Rice-coded decimal digits without the deltas flag");
  ExpectCorrupt(rice(kFlagDeltas | 8, 2345, codes({4, 5, 12}, 2), 4), "Unknown decimal flags 9");
  ExpectCorrupt(rice(kFlagDeltas, 2345, codes({}, 2), 1), "A single decimal value cannot be stored as deltas");
  ExpectCorrupt(rice(kFlagDeltas, uint64_t{1} << 51, codes({4, 5, 12}, 2), 4), "outside [-2^51, 2^51)");
  {
    Bytes b;
    RiceParts(&b, 64, {}, {});
    ExpectCorrupt(rice(kFlagDeltas, 100, b, 2), "claim 64 low bits per integer");
  }
  {
    Bytes b;
    RiceParts(&b, 2, {0, 1, 0}, {0x8A}, {{0, 1}, {1, 1}, {2, 1}, {2, 1}});
    ExpectCorrupt(rice(kFlagDeltas, 100, b, 4), "claim 4 exceptions among 3 integers");
  }
  for (const std::vector<Exception>& bad : {std::vector<Exception>{{3, 1}}, std::vector<Exception>{{1, 1}, {1, 2}},
                                            std::vector<Exception>{{2, 1}, {0, 2}}}) {
    Bytes b;
    RiceParts(&b, 2, {0, 1, 0}, {0x8A}, bad);
    ExpectCorrupt(rice(kFlagDeltas, 100, b, 4), "positions must rise and stay below 3");
  }
  {
    Bytes b;  // the stream length runs past the payload
    b.U8(2).U32(0).Raw({0x04}).U32(2).Raw({0x8A});
    ExpectCorrupt(rice(kFlagDeltas, 100, b, 4), "The payload ends inside");
  }
  for (const std::vector<uint8_t>& stream : {std::vector<uint8_t>{0x0A}, std::vector<uint8_t>{}, std::vector<uint8_t>{0, 0}}) {
    Bytes b;  // fewer than 3 one bits
    RiceParts(&b, 2, {0, 1, 0}, stream);
    ExpectCorrupt(rice(kFlagDeltas, 100, b, 4), "one bits");
    ExpectCorruptCutAt(rice(kFlagDeltas, 100, b, 4), 1010);
  }
  for (const std::vector<uint8_t>& stream : {std::vector<uint8_t>{0x8A, 0x00}, std::vector<uint8_t>{0x8A, 0x01},
                                             std::vector<uint8_t>{0xAA}, std::vector<uint8_t>{0x8A, 0, 0, 0, 0, 0, 0, 0, 0}}) {
    Bytes b;  // bits after the third one bit: a byte too many, or a fourth one
    RiceParts(&b, 2, {0, 1, 0}, stream);
    ExpectCorrupt(rice(kFlagDeltas, 100, b, 4), "bits after the last quotient");
    ExpectCorruptCutAt(rice(kFlagDeltas, 100, b, 4), 1010);
  }

  // Unknown schemes.
  ExpectValues(BlockWithValues(1, Bytes().U8(kConstant).F64(1.0)), {1.0});
  for (uint8_t id : {8, 9, 128, 255}) {
    ExpectCorrupt(BlockWithValues(1, Bytes().U8(id).F64(1.0)), "Unknown value scheme " + std::to_string(id));
  }
  for (uint8_t id : {1, 2, 255}) {
    Bytes p;
    p.U8(id).U64(0).U8(kConstant).F64(1.0);
    ExpectCorrupt(MakeV2Block(1, p), "Unknown timestamp scheme " + std::to_string(id));
  }

  // Decimal flags and exponents.
  auto decimal = [](uint8_t flags, uint8_t exponent) {
    Bytes c;
    c.U8(kDecimal).U8(flags).U8(exponent);
    Packed(&c, 4, 5, {0, 7});
    return BlockWithValues(2, c);
  };
  ExpectValues(decimal(0, 0), {5.0, 12.0});
  ExpectValues(decimal(0, 18), {5e-18, 12e-18});
  ExpectValues(decimal(kFlagFloat32, 10), {static_cast<double>(5.0f / 1e10f), static_cast<double>(12.0f / 1e10f)});
  for (uint8_t flags : {8, 16, 128, 255}) {
    ExpectCorrupt(decimal(flags, 1), "Unknown decimal flags " + std::to_string(flags));
  }
  ExpectCorrupt(decimal(0, 19), "Decimal exponent 19 is out of range");
  ExpectCorrupt(decimal(0, 255), "Decimal exponent 255 is out of range");
  ExpectCorrupt(decimal(kFlagFloat32, 11), "Decimal exponent 11 is out of range");
  {
    // Deltas need at least two values.
    Bytes c;
    c.U8(kDecimal).U8(kFlagDeltas).U8(1).U64(5);
    ExpectCorrupt(BlockWithValues(1, c), "single decimal value");
  }
  {
    // Corrections announced but missing.
    Bytes c;
    c.U8(kDecimal).U8(kFlagCorrections).U8(1);
    Packed(&c, 4, 5, {0, 7});
    ExpectCorrupt(BlockWithValues(2, c), "decimal corrections");
  }

  // Decimal digits must satisfy -2^51 <= G < 2^51 (section 6.9), checked
  // in the vector groups of four and in the scalar tail alike, directly, as
  // running sums of deltas, and in float32 mode.
  {
    const uint64_t lowest = static_cast<uint64_t>(-(int64_t{1} << 51));
    const uint64_t limit = uint64_t{1} << 51;
    auto digits_block = [](uint8_t flags, const std::vector<uint64_t>& digits) {
      Bytes c;
      c.U8(kDecimal).U8(flags).U8(flags & kFlagFloat32 ? 1 : 3);
      if (flags & kFlagDeltas) {
        c.U64(digits[0]);
        std::vector<uint64_t> differences;
        for (size_t i = 1; i < digits.size(); ++i) differences.push_back(digits[i] - digits[i - 1]);
        Packed(&c, 64, 0, differences);
      } else {
        Packed(&c, 64, 0, digits);
      }
      return BlockWithValues(static_cast<uint32_t>(digits.size()), c);
    };
    for (size_t m : {size_t{3}, size_t{9}}) {
      for (size_t at : {size_t{0}, size_t{2}, m - 1}) {  // m = 9: in a group (0, 2) and in the tail (8)
        for (uint8_t flags : {uint8_t{0}, kFlagDeltas, kFlagFloat32, uint8_t{kFlagFloat32 | kFlagDeltas}}) {
          SCOPED_TRACE("m = " + std::to_string(m) + ", digit " + std::to_string(at) + ", flags " +
                       std::to_string(flags));
          std::vector<uint64_t> digits(m, 7);
          digits[at] = lowest;
          const double x = static_cast<double>(-(int64_t{1} << 51));
          std::vector<double> expected(m, flags & kFlagFloat32 ? static_cast<double>(7.0f / 10.0f) : 0.007);
          expected[at] = flags & kFlagFloat32 ? static_cast<double>(static_cast<float>(x) / 10.0f) : x / 1000.0;
          ExpectValues(digits_block(flags, digits), expected);
          digits[at] = limit;
          ExpectCorrupt(digits_block(flags, digits), "Decimal digits lie outside");
          digits[at] = lowest - 1;
          ExpectCorrupt(digits_block(flags, digits), "Decimal digits lie outside");
          digits[at] = ~uint64_t{0} >> 1;
          ExpectCorrupt(digits_block(flags, digits), "Decimal digits lie outside");
        }
      }
    }
  }

  // An XOR record whose window has leading + length > 64: 1.0, then '11',
  // leading 31, length 64.
  {
    Bytes c;
    c.U8(kXor).U32(8 + 9).U64(0).Raw({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF});
    ExpectCorrupt(BlockWithValues(2, c), "over 64");
  }

  // Split widths.
  auto split = [](uint8_t shift) {
    Bytes c;
    const unsigned s = std::min<unsigned>(shift, 63);
    c.U8(kSplit).U8(shift).U8(kConstant).U64(s == 0 ? Bits(6.5) : Bits(6.5) >> s);
    Packed(&c, s, 0, {s == 0 ? 0 : Bits(6.5) & LowBitsMask(s)});
    return BlockWithValues(1, c);
  };
  ExpectValues(split(1), {6.5});
  ExpectValues(split(63), {6.5});
  ExpectCorrupt(split(0), "A split at bit 0");
  ExpectCorrupt(split(64), "A split at bit 64");
  ExpectCorrupt(split(255), "A split at bit 255");

  // Trailing bytes after the value column.
  ExpectCorrupt(BlockWithValues(1, Bytes().U8(kConstant).F64(1.0).U8(0)), "1 bytes before the end of the payload");
  ExpectCorrupt(BlockWithValues(2, Bytes().U8(kRaw).F64(1.0).F64(2.0).U64(0)),
                "8 bytes before the end of the payload");

  // XOR stream length.
  const std::vector<uint8_t> stream = {0x3F, 0xF0, 0, 0, 0, 0, 0, 0, 0x61, 0x2F, 0xFF, 0xC0};
  auto xor_block = [&](uint32_t length, size_t extra) {
    Bytes c;
    c.U8(kXor).U32(length).Raw(stream);
    for (size_t i = 0; i < extra; ++i) c.U8(0);
    return BlockWithValues(3, c);
  };
  ExpectValues(xor_block(12, 0), {1.0, 1.0, 3.0});
  ExpectCorrupt(xor_block(13, 0), "XOR stream");
  ExpectCorrupt(xor_block(0xFFFFFFFF, 0), "XOR stream");
  ExpectCorrupt(xor_block(11, 0), "");          // stream ends inside the last value
  ExpectCorrupt(xor_block(13, 1), "does not end with its last value");
  {
    // A non-zero bit among the 6 padding bits of the last byte.
    std::vector<uint8_t> padded = stream;
    padded.back() |= 0x01;
    Bytes c;
    c.U8(kXor).U32(12).Raw(padded);
    ExpectCorrupt(BlockWithValues(3, c), "does not end with its last value");
  }
  ExpectCorrupt(xor_block(12, 1), "1 bytes before the end of the payload");

  // Raw values cut off.
  ExpectCorrupt(BlockWithValues(3, Bytes().U8(kRaw).F64(1.0).F64(2.0)), "raw values");
}

// ---------------------------------------------------------------- bit packing

// Unpacks from an exactly-sized heap buffer into an exactly-sized output, so
// AddressSanitizer reports any byte read or written outside them.
std::vector<uint64_t> Unpack(const std::vector<uint8_t>& packed, size_t n, unsigned w, uint64_t base) {
  const std::vector<uint8_t> exact(packed.begin(), packed.end());
  std::unique_ptr<uint64_t[]> out(new uint64_t[n == 0 ? 1 : n]);
  UnpackBits(exact.data(), n, w, base, out.get());
  return std::vector<uint64_t>(out.get(), out.get() + n);
}

TEST(BitPack, RoundTripEveryWidthAndCount) {
  std::mt19937_64 rng(42);
  std::vector<size_t> counts;
  for (size_t n = 0; n <= 70; ++n) counts.push_back(n);
  counts.push_back(1000);
  for (unsigned w = 0; w <= 64; ++w) {
    for (size_t n : counts) {
      // Random values of w bits, with the extremes 0 and 2^w - 1 included.
      std::vector<uint64_t> v(n);
      for (size_t i = 0; i < n; ++i) v[i] = rng() & LowBitsMask(w);
      if (n > 0) v[0] = LowBitsMask(w);
      if (n > 1) v[n - 1] = LowBitsMask(w);
      if (n > 2) v[n / 2] = 0;
      ASSERT_EQ(PackedBytes(n, w), (n * w + 7) / 8);
      std::unique_ptr<uint8_t[]> packed(new uint8_t[PackedBytes(n, w) + 1]);
      std::memset(packed.get(), 0xA5, PackedBytes(n, w) + 1);
      PackBits(v.data(), n, w, packed.get());
      ASSERT_EQ(packed[PackedBytes(n, w)], 0xA5) << "PackBits wrote past its bytes, w=" << w << " n=" << n;
      const std::vector<uint8_t> bytes(packed.get(), packed.get() + PackedBytes(n, w));
      ASSERT_EQ(bytes, ReferencePack(v, w)) << "w=" << w << " n=" << n;
      ASSERT_EQ(Unpack(bytes, n, w, 0), v) << "w=" << w << " n=" << n;
      // A base is added modulo 2^64.
      const uint64_t base = 0xFFFFFFFFFFFFFF00ull + w;
      const std::vector<uint64_t> shifted = Unpack(bytes, n, w, base);
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(shifted[i], v[i] + base) << "w=" << w << " n=" << n << " i=" << i;
    }
  }
}

// Width 3, worked by hand: 5, 3, 7, 0, 6 occupy bits 0-2, 3-5, 6-8, 9-11,
// 12-14, i.e. 101 | 011<<3 | 111<<6 | 000<<9 | 110<<12 = 0b0110'0001'1101'1101:
// byte 0 = 0xDD (1,0,1 / 1,1,0 / 1,1 read from bit 0), byte 1 = 0x61 (the top
// bit of 7, three zero bits, 0,1,1, and the unused bit 15 zero).
TEST(BitPack, WidthThreeLayoutByHand) {
  const std::vector<uint64_t> v = {5, 3, 7, 0, 6};
  std::vector<uint8_t> packed(PackedBytes(v.size(), 3));
  ASSERT_EQ(packed.size(), 2u);
  PackBits(v.data(), v.size(), 3, packed.data());
  EXPECT_EQ(packed, (std::vector<uint8_t>{0xDD, 0x61}));
  EXPECT_EQ(Unpack({0xDD, 0x61}, 5, 3, 0), v);
  // Eight more values fill three bytes exactly: 1..7 then 1.
  const std::vector<uint64_t> eight = {1, 2, 3, 4, 5, 6, 7, 1};
  std::vector<uint8_t> three(3);
  PackBits(eight.data(), eight.size(), 3, three.data());
  // 001 010 011 100 101 110 111 001 from bit 0: 0xD1, 0x58, 0x3F.
  EXPECT_EQ(three, (std::vector<uint8_t>{0xD1, 0x58, 0x3F}));
  EXPECT_EQ(Unpack(three, 8, 3, 0), eight);
  // The example of docs/block-format.md, section 6.1: 1, 3, 0, 6 -> 0x19 0x0c.
  const std::vector<uint64_t> spec = {1, 3, 0, 6};
  std::vector<uint8_t> two(2);
  PackBits(spec.data(), spec.size(), 3, two.data());
  EXPECT_EQ(two, (std::vector<uint8_t>{0x19, 0x0c}));
}

TEST(BitPack, WidthHelpers) {
  EXPECT_EQ(BitWidth(0), 0u);
  EXPECT_EQ(BitWidth(1), 1u);
  EXPECT_EQ(BitWidth(255), 8u);
  EXPECT_EQ(BitWidth(256), 9u);
  EXPECT_EQ(BitWidth(~uint64_t{0}), 64u);
  EXPECT_EQ(LowBitsMask(0), 0u);
  EXPECT_EQ(LowBitsMask(1), 1u);
  EXPECT_EQ(LowBitsMask(63), 0x7FFFFFFFFFFFFFFFull);
  EXPECT_EQ(LowBitsMask(64), ~uint64_t{0});
  EXPECT_EQ(PackedBytes(0, 64), 0u);
  EXPECT_EQ(PackedBytes(1, 1), 1u);
  EXPECT_EQ(PackedBytes(8, 1), 1u);
  EXPECT_EQ(PackedBytes(9, 1), 2u);
  EXPECT_EQ(PackedBytes(3, 64), 24u);
}

}  // namespace
}  // namespace aegis::core
