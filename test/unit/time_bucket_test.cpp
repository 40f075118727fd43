// Tests of the TimescaleDB-compatible time_bucket() math. Unless a test says
// "by hand", its expected values are copied from TimescaleDB's regression test
// output timescale/timescaledb test/expected/timestamp.out (sections
// "time_bucket", "check functions with origin", "Test time_bucket with month
// periods" and "Test time_bucket with timezones"), converted from the session
// time zone shown there (EST/EDT) to UTC where a timestamptz is involved.
#include "core/time_bucket.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <random>

#include "core/error.h"

namespace aegis::core {
namespace {

// Independent of the implementation's calendar code: counts whole years and
// months from 2000-01-01. Years are astronomical (0 = 1 BC, -4713 = 4714 BC).
int64_t DaysSince2000(int64_t year, int month, int day) {
  const auto leap = [](int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; };
  static const int kMonthDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int64_t days = 0;
  if (year >= 2000) {
    for (int64_t y = 2000; y < year; ++y) days += leap(y) ? 366 : 365;
  } else {
    for (int64_t y = year; y < 2000; ++y) days -= leap(y) ? 366 : 365;
  }
  for (int m = 1; m < month; ++m) days += kMonthDays[m - 1] + (m == 2 && leap(year) ? 1 : 0);
  return days + day - 1;
}

// A plain timestamp (or a UTC timestamptz) from its fields.
Timestamp Ts(int64_t year, int month, int day, int hour = 0, int minute = 0, int second = 0, int64_t micros = 0) {
  return DaysSince2000(year, month, day) * kMicrosPerDay +
         ((hour * 60LL + minute) * 60LL + second) * kMicrosPerSecond + micros;
}

// Astronomical year of a year written "BC".
int64_t Bc(int64_t year) { return 1 - year; }

constexpr int64_t kHour = 3600 * kMicrosPerSecond;
constexpr int64_t kMinute = 60 * kMicrosPerSecond;

Interval Micros(int64_t n) { return Interval{0, 0, n}; }
Interval Minutes(int64_t n) { return Micros(n * kMinute); }
Interval Hours(int64_t n) { return Micros(n * kHour); }
Interval Days(int32_t n) { return Interval{0, n, 0}; }
Interval Months(int32_t n) { return Interval{n, 0, 0}; }

// time_bucket(width, ts [, origin]) as one SQL call.
Timestamp Bucket(const Interval& width, Timestamp ts, std::optional<Timestamp> origin = std::nullopt) {
  return TimeBucket(width, ts, origin);
}

// time_bucket(width, ts, "offset").
Timestamp BucketOffset(const Interval& width, Timestamp ts, const Interval& offset) {
  return TimeBucket(width, ts, std::nullopt, offset);
}

// Expects `fn` to throw an Error of `category` whose message is `message`.
template <typename Fn>
void ExpectError(Fn fn, ErrorCategory category, const char* message) {
  try {
    fn();
    ADD_FAILURE() << "expected an error: " << message;
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), category) << e.what();
    EXPECT_STREQ(e.what(), message);
  }
}

// --- Fixed widths -----------------------------------------------------------

TEST(IntegerTimeBucketTest, FloorsToMultiplesWithOffset) {
  constexpr int64_t kMin = std::numeric_limits<int16_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int16_t>::max();
  EXPECT_EQ(IntegerTimeBucket(10, 23, 0, kMin, kMax), 20);
  EXPECT_EQ(IntegerTimeBucket(10, 20, 0, kMin, kMax), 20);
  EXPECT_EQ(IntegerTimeBucket(10, -3, 0, kMin, kMax), -10);
  EXPECT_EQ(IntegerTimeBucket(10, -10, 0, kMin, kMax), -10);
  EXPECT_EQ(IntegerTimeBucket(10, 23, 5, kMin, kMax), 15);
  EXPECT_EQ(IntegerTimeBucket(10, 23, 25, kMin, kMax), 15);  // the offset modulo the width
  EXPECT_EQ(IntegerTimeBucket(10, 23, -2, kMin, kMax), 18);
  EXPECT_EQ(IntegerTimeBucket(10, kMax, 0, kMin, kMax), 32760);
  // The bucket below the type's minimum, and a shifted ts outside the range.
  EXPECT_THROW(IntegerTimeBucket(10, kMin, 0, kMin, kMax), Error);
  EXPECT_EQ(IntegerTimeBucket(8, kMin, 0, kMin, kMax), kMin);
  EXPECT_THROW(IntegerTimeBucket(10, kMin + 2, 3, kMin, kMax), Error);
  EXPECT_THROW(IntegerTimeBucket(10, kMax - 1, -3, kMin, kMax), Error);
  EXPECT_THROW(IntegerTimeBucket(0, 5, 0, kMin, kMax), Error);
  EXPECT_THROW(IntegerTimeBucket(-10, 5, 0, kMin, kMax), Error);
  const int64_t lo = std::numeric_limits<int64_t>::min();
  const int64_t hi = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(IntegerTimeBucket(hi, hi, 0, lo, hi), hi);
  EXPECT_EQ(IntegerTimeBucket(hi, -1, 0, lo, hi), -hi);
}

TEST(TimeBucketTest, OneDay) {
  EXPECT_EQ(Bucket(Days(1), Ts(2011, 1, 2, 1, 1, 1)), Ts(2011, 1, 2));
}

TEST(TimeBucketTest, TwoDaysAlignToMonday2000_01_03) {
  EXPECT_EQ(Bucket(Days(2), Ts(2011, 1, 1, 1, 1, 1)), Ts(2011, 1, 1));
  EXPECT_EQ(Bucket(Days(2), Ts(2011, 1, 2, 1, 1, 1)), Ts(2011, 1, 1));
  EXPECT_EQ(Bucket(Days(2), Ts(2011, 1, 3, 1, 1, 1)), Ts(2011, 1, 3));
  EXPECT_EQ(Bucket(Days(2), Ts(2011, 1, 4, 1, 1, 1)), Ts(2011, 1, 3));
}

