// Aggregation kernels for aegis.aggregate() (API.md section 5), built on
// mergeable partial states (DESIGN-NOTES note 2): points, block summaries and
// other states fold into an AggregateState, and Final() gives the value.
//
// Values equal PostgreSQL's own aggregates over the same rows:
//  - count, sum (float8pl: overflow of finite inputs is an error), min/max
//    (float8smaller/float8larger: NaN sorts above everything; on a tie the
//    later input wins, as in PostgreSQL), avg (float8_accum then Sx / N);
//  - stddev/variance are the POPULATION forms (stddev_pop/var_pop) from the
//    Youngs-Cramer state (N, Sx, Sxx) of float8_accum, merged as
//    float8_combine does (AggregateFn::sample selects the sample forms,
//    stddev_samp/var_samp, for SQL over aegis.points);
//  - median/quantile(q) is percentile_cont(q) WITHIN GROUP (ORDER BY value):
//    exact, interpolating between the two closest ranks;
//  - first/last: value at the smallest/largest ts; on a tie (several series
//    of a group) the earlier-added point wins.
//  - The counter family is computed per series, then summed over the series
//    of a group (as PromQL's sum(rate(x[w])) does). A series with fewer than
//    two points in a bucket contributes nothing to rate, increase, delta,
//    irate and the sample_ forms; if no series contributes, the value is NULL.
//    resets and changes count from one point on (0 for a lone point).
//    - rate, increase, delta: Prometheus 2.42's extrapolatedRate over the
//      bucket's window [start, end) (the bucket clipped to [since, until)):
//      last - first, plus for counters the value just before each drop (a
//      reset); extrapolated towards the window's edges when the first/last
//      point lies within 1.1 average sample intervals of them (else by half
//      an interval), a counter never below zero; rate divides by the
//      window's length in seconds (NULL when the window is infinite).
//    - sample_increase, sample_rate, sample_delta: the same change across the
//      points without extrapolation (sample_rate over the seconds between the
//      first and last point), so consecutive buckets add up to the increments
//      inside them.
//    - irate: the per-second change between the last two points (a drop
//      counts the new value); resets: drops; changes: value changes (NaN to
//      NaN is no change), as Prometheus's irate, resets and changes.
//    Increments between a point in one bucket and the next point in a later
//    bucket belong to neither bucket.
#pragma once
#include "cpp_only.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "rollup.h"
#include "time_bucket.h"
#include "types.h"

namespace aegis::core {

enum class AggregateKind {
  kCount,
  kSum,
  kMin,
  kMax,
  kAvg,
  kFirst,
  kLast,
  kMedian,
  kQuantile,
  kStddev,
  kVariance,
  kDelta,
  kRate,
  kIncrease,
  kSampleDelta,
  kSampleRate,
  kSampleIncrease,
  kIrate,
  kResets,
  kChanges,
};

// True for the functions computed per series and summed over a group: delta,
// rate, increase, their sample_ forms, irate, resets and changes.
bool IsPerSeries(AggregateKind kind);

// One series' points in time order, as far as the per-series functions need
// them (PromQL's extrapolatedRate, irate, resets, changes).
struct CounterRun {
  uint64_t points = 0;
  Timestamp first_ts = 0;
  Timestamp last_ts = 0;
  Timestamp previous_ts = 0;  // the point before the last (irate)
  double first = 0;
  double last = 0;
  double previous = 0;
  double resets = 0;  // sum of the values just before each drop
  uint64_t reset_count = 0;
  uint64_t changes = 0;

