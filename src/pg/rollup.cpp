// Roll-up and roll-off (API.md section 6): aegis.set_downsampling,
// aegis.apply_downsampling and the rollup maintenance job, and the reads and
// removals of rolled-up steps (docs/operations.md "Roll-ups").
//
// A metric's tiers [{after, step}, ..., {after, drop}] cut time at cutoffs
// c_k = time_bucket(step_k, now - after_k): points newer than c_0 stay raw,
// tier k holds steps of width step_k in [c_{k+1}, c_k), and steps older than
// the drop cutoff go. Each step is a whole multiple of the one before, so
// every cutoff is aligned to every finer step and no step straddles one.
#include <algorithm>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rollup.h"
#include "core/series_points.h"
#include "core/time_bucket.h"

#include "pg/rollup.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/partitions.h"
#include "pg/privileges.h"
#include "pg/spi.h"
#include "pg/store.h"

extern "C" {
#include "access/table.h"
#include "storage/bufmgr.h"
}

namespace aegis::pg {

namespace {

SPIPlanPtr tiers_plan = nullptr;
SPIPlanPtr series_to_rollup_plan = nullptr;
SPIPlanPtr rollups_to_redo_plan = nullptr;
SPIPlanPtr rollups_overlapping_plan = nullptr;
SPIPlanPtr rollups_in_range_plan = nullptr;
SPIPlanPtr delete_rollup_plan = nullptr;
SPIPlanPtr insert_rollup_plan = nullptr;
SPIPlanPtr chunk_rollups_plan = nullptr;
SPIPlanPtr set_downsampling_plan = nullptr;

// One step tier of a metric: steps of `step` hold [next tier's cutoff, cutoff).
struct Tier {
  Interval step;
  int64_t step_micros = 0;
  TimestampTz cutoff = 0;
};

// What the rollup job does to the series of one metric.
struct MetricPlan {
  std::string metric;
  std::vector<Tier> tiers;
  TimestampTz drop = DT_NOBEGIN;  // steps and points before it go