TEST(TimeBucketTest, WidthsFromMillisecondsToDays) {
  const Timestamp ts = Ts(2011, 1, 2, 1, 1, 1, 111000);
  EXPECT_EQ(Bucket(Micros(1000), ts), Ts(2011, 1, 2, 1, 1, 1, 111000));
  EXPECT_EQ(Bucket(Micros(kMicrosPerSecond), ts), Ts(2011, 1, 2, 1, 1, 1));
  EXPECT_EQ(Bucket(Minutes(1), ts), Ts(2011, 1, 2, 1, 1));
  EXPECT_EQ(Bucket(Hours(1), ts), Ts(2011, 1, 2, 1));
  EXPECT_EQ(Bucket(Days(1), ts), Ts(2011, 1, 2));
  EXPECT_EQ(Bucket(Micros(2000), ts), Ts(2011, 1, 2, 1, 1, 1, 110000));
  EXPECT_EQ(Bucket(Micros(2 * kMicrosPerSecond), ts), Ts(2011, 1, 2, 1, 1, 0));
  EXPECT_EQ(Bucket(Minutes(2), ts), Ts(2011, 1, 2, 1, 0));
  EXPECT_EQ(Bucket(Hours(2), ts), Ts(2011, 1, 2, 0));
  EXPECT_EQ(Bucket(Days(2), ts), Ts(2011, 1, 1));
}

TEST(TimeBucketTest, FiveMinutesIn1970BeforeThePostgresEpoch) {
  EXPECT_EQ(Bucket(Minutes(5), Ts(1970, 1, 1, 0, 59, 59, 999999)), Ts(1970, 1, 1, 0, 55));
  EXPECT_EQ(Bucket(Minutes(5), Ts(1970, 1, 1, 1, 1, 0)), Ts(1970, 1, 1, 1, 0));
  EXPECT_EQ(Bucket(Minutes(5), Ts(1970, 1, 1, 1, 4, 59, 999999)), Ts(1970, 1, 1, 1, 0));
  EXPECT_EQ(Bucket(Minutes(5), Ts(1970, 1, 1, 1, 5, 0)), Ts(1970, 1, 1, 1, 5));
}

TEST(TimeBucketTest, FiveMinutesExactBoundaries) {
  EXPECT_EQ(Bucket(Minutes(5), Ts(2011, 1, 2, 1, 4, 59, 999999)), Ts(2011, 1, 2, 1, 0));
  EXPECT_EQ(Bucket(Minutes(5), Ts(2011, 1, 2, 1, 5, 0)), Ts(2011, 1, 2, 1, 5));
  EXPECT_EQ(Bucket(Minutes(5), Ts(2011, 1, 2, 1, 9, 59, 999999)), Ts(2011, 1, 2, 1, 5));
  EXPECT_EQ(Bucket(Minutes(5), Ts(2011, 1, 2, 1, 10, 0)), Ts(2011, 1, 2, 1, 10));
}

TEST(TimeBucketTest, PositiveOffset) {
  EXPECT_EQ(BucketOffset(Minutes(5), Ts(2011, 1, 2, 1, 1, 59, 999999), Minutes(2)), Ts(2011, 1, 2, 0, 57));
  EXPECT_EQ(BucketOffset(Minutes(5), Ts(2011, 1, 2, 1, 2, 0), Minutes(2)), Ts(2011, 1, 2, 1, 2));
  EXPECT_EQ(BucketOffset(Minutes(5), Ts(2011, 1, 2, 1, 6, 59, 999999), Minutes(2)), Ts(2011, 1, 2, 1, 2));
  EXPECT_EQ(BucketOffset(Minutes(5), Ts(2011, 1, 2, 1, 7, 0), Minutes(2)), Ts(2011, 1, 2, 1, 7));
}

TEST(TimeBucketTest, NegativeOffset) {
  EXPECT_EQ(BucketOffset(Minutes(5), Ts(2011, 1, 2, 1, 2, 59, 999999), Minutes(-2)), Ts(2011, 1, 2, 0, 58));
  EXPECT_EQ(BucketOffset(Minutes(5), Ts(2011, 1, 2, 1, 3, 0), Minutes(-2)), Ts(2011, 1, 2, 1, 3));
  EXPECT_EQ(BucketOffset(Minutes(5), Ts(2011, 1, 2, 1, 7, 59, 999999), Minutes(-2)), Ts(2011, 1, 2, 1, 3));
  EXPECT_EQ(BucketOffset(Minutes(5), Ts(2011, 1, 2, 1, 8, 0), Minutes(-2)), Ts(2011, 1, 2, 1, 8));
}

TEST(TimeBucketTest, RoundingWithHalfWidthOffset) {
  // time_bucket('5 minute', time, -'2.5 minutes') + '2 minutes 30 seconds'.
  const Interval offset = Micros(-150 * kMicrosPerSecond);
  const auto round = [&](Timestamp ts) { return BucketOffset(Minutes(5), ts, offset) + 150 * kMicrosPerSecond; };
  EXPECT_EQ(round(Ts(2011, 1, 2, 1, 5, 1)), Ts(2011, 1, 2, 1, 5));
  EXPECT_EQ(round(Ts(2011, 1, 2, 1, 7, 29)), Ts(2011, 1, 2, 1, 5));
  EXPECT_EQ(round(Ts(2011, 1, 2, 1, 2, 30)), Ts(2011, 1, 2, 1, 5));
  EXPECT_EQ(round(Ts(2011, 1, 2, 1, 7, 30)), Ts(2011, 1, 2, 1, 10));
  EXPECT_EQ(round(Ts(2011, 1, 2, 1, 2, 29)), Ts(2011, 1, 2, 1, 0));
}

TEST(TimeBucketTest, TimestamptzBucketsAtUtc) {
  // '2011-01-02 01:01:01+01' and '+02' in a UTC session.
  EXPECT_EQ(Bucket(Hours(1), Ts(2011, 1, 2, 0, 1, 1)), Ts(2011, 1, 2, 0));
  EXPECT_EQ(Bucket(Hours(1), Ts(2011, 1, 1, 23, 1, 1)), Ts(2011, 1, 1, 23));
  EXPECT_EQ(Bucket(Days(1), Ts(2011, 1, 1, 23, 1, 1)), Ts(2011, 1, 1));
  // In an EST session '2011-01-03 01:01:01+01' (00:01:01 UTC) lands in the
  // UTC day starting Sun Jan 02 19:00 EST, not in the local day.
  EXPECT_EQ(Bucket(Days(1), Ts(2011, 1, 3, 0, 1, 1)), Ts(2011, 1, 3));
}

