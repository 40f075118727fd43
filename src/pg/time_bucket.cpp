// aegis.time_bucket: TimescaleDB's time_bucket on timestamptz, all four
// overloads, with the bucketing math in the core (src/core/time_bucket.h).
#include <optional>
#include <string>

#include "core/error.h"
#include "core/time_bucket.h"

#include "pg/boundary.h"
#include "pg/interval.h"

extern "C" {
#include "utils/date.h"
#include "utils/fmgrprotos.h"
}

namespace aegis::pg {

core::Interval ToCoreInterval(const Interval* interval) {
  core::Interval result;
  result.months = interval->month;
  result.days = interval->day;
  result.micros = interval->time;
  return result;
}

}  // namespace aegis::pg

using aegis::pg::ToCoreInterval;

// time_bucket(bucket_width, ts): buckets aligned to Monday 2000-01-03 (UTC).
AEGIS_PG_FUNCTION(aegis_time_bucket) {
  aegis::core::Interval width = ToCoreInterval(PG_GETARG_INTERVAL_P(0));
  PG_RETURN_TIMESTAMPTZ(aegis::core::TimeBucket(width, PG_GETARG_TIMESTAMPTZ(1)));
}

// time_bucket(bucket_width, ts, origin): buckets aligned to origin.
AEGIS_PG_FUNCTION(aegis_time_bucket_origin) {
  aegis::core::Interval width = ToCoreInterval(PG_GETARG_INTERVAL_P(0));
  PG_RETURN_TIMESTAMPTZ(aegis::core::TimeBucket(width, PG_GETARG_TIMESTAMPTZ(1), PG_GETARG_TIMESTAMPTZ(2)));
}

// time_bucket(bucket_width, ts, "offset"): as TimescaleDB, ts - offset is
// bucketed and offset added back with timestamptz arithmetic (so the day and
// month parts of the offset follow the session time zone).
AEGIS_PG_FUNCTION(aegis_time_bucket_offset) {
  aegis::core::Interval width = ToCoreInterval(PG_GETARG_INTERVAL_P(0));
  TimestampTz ts = PG_GETARG_TIMESTAMPTZ(1);
  Datum offset = PG_GETARG_DATUM(2);
  if (TIMESTAMP_NOT_FINITE(ts)) PG_RETURN_TIMESTAMPTZ(ts);
  TimestampTz shifted = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval, TimestampTzGetDatum(ts), offset));
  TimestampTz bucket = aegis::core::TimeBucket(width, shifted);
  return aegis::pg::PgCall([&] { return DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(bucket), offset); });
}

// time_bucket(bucket_width, ts, timezone, origin, "offset"), as TimescaleDB
// 2.28's ts_timestamptz_timezone_bucket computes it:
//   1. ts - offset, in UTC space (timestamptz arithmetic, so that the offset
//      never lands in a wall-clock time that does not exist);
//   2. bucketed in the wall-clock time of timezone (aligned to local midnight
//      of Monday 2000-01-03, or to origin AT TIME ZONE timezone);
//   3. the local bucket start back to timestamptz (an ambiguous local time in
//      the repeated hour of a fall-back reads as standard time, the later
//      instant, so the start can lie after ts: then it steps back by the
//      width until it is not after ts);
//   4. + offset.
// TimescaleDB steps back one width at a time; a width of days or months
// takes at most a step or two, a pure time width is stepped back in one
// subtraction of the same total (for a width of a few seconds TimescaleDB
// loops hundreds of times to the same result).
AEGIS_PG_FUNCTION(aegis_time_bucket_timezone) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2)) PG_RETURN_NULL();
  Datum width_datum = PG_GETARG_DATUM(0);
  aegis::core::Interval width = ToCoreInterval(PG_GETARG_INTERVAL_P(0));
  Datum zone = PG_GETARG_DATUM(2);
  const bool has_offset = !PG_ARGISNULL(4);
  Datum ts_datum = PG_GETARG_DATUM(1);
  if (has_offset) ts_datum = DirectFunctionCall2(timestamptz_mi_interval, ts_datum, PG_GETARG_DATUM(4));
  const TimestampTz ts = DatumGetTimestampTz(ts_datum);
  Timestamp local = DatumGetTimestamp(DirectFunctionCall2(timestamptz_zone, zone, ts_datum));
  std::optional<aegis::core::Timestamp> origin;
  if (!PG_ARGISNULL(3))
    origin = DatumGetTimestamp(DirectFunctionCall2(timestamptz_zone, zone, PG_GETARG_DATUM(3)));
  const Timestamp local_bucket = aegis::core::TimeBucket(width, local, origin);
  return aegis::pg::PgCall([&] {
    Datum result = DirectFunctionCall2(timestamp_zone, zone, TimestampGetDatum(local_bucket));
    const TimestampTz start = DatumGetTimestampTz(result);
    if (start > ts && width.months == 0 && width.days == 0) {
      // width.micros > 0: TimeBucket validated it.
      const int64 steps = (start - ts + width.micros - 1) / width.micros;
      Interval back;
      back.month = 0;
      back.day = 0;
      back.time = steps * width.micros;
      result = DirectFunctionCall2(timestamptz_mi_interval, result, IntervalPGetDatum(&back));
    }
    while (DatumGetTimestampTz(result) > ts) {
      CHECK_FOR_INTERRUPTS();
      result = DirectFunctionCall2(timestamptz_mi_interval, result, width_datum);
    }
    if (has_offset) result = DirectFunctionCall2(timestamptz_pl_interval, result, PG_GETARG_DATUM(4));
    return result;
  });
}

