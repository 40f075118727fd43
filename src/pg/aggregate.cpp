// aegis.aggregate: bucketed aggregates computed inside the engine. Blocks
// that lie wholly inside one bucket are answered from their stored summary;
// the others are decoded and merged with the series' recent rows.
#include <optional>
#include <string>

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

// Folds one series' points in [since, until) into the aggregator, in time
// order: summaries for blocks that allow it, decoded points otherwise.
void AggregateSeries(int64_t series_id, core::Timestamp since, core::Timestamp until,
                     core::BucketAggregator* aggregator) {
  aggregator->BeginSeries();
  core::SeriesPoints recent = FetchRecent(series_id, since, until);
  FetchedBlocks blocks = FetchBlocks(series_id, since, until - 1);
  size_t next_recent = 0;
  core::SeriesPoints decoded;
  for (const BlockRef& block : blocks.blocks) {
    const core::BlockSummary& s = block.summary;
    FeedRecent(aggregator, recent, &next_recent, core::LowerBound(recent, s.ts_min));
    // A recent row inside the block's range replaces or adds a point, so the
    // stored summary no longer describes the series there.
    const size_t recent_end = s.ts_max == core::kTimestampInfinity ? recent.size() : core::LowerBound(recent, s.ts_max + 1);
    if (recent_end == next_recent && aggregator->TryAddBlockSummary(s)) continue;
    decoded.clear();
    DecodeStoredBlock(series_id, block, &decoded);
    core::SeriesPoints overlay;
    overlay.Append(recent, next_recent, recent_end);
    next_recent = recent_end;
    core::SeriesPoints merged = core::MergeNewerWins(decoded, overlay);
    const size_t begin = core::LowerBound(merged, since);
    const size_t end = core::LowerBound(merged, until);
    if (end > begin) aggregator->AddSeriesPoints(merged.ts.data() + begin, merged.values.data() + begin, end - begin);
    CheckForInterrupts();
  }
  FeedRecent(aggregator, recent, &next_recent, recent.size());
  Release(&blocks);
}

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

  aegis::pg::SpiConnect();
  aegis::pg::MatchedSeries matched = aegis::pg::FindMatchingSeries(selector, grouping);
  const bool per_series = grouping.mode == aegis::pg::SeriesGrouping::Mode::kPerSeries;
  size_t group_begin = 0;
  while (group_begin < matched.rows.size() && since < until) {
    size_t group_end = group_begin + 1;
    while (group_end < matched.rows.size() && !per_series &&
           aegis::pg::SameGroup(matched.rows[group_begin].group, matched.rows[group_end].group))
      ++group_end;
    aegis::core::BucketAggregator aggregator(fn, bucketer, since, until);
    for (size_t i = group_begin; i < group_end; ++i)
      aegis::pg::AggregateSeries(matched.rows[i].series_id, since, until, &aggregator);
    if (aggregator.bucket_count() > 0 || fill.mode != aegis::core::FillMode::kNone) {
      for (const aegis::core::BucketValue& row : aggregator.Finish(fill)) {
        Datum values[] = {TimestampTzGetDatum(row.bucket), matched.rows[group_begin].group, Float8GetDatum(row.value)};
        bool nulls[] = {false, false, row.is_null};
        aegis::pg::PgCall([&] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls); });
      }
    }
    group_begin = group_end;
  }
  Release(&matched);
  aegis::pg::SpiFinish();
  return static_cast<Datum>(0);
}
