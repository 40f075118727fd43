// aegis.aggregate: bucketed aggregates computed inside the engine. Blocks
// that lie wholly inside one bucket are answered from their stored summary;
// the others are decoded and merged with the series' recent rows. Rolled-up
// steps (pg/rollup.h) are folded in whole, each where it starts
// (pg/series_data.h reads and folds the stored data). Under Citus, the
// functions summaries answer get per-bucket summaries computed on the shards
// (ShardSummaries).
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/aggregate.h"
#include "core/bucket_parts.h"
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
#include "pg/spi.h"
#include "pg/store.h"

extern "C" {
#include "utils/datum.h"
}

namespace aegis::pg {

namespace {

// At most this many groups are aggregated side by side (each keeps its
// buckets until the end).
constexpr size_t kGroupsSideBySide = 64;

// One row of the shards' statement (ShardSummaries) as the executor hands
// it over: plain data, filled by PostgreSQL code.
struct ShardRow {
  int64 series_id;
  Datum packed;  // the series' summaries (core/bucket_parts.h), detoasted into the receiver's context
  bool has_packed;
  Datum rdata;  // a stored block of steps, copied into the receiver's context
  bool has_rdata;
  TimestampTz rdata_start;  // the block of steps' first step
};

struct ShardReceiver {
  DestReceiver pub;  // first: the executor sees a DestReceiver
  MemoryContext context;
  ShardRow* rows;
  uint64 n;
  uint64 capacity;
};

// Takes a row of the shards' packed statement (series_id, packed, rdata,
// ts_min of the rdata).
// PostgreSQL code.
bool ReceivePackedRow(TupleTableSlot* slot, DestReceiver* self) {
  auto* r = reinterpret_cast<ShardReceiver*>(self);
  MemoryContext old = MemoryContextSwitchTo(r->context);
  if (r->n == r->capacity) {
    r->capacity = r->capacity == 0 ? 256 : r->capacity * 2;
    r->rows = static_cast<ShardRow*>(r->n == 0 ? MemoryContextAllocHuge(r->context, r->capacity * sizeof(ShardRow))
                                                : repalloc_huge(r->rows, r->capacity * sizeof(ShardRow)));
  }
  slot_getallattrs(slot);
  ShardRow& row = r->rows[r->n++];
  row = ShardRow{};
  const Datum* v = slot->tts_values;
  const bool* null = slot->tts_isnull;
  row.series_id = null[0] ? 0 : DatumGetInt64(v[0]);
  row.has_packed = !null[1];
  row.packed = row.has_packed ? PointerGetDatum(PG_DETOAST_DATUM_COPY(v[1])) : 0;
  row.has_rdata = !null[2];
  row.rdata = row.has_rdata ? datumCopy(v[2], false, -1) : 0;
  row.rdata_start = null[3] ? 0 : DatumGetTimestampTz(v[3]);
  MemoryContextSwitchTo(old);
  return true;
}

// Under Citus: the summaries of the selected series' points per bucket,
// computed on the shards by one statement (the aggregate aegis._bucket_parts
// over each series' blocks and over its recent rows, combined per bucket, or
// with parts each block's part of a bucket kept apart, packed into one row
// per series, where the rows are); the coordinator only unpacks and folds
// them (docs/scale-out.md).
// The same statement brings the series' stored blocks of rolled-up steps
// overlapping the range (one small row each), folded first, as one node
// folds steps before blocks. Usable for the functions block summaries
// answer, the moments and the counter functions (a series' steps, then its
// parts, which must follow them in time).
class ShardSummaries {
 public:
  // sums: whether fn reads the sums (sum, avg); the others never add values
  // up, so a sum of finite values past float8's range must not fail them.
  // parts (stddev, variance and the counter functions but delta and
  // sample_delta): every point is decoded on the shards and each block's (or
  // the recent rows') part of a bucket comes back with its Sxx and counter
  // state, folded here in time order (moments combined as float8_combine
  // does, counter runs joined with the drop between them).
  // in_order: the parts must follow each other in time (the counter
  // functions), and follow the series' rolled-up steps, which come first as
  // one node folds them before the series' blocks and recent rows; parts
  // that overlap each other (recent rows inside a block's range) or a step
  // (late samples inside a rolled-up range) make the path unusable, and the
  // coordinator reads the points itself.
  // step_columns: the rollup columns fn reads (AggregateFn::RollupColumns).
  ShardSummaries(const std::vector<int64_t>& ids, TimestampTz since, TimestampTz until, const Interval* step,
                 bool sums, bool parts, bool in_order, uint16_t step_columns)
      : parts_(parts), counters_(in_order) {
    ShardReceiver receiver{};
    // aegis._bucket_parts's mode: the sums, or the parts with their Sxx
    // (stddev, variance) or their counter state (the counter functions).
    const int32 mode = (sums ? 1 : 0) | (parts && !in_order ? 2 : 0) | (in_order ? 4 : 0);
    PgCall([&] {
      static SPIPlanPtr plan = nullptr;
      static const Oid types[] = {INT8ARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INTERVALOID, INT4OID};
      Datum values[] = {Int64Array(ids.data(), ids.size(), INT8OID), TimestampTzGetDatum(since),
                        TimestampTzGetDatum(until), PointerGetDatum(step), Int32GetDatum(mode)};
      const char nulls[] = {' ', ' ', ' ', step == nullptr ? 'n' : ' ', ' '};
      // One row per series and arm: its blocks' (or its recent rows')
      // summaries packed on the shard (aegis._bucket_parts), and each of its
      // stored blocks of steps (rdata), as they are. A recent row replaces
      // the block point at its time: each block leaves out the times of its
      // series' recent rows (one scan of them per shard).
      static const char* const sql =
          "SELECT x.series_id, x.packed, x.rdata, x.ts_min"
          "  FROM (SELECT b.series_id, aegis._bucket_parts("
          "                 b.series_id, b.data, b.ts_min, b.ts_max, b.point_count, b.min_value, b.max_value,"
          "                 b.sum_value, b.first_value, b.last_value, b.segments, NULL, NULL, r.ts, $2, $3, $4, $5)"
          "               AS packed, NULL::bytea AS rdata, NULL::timestamptz AS ts_min"
          "          FROM aegis.blocks b"
          "          LEFT JOIN (SELECT series_id, array_agg(ts) AS ts FROM aegis.recent_points"
          "                      WHERE series_id = ANY ($1) AND ts >= $2 AND ts < $3 GROUP BY series_id) r"
          "            ON r.series_id = b.series_id"
          "         WHERE b.series_id = ANY ($1) AND b.ts_min < $3 AND b.ts_max >= $2"
          "         GROUP BY b.series_id"
          "        UNION ALL"
          "        SELECT r.series_id, aegis._bucket_parts(r.series_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
          "                 NULL, NULL, NULL, r.ts, r.vals, NULL, $2, $3, $4, $5), NULL::bytea, NULL::timestamptz"
          "          FROM (SELECT series_id, array_agg(ts ORDER BY ts) AS ts, array_agg(value ORDER BY ts) AS vals"
          "                  FROM aegis.recent_points WHERE series_id = ANY ($1) AND ts >= $2 AND ts < $3"
          "                 GROUP BY series_id) r"
          "         GROUP BY r.series_id"
          "        UNION ALL"
          "        SELECT u.series_id, NULL::bytea, u.data, u.ts_min"
          "          FROM aegis.rollups u WHERE u.series_id = ANY ($1) AND u.ts_max >= $2 AND u.ts_min < $3) x";
      // The rows come straight from the executor (no SPI tuple table, no
      // Sort on this node: they are put in order below).
      receiver.context = AllocSetContextCreate(CurrentMemoryContext, "aegis shard rows", ALLOCSET_DEFAULT_SIZES);
      InitReceiver(&receiver.pub, ReceivePackedRow);
      ExecutePlanInto(KeptPlan(&plan, sql, 5, types), 5, types, values, &receiver.pub, nulls);
    });
    // A series' packs become one piece per bucket (or part); its blocks of
    // steps stay as they came.
    struct Piece {
      int64_t series_id;
      Datum rdata;  // a block of steps, or 0
      core::BucketPart part;
    };
    std::vector<Piece> received;
    for (uint64 i = 0; i < receiver.n; ++i) {
      const ShardRow& in = receiver.rows[i];
      if (in.has_rdata) {
        received.push_back({in.series_id, in.rdata, {}});
        received.back().part.ts_min = in.rdata_start;  // blocks of steps in time order, as one node reads them
      }
      if (!in.has_packed) continue;
      const auto* pack = reinterpret_cast<const bytea*>(DatumGetPointer(in.packed));
      const auto* bytes = reinterpret_cast<const uint8_t*>(VARDATA(pack));
      const size_t size = VARSIZE(pack) - VARHDRSZ;
      // A series whose summaries would pass a bytea's 1 GB: the
      // coordinator reads the points itself (usable() false).
      if (core::IsPackTooLarge(bytes, size)) {
        usable_ = false;
        continue;
      }
      for (const core::BucketPart& part : core::UnpackBucketParts(bytes, size, parts))
        received.push_back({in.series_id, 0, part});
    }
    // In series order, a series' blocks of steps first, then by start: the
    // order one node folds them in (ties keep the order they came in).
    std::vector<size_t> order(received.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&received](size_t a, size_t b) {
      const Piece& x = received[a];
      const Piece& y = received[b];
      if (x.series_id != y.series_id) return x.series_id < y.series_id;
      if ((x.rdata != 0) != (y.rdata != 0)) return x.rdata != 0;
      return x.part.ts_min < y.part.ts_min;
    });
    rows_.reserve(order.size());
    int64_t last_piece_series = 0;
    TimestampTz last_piece_end = 0;
    bool has_last_piece = false;
    // The end of the current series' last rolled-up step in the range (its
    // blocks of steps come before its parts).
    int64_t steps_series = 0;
    TimestampTz steps_end = 0;
    bool has_steps = false;
    for (size_t i : order) {
      const Piece& in = received[i];
      const int64_t series_id = in.series_id;
      if (in.rdata != 0) {
        // A stored block of steps: its steps in the range, in time order.
        if (!usable_) continue;
        if (steps_.empty() || steps_.back().first != series_id) steps_.emplace_back(series_id, std::vector<core::StepSummary>());
        std::vector<core::StepSummary>& steps = steps_.back().second;
        const size_t before = steps.size();
        AppendRolledUpSteps(series_id, in.rdata, since, until, step_columns, &steps);
        for (size_t k = before; k < steps.size(); ++k) {
          if (!has_steps || steps_series != series_id) steps_end = steps[k].last_ts;
          steps_end = std::max(steps_end, steps[k].last_ts);
          steps_series = series_id;
          has_steps = true;
        }
        continue;
      }
      rows_.emplace_back();
      Row& row = rows_.back();
      row.series_id = series_id;
      const core::BucketPart& p = in.part;
      core::StepSummary& s = row.summary;
      s.first_ts = p.ts_min;
      s.bucket = s.first_ts;
      s.last_ts = p.ts_max;
      // A block summary counts at most 2^32 - 1 points; a bucket of more is
      // left to the coordinator's own read (usable() false).
      if (!parts && p.count > UINT32_MAX) usable_ = false;
      s.count = p.count;
      s.min = p.min;
      s.max = p.max;
      s.sum = p.sum;
      s.first = p.first;
      s.last = p.last;
      s.sxx = p.sxx;
      if (parts) {
        core::CounterRun& run = row.counters;
        run.points = s.count;
        run.first_ts = s.first_ts;
        run.last_ts = s.last_ts;
        run.first = s.first;
        run.last = s.last;
        run.resets = p.resets;
        s.resets = run.resets;
        run.reset_count = p.reset_count;
        run.changes = p.changes;
        run.previous_ts = p.previous_ts;
        run.previous = p.previous;
      }
      if (in_order && has_last_piece && last_piece_series == series_id && s.first_ts <= last_piece_end)
        usable_ = false;
      // Raw points inside a rolled-up step (late samples): one node joins
      // them to the step as one run of points with the recent rows merged
      // in, where the parts would come one at a time and lose the drops
      // between them; the coordinator reads the points itself.
      if (in_order && has_steps && steps_series == series_id && s.first_ts <= steps_end) usable_ = false;
      has_last_piece = true;
      last_piece_series = series_id;
      last_piece_end = s.last_ts;
    }
    PgCall([&] { MemoryContextDelete(receiver.context); });
    // A stored block's steps are in time order, and the blocks of a series
    // came in time order; a stable sort keeps that should they overlap.
    for (auto& [id, steps] : steps_)
      std::stable_sort(steps.begin(), steps.end(),
                       [](const core::StepSummary& a, const core::StepSummary& b) { return a.bucket < b.bucket; });
  }

