// aegis.aggregate: bucketed aggregates computed inside the engine. Blocks
// that lie wholly inside one bucket are answered from their stored summary;
// the others are decoded and merged with the series' recent rows. Rolled-up
// steps (pg/rollup.h) are folded in whole, each where it starts.
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
#include "pg/rollup.h"
#include "pg/series_query.h"
#include "pg/spi.h"
#include "pg/store.h"

namespace aegis::pg {

namespace {

// Series whose recent rows are fetched with one query, and whose blocks are
// read through one cursor.
constexpr size_t kSeriesPerFetch = 256;

// Folds one series' points in [since, until) into an aggregator, in time
// order: summaries for blocks that allow it, decoded points otherwise, and
// the series' recent rows between and over them (newer wins).
class SeriesFolder {
 public:
  SeriesFolder(int64_t series_id, const core::SeriesPoints& recent, core::Timestamp since, core::Timestamp until,
               core::BucketAggregator* aggregator)
      : series_id_(series_id), recent_(recent), since_(since), until_(until), aggregator_(aggregator) {
    aggregator_->BeginSeries();
  }

  // Adds the series' rolled-up steps (before its blocks: they are older).
  void AddSteps(const std::vector<core::StepSummary>& steps) {
    for (const core::StepSummary& step : steps) aggregator_->AddStep(step);
  }

  // Adds the series' next block (blocks arrive in time order).
  void AddBlock(const BlockRef& block) {
    const core::BlockSummary& s = block.summary;
    FeedRecent(core::LowerBound(recent_, s.ts_min));
    // A recent row inside the block's range replaces or adds a point, so the
    // stored summary no longer describes the series there.
    const size_t recent_end =
        s.ts_max == core::kTimestampInfinity ? recent_.size() : core::LowerBound(recent_, s.ts_max + 1);
    if (recent_end == next_recent_ && aggregator_->TryAddBlockSummary(s)) return;
    decoded_.clear();
    DecodeStoredBlock(series_id_, block, &decoded_);
    // Usually no recent row lies inside and the decoded points are used as
    // they are.
    core::SeriesPoints merged;
    if (recent_end != next_recent_) {
      core::SeriesPoints overlay;
      overlay.Append(recent_, next_recent_, recent_end);
      next_recent_ = recent_end;
      merged = core::MergeNewerWins(decoded_, overlay);
    }
    const core::SeriesPoints& points = merged.empty() ? decoded_ : merged;
    const size_t begin = core::LowerBound(points, since_);
    const size_t end = core::LowerBound(points, until_);
    if (end > begin) aggregator_->AddSeriesPoints(points.ts.data() + begin, points.values.data() + begin, end - begin);
    CheckForInterrupts();
  }

  // Adds the recent rows after the last block.
  void Finish() { FeedRecent(recent_.size()); }

 private:
  // Feeds recent rows [next_recent_, end) and moves past them.
  void FeedRecent(size_t end) {
    if (end > next_recent_)
      aggregator_->AddSeriesPoints(recent_.ts.data() + next_recent_, recent_.values.data() + next_recent_,
                                   end - next_recent_);
    next_recent_ = std::max(next_recent_, end);
  }

  int64_t series_id_;
  const core::SeriesPoints& recent_;
  core::Timestamp since_;
  core::Timestamp until_;
  core::BucketAggregator* aggregator_;
  size_t next_recent_ = 0;
  core::SeriesPoints decoded_;
};

// The stored data of a run of series: their recent rows in the range, fetched
// at once, and their blocks, read through a cursor in the order the series
// are aggregated, so that only a few blocks are in memory at a time.
class SeriesData {
 public:
  // ids in the order Aggregate will be called for them.
  SeriesData(const std::vector<int64_t>& ids, core::Timestamp since, core::Timestamp until, uint16_t step_columns)
      : recent_(FetchRecentOfSeries(SortedIds(ids), since, until)),
        steps_(ids, since, until, step_columns),
        blocks_(ids, since, until, BlockCursor::Order::kAsGiven),
        next_block_(blocks_.Next()) {}

  // Folds the next series (in the order given) into the aggregator.
  void Aggregate(int64_t series_id, core::Timestamp since, core::Timestamp until,
                 core::BucketAggregator* aggregator) {
    const auto recent_begin = std::lower_bound(recent_.series_ids.begin(), recent_.series_ids.end(), series_id);
    const auto recent_end = std::upper_bound(recent_begin, recent_.series_ids.end(), series_id);
    core::SeriesPoints recent;
    recent.Append(recent_.points, static_cast<size_t>(recent_begin - recent_.series_ids.begin()),
                  static_cast<size_t>(recent_end - recent_.series_ids.begin()));
    SeriesFolder folder(series_id, recent, since, until, aggregator);
    folder.AddSteps(steps_.Steps(series_id));
    for (; next_block_ != nullptr && next_block_->series_id == series_id; next_block_ = blocks_.Next())
      folder.AddBlock(*next_block_);
    folder.Finish();
  }

 private:
  static std::vector<int64_t> SortedIds(std::vector<int64_t> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  RecentOfSeries recent_;
  RolledUpSteps steps_;
  BlockCursor blocks_;
  const BlockRef* next_block_;
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
    aegis::pg::SeriesData data(ids, since, until, fn.RollupColumns());
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
  }
  finish_group();
  Release(&matched);
  aegis::pg::SpiFinish();
  return static_cast<Datum>(0);
}
