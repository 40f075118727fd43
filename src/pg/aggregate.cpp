// aegis.aggregate: bucketed aggregates computed inside the engine. Blocks
// that lie wholly inside one bucket are answered from their stored summary;
// the others are decoded and merged with the series' recent rows. Rolled-up
// steps (pg/rollup.h) are folded in whole, each where it starts
// (pg/series_data.h reads and folds the stored data). Under Citus, the
// functions summaries answer get per-bucket summaries computed on the shards
// (pg/shard_summaries.h).
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/aggregate.h"
#include "core/rollup.h"
#include "core/segments.h"
#include "core/series_points.h"
#include "core/time_bucket.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/engine_stats.h"
#include "pg/interval.h"
#include "pg/rollup.h"
#include "pg/series_data.h"
#include "pg/series_query.h"
#include "pg/shard_summaries.h"
#include "pg/spi.h"
#include "pg/store.h"

namespace aegis::pg {

namespace {

// At most this many groups are aggregated side by side (each keeps its
// buckets until the end).
constexpr size_t kGroupsSideBySide = 64;

// Whether two group tag sets are equal (jsonb equality).
bool SameGroup(Datum a, Datum b) {
  return PgCall([&] { return DatumGetBool(DirectFunctionCall2(jsonb_eq, a, b)); });
}

}  // namespace

}  // namespace aegis::pg

// aegis.aggregate(selector, fn, since, until, step, group_by, fill).
AEGIS_PG_FUNCTION(aegis_aggregate) {
  aegis::pg::CountStat(aegis::pg::Stat::kQueries, 1);
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
  // The group of each matched row (rows come ordered by group), and each
  // group's first row (whose group value the output carries).
  std::vector<size_t> group_of(n);
  std::vector<size_t> group_first;
  for (size_t r = 0; r < n; ++r) {
    if (r == 0 || per_series || !aegis::pg::SameGroup(matched.rows[group_first.back()].group, matched.rows[r].group))
      group_first.push_back(r);
    group_of[r] = group_first.size() - 1;
  }
  // Emits a finished group's rows.
  auto finish_group = [&](aegis::core::BucketAggregator& aggregator, size_t group) {
    if (aggregator.bucket_count() == 0 && fill.mode == aegis::core::FillMode::kNone) return;
    size_t emitted = 0;
    for (const aegis::core::BucketValue& row : aggregator.Finish(fill)) {
      if ((++emitted & 4095) == 0) aegis::pg::CheckForInterrupts();
      Datum values[] = {TimestampTzGetDatum(row.bucket), matched.rows[group_first[group]].group,
                        Float8GetDatum(row.value)};
      bool nulls[] = {false, false, row.is_null};
      aegis::pg::PgCall([&] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls); });
    }
  };
  // Segment summaries answer buckets smaller than a block; without a step
  // the block summaries serve (and only the blocks since and until cut are
  // decoded).
  const bool segments_help = bucketer.has_value() && bucketer->IsRegular() && fn.UsesSummaries();
  const aegis::pg::LeanRead lean = aegis::pg::LeanReadFor(fn.UsesSummaries(), bucketer);
  // Series to fold, in the order their blocks are read.
  std::vector<size_t> fold_order(n);
  for (size_t r = 0; r < n; ++r) fold_order[r] = r;
  // A few groups whose states stay small (no kept values) are aggregated side
  // by side, folding the series in series_id order: their blocks are then read
  // in the index's order, with no sort. Otherwise one group at a time, in
  // group order, each finished (and its memory freed) before the next.
  // The buckets all groups may hold together stay within one group's
  // limit (limits.max_buckets), as one group at a time bounds them: known
  // without a step, or for a fixed step over a finite range.
  const auto buckets_bounded = [&] {
    if (!bucketer) return true;
    if (bucketer->IsMonthly() || since == DT_NOBEGIN || until == DT_NOEND) return false;
    const long double per_group = (static_cast<long double>(until) - since) / bucketer->PeriodMicros() + 1;
    return per_group * static_cast<long double>(group_first.size()) <= static_cast<long double>(limits.max_buckets);
  };
  const bool side_by_side = !per_series && group_first.size() > 1 &&
                            group_first.size() <= aegis::pg::kGroupsSideBySide && !fn.NeedsValues() &&
                            buckets_bounded();
  if (side_by_side) {
    std::sort(fold_order.begin(), fold_order.end(),
              [&](size_t a, size_t b) { return matched.rows[a].series_id < matched.rows[b].series_id; });
  }
  std::vector<std::optional<aegis::core::BucketAggregator>> aggregators(side_by_side ? group_first.size() : 1);
  size_t current_group = 0;
  // Under Citus, on a distributed database, the shards summarise their rows.
  const bool distributed = aegis::pg::PgCall([] { return aegis::pg::DataDistributed(); });
  for (size_t chunk = 0; chunk < n; chunk += aegis::pg::kSeriesPerFetch) {
    const size_t chunk_end = std::min(n, chunk + aegis::pg::kSeriesPerFetch);
    std::vector<int64_t> ids;
    for (size_t k = chunk; k < chunk_end; ++k) ids.push_back(matched.rows[fold_order[k]].series_id);
    // Under Citus the shards summarise what they hold.
    std::optional<aegis::pg::ShardSummaries> shards;
    if (distributed && aegis::pg::ShardSummaries::Answers({fn})) {
      shards.emplace(ids, since, until, step, std::nullopt, std::vector<aegis::core::AggregateFn>{fn}, true);
      if (!shards->usable()) shards.reset();
    }
    std::optional<aegis::pg::SeriesData> data;
    if (!shards) data.emplace(ids, since, until, fn.RollupColumns(), true, segments_help, lean);
    for (size_t k = chunk; k < chunk_end; ++k) {
      const size_t r = fold_order[k];
      const size_t group = group_of[r];
      std::optional<aegis::core::BucketAggregator>& aggregator = aggregators[side_by_side ? group : 0];
      if (!side_by_side && aggregator && group != current_group) {
        finish_group(*aggregator, current_group);
        aggregator.reset();
      }
      if (!aggregator) aggregator.emplace(fn, bucketer, since, until, limits);
      current_group = group;
      if (shards)
        shards->Fold(matched.rows[r].series_id, &*aggregator);
      else
        data->Fold(matched.rows[r].series_id, since, until, &*aggregator);
    }
  }
  if (side_by_side) {
    for (size_t g = 0; g < aggregators.size(); ++g)
      if (aggregators[g]) finish_group(*aggregators[g], g);
  } else if (aggregators[0]) {
    finish_group(*aggregators[0], current_group);
  }
  Release(&matched);
  aegis::pg::SpiFinish();
  return static_cast<Datum>(0);
}
