#include "core/bucket_parts.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/error.h"

namespace aegis::core {
namespace {

BucketPart Part(Timestamp bucket, Timestamp ts_min, Timestamp ts_max, uint64_t count, double min, double max,
                double sum, double first, double last) {
  return {bucket, ts_min, ts_max, count, min, max, sum, first, last};
}

ErrorCategory CategoryOf(const std::vector<uint8_t>& bytes) {
  try {
    UnpackBucketParts(bytes.data(), bytes.size(), false);
  } catch (const Error& e) {
    return e.category();
  }
  return ErrorCategory::Internal;
}

TEST(BucketParts, CombinesPartsOfABucketAndKeepsBucketsApart) {
  const auto combined = CombineBucketParts({Part(100, 150, 190, 3, 1, 5, 9, 2, 4),  //
                                            Part(0, 10, 20, 2, 7, 8, 15, 7, 8),    //
                                            Part(100, 110, 140, 2, -1, 3, 2, -1, 3)},
                                           true);
  ASSERT_EQ(combined.size(), 2u);
  EXPECT_EQ(combined[0].bucket, 0);
  EXPECT_EQ(combined[0].count, 2u);
  const BucketPart& b = combined[1];
  EXPECT_EQ(b.bucket, 100);
  EXPECT_EQ(b.ts_min, 110);
  EXPECT_EQ(b.ts_max, 190);
  EXPECT_EQ(b.count, 5u);
  EXPECT_EQ(b.min, -1);
  EXPECT_EQ(b.max, 5);
  EXPECT_EQ(b.sum, 11);
  EXPECT_EQ(b.first, -1);  // at 110, the earlier part's first time
  EXPECT_EQ(b.last, 4);    // at 190
}

TEST(BucketParts, TiesKeepTheEarlierGivenAndEmptyPartsAreDropped) {
  const auto combined = CombineBucketParts(
      {Part(0, 10, 20, 1, 1, 1, 1, 1, 1), Part(0, 10, 20, 1, 2, 2, 2, 2, 2), Part(0, 5, 30, 0, 9, 9, 9, 9, 9)}, true);
  ASSERT_EQ(combined.size(), 1u);
  EXPECT_EQ(combined[0].count, 2u);
  EXPECT_EQ(combined[0].first, 1);
  EXPECT_EQ(combined[0].last, 1);
  EXPECT_EQ(combined[0].ts_min, 10);
}

TEST(BucketParts, MinAndMaxInFloat8Order) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto combined =
      CombineBucketParts({Part(0, 1, 1, 1, nan, nan, nan, nan, nan), Part(0, 2, 2, 1, 3, 3, 3, 3, 3)}, true);
  ASSERT_EQ(combined.size(), 1u);
  EXPECT_EQ(combined[0].min, 3);  // NaN sorts above every number
  EXPECT_TRUE(std::isnan(combined[0].max));
}

TEST(BucketParts, SumsOverflowAsFloat8PlOrAreLeftOut) {
  const double big = std::numeric_limits<double>::max();
  const std::vector<BucketPart> parts = {Part(0, 1, 1, 1, big, big, big, big, big),
                                         Part(0, 2, 2, 1, big, big, big, big, big)};
  // Two finite sums that overflow: the entry says so, for the coordinator
  // to raise unless the bucket's running sum it folded before (another
  // series, the other arm) is already infinite, as one node adds them.
  const auto with_sums = CombineBucketParts(parts, true);
  ASSERT_EQ(with_sums.size(), 1u);
  EXPECT_TRUE(std::isinf(with_sums[0].sum));
  EXPECT_TRUE(with_sums[0].overflowed);
  const auto combined = CombineBucketParts(parts, false);
  ASSERT_EQ(combined.size(), 1u);
  EXPECT_EQ(combined[0].sum, 0);
  EXPECT_EQ(combined[0].count, 2u);
  EXPECT_FALSE(combined[0].overflowed);
}

TEST(BucketParts, OverflowFlagsTravelInTheCountsTopBits) {
  BucketPart part = Part(0, 1, 2, 7, 1, 2, 3, 1, 2);
  part.moments_overflowed = true;
  for (bool parts_kind : {false, true}) {
    const std::vector<uint8_t> pack = PackBucketParts({part}, parts_kind);
    const std::vector<BucketPart> back = UnpackBucketParts(pack.data(), pack.size(), parts_kind);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0].count, 7u);
    EXPECT_FALSE(back[0].overflowed);
    EXPECT_TRUE(back[0].moments_overflowed);
  }
  // An entry whose count is only the flags counts no point: malformed.
  std::vector<uint8_t> pack = PackBucketParts({part}, false);
  for (int i = 0; i < 8; ++i) pack[kBucketPartsHeader + 24 + static_cast<size_t>(i)] = i == 7 ? 0x80 : 0;
  EXPECT_THROW(UnpackBucketParts(pack.data(), pack.size(), false), Error);
}

