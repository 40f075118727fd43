// Roll-up tiers (API.md section 6, aegis.set_downsampling): a series' points
// older than a tier's `after` are replaced by one StepSummary per `step`, a
// stored partial aggregate state (DESIGN-NOTES note 2) that combines exactly
// with points, block summaries and other steps.
//
// A step keeps what every aggregate but median/quantile needs: count, sum,
// min, max, first and last with their times, the Youngs-Cramer sum of squared
// deviations (float8_accum's Sxx, so stddev/variance combine as
// float8_combine does, never a raw sum of squares) and the counter state
// (first, last and the values just before each reset, as Prometheus counts
// resets) for rate and increase.
//
// Steps of one series and one tier are stored as rollup blocks
// (docs/block-format.md section 10): a fixed header and ten columns, each a
// codec 2 block over the step starts.
#pragma once
#include "cpp_only.h"

#include <cstddef>
#include <cstdint>
#include <vector>

#include "time_bucket.h"
#include "types.h"

namespace aegis::core {

// The summary of one series' points in [bucket, bucket + step).
struct StepSummary {
  Timestamp bucket = 0;  // start of the step
  uint64_t count = 0;    // points, at least 1
  Timestamp first_ts = 0;
  Timestamp last_ts = 0;
  double sum = 0;  // left to right from the first value (float8 sum / Sx)
  double sxx = 0;  // Youngs-Cramer sum of squared deviations (NaN after Inf/NaN)
  double min = 0;  // PostgreSQL float8 order (NaN above everything)
  double max = 0;
  double first = 0;   // value at first_ts
  double last = 0;    // value at last_ts
  double resets = 0;  // sum of the values just before each counter reset
};

// The block summary of a step's points (its count, which a block summary
// holds in 32 bits, must fit).
inline BlockSummary SummaryOfStep(const StepSummary& s) {
  BlockSummary summary;
  summary.count = static_cast<uint32_t>(s.count);
  summary.ts_min = s.first_ts;
  summary.ts_max = s.last_ts;
  summary.min = s.min;
  summary.max = s.max;
  summary.sum = s.sum;
  summary.first = s.first;
  summary.last = s.last;
  return summary;
}

// Most steps in one rollup block: a round appends to a series' newest block
// and rewrites it, so this bounds that rewrite.
constexpr size_t kMaxRollupBlockSteps = 256;

// Summarizes points (ts strictly ascending) into one StepSummary per bucket of
// `steps` that holds points, in time order. Never throws on values: sums that
// overflow stay infinite, and the aggregates report the overflow when they
// read them (as they would over the points).
std::vector<StepSummary> SummarizeSteps(const TimeBucketer& steps, const Timestamp* ts, const double* values,
                                        size_t n);
// The summary of n >= 1 points (ascending times) as one step starting at
// ts[0]: what SummarizeSteps gives for a step that holds them all.
StepSummary SummarizeRun(const Timestamp* ts, const double* values, size_t n);

// Combines two summaries of the same series: counts, sums, extremes and the
// moments exactly as float8_combine does; first/last by time; the counter
// state as if the earlier one's points came first (a drop between them is a
// reset). Used for steps of the same bucket (late points) and to form a
// coarser step from finer ones.
StepSummary CombineSteps(const StepSummary& a, const StepSummary& b);

// Combines time-ordered steps into steps of a coarser width (each coarser
// bucket must contain whole finer steps).
std::vector<StepSummary> RegroupSteps(const std::vector<StepSummary>& steps, const TimeBucketer& coarser);

// Merges two bucket-ordered lists; steps with the same bucket are combined.
std::vector<StepSummary> MergeSteps(const std::vector<StepSummary>& a, const std::vector<StepSummary>& b);

// Encodes 1..kMaxBlockPoints steps (bucket-ascending, of width step_micros)
// as a rollup block. Throws Error(InvalidParameter) on an empty or unordered
// list.
std::vector<uint8_t> EncodeRollupBlock(int64_t step_micros, const StepSummary* steps, size_t n);

// Columns of a rollup block (docs/block-format.md section 10), as bits for
// DecodeRollupBlock's `columns`.
enum RollupColumn : uint16_t {
  kRollupCount = 1 << 0,
  kRollupSum = 1 << 1,
  kRollupSxx = 1 << 2,
  kRollupMin = 1 << 3,
  kRollupMax = 1 << 4,
  kRollupFirst = 1 << 5,
  kRollupLast = 1 << 6,
  kRollupResets = 1 << 7,
  kRollupFirstTime = 1 << 8,
  kRollupLastTime = 1 << 9,
  kAllRollupColumns = (1 << 10) - 1,
};

// Verifies and decodes a rollup block, appending its steps to out; returns
// the step width in microseconds. Only the `columns` asked for are decoded
// (the step starts and counts always are); the others are left 0, with the
// first and last time at the step start. The checksum covers every column
// either way. Anything inconsistent (magic, version,
// checksum, lengths, a column's count, buckets not ascending, counts that
// are not whole positive numbers, times outside their step) is
// Error(DataCorrupted), and out is left as it was.
int64_t DecodeRollupBlock(const uint8_t* data, size_t size, std::vector<StepSummary>* out,
                          uint16_t columns = kAllRollupColumns);

}  // namespace aegis::core