TEST(TimeBucketTest, OffsetMovesDayBucketsToLocalMidnight) {
  // time_bucket('1 day', time, -'19 hours') in an EST session: rows at
  // 2011-01-02 01:01:01 EST (06:01:01 UTC) and 2011-01-02 19:01:01 EST.
  EXPECT_EQ(BucketOffset(Days(1), Ts(2011, 1, 2, 6, 1, 1), Hours(-19)), Ts(2011, 1, 2, 5));
  EXPECT_EQ(BucketOffset(Days(1), Ts(2011, 1, 3, 0, 1, 1), Hours(-19)), Ts(2011, 1, 2, 5));
  EXPECT_EQ(BucketOffset(Days(1), Ts(2011, 1, 3, 23, 1, 1), Hours(-19)), Ts(2011, 1, 3, 5));
}

TEST(TimeBucketTest, UtcBucketsAcrossDstChange) {
  // '2017-11-05 10:05+07' ... '15:05+07' with 1 and 2 hour widths.
  EXPECT_EQ(Bucket(Hours(1), Ts(2017, 11, 5, 5, 5)), Ts(2017, 11, 5, 5));
  EXPECT_EQ(Bucket(Hours(1), Ts(2017, 11, 5, 6, 5)), Ts(2017, 11, 5, 6));
  EXPECT_EQ(Bucket(Hours(2), Ts(2017, 11, 5, 3, 5)), Ts(2017, 11, 5, 2));
  EXPECT_EQ(Bucket(Hours(2), Ts(2017, 11, 5, 5, 5)), Ts(2017, 11, 5, 4));
  EXPECT_EQ(Bucket(Hours(2), Ts(2017, 11, 5, 6, 5)), Ts(2017, 11, 5, 6));
  EXPECT_EQ(Bucket(Hours(2), Ts(2017, 11, 5, 8, 5)), Ts(2017, 11, 5, 8));
}

TEST(TimeBucketTest, LocalWallClockBucketsAcrossDstChange) {
  // time_bucket('2 hour', time::timestamp): the same rows as local New York
  // wall-clock times; both 01:05 EDT and 01:05 EST fall in 00:00.
  EXPECT_EQ(Bucket(Hours(2), Ts(2017, 11, 4, 23, 5)), Ts(2017, 11, 4, 22));
  EXPECT_EQ(Bucket(Hours(2), Ts(2017, 11, 5, 1, 5)), Ts(2017, 11, 5, 0));
  EXPECT_EQ(Bucket(Hours(2), Ts(2017, 11, 5, 3, 5)), Ts(2017, 11, 5, 2));
}

TEST(TimeBucketTest, WeeksStartOnMonday) {
  EXPECT_EQ(Bucket(Days(7), Ts(2018, 9, 16)), Ts(2018, 9, 10));
  EXPECT_EQ(Bucket(Days(7), Ts(2018, 9, 17)), Ts(2018, 9, 17));
  EXPECT_EQ(Bucket(Days(7), Ts(2018, 9, 23)), Ts(2018, 9, 17));
  EXPECT_EQ(Bucket(Days(7), Ts(2018, 9, 24)), Ts(2018, 9, 24));
  // timestamptz '2018-09-16' EDT is 04:00 UTC; its week starts Mon 00:00 UTC
  // (shown as Sun Sep 09 20:00 EDT).
  EXPECT_EQ(Bucket(Days(7), Ts(2018, 9, 16, 4)), Ts(2018, 9, 10));
}

TEST(TimeBucketTest, WeeksStillAlignAThousandYearsLater) {
  EXPECT_EQ(Bucket(Days(7), Ts(3018, 9, 14)), Ts(3018, 9, 14));
  EXPECT_EQ(Bucket(Days(7), Ts(3018, 9, 20)), Ts(3018, 9, 14));
  EXPECT_EQ(Bucket(Days(7), Ts(3018, 9, 21)), Ts(3018, 9, 21));
  EXPECT_EQ(Bucket(Days(7), Ts(3018, 9, 22)), Ts(3018, 9, 21));
}

TEST(TimeBucketTest, EdgesOfTheTimestampRange) {
  EXPECT_EQ(Bucket(Days(7), Ts(Bc(4714), 11, 24, 1, 1, 1)), Ts(Bc(4714), 11, 24));
  EXPECT_EQ(Ts(Bc(4714), 11, 24), kTimestampMinValid);
  EXPECT_EQ(Bucket(Days(7), Ts(294276, 12, 31, 23, 59, 59, 999900)), Ts(294276, 12, 25));
  EXPECT_EQ(Ts(294277, 1, 1), kTimestampEndValid);
}

TEST(TimeBucketTest, InfinityComesBackUnchanged) {
  for (Timestamp ts : {kTimestampMinusInfinity, kTimestampInfinity}) {
    EXPECT_EQ(Bucket(Days(7), ts), ts);
    EXPECT_EQ(BucketOffset(Days(7), ts, Days(1)), ts);  // "offset with infinity"
    EXPECT_EQ(Bucket(Months(1), ts), ts);
    // ts_timestamptz_bucket returns a non-finite ts before checking the width.
    EXPECT_EQ(Bucket(Days(0), ts), ts);
    EXPECT_EQ(Bucket(Interval{1, 1, 0}, ts), ts);
    EXPECT_EQ(TimeBucketer(Hours(1)).BucketStart(ts), ts);
  }
}

// --- Origins ----------------------------------------------------------------

TEST(TimeBucketTest, DefaultOriginEqualsExplicitMonday) {
  for (Timestamp ts : {Ts(1999, 12, 31, 23, 59, 59), Ts(2000, 1, 1), Ts(2000, 1, 2, 23, 59, 59), Ts(2000, 1, 3),
                       Ts(3018, 9, 12), Ts(3018, 9, 15)}) {
    EXPECT_EQ(Bucket(Days(7), ts), Bucket(Days(7), ts, Ts(2000, 1, 3)));
  }
}