TEST(BucketParts, PointsSayWhetherAddingThemOneByOneOverflows) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto sum_overflows = [](std::vector<double> v) {
    double sum = 0;
    for (double x : v) sum += x;
    return PointsSumOverflows(v.data(), v.size(), sum);
  };
  EXPECT_TRUE(sum_overflows({1e308, 1e308}));
  EXPECT_TRUE(sum_overflows({1e308, 1e308, inf}));   // before the infinity
  EXPECT_TRUE(sum_overflows({1e308, 1e308, -inf}));  // NaN in the end, the overflow came first
  EXPECT_FALSE(sum_overflows({inf, 1e308, 1e308}));  // infinite already
  EXPECT_FALSE(sum_overflows({nan, 1e308, 1e308}));
  EXPECT_FALSE(sum_overflows({-1e308, 1e308, 1e308}));
  const auto moments_overflow = [](std::vector<double> v) { return PointsMomentsOverflow(v.data(), v.size()); };
  EXPECT_TRUE(moments_overflow({1, 1e200}));  // Sxx past float8, Sx finite: float8_accum raises
  EXPECT_TRUE(moments_overflow({1e200, -1e200}));
  EXPECT_FALSE(moments_overflow({1e200, 1e200}));  // no deviation
  EXPECT_FALSE(moments_overflow({1e100, -1e100}));  // modest
  EXPECT_FALSE(moments_overflow({inf, 1e200}));  // an infinite input
}

TEST(BucketParts, APartsOwnOverflowIsNotHiddenByAnInfinity) {
  const double inf = std::numeric_limits<double>::infinity();
  // The earlier part's points overflowed (finite values, infinite sum); the
  // later holds a real infinity, which makes the combined sum and max
  // infinite and the overflow look like a value. The entry keeps the flag,
  // through its pack, for the coordinator to judge against the bucket's
  // running sum (from the series' other arm or the group's earlier series).
  std::vector<BucketPart> parts = {Part(0, 1, 2, 2, 1e308, 1.7e308, inf, 1e308, 1.7e308),
                                   Part(0, 3, 3, 1, inf, inf, inf, inf, inf)};
  parts[0].overflowed = true;
  const std::vector<BucketPart> combined = CombineBucketParts(parts, true);
  ASSERT_EQ(combined.size(), 1u);
  EXPECT_TRUE(combined[0].overflowed);
  const std::vector<uint8_t> pack = PackBucketParts(combined, false);
  const std::vector<BucketPart> back = UnpackBucketParts(pack.data(), pack.size(), false);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_TRUE(back[0].overflowed);
  EXPECT_EQ(back[0].count, 3u);
  EXPECT_FALSE(CombineBucketParts(parts, false).at(0).overflowed);  // functions that read no sum
  EXPECT_EQ(CombineBucketParts(parts, false).at(0).count, 3u);
  // A stored summary's overflow is one regardless: raised on the shard.
  parts[0].stored = true;
  EXPECT_THROW(CombineBucketParts(parts, true), Error);
}