  // The tier holding ts: -1 when ts stays raw, tiers.size() when it goes.
  int TierOf(TimestampTz ts) const {
    if (ts >= tiers[0].cutoff) return -1;
    for (size_t k = 1; k < tiers.size(); ++k)
      if (ts >= tiers[k].cutoff) return static_cast<int>(k - 1);
    return ts >= drop ? static_cast<int>(tiers.size() - 1) : static_cast<int>(tiers.size());
  }
};

// The longest step set_downsampling accepts: 3650 days.
constexpr int64_t kMaxStepMicros = int64_t{3650} * USECS_PER_DAY;

// Microseconds of a step without months (bounded by set_downsampling; a
// stored value out of bounds gives 0, which LoadPlans refuses).
int64_t FixedMicros(const Interval& interval) {
  if (interval.day < -3650 || interval.day > 3650 || interval.time < -kMaxStepMicros || interval.time > kMaxStepMicros)
    return 0;
  const int64_t micros = static_cast<int64_t>(interval.day) * USECS_PER_DAY + interval.time;
  return micros > 0 && micros <= kMaxStepMicros ? micros : 0;
}

core::TimeBucketer Bucketer(int64_t step_micros) { return core::TimeBucketer(core::Interval{0, 0, step_micros}); }

// A palloc'd interval[] (PostgreSQL code).
Datum IntervalArray(const std::vector<Interval>& intervals) {
  Datum* elements = static_cast<Datum*>(palloc(sizeof(Datum) * (intervals.empty() ? 1 : intervals.size())));
  for (size_t i = 0; i < intervals.size(); ++i) elements[i] = IntervalPGetDatum(&intervals[i]);
  ArrayType* array =
      construct_array(elements, static_cast<int>(intervals.size()), INTERVALOID, sizeof(Interval), false, TYPALIGN_DOUBLE);
  pfree(elements);
  return PointerGetDatum(array);
}

// The tiers of every metric that has series and downsampling, with their
// cutoffs at `now`.
std::vector<MetricPlan> LoadPlans(TimestampTz now) {
  struct TierRow {
    const char* metric;
    Interval step;
    bool drop;
    TimestampTz moved;  // now - after
  };
  std::vector<TierRow> rows;
  SPITupleTable* table = PgCall([&] {
    RunPlan(&tiers_plan,
            "SELECT m.name, (t.e->>'after')::interval, (t.e->>'step')::interval"
            "  FROM aegis.metric_catalog m"
            "  CROSS JOIN LATERAL jsonb_array_elements(m.downsampling) WITH ORDINALITY t(e, ord)"
            " WHERE m.downsampling IS NOT NULL AND EXISTS (SELECT 1 FROM aegis.series s WHERE s.metric = m.name)"
            " ORDER BY m.name, t.ord",
            0, nullptr, nullptr, Snap::kReadOnly);
    return SPI_tuptable;
  });
  rows.resize(SPI_processed);
  PgCall([&] {
    for (uint64 i = 0; i < table->numvals; ++i) {
      bool isnull = false;
      TierRow& row = rows[i];
      row.metric = TextDatumGetCString(SPI_getbinval(table->vals[i], table->tupdesc, 1, &isnull));
      const Datum after = SPI_getbinval(table->vals[i], table->tupdesc, 2, &isnull);
      const Datum step = SPI_getbinval(table->vals[i], table->tupdesc, 3, &row.drop);
      if (!row.drop) row.step = *DatumGetIntervalP(step);
      // Fixed-length intervals (set_downsampling refuses months): now minus
      // their microseconds, the same in every session's time zone.
      const Interval* keep = DatumGetIntervalP(after);
      int64 micros = 0;
      if (keep->month != 0 || pg_mul_s64_overflow(static_cast<int64>(keep->day), USECS_PER_DAY, &micros) ||
          pg_add_s64_overflow(micros, keep->time, &micros) || pg_sub_s64_overflow(now, micros, &row.moved) ||
          !IS_VALID_TIMESTAMP(row.moved))
        row.moved = DT_NOBEGIN;  // LoadPlans marks the metric as broken below

    }
  });
  std::vector<MetricPlan> plans;
  std::vector<std::string> broken;  // metrics whose tiers cannot be applied (set around the validator)
  for (const TierRow& row : rows) {
    if (plans.empty() || plans.back().metric != row.metric) plans.push_back(MetricPlan{row.metric, {}, DT_NOBEGIN});
    MetricPlan& plan = plans.back();
    if (!broken.empty() && broken.back() == plan.metric) continue;
    try {
      if (row.moved == DT_NOBEGIN) throw core::Error(core::ErrorCategory::InvalidParameter, "invalid after");
      // Each cutoff at most the finer tier's, floored to this tier's step,
      // so that tiers never overlap whatever the stored intervals hold.
      const TimestampTz finer = plan.tiers.empty() ? DT_NOEND : plan.tiers.back().cutoff;
      if (row.drop) {
        if (!plan.tiers.empty())
          plan.drop = Bucketer(plan.tiers.back().step_micros).BucketStart(std::min(row.moved, finer));
        continue;
      }
      Tier tier;
      tier.step = row.step;
      tier.step_micros = FixedMicros(row.step);
      if (row.step.month != 0 || tier.step_micros <= 0 || tier.step_micros > kMaxStepMicros ||
          (!plan.tiers.empty() && tier.step_micros % plan.tiers.back().step_micros != 0))
        throw core::Error(core::ErrorCategory::InvalidParameter, "invalid step");
      tier.cutoff = Bucketer(tier.step_micros).BucketStart(std::min(row.moved, finer));
      plan.tiers.push_back(tier);
    } catch (const core::Error&) {
      broken.push_back(plan.metric);
    }
  }
  PgCall([&] { SPI_freetuptable(table); });
  for (const std::string& metric : broken) {
    PgCall([&] {
      ereport(WARNING, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("the downsampling tiers of metric \"%s\" cannot be applied; it is not rolled up",
                               metric.c_str()),
                        errhint("Set them again with aegis.set_downsampling, which checks them.")));
    });
  }
  plans.erase(std::remove_if(plans.begin(), plans.end(),
                             [&](const MetricPlan& p) {
                               return p.tiers.empty() || std::find(broken.begin(), broken.end(), p.metric) != broken.end();
                             }),
              plans.end());
  return plans;
}

// The cutoffs and steps of a plan's tiers after the first, for the queries
// that find steps to move.
struct CoarserTiers {
  std::vector<TimestampTz> cuts;
  std::vector<Interval> steps;
  explicit CoarserTiers(const MetricPlan& plan) {
    for (size_t k = 1; k < plan.tiers.size(); ++k) {
      cuts.push_back(plan.tiers[k].cutoff);
      steps.push_back(plan.tiers[k].step);
    }
  }
};

// Series of the plan's metric with work to do: raw points older than the
// first cutoff, steps older than a coarser tier's cutoff, or steps to drop.
std::vector<int64_t> SeriesToRollUp(const MetricPlan& plan) {
  const CoarserTiers coarser(plan);
  PgCall([&] {
    static const Oid types[] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZARRAYOID, INTERVALARRAYOID, TIMESTAMPTZOID};
    Datum values[] = {CStringGetTextDatum(plan.metric.c_str()), TimestampTzGetDatum(plan.tiers[0].cutoff),
                      Int64Array(coarser.cuts.data(), coarser.cuts.size(), TIMESTAMPTZOID),
                      IntervalArray(coarser.steps), TimestampTzGetDatum(plan.drop)};
    // One index probe per series and table; under Citus, whose planner
    // cannot push a catalog row's probes into the shards, each data table is
    // asked once for the series it holds work of.
    if (!UnderCitus())
      RunPlan(&series_to_rollup_plan,
              "SELECT s.series_id FROM aegis.series s WHERE s.metric = $1 AND ("
              "   EXISTS (SELECT 1 FROM aegis.blocks b WHERE b.series_id = s.series_id AND b.ts_min < $2"
              "            AND (b.ts_max < $2 OR $2 - b.ts_min >= b.ts_max - $2))"
              "   OR EXISTS (SELECT 1 FROM aegis.recent_points r WHERE r.series_id = s.series_id AND r.ts < $2)"
              "   OR EXISTS (SELECT 1 FROM aegis.rollups u, unnest($3, $4) c(cut, step)"
              "               WHERE u.series_id = s.series_id AND u.ts_min < c.cut AND u.step < c.step)"
              "   OR EXISTS (SELECT 1 FROM aegis.rollups u WHERE u.series_id = s.series_id AND u.ts_min < $5))"
              " ORDER BY 1",
              5, types, values, Snap::kReadOnly);
    else
      RunPlan(&series_to_rollup_plan,
              "SELECT s.series_id FROM aegis.series s WHERE s.metric = $1 AND s.series_id IN ("
              "   SELECT b.series_id FROM aegis.blocks b WHERE b.ts_min < $2"
              "      AND (b.ts_max < $2 OR $2 - b.ts_min >= b.ts_max - $2)"
              "   UNION SELECT r.series_id FROM aegis.recent_points r WHERE r.ts < $2"
              "   UNION SELECT u.series_id FROM aegis.rollups u"
              "    WHERE u.ts_min < $5 OR EXISTS (SELECT 1 FROM unnest($3, $4) c(cut, step)"
              "                                    WHERE u.ts_min < c.cut AND u.step < c.step))"
              " ORDER BY 1",
              5, types, values, Snap::kReadOnly);
  });
  std::vector<int64_t> ids(SPI_processed);
  for (uint64 i = 0; i < ids.size(); ++i) {
    bool isnull = false;
    ids[i] = DatumGetInt64(ResultValue(i, 1, &isnull));
  }
  PgCall([] { SPI_freetuptable(SPI_tuptable); });
  return ids;
}

// Decodes a stored rollup block of a series; a damaged one is an ERROR
// (XX001) naming the series.
int64_t DecodeRollupData(int64_t series_id, Datum data, std::vector<core::StepSummary>* out,
                         uint16_t columns = core::kAllRollupColumns) {
  struct varlena* stored = reinterpret_cast<struct varlena*>(DatumGetPointer(data));
  struct varlena* raw = PgCall([&] { return pg_detoast_datum_packed(stored); });
  int64_t step = 0;
  try {
    step = core::DecodeRollupBlock(reinterpret_cast<const uint8_t*>(VARDATA_ANY(raw)), VARSIZE_ANY_EXHDR(raw), out,
                                   columns);
  } catch (const core::Error& e) {
    if (e.category() != core::ErrorCategory::DataCorrupted) throw;
    throw core::Error(core::ErrorCategory::DataCorrupted, "corrupt rollup block in series " + std::to_string(series_id),
                      std::string(e.what()) + (e.detail().empty() ? "" : ": " + e.detail()),
                      "Restore the series from a backup, or remove it with aegis.delete_series().");
  }
  if (raw != stored) PgCall([&] { pfree(raw); });
  return step;
}

