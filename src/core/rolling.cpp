// Rolling windows: a sliding aggregate of partial states for the functions
// with a combine, an order-statistic tree for median/quantile.
#include "rolling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "error.h"
#include "float8.h"

namespace aegis::core {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A sliding aggregate over a queue (the "two stacks" technique): the newer
// stack keeps the running state of its elements, the older stack keeps for
// each element the state of it and everything newer in that stack. Push and
// Pop cost O(1) combines amortized; no state is ever "subtracted".
// Combine(earlier, later) must be associative on the states it sees.
template <typename State, typename CombineFn>
class SlidingAggregate {
 public:
  explicit SlidingAggregate(CombineFn combine) : combine_(combine) {}

  void Push(const State& state) {
    back_agg_ = back_.empty() ? state : combine_(back_agg_, state);
    back_.push_back(state);
  }

  void Pop() {
    if (older_.empty()) {
      // Move the newer stack over, newest first, as suffix states.
      for (size_t i = back_.size(); i-- > 0;) {
        older_.push_back(older_.empty() ? back_[i] : combine_(back_[i], older_.back()));
      }
      back_.clear();
    }
    older_.pop_back();
  }

  // The state of every element in the queue (which must not be empty).
  State Query() const {
    if (older_.empty()) return back_agg_;
    if (back_.empty()) return older_.back();
    return combine_(older_.back(), back_agg_);
  }

 private:
  CombineFn combine_;
  std::vector<State> older_;  // older_.back() covers the oldest element onwards
  std::vector<State> back_;
  State back_agg_{};
};

// float8_accum's (N, Sx, Sxx), merged as float8_combine does.
struct Moments {
  double n = 0;
  double sx = 0;
  double sxx = 0;
};

Moments MomentsOf(double value) {
  // A lone Inf or NaN makes Sxx NaN, as the aggregate's state does.
  return Moments{1, value, std::isfinite(value) ? 0.0 : kNaN};
}

// float8_combine without its overflow checks: the sliding aggregate combines
// partial states in an order no window's own sum takes, so an intermediate
// overflow proves nothing; a non-finite result is checked against the
// window's points instead (ExactWhereInfinite).
Moments CombineMoments(const Moments& a, const Moments& b) {
  const double n = a.n + b.n;
  const double tmp = a.sx / a.n - b.sx / b.n;
  return Moments{n, a.sx + b.sx, a.sxx + b.sxx + a.n * b.n * tmp * tmp / n};
}

double AddPlain(double a, double b) { return a + b; }

// A Fenwick tree of counts over value ranks: insert, remove and the k-th
// smallest in O(log n).
class OrderStatistics {
 public:
  explicit OrderStatistics(size_t size) : tree_(size + 1, 0) {
    top_ = 1;
    while (top_ * 2 <= size) top_ *= 2;
  }
  void Add(size_t rank, int delta) {
    for (size_t i = rank + 1; i < tree_.size(); i += i & (~i + 1)) tree_[i] += delta;
  }
  // The rank of the k-th smallest element (k from 0).
  size_t Kth(size_t k) const {
    size_t position = 0;
    for (size_t step = top_; step > 0; step /= 2) {
      const size_t next = position + step;
      if (next < tree_.size() && static_cast<size_t>(tree_[next]) <= k) {
        position = next;
        k -= static_cast<size_t>(tree_[next]);
      }
    }
    return position;  // 1-based position + 1 of the answer, minus one
  }

 private:
  std::vector<int64_t> tree_;
  size_t top_;
};

// Calls progress every 4096 points.
void Progress(const std::function<void()>& progress, size_t i) {
  if ((i & 4095) == 4095 && progress) progress();
}

// The oldest point of the window that ends at point i: the first j with
// ts[j] > ts[i] - width, found by moving *lo forward.
size_t AdvanceLow(const Timestamp* ts, size_t i, int64_t width, size_t lo) {
  const __int128 start = static_cast<__int128>(ts[i]) - width;
  while (lo < i && ts[lo] <= start) ++lo;
  return lo;
}

// Where a window ending at ts starts, for the extrapolation; -infinity when
// ts - width lies before PostgreSQL's timestamps.
Timestamp WindowStart(Timestamp ts, int64_t width) {
  const __int128 start = static_cast<__int128>(ts) - width;
  if (start < kTimestampMinValid) return kTimestampMinusInfinity;
  return static_cast<Timestamp>(start);
}

// Runs a sliding aggregate over states made one per point, and maps the
// window's state to the value.
template <typename State, typename MakeFn, typename CombineFn, typename ValueFn>
std::vector<std::optional<double>> Slide(const Timestamp* ts, size_t n, size_t begin, int64_t width, MakeFn make,
                                         CombineFn combine, ValueFn value,
                                         const std::function<void()>& progress) {
  std::vector<std::optional<double>> out;
  out.reserve(n - begin);
  SlidingAggregate<State, CombineFn> window(combine);
  size_t lo = 0;
  for (size_t i = 0; i < n; ++i) {
    Progress(progress, i);
    window.Push(make(i));
    const size_t new_lo = AdvanceLow(ts, i, width, lo);
    for (; lo < new_lo; ++lo) window.Pop();
    if (i >= begin) out.push_back(value(window.Query(), lo, i));
  }
  return out;
}

std::vector<std::optional<double>> RollingQuantile(double q, const Timestamp* ts, const double* values, size_t n,
                                                   size_t begin, int64_t width,
                                                   const std::function<void()>& progress) {
  // Ranks in float8 order (NaN last); equal values get distinct ranks.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return Float8Less(values[a], values[b]); });
  std::vector<size_t> rank(n);
  for (size_t r = 0; r < n; ++r) rank[order[r]] = r;
  OrderStatistics tree(n);
  std::vector<std::optional<double>> out;
  out.reserve(n - begin);
  size_t lo = 0;
  for (size_t i = 0; i < n; ++i) {
    Progress(progress, i);
    tree.Add(rank[i], 1);
    const size_t new_lo = AdvanceLow(ts, i, width, lo);
    for (; lo < new_lo; ++lo) tree.Add(rank[lo], -1);
    if (i < begin) continue;
    // percentile_cont: rows floor(q * (m - 1)) and ceil(q * (m - 1)).
    const size_t m = i - lo + 1;
    const double position = q * static_cast<double>(m - 1);
    const size_t first_row = static_cast<size_t>(std::floor(position));
    const size_t second_row = static_cast<size_t>(std::ceil(position));
    const double first = values[order[tree.Kth(first_row)]];
    if (second_row == first_row) {
      out.push_back(first);
    } else {
      const double second = values[order[tree.Kth(second_row)]];
      out.push_back(first + (position - static_cast<double>(first_row)) * (second - first));
    }
  }
  return out;
}

// Where a sum or moment of finite values came out infinite or NaN, the
// window is aggregated again point by point as aegis.aggregate (and
// PostgreSQL) would: a finite result, or the overflow error they raise.
class ExactWhereInfinite {
 public:
  ExactWhereInfinite(const AggregateFn& fn, const Timestamp* ts, const double* values, size_t n)
      : fn_(fn), ts_(ts), values_(values), nonfinite_before_(n + 1, 0) {
    for (size_t i = 0; i < n; ++i) nonfinite_before_[i + 1] = nonfinite_before_[i] + !std::isfinite(values[i]);
  }
  std::optional<double> operator()(double value, size_t lo, size_t i) const {
    if (std::isfinite(value) || nonfinite_before_[i + 1] != nonfinite_before_[lo]) return value;
    AggregateState state;
    state.AddPoints(fn_, 1, ts_ + lo, values_ + lo, i - lo + 1);
    return state.Final(fn_);
  }

