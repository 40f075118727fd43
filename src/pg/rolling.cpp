// aegis.rolling(selector, fn, width, since, until): for every point of every
// matching series with since <= ts < until, fn over the trailing window
// (ts - width, ts] of its series (core/rolling.h). Windows reach back before
// since: the points of [since - width, until) are read, a run of series at a
// time, through the same read path as aegis.aggregate (pg/series_data.h).
// Rolled-up ranges hold no points, so rolling sees only raw points there, as
// aegis.read does. Under Citus each series' windows are computed on the
// shard that holds it (aegis._rolling_series, a pure function of the
// series' block rows and recent rows), and the coordinator only passes the
// rows on (docs/scale-out.md).
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/aggregate.h"
#include "core/error.h"
#include "core/rolling.h"
#include "core/series_points.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/engine_stats.h"
#include "pg/series_data.h"
#include "pg/series_query.h"
#include "pg/spi.h"
#include "pg/store.h"

namespace aegis::pg {

namespace {

// The most points of one series rolling holds at once: max(work_mem, 256 MB)
// of them at 16 bytes each.
size_t MaxRollingPoints() {
  return std::max<size_t>(static_cast<size_t>(work_mem) * 1024, size_t{256} << 20) / 16;
}

// The error for a series with more than MaxRollingPoints() points.
core::Error TooManyPoints(size_t max_points) {
  return core::Error(core::ErrorCategory::LimitExceeded, "rolling windows need more memory than allowed",
                     "One series has more than " + std::to_string(max_points) +
                         " points between since - width and until; rolling holds a series' points at once.",
                     "Pass a shorter since/until range, or raise work_mem.");
}

// fn over the trailing window of every point of `points` (ascending) at or
// after since; calls emit(i, value) for each, i indexing points.
template <typename Emit>
void RollPoints(const core::AggregateFn& fn, int64_t width, const core::SeriesPoints& points, core::Timestamp since,
                Emit emit) {
  const size_t begin = core::LowerBound(points, since);
  const std::vector<std::optional<double>> out =
      core::RollingWindow(fn, width, points.ts.data(), points.values.data(), points.size(), begin,
                          [] { CheckForInterrupts(); });
  for (size_t i = 0; i < out.size(); ++i) {
    if ((i & 4095) == 4095) CheckForInterrupts();
    emit(begin + i, out[i]);
  }
}

// The window width of an interval argument, in microseconds (PostgreSQL
// code: ERROR for a month part or a width that is not positive).
int64_t WindowWidth(const Interval* width_interval) {
  if (width_interval->month != 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("rolling window width must be a fixed length"),
                    errdetail("The width has months or years, whose length varies."),
                    errhint("Write the width in days, hours, minutes or seconds.")));
  // Days count as 24 hours (the window is a span of time, not of dates).
  const __int128 width128 =
      static_cast<__int128>(width_interval->day) * USECS_PER_DAY + static_cast<__int128>(width_interval->time);
  if (width128 <= 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("rolling window width must be positive")));
  return width128 > static_cast<__int128>(PG_INT64_MAX) ? PG_INT64_MAX : static_cast<int64_t>(width128);
}

// A sink that keeps one series' points (no summaries, no steps).
class PointCollector {
 public:
  // A series' points in [since - width, until) are held at once (16 bytes
  // each, several times that while the windows are computed): at most
  // max(work_mem, 256 MB) of them.
  explicit PointCollector(size_t max_points) : max_points_(max_points) {}
  void BeginSeries() { points_.clear(); }
  void AddSeriesPoints(const core::Timestamp* ts, const double* values, size_t n) {
    if (points_.size() + n > max_points_) throw TooManyPoints(max_points_);
    points_.ts.insert(points_.ts.end(), ts, ts + n);
    points_.values.insert(points_.values.end(), values, values + n);
  }
  bool TryAddBlockSummary(const core::BlockSummary&) { return false; }
  bool TakesBlockSummary(const core::BlockSummary&) const { return false; }
  core::Timestamp WidestSummary() const { return 0; }
  void AddStep(const core::StepSummary&) {}
  const core::SeriesPoints& points() const { return points_; }

 private:
  size_t max_points_;
  core::SeriesPoints points_;
};

// since - width, or -infinity when that lies before PostgreSQL's timestamps.
core::Timestamp ReadFrom(core::Timestamp since, int64_t width) {
  if (since == core::kTimestampMinusInfinity || since == core::kTimestampInfinity) return since;
  const __int128 start = static_cast<__int128>(since) - width;
  return start < core::kTimestampMinValid ? core::kTimestampMinusInfinity : static_cast<core::Timestamp>(start);
}

}  // namespace

}  // namespace aegis::pg