TEST(TimeBucketTest, WeekOriginsOnTimestamp) {
  // Columns no_epoch, pg_epoch, unix_epoch, custom_1 ('3018-09-13'),
  // custom_2 ('3018-09-14'); the last two origins lie after the timestamps.
  struct Row {
    Timestamp ts, no_epoch, pg_epoch, unix_epoch, custom_1, custom_2;
  };
  const Row rows[] = {
      {Ts(1999, 12, 31, 23, 59, 59), Ts(1999, 12, 27), Ts(1999, 12, 25), Ts(1999, 12, 30), Ts(1999, 12, 26),
       Ts(1999, 12, 27)},
      {Ts(2000, 1, 1), Ts(1999, 12, 27), Ts(2000, 1, 1), Ts(1999, 12, 30), Ts(1999, 12, 26), Ts(1999, 12, 27)},
      {Ts(2000, 1, 2, 23, 59, 59), Ts(1999, 12, 27), Ts(2000, 1, 1), Ts(1999, 12, 30), Ts(2000, 1, 2),
       Ts(1999, 12, 27)},
      {Ts(2000, 1, 3), Ts(2000, 1, 3), Ts(2000, 1, 1), Ts(1999, 12, 30), Ts(2000, 1, 2), Ts(2000, 1, 3)},
      {Ts(3018, 9, 12), Ts(3018, 9, 7), Ts(3018, 9, 12), Ts(3018, 9, 10), Ts(3018, 9, 6), Ts(3018, 9, 7)},
      {Ts(3018, 9, 13), Ts(3018, 9, 7), Ts(3018, 9, 12), Ts(3018, 9, 10), Ts(3018, 9, 13), Ts(3018, 9, 7)},
      {Ts(3018, 9, 14), Ts(3018, 9, 14), Ts(3018, 9, 12), Ts(3018, 9, 10), Ts(3018, 9, 13), Ts(3018, 9, 14)},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(Bucket(Days(7), r.ts), r.no_epoch);
    EXPECT_EQ(Bucket(Days(7), r.ts, Ts(2000, 1, 1)), r.pg_epoch);
    EXPECT_EQ(Bucket(Days(7), r.ts, Ts(1970, 1, 1)), r.unix_epoch);
    EXPECT_EQ(Bucket(Days(7), r.ts, Ts(3018, 9, 13)), r.custom_1);
    EXPECT_EQ(Bucket(Days(7), r.ts, Ts(3018, 9, 14)), r.custom_2);
  }
}

TEST(TimeBucketTest, WeekOriginsOnTimestamptzInEstSession) {
  // Origin timestamptz '3018-09-13' in EDT is 04:00 UTC: for the row
  // '2000-01-01 00:00:00+0' - 1 second, custom_1 is Sat Dec 25 23:00 1999 EST.
  const Timestamp ts = Ts(1999, 12, 31, 23, 59, 59);
  EXPECT_EQ(Bucket(Days(7), ts), Ts(1999, 12, 27));                                // Sun Dec 26 19:00 EST
  EXPECT_EQ(Bucket(Days(7), ts, Ts(2000, 1, 1)), Ts(1999, 12, 25));                // Fri Dec 24 19:00 EST
  EXPECT_EQ(Bucket(Days(7), ts, Ts(1970, 1, 1)), Ts(1999, 12, 30));                // Wed Dec 29 19:00 EST
  EXPECT_EQ(Bucket(Days(7), ts, Ts(3018, 9, 13, 4)), Ts(1999, 12, 26, 4));         // Sat Dec 25 23:00 EST
  EXPECT_EQ(Bucket(Days(7), ts, Ts(3018, 9, 14, 4)), Ts(1999, 12, 27, 4));         // Sun Dec 26 23:00 EST
  EXPECT_EQ(Bucket(Days(7), Ts(2000, 1, 3, 5), Ts(3018, 9, 13, 4)), Ts(2000, 1, 2, 4));  // Sat Jan 01 23:00 EST
}

TEST(TimeBucketTest, VeryOldOrigin) {
  const Timestamp origin = Ts(Bc(4710), 11, 24, 1, 1, 1);
  EXPECT_EQ(Bucket(Days(7), Ts(Bc(4710), 11, 24, 1, 1, 1), origin), Ts(Bc(4710), 11, 24, 1, 1, 1));
  EXPECT_EQ(Bucket(Days(7), Ts(Bc(4710), 11, 25, 1, 1, 1), origin), Ts(Bc(4710), 11, 24, 1, 1, 1));
  EXPECT_EQ(Bucket(Days(7), Ts(2001, 1, 1), origin), Ts(2000, 12, 30, 1, 1, 1));
  EXPECT_EQ(Bucket(Days(7), Ts(3001, 1, 1), origin), Ts(3000, 12, 27, 1, 1, 1));
}

TEST(TimeBucketTest, VeryLateOrigin) {
  const Timestamp origin = Ts(294270, 12, 30, 23, 59, 59, 999900);
  EXPECT_EQ(Bucket(Days(7), Ts(294270, 12, 29, 23, 59, 59, 999900), origin), Ts(294270, 12, 23, 23, 59, 59, 999900));
  EXPECT_EQ(Bucket(Days(7), Ts(294270, 12, 30, 23, 59, 59, 999900), origin), origin);
  EXPECT_EQ(Bucket(Days(7), Ts(294270, 12, 31, 23, 59, 59, 999900), origin), origin);
  EXPECT_EQ(Bucket(Days(7), Ts(2001, 1, 1), origin), Ts(2000, 12, 29, 23, 59, 59, 999900));
  EXPECT_EQ(Bucket(Days(7), Ts(3001, 1, 1), origin), Ts(3000, 12, 26, 23, 59, 59, 999900));
}

TEST(TimeBucketTest, OldOriginNewDataLongWidthOverflows) {
  // "really old origin + very new data + long period errors": TimescaleDB's
  // int64 guard on ts - (origin % period) fires (SQLSTATE 22003).
  ExpectError([] { Bucket(Days(100000), Ts(294270, 12, 31, 23, 59, 59, 999900), Ts(Bc(4710), 11, 24, 1, 1, 1)); },
              ErrorCategory::NumericOutOfRange, "timestamp out of range");
  ExpectError([] { Bucket(Days(100000), Ts(294270, 12, 30, 23, 59, 59, 999900), Ts(Bc(4710), 11, 25, 1, 1, 1)); },
              ErrorCategory::NumericOutOfRange, "timestamp out of range");
}

