// Time bucketing with the exact semantics of TimescaleDB's time_bucket()
// (timescale/timescaledb src/time_bucket.c: ts_timestamp_bucket,
// ts_timestamptz_bucket, ts_timestamptz_offset_bucket,
// ts_timestamptz_timezone_bucket), on PostgreSQL's microsecond timeline.
//
// Rules reproduced here:
//  - Widths without months are fixed spans: days count as 24 h (in the plain
//    timestamptz variants bucketing happens in UTC). Buckets are aligned to the
//    origin, by default Monday 2000-01-03 00:00, with floor semantics on both
//    sides of it (an origin later than the timestamp is fine).
//  - Widths with months (a year is 12 months) bucket calendar months: only the
//    year and month of the timestamp and of the origin count (the origin's day
//    and time of day are ignored), the default origin is 2000-01-01 and a
//    bucket starts at 00:00 on the first of its month.
//  - A width may not mix months with days or time (SQLSTATE 0A000, as in
//    TimescaleDB) and must be positive; days and time are summed first, so
//    '-1 day 25 hours' is a 1-hour width, as in TimescaleDB.
//  - `offset` moves the buckets: ts - offset is bucketed and the offset added
//    back, with PostgreSQL's timestamp +/- interval arithmetic (months first,
//    clamped to the month's last day, then days, then time).
//  - -infinity / infinity come back unchanged (TimescaleDB does this before it
//    even looks at the width: see TimeBucket()).
//  - A result outside PostgreSQL's timestamp range is an error.
//
// The time-zone variant time_bucket(width, ts, timezone, origin, "offset") is
// computed by the PostgreSQL layer around this same math, as TimescaleDB
// 2.28's ts_timestamptz_timezone_bucket does (src/pg/time_bucket.cpp):
//     shifted = ts - offset                            (timestamptz_mi_interval)
//     local   = shifted AT TIME ZONE timezone          (timestamptz_zone)
//     b       = TimeBucket(width, local, origin AT TIME ZONE timezone)
//     result  = b AT TIME ZONE timezone                (timestamp_zone)
//     while result > shifted: result -= width           (repeated hour of a fall-back)
//     result + offset
// so with no origin the buckets start at local midnight of Monday 2000-01-03
// (local 2000-01-01 for month widths). NULL width/ts/timezone give NULL.
//
// The plain variant time_bucket(width, ts, "offset") applies the offset with
// timestamptz - interval, i.e. days and months of the offset in the session
// time zone. This class applies them in UTC, which is the same when the offset
// has no day or month part or TimeZone is UTC; otherwise the PostgreSQL layer
// subtracts/adds the offset itself (timestamptz_mi_interval /
// timestamptz_pl_interval) around TimeBucket(width, shifted).
#pragma once
#include "cpp_only.h"

#include <cstdint>
#include <functional>
#include <optional>

#include "types.h"

namespace aegis::core {

// PostgreSQL's interval: months, days and microseconds kept apart.
struct Interval {
  int32_t months = 0;
  int32_t days = 0;
  int64_t micros = 0;
};

// PostgreSQL's finite timestamp range [kTimestampMinValid, kTimestampEndValid):
// 4714-11-24 00:00 BC up to 294276-12-31 23:59:59.999999.
constexpr Timestamp kTimestampMinValid = -211813488000000000;
constexpr Timestamp kTimestampEndValid = 9223371331200000000;

// ts + iv as PostgreSQL's timestamp_pl_interval computes it on a plain
// timestamp; Error(DatetimeOverflow, "timestamp out of range") when a step
// leaves the valid range. Infinite ts is returned unchanged.
Timestamp AddInterval(Timestamp ts, const Interval& iv);

// ts - iv as PostgreSQL's timestamp_mi_interval computes it.
Timestamp SubtractInterval(Timestamp ts, const Interval& iv);

// Buckets timestamps for one width/origin/offset.
class TimeBucketer {
 public:
  // Validates the width: months mixed with days/time ->
  // Error(NotSupported, "month intervals cannot have day or time component");
  // not positive -> Error(InvalidParameter, "period must be greater than 0").
  // origin nullopt = TimescaleDB's default for the width kind. An infinite
  // origin is accepted for fixed widths (TimescaleDB aligns to the raw int64)
  // and rejected for month widths (Error(InvalidParameter)).
  explicit TimeBucketer(Interval width, std::optional<Timestamp> origin = std::nullopt, Interval offset = {});

  // A bucketer whose bucket of ts is bucket_of(ts): the PostgreSQL layer's
  // evaluation of a GROUP BY expression of ts (date_trunc in a time zone with
  // daylight saving time, any other expression). Irregular, so every point
  // is bucketed by it and no summary is taken; NextBucketStart is not
  // available (Error(Internal)), so neither are fills nor the per-series
  // functions' windows.
  static TimeBucketer FromFunction(std::function<Timestamp(Timestamp)> bucket_of);

  // Start of the bucket holding ts; infinite ts is returned unchanged. Throws
  // Error(DatetimeOverflow) when the result (or ts - offset) is out of range,
  // and Error(NumericOutOfRange) where TimescaleDB's own overflow guard fires
  // (origin remainder pushing ts past int64).
  Timestamp BucketStart(Timestamp ts) const;

  // Start of the bucket after the one starting at bucket_start (a value that
  // BucketStart returned); kTimestampInfinity when it would be out of range.
  Timestamp NextBucketStart(Timestamp bucket_start) const;

  // True for a FromFunction bucketer.
  bool IsFunction() const { return static_cast<bool>(function_); }

  // True for month/year widths.
  bool IsMonthly() const { return monthly_; }

  // True when every bucket covers exactly [start, NextBucketStart(start)), so
  // bucket starts rise with ts. False only for offsets whose month part
  // (clamped to month ends) can reorder timestamps: a month offset with a
  // fixed width, or with days/time beside it.
  bool IsRegular() const { return regular_; }

  // Fixed widths: the width in microseconds; 0 for month widths.
  int64_t PeriodMicros() const { return period_; }

  const Interval& width() const { return width_; }
  // The origin given (nullopt: the default for the width kind).
  const std::optional<Timestamp>& origin() const { return origin_; }
  const Interval& offset() const { return offset_; }
  // True when an offset moves the buckets.
  bool HasOffset() const { return has_offset_; }

 private:
  Interval width_;
  std::optional<Timestamp> origin_;
  Interval offset_;
  bool monthly_ = false;
  bool regular_ = true;
  bool has_offset_ = false;
  int64_t period_ = 0;        // fixed widths: width in microseconds
  int64_t shift_ = 0;         // fixed widths: origin % period_ (C remainder)
  int64_t origin_month_ = 0;  // month widths: origin as year * 12 + month - 1
  std::function<Timestamp(Timestamp)> function_;  // FromFunction's
};

// One call of SQL time_bucket(width, ts [, origin] [, offset]) in TimescaleDB's
// order: an infinite ts is returned before the width is validated.
Timestamp TimeBucket(const Interval& width, Timestamp ts, std::optional<Timestamp> origin = std::nullopt,
                     const Interval& offset = {});

// TimescaleDB's integer time_bucket(width, ts [, offset]) for a type of
// range [min, max]: ts - offset floored to a multiple of width, plus offset
// (the offset taken modulo width). width <= 0 -> Error(InvalidParameter,
// "period must be greater than 0"); a result or shifted ts outside the range
// -> Error(DatetimeOverflow, "timestamp out of range"), as TimescaleDB.
int64_t IntegerTimeBucket(int64_t width, int64_t ts, int64_t offset, int64_t min, int64_t max);

}  // namespace aegis::core