// A stored rollup block as read back for a rewrite.
struct StoredRollup {
  TimestampTz ts_min;
  Interval step;
  int64_t step_micros;
  std::vector<core::StepSummary> steps;
};

// Reads the rows the last query returned (ts_min, data, step) of a series,
// decoded.
std::vector<StoredRollup> TakeRollupRows(int64_t series_id) {
  std::vector<StoredRollup> rows(SPI_processed);
  SPITupleTable* table = SPI_tuptable;
  for (uint64 i = 0; i < rows.size(); ++i) {
    bool isnull = false;
    SPI_tuptable = table;
    rows[i].ts_min = DatumGetTimestampTz(ResultValue(i, 1, &isnull));
    rows[i].step = *DatumGetIntervalP(ResultValue(i, 3, &isnull));
    const Datum data = ResultValue(i, 2, &isnull);
    rows[i].step_micros = DecodeRollupData(series_id, data, &rows[i].steps);
  }
  PgCall([&] { SPI_freetuptable(table); });
  return rows;
}

void DeleteRollupRows(int64_t series_id, const std::vector<TimestampTz>& starts) {
  if (starts.empty()) return;
  PgCall([&] {
    static const Oid types[] = {INT8OID, TIMESTAMPTZARRAYOID};
    Datum values[] = {Int64GetDatum(series_id), Int64Array(starts.data(), starts.size(), TIMESTAMPTZOID)};
    RunPlan(&delete_rollup_plan, "DELETE FROM aegis.rollups WHERE series_id = $1 AND ts_min = ANY ($2)", 2, types,
            values, Snap::kLatest);
  });
}

// Writes steps (bucket-ascending, one tier) as blocks of at most
// kMaxRollupBlockSteps.
void InsertRollupBlocks(int64_t series_id, const Interval& step, int64_t step_micros,
                        const std::vector<core::StepSummary>& steps) {
  for (size_t begin = 0; begin < steps.size(); begin += core::kMaxRollupBlockSteps) {
    const size_t n = std::min(core::kMaxRollupBlockSteps, steps.size() - begin);
    const std::vector<uint8_t> block = core::EncodeRollupBlock(step_micros, steps.data() + begin, n);
    int64_t points = 0;
    for (size_t i = begin; i < begin + n; ++i) points += static_cast<int64_t>(steps[i].count);
    PgCall([&] {
      bytea* data = static_cast<bytea*>(palloc(VARHDRSZ + block.size()));
      SET_VARSIZE(data, VARHDRSZ + block.size());
      memcpy(VARDATA(data), block.data(), block.size());
      static const Oid types[] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, INTERVALOID, INT4OID, INT8OID, BYTEAOID};
      Datum values[] = {Int64GetDatum(series_id),
                        TimestampTzGetDatum(steps[begin].bucket),
                        TimestampTzGetDatum(steps[begin + n - 1].bucket),
                        IntervalPGetDatum(&step),
                        Int32GetDatum(static_cast<int32>(n)),
                        Int64GetDatum(points),
                        PointerGetDatum(data)};
      RunPlan(&insert_rollup_plan,
              "INSERT INTO aegis.rollups (series_id, ts_min, ts_max, step, step_count, point_count, data)"
              " VALUES ($1, $2, $3, $4, $5, $6, $7)",
              7, types, values, Snap::kWrite);
      pfree(data);
    });
  }
}

