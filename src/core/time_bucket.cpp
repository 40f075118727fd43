// TimescaleDB-compatible time_bucket() math and the calendar helpers it needs.
#include "time_bucket.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "error.h"

namespace aegis::core {

namespace {

using Int128 = __int128;

// TimescaleDB's default origin for fixed widths: Monday 2000-01-03 00:00.
constexpr Timestamp kDefaultOrigin = 2 * kMicrosPerDay;
// Default origin for month widths: 2000-01 as year * 12 + month - 1.
constexpr int64_t kDefaultOriginMonth = 2000 * 12;
// Days from 0000-03-01 (start of the proleptic Gregorian 400-year cycle used
// below) to 2000-01-01, PostgreSQL's epoch.
constexpr int64_t kDaysFromCycleStartToEpoch = 730425;

// Floor of a / b for b > 0.
constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if (a % b != 0 && a < 0) --q;
  return q;
}

// a mod b in [0, b) for b > 0.
constexpr int64_t FloorMod(int64_t a, int64_t b) { return a - FloorDiv(a, b) * b; }

// Days since 2000-01-01 of a proleptic Gregorian date; astronomical years
// (year 0 is 1 BC), as PostgreSQL's date2j uses. Month 1..12, day 1..31.
constexpr int64_t DaysFromCivil(int64_t year, int64_t month, int64_t day) {
  // Count years from March so that February's leap day ends the year.
  const int64_t y = year - (month <= 2 ? 1 : 0);
  const int64_t cycle = FloorDiv(y, 400);
  const int64_t year_of_cycle = y - cycle * 400;                     // [0, 399]
  const int64_t month_from_march = (month + 9) % 12;                 // March = 0
  const int64_t day_of_year = (153 * month_from_march + 2) / 5 + day - 1;  // [0, 365]
  const int64_t day_of_cycle = year_of_cycle * 365 + year_of_cycle / 4 - year_of_cycle / 100 + day_of_year;
  return cycle * 146097 + day_of_cycle - kDaysFromCycleStartToEpoch;
}

struct CivilDate {
  int64_t year;
  int64_t month;  // 1..12
  int64_t day;    // 1..31
};

// Inverse of DaysFromCivil.
constexpr CivilDate CivilFromDays(int64_t days) {
  const int64_t z = days + kDaysFromCycleStartToEpoch;
  const int64_t cycle = FloorDiv(z, 146097);
  const int64_t day_of_cycle = z - cycle * 146097;  // [0, 146096]
  const int64_t year_of_cycle =
      (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36524 - day_of_cycle / 146096) / 365;  // [0, 399]
  const int64_t day_of_year = day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
  const int64_t month_from_march = (5 * day_of_year + 2) / 153;  // [0, 11]
  const int64_t day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
  const int64_t month = month_from_march < 10 ? month_from_march + 3 : month_from_march - 9;
  const int64_t year = year_of_cycle + cycle * 400 + (month <= 2 ? 1 : 0);
  return CivilDate{year, month, day};
}

static_assert(DaysFromCivil(2000, 1, 1) == 0, "PostgreSQL epoch");
static_assert(DaysFromCivil(2000, 1, 3) == 2, "TimescaleDB default origin");
static_assert(DaysFromCivil(1970, 1, 1) == -10957, "Unix epoch");
static_assert(DaysFromCivil(-4713, 11, 24) * kMicrosPerDay == kTimestampMinValid, "Julian day 0");
static_assert(DaysFromCivil(294277, 1, 1) * kMicrosPerDay == kTimestampEndValid, "PostgreSQL's end");
static_assert(CivilFromDays(-1).year == 1999 && CivilFromDays(-1).month == 12 && CivilFromDays(-1).day == 31,
              "day before the epoch");
static_assert(CivilFromDays(DaysFromCivil(0, 2, 29)).day == 29, "1 BC is a leap year");

// Proleptic Gregorian leap year rule on astronomical years.
constexpr bool IsLeapYear(int64_t year) {
  return FloorMod(year, 4) == 0 && (FloorMod(year, 100) != 0 || FloorMod(year, 400) == 0);
}

// Number of days in a month.
constexpr int64_t DaysInMonth(int64_t year, int64_t month) {
  constexpr int64_t kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// Month number (year * 12 + month - 1) of the calendar month holding ts.
int64_t MonthIndexOf(Int128 ts) {
  const CivilDate date = CivilFromDays(static_cast<int64_t>(
      ts >= 0 ? ts / kMicrosPerDay : -((-ts + kMicrosPerDay - 1) / kMicrosPerDay)));
  return date.year * 12 + date.month - 1;
}

// 00:00 on the first day of a month number, in microseconds.
Int128 MonthStart(int64_t month_index) {
  return static_cast<Int128>(DaysFromCivil(FloorDiv(month_index, 12), FloorMod(month_index, 12) + 1, 1)) *
         kMicrosPerDay;
}

// Throws PostgreSQL's "timestamp out of range".
[[noreturn]] void ThrowOutOfRange() { throw Error(ErrorCategory::DatetimeOverflow, "timestamp out of range"); }

// v as a timestamp when it lies in PostgreSQL's valid range, else throws.
Timestamp CheckedTimestamp(Int128 v) {
  if (v < kTimestampMinValid || v >= kTimestampEndValid) ThrowOutOfRange();
  return static_cast<Timestamp>(v);
}

// timestamp_pl_interval on a valid finite timestamp, with signed 64-bit parts
// so that negating an interval never overflows. Each step is range-checked as
// PostgreSQL does (tm2timestamp after months and after days, then the end).
Timestamp AddIntervalParts(Timestamp ts, int64_t months, int64_t days, int64_t micros) {
  if (months != 0) {
    const int64_t day_number = FloorDiv(ts, kMicrosPerDay);
    const int64_t time_of_day = ts - day_number * kMicrosPerDay;
    const CivilDate date = CivilFromDays(day_number);
    const int64_t month0 = date.month - 1 + months;
    const int64_t year = date.year + FloorDiv(month0, 12);
    const int64_t month = FloorMod(month0, 12) + 1;
    const int64_t day = std::min(date.day, DaysInMonth(year, month));
    ts = CheckedTimestamp(static_cast<Int128>(DaysFromCivil(year, month, day)) * kMicrosPerDay + time_of_day);
  }
  if (days != 0) ts = CheckedTimestamp(static_cast<Int128>(ts) + static_cast<Int128>(days) * kMicrosPerDay);
  return CheckedTimestamp(static_cast<Int128>(ts) + micros);
}

// True for -infinity and infinity.
bool IsInfinite(Timestamp ts) { return ts == kTimestampMinusInfinity || ts == kTimestampInfinity; }

// Negates a 64-bit microsecond count; INT64_MIN has no negation in range.
int64_t NegateMicros(int64_t micros) {
  if (micros == std::numeric_limits<int64_t>::min()) ThrowOutOfRange();
  return -micros;
}

}  // namespace

Timestamp AddInterval(Timestamp ts, const Interval& iv) {
  if (IsInfinite(ts)) return ts;
  return AddIntervalParts(CheckedTimestamp(ts), iv.months, iv.days, iv.micros);
}

Timestamp SubtractInterval(Timestamp ts, const Interval& iv) {
  if (IsInfinite(ts)) return ts;
  return AddIntervalParts(CheckedTimestamp(ts), -static_cast<int64_t>(iv.months), -static_cast<int64_t>(iv.days),
                          NegateMicros(iv.micros));
}

TimeBucketer::TimeBucketer(Interval width, std::optional<Timestamp> origin, Interval offset)
    : width_(width), origin_(origin), offset_(offset) {
  monthly_ = width.months != 0;
  has_offset_ = offset.months != 0 || offset.days != 0 || offset.micros != 0;
  if (monthly_) {
    if (width.days != 0 || width.micros != 0)
      throw Error(ErrorCategory::NotSupported, "month intervals cannot have day or time component");
    if (width.months <= 0) throw Error(ErrorCategory::InvalidParameter, "period must be greater than 0");
    if (origin && IsInfinite(*origin))
      throw Error(ErrorCategory::InvalidParameter, "origin must be finite for month and year widths");
    // TimescaleDB keeps only the year and month of the origin's date.
    origin_month_ = origin ? MonthIndexOf(*origin) : kDefaultOriginMonth;
    // A pure month offset only renumbers months; days/time beside it may not.
    regular_ = offset.months == 0 || (offset.days == 0 && offset.micros == 0);
  } else {
    const Int128 period = static_cast<Int128>(width.days) * kMicrosPerDay + width.micros;
    if (period <= 0) throw Error(ErrorCategory::InvalidParameter, "period must be greater than 0");
    if (period > std::numeric_limits<int64_t>::max())
      throw Error(ErrorCategory::InvalidParameter, "bucket width out of range",
                  "The width must be shorter than 106751991 days.");
    period_ = static_cast<int64_t>(period);
    shift_ = origin.value_or(kDefaultOrigin) % period_;
    regular_ = offset.months == 0;
  }
}

TimeBucketer TimeBucketer::FromFunction(std::function<Timestamp(Timestamp)> bucket_of) {
  TimeBucketer bucketer(Interval{0, 0, 1});
  bucketer.function_ = std::move(bucket_of);
  bucketer.regular_ = false;
  bucketer.period_ = 0;
  return bucketer;
}

Timestamp TimeBucketer::BucketStart(Timestamp ts) const {
  if (function_) return function_(ts);
  if (IsInfinite(ts)) return ts;
  if (ts < kTimestampMinValid || ts >= kTimestampEndValid) ThrowOutOfRange();
  const Timestamp shifted = has_offset_ ? SubtractInterval(ts, offset_) : ts;

  Int128 start;
  if (monthly_) {
    const int64_t months = width_.months;
    const int64_t month = MonthIndexOf(shifted);
    start = MonthStart(FloorDiv(month - origin_month_, months) * months + origin_month_);
  } else {
    // TimescaleDB's TIME_BUCKET_TS: remove origin % period, floor, add it back.
    // Its guard against int64 overflow fires even when the true bucket would
    // be in range (e.g. a very old origin with a very new ts and long width).
    if ((shift_ > 0 && shifted < std::numeric_limits<int64_t>::min() + shift_) ||
        (shift_ < 0 && shifted > std::numeric_limits<int64_t>::max() + shift_))
      throw Error(ErrorCategory::NumericOutOfRange, "timestamp out of range");
    const int64_t t = shifted - shift_;
    const int64_t quotient = t / period_;
    start = static_cast<Int128>(quotient) * period_ - (t % period_ < 0 ? period_ : 0) + shift_;
  }

  if (!has_offset_) return CheckedTimestamp(start);
  // timestamp_pl_interval converts the bucket to y/m/d first (failing below the
  // valid range) only when the offset has months or days.
  if (offset_.months != 0 || offset_.days != 0) return AddInterval(CheckedTimestamp(start), offset_);
  return CheckedTimestamp(start + offset_.micros);
}

Timestamp TimeBucketer::NextBucketStart(Timestamp bucket_start) const {
  if (function_) throw Error(ErrorCategory::Internal, "a bucketing function has no next bucket");
  if (IsInfinite(bucket_start)) return bucket_start;
  const auto in_range_or_infinity = [](Int128 v) {
    return v < kTimestampMinValid || v >= kTimestampEndValid ? kTimestampInfinity : static_cast<Timestamp>(v);
  };

  if (regular_) {
    // The offset is a plain translation (days are 24 h on this timeline) or,
    // for month widths, a whole number of months that keeps starts on the 1st.
    const Int128 translation =
        offset_.months == 0 ? static_cast<Int128>(offset_.days) * kMicrosPerDay + offset_.micros : 0;
    const Int128 base = static_cast<Int128>(bucket_start) - translation;
    const Int128 next = monthly_ ? MonthStart(MonthIndexOf(base) + width_.months) : base + period_;
    return in_range_or_infinity(next + translation);
  }

  // Irregular (month offset with a fixed width, or with days/time): walk the
  // shifted buckets after the one holding bucket_start - offset and take the
  // smallest image above bucket_start among the next few.
  const Timestamp shifted = SubtractInterval(bucket_start, offset_);
  Int128 base;
  if (monthly_) {
    base = MonthStart(FloorDiv(MonthIndexOf(shifted) - origin_month_, width_.months) * width_.months + origin_month_);
  } else {
    const Int128 t = static_cast<Int128>(shifted) - shift_;
    Int128 quotient = t / period_;
    if (t % period_ < 0) --quotient;
    base = quotient * period_ + shift_;
  }
  std::optional<Timestamp> best;
  for (int step = 1; step <= 64; ++step) {
    const Int128 next_base = monthly_ ? MonthStart(MonthIndexOf(base) + static_cast<int64_t>(step) * width_.months)
                                      : base + static_cast<Int128>(step) * period_;
    if (next_base < kTimestampMinValid || next_base >= kTimestampEndValid) break;
    Timestamp candidate;
    try {
      candidate = AddInterval(static_cast<Timestamp>(next_base), offset_);
    } catch (const Error&) {
      break;
    }
    if (candidate > bucket_start && (!best || candidate < *best)) best = candidate;
  }
  return best.value_or(kTimestampInfinity);
}

Timestamp TimeBucket(const Interval& width, Timestamp ts, std::optional<Timestamp> origin, const Interval& offset) {
  if (IsInfinite(ts)) return ts;
  return TimeBucketer(width, origin, offset).BucketStart(ts);
}

int64_t IntegerTimeBucket(int64_t width, int64_t ts, int64_t offset, int64_t min, int64_t max) {
  if (width <= 0) throw Error(ErrorCategory::InvalidParameter, "period must be greater than 0");
  if (offset != 0) {
    // The shifted timestamp must stay in the type's range.
    offset %= width;
    if ((offset > 0 && ts < min + offset) || (offset < 0 && ts > max + offset)) ThrowOutOfRange();
    ts -= offset;
  }
  int64_t result = (ts / width) * width;
  if (ts < 0 && ts % width != 0) {
    if (result < min + width) ThrowOutOfRange();
    result -= width;
  }
  return result + offset;
}

}  // namespace aegis::core
