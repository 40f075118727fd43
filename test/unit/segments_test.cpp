// Segment summaries (src/core/segments.h): what EncodeSegments keeps, that
// DecodeSegments gives back exactly the summaries of the block's points per
// slot, and that corrupt bytes are refused, never read out of bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/block_codec.h"
#include "core/error.h"
#include "core/segments.h"

namespace aegis::core {
namespace {

constexpr Timestamp kSecond = 1'000'000;

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// The summaries of the points in each slot of `span`, computed directly.
std::vector<BlockSummary> SlotSummaries(const std::vector<Timestamp>& ts, const std::vector<double>& v, Timestamp span) {
  std::vector<BlockSummary> out;
  for (size_t begin = 0; begin < ts.size();) {
    const Timestamp slot = static_cast<Timestamp>(std::floor(static_cast<long double>(ts[begin]) / span));
    size_t end = begin;
    while (end < ts.size() && static_cast<Timestamp>(std::floor(static_cast<long double>(ts[end]) / span)) == slot) ++end;
    out.push_back(SummarizePoints(ts.data() + begin, v.data() + begin, end - begin));
    begin = end;
  }
  return out;
}

void ExpectSegments(const std::vector<Timestamp>& ts, const std::vector<double>& v, Timestamp span) {
  const std::vector<uint8_t> bytes = EncodeSegments(ts.data(), v.data(), ts.size());
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(kSegmentSpans[bytes[1]], span);
  const BlockSummary block = SummarizePoints(ts.data(), v.data(), ts.size());
  const std::vector<BlockSummary> got = DecodeSegments(bytes.data(), bytes.size(), block);
  const std::vector<BlockSummary> want = SlotSummaries(ts, v, span);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].count, want[i].count) << i;
    EXPECT_EQ(got[i].ts_min, want[i].ts_min) << i;
    EXPECT_EQ(got[i].ts_max, want[i].ts_max) << i;
    EXPECT_TRUE(SameBits(got[i].sum, want[i].sum)) << i;
    EXPECT_TRUE(SameBits(got[i].min, want[i].min)) << i;
    EXPECT_TRUE(SameBits(got[i].max, want[i].max)) << i;
    EXPECT_TRUE(SameBits(got[i].first, want[i].first)) << i;
    EXPECT_TRUE(SameBits(got[i].last, want[i].last)) << i;
  }
}

TEST(SegmentsTest, TenSecondSeriesGetsHourSegmentsWithDecimalValues) {
  std::mt19937_64 rng(7);
  std::vector<Timestamp> ts;
  std::vector<double> v;
  // 1,000 points every 10 s from 00:07:13 (not on an hour): 4 segments.
  double walk = 5000;
  for (int i = 0; i < 1000; ++i) {
    ts.push_back(433 * kSecond + i * 10 * kSecond);
    walk += static_cast<double>(static_cast<int>(rng() % 201) - 100);
    v.push_back(walk / 100.0);
  }
  ExpectSegments(ts, v, 3600 * kSecond);
  const std::vector<uint8_t> bytes = EncodeSegments(ts.data(), v.data(), ts.size());
  EXPECT_EQ(bytes[2], 6);  // time offsets in whole seconds
  EXPECT_EQ(bytes[3], 2);  // two decimals
  EXPECT_LT(bytes.size(), 4u * 24);  // about 20 bytes a segment
  // The span read from the header alone, as readers check it before decoding.
  EXPECT_EQ(SegmentSpanOf(bytes.data(), bytes.size()), 3600 * kSecond);
}

TEST(SegmentsTest, SpanOfABadHeaderIsZero) {
  const uint8_t good[] = {1, 3, 6, 2, 0, 0, 0, 0};
  EXPECT_EQ(SegmentSpanOf(good, sizeof good), 3600 * kSecond);
  EXPECT_EQ(SegmentSpanOf(good, 5), 0);  // shorter than a header and checksum
  const uint8_t version[] = {2, 3, 6, 2, 0, 0, 0, 0};
  EXPECT_EQ(SegmentSpanOf(version, sizeof version), 0);
  const uint8_t span[] = {1, static_cast<uint8_t>(kSegmentSpanCount), 6, 2, 0, 0, 0, 0};
  EXPECT_EQ(SegmentSpanOf(span, sizeof span), 0);
}