TEST(TimeBucketTest, LateOriginOldDataLongWidthIsOutOfRange) {
  // "really high origin + old data + long period errors out": the bucket
  // would start before 4714-11-24 BC.
  ExpectError([] { Bucket(Days(10000000), Ts(Bc(4710), 11, 24, 1, 1, 1), Ts(294270, 12, 31, 23, 59, 59, 999900)); },
              ErrorCategory::DatetimeOverflow, "timestamp out of range");
}

TEST(TimeBucketTest, OriginAfterTimestampFloorsBackward) {
  // By hand: 15-minute buckets aligned to 12:10 a day later; 12:34:56 falls in
  // the bucket [12:25, 12:40). Same value as time_bucket_ng's test with
  // origin 2021-07-12 12:10:00 (timestamp.out), where the origin precedes ts.
  EXPECT_EQ(Bucket(Minutes(15), Ts(2021, 7, 12, 12, 34, 56), Ts(2021, 7, 13, 12, 10)), Ts(2021, 7, 12, 12, 25));
  EXPECT_EQ(Bucket(Minutes(15), Ts(2021, 7, 12, 12, 34, 56), Ts(2021, 7, 12, 12, 10)), Ts(2021, 7, 12, 12, 25));
  EXPECT_EQ(Bucket(Hours(6), Ts(2021, 7, 12, 12, 34, 56), Ts(2021, 7, 12, 12, 10)), Ts(2021, 7, 12, 12, 10));
  EXPECT_EQ(Bucket(Micros(30 * kMicrosPerSecond), Ts(2021, 7, 12, 12, 34, 56), Ts(2021, 7, 12, 12, 10)),
            Ts(2021, 7, 12, 12, 34, 30));
}

// --- Timestamps before 2000 and before 1970 (by hand) -------------------------

TEST(TimeBucketTest, NegativeTimestampsFloor) {
  // Buckets of 1 hour, 1 day and 3 hours divide a day, so they start on the
  // hour / at midnight / at multiples of 3 h whatever the (midnight) origin.
  EXPECT_EQ(Bucket(Hours(1), Ts(1969, 12, 31, 23, 30)), Ts(1969, 12, 31, 23));
  EXPECT_EQ(Bucket(Days(1), Ts(1999, 12, 31, 12)), Ts(1999, 12, 31));
  EXPECT_EQ(Bucket(Minutes(15), Ts(1900, 1, 1, 0, 7)), Ts(1900, 1, 1));
  EXPECT_EQ(Bucket(Hours(3), Ts(1950, 6, 15, 13, 59, 59, 999999)), Ts(1950, 6, 15, 12));
  // One microsecond before the epoch belongs to the previous hour/day.
  EXPECT_EQ(Bucket(Hours(1), -1), -kHour);
  EXPECT_EQ(Bucket(Days(1), -1), -kMicrosPerDay);
  EXPECT_EQ(Bucket(Micros(1), -1), -1);
  // Weeks before the origin: 1999-12-27 and 1999-12-20 are Mondays.
  EXPECT_EQ(Bucket(Days(7), Ts(1999, 12, 26, 23, 59, 59, 999999)), Ts(1999, 12, 20));
  EXPECT_EQ(Bucket(Days(7), Ts(1969, 7, 20, 20, 17)), Ts(1969, 7, 14));  // a Sunday; Monday 1969-07-14
}

TEST(TimeBucketTest, ExactBoundaryBelongsToItsOwnBucket) {
  EXPECT_EQ(Bucket(Hours(1), Ts(2000, 1, 1)), Ts(2000, 1, 1));
  EXPECT_EQ(Bucket(Hours(1), Ts(2000, 1, 1) - 1), Ts(1999, 12, 31, 23));
  EXPECT_EQ(Bucket(Days(7), Ts(2000, 1, 3) - 1), Ts(1999, 12, 27));
  EXPECT_EQ(Bucket(Months(1), Ts(2000, 3, 1)), Ts(2000, 3, 1));
  EXPECT_EQ(Bucket(Months(1), Ts(2000, 3, 1) - 1), Ts(2000, 2, 1));
}

TEST(TimeBucketTest, DaysAndTimeAreSummed) {
  // By hand from ts_timestamptz_bucket: period = time + day * USECS_PER_DAY,
  // so '-1 day 25 hours' is accepted as one hour.
  EXPECT_EQ(Bucket(Interval{0, -1, 25 * kHour}, Ts(2020, 5, 5, 5, 55)), Ts(2020, 5, 5, 5));
  EXPECT_EQ(Bucket(Interval{0, 1, kHour}, Ts(2000, 1, 4, 0, 30)), Ts(2000, 1, 3));  // 25 h from Monday
  EXPECT_EQ(Bucket(Interval{0, 1, kHour}, Ts(2000, 1, 4, 1)), Ts(2000, 1, 4, 1));
}

// --- Months and years -------------------------------------------------------

TEST(TimeBucketTest, MonthWidthsWithAndWithoutOrigin) {
  // "Test time_bucket with month periods" on timestamp, 1990-01-03 .. 06-03.
  struct Row {
    int month;
    int m1, m2, m3, m1_origin, m2_origin, m3_origin;  // resulting months (1990, or 1989 when > 6)
  };
  const Row rows[] = {
      {1, 1, 1, 1, 1, 12, 11}, {2, 2, 1, 1, 2, 2, 2}, {3, 3, 3, 1, 3, 2, 2},
      {4, 4, 3, 4, 4, 4, 2},   {5, 5, 5, 4, 5, 4, 5}, {6, 6, 5, 4, 6, 6, 5},
  };
  const auto month_start = [](int m) { return m > 6 ? Ts(1989, m, 1) : Ts(1990, m, 1); };
  const Timestamp origin = Ts(2000, 2, 1);
  for (const Row& r : rows) {
    const Timestamp ts = Ts(1990, r.month, 3);
    EXPECT_EQ(Bucket(Months(1), ts), month_start(r.m1));
    EXPECT_EQ(Bucket(Months(2), ts), month_start(r.m2));
    EXPECT_EQ(Bucket(Months(3), ts), month_start(r.m3));
    EXPECT_EQ(Bucket(Months(1), ts, origin), month_start(r.m1_origin));
    EXPECT_EQ(Bucket(Months(2), ts, origin), month_start(r.m2_origin));
    EXPECT_EQ(Bucket(Months(3), ts, origin), month_start(r.m3_origin));
  }
}