 private:
  AggregateFn fn_;
  const Timestamp* ts_;
  const double* values_;
  std::vector<size_t> nonfinite_before_;
};

}  // namespace

std::vector<std::optional<double>> RollingWindow(const AggregateFn& fn, int64_t width, const Timestamp* ts,
                                                 const double* values, size_t n, size_t begin,
                                                 const std::function<void()>& progress) {
  if (width <= 0) throw Error(ErrorCategory::InvalidParameter, "rolling window width must be positive");
  if (begin >= n) return {};
  std::vector<std::optional<double>> out;
  switch (fn.kind) {
    case AggregateKind::kCount:
    case AggregateKind::kFirst:
    case AggregateKind::kLast: {
      out.reserve(n - begin);
      size_t lo = 0;
      for (size_t i = 0; i < n; ++i) {
        lo = AdvanceLow(ts, i, width, lo);
        if (i < begin) continue;
        if (fn.kind == AggregateKind::kCount) out.push_back(static_cast<double>(i - lo + 1));
        else out.push_back(fn.kind == AggregateKind::kFirst ? values[lo] : values[i]);
      }
      return out;
    }
    case AggregateKind::kSum: {
      const ExactWhereInfinite exact(fn, ts, values, n);
      return Slide<double>(
          ts, n, begin, width, [&](size_t i) { return values[i]; }, AddPlain,
          [&](double sum, size_t lo, size_t i) { return exact(sum, lo, i); }, progress);
    }
    case AggregateKind::kMin:
    case AggregateKind::kMax: {
      const bool is_min = fn.kind == AggregateKind::kMin;
      return Slide<double>(
          ts, n, begin, width, [&](size_t i) { return values[i]; },
          [is_min](double a, double b) { return is_min ? Float8Smaller(a, b) : Float8Larger(a, b); },
          [](double v, size_t, size_t) { return std::optional<double>(v); }, progress);
    }
    case AggregateKind::kAvg:
    case AggregateKind::kStddev:
    case AggregateKind::kVariance: {
      const AggregateKind kind = fn.kind;
      const ExactWhereInfinite exact(fn, ts, values, n);
      return Slide<Moments>(
          ts, n, begin, width, [&](size_t i) { return MomentsOf(values[i]); }, CombineMoments,
          [&, kind](const Moments& m, size_t lo, size_t i) -> std::optional<double> {
            const double variance = m.sxx / m.n;
            const double value = kind == AggregateKind::kAvg        ? m.sx / m.n
                                 : kind == AggregateKind::kVariance ? variance
                                                                    : std::sqrt(variance);
            // Sx or Sxx overflowed somewhere: decide as the aggregate does.
            if (!std::isfinite(m.sx) || !std::isfinite(m.sxx)) return exact(value, lo, i);
            return value;
          },
          progress);
    }
    case AggregateKind::kMedian:
      return RollingQuantile(0.5, ts, values, n, begin, width, progress);
    case AggregateKind::kQuantile:
      return RollingQuantile(fn.quantile, ts, values, n, begin, width, progress);
    default: {  // the per-series functions, evaluated at each point's time
      const AggregateKind kind = fn.kind;
      return Slide<CounterRun>(
          ts, n, begin, width,
          [&](size_t i) {
            CounterRun run;
            run.Add(ts + i, values + i, 1);
            return run;
          },
          [](const CounterRun& earlier, const CounterRun& later) {
            CounterRun joined = earlier;
            joined.Append(later);
            return joined;
          },
          [&, kind](const CounterRun& run, size_t, size_t i) {
            return run.Value(kind, WindowStart(ts[i], width), ts[i]);
          },
          progress);
    }
  }
}

}  // namespace aegis::core
