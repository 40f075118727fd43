// aegis.aggregate: bucketed aggregates computed inside the engine. Blocks
// that lie wholly inside one bucket are answered from their stored summary;
// the others are decoded and merged with the series' recent rows.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/aggregate.h"
#include "core/series_points.h"
#include "core/time_bucket.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/interval.h"
#include "pg/series_query.h"
#include "pg/spi.h"
#include "pg/store.h"

namespace aegis::pg {

namespace {

// Feeds recent[*next, end_index) to the aggregator and advances *next.
void FeedRecent(core::BucketAggregator* aggregator, const core::SeriesPoints& recent, size_t* next, size_t end) {
  if (end > *next) aggregator->AddSeriesPoints(recent.ts.data() + *next, recent.values.data() + *next, end - *next);
  *next = end;
}

// Series whose blocks and recent rows are fetched with one query each.
constexpr size_t kSeriesPerFetch = 256;

// Folds one series' points in [since, until) into the aggregator, in time
// order: summaries for blocks that allow it, decoded points otherwise.
// blocks are the series' blocks overlapping the range, in time order; recent
// its recent rows in the range.
void AggregateSeries(int64_t series_id, const BlockRef* blocks, size_t block_count,
                     const core::SeriesPoints& recent, core::Timestamp since, core::Timestamp until,
                     core::BucketAggregator* aggregator) {
  aggregator->BeginSeries();
  size_t next_recent = 0;
  core::SeriesPoints decoded;
  for (size_t b = 0; b < block_count; ++b) {
    const BlockRef& block = blocks[b];
    const core::BlockSummary& s = block.summary;
    FeedRecent(aggregator, recent, &next_recent, core::LowerBound(recent, s.ts_min));
    // A recent row inside the block's range replaces or adds a point, so the
    // stored summary no longer describes the series there.
    const size_t recent_end = s.ts_max == core::kTimestampInfinity ? recent.size() : core::LowerBound(recent, s.ts_max + 1);
    if (recent_end == next_recent && aggregator->TryAddBlockSummary(s)) continue;
    decoded.clear();
    DecodeStoredBlock(series_id, block, &decoded);
    // Recent rows inside the block's range are merged over it (newer wins);
    // usually there are none and the decoded points are used as they are.
    core::SeriesPoints merged;
    if (recent_end != next_recent) {
      core::SeriesPoints overlay;
      overlay.Append(recent, next_recent, recent_end);
      next_recent = recent_end;
      merged = core::MergeNewerWins(decoded, overlay);
    }
    const core::SeriesPoints& points = merged.empty() ? decoded : merged;
    const size_t begin = core::LowerBound(points, since);
    const size_t end = core::LowerBound(points, until);
    if (end > begin) aggregator->AddSeriesPoints(points.ts.data() + begin, points.values.data() + begin, end - begin);
    CheckForInterrupts();
  }
  FeedRecent(aggregator, recent, &next_recent, recent.size());
}

// The stored data of a run of series, fetched together.
class SeriesData {
 public:
  // Fetches the blocks and recent rows of `ids` overlapping [since, until).
  SeriesData(const std::vector<int64_t>& ids, core::Timestamp since, core::Timestamp until)
      : blocks_(FetchBlocksOfSeries(ids, since, until - 1)), recent_(FetchRecentOfSeries(ids, since, until)) {}

  // Folds one of the fetched series into the aggregator.
  void Aggregate(int64_t series_id, core::Timestamp since, core::Timestamp until,
                 core::BucketAggregator* aggregator) const {
    const auto block_range = std::equal_range(blocks_.blocks.begin(), blocks_.blocks.end(), series_id,
                                              BlockSeriesLess());
    const auto recent_begin = std::lower_bound(recent_.series_ids.begin(), recent_.series_ids.end(), series_id);
    const auto recent_end = std::upper_bound(recent_begin, recent_.series_ids.end(), series_id);
    core::SeriesPoints recent;
    recent.Append(recent_.points, static_cast<size_t>(recent_begin - recent_.series_ids.begin()),
                  static_cast<size_t>(recent_end - recent_.series_ids.begin()));
    const BlockRef* first_block = blocks_.blocks.data() + (block_range.first - blocks_.blocks.begin());
    AggregateSeries(series_id, first_block, static_cast<size_t>(block_range.second - block_range.first), recent,
                    since, until, aggregator);
  }

  // Frees the fetched rows (success path).
  void Release() { pg::Release(&blocks_); }

 private:
  // Orders blocks and series ids by series id.
  struct BlockSeriesLess {
    bool operator()(const BlockRef& b, int64_t id) const { return b.series_id < id; }
    bool operator()(int64_t id, const BlockRef& b) const { return id < b.series_id; }
  };