TEST(TimeBucketTest, MonthWidthOnTimestamptzUsesTheUtcDate) {
  // timestamptz '1990-04-03 00:00-04' (04:00 UTC) -> 1990-04-01 00:00 UTC,
  // shown as 1990-03-31 19:00-05; origin '2000-02-01' EST is 05:00 UTC.
  EXPECT_EQ(Bucket(Months(1), Ts(1990, 4, 3, 4)), Ts(1990, 4, 1));
  EXPECT_EQ(Bucket(Months(3), Ts(1990, 1, 3, 5), Ts(2000, 2, 1, 5)), Ts(1989, 11, 1));
  EXPECT_EQ(Bucket(Months(2), Ts(1990, 6, 3, 4), Ts(2000, 2, 1, 5)), Ts(1990, 6, 1));
  // By hand: 23:00 EST on Jan 31 is already February in UTC.
  EXPECT_EQ(Bucket(Months(1), Ts(2000, 2, 1, 4)), Ts(2000, 2, 1));
}

TEST(TimeBucketTest, YearWidth) {
  // time_bucket_ng('1 year', '2021-11-22') = 2021-01-01 and with origin
  // '2021-06-01' = 2021-06-01 (timestamp.out); time_bucket gives the same.
  EXPECT_EQ(Bucket(Months(12), Ts(2021, 11, 22)), Ts(2021, 1, 1));
  EXPECT_EQ(Bucket(Months(12), Ts(2021, 11, 22), Ts(2021, 6, 1)), Ts(2021, 6, 1));
  // By hand: a June origin puts 2021-05-31 in the year starting 2020-06-01.
  EXPECT_EQ(Bucket(Months(12), Ts(2021, 5, 31, 23, 59, 59, 999999), Ts(2021, 6, 1)), Ts(2020, 6, 1));
  // By hand: decades (120 months) from 2000-01.
  EXPECT_EQ(Bucket(Months(120), Ts(1995, 7, 4)), Ts(1990, 1, 1));
}

TEST(TimeBucketTest, MonthOriginKeepsOnlyYearAndMonth) {
  // By hand from bucket_month(): only year * 12 + month of the origin's date
  // is used, so a mid-month origin still gives buckets on the 1st at 00:00.
  EXPECT_EQ(Bucket(Months(1), Ts(2020, 3, 10), Ts(2000, 1, 15, 12)), Ts(2020, 3, 1));
  EXPECT_EQ(Bucket(Months(1), Ts(2020, 3, 20), Ts(2000, 1, 15, 12)), Ts(2020, 3, 1));
  EXPECT_EQ(Bucket(Months(2), Ts(2020, 3, 20), Ts(2000, 2, 29, 23)), Ts(2020, 2, 1));
}

TEST(TimeBucketTest, MonthsBeforeYearZero) {
  // By hand: month buckets are calendar months also in astronomical year -1
  // (2 BC), where year * 12 + month - 1 is negative (old TimescaleDB releases
  // mishandled that; the current code normalizes the remainder).
  EXPECT_EQ(Bucket(Months(1), Ts(-1, 2, 10)), Ts(-1, 2, 1));
  EXPECT_EQ(Bucket(Months(1), Ts(-1, 12, 31, 23)), Ts(-1, 12, 1));
  EXPECT_EQ(Bucket(Months(3), Ts(-1, 5, 20)), Ts(-1, 4, 1));
  EXPECT_EQ(Bucket(Months(12), Ts(-100, 7, 4)), Ts(-100, 1, 1));
  EXPECT_EQ(Bucket(Months(1), Ts(Bc(4714), 12, 5)), Ts(Bc(4714), 12, 1));
}

TEST(TimeBucketTest, MonthBucketBeforeTheRangeIsAnError) {
  // By hand: November 4714 BC starts before Julian day 0.
  ExpectError([] { Bucket(Months(1), Ts(Bc(4714), 11, 24, 12)); }, ErrorCategory::DatetimeOverflow,
              "timestamp out of range");
}

TEST(TimeBucketTest, MonthWidthWithDayOffset) {
  // By hand: ts - 1 day = 2020-02-29 12:00 -> 2020-02-01 -> + 1 day.
  EXPECT_EQ(BucketOffset(Months(1), Ts(2020, 3, 1, 12), Days(1)), Ts(2020, 2, 2));
  EXPECT_EQ(BucketOffset(Months(1), Ts(2020, 3, 2), Days(1)), Ts(2020, 3, 2));
  // By hand: a pure month offset renumbers months: quarters Nov/Feb/May/Aug.
  EXPECT_EQ(BucketOffset(Months(3), Ts(2020, 1, 15), Months(1)), Ts(2019, 11, 1));
}

// A bucketer tells its width, origin and offset, so that the same buckets can
// be made elsewhere (a Citus shard's aegis._bucket_parts): rebuilt from them,
// it gives the same bucket starts.
TEST(TimeBucketTest, BucketerTellsWhatMakesItsBuckets) {
  const TimeBucketer plain(Days(1));
  EXPECT_FALSE(plain.origin().has_value());
  EXPECT_FALSE(plain.HasOffset());
  const TimeBucketer with_origin(Interval{0, 0, 20 * kMinute}, Ts(2024, 1, 1, 0, 7));
  ASSERT_TRUE(with_origin.origin().has_value());
  EXPECT_EQ(*with_origin.origin(), Ts(2024, 1, 1, 0, 7));
  EXPECT_FALSE(with_origin.HasOffset());
  const TimeBucketer rebuilt(with_origin.width(), with_origin.origin());
  for (const Timestamp ts : {Ts(2024, 1, 1, 0, 6), Ts(2024, 1, 1, 0, 7), Ts(2024, 3, 5, 17, 59, 59)})
    EXPECT_EQ(rebuilt.BucketStart(ts), with_origin.BucketStart(ts));
  EXPECT_EQ(with_origin.BucketStart(Ts(2024, 1, 1, 0, 30)), Ts(2024, 1, 1, 0, 27));
  EXPECT_TRUE(TimeBucketer(Days(1), std::nullopt, Days(1)).HasOffset());
  EXPECT_FALSE(TimeBucketer(Days(1), std::nullopt, Interval{}).HasOffset());
}

