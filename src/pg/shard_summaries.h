// Under Citus, on a distributed database: the summaries of a run of series'
// points per bucket, computed on the shards by one statement (the aggregate
// aegis._bucket_parts over each series' blocks and over its recent rows,
// packed into one row per series), which the coordinator only unpacks and
// folds into its aggregators (docs/scale-out.md, "What runs where").
// aegis.aggregate and SQL aggregates over aegis.points (the points wrapper's
// aggregate path) both read through it.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "core/aggregate.h"
#include "core/rollup.h"

#include "pg/postgres_headers.h"

namespace aegis::pg {

class ShardSummaries {
 public:
  // Whether the shards' summaries answer every one of fns exactly as one
  // node does: the functions block summaries answer, the moments (stddev,
  // variance) and the per-series counter functions; not median or quantile
  // (their values are gathered).
  static bool Answers(const std::vector<core::AggregateFn>& fns);

  // Runs the shards' statement for ids over [since, until), in the buckets
  // of time_bucket(step, ts, origin) (nullopt: its default origin; step
  // nullptr: one bucket), for fns
  // (Answers(fns) must hold): what they read decides what the shards
  // compute (the sums; each block's part of a bucket kept apart with its
  // Sxx or its counter state, folded here in time order). with_steps: the
  // series' rolled-up steps overlapping the range come too (aegis.aggregate
  // folds them first, as one node does); a reader of raw points (aegis.points)
  // leaves them out.
  ShardSummaries(const std::vector<int64_t>& ids, TimestampTz since, TimestampTz until, const Interval* step,
                 std::optional<TimestampTz> origin, const std::vector<core::AggregateFn>& fns, bool with_steps);

  // False when a bucket holds more points than a summary counts, parts that
  // must follow each other in time overlap, or a series' summaries pass a
  // bytea's 1 GB: the caller reads the points itself.
  bool usable() const { return usable_; }

  // Folds the series' rolled-up steps and then its summaries into the
  // aggregator (one of the fns given), in time order.
  void Fold(int64_t series_id, core::BucketAggregator* aggregator) const;

 private:
  struct Row {
    int64_t series_id = 0;
    core::StepSummary summary;
    core::CounterRun counters;  // parts only
    bool overflowed = false;          // its points' sum overflowed (core::BucketPart::overflowed)
    bool moments_overflowed = false;  // avg's float8_accum over them did
  };
  std::vector<Row> rows_;  // by series, then time
  // Each series' rolled-up steps in the range, by series.
  std::vector<std::pair<int64_t, std::vector<core::StepSummary>>> steps_;
  bool parts_ = false;     // each block's part of a bucket kept apart
  bool in_order_ = false;  // parts follow each other in time (counter state)
  bool usable_ = true;
};

}  // namespace aegis::pg
