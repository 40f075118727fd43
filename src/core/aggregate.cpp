// Aggregation kernels: PostgreSQL-exact partial states and the bucket walk.
#include "aggregate.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <string>
#include <utility>

#include "error.h"
#include "float8.h"

namespace aegis::core {

namespace {

using Int128 = __int128;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const char kValidFunctions[] =
    "Valid functions are count, sum, min, max, avg, first, last, median, quantile(q) with 0 <= q <= 1, "
    "stddev, variance, delta, rate, increase, sample_delta, sample_rate, sample_increase, irate, resets and "
    "changes.";

[[noreturn]] void ThrowOverflow() { ThrowFloat8Overflow(); }

// True for C-locale white space, as PostgreSQL's scanner and float8in skip it.
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// text without leading and trailing white space.
std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

// A float8 read as PostgreSQL's float8in reads it (strtod, whole string,
// out-of-range magnitudes rejected); nullopt when it is not a number.
std::optional<double> ParseFloat8(std::string_view text) {
  text = Trim(text);
  if (text.empty()) return std::nullopt;
  const std::string copy(text);
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(copy.c_str(), &end);
  if (end == copy.c_str() || *end != '\0') return std::nullopt;
  if (errno == ERANGE && (value == 0.0 || std::isinf(value))) return std::nullopt;
  return value;
}

}  // namespace

uint16_t AggregateFn::RollupColumns() const {
  // The overflow checks of sum, avg and the moments read min and max.
  switch (kind) {
    case AggregateKind::kCount:
    case AggregateKind::kMedian:
    case AggregateKind::kQuantile:
      return kRollupCount;
    case AggregateKind::kSum:
      return kRollupCount | kRollupSum | kRollupMin | kRollupMax;
    case AggregateKind::kMin:
      return kRollupCount | kRollupMin;
    case AggregateKind::kMax:
      return kRollupCount | kRollupMax;
    case AggregateKind::kAvg:
    case AggregateKind::kStddev:
    case AggregateKind::kVariance:
      return kRollupCount | kRollupSum | kRollupSxx | kRollupMin | kRollupMax;
    case AggregateKind::kFirst:
    case AggregateKind::kLast:
    case AggregateKind::kDelta:
    case AggregateKind::kSampleDelta:
      return kRollupCount | kRollupFirst | kRollupLast | kRollupFirstTime | kRollupLastTime;
    case AggregateKind::kRate:
    case AggregateKind::kIncrease:
    case AggregateKind::kSampleRate:
    case AggregateKind::kSampleIncrease:
      return kRollupCount | kRollupFirst | kRollupLast | kRollupResets | kRollupFirstTime | kRollupLastTime;
    case AggregateKind::kIrate:
    case AggregateKind::kResets:
    case AggregateKind::kChanges:
      return kRollupCount;  // refused over steps (AddStepSummary)
  }
  return kAllRollupColumns;
}

bool AggregateFn::UsesSummaries() const {
  switch (kind) {
    case AggregateKind::kCount:
    case AggregateKind::kSum:
    case AggregateKind::kMin:
    case AggregateKind::kMax:
    case AggregateKind::kAvg:
    case AggregateKind::kFirst:
    case AggregateKind::kLast:
    case AggregateKind::kDelta:
    case AggregateKind::kSampleDelta:
      return true;
    default:
      return false;
  }
}

bool IsPerSeries(AggregateKind kind) {
  switch (kind) {
    case AggregateKind::kDelta:
    case AggregateKind::kRate:
    case AggregateKind::kIncrease:
    case AggregateKind::kSampleDelta:
    case AggregateKind::kSampleRate:
    case AggregateKind::kSampleIncrease:
    case AggregateKind::kIrate:
    case AggregateKind::kResets:
    case AggregateKind::kChanges:
      return true;
    default:
      return false;
  }
}

bool AggregateFn::NeedsValues() const { return kind == AggregateKind::kMedian || kind == AggregateKind::kQuantile; }

AggregateFn ParseAggregateFn(std::string_view text) {
  const std::string_view name = Trim(text);
  static const struct {
    const char* name;
    AggregateKind kind;
  } kNames[] = {
      {"count", AggregateKind::kCount},     {"sum", AggregateKind::kSum},        {"min", AggregateKind::kMin},
      {"max", AggregateKind::kMax},         {"avg", AggregateKind::kAvg},        {"first", AggregateKind::kFirst},
      {"last", AggregateKind::kLast},       {"median", AggregateKind::kMedian},  {"stddev", AggregateKind::kStddev},
      {"variance", AggregateKind::kVariance}, {"delta", AggregateKind::kDelta},  {"rate", AggregateKind::kRate},
      {"increase", AggregateKind::kIncrease}, {"sample_delta", AggregateKind::kSampleDelta},
      {"sample_rate", AggregateKind::kSampleRate}, {"sample_increase", AggregateKind::kSampleIncrease},
      {"irate", AggregateKind::kIrate},     {"resets", AggregateKind::kResets}, {"changes", AggregateKind::kChanges},
  };
  for (const auto& entry : kNames) {
    if (name == entry.name) return AggregateFn{entry.kind, 0.5};
  }

  constexpr std::string_view kQuantile = "quantile";
  if (name.substr(0, kQuantile.size()) == kQuantile) {
    std::string_view rest = Trim(name.substr(kQuantile.size()));
    if (rest.size() >= 2 && rest.front() == '(' && rest.back() == ')') {
      const std::optional<double> q = ParseFloat8(rest.substr(1, rest.size() - 2));
      if (q && *q >= 0.0 && *q <= 1.0) return AggregateFn{AggregateKind::kQuantile, *q};
    }
    throw Error(ErrorCategory::InvalidParameter,
                "invalid quantile in aggregate function \"" + std::string(text) + "\"",
                "Write quantile(q) with a number q such that 0 <= q <= 1.");
  }
  throw Error(ErrorCategory::InvalidParameter, "unknown aggregate function \"" + std::string(text) + "\"",
              kValidFunctions);
}

Fill ParseFill(std::string_view text) {
  const std::string_view word = Trim(text);
  if (word == "none") return Fill{FillMode::kNone, 0};
  if (word == "null") return Fill{FillMode::kNull, 0};
  if (word == "previous") return Fill{FillMode::kPrevious, 0};
  if (word == "linear") return Fill{FillMode::kLinear, 0};
  if (const std::optional<double> value = ParseFloat8(word)) return Fill{FillMode::kValue, *value};
  throw Error(ErrorCategory::InvalidParameter, "invalid fill \"" + std::string(text) + "\"",
              "Valid fills are none, null, previous, linear or a number such as '0'.");
}

// --- AggregateState ------------------------------------------------------------

void AggregateState::AddPoints(const AggregateFn& fn, uint64_t series, const Timestamp* ts, const double* values,
                               size_t n) {
  if (n == 0) return;
  switch (fn.kind) {
    case AggregateKind::kCount:
      break;
    case AggregateKind::kSum: {
      // sum(float8) starts from the first input, then float8pl.
      size_t i = 0;
      double sum = sum_;
      if (count_ == 0) sum = values[i++];
      for (; i < n; ++i) sum = Float8Pl(sum, values[i]);
      sum_ = sum;
      break;
    }
    case AggregateKind::kMin: {
      double min = count_ == 0 ? values[0] : Float8Smaller(min_, values[0]);
      for (size_t i = 1; i < n; ++i) min = Float8Smaller(min, values[i]);
      min_ = min;
      break;
    }
    case AggregateKind::kMax: {
      double max = count_ == 0 ? values[0] : Float8Larger(max_, values[0]);
      for (size_t i = 1; i < n; ++i) max = Float8Larger(max, values[i]);
      max_ = max;
      break;
    }
    case AggregateKind::kAvg:
      if (!AddModestSum(values, n)) AddMoments(values, n);
      break;
    case AggregateKind::kStddev:
    case AggregateKind::kVariance:
      AddMoments(values, n);
      break;
    case AggregateKind::kFirst:
    case AggregateKind::kLast:
      // Strict comparisons: on a tie the earlier-added point stays.
      if (count_ == 0 || ts[0] < first_ts_) {
        first_ts_ = ts[0];
        first_ = values[0];
      }
      if (count_ == 0 || ts[n - 1] > last_ts_) {
        last_ts_ = ts[n - 1];
        last_ = values[n - 1];
      }
      break;
    case AggregateKind::kMedian:
    case AggregateKind::kQuantile:
      values_.insert(values_.end(), values, values + n);
      break;
    default: {  // the per-series functions
      if (run_.run.points != 0 && run_.series != series) CloseRun(fn);
      run_.series = series;
      if (run_.run.points == 0 || ts[0] > run_.run.last_ts) {
        run_.run.Add(ts, values, n);
      } else {
        // Points inside what the run holds already (late points inside a
        // rolled-up step).
        CounterRun late;
        late.Add(ts, values, n);
        run_.run.Append(late);
      }
      break;
    }
  }
  count_ += n;
}

// avg's fast path. avg needs only N and Sx; float8_accum also keeps Sxx, but
// for avg Sxx matters only through its overflow error. While every value is
// finite and at most 1e100 in magnitude, |Sx| stays below 1e116 and each Sxx
// term below 1e233, so Sxx cannot overflow and is not computed (a division
// per value). Sx is the same left-to-right sum float8_accum forms. Returns
// false, adding nothing, when a value is not modest; the state then takes
// AddMoments for good (Sxx restarting from 0, short of the true value by less
// than 1e249, which cannot change whether a later Sxx overflows).
// (kModestMagnitude: float8.h.)

bool AggregateState::AddModestSum(const double* values, size_t n) {
  if (!modest_) return false;
  bool modest = true;
  for (size_t i = 0; i < n; ++i) modest &= std::fabs(values[i]) <= kModestMagnitude;  // false for NaN
  if (!modest) {
    modest_ = false;
    sxx_ = 0;
    return false;
  }
  double sx = sum_;
  for (size_t i = 0; i < n; ++i) sx += values[i];
  sum_ = sx;
  return true;
}

// float8_accum's Youngs-Cramer update, value by value, with its overflow rule:
// an error only when finite inputs give an infinite Sx or Sxx.
void AggregateState::AddMoments(const double* values, size_t n) {
  double count = static_cast<double>(count_);
  double sx = sum_;
  double sxx = sxx_;
  for (size_t i = 0; i < n; ++i)
    if (!Float8AccumStep(values[i], &count, &sx, &sxx)) ThrowOverflow();
  sum_ = sx;
  sxx_ = sxx;
}

// --- CounterRun ------------------------------------------------------------------

void CounterRun::Add(const Timestamp* ts, const double* values, size_t n) {
  if (n == 0) return;
  size_t i = 0;
  if (points == 0) {
    *this = CounterRun{};
    first_ts = last_ts = previous_ts = ts[0];
    first = last = previous = values[0];
    points = 1;
    i = 1;
  }
  double last_value = last;
  double reset_sum = resets;
  uint64_t drops = reset_count;
  uint64_t changed = changes;
  for (size_t j = i; j < n; ++j) {
    const double value = values[j];
    // PromQL: a value below its predecessor is a counter reset; a change is
    // any difference but NaN after NaN.
    const bool drop = value < last_value;
    reset_sum += KeepIf(drop, last_value);
    drops += drop;
    changed += value != last_value && !(std::isnan(value) && std::isnan(last_value));
    last_value = value;
  }
  if (n - i >= 2) {
    previous_ts = ts[n - 2];
    previous = values[n - 2];
  } else if (n - i == 1) {
    previous_ts = last_ts;
    previous = last;
  }
  points += n - i;
  last = last_value;
  last_ts = ts[n - 1];
  resets = reset_sum;
  reset_count = drops;
  changes = changed;
}

void CounterRun::Append(const CounterRun& later) {
  if (later.points == 0) return;
  if (points == 0) {
    *this = later;
    return;
  }
  if (later.first_ts <= last_ts) {
    // Overlapping runs (late points inside a rolled-up step): the ends and
    // the count stay exact, so delta does; drops and changes between them
    // are unknown and left as they are.
    if (later.first_ts < first_ts) {
      first_ts = later.first_ts;
      first = later.first;
    }
    if (later.last_ts >= last_ts) {
      last_ts = later.last_ts;
      last = later.last;
    }
    points += later.points;
    resets += later.resets;
    reset_count += later.reset_count;
    changes += later.changes;
    return;
  }
  if (later.first < last) {
    resets += last;
    ++reset_count;
  }
  if (later.first != last && !(std::isnan(later.first) && std::isnan(last))) ++changes;
  resets += later.resets;
  reset_count += later.reset_count;
  changes += later.changes;
  if (later.points >= 2) {
    previous_ts = later.previous_ts;
    previous = later.previous;
  } else {
    previous_ts = last_ts;
    previous = last;
  }
  points += later.points;
  last = later.last;
  last_ts = later.last_ts;
}

namespace {

// A run known only by its ends (a block summary or a rolled-up step): drops
// and changes inside it are not known.
CounterRun RunOfEnds(uint64_t points, Timestamp first_ts, Timestamp last_ts, double first, double last,
                     double resets) {
  CounterRun run;
  run.points = points;
  run.first_ts = first_ts;
  run.last_ts = last_ts;
  run.first = first;
  run.last = last;
  run.resets = resets;
  return run;
}

// Seconds from a to b (b >= a); +Infinity when either is infinite.
double SecondsBetween(Timestamp a, Timestamp b) {
  if (a == kTimestampMinusInfinity || b == kTimestampInfinity) return std::numeric_limits<double>::infinity();
  return static_cast<double>(static_cast<Int128>(b) - a) / kMicrosPerSecond;
}

// PromQL's extrapolatedRate (Prometheus 2.42, promql/functions.go) for a run
// of at least two points over the window [start, end); rate_seconds > 0 gives
// the rate over that many seconds. The operations are Prometheus's, in its
// order, so the results are the same to the bit (apart from the sum of the
// values before several resets in one window, added in another order).
double Extrapolate(const CounterRun& run, bool counter, Timestamp start, Timestamp end, double rate_seconds = 0) {
  double result = run.last - run.first;
  if (counter) result += run.resets;
  double to_start = SecondsBetween(start, run.first_ts);
  const double to_end = SecondsBetween(run.last_ts, end);
  const double sampled = SecondsBetween(run.first_ts, run.last_ts);
  const double average = sampled / static_cast<double>(run.points - 1);
  if (counter && result > 0 && run.first >= 0) {
    // A counter does not go below zero: extrapolate at most to where it
    // would have been zero.
    const double to_zero = sampled * (run.first / result);
    if (to_zero < to_start) to_start = to_zero;
  }
  const double threshold = average * 1.1;
  double interval = sampled;
  interval += to_start < threshold ? to_start : average / 2;
  interval += to_end < threshold ? to_end : average / 2;
  double factor = interval / sampled;
  if (rate_seconds > 0) factor /= rate_seconds;
  return result * factor;
}

}  // namespace

std::optional<double> CounterRun::Value(AggregateKind kind, Timestamp window_start, Timestamp window_end) const {
  if (points == 0) return std::nullopt;
  switch (kind) {
    case AggregateKind::kResets:
      return static_cast<double>(reset_count);
    case AggregateKind::kChanges:
      return static_cast<double>(changes);
    default:
      break;
  }
  if (points < 2) return std::nullopt;
  // Points at one time (a SQL group may hold such) span no time to
  // extrapolate over or divide by.
  if (last_ts == first_ts && kind != AggregateKind::kSampleDelta && kind != AggregateKind::kSampleIncrease)
    return std::nullopt;
  switch (kind) {
    case AggregateKind::kDelta:
      return Extrapolate(*this, false, window_start, window_end);
    case AggregateKind::kIncrease:
      return Extrapolate(*this, true, window_start, window_end);
    case AggregateKind::kRate: {
      const double seconds = SecondsBetween(window_start, window_end);
      if (std::isinf(seconds)) return std::nullopt;
      return Extrapolate(*this, true, window_start, window_end, seconds);
    }
    case AggregateKind::kSampleDelta:
      return last - first;
    case AggregateKind::kSampleIncrease:
      return last - first + resets;
    case AggregateKind::kSampleRate:
      return (last - first + resets) / SecondsBetween(first_ts, last_ts);
    case AggregateKind::kIrate: {
      if (last_ts == previous_ts) return std::nullopt;  // as Prometheus: no interval, no value
      const double change = last < previous ? last : last - previous;
      return change / SecondsBetween(previous_ts, last_ts);
    }
    default:
      return std::nullopt;
  }
}

// --- AggregateState (per-series functions) ----------------------------------------

// Moves the current run into the per-group total.
void AggregateState::CloseRun(const AggregateFn& fn) {
  if (const std::optional<double> value = run_.run.Value(fn.kind, window_start_, window_end_)) {
    series_total_ += *value;
    ++counted_series_;
  }
  run_ = SeriesRun{};
}

// Folds a run of `series` that lies after its points already in the state.
void AggregateState::AddRun(const AggregateFn& fn, uint64_t series, const CounterRun& run) {
  if (run_.run.points != 0 && run_.series != series) CloseRun(fn);
  run_.series = series;
  run_.run.Append(run);
}

void AggregateState::AddCounterRun(const AggregateFn& fn, uint64_t series, const CounterRun& run) {
  if (!IsPerSeries(fn.kind)) throw Error(ErrorCategory::Internal, "a counter run given to a function of values");
  if (run.points == 0) return;
  AddRun(fn, series, run);
  count_ += run.points;
}

void AggregateState::AddSummary(const AggregateFn& fn, uint64_t series, const BlockSummary& summary,
                                SumOverflow rule) {
  if (summary.count == 0) return;
  // A block whose own sum overflowed from finite values: sum/avg over its
  // points would have raised the overflow error. Points summed elsewhere
  // say whether they overflowed, which raises unless the running sum here
  // is already infinite or NaN.
  const bool sum_overflowed =
      rule == SumOverflow::kStored   ? std::isinf(summary.sum) && std::isfinite(summary.min) && std::isfinite(summary.max)
      : rule == SumOverflow::kNone   ? false
                                     : count_ == 0 || std::isfinite(sum_);
  switch (fn.kind) {
    case AggregateKind::kCount:
      break;
    case AggregateKind::kSum:
      if (sum_overflowed) ThrowOverflow();
      sum_ = count_ == 0 ? summary.sum : Float8Pl(sum_, summary.sum);
      break;
    case AggregateKind::kMin:
      min_ = count_ == 0 ? summary.min : Float8Smaller(min_, summary.min);
      break;
    case AggregateKind::kMax:
      max_ = count_ == 0 ? summary.max : Float8Larger(max_, summary.max);
      break;
    case AggregateKind::kAvg:
      // float8_combine of (N, Sx); the block's Sxx is unknown, which avg does
      // not need (it only fed float8_accum's overflow check).
      if (sum_overflowed) ThrowOverflow();
      sum_ = count_ == 0 ? summary.sum : Float8Pl(sum_, summary.sum);
      sxx_ = kNaN;
      break;
    case AggregateKind::kDelta:
    case AggregateKind::kSampleDelta: {
      // A gauge's change needs only the ends.
      AddRun(fn, series, RunOfEnds(summary.count, summary.ts_min, summary.ts_max, summary.first, summary.last, 0));
      break;
    }
    case AggregateKind::kFirst:
    case AggregateKind::kLast:
      if (count_ == 0 || summary.ts_min < first_ts_) {
        first_ts_ = summary.ts_min;
        first_ = summary.first;
      }
      if (count_ == 0 || summary.ts_max > last_ts_) {
        last_ts_ = summary.ts_max;
        last_ = summary.last;
      }
      break;
    default:
      throw Error(ErrorCategory::Internal, "a block summary cannot answer this aggregate function");
  }
  count_ += summary.count;
}

void AggregateState::AddStepSummary(const AggregateFn& fn, uint64_t series, const StepSummary& step,
                                    SumOverflow rule) {
  if (step.count == 0) return;
  // Where float8pl/float8_accum would have raised an overflow over the
  // step's points (finite values, infinite sum or Sxx), reading it does.
  const bool finite_values = std::isfinite(step.min) && std::isfinite(step.max);
  switch (fn.kind) {
    case AggregateKind::kStddev:
    case AggregateKind::kVariance:
    case AggregateKind::kAvg: {
      // avg runs float8_accum too, which raises on Sxx as on Sx.
      // Sxx = +Infinity only ever marks an overflow (non-finite values give
      // NaN), which float8_accum raised when it happened, whatever came later
      // in the step, unless the sum before it was already Inf or NaN (its
      // rule: an overflow only from a finite Sx and a finite value).
      const bool sum_overflowed = rule == SumOverflow::kStored ? std::isinf(step.sum) && finite_values
                                                                : rule == SumOverflow::kIfRunningFinite;
      if ((count_ == 0 || std::isfinite(sum_)) && (std::isinf(step.sxx) || sum_overflowed)) ThrowOverflow();
      AggregateState other;
      other.count_ = step.count;
      other.sum_ = step.sum;
      other.sxx_ = step.sxx;
      other.modest_ = false;
      Combine(fn, other);
      return;
    }
    case AggregateKind::kMedian:
    case AggregateKind::kQuantile:
      throw Error(ErrorCategory::NotSupported, "median and quantile cannot be computed over rolled-up data",
                  "A rolled-up step keeps count, sum, extremes, moments and counter state, not its values.",
                  "Query a range newer than the metric's first downsampling tier, or use another function.");
    case AggregateKind::kIrate:
    case AggregateKind::kResets:
    case AggregateKind::kChanges:
      throw Error(ErrorCategory::NotSupported, "irate, resets and changes cannot be computed over rolled-up data",
                  "A rolled-up step keeps its first and last point and the sum of its counter resets, not its last "
                  "two points, its drops or its changes.",
                  "Query a range newer than the metric's first downsampling tier, or use rate or increase.");
    case AggregateKind::kDelta:
    case AggregateKind::kRate:
    case AggregateKind::kIncrease:
    case AggregateKind::kSampleDelta:
    case AggregateKind::kSampleRate:
    case AggregateKind::kSampleIncrease: {
      AddRun(fn, series, RunOfEnds(step.count, step.first_ts, step.last_ts, step.first, step.last, step.resets));
      count_ += step.count;
      return;
    }
    default: {
      BlockSummary summary;
      summary.count = 1;  // only tells AddSummary the step is not empty
      summary.ts_min = step.first_ts;
      summary.ts_max = step.last_ts;
      summary.min = step.min;
      summary.max = step.max;
      summary.sum = step.sum;
      summary.first = step.first;
      summary.last = step.last;
      AddSummary(fn, series, summary, rule);
      count_ += step.count - 1;
      return;
    }
  }
}

void AggregateState::Combine(const AggregateFn& fn, const AggregateState& other) {
  if (other.count_ == 0) return;
  if (count_ == 0) {
    *this = other;
    return;
  }
  switch (fn.kind) {
    case AggregateKind::kCount:
      break;
    case AggregateKind::kSum:
      sum_ = Float8Pl(sum_, other.sum_);
      break;
    case AggregateKind::kMin:
      min_ = Float8Smaller(min_, other.min_);
      break;
    case AggregateKind::kMax:
      max_ = Float8Larger(max_, other.max_);
      break;
    case AggregateKind::kAvg:
    case AggregateKind::kStddev:
    case AggregateKind::kVariance: {
      // float8_combine.
      const double n1 = static_cast<double>(count_);
      const double n2 = static_cast<double>(other.count_);
      const double n = n1 + n2;
      const double tmp = sum_ / n1 - other.sum_ / n2;
      const double sxx = sxx_ + other.sxx_ + n1 * n2 * tmp * tmp / n;
      if (std::isinf(sxx) && !std::isinf(sxx_) && !std::isinf(other.sxx_)) ThrowOverflow();
      sum_ = Float8Pl(sum_, other.sum_);
      sxx_ = sxx;
      modest_ = modest_ && other.modest_;
      break;
    }
    case AggregateKind::kFirst:
    case AggregateKind::kLast:
      if (other.first_ts_ < first_ts_) {
        first_ts_ = other.first_ts_;
        first_ = other.first_;
      }
      if (other.last_ts_ > last_ts_) {
        last_ts_ = other.last_ts_;
        last_ = other.last_;
      }
      break;
    case AggregateKind::kMedian:
    case AggregateKind::kQuantile:
      values_.insert(values_.end(), other.values_.begin(), other.values_.end());
      break;
    default: {  // the per-series functions
      series_total_ += other.series_total_;
      counted_series_ += other.counted_series_;
      if (other.run_.run.points == 0) break;
      if (run_.run.points == 0) {
        run_ = other.run_;
      } else if (run_.series == other.run_.series) {
        if (run_.run.first_ts <= other.run_.run.first_ts) {
          run_.run.Append(other.run_.run);
        } else {
          CounterRun joined = other.run_.run;
          joined.Append(run_.run);
          run_.run = joined;
        }
      } else {
        // Another series: its run is complete; keep ours open.
        const SeriesRun ours = run_;
        run_ = other.run_;
        CloseRun(fn);
        run_ = ours;
      }
      break;
    }
  }
  count_ += other.count_;
}

std::optional<double> AggregateState::Final(const AggregateFn& fn) const {
  if (count_ == 0) return std::nullopt;
  const double count = static_cast<double>(count_);
  switch (fn.kind) {
    case AggregateKind::kCount:
      return count;
    case AggregateKind::kSum:
      return sum_;
    case AggregateKind::kMin:
      return min_;
    case AggregateKind::kMax:
      return max_;
    case AggregateKind::kAvg:
      return sum_ / count;
    case AggregateKind::kFirst:
      return first_;
    case AggregateKind::kLast:
      return last_;
    case AggregateKind::kStddev:
    case AggregateKind::kVariance: {
      // float8_var_pop / float8_var_samp (and the stddev forms' sqrt).
      if (fn.sample && count_ < 2) return std::nullopt;
      const double variance = sxx_ / (fn.sample ? count - 1 : count);
      return fn.kind == AggregateKind::kStddev ? std::sqrt(variance) : variance;
    }
    case AggregateKind::kMedian:
    case AggregateKind::kQuantile: {
      // percentile_cont: rows floor(q * (n - 1)) and ceil(q * (n - 1)) of the
      // values in float8 order, interpolated as lo + frac * (hi - lo).
      const double q = fn.kind == AggregateKind::kMedian ? 0.5 : fn.quantile;
      if (!(q >= 0.0 && q <= 1.0)) {
        char text[64];
        std::snprintf(text, sizeof text, "percentile value %g is not between 0 and 1", q);
        throw Error(ErrorCategory::NumericOutOfRange, text);
      }
      if (values_.empty()) return std::nullopt;
      const double position = q * static_cast<double>(values_.size() - 1);
      const size_t first_row = static_cast<size_t>(std::floor(position));
      const size_t second_row = static_cast<size_t>(std::ceil(position));
      const auto less = [](double a, double b) { return Float8Less(a, b); };
      std::nth_element(values_.begin(), values_.begin() + first_row, values_.end(), less);
      const double first = values_[first_row];
      if (second_row == first_row) return first;
      const double second = *std::min_element(values_.begin() + first_row + 1, values_.end(), less);
      return first + (position - static_cast<double>(first_row)) * (second - first);
    }
    default: {  // the per-series functions
      double total = series_total_;
      uint64_t counted = counted_series_;
      if (const std::optional<double> value = run_.run.Value(fn.kind, window_start_, window_end_)) {
        total += *value;
        ++counted;
      }
      if (counted == 0) return std::nullopt;
      return total;
    }
  }
  return std::nullopt;
}

// --- BucketAggregator ------------------------------------------------------------

BucketAggregator::BucketAggregator(AggregateFn fn, std::optional<TimeBucketer> bucketer, Timestamp since,
                                   Timestamp until, AggregateLimits limits)
    : fn_(fn), bucketer_(std::move(bucketer)), since_(since), until_(until), limits_(std::move(limits)) {}

// Calls the progress hook every 4096 steps of a long loop.
void BucketAggregator::Progress(size_t step) const {
  if ((step & 4095) == 4095 && limits_.progress) limits_.progress();
}

// A new bucket for the current series, within the bucket limit.
AggregateState& BucketAggregator::NewBucket(Timestamp bucket) {
  if (bucket_count() >= limits_.max_buckets)
    throw Error(ErrorCategory::LimitExceeded, "too many buckets",
                "The query would hold more than " + std::to_string(limits_.max_buckets) + " buckets with points.",
                "Use a larger step or a shorter time range.");
  new_keys_.push_back(bucket);
  new_states_.emplace_back();
  SetWindow(new_states_.back(), bucket);
  return new_states_.back();
}

// The window of a bucket for the per-series functions: the bucket clipped to
// [since, until).
void BucketAggregator::SetWindow(AggregateState& state, Timestamp bucket) const {
  if (!IsPerSeries(fn_.kind)) return;
  if (!bucketer_) {
    state.SetWindow(since_, until_);
    return;
  }
  if (bucketer_->IsFunction()) {
    // A function's buckets have no known span: only the functions that do
    // not extrapolate to a window may be bucketed by one.
    if (fn_.kind == AggregateKind::kRate || fn_.kind == AggregateKind::kIncrease || fn_.kind == AggregateKind::kDelta)
      throw Error(ErrorCategory::Internal, "an extrapolating counter function cannot use a bucketing function");
    state.SetWindow(since_, until_);
    return;
  }
  const Timestamp next = bucketer_->NextBucketStart(bucket);
  state.SetWindow(std::max(bucket, since_), std::min(next, until_));
}

// Folds points into a state, counting the values exact quantiles keep
// against their memory limit.
void BucketAggregator::AddToState(AggregateState& state, const Timestamp* ts, const double* values, size_t n) {
  if (fn_.NeedsValues()) {
    values_held_ += n;
    if (values_held_ > limits_.max_value_bytes / sizeof(double))
      throw Error(ErrorCategory::LimitExceeded, "exact quantiles need more memory than work_mem allows",
                  "The query keeps more than " + std::to_string(limits_.max_value_bytes / sizeof(double)) +
                      " values of 8 bytes for " + (fn_.kind == AggregateKind::kMedian ? "median" : "quantile") +
                      ", more than work_mem (" + std::to_string(limits_.max_value_bytes / 1024) + " kB).",
                  "Raise work_mem for this query, or aggregate a shorter range, a larger step or fewer series.");
  }
  state.AddPoints(fn_, series_, ts, values, n);
}

void BucketAggregator::BeginSeries() {
  MergeNewBuckets();
  cursor_valid_ = false;
  ++series_;
}

// The state of `bucket` for the current series. Buckets of one series rise
// with time, so the cursor only moves forward; a bucket below the previous
// one (an irregular bucketer, or series fed without BeginSeries) takes the
// slower out-of-order path.
AggregateState& BucketAggregator::StateAt(Timestamp bucket) {
  if (!new_keys_.empty() && new_keys_.back() == bucket) return new_states_.back();
  if (!cursor_valid_) {
    cursor_ = static_cast<size_t>(std::lower_bound(keys_.begin(), keys_.end(), bucket) - keys_.begin());
    cursor_valid_ = true;
  } else if (bucket < last_bucket_) {
    return StateAtOutOfOrder(bucket);
  } else if (cursor_ + 8 < keys_.size() && keys_[cursor_ + 8] < bucket) {
    // A long jump: search instead of stepping.
    cursor_ = static_cast<size_t>(std::lower_bound(keys_.begin() + cursor_ + 8, keys_.end(), bucket) - keys_.begin());
  } else {
    while (cursor_ < keys_.size() && keys_[cursor_] < bucket) ++cursor_;
  }
  last_bucket_ = bucket;
  if (cursor_ < keys_.size() && keys_[cursor_] == bucket) return states_[cursor_];
  return NewBucket(bucket);
}

// StateAt for a bucket below the current series' previous one.
AggregateState& BucketAggregator::StateAtOutOfOrder(Timestamp bucket) {
  MergeNewBuckets();
  const auto it = std::lower_bound(keys_.begin(), keys_.end(), bucket);
  const size_t position = static_cast<size_t>(it - keys_.begin());
  if (it == keys_.end() || *it != bucket) {
    if (bucket_count() >= limits_.max_buckets) NewBucket(bucket);  // throws
    keys_.insert(it, bucket);
    states_.insert(states_.begin() + static_cast<std::ptrdiff_t>(position), AggregateState{});
    SetWindow(states_[position], bucket);
  }
  cursor_ = position;
  cursor_valid_ = true;
  last_bucket_ = bucket;
  return states_[position];
}

// Merges the buckets first reached by the current series into keys_/states_.
void BucketAggregator::MergeNewBuckets() {
  if (new_keys_.empty()) return;
  if (keys_.empty()) {
    keys_.swap(new_keys_);
    states_.swap(new_states_);
  } else if (new_keys_.front() > keys_.back()) {
    keys_.insert(keys_.end(), new_keys_.begin(), new_keys_.end());
    states_.insert(states_.end(), std::make_move_iterator(new_states_.begin()),
                   std::make_move_iterator(new_states_.end()));
  } else {
    std::vector<Timestamp> keys;
    std::vector<AggregateState> states;
    keys.reserve(keys_.size() + new_keys_.size());
    states.reserve(keys_.size() + new_keys_.size());
    size_t a = 0;
    size_t b = 0;
    while (a < keys_.size() || b < new_keys_.size()) {
      if (b == new_keys_.size() || (a < keys_.size() && keys_[a] < new_keys_[b])) {
        keys.push_back(keys_[a]);
        states.push_back(std::move(states_[a++]));
      } else {
        keys.push_back(new_keys_[b]);
        states.push_back(std::move(new_states_[b++]));
      }
    }
    keys_.swap(keys);
    states_.swap(states);
  }
  new_keys_.clear();
  new_states_.clear();
  cursor_valid_ = false;
}

// All buckets with points in ascending order, including the current series'
// not yet merged new ones.
std::vector<std::pair<Timestamp, const AggregateState*>> BucketAggregator::SortedBuckets() const {
  std::vector<std::pair<Timestamp, const AggregateState*>> out;
  out.reserve(keys_.size() + new_keys_.size());
  size_t a = 0;
  size_t b = 0;
  while (a < keys_.size() || b < new_keys_.size()) {
    if (b == new_keys_.size() || (a < keys_.size() && keys_[a] < new_keys_[b])) {
      out.emplace_back(keys_[a], &states_[a]);
      ++a;
    } else {
      out.emplace_back(new_keys_[b], &new_states_[b]);
      ++b;
    }
  }
  return out;
}

void BucketAggregator::AddSeriesPoints(const Timestamp* ts, const double* values, size_t n) {
  const size_t begin = static_cast<size_t>(std::lower_bound(ts, ts + n, since_) - ts);
  const size_t end = static_cast<size_t>(std::lower_bound(ts + begin, ts + n, until_) - ts);
  if (begin >= end) return;

  if (!bucketer_) {
    AddToState(StateAt(since_), ts + begin, values + begin, end - begin);
    return;
  }

  if (bucketer_->IsRegular()) {
    if (!bucketer_->IsMonthly()) {
      // Room for the buckets these points can reach, so the state vector
      // grows once per call instead of by repeated doubling; when it must
      // grow, at least double it, or one call per block would reallocate
      // (and copy) every state each time.
      const Int128 reachable = (static_cast<Int128>(ts[end - 1]) - ts[begin]) / bucketer_->PeriodMicros() + 1;
      const size_t needed = new_keys_.size() + static_cast<size_t>(std::min<Int128>(reachable, end - begin));
      if (needed > new_keys_.capacity()) {
        const size_t room = std::max(needed, 2 * new_keys_.capacity());
        new_keys_.reserve(room);
        new_states_.reserve(room);
      }
    }
    // One BucketStart and one NextBucketStart per bucket; points are only
    // compared against the boundary.
    size_t i = begin;
    while (i < end) {
      const Timestamp bucket = bucketer_->BucketStart(ts[i]);
      const Timestamp next = bucketer_->NextBucketStart(bucket);
      size_t j = i + 1;
      while (j < end && ts[j] < next) ++j;
      AddToState(StateAt(bucket), ts + i, values + i, j - i);
      i = j;
    }
    return;
  }

  // Irregular bucketing (a month offset): bucket starts need not rise with
  // ts, so compute each point's bucket and fold runs of equal buckets.
  size_t i = begin;
  while (i < end) {
    const Timestamp bucket = bucketer_->BucketStart(ts[i]);
    size_t j = i + 1;
    while (j < end && bucketer_->BucketStart(ts[j]) == bucket) ++j;
    AddToState(StateAt(bucket), ts + i, values + i, j - i);
    i = j;
  }
}

void BucketAggregator::AddCounterRun(const CounterRun& run) {
  if (run.points == 0 || run.first_ts < since_ || run.first_ts >= until_) return;
  const Timestamp bucket = bucketer_ ? bucketer_->BucketStart(run.first_ts) : since_;
  StateAt(bucket).AddCounterRun(fn_, series_, run);
}

void BucketAggregator::AddStep(const StepSummary& step, SumOverflow rule) {
  if (step.bucket < since_ || step.bucket >= until_) return;
  const Timestamp bucket = bucketer_ ? bucketer_->BucketStart(step.bucket) : since_;
  StateAt(bucket).AddStepSummary(fn_, series_, step, rule);
}

bool BucketAggregator::TakesBlockSummary(const BlockSummary& summary) const {
  if (!fn_.UsesSummaries()) return false;
  if (summary.count == 0) return true;
  if (summary.ts_min > summary.ts_max || summary.ts_min < since_ || summary.ts_max >= until_) return false;
  if (!bucketer_) return true;
  if (!bucketer_->IsRegular()) return false;
  return summary.ts_max < bucketer_->NextBucketStart(bucketer_->BucketStart(summary.ts_min));
}

bool BucketAggregator::TryAddBlockSummary(const BlockSummary& summary, SumOverflow rule) {
  if (!TakesBlockSummary(summary)) return false;
  if (summary.count == 0) return true;
  StateAt(bucketer_ ? bucketer_->BucketStart(summary.ts_min) : since_).AddSummary(fn_, series_, summary, rule);
  return true;
}

Timestamp BucketAggregator::WidestSummary() const {
  if (!fn_.UsesSummaries()) return 0;
  if (!bucketer_) return kTimestampInfinity;
  if (!bucketer_->IsRegular()) return 0;
  // Month buckets hold 28 days or more, longer than any segment.
  return bucketer_->IsMonthly() ? kTimestampInfinity : bucketer_->PeriodMicros();
}

// Every bucket start from BucketStart(since) below until, for the fills.
std::vector<Timestamp> BucketAggregator::AllBucketStarts(Timestamp since, Timestamp until) const {
  if (!bucketer_) return {since};
  const auto too_many = [] {
    return Error(ErrorCategory::LimitExceeded, "too many buckets to fill",
                 "A fill other than none would produce more than " + std::to_string(kMaxFilledBuckets) +
                     " buckets between since and until.",
                 "Use a larger step, a shorter time range or fill 'none'.");
  };
  const Timestamp first = bucketer_->BucketStart(since);
  std::vector<Timestamp> starts;
  if (first >= until) return starts;
  if (bucketer_->IsRegular() && !bucketer_->IsMonthly()) {
    const Int128 count = (static_cast<Int128>(until) - 1 - first) / bucketer_->PeriodMicros() + 1;
    if (count > static_cast<Int128>(kMaxFilledBuckets)) throw too_many();
    starts.reserve(static_cast<size_t>(count));
  }
  for (Timestamp start = first; start < until;) {
    if (starts.size() >= kMaxFilledBuckets) throw too_many();
    Progress(starts.size());
    starts.push_back(start);
    const Timestamp next = bucketer_->NextBucketStart(start);
    if (next <= start) break;
    start = next;
  }
  return starts;
}

std::vector<BucketValue> BucketAggregator::Finish(const Fill& fill) const { return Finish(fill, since_, until_); }

std::vector<BucketValue> BucketAggregator::Finish(const Fill& fill, Timestamp grid_since, Timestamp grid_until) const {
  std::vector<BucketValue> out;
  const std::vector<std::pair<Timestamp, const AggregateState*>> buckets = SortedBuckets();
  if (fill.mode == FillMode::kNone) {
    out.reserve(buckets.size());
    for (const auto& [bucket, state] : buckets) {
      Progress(out.size());
      const std::optional<double> value = state->Final(fn_);
      out.push_back(BucketValue{bucket, value.value_or(0.0), !value.has_value()});
    }
    return out;
  }

  const auto infinite = [](Timestamp ts) { return ts == kTimestampMinusInfinity || ts == kTimestampInfinity; };
  if (infinite(grid_since) || infinite(grid_until))
    throw Error(ErrorCategory::InvalidParameter, "fill needs a finite time range",
                "since and until must be finite unless fill is 'none'.");
  if (grid_since >= grid_until) return out;

  // Merge the bucket grid with the buckets that hold points (for regular
  // bucketing the latter are a subset of the former).
  const std::vector<Timestamp> starts = AllBucketStarts(grid_since, grid_until);
  std::vector<bool> has_points;
  out.reserve(starts.size());
  has_points.reserve(starts.size());
  auto data = buckets.begin();
  size_t s = 0;
  while (s < starts.size() || data != buckets.end()) {
    Progress(out.size());
    if (data != buckets.end() && (s == starts.size() || data->first <= starts[s])) {
      if (s < starts.size() && starts[s] == data->first) ++s;
      const std::optional<double> value = data->second->Final(fn_);
      out.push_back(BucketValue{data->first, value.value_or(0.0), !value.has_value()});
      has_points.push_back(true);
      ++data;
    } else {
      out.push_back(BucketValue{starts[s], 0.0, true});
      has_points.push_back(false);
      ++s;
    }
  }

  switch (fill.mode) {
    case FillMode::kNone:
    case FillMode::kNull:
      break;
    case FillMode::kValue:
      for (size_t i = 0; i < out.size(); ++i) {
        if (!has_points[i]) out[i] = BucketValue{out[i].bucket, fill.value, false};
      }
      break;
    case FillMode::kPrevious: {
      std::optional<double> previous;
      for (size_t i = 0; i < out.size(); ++i) {
        if (has_points[i]) {
          if (!out[i].is_null) previous = out[i].value;
        } else if (previous) {
          out[i].value = *previous;
          out[i].is_null = false;
        }
      }
      break;
    }
    case FillMode::kLinear: {
      // Anchors are buckets with points and a non-NULL value.
      const size_t kNoAnchor = out.size();
      std::vector<size_t> next_anchor(out.size(), kNoAnchor);
      for (size_t i = out.size(), anchor = kNoAnchor; i-- > 0;) {
        next_anchor[i] = anchor;
        if (has_points[i] && !out[i].is_null) anchor = i;
      }
      size_t previous = kNoAnchor;
      for (size_t i = 0; i < out.size(); ++i) {
        if (has_points[i]) {
          if (!out[i].is_null) previous = i;
          continue;
        }
        const size_t next = next_anchor[i];
        if (previous == kNoAnchor || next == kNoAnchor) continue;
        const double v0 = out[previous].value;
        const double v1 = out[next].value;
        const double dt = static_cast<double>(out[i].bucket - out[previous].bucket);
        const double span = static_cast<double>(out[next].bucket - out[previous].bucket);
        out[i].value = v0 + (v1 - v0) * dt / span;
        out[i].is_null = false;
      }
      break;
    }
  }
  return out;
}

}  // namespace aegis::core