// --- The time-zone variant, computed on local wall-clock time ----------------

TEST(TimeBucketTest, TimezoneVariantOnLocalWallClock) {
  // The "2m"/"2m origin"/"2m offset"/"2m offset + origin" columns of the
  // time-zone month table use the session zone, so local times in and out.
  const Interval two_months = Months(2);
  const TimeBucketer plain(two_months);
  const TimeBucketer with_origin(two_months, Ts(2000, 2, 1));
  const TimeBucketer with_offset(two_months, std::nullopt, Days(14));
  const TimeBucketer with_both(two_months, Ts(2000, 2, 1), Days(7));
  EXPECT_EQ(plain.BucketStart(Ts(1999, 12, 1)), Ts(1999, 11, 1));
  EXPECT_EQ(with_origin.BucketStart(Ts(1999, 12, 1)), Ts(1999, 12, 1));
  EXPECT_EQ(with_offset.BucketStart(Ts(1999, 12, 1)), Ts(1999, 11, 15));
  EXPECT_EQ(with_both.BucketStart(Ts(1999, 12, 1)), Ts(1999, 10, 8));
  EXPECT_EQ(with_both.BucketStart(Ts(1999, 12, 10)), Ts(1999, 12, 8));
  EXPECT_EQ(with_offset.BucketStart(Ts(2000, 1, 6)), Ts(1999, 11, 15));
  EXPECT_EQ(with_offset.BucketStart(Ts(2000, 1, 15)), Ts(2000, 1, 15));
  EXPECT_EQ(with_both.BucketStart(Ts(2000, 2, 2)), Ts(1999, 12, 8));
  EXPECT_EQ(with_both.BucketStart(Ts(2000, 2, 11)), Ts(2000, 2, 8));
  EXPECT_EQ(with_both.BucketStart(Ts(2000, 4, 5)), Ts(2000, 2, 8));
  EXPECT_EQ(with_both.BucketStart(Ts(2000, 4, 14)), Ts(2000, 4, 8));
  EXPECT_EQ(with_offset.BucketStart(Ts(2000, 4, 23)), Ts(2000, 3, 15));
  EXPECT_EQ(plain.BucketStart(Ts(2000, 8, 27)), Ts(2000, 7, 1));
}

TEST(TimeBucketTest, TimezoneVariantBerlinDayAroundMidnight) {
  // time_bucket('1day', ts, 'Europe/Berlin'), ts = 1999-12-31 17:00 and 18:00
  // EST: convert to Berlin wall clock (UTC+1), bucket, convert back.
  const auto berlin_day = [](Timestamp utc) { return Bucket(Days(1), utc + kHour) - kHour; };
  EXPECT_EQ(berlin_day(Ts(1999, 12, 31, 22)), Ts(1999, 12, 30, 23));  // 1999-12-30 18:00-05
  EXPECT_EQ(berlin_day(Ts(1999, 12, 31, 23)), Ts(1999, 12, 31, 23));  // 1999-12-31 18:00-05
}

TEST(TimeBucketTest, TimezoneVariantWithLaterLocalOrigin) {
  // time_bucket('1day', '2020-02-03', 'Europe/Berlin', '2020-04-01', NULL) in
  // a New York session = 2020-02-03 00:00-05. Locally: ts is 06:00 CET, the
  // origin 2020-04-01 00:00 EDT is 06:00 CEST, so the bucket is 06:00 CET.
  const Timestamp local_ts = Ts(2020, 2, 3, 6);
  const Timestamp local_origin = Ts(2020, 4, 1, 6);
  const Timestamp local_bucket = Bucket(Days(1), local_ts, local_origin);
  EXPECT_EQ(local_bucket, Ts(2020, 2, 3, 6));
  EXPECT_EQ(local_bucket - kHour, Ts(2020, 2, 3, 5));  // back to UTC: 00:00 EST
}

// --- Errors -----------------------------------------------------------------

TEST(TimeBucketTest, MonthsMixedWithDaysOrTimeAreRejected) {
  // "SELECT time_bucket(INTERVAL '1 year 1d', ...)" and '1 month 1 minute'.
  ExpectError([] { TimeBucketer(Interval{12, 1, 0}); }, ErrorCategory::NotSupported,
              "month intervals cannot have day or time component");
  ExpectError([] { TimeBucketer(Interval{1, 0, kMinute}); }, ErrorCategory::NotSupported,
              "month intervals cannot have day or time component");
}

TEST(TimeBucketTest, WidthMustBePositive) {
  for (const Interval& width : {Interval{}, Days(-1), Hours(-1), Interval{0, 1, -25 * kHour}, Months(-1)}) {
    ExpectError([&] { TimeBucketer{width}; }, ErrorCategory::InvalidParameter, "period must be greater than 0");
  }
}

TEST(TimeBucketTest, WidthTooLongForMicroseconds) {
  // By hand: 2^31 - 1 days do not fit an int64 count of microseconds.
  try {
    TimeBucketer{Days(2147483647)};
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::InvalidParameter);
  }
}

TEST(TimeBucketTest, OffsetLeavingTheRangeIsAnError) {
  // By hand: ts - '-1 day' passes the end of the range (PostgreSQL's
  // timestamp_mi_interval error), and a 1-day bucket aligned at noon before
  // 4714-11-24 01:00 BC starts on the 23rd.
  ExpectError([] { BucketOffset(Days(1), Ts(294276, 12, 31, 12), Days(-1)); }, ErrorCategory::DatetimeOverflow,
              "timestamp out of range");
  ExpectError([] { Bucket(Days(1), Ts(Bc(4714), 11, 24, 1), Ts(2000, 1, 1, 12)); }, ErrorCategory::DatetimeOverflow,
              "timestamp out of range");
}