TEST(SegmentsTest, RawDoublesNegativeTimesAndGaps) {
  std::mt19937_64 rng(11);
  std::vector<Timestamp> ts;
  std::vector<double> v;
  // Before 2000 (negative timestamps), 1 s apart, with an empty slot between.
  for (int i = 0; i < 700; ++i) {
    ts.push_back(-10'000 * kSecond + i * kSecond + (i >= 350 ? 400 * kSecond : 0));
    const uint64_t bits = rng();
    double x;
    std::memcpy(&x, &bits, sizeof x);
    v.push_back(i % 50 == 0 ? std::numeric_limits<double>::quiet_NaN() : (i % 7 == 0 ? -0.0 : x));
  }
  const std::vector<uint8_t> bytes = EncodeSegments(ts.data(), v.data(), ts.size());
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(bytes[3], 255);  // raw doubles
  ExpectSegments(ts, v, kSegmentSpans[bytes[1]]);
}

TEST(SegmentsTest, OneValueThatIsNoDecimalMakesTheValuesRaw) {
  for (double odd : {-0.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(), 1e300,
                     0.1 + 0.2}) {
    std::vector<Timestamp> ts;
    std::vector<double> v;
    for (int i = 0; i < 1000; ++i) {
      ts.push_back(i * 10 * kSecond);
      v.push_back(i == 720 ? odd : (i % 37) * 0.25);  // the first point of the third hour
    }
    const std::vector<uint8_t> bytes = EncodeSegments(ts.data(), v.data(), ts.size());
    ASSERT_FALSE(bytes.empty());
    EXPECT_EQ(bytes[3], 255) << odd;
    ExpectSegments(ts, v, 3600 * kSecond);
  }
}

TEST(SegmentsTest, SubSecondTimesKeepTheirUnit) {
  std::vector<Timestamp> ts;
  std::vector<double> v;
  for (int i = 0; i < 2000; ++i) {
    ts.push_back(i * 250'000 + 3);  // every 250 ms, 3 us past
    v.push_back(i);
  }
  std::vector<uint8_t> bytes = EncodeSegments(ts.data(), v.data(), ts.size());
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(bytes[2], 0);  // microseconds
  ExpectSegments(ts, v, kSegmentSpans[bytes[1]]);
  for (Timestamp& t : ts) t -= 3;
  bytes = EncodeSegments(ts.data(), v.data(), ts.size());
  EXPECT_EQ(bytes[2], 4);  // 10 ms divides every offset, 100 ms does not
  ExpectSegments(ts, v, kSegmentSpans[bytes[1]]);
}

TEST(SegmentsTest, NoSegmentsWhenTheyWouldNotHelp) {
  std::vector<Timestamp> ts = {0, kSecond};
  std::vector<double> v = {1, 2};
  EXPECT_TRUE(EncodeSegments(ts.data(), v.data(), 1).empty());   // one point
  EXPECT_TRUE(EncodeSegments(ts.data(), v.data(), 2).empty());   // one slot
  ts = {0, 40 * 86400 * kSecond};                                // far too sparse for a day
  EXPECT_TRUE(EncodeSegments(ts.data(), v.data(), 2).empty());
  ts = {std::numeric_limits<Timestamp>::min(), 0};               // -infinity
  EXPECT_TRUE(EncodeSegments(ts.data(), v.data(), 2).empty());
}

TEST(SegmentsTest, CorruptBytesAreRefused) {
  std::vector<Timestamp> ts;
  std::vector<double> v;
  for (int i = 0; i < 1000; ++i) {
    ts.push_back(i * 10 * kSecond);
    v.push_back(i * 0.25);
  }
  const BlockSummary block = SummarizePoints(ts.data(), v.data(), ts.size());
  const std::vector<uint8_t> bytes = EncodeSegments(ts.data(), v.data(), ts.size());
  ASSERT_FALSE(bytes.empty());
  // Every truncation.
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_THROW(DecodeSegments(cut.data(), cut.size(), block), Error) << n;
  }
  // A trailing byte, and a block summary that does not match.
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  EXPECT_THROW(DecodeSegments(longer.data(), longer.size(), block), Error);
  BlockSummary other = block;
  other.count += 1;
  EXPECT_THROW(DecodeSegments(bytes.data(), bytes.size(), other), Error);
  other = block;
  other.ts_max += kSecond;
  EXPECT_THROW(DecodeSegments(bytes.data(), bytes.size(), other), Error);
  // Every single-byte change either decodes to segments that still cover the
  // block exactly or is refused; none reads outside the bytes (ASan).
  std::mt19937_64 rng(3);
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int round = 0; round < 8; ++round) {
      std::vector<uint8_t> mutated = bytes;
      mutated[i] = static_cast<uint8_t>(rng());
      try {
        const std::vector<BlockSummary> s = DecodeSegments(mutated.data(), mutated.size(), block);
        uint64_t total = 0;
        for (const BlockSummary& x : s) total += x.count;
        EXPECT_EQ(total, block.count);
        EXPECT_EQ(s.front().ts_min, block.ts_min);
        EXPECT_EQ(s.back().ts_max, block.ts_max);
      } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::DataCorrupted);
      }
    }
  }
}

}  // namespace
}  // namespace aegis::core