namespace aegis::pg {

namespace {

// Under Citus: the windows of the series `ids` (ascending), computed on the
// shards by one statement; calls row(i) for each row i (series_id, ts,
// value) of SPI_tuptable, ordered by series and time, a batch at a time
// through a cursor (the rows of many series need not fit in memory).
template <typename Row>
void RollOnShards(const std::vector<int64_t>& ids, core::Timestamp read_from, core::Timestamp since,
                  core::Timestamp until, text* fn, const Interval* width, Row row) {
  constexpr long kBatchRows = 10000;
  const Portal portal = PgCall([&] {
    static SPIPlanPtr plan = nullptr;
    static const Oid types[] = {INT8ARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, INTERVALOID, TIMESTAMPTZOID};
    Datum values[] = {Int64Array(ids.data(), ids.size(), INT8OID), TimestampTzGetDatum(read_from),
                      TimestampTzGetDatum(until),      PointerGetDatum(fn),
                      PointerGetDatum(width),          TimestampTzGetDatum(since)};
    // Each series' blocks and recent rows meet on its shard (both grouped
    // by and joined on the distribution column), so Citus runs all of it
    // there.
    SPIPlanPtr prepared =
        KeptPlan(&plan,
                 "SELECT s.series_id, x.ts, x.value"
                 "  FROM (SELECT coalesce(b.series_id, r.series_id) AS series_id, b.blocks, r.ts, r.vals"
                 "          FROM (SELECT series_id, array_agg(data ORDER BY ts_min) AS blocks FROM aegis.blocks"
                 "                 WHERE series_id = ANY ($1) AND ts_min < $3 AND ts_max >= $2 GROUP BY series_id) b"
                 "          FULL JOIN (SELECT series_id, array_agg(ts ORDER BY ts) AS ts,"
                 "                            array_agg(value ORDER BY ts) AS vals"
                 "                       FROM aegis.recent_points"
                 "                      WHERE series_id = ANY ($1) AND ts >= $2 AND ts < $3"
                 "                      GROUP BY series_id) r ON r.series_id = b.series_id) s"
                 " CROSS JOIN LATERAL aegis._rolling_series(s.series_id, s.blocks, s.ts, s.vals, $4, $5, $6, $3) x"
                 " ORDER BY s.series_id, x.ts",
                 6, types);
    return SPI_cursor_open(nullptr, prepared, values, nullptr, true);
  });
  ForEachCursorRow(portal, kBatchRows, [&](uint64 i) {
    if ((i & 4095) == 4095) CheckForInterrupts();
    row(i);
  });
}

}  // namespace

}  // namespace aegis::pg

AEGIS_PG_FUNCTION(aegis_rolling) {
  aegis::pg::CountStat(aegis::pg::Stat::kQueries, 1);
  using aegis::pg::RequireNotNull;
  RequireNotNull(fcinfo, 0, "selector");
  RequireNotNull(fcinfo, 1, "fn");
  RequireNotNull(fcinfo, 2, "width");
  RequireNotNull(fcinfo, 3, "since");
  RequireNotNull(fcinfo, 4, "until");
  const Interval* width_interval = PG_GETARG_INTERVAL_P(2);
  const int64_t width = aegis::pg::WindowWidth(width_interval);
  const TimestampTz since = PG_GETARG_TIMESTAMPTZ(3);
  const TimestampTz until = PG_GETARG_TIMESTAMPTZ(4);
  text* fn_text = PG_GETARG_TEXT_PP(1);
  // PostgreSQL calls that may raise come before the first C++ object.
  InitMaterializedSRF(fcinfo, 0);
  auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  std::string selector = aegis::pg::TextArgument(fcinfo, 0, "selector");
  const aegis::core::AggregateFn fn = aegis::core::ParseAggregateFn(aegis::pg::TextArgument(fcinfo, 1, "fn"));
  const aegis::core::Timestamp read_from = aegis::pg::ReadFrom(since, width);

  aegis::pg::SpiConnect();
  aegis::pg::MatchedSeries matched = aegis::pg::FindMatchingSeries(selector);
  const size_t n = since < until ? matched.rows.size() : 0;
  const auto put = [&](size_t r, TimestampTz ts, const std::optional<double>& value) {
    Datum values[] = {Int64GetDatum(matched.rows[r].series_id), matched.rows[r].tags, TimestampTzGetDatum(ts),
                      Float8GetDatum(value.value_or(0.0))};
    bool nulls[] = {false, false, false, !value.has_value()};
    aegis::pg::PgCall([&] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls); });
  };
  const bool on_shards = aegis::pg::PgCall([] { return aegis::pg::DataDistributed(); });
  aegis::pg::PointCollector collector(aegis::pg::MaxRollingPoints());
  for (size_t chunk = 0; chunk < n; chunk += aegis::pg::kSeriesPerFetch) {
    const size_t chunk_end = std::min(n, chunk + aegis::pg::kSeriesPerFetch);
    std::vector<int64_t> ids;
    for (size_t r = chunk; r < chunk_end; ++r) ids.push_back(matched.rows[r].series_id);
    if (on_shards) {
      // Rows by series, as matched (ascending ids); a series without points
      // in range has none.
      size_t r = chunk;
      aegis::pg::RollOnShards(ids, read_from, since, until, fn_text, width_interval, [&](uint64 i) {
        bool isnull = false;
        const int64_t id = DatumGetInt64(aegis::pg::ResultValue(i, 1, &isnull));
        while (r < chunk_end && matched.rows[r].series_id < id) ++r;
        if (r == chunk_end || matched.rows[r].series_id != id)
          throw aegis::core::Error(aegis::core::ErrorCategory::Internal, "the shards returned a series not asked for");
        const TimestampTz ts = DatumGetTimestampTz(aegis::pg::ResultValue(i, 2, &isnull));
        const Datum value = aegis::pg::ResultValue(i, 3, &isnull);
        put(r, ts, isnull ? std::nullopt : std::optional<double>(DatumGetFloat8(value)));
      });
      continue;
    }
    aegis::pg::SeriesData data(ids, read_from, until, 0, false, false);
    for (size_t r = chunk; r < chunk_end; ++r) {
      data.Fold(matched.rows[r].series_id, read_from, until, &collector);
      const aegis::core::SeriesPoints& points = collector.points();
      aegis::pg::RollPoints(fn, width, points, since,
                            [&](size_t i, const std::optional<double>& value) { put(r, points.ts[i], value); });
    }
  }
  Release(&matched);
  aegis::pg::SpiFinish();
  return static_cast<Datum>(0);
}