// Adds steps (bucket-ascending, of width `step`) to the series' rolled-up
// data. The blocks they overlap are merged with them: a block of the same
// width step by step (a step of the same bucket combines), a finer one
// regrouped into this width first, a coarser one (left by tiers set
// differently before) takes the steps inside it regrouped into its width.
// The newest block before them joins too when it has this width and room,
// so that a round's few new steps do not make a block of their own.
void WriteSteps(int64_t series_id, const Interval& step, int64_t step_micros, std::vector<core::StepSummary> steps) {
  if (steps.empty()) return;
  std::stable_sort(steps.begin(), steps.end(),
                   [](const core::StepSummary& a, const core::StepSummary& b) { return a.bucket < b.bucket; });
  const core::TimeBucketer bucketer = Bucketer(step_micros);
  // The blocks overlapping [lo, hi) and the newest one before lo. A finer
  // block is regrouped whole, so the span grows to its buckets of this width
  // and is fetched again until no block reaches past it.
  TimestampTz lo = steps.front().bucket;
  TimestampTz hi = steps.back().bucket + step_micros;
  std::vector<StoredRollup> rows;
  for (;;) {
    PgCall([&] {
      static const Oid types[] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
      Datum values[] = {Int64GetDatum(series_id), TimestampTzGetDatum(lo), TimestampTzGetDatum(hi)};
      RunPlan(&rollups_overlapping_plan,
              "SELECT ts_min, data, step FROM aegis.rollups"
              " WHERE series_id = $1 AND ts_max + step > $2 AND ts_min < $3"
              " UNION ALL "
              "(SELECT ts_min, data, step FROM aegis.rollups WHERE series_id = $1 AND ts_min < $2"
              "  ORDER BY ts_min DESC LIMIT 1)"
              " ORDER BY 1",
              3, types, values, Snap::kLatest);
    });
    rows = TakeRollupRows(series_id);
    TimestampTz wider_lo = lo;
    TimestampTz wider_hi = hi;
    for (const StoredRollup& row : rows) {
      const TimestampTz row_end = row.steps.back().bucket + row.step_micros;
      if (row_end <= lo || row.step_micros == step_micros || step_micros % row.step_micros != 0) continue;
      wider_lo = std::min(wider_lo, bucketer.BucketStart(row.steps.front().bucket));
      wider_hi = std::max(wider_hi, bucketer.BucketStart(row_end - 1) + step_micros);
    }
    if (wider_lo == lo && wider_hi == hi) break;
    lo = wider_lo;
    hi = wider_hi;
  }
  std::vector<core::StepSummary> merged = std::move(steps);
  std::vector<TimestampTz> starts;
  std::vector<StoredRollup> coarser;
  for (StoredRollup& row : rows) {
    if (!starts.empty() && starts.back() == row.ts_min) continue;  // found by both queries
    const TimestampTz row_end = row.steps.back().bucket + row.step_micros;
    if (row_end <= lo) {
      // The block before: joined only when it is of this width with room.
      if (row.step_micros != step_micros || row.steps.size() >= core::kMaxRollupBlockSteps) continue;
    }
    starts.push_back(row.ts_min);
    if (row.step_micros == step_micros) {
      merged = core::MergeSteps(row.steps, merged);
    } else if (step_micros % row.step_micros == 0) {
      merged = core::MergeSteps(core::RegroupSteps(row.steps, bucketer), merged);
    } else if (row.step_micros % step_micros == 0) {
      coarser.push_back(std::move(row));
    } else {
      throw core::Error(core::ErrorCategory::NotSupported,
                        "cannot combine rolled-up steps of " + std::to_string(step_micros) + " and " +
                            std::to_string(row.step_micros) + " microseconds in series " + std::to_string(series_id),
                        "Neither width is a multiple of the other; the downsampling tiers were changed to widths "
                        "that do not divide the stored ones.",
                        "Set tiers whose steps are multiples of the stored ones (aegis.rollup_stats lists them).");
    }
  }
  // Steps inside a coarser block go into it.
  std::vector<TimestampTz> barriers;
  for (StoredRollup& row : coarser) {
    const TimestampTz lo = row.steps.front().bucket;
    const TimestampTz hi = row.steps.back().bucket + row.step_micros;
    std::vector<core::StepSummary> inside;
    std::vector<core::StepSummary> outside;
    for (const core::StepSummary& s : merged) (s.bucket >= lo && s.bucket < hi ? inside : outside).push_back(s);
    merged.swap(outside);
    row.steps = core::MergeSteps(row.steps, core::RegroupSteps(inside, Bucketer(row.step_micros)));
    barriers.push_back(lo);
  }
  DeleteRollupRows(series_id, starts);
  for (const StoredRollup& row : coarser) InsertRollupBlocks(series_id, row.step, row.step_micros, row.steps);
  // This width's steps, in blocks that do not reach across a coarser one.
  std::sort(barriers.begin(), barriers.end());
  size_t begin = 0;
  for (const TimestampTz barrier : barriers) {
    size_t stop = begin;
    while (stop < merged.size() && merged[stop].bucket < barrier) ++stop;
    InsertRollupBlocks(series_id, step, step_micros, {merged.begin() + begin, merged.begin() + stop});
    begin = stop;
  }
  InsertRollupBlocks(series_id, step, step_micros, {merged.begin() + begin, merged.end()});
}

// Raw points before the first cutoff are taken out. A block that holds the
// cutoff is split there once at least half its time span is older; before
// that its points wait (so each block is rewritten at most once or twice,
// not every round). The time before which a round takes a series' points.
TimestampTz RawEnd(TimestampTz raw_cutoff, const std::vector<core::BlockSummary>& holding) {
  TimestampTz end = raw_cutoff;
  for (const core::BlockSummary& s : holding)
    if (s.ts_max >= raw_cutoff && (raw_cutoff - s.ts_min) < (s.ts_max - raw_cutoff)) end = std::min(end, s.ts_min);
  return end;
}

// The [lo, hi) of each tier's fresh steps: tier k takes the points from the
// next tier's cutoff (the drop for the last) to its own.
TimestampTz TierLo(const MetricPlan& plan, size_t k) {
  return k + 1 < plan.tiers.size() ? plan.tiers[k + 1].cutoff : plan.drop;
}

// The raw part of RollUpSeries on one node: takes the series' points before
// the end (RawEnd) out of its blocks and recent rows, and summarizes them
// into each tier's fresh steps (points past the drop go); returns the
// points taken.
int64_t TakeRawPoints(const MetricPlan& plan, int64_t series_id, std::vector<std::vector<core::StepSummary>>* incoming) {
  const TimestampTz raw_cutoff = plan.tiers[0].cutoff;
  FetchedBlocks blocks = FetchBlocks(series_id, DT_NOBEGIN, raw_cutoff - 1, true);
  std::vector<core::BlockSummary> summaries;
  for (const BlockRef& block : blocks.blocks) summaries.push_back(block.summary);
  const TimestampTz end = RawEnd(raw_cutoff, summaries);
  core::SeriesPoints old_points;
  core::SeriesPoints kept;
  std::vector<core::Timestamp> replaced;
  for (const BlockRef& block : blocks.blocks) {
    if (block.summary.ts_min >= end) continue;
    core::SeriesPoints points;
    DecodeStoredBlock(series_id, block, &points);
    const size_t split = core::LowerBound(points, end);
    old_points.Append(points, 0, split);
    kept.Append(points, split, points.size());
    replaced.push_back(block.summary.ts_min);
  }
  Release(&blocks);
  // Recent rows are taken (deleted and returned) in one statement, so a late
  // write that commits meanwhile either is taken here or stays raw.
  const core::SeriesPoints recent = TakeRecent(series_id, DT_NOBEGIN, end);
  core::SortAndDeduplicate(&old_points);
  core::SortAndDeduplicate(&kept);
  if (!replaced.empty()) ReplaceBlocks(series_id, replaced, kept);
  const core::SeriesPoints raw = core::MergeNewerWins(old_points, recent);
  for (size_t k = 0; k < plan.tiers.size(); ++k) {
    const size_t begin = core::LowerBound(raw, TierLo(plan, k));
    const size_t stop = core::LowerBound(raw, plan.tiers[k].cutoff);
    if (stop > begin)
      (*incoming)[k] = core::SummarizeSteps(Bucketer(plan.tiers[k].step_micros), raw.ts.data() + begin,
                                            raw.values.data() + begin, stop - begin);
  }
  return static_cast<int64_t>(raw.size());
}

SPIPlanPtr raw_holding_plan = nullptr;
SPIPlanPtr rollup_raw_on_shard_plan = nullptr;