  // Appends points later than every point already in the run.
  void Add(const Timestamp* ts, const double* values, size_t n);
  // Appends `later`, a run of the same series after this one in time. Runs
  // that overlap in time (late points inside a rolled-up step) keep exact
  // ends and counts; their drops and changes in between are not known.
  void Append(const CounterRun& later);
  // The function's value for this series over [window_start, window_end);
  // nullopt when the series contributes nothing (fewer than two points for
  // every kind but resets/changes, an infinite window for rate).
  std::optional<double> Value(AggregateKind kind, Timestamp window_start, Timestamp window_end) const;
};

// An aggregate function as named in aegis.aggregate's `fn` argument.
struct AggregateFn {
  AggregateKind kind = AggregateKind::kCount;
  double quantile = 0.5;  // kQuantile's q; kMedian uses 0.5
  // kStddev/kVariance: the sample forms (stddev_samp/var_samp: Sxx / (N - 1),
  // NULL below two points) instead of the population ones.
  bool sample = false;

  // True when a BlockSummary (count, min, max, sum, first, last) answers it:
  // count, sum, min, max, avg, first, last, delta, sample_delta.
  bool UsesSummaries() const;
  // True when the state keeps every value (median, quantile): its memory grows
  // with the points and no summary can answer it.
  bool NeedsValues() const;
  // The rollup block columns (RollupColumn bits) AddStepSummary reads.
  uint16_t RollupColumns() const;
};

// Parses "count", "sum", "min", "max", "avg", "first", "last", "median",
// "stddev", "variance", "delta", "rate", "increase", "sample_delta",
// "sample_rate", "sample_increase", "irate", "resets", "changes" or
// "quantile(q)" (lower
// case exactly; whitespace allowed around the name and inside the
// parentheses). Unknown name -> Error(InvalidParameter, "unknown aggregate
// function \"x\"", detail listing the valid names); quantile outside [0, 1],
// not a number or malformed -> Error(InvalidParameter).
AggregateFn ParseAggregateFn(std::string_view text);

enum class FillMode { kNone, kNull, kPrevious, kLinear, kValue };

// How aegis.aggregate fills buckets that have no points.
struct Fill {
  FillMode mode = FillMode::kNone;
  double value = 0;  // kValue
};

// Parses "none", "null", "previous", "linear" or a float8 number as
// PostgreSQL's float8in reads it ("0", "-1.5", "1e3", "NaN", "Infinity");
// anything else -> Error(InvalidParameter).
Fill ParseFill(std::string_view text);

// When a summary's (or a step's) infinite sum is sum's (and avg's) overflow
// error, as float8pl/float8_accum raised it over the points.
enum class SumOverflow {
  // A stored summary or step: an infinite sum of finite values (its min and
  // max finite) always is.
  kStored,
  // Points summarised elsewhere whose sum overflowed from finite values (a
  // shard's flagged part or entry, core/bucket_parts.h): unless the running
  // sum here is already infinite or NaN.
  kIfRunningFinite,
  // Points summarised elsewhere that did not overflow where they were
  // summed: only adding them here can (float8pl's own rule).
  kNone,
};

// Partial state of one aggregate over one bucket of one group. Fold in points
// and summaries of each series in time order; merge states with Combine.
class AggregateState {
 public:
  // The window [start, end) the per-series functions extrapolate to and
  // divide by (rate); by default infinite.
  void SetWindow(Timestamp start, Timestamp end) {
    window_start_ = start;
    window_end_ = end;
  }
  // Folds points of one series, ts strictly ascending and later than any
  // point of that series already in this state. `series` identifies the
  // series for the per-series functions (any value unique per series).
  void AddPoints(const AggregateFn& fn, uint64_t series, const Timestamp* ts, const double* values, size_t n);
  // Folds a block summary of one series (fn.UsesSummaries() must be true);
  // rule: when its infinite sum is sum's and avg's overflow error.
  void AddSummary(const AggregateFn& fn, uint64_t series, const BlockSummary& summary,
                  SumOverflow rule = SumOverflow::kStored);
  // Folds a rolled-up step of one series (points earlier than any of that
  // series added later). Every fn but median/quantile, irate, resets and
  // changes, which throw Error(NotSupported): a step keeps neither its values
  // nor its last two points, drops or changes.
  // rule: when an infinite sum in the step is sum's overflow error
  // (SumOverflow).
  void AddStepSummary(const AggregateFn& fn, uint64_t series, const StepSummary& step,
                      SumOverflow rule = SumOverflow::kStored);
  // Folds a run of one series' points (its counter state, computed where the
  // points are), later than that series' points already in this state, as
  // AddPoints would fold the points. Per-series functions only
  // (IsPerSeries(fn.kind)); Error(Internal) otherwise.
  void AddCounterRun(const AggregateFn& fn, uint64_t series, const CounterRun& run);
  // Merges another state of the same fn: states of different series, or of
  // the same series over time ranges that do not overlap (rate/increase then
  // joins the two runs, counting the step between them).
  void Combine(const AggregateFn& fn, const AggregateState& other);
  // The aggregate's value; nullopt is SQL NULL (no points, or a per-series
  // function to which no series contributes).
  std::optional<double> Final(const AggregateFn& fn) const;
  // Points folded in so far.
  uint64_t count() const { return count_; }

