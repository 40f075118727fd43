// aegis.time_bucket: TimescaleDB's time_bucket on timestamptz, all four
// overloads, with the bucketing math in the core (src/core/time_bucket.h).
#include <optional>

#include "core/time_bucket.h"

#include "pg/boundary.h"
#include "pg/interval.h"

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

// time_bucket(bucket_width, ts, timezone, origin, "offset"): buckets in the
// wall-clock time of timezone (local midnight of Monday 2000-01-03 by
// default), as TimescaleDB's ts_timestamptz_timezone_bucket.
AEGIS_PG_FUNCTION(aegis_time_bucket_timezone) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2)) PG_RETURN_NULL();
  aegis::core::Interval width = ToCoreInterval(PG_GETARG_INTERVAL_P(0));
  Datum zone = PG_GETARG_DATUM(2);
  Timestamp local = DatumGetTimestamp(DirectFunctionCall2(timestamptz_zone, zone, PG_GETARG_DATUM(1)));
  std::optional<aegis::core::Timestamp> origin;
  if (!PG_ARGISNULL(3))
    origin = DatumGetTimestamp(DirectFunctionCall2(timestamptz_zone, zone, PG_GETARG_DATUM(3)));
  aegis::core::Interval offset;
  if (!PG_ARGISNULL(4)) offset = ToCoreInterval(PG_GETARG_INTERVAL_P(4));
  Timestamp bucket = aegis::core::TimeBucket(width, local, origin, offset);
  return aegis::pg::PgCall([&] { return DirectFunctionCall2(timestamp_zone, zone, TimestampGetDatum(bucket)); });
}