// TakeRawPoints under Citus: the blocks that hold the raw cutoff are read
// for their times only, then aegis._rollup_raw_on_shard, which Citus runs on
// the node that holds the series (a distributed function,
// src/sql/42_distribute.sql), takes the points out and summarizes them
// there; only the steps come back, one encoded rollup block per tier.
int64_t TakeRawPointsOnShard(const MetricPlan& plan, int64_t series_id,
                             std::vector<std::vector<core::StepSummary>>* incoming) {
  const TimestampTz raw_cutoff = plan.tiers[0].cutoff;
  std::vector<core::BlockSummary> holding;
  PgCall([&] {
    static const Oid types[] = {INT8OID, TIMESTAMPTZOID};
    Datum values[] = {Int64GetDatum(series_id), TimestampTzGetDatum(raw_cutoff)};
    RunPlan(&raw_holding_plan,
            "SELECT ts_min, ts_max FROM aegis.blocks WHERE series_id = $1 AND ts_min < $2 AND ts_max >= $2", 2, types,
            values, Snap::kLatest);
  });
  for (uint64 i = 0; i < SPI_processed; ++i) {
    bool isnull = false;
    core::BlockSummary s;
    s.ts_min = DatumGetTimestampTz(ResultValue(i, 1, &isnull));
    s.ts_max = DatumGetTimestampTz(ResultValue(i, 2, &isnull));
    holding.push_back(s);
  }
  PgCall([] { SPI_freetuptable(SPI_tuptable); });
  const TimestampTz end = RawEnd(raw_cutoff, holding);
  const size_t tiers = plan.tiers.size();
  std::vector<core::Timestamp> los(tiers);
  std::vector<core::Timestamp> his(tiers);
  std::vector<int64_t> widths(tiers);
  for (size_t k = 0; k < tiers; ++k) {
    los[k] = TierLo(plan, k);
    his[k] = plan.tiers[k].cutoff;
    widths[k] = plan.tiers[k].step_micros;
  }
  const core::BlockLimits limits = StoredBlockLimits();
  static const Oid types[] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZARRAYOID, INT4OID, INT4OID, TIMESTAMPTZARRAYOID,
                              TIMESTAMPTZARRAYOID, INT8ARRAYOID};
  Datum values[] = {Int64GetDatum(series_id),
                    TimestampTzGetDatum(end),
                    PgCall([] { return PartitionEndsArray(); }),
                    Int32GetDatum(static_cast<int32>(limits.max_points)),
                    Int32GetDatum(static_cast<int32>(limits.max_bytes)),
                    PgCall([&] { return Int64Array(los.data(), tiers, TIMESTAMPTZOID); }),
                    PgCall([&] { return Int64Array(his.data(), tiers, TIMESTAMPTZOID); }),
                    PgCall([&] { return Int64Array(widths.data(), tiers, INT8OID); })};
  // The steps come back in the statement's row: copied out before its
  // result is freed (RewriteOnShard reads the other columns).
  ArrayType* step_array = nullptr;
  ArrayType* tier_array = nullptr;
  const int64_t points = RewriteOnShard(
      &rollup_raw_on_shard_plan,
      "SELECT points_taken, block_starts, block_ends, steps, step_tiers"
      "  FROM aegis._rollup_raw_on_shard($1, $2, $3, $4, $5, $6, $7, $8)",
      8, types, values, nullptr, nullptr, [&](HeapTuple row, TupleDesc desc) {
        bool isnull = false;
        const Datum steps = SPI_getbinval(row, desc, 4, &isnull);
        if (!isnull) step_array = DatumGetArrayTypePCopy(steps);
        const Datum step_tiers = SPI_getbinval(row, desc, 5, &isnull);
        if (!isnull) tier_array = DatumGetArrayTypePCopy(step_tiers);
      });
  for (int i : {2, 5, 6, 7}) PgCall([&] { pfree(DatumGetPointer(values[i])); });
  if (step_array == nullptr || tier_array == nullptr) return points;
  Datum* steps = nullptr;
  Datum* step_tiers = nullptr;
  bool* nulls = nullptr;
  int n_steps = 0;
  int n_tiers = 0;
  PgCall([&] {
    deconstruct_array(step_array, BYTEAOID, -1, false, TYPALIGN_INT, &steps, &nulls, &n_steps);
    deconstruct_array(tier_array, INT4OID, 4, true, TYPALIGN_INT, &step_tiers, &nulls, &n_tiers);
  });
  for (int i = 0; i < n_steps && i < n_tiers; ++i) {
    const int32 k = DatumGetInt32(step_tiers[i]);
    if (k < 1 || static_cast<size_t>(k) > tiers)
      throw core::Error(core::ErrorCategory::Internal, "a roll-up on the shard returned steps of tier " +
                                                           std::to_string(k) + " of " + std::to_string(tiers));
    DecodeRollupData(series_id, steps[i], &(*incoming)[static_cast<size_t>(k - 1)]);
  }
  PgCall([&] {
    pfree(steps);
    pfree(step_tiers);
    pfree(step_array);
    pfree(tier_array);
  });
  return points;
}