  // False when a bucket holds more points than a summary counts, or parts
  // that must follow each other in time overlap.
  bool usable() const { return usable_; }

  // Folds the series' rolled-up steps and then its summaries into the
  // aggregator, in time order.
  void Fold(int64_t series_id, core::BucketAggregator* aggregator) const {
    aggregator->BeginSeries();
    const auto steps = std::lower_bound(steps_.begin(), steps_.end(), series_id,
                                        [](const auto& entry, int64_t id) { return entry.first < id; });
    if (steps != steps_.end() && steps->first == series_id)
      for (const core::StepSummary& step : steps->second) aggregator->AddStep(step);
    auto it = std::lower_bound(rows_.begin(), rows_.end(), series_id,
                               [](const Row& row, int64_t id) { return row.series_id < id; });
    for (; it != rows_.end() && it->series_id == series_id; ++it) {
      const core::StepSummary& s = it->summary;
      if (parts_ && counters_) {
        aggregator->AddCounterRun(it->counters);  // a part of one bucket, in time order
        continue;
      }
      if (parts_) {
        aggregator->AddStep(s);  // a part of one bucket, counted where it starts
        continue;
      }
      const core::BlockSummary summary = core::SummaryOfStep(s);
      if (!aggregator->TryAddBlockSummary(summary))
        throw core::Error(core::ErrorCategory::DataCorrupted, "malformed bucket summaries from a shard",
                          "A summary does not fit its bucket.");
    }
  }

 private:
  struct Row {
    int64_t series_id = 0;
    core::StepSummary summary;
    core::CounterRun counters;  // parts only
  };
  std::vector<Row> rows_;  // by series, then time
  // Each series' rolled-up steps in the range, by series.
  std::vector<std::pair<int64_t, std::vector<core::StepSummary>>> steps_;
  bool parts_;
  bool counters_;
  bool usable_ = true;
};

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
    using aegis::core::AggregateKind;
    const bool moments = fn.kind == AggregateKind::kStddev || fn.kind == AggregateKind::kVariance;
    // delta and sample_delta need only the ends, which summaries have.
    const bool counter = aegis::core::IsPerSeries(fn.kind) && !fn.UsesSummaries();
    if (distributed && (fn.UsesSummaries() || moments || counter)) {
      shards.emplace(ids, since, until, step, fn.kind == AggregateKind::kSum || fn.kind == AggregateKind::kAvg,
                     moments || counter, counter, fn.RollupColumns());
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