 private:
  struct SeriesRun {
    uint64_t series = 0;
    CounterRun run;
  };

  void AddMoments(const double* values, size_t n);
  bool AddModestSum(const double* values, size_t n);
  void AddRun(const AggregateFn& fn, uint64_t series, const CounterRun& run);
  void CloseRun(const AggregateFn& fn);

  uint64_t count_ = 0;
  double sum_ = 0;  // kSum: running float8 sum; kAvg/kStddev/kVariance: Sx
  double sxx_ = 0;  // Youngs-Cramer sum of squared deviations
  // kAvg: every value so far was finite with magnitude <= kModestMagnitude,
  // so Sxx cannot have overflowed and is not kept (AddModestSum).
  bool modest_ = true;
  double min_ = 0;
  double max_ = 0;
  Timestamp first_ts_ = 0;
  Timestamp last_ts_ = 0;
  double first_ = 0;
  double last_ = 0;
  Timestamp window_start_ = kTimestampMinusInfinity;
  Timestamp window_end_ = kTimestampInfinity;
  SeriesRun run_;                 // the series whose points are still arriving
  double series_total_ = 0;       // closed runs that contributed
  uint64_t counted_series_ = 0;
  // Median/quantile: every value; Final reorders it (nth_element) in place.
  mutable std::vector<double> values_;
};

// One output row of BucketAggregator::Finish.
struct BucketValue {
  Timestamp bucket;
  double value;
  bool is_null;
};

// What one BucketAggregator may hold, and how it lets a long loop be
// interrupted.
struct AggregateLimits {
  // Bytes of values kept for exact median/quantile (8 per value); past it
  // Error(LimitExceeded). The PostgreSQL layer sets work_mem.
  size_t max_value_bytes = std::numeric_limits<size_t>::max();
  // Buckets holding points; past it Error(LimitExceeded).
  size_t max_buckets = 10000000;
  // Called every few thousand steps of the long loops (Finish, fills, exact
  // quantiles); it may throw to abandon the work (a query cancel).
  std::function<void()> progress;
};

// Aggregates the points of one group (one or more series) into buckets.
class BucketAggregator {
 public:
  // Most buckets Finish produces with a fill other than none.
  static constexpr size_t kMaxFilledBuckets = 10000000;

  // bucketer nullopt: one bucket [since, until) stamped `since`; otherwise a
  // point's bucket is bucketer->BucketStart(ts). Only since <= ts < until count.
  BucketAggregator(AggregateFn fn, std::optional<TimeBucketer> bucketer, Timestamp since, Timestamp until,
                   AggregateLimits limits = {});