// Rolls up one series of a plan; returns the points rolled up or dropped.
int64_t RollUpSeries(const MetricPlan& plan, int64_t series_id) {
  CheckForInterrupts();
  if (LockSeriesForMaintenance(series_id, false) != SeriesState::kLocked) return 0;
  const size_t tiers = plan.tiers.size();

  // Fresh steps per tier from the raw points before the first cutoff.
  std::vector<std::vector<core::StepSummary>> incoming(tiers);
  int64_t processed = UnderCitus() && SegmentsColumnExists() ? TakeRawPointsOnShard(plan, series_id, &incoming)
                                                             : TakeRawPoints(plan, series_id, &incoming);
  // The series' newest raw point may have been among them.
  if (processed > 0) RefreshLastPoints({series_id});

  // Stored steps older than their tier's cutoff (or past the drop) are taken
  // out and go to the tier that now holds them; a block with none stays.
  const CoarserTiers coarser(plan);
  PgCall([&] {
    static const Oid types[] = {INT8OID, TIMESTAMPTZARRAYOID, INTERVALARRAYOID, TIMESTAMPTZOID};
    Datum values[] = {Int64GetDatum(series_id), Int64Array(coarser.cuts.data(), coarser.cuts.size(), TIMESTAMPTZOID),
                      IntervalArray(coarser.steps), TimestampTzGetDatum(plan.drop)};
    RunPlan(&rollups_to_redo_plan,
            "SELECT u.ts_min, u.data, u.step FROM aegis.rollups u WHERE u.series_id = $1 AND (u.ts_min < $4"
            "    OR EXISTS (SELECT 1 FROM unnest($2, $3) c(cut, step) WHERE u.ts_min < c.cut AND u.step < c.step))"
            " ORDER BY u.ts_min",
            4, types, values, Snap::kLatest);
  });
  const std::vector<StoredRollup> redo = TakeRollupRows(series_id);
  std::vector<std::vector<core::StepSummary>> stay(tiers);
  std::vector<std::vector<core::StepSummary>> moving(tiers);
  std::vector<TimestampTz> redo_starts;
  std::vector<StoredRollup> unchanged;  // steps of rewritten blocks that keep their own width
  for (const StoredRollup& row : redo) {
    std::vector<std::vector<core::StepSummary>> row_moving(tiers);
    std::vector<core::StepSummary> row_stay;  // in tier k of the same width
    std::vector<core::StepSummary> row_keep;  // kept at the block's own width
    int64_t row_processed = 0;
    bool changed = false;
    for (const core::StepSummary& step : row.steps) {
      const int k = plan.TierOf(step.bucket);
      if (k >= static_cast<int>(tiers)) {
        row_processed += static_cast<int64_t>(step.count);  // dropped
        changed = true;
        continue;
      }
      const int64_t target = k < 0 ? 0 : plan.tiers[static_cast<size_t>(k)].step_micros;
      if (target == row.step_micros) {
        row_stay.push_back(step);
      } else if (k >= 0 && target > row.step_micros && target % row.step_micros == 0) {
        row_moving[static_cast<size_t>(k)].push_back(step);
        row_processed += static_cast<int64_t>(step.count);
        changed = true;
      } else {
        // Newer than the raw cutoff, or of a width the tier cannot be made
        // of (left by tiers set differently before): kept as it is.
        row_keep.push_back(step);
      }
    }
    if (!changed) continue;
    processed += row_processed;
    redo_starts.push_back(row.ts_min);
    for (size_t k = 0; k < tiers; ++k)
      moving[k].insert(moving[k].end(), row_moving[k].begin(), row_moving[k].end());
    for (const core::StepSummary& step : row_stay) stay[static_cast<size_t>(plan.TierOf(step.bucket))].push_back(step);
    if (!row_keep.empty()) unchanged.push_back(StoredRollup{row.ts_min, row.step, row.step_micros, row_keep});
  }
  DeleteRollupRows(series_id, redo_starts);
  for (const StoredRollup& row : unchanged) InsertRollupBlocks(series_id, row.step, row.step_micros, row.steps);
  // Each part is written on its own, so that a write reaches only the blocks
  // near it: what stayed where its blocks were, the promoted steps at the
  // newer end of their tier, the fresh ones wherever their points were.
  for (size_t k = 0; k < tiers; ++k) {
    const Tier& tier = plan.tiers[k];
    std::vector<core::StepSummary>& promoted = moving[k];
    std::stable_sort(promoted.begin(), promoted.end(),
                     [](const core::StepSummary& a, const core::StepSummary& b) { return a.bucket < b.bucket; });
    WriteSteps(series_id, tier.step, tier.step_micros, std::move(stay[k]));
    WriteSteps(series_id, tier.step, tier.step_micros, core::RegroupSteps(promoted, Bucketer(tier.step_micros)));
    WriteSteps(series_id, tier.step, tier.step_micros, std::move(incoming[k]));
  }
  return processed;
}

// RollUpSeries in a subtransaction: a series that fails for a reason of its
// own (a corrupt block, tiers whose widths the stored steps cannot take) is
// rolled back whole and reported as a WARNING, and the job goes on with the
// next series. Any other error ends the job.
// Series of a round that were not rolled up, and the first error.
struct RollupFailures {
  int64_t series = 0;
  std::string first;
};

int64_t RollUpSeriesIsolated(const MetricPlan& plan, int64_t series_id, RollupFailures* failures) {
  SeriesFailure failure;
  const int64_t points = RunSeriesIsolated([&] { return RollUpSeries(plan, series_id); }, &failure);
  if (failure.sqlstate == 0) return points;
  const int sqlstate = failure.sqlstate;
  const std::string& message = failure.message;
  if (failures->series++ == 0)
    failures->first = std::string(unpack_sql_state(sqlstate)) + ": series " + std::to_string(series_id) + ": " + message;
  PgCall([&] {
    ereport(WARNING, (errcode(sqlstate), errmsg("series " INT64_FORMAT " was not rolled up: %s", series_id,
                                                message.c_str()),
                      errhint("The next maintenance round tries again; its points stay as they were.")));
  });
  return 0;
}

// Removes the series' steps that `remove` picks among the blocks of rows
// overlapping [lo, hi); returns their points.
template <typename Remove>
int64_t RemoveSteps(int64_t series_id, TimestampTz lo, TimestampTz hi, Remove remove) {
  if (!RollupsExist() || lo >= hi) return 0;
  PgCall([&] {
    static const Oid types[] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
    Datum values[] = {Int64GetDatum(series_id), TimestampTzGetDatum(lo), TimestampTzGetDatum(hi)};
    RunPlan(&rollups_in_range_plan,
            "SELECT ts_min, data, step FROM aegis.rollups WHERE series_id = $1 AND ts_max + step > $2 AND ts_min < $3"
            " ORDER BY ts_min",
            3, types, values, Snap::kLatest);
  });
  const std::vector<StoredRollup> rows = TakeRollupRows(series_id);
  int64_t removed = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::vector<core::StepSummary> keep;
    int64_t gone = 0;
    for (const core::StepSummary& step : rows[i].steps) {
      if (remove(step)) gone += static_cast<int64_t>(step.count);
      else keep.push_back(step);
    }
    if (gone == 0) continue;
    removed += gone;
    DeleteRollupRows(series_id, {rows[i].ts_min});
    InsertRollupBlocks(series_id, rows[i].step, rows[i].step_micros, keep);
  }
  return removed;
}

}  // namespace