TEST(BucketParts, PointsAfterAnInfinityAddAsOneNodeAddsThem) {
  const double inf = std::numeric_limits<double>::infinity();
  // Points whose own sum overflowed, after an earlier infinite part: one
  // node's running sum is infinite already when it adds them, and raises
  // nothing; a stored summary so is an overflow all the same.
  BucketPart points = Part(0, 2, 3, 2, 1e308, 1.7e308, inf, 1e308, 1.7e308);
  points.overflowed = true;
  const auto combined = CombineBucketParts({Part(0, 1, 1, 1, inf, inf, inf, inf, inf), points}, true);
  ASSERT_EQ(combined.size(), 1u);
  EXPECT_EQ(combined[0].sum, inf);
  EXPECT_EQ(combined[0].count, 3u);
  EXPECT_FALSE(combined[0].overflowed);
  // After a finite part they would have raised: the entry says so.
  EXPECT_TRUE(CombineBucketParts({Part(0, 1, 1, 1, 1, 1, 1, 1, 1), points}, true).at(0).overflowed);
  points.stored = true;
  EXPECT_THROW(CombineBucketParts({Part(0, 1, 1, 1, inf, inf, inf, inf, inf), points}, true), Error);
}

TEST(BucketParts, ASeriesPastOneGigabyteIsMarkedNotPacked) {
  const std::vector<uint8_t> marker = PackTooLarge();
  EXPECT_TRUE(IsPackTooLarge(marker.data(), marker.size()));
  EXPECT_THROW(UnpackBucketParts(marker.data(), marker.size(), false), Error);
  EXPECT_THROW(UnpackBucketParts(marker.data(), marker.size(), true), Error);
  const std::vector<uint8_t> empty = PackBucketParts({}, false);
  EXPECT_FALSE(IsPackTooLarge(empty.data(), empty.size()));
  EXPECT_FALSE(IsPackTooLarge(marker.data(), marker.size() - 1));
}

TEST(BucketParts, PartsOfABucketCombineInTimeOrder) {
  // Given late part first: combined as one node folds them, earliest first
  // (the sums in that order, and the later of two equal minimums kept).
  const auto combined = CombineBucketParts(
      {Part(0, 50, 60, 1, 0.0, 0.0, 0.1, 0.0, 0.0), Part(0, 10, 20, 1, -0.0, -0.0, 0.2, -0.0, -0.0)}, true);
  ASSERT_EQ(combined.size(), 1u);
  EXPECT_EQ(combined[0].sum, 0.2 + 0.1);
  EXPECT_FALSE(std::signbit(combined[0].min));  // float8smaller keeps the later on a tie
  EXPECT_TRUE(std::signbit(combined[0].first));
}

TEST(BucketParts, PackRoundTripsBitForBit) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<BucketPart> combined = {Part(-5000, -4000, -10, 7, -0.0, nan, 1e300, -1.5, 2.25),
                                            Part(0, 0, 99, uint64_t{1} << 40, 0.1, 0.2, 0.3, 0.4, 0.5)};
  const std::vector<uint8_t> bytes = PackBucketParts(combined, false);
  ASSERT_EQ(bytes.size(), kBucketPartsHeader + 2 * kBucketPartBytes);
  const auto back = UnpackBucketParts(bytes.data(), bytes.size(), false);
  ASSERT_EQ(back.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back[i].bucket, combined[i].bucket);
    EXPECT_EQ(back[i].ts_min, combined[i].ts_min);
    EXPECT_EQ(back[i].ts_max, combined[i].ts_max);
    EXPECT_EQ(back[i].count, combined[i].count);
    for (auto field : {&BucketPart::min, &BucketPart::max, &BucketPart::sum, &BucketPart::first, &BucketPart::last})
      EXPECT_EQ(std::memcmp(&(back[i].*field), &(combined[i].*field), sizeof(double)), 0);
  }
  EXPECT_TRUE(std::signbit(back[0].min));
  EXPECT_TRUE(UnpackBucketParts(PackBucketParts({}, false).data(), kBucketPartsHeader, false).empty());
}