  FetchedBlocks blocks_;
  RecentOfSeries recent_;
};

// Whether two group tag sets are equal (jsonb equality).
bool SameGroup(Datum a, Datum b) {
  return PgCall([&] { return DatumGetBool(DirectFunctionCall2(jsonb_eq, a, b)); });
}

}  // namespace

}  // namespace aegis::pg

// aegis.aggregate(selector, fn, since, until, step, group_by, fill).
AEGIS_PG_FUNCTION(aegis_aggregate) {
  using aegis::pg::RequireNotNull;
  RequireNotNull(fcinfo, 0, "selector");
  RequireNotNull(fcinfo, 1, "fn");
  RequireNotNull(fcinfo, 2, "since");
  RequireNotNull(fcinfo, 3, "until");
  RequireNotNull(fcinfo, 6, "fill");
  const TimestampTz since = PG_GETARG_TIMESTAMPTZ(2);
  const TimestampTz until = PG_GETARG_TIMESTAMPTZ(3);
  aegis::pg::SeriesGrouping grouping;
  grouping.mode = aegis::pg::SeriesGrouping::Mode::kPerSeries;
  if (!PG_ARGISNULL(5)) {
    ArrayType* keys = PG_GETARG_ARRAYTYPE_P(5);
    if (ARR_NDIM(keys) > 1)
      ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("group_by must be a one-dimensional array")));
    if (array_contains_nulls(keys))
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("group_by must not contain NULL")));
    const bool empty = ArrayGetNItems(ARR_NDIM(keys), ARR_DIMS(keys)) == 0;
    grouping.mode = empty ? aegis::pg::SeriesGrouping::Mode::kAll : aegis::pg::SeriesGrouping::Mode::kByKeys;
    grouping.keys = PointerGetDatum(keys);
  }
  const Interval* step = PG_ARGISNULL(4) ? nullptr : PG_GETARG_INTERVAL_P(4);
  // PostgreSQL calls that may raise come before the first C++ object.
  InitMaterializedSRF(fcinfo, 0);
  auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  std::string selector = aegis::pg::TextArgument(fcinfo, 0, "selector");
  aegis::core::AggregateFn fn = aegis::core::ParseAggregateFn(aegis::pg::TextArgument(fcinfo, 1, "fn"));
  aegis::core::Fill fill = aegis::core::ParseFill(aegis::pg::TextArgument(fcinfo, 6, "fill"));
  std::optional<aegis::core::TimeBucketer> bucketer;
  if (step != nullptr) bucketer.emplace(aegis::pg::ToCoreInterval(step));

  // Exact quantiles keep their values within work_mem; long loops can be
  // cancelled.
  aegis::core::AggregateLimits limits;
  limits.max_value_bytes = static_cast<size_t>(work_mem) * 1024;
  limits.progress = [] { aegis::pg::CheckForInterrupts(); };
  aegis::pg::SpiConnect();
  aegis::pg::MatchedSeries matched = aegis::pg::FindMatchingSeries(selector, grouping);
  const bool per_series = grouping.mode == aegis::pg::SeriesGrouping::Mode::kPerSeries;
  const size_t n = since < until ? matched.rows.size() : 0;
  std::optional<aegis::core::BucketAggregator> aggregator;
  size_t group_row = 0;
  // Emits the finished group's rows.
  auto finish_group = [&] {
    if (!aggregator || (aggregator->bucket_count() == 0 && fill.mode == aegis::core::FillMode::kNone)) return;
    size_t emitted = 0;
    for (const aegis::core::BucketValue& row : aggregator->Finish(fill)) {
      if ((++emitted & 4095) == 0) aegis::pg::CheckForInterrupts();
      Datum values[] = {TimestampTzGetDatum(row.bucket), matched.rows[group_row].group, Float8GetDatum(row.value)};
      bool nulls[] = {false, false, row.is_null};
      aegis::pg::PgCall([&] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls); });
    }
  };
  for (size_t chunk = 0; chunk < n; chunk += aegis::pg::kSeriesPerFetch) {
    const size_t chunk_end = std::min(n, chunk + aegis::pg::kSeriesPerFetch);
    std::vector<int64_t> ids;
    for (size_t r = chunk; r < chunk_end; ++r) ids.push_back(matched.rows[r].series_id);
    std::sort(ids.begin(), ids.end());
    aegis::pg::SeriesData data(ids, since, until);
    for (size_t r = chunk; r < chunk_end; ++r) {
      const bool new_group = !aggregator || per_series ||
                             !aegis::pg::SameGroup(matched.rows[group_row].group, matched.rows[r].group);
      if (new_group) {
        finish_group();
        aggregator.emplace(fn, bucketer, since, until, limits);
        group_row = r;
      }
      data.Aggregate(matched.rows[r].series_id, since, until, &*aggregator);
    }
    data.Release();
  }
  finish_group();
  Release(&matched);
  aegis::pg::SpiFinish();
  return static_cast<Datum>(0);
}