namespace {

// The oid of aegis.rollups, or InvalidOid in a database still at 0.1.0.
Oid RollupsRelid() {
  const Oid aegis = get_namespace_oid("aegis", true);
  return OidIsValid(aegis) ? get_relname_relid("rollups", aegis) : InvalidOid;
}

}  // namespace

bool RollupsExist() {
  return PgCall([] { return OidIsValid(RollupsRelid()); });
}

bool RollupsMayHaveRows() {
  return PgCall([] {
    const Oid relid = RollupsRelid();
    if (!OidIsValid(relid)) return false;
    // Under Citus the table here may be the empty shell of its shards.
    if (UnderCitus()) return true;
    // A row any snapshot of this statement can see, committed before it
    // began, lies on a page that exists now; a table without pages has none.
    Relation rel = table_open(relid, AccessShareLock);
    const BlockNumber pages = RelationGetNumberOfBlocks(rel);
    table_close(rel, NoLock);  // held to the end of the transaction, as the query would
    return pages > 0;
  });
}

MaintenanceJob RollupJob(TimestampTz now, bool report_failures) {
  auto plans = std::make_shared<std::vector<MetricPlan>>();
  auto failures = std::make_shared<RollupFailures>();
  std::function<int64_t()> after;
  if (report_failures)
    after = [failures]() -> int64_t {
      if (failures->series == 0) return 0;
      throw core::Error(core::ErrorCategory::Internal,
                        std::to_string(failures->series) + " series were not rolled up; the first: " + failures->first);
    };
  return MaintenanceJob{
      "rollup", nullptr,
      [now, plans, failures] {
        std::vector<SeriesWork> work;
        *failures = RollupFailures{};
        if (!RollupsExist()) return work;
        *plans = LoadPlans(now);
        for (size_t p = 0; p < plans->size(); ++p)
          for (int64_t id : SeriesToRollUp((*plans)[p])) work.push_back(SeriesWork{id, now, p});
        return work;
      },
      [plans, failures](const SeriesWork& work) {
        return RollUpSeriesIsolated((*plans)[work.plan], work.series_id, failures.get());
      },
      after};
}

RolledUpSteps::RolledUpSteps(const std::vector<int64_t>& series_ids, TimestampTz since, TimestampTz until,
                             uint16_t columns)
    : since_(since), until_(until), columns_(columns) {
  if (since >= until || !RollupsMayHaveRows()) return;
  PgCall([&] {
    static const Oid types[] = {INT8ARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
    Datum values[] = {Int64Array(series_ids.data(), series_ids.size(), INT8OID), TimestampTzGetDatum(since),
                      TimestampTzGetDatum(until)};
    RunPlan(&chunk_rollups_plan,
            "SELECT series_id, data FROM aegis.rollups WHERE series_id = ANY ($1) AND ts_max >= $2 AND ts_min < $3"
            " ORDER BY series_id, ts_min",
            3, types, values, Snap::kReadOnly);
    table_ = SPI_tuptable;
  });
  row_series_.resize(SPI_processed);
  for (uint64 i = 0; i < SPI_processed; ++i) {
    bool isnull = false;
    row_series_[i] = DatumGetInt64(ResultValue(i, 1, &isnull));
  }
}

RolledUpSteps::~RolledUpSteps() {
  // Freed with the SPI connection's memory otherwise; an ERROR unwinding
  // past here leaves it to that.
  if (table_ != nullptr && !std::uncaught_exceptions()) SPI_freetuptable(table_);
}

std::vector<core::StepSummary> RolledUpSteps::Steps(int64_t series_id) const {
  std::vector<core::StepSummary> steps;
  const auto begin = std::lower_bound(row_series_.begin(), row_series_.end(), series_id);
  const auto stop = std::upper_bound(begin, row_series_.end(), series_id);
  for (auto it = begin; it != stop; ++it) {
    const uint64 row = static_cast<uint64>(it - row_series_.begin());
    bool isnull = false;
    const Datum data = PgCall([&] { return SPI_getbinval(table_->vals[row], table_->tupdesc, 2, &isnull); });
    AppendRolledUpSteps(series_id, data, since_, until_, columns_, &steps);
  }
  // Blocks never overlap, so this is in order already; counters need it to be.
  std::stable_sort(steps.begin(), steps.end(),
                   [](const core::StepSummary& a, const core::StepSummary& b) { return a.bucket < b.bucket; });
  return steps;
}

void AppendRolledUpSteps(int64_t series_id, Datum data, TimestampTz since, TimestampTz until, uint16_t columns,
                         std::vector<core::StepSummary>* out) {
  const size_t first = out->size();
  DecodeRollupData(series_id, data, out, columns);
  out->erase(std::remove_if(out->begin() + static_cast<std::ptrdiff_t>(first), out->end(),
                            [&](const core::StepSummary& s) { return s.bucket < since || s.bucket >= until; }),
             out->end());
}

int64_t DeleteRolledUpSteps(int64_t series_id, TimestampTz since, TimestampTz until) {
  return RemoveSteps(series_id, since, until, [&](const core::StepSummary& step) {
    return step.first_ts >= since && step.last_ts < until;
  });
}

int64_t TrimRolledUpSteps(int64_t series_id, TimestampTz cutoff) {
  return RemoveSteps(series_id, DT_NOBEGIN, cutoff,
                     [&](const core::StepSummary& step) { return step.first_ts < cutoff; });
}

}  // namespace aegis::pg