// time_bucket(width, ts timestamp [, origin timestamp]): the timestamptz
// rules on the plain timestamp's clock (TimescaleDB's ts_timestamp_bucket).
AEGIS_PG_FUNCTION(aegis_time_bucket_timestamp) {
  aegis::core::Interval width = ToCoreInterval(PG_GETARG_INTERVAL_P(0));
  std::optional<aegis::core::Timestamp> origin;
  if (PG_NARGS() > 2) origin = PG_GETARG_TIMESTAMP(2);
  PG_RETURN_TIMESTAMP(aegis::core::TimeBucket(width, PG_GETARG_TIMESTAMP(1), origin));
}

// time_bucket(width, ts timestamp, "offset"): ts - offset bucketed, offset
// added back, with timestamp arithmetic (no time zone is involved).
AEGIS_PG_FUNCTION(aegis_time_bucket_timestamp_offset) {
  aegis::core::Interval width = ToCoreInterval(PG_GETARG_INTERVAL_P(0));
  aegis::core::Interval offset = ToCoreInterval(PG_GETARG_INTERVAL_P(2));
  const Timestamp ts = PG_GETARG_TIMESTAMP(1);
  if (TIMESTAMP_NOT_FINITE(ts)) PG_RETURN_TIMESTAMP(ts);
  const Timestamp shifted = aegis::core::SubtractInterval(ts, offset);
  PG_RETURN_TIMESTAMP(aegis::core::AddInterval(aegis::core::TimeBucket(width, shifted), offset));
}

namespace {

// A date's time_bucket as TimescaleDB's ts_date_bucket computes it: the date
// as a timestamp, bucketed, back to a date; a width without months must be a
// whole number of days.
DateADT DateBucket(const Interval* width_arg, DateADT date, std::optional<DateADT> origin_date) {
  const aegis::core::Interval width = ToCoreInterval(width_arg);
  if (width.months == 0) {
    const __int128 period = static_cast<__int128>(width.days) * USECS_PER_DAY + width.micros;
    if (period <= 0)
      throw aegis::core::Error(aegis::core::ErrorCategory::InvalidParameter, "period must be greater than 0");
    if (period < USECS_PER_DAY)
      throw aegis::core::Error(aegis::core::ErrorCategory::NotSupported, "interval must not have sub-day precision");
    if (period % USECS_PER_DAY != 0)
      throw aegis::core::Error(aegis::core::ErrorCategory::NotSupported, "interval must be a multiple of a day");
  }
  const Timestamp ts = aegis::pg::PgCall([&] { return DatumGetTimestamp(DirectFunctionCall1(date_timestamp, DateADTGetDatum(date))); });
  std::optional<aegis::core::Timestamp> origin;
  if (origin_date) {
    origin = aegis::pg::PgCall(
        [&] { return DatumGetTimestamp(DirectFunctionCall1(date_timestamp, DateADTGetDatum(*origin_date))); });
  }
  const Timestamp bucket = aegis::core::TimeBucket(width, ts, origin);
  return aegis::pg::PgCall([&] { return DatumGetDateADT(DirectFunctionCall1(timestamp_date, TimestampGetDatum(bucket))); });
}

}  // namespace