// aegis._rolling_series(series_id, blocks, ts, vals, fn, width, since,
// until): aegis.rolling's rows (ts, value) for one series, from its block
// rows' data (in time order) and its recent rows (ts ascending, a recent
// row replacing a block point at its time), all of [since - width, until).
// A pure function of its arguments, so Citus runs it on the shard that holds
// the series (docs/scale-out.md).
AEGIS_PG_FUNCTION(aegis_rolling_series) {
  for (int i : {0, 4, 5, 6, 7})
    if (PG_ARGISNULL(i))
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                      errmsg("series_id, fn, width, since and until must not be NULL")));
  const int64 series_id = PG_GETARG_INT64(0);
  const int64_t width = aegis::pg::WindowWidth(PG_GETARG_INTERVAL_P(5));
  const TimestampTz since = PG_GETARG_TIMESTAMPTZ(6);
  const TimestampTz until = PG_GETARG_TIMESTAMPTZ(7);
  int n_blocks = 0;
  Datum* blocks = aegis::pg::ByteaArrayElements(fcinfo, 1, "blocks", &n_blocks);
  const aegis::pg::PointArrays recent_rows = aegis::pg::PointArrayArguments(fcinfo, 2);
  const int n_ts = recent_rows.n;
  Datum* ts_datums = recent_rows.ts;
  Datum* value_datums = recent_rows.values;
  InitMaterializedSRF(fcinfo, 0);
  auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);

  // C++ from here on: no PostgreSQL call outside PgCall.
  const aegis::core::AggregateFn fn = aegis::core::ParseAggregateFn(aegis::pg::TextArgument(fcinfo, 4, "fn"));
  const aegis::core::Timestamp read_from = aegis::pg::ReadFrom(since, width);
  const size_t max_points = aegis::pg::MaxRollingPoints();
  aegis::core::SeriesPoints decoded;
  for (int i = 0; i < n_blocks; ++i) {
    aegis::pg::DecodeBlockData(series_id, blocks[i], &decoded, {}, 0, until, read_from);
    if (decoded.size() > max_points) throw aegis::pg::TooManyPoints(max_points);
    aegis::pg::CheckForInterrupts();
  }
  // Blocks of a series never overlap; sorting keeps the windows right
  // should the caller pass them out of order.
  aegis::core::SortAndDeduplicate(&decoded);
  aegis::core::SeriesPoints recent;
  for (int i = 0; i < n_ts; ++i) {
    const TimestampTz ts = DatumGetTimestampTz(ts_datums[i]);
    if (ts >= read_from && ts < until) recent.push_back(ts, DatumGetFloat8(value_datums[i]));
  }
  const aegis::core::SeriesPoints points = recent.empty() ? std::move(decoded) : aegis::core::MergeNewerWins(decoded, recent);
  if (points.size() > max_points) throw aegis::pg::TooManyPoints(max_points);
  aegis::pg::RollPoints(fn, width, points, since, [&](size_t i, const std::optional<double>& value) {
    Datum values[] = {TimestampTzGetDatum(points.ts[i]), Float8GetDatum(value.value_or(0.0))};
    bool nulls[] = {false, !value.has_value()};
    aegis::pg::PgCall([&] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls); });
  });
  return static_cast<Datum>(0);
}