TEST(BucketParts, MalformedPacksAreDataCorrupted) {
  const std::vector<uint8_t> good =
      PackBucketParts({Part(0, 1, 2, 2, 1, 2, 3, 1, 2), Part(10, 11, 12, 2, 1, 2, 3, 1, 2)}, false);
  ASSERT_EQ(UnpackBucketParts(good.data(), good.size(), false).size(), 2u);
  EXPECT_EQ(CategoryOf({}), ErrorCategory::DataCorrupted);
  EXPECT_EQ(CategoryOf({good.begin(), good.begin() + 4}), ErrorCategory::DataCorrupted);
  EXPECT_EQ(CategoryOf({good.begin(), good.end() - 1}), ErrorCategory::DataCorrupted);
  std::vector<uint8_t> bytes = good;
  bytes.push_back(0);
  EXPECT_EQ(CategoryOf(bytes), ErrorCategory::DataCorrupted);
  bytes = good;
  bytes[0] ^= 1;  // magic
  EXPECT_EQ(CategoryOf(bytes), ErrorCategory::DataCorrupted);
  bytes = good;
  bytes[4] = 1;  // parts, of another entry size
  EXPECT_EQ(CategoryOf(bytes), ErrorCategory::DataCorrupted);
  bytes = good;
  bytes[8] = 3;  // count says 3 entries
  EXPECT_EQ(CategoryOf(bytes), ErrorCategory::DataCorrupted);
  // Buckets out of order, a zero count, times before the bucket or reversed.
  EXPECT_EQ(CategoryOf(PackBucketParts({Part(10, 11, 12, 1, 0, 0, 0, 0, 0), Part(0, 1, 2, 1, 0, 0, 0, 0, 0)}, false)),
            ErrorCategory::DataCorrupted);
  EXPECT_EQ(CategoryOf(PackBucketParts({Part(0, 1, 2, 0, 0, 0, 0, 0, 0)}, false)), ErrorCategory::DataCorrupted);
  EXPECT_EQ(CategoryOf(PackBucketParts({Part(5, 1, 2, 1, 0, 0, 0, 0, 0)}, false)), ErrorCategory::DataCorrupted);
  EXPECT_EQ(CategoryOf(PackBucketParts({Part(0, 3, 2, 1, 0, 0, 0, 0, 0)}, false)), ErrorCategory::DataCorrupted);
}

TEST(BucketParts, PartsKeepTheirMomentsAndCounterStateAndOrder) {
  BucketPart late = Part(100, 150, 190, 3, 1, 5, 9, 2, 4);
  late.sxx = 12.5;
  late.resets = 7;
  late.reset_count = 2;
  late.changes = 3;
  late.previous_ts = 170;
  late.previous = -0.0;
  const BucketPart early = Part(100, 110, 140, 2, -1, 3, 2, -1, 3);
  const std::vector<uint8_t> bytes = PackBucketParts({late, early}, true);
  ASSERT_EQ(bytes.size(), kBucketPartsHeader + 2 * kBucketPartFullBytes);
  const auto back = UnpackBucketParts(bytes.data(), bytes.size(), true);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].ts_min, 150);  // parts stay in the order given
  EXPECT_EQ(back[0].sxx, 12.5);
  EXPECT_EQ(back[0].resets, 7);
  EXPECT_EQ(back[0].reset_count, 2u);
  EXPECT_EQ(back[0].changes, 3u);
  EXPECT_EQ(back[0].previous_ts, 170);
  EXPECT_TRUE(std::signbit(back[0].previous));
  EXPECT_EQ(back[1].count, 2u);
  // A pack of parts is not one of combined summaries, nor the other way.
  try {
    UnpackBucketParts(bytes.data(), bytes.size(), false);
    FAIL() << "parts read as combined";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::DataCorrupted);
  }
  const std::vector<uint8_t> combined = PackBucketParts({early}, false);
  EXPECT_THROW(UnpackBucketParts(combined.data(), combined.size(), true), Error);
}

}  // namespace
}  // namespace aegis::core