TEST(TimeBucketTest, InfiniteOriginForMonthsIsRejected) {
  ExpectError([] { TimeBucketer(Months(1), kTimestampInfinity); }, ErrorCategory::InvalidParameter,
              "origin must be finite for month and year widths");
}

// --- Interval arithmetic (by hand, PostgreSQL's rules) -------------------------

TEST(TimeBucketTest, AddIntervalClampsToMonthEnd) {
  EXPECT_EQ(AddInterval(Ts(2020, 1, 31, 10), Months(1)), Ts(2020, 2, 29, 10));
  EXPECT_EQ(AddInterval(Ts(2019, 1, 31, 10), Months(1)), Ts(2019, 2, 28, 10));
  EXPECT_EQ(SubtractInterval(Ts(2000, 3, 31), Months(1)), Ts(2000, 2, 29));
  EXPECT_EQ(AddInterval(Ts(2000, 12, 15), Months(14)), Ts(2002, 2, 15));
  EXPECT_EQ(SubtractInterval(Ts(2000, 1, 15), Months(13)), Ts(1998, 12, 15));
  // Months first, then days, then time: Jan 31 + (1 month 1 day) = Mar 1.
  EXPECT_EQ(AddInterval(Ts(2021, 1, 31), Interval{1, 1, 0}), Ts(2021, 3, 1));
  EXPECT_EQ(AddInterval(Ts(2021, 1, 1), Interval{0, 1, -kHour}), Ts(2021, 1, 1, 23));
  EXPECT_EQ(AddInterval(kTimestampInfinity, Months(1)), kTimestampInfinity);
}

// --- NextBucketStart and the bucket ranges -------------------------------------

TEST(TimeBucketTest, NextBucketStart) {
  EXPECT_EQ(TimeBucketer(Hours(1)).NextBucketStart(Ts(2020, 1, 1, 23)), Ts(2020, 1, 2));
  EXPECT_EQ(TimeBucketer(Months(1)).NextBucketStart(Ts(2020, 1, 1)), Ts(2020, 2, 1));
  EXPECT_EQ(TimeBucketer(Months(12)).NextBucketStart(Ts(2020, 1, 1)), Ts(2021, 1, 1));
  EXPECT_EQ(TimeBucketer(Months(3), std::nullopt, Days(1)).NextBucketStart(Ts(2020, 1, 2)), Ts(2020, 4, 2));
  EXPECT_EQ(TimeBucketer(Months(3), std::nullopt, Months(1)).NextBucketStart(Ts(2019, 11, 1)), Ts(2020, 2, 1));
  EXPECT_EQ(TimeBucketer(Minutes(5), std::nullopt, Minutes(2)).NextBucketStart(Ts(2011, 1, 2, 1, 2)),
            Ts(2011, 1, 2, 1, 7));
  EXPECT_EQ(TimeBucketer(Days(7)).NextBucketStart(Ts(294276, 12, 25)), kTimestampInfinity);
  EXPECT_EQ(TimeBucketer(Months(1)).NextBucketStart(Ts(294276, 12, 1)), kTimestampInfinity);
}

TEST(TimeBucketTest, MonthOffsetOnFixedWidthIsIrregular) {
  // By hand: 1-day buckets shifted by one month. 2020-03-15 12:00 - 1 month is
  // 02-15 12:00, its day starts 02-15, + 1 month = 03-15; the next is 03-16.
  const TimeBucketer bucketer(Days(1), std::nullopt, Months(1));
  EXPECT_FALSE(bucketer.IsRegular());
  EXPECT_EQ(bucketer.BucketStart(Ts(2020, 3, 15, 12)), Ts(2020, 3, 15));
  EXPECT_EQ(bucketer.NextBucketStart(Ts(2020, 3, 15)), Ts(2020, 3, 16));
  // 03-30 and 03-31 both map to 02-29 and so to the bucket 03-29.
  EXPECT_EQ(bucketer.BucketStart(Ts(2020, 3, 31, 12)), Ts(2020, 3, 29));
  EXPECT_TRUE(TimeBucketer(Months(1), std::nullopt, Months(1)).IsRegular());
  EXPECT_FALSE(TimeBucketer(Months(1), std::nullopt, Interval{1, 1, 0}).IsRegular());
  EXPECT_TRUE(TimeBucketer(Days(1), std::nullopt, Days(1)).IsRegular());
}

TEST(TimeBucketTest, RandomTimestampsLieInsideTheirBucket) {
  // Property check over many widths, origins and offsets: floor semantics
  // against a 128-bit reference, and start <= ts < next start.
  std::mt19937_64 rng(42);
  const Interval widths[] = {Micros(1),  Micros(7919),    Minutes(5), Hours(1),  Hours(7), Days(1),
                             Days(7),    Interval{0, 3, 5}, Months(1),  Months(3), Months(12), Months(17)};
  const Interval offsets[] = {Interval{}, Minutes(-2), Hours(5), Days(3), Months(2)};
  std::uniform_int_distribution<int64_t> any_ts(Ts(1, 1, 1), Ts(9999, 12, 31));
  for (const Interval& width : widths) {
    for (const Interval& offset : offsets) {
      for (int with_origin = 0; with_origin < 2; ++with_origin) {
        const std::optional<Timestamp> origin =
            with_origin ? std::optional<Timestamp>(any_ts(rng)) : std::nullopt;
        const TimeBucketer bucketer(width, origin, offset);
        for (int i = 0; i < 200; ++i) {
          const Timestamp ts = any_ts(rng);
          const Timestamp start = bucketer.BucketStart(ts);
          ASSERT_LE(start, ts);
          if (!bucketer.IsRegular()) continue;
          ASSERT_LT(ts, bucketer.NextBucketStart(start));
          ASSERT_EQ(bucketer.BucketStart(start), start);
          if (width.months == 0 && offset.months == 0 && offset.days == 0 && offset.micros == 0) {
            const __int128 period = static_cast<__int128>(width.days) * kMicrosPerDay + width.micros;
            const __int128 o = origin.value_or(2 * kMicrosPerDay);
            __int128 q = (static_cast<__int128>(ts) - o) / period;
            if ((static_cast<__int128>(ts) - o) % period < 0) --q;
            ASSERT_EQ(static_cast<__int128>(start), q * period + o);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace aegis::core