// time_bucket(width, ts date [, origin date]).
AEGIS_PG_FUNCTION(aegis_time_bucket_date) {
  const DateADT date = PG_GETARG_DATEADT(1);
  if (DATE_NOT_FINITE(date)) PG_RETURN_DATEADT(date);
  std::optional<DateADT> origin;
  if (PG_NARGS() > 2) origin = PG_GETARG_DATEADT(2);
  PG_RETURN_DATEADT(DateBucket(PG_GETARG_INTERVAL_P(0), date, origin));
}

// time_bucket(width, ts date, "offset"): date - offset (a timestamp, cut to
// its date) bucketed, then + offset cut to a date, as TimescaleDB.
AEGIS_PG_FUNCTION(aegis_time_bucket_date_offset) {
  const DateADT date = PG_GETARG_DATEADT(1);
  if (DATE_NOT_FINITE(date)) PG_RETURN_DATEADT(date);
  const Datum offset = PG_GETARG_DATUM(2);
  const DateADT shifted = aegis::pg::PgCall([&] {
    return DatumGetDateADT(
        DirectFunctionCall1(timestamp_date, DirectFunctionCall2(date_mi_interval, DateADTGetDatum(date), offset)));
  });
  const DateADT bucket = DateBucket(PG_GETARG_INTERVAL_P(0), shifted, std::nullopt);
  return aegis::pg::PgCall([&] {
    return DirectFunctionCall1(timestamp_date, DirectFunctionCall2(date_pl_interval, DateADTGetDatum(bucket), offset));
  });
}

// time_bucket(width, ts [, offset]) for smallint, integer and bigint time.
AEGIS_PG_FUNCTION(aegis_time_bucket_int2) {
  const int64_t offset = PG_NARGS() > 2 ? PG_GETARG_INT16(2) : 0;
  PG_RETURN_INT16(static_cast<int16>(
      aegis::core::IntegerTimeBucket(PG_GETARG_INT16(0), PG_GETARG_INT16(1), offset, PG_INT16_MIN, PG_INT16_MAX)));
}

AEGIS_PG_FUNCTION(aegis_time_bucket_int4) {
  const int64_t offset = PG_NARGS() > 2 ? PG_GETARG_INT32(2) : 0;
  PG_RETURN_INT32(static_cast<int32>(
      aegis::core::IntegerTimeBucket(PG_GETARG_INT32(0), PG_GETARG_INT32(1), offset, PG_INT32_MIN, PG_INT32_MAX)));
}

AEGIS_PG_FUNCTION(aegis_time_bucket_int8) {
  const int64_t offset = PG_NARGS() > 2 ? PG_GETARG_INT64(2) : 0;
  PG_RETURN_INT64(aegis::core::IntegerTimeBucket(PG_GETARG_INT64(0), PG_GETARG_INT64(1), offset, PG_INT64_MIN, PG_INT64_MAX));
}

// aegis.time_bucket_gapfill, aegis.locf and aegis.interpolate are computed by
// the engine in a GROUP BY over aegis.points (points_fdw.cpp); PostgreSQL
// calls these bodies only where the engine did not take the query.
namespace {

[[noreturn]] void GapfillOutsideEngine(const char* function) {
  throw aegis::core::Error(
      aegis::core::ErrorCategory::NotSupported,
      std::string(function) + " is computed only by the engine, in a GROUP BY over aegis.points",
      "The query must group by aegis.time_bucket_gapfill(width, ts [, start, finish]) and expressions of metric "
      "and tags, have every condition on metric, tags, ts or value, and aggregate with functions the engine "
      "computes; aegis.locf and aegis.interpolate wrap such an aggregate directly.",
      "See docs/queries.md, \"Gap filling\"; aegis.aggregate(..., fill => 'previous') fills gaps too.");
}

}  // namespace

AEGIS_PG_FUNCTION(aegis_time_bucket_gapfill) {
  (void)fcinfo;
  GapfillOutsideEngine("aegis.time_bucket_gapfill");
}
AEGIS_PG_FUNCTION(aegis_locf) {
  (void)fcinfo;
  GapfillOutsideEngine("aegis.locf");
}
AEGIS_PG_FUNCTION(aegis_interpolate) {
  (void)fcinfo;
  GapfillOutsideEngine("aegis.interpolate");
}