// aegis.set_downsampling(metric, tiers): validates and stores the tiers.
AEGIS_PG_FUNCTION(aegis_set_downsampling) {
  if (PG_ARGISNULL(0))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("metric must not be NULL")));
  text* metric = PG_GETARG_TEXT_PP(0);
  Jsonb* tiers = PG_ARGISNULL(1) ? nullptr : PG_GETARG_JSONB_P(1);
  if (tiers != nullptr) {
    // Validation in SQL: each element's keys and types, rising afters,
    // fixed steps each a multiple of the one before, a drop only last,
    // steps that combine with the metric's rolled-up ones.
    aegis::pg::SpiConnect();
    {
      aegis::pg::AsTableOwner owner;
      aegis::pg::PgCall([&] {
        static SPIPlanPtr check_plan = nullptr;
        static const Oid types[] = {JSONBOID, TIMESTAMPTZOID, TEXTOID};
        Datum values[] = {JsonbPGetDatum(tiers), TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
                          PointerGetDatum(metric)};
        aegis::pg::RunPlan(&check_plan, "SELECT aegis._check_downsampling($1, $2, $3)", 3, types, values,
                           aegis::pg::Snap::kReadOnly);
      });
    }
    aegis::pg::SpiFinish();
  }
  aegis::pg::SetMetricColumn(metric, &aegis::pg::set_downsampling_plan,
                             "UPDATE aegis.metric_catalog SET downsampling = $2 WHERE name = $1", JSONBOID,
                             tiers == nullptr ? Datum(0) : JsonbPGetDatum(tiers), tiers == nullptr);
  PG_RETURN_VOID();
}

// aegis.apply_downsampling(): one rollup round; returns the points rolled up
// or dropped.
AEGIS_PG_FUNCTION(aegis_apply_downsampling) {
  (void)fcinfo;
  PG_RETURN_INT64(aegis::pg::RunJobsAsOwner({aegis::pg::RollupJob(GetCurrentTransactionStartTimestamp(), false)}));
}

// aegis._rollup_steps(series_id, blocks bytea[], counts int[], ts[], vals[],
// until, los[], his[], widths bigint[]): the raw part of a roll-up for one
// series, as TakeRawPoints summarizes it: the points of blocks (each holding
// its row's point count) before until, with the points (ts ascending, vals)
// replacing block points at their times, summarized for each tier k into
// steps of widths[k] microseconds over [los[k], his[k]) (points in no tier
// are left out: past the drop). Returns how many points that was and the
// steps as encoded rollup blocks of at most kMaxRollupBlockSteps steps, each
// with its tier (k, from 1).
AEGIS_PG_FUNCTION(aegis_rollup_steps) {
  for (int i : {0, 5})
    if (PG_ARGISNULL(i))
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("series_id and until must not be NULL")));
  const int64 series_id = PG_GETARG_INT64(0);
  const TimestampTz until = PG_GETARG_TIMESTAMPTZ(5);
  const aegis::pg::BlockArrays block_rows = aegis::pg::BlockArrayArguments(fcinfo, 1);
  const int n_blocks = block_rows.n;
  Datum* blocks = block_rows.blocks;
  Datum* counts = block_rows.counts;
  const aegis::pg::PointArrays newer_rows = aegis::pg::PointArrayArguments(fcinfo, 3);
  int n_los = 0;
  int n_his = 0;
  int n_widths = 0;
  Datum* los = aegis::pg::Array8Elements(fcinfo, 6, TIMESTAMPTZOID, "los", &n_los);
  Datum* his = aegis::pg::Array8Elements(fcinfo, 7, TIMESTAMPTZOID, "his", &n_his);
  Datum* widths = aegis::pg::Array8Elements(fcinfo, 8, INT8OID, "widths", &n_widths);
  if (n_los != n_his || n_los != n_widths)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("los, his and widths must have the same length")));
  for (int k = 0; k < n_widths; ++k)
    if (DatumGetInt64(widths[k]) <= 0)
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("widths must be positive")));
  TupleDesc desc = nullptr;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("aegis._rollup_steps must return a record")));
  desc = BlessTupleDesc(desc);

  // C++ from here on: no PostgreSQL call outside PgCall.
  aegis::core::SeriesPoints old_points;
  for (int i = 0; i < n_blocks; ++i) {
    aegis::pg::DecodeBlockData(series_id, blocks[i], &old_points, {}, static_cast<uint32_t>(DatumGetInt32(counts[i])),
                               until);
    aegis::pg::CheckForInterrupts();
  }
  aegis::core::SortAndDeduplicate(&old_points);
  aegis::core::SeriesPoints recent;
  for (int i = 0; i < newer_rows.n; ++i) {
    const TimestampTz ts = DatumGetTimestampTz(newer_rows.ts[i]);
    if (ts < until) recent.push_back(ts, DatumGetFloat8(newer_rows.values[i]));
  }
  const aegis::core::SeriesPoints raw = aegis::core::MergeNewerWins(old_points, recent);
  std::vector<std::vector<uint8_t>> encoded;
  std::vector<int32> tiers;
  for (int k = 0; k < n_widths; ++k) {
    const size_t begin = aegis::core::LowerBound(raw, DatumGetTimestampTz(los[k]));
    const size_t stop = std::max(begin, aegis::core::LowerBound(raw, DatumGetTimestampTz(his[k])));
    if (stop == begin) continue;
    const int64_t width = DatumGetInt64(widths[k]);
    const std::vector<aegis::core::StepSummary> steps = aegis::core::SummarizeSteps(
        aegis::pg::Bucketer(width), raw.ts.data() + begin, raw.values.data() + begin, stop - begin);
    for (size_t i = 0; i < steps.size(); i += aegis::core::kMaxRollupBlockSteps) {
      const size_t n = std::min(aegis::core::kMaxRollupBlockSteps, steps.size() - i);
      encoded.push_back(aegis::core::EncodeRollupBlock(width, steps.data() + i, n));
      tiers.push_back(k + 1);
    }
  }
  return aegis::pg::PgCall([&] {
    Datum* elements = static_cast<Datum*>(palloc(sizeof(Datum) * (encoded.empty() ? 1 : encoded.size())));
    Datum* tier_elements = static_cast<Datum*>(palloc(sizeof(Datum) * (encoded.empty() ? 1 : encoded.size())));
    for (size_t i = 0; i < encoded.size(); ++i) {
      elements[i] = PointerGetDatum(aegis::pg::ByteaOf(encoded[i]));
      tier_elements[i] = Int32GetDatum(tiers[i]);
    }
    const int n = static_cast<int>(encoded.size());
    Datum values[] = {Int64GetDatum(static_cast<int64>(raw.size())),
                      PointerGetDatum(construct_array(elements, n, BYTEAOID, -1, false, TYPALIGN_INT)),
                      PointerGetDatum(construct_array(tier_elements, n, INT4OID, 4, true, TYPALIGN_INT))};
    bool nulls[] = {false, false, false};
    return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
  });
}