  // Starts the next series of the group: later points and summaries belong to
  // it (rate/increase count per series). Without it everything is one series.
  void BeginSeries();
  // Adds points of the current series, ts strictly ascending and after its
  // earlier points. Walks the buckets: one bucket boundary per bucket.
  void AddSeriesPoints(const Timestamp* ts, const double* values, size_t n);
  // Folds the summary in and returns true when fn can use summaries and
  // [ts_min, ts_max] lies inside [since, until) and inside one bucket; else
  // returns false and the caller decodes the block and calls AddSeriesPoints.
  // rule: when the summary's infinite sum is sum's and avg's overflow error.
  bool TryAddBlockSummary(const BlockSummary& summary, SumOverflow rule = SumOverflow::kStored);
  // Whether TryAddBlockSummary would take the summary (it changes nothing).
  bool TakesBlockSummary(const BlockSummary& summary) const;
  // The longest slot whose summaries are worth offering: the step of fixed
  // regular buckets, kTimestampInfinity for one bucket or months, 0 when
  // TryAddBlockSummary takes nothing. A longer slot's summary fits a bucket
  // only when its points happen to bunch up; a reader may skip such
  // summaries and decode the points instead, with the same result.
  Timestamp WidestSummary() const;

  // Folds a rolled-up step of the current series whole into the bucket that
  // holds its start, when since <= step.bucket < until (a step counts where
  // it starts; a query step finer than the stored one gets the stored one's
  // buckets). median/quantile: Error(NotSupported).
  // rule as AggregateState::AddStepSummary's.
  void AddStep(const StepSummary& step, SumOverflow rule = SumOverflow::kStored);
  // Folds a run of the current series' points (AggregateState::AddCounterRun)
  // into the bucket that holds its first point, when since <= run.first_ts <
  // until; the run must lie in that one bucket.
  void AddCounterRun(const CounterRun& run);

  // Buckets in ascending order. kNone: only buckets with points. Other fills:
  // every bucket from BucketStart(since) up to the last one starting before
  // until (Error(InvalidParameter) unless since and until are finite;
  // Error(LimitExceeded) past kMaxFilledBuckets). Empty buckets take NULL,
  // the fill value, the closest earlier non-NULL value (previous) or the
  // straight line between the closest non-NULL buckets on both sides, by
  // bucket start time (linear; NULL at the edges). The overload fills the
  // buckets of [grid_since, grid_until) instead of [since, until) (a
  // gap-filling query whose range differs from its points' range); buckets
  // with points outside it are still returned.
  std::vector<BucketValue> Finish(const Fill& fill) const;
  std::vector<BucketValue> Finish(const Fill& fill, Timestamp grid_since, Timestamp grid_until) const;

  // Buckets holding at least one point.
  size_t bucket_count() const { return keys_.size() + new_keys_.size(); }
  // The function it computes.
  const AggregateFn& fn() const { return fn_; }

 private:
  AggregateState& StateAt(Timestamp bucket);
  AggregateState& StateAtOutOfOrder(Timestamp bucket);
  void MergeNewBuckets();
  std::vector<std::pair<Timestamp, const AggregateState*>> SortedBuckets() const;
  std::vector<Timestamp> AllBucketStarts(Timestamp since, Timestamp until) const;

  AggregateState& NewBucket(Timestamp bucket);
  void SetWindow(AggregateState& state, Timestamp bucket) const;
  void AddToState(AggregateState& state, const Timestamp* ts, const double* values, size_t n);
  void Progress(size_t step) const;

  AggregateFn fn_;
  std::optional<TimeBucketer> bucketer_;
  Timestamp since_;
  Timestamp until_;
  AggregateLimits limits_;
  size_t values_held_ = 0;  // values kept for median/quantile, all buckets
  uint64_t series_ = 0;
  // Buckets with points, ascending: states_[i] belongs to keys_[i]. A series
  // walks them with cursor_ (its buckets rise with time); buckets it is the
  // first to reach go to new_keys_/new_states_, also ascending, and are merged
  // in when the next series begins.
  std::vector<Timestamp> keys_;
  std::vector<AggregateState> states_;
  std::vector<Timestamp> new_keys_;
  std::vector<AggregateState> new_states_;
  size_t cursor_ = 0;
  bool cursor_valid_ = false;
  Timestamp last_bucket_ = 0;  // the current series' latest bucket
};

}  // namespace aegis::core
