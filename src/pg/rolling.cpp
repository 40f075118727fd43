// aegis.rolling(selector, fn, width, since, until): for every point of every
// matching series with since <= ts < until, fn over the trailing window
// (ts - width, ts] of its series (core/rolling.h). Windows reach back before
// since: the points of [since - width, until) are read, a run of series at a
// time, through the same read path as aegis.aggregate (pg/series_data.h).
// Rolled-up ranges hold no points, so rolling sees only raw points there, as
// aegis.read does.
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

namespace aegis::pg {

namespace {

// A sink that keeps one series' points (no summaries, no steps).
class PointCollector {
 public:
  // A series' points in [since - width, until) are held at once (16 bytes
  // each, several times that while the windows are computed): at most
  // max(work_mem, 256 MB) of them.
  explicit PointCollector(size_t max_points) : max_points_(max_points) {}
  void BeginSeries() { points_.clear(); }
  void AddSeriesPoints(const core::Timestamp* ts, const double* values, size_t n) {
    if (points_.size() + n > max_points_)
      throw core::Error(core::ErrorCategory::LimitExceeded, "rolling windows need more memory than allowed",
                        "One series has more than " + std::to_string(max_points_) +
                            " points between since - width and until; rolling holds a series' points at once.",
                        "Pass a shorter since/until range, or raise work_mem.");
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

AEGIS_PG_FUNCTION(aegis_rolling) {
  aegis::pg::CountStat(aegis::pg::Stat::kQueries, 1);
  using aegis::pg::RequireNotNull;
  RequireNotNull(fcinfo, 0, "selector");
  RequireNotNull(fcinfo, 1, "fn");
  RequireNotNull(fcinfo, 2, "width");
  RequireNotNull(fcinfo, 3, "since");
  RequireNotNull(fcinfo, 4, "until");
  const Interval* width_interval = PG_GETARG_INTERVAL_P(2);
  if (width_interval->month != 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("rolling window width must be a fixed length"),
                    errdetail("The width has months or years, whose length varies."),
                    errhint("Write the width in days, hours, minutes or seconds.")));
  // Days count as 24 hours (the window is a span of time, not of dates).
  const __int128 width128 =
      static_cast<__int128>(width_interval->day) * USECS_PER_DAY + static_cast<__int128>(width_interval->time);
  if (width128 <= 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("rolling window width must be positive")));
  const int64_t width = width128 > static_cast<__int128>(PG_INT64_MAX) ? PG_INT64_MAX : static_cast<int64_t>(width128);
  const TimestampTz since = PG_GETARG_TIMESTAMPTZ(3);
  const TimestampTz until = PG_GETARG_TIMESTAMPTZ(4);
  // PostgreSQL calls that may raise come before the first C++ object.
  InitMaterializedSRF(fcinfo, 0);
  auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  std::string selector = aegis::pg::TextArgument(fcinfo, 0, "selector");
  const aegis::core::AggregateFn fn = aegis::core::ParseAggregateFn(aegis::pg::TextArgument(fcinfo, 1, "fn"));
  const aegis::core::Timestamp read_from = aegis::pg::ReadFrom(since, width);
  const auto progress = [] { aegis::pg::CheckForInterrupts(); };

  aegis::pg::SpiConnect();
  aegis::pg::MatchedSeries matched = aegis::pg::FindMatchingSeries(selector);
  const size_t n = since < until ? matched.rows.size() : 0;
  const size_t memory = std::max<size_t>(static_cast<size_t>(work_mem) * 1024, size_t{256} << 20);
  aegis::pg::PointCollector collector(memory / 16);
  for (size_t chunk = 0; chunk < n; chunk += aegis::pg::kSeriesPerFetch) {
    const size_t chunk_end = std::min(n, chunk + aegis::pg::kSeriesPerFetch);
    std::vector<int64_t> ids;
    for (size_t r = chunk; r < chunk_end; ++r) ids.push_back(matched.rows[r].series_id);
    aegis::pg::SeriesData data(ids, read_from, until, 0, false, false);
    for (size_t r = chunk; r < chunk_end; ++r) {
      data.Fold(matched.rows[r].series_id, read_from, until, &collector);
      const aegis::core::SeriesPoints& points = collector.points();
      const size_t begin = aegis::core::LowerBound(points, since);
      const std::vector<std::optional<double>> out = aegis::core::RollingWindow(
          fn, width, points.ts.data(), points.values.data(), points.size(), begin, progress);
      for (size_t i = 0; i < out.size(); ++i) {
        if ((i & 4095) == 4095) aegis::pg::CheckForInterrupts();
        Datum values[] = {Int64GetDatum(matched.rows[r].series_id), matched.rows[r].tags,
                          TimestampTzGetDatum(points.ts[begin + i]), Float8GetDatum(out[i].value_or(0.0))};
        bool nulls[] = {false, false, false, !out[i].has_value()};
        aegis::pg::PgCall([&] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls); });
      }
    }
  }
  Release(&matched);
  aegis::pg::SpiFinish();
  return static_cast<Datum>(0);
}
