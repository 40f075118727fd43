// Under Citus, on a distributed database: bucket summaries computed on the
// shards (see shard_summaries.h).
#include "pg/shard_summaries.h"

#include <algorithm>

#include "core/bucket_parts.h"
#include "core/error.h"

#include "pg/boundary.h"
#include "pg/rollup.h"
#include "pg/spi.h"
#include "pg/store.h"

extern "C" {
#include "utils/datum.h"
}

namespace aegis::pg {

namespace {

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

// One row per series and arm: its blocks' (or its recent rows') summaries
// packed on the shard (aegis._bucket_parts). A recent row replaces the block
// point at its time: each block leaves out the times of its series' recent
// rows (one scan of them per shard). Grouped by the series (the distribution
// column), so that Citus runs all of it on the shards; each task returns one
// row per series and arm.
#define AEGIS_PACKED_ARMS \
    "SELECT x.series_id, x.packed, x.rdata, x.ts_min" \
    "  FROM (SELECT b.series_id, aegis._bucket_parts(" \
    "                 b.series_id, b.data, b.ts_min, b.ts_max, b.point_count, b.min_value, b.max_value," \
    "                 b.sum_value, b.first_value, b.last_value, b.segments, NULL, NULL, r.ts, $2, $3, $4, $5, $6)" \
    "               AS packed, NULL::bytea AS rdata, NULL::timestamptz AS ts_min" \
    "          FROM aegis.blocks b" \
    "          LEFT JOIN (SELECT series_id, array_agg(ts) AS ts FROM aegis.recent_points" \
    "                      WHERE series_id = ANY ($1) AND ts >= $2 AND ts < $3 GROUP BY series_id) r" \
    "            ON r.series_id = b.series_id" \
    "         WHERE b.series_id = ANY ($1) AND b.ts_min < $3 AND b.ts_max >= $2" \
    "         GROUP BY b.series_id" \
    "        UNION ALL" \
    "        SELECT r.series_id, aegis._bucket_parts(r.series_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL," \
    "                 NULL, NULL, NULL, r.ts, r.vals, NULL, $2, $3, $4, $5, $6), NULL::bytea, NULL::timestamptz" \
    "          FROM (SELECT series_id, array_agg(ts ORDER BY ts) AS ts, array_agg(value ORDER BY ts) AS vals" \
    "                  FROM aegis.recent_points WHERE series_id = ANY ($1) AND ts >= $2 AND ts < $3" \
    "                 GROUP BY series_id) r" \
    "         GROUP BY r.series_id"

// Each of the series' stored blocks of rolled-up steps overlapping the range
// (rdata), as it is (one small row each).
#define AEGIS_ROLLUPS_ARM \
  "        UNION ALL" \
  "        SELECT u.series_id, NULL::bytea, u.data, u.ts_min" \
  "          FROM aegis.rollups u WHERE u.series_id = ANY ($1) AND u.ts_max >= $2 AND u.ts_min < $3"

// The statement without and with the rollups arm.
constexpr const char* kStatements[2] = {AEGIS_PACKED_ARMS ") x", AEGIS_PACKED_ARMS AEGIS_ROLLUPS_ARM ") x"};
#undef AEGIS_PACKED_ARMS
#undef AEGIS_ROLLUPS_ARM

}  // namespace

bool ShardSummaries::Answers(const std::vector<core::AggregateFn>& fns) {
  for (const core::AggregateFn& fn : fns) {
    const bool moments = fn.kind == core::AggregateKind::kStddev || fn.kind == core::AggregateKind::kVariance;
    if (!fn.UsesSummaries() && !moments && !core::IsPerSeries(fn.kind)) return false;
  }
  return true;
}

ShardSummaries::ShardSummaries(const std::vector<int64_t>& ids, TimestampTz since, TimestampTz until,
                               const Interval* step, std::optional<TimestampTz> origin,
                               const std::vector<core::AggregateFn>& fns, bool with_steps) {
  ShardReceiver receiver{};
  // What the functions read: the sums (sum, avg; the others never add
  // values up, so a sum of finite values past float8's range must not fail
  // them), the moments (stddev, variance) or the counter state (rate and the
  // other counter functions but delta and sample_delta, which need only the
  // ends). With either of the last two every point is decoded on the shards
  // and each block's (or the recent rows') part of a bucket comes back apart
  // with its Sxx or counter state, folded here in time order (moments
  // combined as float8_combine does, counter runs joined with the drop
  // between them). Counter parts must follow each other in time, and follow
  // the series' rolled-up steps, which come first as one node folds them
  // before the series' blocks and recent rows; parts that overlap each other
  // (recent rows inside a block's range) or a step (late samples inside a
  // rolled-up range) make the path unusable, and the coordinator reads the
  // points itself.
  bool sums = false;
  bool averages = false;
  bool moments = false;
  bool counters = false;
  bool per_series = false;
  uint16_t step_columns = 0;
  for (const core::AggregateFn& fn : fns) {
    sums = sums || fn.kind == core::AggregateKind::kSum || fn.kind == core::AggregateKind::kAvg;
    averages = averages || fn.kind == core::AggregateKind::kAvg;
    moments = moments || fn.kind == core::AggregateKind::kStddev || fn.kind == core::AggregateKind::kVariance;
    counters = counters || (core::IsPerSeries(fn.kind) && !fn.UsesSummaries());
    per_series = per_series || core::IsPerSeries(fn.kind);
    step_columns |= fn.RollupColumns();
  }
  parts_ = moments || counters;
  // delta and sample_delta beside a function that needs parts take the
  // parts as counter runs too, in time order.
  in_order_ = parts_ && per_series;
  const bool parts = parts_;
  const bool in_order = in_order_;
  // aegis._bucket_parts's mode bits: 1 the sums, 2 the parts' Sxx, 4 their
  // counter state. avg beside a function that needs parts reads the parts'
  // Sxx too: one node decodes every point then, and avg's float8_accum
  // raises where Sx or Sxx overflows (an infinite Sxx marks it).
  const int32 mode = (sums ? 1 : 0) | (moments || (parts_ && averages) ? 2 : 0) | (in_order ? 4 : 0);
  PgCall([&] {
    static SPIPlanPtr plans[2] = {nullptr, nullptr};
    static const Oid types[] = {INT8ARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INTERVALOID, INT4OID, TIMESTAMPTZOID};
    Datum values[] = {Int64Array(ids.data(), ids.size(), INT8OID), TimestampTzGetDatum(since),
                      TimestampTzGetDatum(until), PointerGetDatum(step), Int32GetDatum(mode),
                      TimestampTzGetDatum(origin.value_or(0))};
    const char nulls[] = {' ', ' ', ' ', step == nullptr ? 'n' : ' ', ' ', origin ? ' ' : 'n'};
    // The rows come straight from the executor (no SPI tuple table, no
    // Sort on this node: they are put in order below).
    receiver.context = AllocSetContextCreate(CurrentMemoryContext, "aegis shard rows", ALLOCSET_DEFAULT_SIZES);
    InitReceiver(&receiver.pub, ReceivePackedRow);
    ExecutePlanInto(KeptPlan(&plans[with_steps], kStatements[with_steps], 6, types), 6, types, values, &receiver.pub, nulls);
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
    row.overflowed = p.overflowed;
    row.moments_overflowed = p.moments_overflowed;
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

void ShardSummaries::Fold(int64_t series_id, core::BucketAggregator* aggregator) const {
  // The counter functions (and delta beside them) take the parts as counter
  // runs; the others take parts as steps, or the combined summaries.
  const bool as_runs = in_order_ && core::IsPerSeries(aggregator->fn().kind);
  const bool avg = aggregator->fn().kind == core::AggregateKind::kAvg;
  aggregator->BeginSeries();
  const auto steps = std::lower_bound(steps_.begin(), steps_.end(), series_id,
                                      [](const auto& entry, int64_t id) { return entry.first < id; });
  if (steps != steps_.end() && steps->first == series_id)
    for (const core::StepSummary& step : steps->second) aggregator->AddStep(step);
  auto it = std::lower_bound(rows_.begin(), rows_.end(), series_id,
                             [](const Row& row, int64_t id) { return row.series_id < id; });
  for (; it != rows_.end() && it->series_id == series_id; ++it) {
    const core::StepSummary& s = it->summary;
    // Whether the points' overflowed sum (avg: or float8_accum's update) is
    // an error here: where the bucket's running sum is still finite, as
    // adding them one by one.
    const bool overflowed = it->overflowed || (avg && it->moments_overflowed);
    const core::SumOverflow rule = overflowed ? core::SumOverflow::kIfRunningFinite : core::SumOverflow::kNone;
    if (as_runs) {
      aggregator->AddCounterRun(it->counters);  // a part of one bucket, in time order
      continue;
    }
    if (parts_) {
      aggregator->AddStep(s, rule);  // a part of one bucket (decoded points), counted where it starts
      continue;
    }
    const core::BlockSummary summary = core::SummaryOfStep(s);
    if (!aggregator->TryAddBlockSummary(summary, rule))
      throw core::Error(core::ErrorCategory::DataCorrupted, "malformed bucket summaries from a shard",
                        "A summary does not fit its bucket.");
  }
}

}  // namespace aegis::pg
