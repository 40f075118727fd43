// Tests of the aggregation kernels: every function against a naive reference
// over random data, the summary path against the point path, PostgreSQL's
// float8 rules (NaN order, ties, overflow), percentile_cont interpolation,
// counter resets, fills and the parsers.
#include "core/aggregate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/bucket_parts.h"
#include "core/error.h"
#include "core/rollup.h"
#include "core/time_bucket.h"

namespace aegis::core {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int64_t kSecond = kMicrosPerSecond;
constexpr int64_t kHour = 3600 * kSecond;

AggregateFn Fn(AggregateKind kind, double q = 0.5) { return AggregateFn{kind, q}; }

// Expects `fn` to throw an Error of `category` whose message is `message`.
template <typename F>
void ExpectError(F fn, ErrorCategory category, const std::string& message) {
  try {
    fn();
    ADD_FAILURE() << "expected an error: " << message;
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), category) << e.what();
    EXPECT_EQ(std::string(e.what()), message);
  }
}

// Final value of one state fed with one series' points.
std::optional<double> Aggregate(const AggregateFn& fn, const std::vector<Timestamp>& ts,
                                const std::vector<double>& values) {
  AggregateState state;
  state.AddPoints(fn, 1, ts.data(), values.data(), ts.size());
  return state.Final(fn);
}

// Timestamps 0, 1 s, 2 s, ... for n values.
std::vector<Timestamp> Seconds(size_t n) {
  std::vector<Timestamp> ts(n);
  for (size_t i = 0; i < n; ++i) ts[i] = static_cast<Timestamp>(i) * kSecond;
  return ts;
}

// One point of the naive reference, in the order the aggregator sees it.
struct RefPoint {
  int series;
  Timestamp ts;
  double value;
};

// PromQL's extrapolatedRate as written in Prometheus 2.42
// (promql/functions.go), on one series' points of the window [start, end).
double PromExtrapolatedRate(const std::vector<RefPoint>& samples, Timestamp start, Timestamp end, bool is_counter,
                            bool is_rate) {
  double result = samples.back().value - samples.front().value;
  if (is_counter) {
    double last_value = 0;
    for (const RefPoint& sample : samples) {
      if (sample.value < last_value) result += last_value;
      last_value = sample.value;
    }
  }
  const bool infinite = start == kTimestampMinusInfinity || end == kTimestampInfinity;
  double duration_to_start = start == kTimestampMinusInfinity ? kInf
                                                              : static_cast<double>(samples.front().ts - start) / 1e6;
  const double duration_to_end = end == kTimestampInfinity ? kInf : static_cast<double>(end - samples.back().ts) / 1e6;
  const double sampled_interval = static_cast<double>(samples.back().ts - samples.front().ts) / 1e6;
  const double average_duration = sampled_interval / static_cast<double>(samples.size() - 1);
  if (is_counter && result > 0 && samples.front().value >= 0) {
    const double duration_to_zero = sampled_interval * (samples.front().value / result);
    if (duration_to_zero < duration_to_start) duration_to_start = duration_to_zero;
  }
  const double threshold = average_duration * 1.1;
  double extrapolate_to = sampled_interval;
  extrapolate_to += duration_to_start < threshold ? duration_to_start : average_duration / 2;
  extrapolate_to += duration_to_end < threshold ? duration_to_end : average_duration / 2;
  result = result * (extrapolate_to / sampled_interval);
  if (is_rate) result = infinite ? kNaN : result / (static_cast<double>(end - start) / 1e6);
  return result;
}

// The per-series functions, summed over the series: written out the naive
// way, one series at a time.
std::optional<double> PerSeriesReference(const AggregateFn& fn, const std::vector<RefPoint>& points,
                                         Timestamp window_start, Timestamp window_end) {
  std::map<int, std::vector<RefPoint>> by_series;
  for (const RefPoint& p : points) by_series[p.series].push_back(p);
  double total = 0;
  int counted = 0;
  for (auto& entry : by_series) {
    std::vector<RefPoint>& run = entry.second;
    std::sort(run.begin(), run.end(), [](const RefPoint& a, const RefPoint& b) { return a.ts < b.ts; });
    if (fn.kind == AggregateKind::kResets || fn.kind == AggregateKind::kChanges) {
      int count = 0;
      for (size_t i = 1; i < run.size(); ++i) {
        const double a = run[i - 1].value, b = run[i].value;
        if (fn.kind == AggregateKind::kResets ? b < a : (b != a && !(std::isnan(a) && std::isnan(b)))) ++count;
      }
      total += count;
      ++counted;
      continue;
    }
    if (run.size() < 2) continue;
    double increase = 0;  // the sample forms: the rise, or the new value after a reset, per step
    for (size_t i = 1; i < run.size(); ++i) {
      increase += run[i].value >= run[i - 1].value ? run[i].value - run[i - 1].value : run[i].value;
    }
    const double span = static_cast<double>(run.back().ts - run.front().ts) / kSecond;
    const RefPoint& last = run.back();
    const RefPoint& before = run[run.size() - 2];
    double value = 0;
    switch (fn.kind) {
      case AggregateKind::kSampleIncrease: value = increase; break;
      case AggregateKind::kSampleRate: value = increase / span; break;
      case AggregateKind::kSampleDelta: value = last.value - run.front().value; break;
      case AggregateKind::kIrate:
        value = (last.value < before.value ? last.value : last.value - before.value) /
                (static_cast<double>(last.ts - before.ts) / kSecond);
        break;
      case AggregateKind::kIncrease: value = PromExtrapolatedRate(run, window_start, window_end, true, false); break;
      case AggregateKind::kRate: value = PromExtrapolatedRate(run, window_start, window_end, true, true); break;
      case AggregateKind::kDelta: value = PromExtrapolatedRate(run, window_start, window_end, false, false); break;
      default: ADD_FAILURE() << "not a per-series function";
    }
    if (std::isnan(value) && fn.kind == AggregateKind::kRate) continue;  // infinite window
    total += value;
    ++counted;
  }
  if (counted == 0) return std::nullopt;
  return total;
}

// The expected value of fn over one bucket's points, computed the obvious way.
std::optional<double> Reference(const AggregateFn& fn, const std::vector<RefPoint>& points,
                                Timestamp window_start = kTimestampMinusInfinity,
                                Timestamp window_end = kTimestampInfinity) {
  if (points.empty()) return std::nullopt;
  const double n = static_cast<double>(points.size());
  switch (fn.kind) {
    case AggregateKind::kCount:
      return n;
    case AggregateKind::kSum: {
      double sum = points[0].value;
      for (size_t i = 1; i < points.size(); ++i) sum += points[i].value;
      return sum;
    }
    case AggregateKind::kMin:
    case AggregateKind::kMax: {
      double best = points[0].value;
      for (const RefPoint& p : points) {
        best = fn.kind == AggregateKind::kMin ? std::min(best, p.value) : std::max(best, p.value);
      }
      return best;
    }
    case AggregateKind::kAvg: {
      double sum = 0;
      for (const RefPoint& p : points) sum += p.value;
      return sum / n;
    }
    case AggregateKind::kStddev:
    case AggregateKind::kVariance: {
      double mean = 0;
      for (const RefPoint& p : points) mean += p.value;
      mean /= n;
      double squares = 0;
      for (const RefPoint& p : points) squares += (p.value - mean) * (p.value - mean);
      const double variance = squares / n;
      return fn.kind == AggregateKind::kVariance ? variance : std::sqrt(variance);
    }
    case AggregateKind::kFirst:
    case AggregateKind::kLast: {
      RefPoint first = points[0];
      RefPoint last = points[0];
      for (const RefPoint& p : points) {
        if (p.ts < first.ts) first = p;
        if (p.ts > last.ts) last = p;
      }
      return fn.kind == AggregateKind::kFirst ? first.value : last.value;
    }
    case AggregateKind::kMedian:
    case AggregateKind::kQuantile: {
      std::vector<double> sorted;
      for (const RefPoint& p : points) sorted.push_back(p.value);
      std::sort(sorted.begin(), sorted.end());
      const double q = fn.kind == AggregateKind::kMedian ? 0.5 : fn.quantile;
      const double position = q * (n - 1);
      const size_t lo = static_cast<size_t>(std::floor(position));
      const size_t hi = static_cast<size_t>(std::ceil(position));
      return sorted[lo] + (position - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
    }
    default:
      return PerSeriesReference(fn, points, window_start, window_end);
  }
  return std::nullopt;
}

// Random series: strictly ascending timestamps with irregular gaps and
// counter-like values (rising, with occasional resets).
struct Series {
  std::vector<Timestamp> ts;
  std::vector<double> values;
};

std::vector<Series> RandomSeries(std::mt19937_64& rng, int series_count, Timestamp start, int64_t max_gap,
                                 bool integer_values) {
  std::vector<Series> all(series_count);
  std::uniform_int_distribution<int64_t> gap(1, max_gap);
  std::uniform_int_distribution<int> length(0, 400);
  std::uniform_real_distribution<double> step(0.0, 10.0);
  std::uniform_int_distribution<int> reset(0, 30);
  for (Series& s : all) {
    const int n = length(rng);
    Timestamp t = start + gap(rng);
    double value = integer_values ? static_cast<double>(reset(rng)) : step(rng) * 100 - 300;
    for (int i = 0; i < n; ++i) {
      s.ts.push_back(t);
      s.values.push_back(value);
      t += gap(rng);
      if (reset(rng) == 0) {
        value = integer_values ? static_cast<double>(reset(rng)) : step(rng);
      } else {
        value += integer_values ? std::floor(step(rng)) : step(rng);
      }
    }
  }
  return all;
}

// Feeds series to an aggregator in random-sized slices per series.
void Feed(BucketAggregator& aggregator, const std::vector<Series>& all, std::mt19937_64& rng) {
  std::uniform_int_distribution<size_t> slice(1, 60);
  for (const Series& s : all) {
    aggregator.BeginSeries();
    for (size_t i = 0; i < s.ts.size();) {
      const size_t n = std::min(slice(rng), s.ts.size() - i);
      aggregator.AddSeriesPoints(s.ts.data() + i, s.values.data() + i, n);
      i += n;
    }
  }
}

// Expected rows (fill none) for all series: bucket -> points in feed order.
std::map<Timestamp, std::vector<RefPoint>> ReferenceBuckets(const std::vector<Series>& all,
                                                            const std::optional<TimeBucketer>& bucketer,
                                                            Timestamp since, Timestamp until) {
  std::map<Timestamp, std::vector<RefPoint>> buckets;
  for (size_t s = 0; s < all.size(); ++s) {
    for (size_t i = 0; i < all[s].ts.size(); ++i) {
      const Timestamp ts = all[s].ts[i];
      if (ts < since || ts >= until) continue;
      const Timestamp bucket = bucketer ? bucketer->BucketStart(ts) : since;
      buckets[bucket].push_back(RefPoint{static_cast<int>(s), ts, all[s].values[i]});
    }
  }
  return buckets;
}

// Compares a computed value with the reference: exact where the engine adds
// in the same order, relative tolerance where the formulas differ.
void ExpectMatches(const AggregateFn& fn, double actual, double expected, Timestamp bucket) {
  switch (fn.kind) {
    case AggregateKind::kStddev:
    case AggregateKind::kVariance:
    case AggregateKind::kRate:
    case AggregateKind::kIncrease:
    case AggregateKind::kDelta:
    case AggregateKind::kSampleRate:
    case AggregateKind::kSampleIncrease:
    case AggregateKind::kIrate:
      EXPECT_NEAR(actual, expected, 1e-9 * std::max(1.0, std::fabs(expected))) << "bucket " << bucket;
      break;
    case AggregateKind::kAvg:
    case AggregateKind::kMedian:
    case AggregateKind::kQuantile:
      EXPECT_DOUBLE_EQ(actual, expected) << "bucket " << bucket;
      break;
    default:
      EXPECT_EQ(actual, expected) << "bucket " << bucket;
  }
}

const AggregateFn kAllFns[] = {
    Fn(AggregateKind::kCount),  Fn(AggregateKind::kSum),          Fn(AggregateKind::kMin),
    Fn(AggregateKind::kMax),    Fn(AggregateKind::kAvg),          Fn(AggregateKind::kFirst),
    Fn(AggregateKind::kLast),   Fn(AggregateKind::kMedian),       Fn(AggregateKind::kQuantile, 0.9),
    Fn(AggregateKind::kQuantile, 0.0), Fn(AggregateKind::kQuantile, 1.0), Fn(AggregateKind::kStddev),
    Fn(AggregateKind::kVariance), Fn(AggregateKind::kDelta),      Fn(AggregateKind::kRate),
    Fn(AggregateKind::kIncrease), Fn(AggregateKind::kSampleDelta), Fn(AggregateKind::kSampleRate),
    Fn(AggregateKind::kSampleIncrease), Fn(AggregateKind::kIrate), Fn(AggregateKind::kResets),
    Fn(AggregateKind::kChanges),
};

// The window the aggregator gives a bucket: the bucket clipped to [since, until).
std::pair<Timestamp, Timestamp> BucketWindow(const std::optional<TimeBucketer>& bucketer, Timestamp bucket,
                                             Timestamp since, Timestamp until) {
  if (!bucketer) return {since, until};
  return {std::max(bucket, since), std::min(bucketer->NextBucketStart(bucket), until)};
}

// --- Random data against the naive reference -----------------------------------

TEST(AggregateTest, EveryFunctionMatchesReferenceOverRandomFixedWidths) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> width_seconds(1, 3 * 3600);
  for (int round = 0; round < 40; ++round) {
    // 1945 .. 2055: before 1970, around 2000 and after.
    const Timestamp start = (static_cast<int64_t>(rng() % 40000) - 20000) * 24 * kHour;
    const std::vector<Series> all = RandomSeries(rng, 3, start, 90 * kSecond, false);
    const Interval width{0, 0, width_seconds(rng) * kSecond + static_cast<int64_t>(rng() % 1000)};
    const std::optional<Timestamp> origin =
        round % 3 == 0 ? std::optional<Timestamp>(start + static_cast<int64_t>(rng() % kHour)) : std::nullopt;
    const TimeBucketer bucketer(width, origin);
    const Timestamp since = start + static_cast<int64_t>(rng() % (2 * kHour));
    const Timestamp until = since + static_cast<int64_t>(rng() % (20 * kHour)) + 1;
    for (const AggregateFn& fn : kAllFns) {
      BucketAggregator aggregator(fn, bucketer, since, until);
      Feed(aggregator, all, rng);
      const std::vector<BucketValue> rows = aggregator.Finish(Fill{});
      const auto expected = ReferenceBuckets(all, bucketer, since, until);
      ASSERT_EQ(rows.size(), expected.size());
      size_t i = 0;
      for (const auto& [bucket, points] : expected) {
        ASSERT_EQ(rows[i].bucket, bucket);
        const auto [start, end] = BucketWindow(bucketer, bucket, since, until);
        const std::optional<double> want = Reference(fn, points, start, end);
        ASSERT_EQ(rows[i].is_null, !want.has_value()) << "bucket " << bucket;
        if (want) ExpectMatches(fn, rows[i].value, *want, bucket);
        ++i;
      }
    }
  }
}

TEST(AggregateTest, EveryFunctionMatchesReferenceOverMonthWidthsAndOneBucket) {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 12; ++round) {
    const Timestamp start = (static_cast<int64_t>(rng() % 400) - 200) * 24 * kHour;
    const std::vector<Series> all = RandomSeries(rng, 4, start, 6 * kHour, false);
    std::optional<TimeBucketer> bucketer;
    if (round % 3 != 2) bucketer.emplace(Interval{1 + static_cast<int32_t>(rng() % 3), 0, 0});
    const Timestamp since = start;
    const Timestamp until = start + 200 * 24 * kHour;
    for (const AggregateFn& fn : kAllFns) {
      BucketAggregator aggregator(fn, bucketer, since, until);
      Feed(aggregator, all, rng);
      const std::vector<BucketValue> rows = aggregator.Finish(Fill{});
      const auto expected = ReferenceBuckets(all, bucketer, since, until);
      ASSERT_EQ(rows.size(), expected.size());
      size_t i = 0;
      for (const auto& [bucket, points] : expected) {
        ASSERT_EQ(rows[i].bucket, bucket);
        const auto [start, end] = BucketWindow(bucketer, bucket, since, until);
        const std::optional<double> want = Reference(fn, points, start, end);
        ASSERT_EQ(rows[i].is_null, !want.has_value());
        if (want) ExpectMatches(fn, rows[i].value, *want, bucket);
        ++i;
      }
    }
  }
}

TEST(AggregateTest, IrregularBucketingFallsBackToPerPointBuckets) {
  // One-day buckets shifted by a month (TimescaleDB allows it; bucket starts
  // do not rise monotonically with ts at month ends).
  std::mt19937_64 rng(5);
  const std::vector<Series> all = RandomSeries(rng, 2, 0, 3 * kHour, true);
  const TimeBucketer bucketer(Interval{0, 1, 0}, std::nullopt, Interval{1, 0, 0});
  ASSERT_FALSE(bucketer.IsRegular());
  BucketAggregator aggregator(Fn(AggregateKind::kSum), bucketer, 0, 400 * 24 * kHour);
  Feed(aggregator, all, rng);
  const auto expected = ReferenceBuckets(all, bucketer, 0, 400 * 24 * kHour);
  const std::vector<BucketValue> rows = aggregator.Finish(Fill{});
  ASSERT_EQ(rows.size(), expected.size());
  size_t i = 0;
  for (const auto& [bucket, points] : expected) {
    EXPECT_EQ(rows[i].bucket, bucket);
    double sum = 0;
    for (const RefPoint& p : points) sum += p.value;
    EXPECT_EQ(rows[i].value, sum);  // small integers: order does not matter
    ++i;
  }
}

// --- Summaries ---------------------------------------------------------------

// A block summary as the block writer computes it.
BlockSummary Summarize(const Timestamp* ts, const double* values, size_t n) {
  BlockSummary s;
  s.count = static_cast<uint32_t>(n);
  s.ts_min = ts[0];
  s.ts_max = ts[n - 1];
  s.min = s.max = s.sum = values[0];
  for (size_t i = 1; i < n; ++i) {
    if (Float8Less(values[i], s.min)) s.min = values[i];
    if (Float8Less(s.max, values[i])) s.max = values[i];
    s.sum += values[i];
  }
  s.first = values[0];
  s.last = values[n - 1];
  return s;
}

TEST(AggregateTest, SummaryPathEqualsPointPath) {
  std::mt19937_64 rng(3);
  const AggregateFn fns[] = {Fn(AggregateKind::kCount), Fn(AggregateKind::kSum),   Fn(AggregateKind::kMin),
                             Fn(AggregateKind::kMax),   Fn(AggregateKind::kAvg),   Fn(AggregateKind::kFirst),
                             Fn(AggregateKind::kLast),  Fn(AggregateKind::kDelta),
                             Fn(AggregateKind::kSampleDelta)};
  size_t summaries_used = 0;
  size_t summaries_refused = 0;
  for (int round = 0; round < 20; ++round) {
    // Integer values keep float sums exact whatever the grouping.
    const std::vector<Series> all = RandomSeries(rng, 3, 0, 20 * kSecond, true);
    const std::optional<TimeBucketer> bucketer =
        round % 4 == 3 ? std::nullopt : std::optional<TimeBucketer>(TimeBucketer(Interval{0, 0, kHour}));
    const Timestamp since = static_cast<Timestamp>(rng() % kHour);
    const Timestamp until = since + 2 * kHour + static_cast<Timestamp>(rng() % (3 * kHour));
    for (const AggregateFn& fn : fns) {
      ASSERT_TRUE(fn.UsesSummaries());
      BucketAggregator by_points(fn, bucketer, since, until);
      BucketAggregator by_blocks(fn, bucketer, since, until);
      std::uniform_int_distribution<size_t> block_size(1, 40);
      for (const Series& s : all) {
        by_points.BeginSeries();
        by_blocks.BeginSeries();
        by_points.AddSeriesPoints(s.ts.data(), s.values.data(), s.ts.size());
        for (size_t i = 0; i < s.ts.size();) {
          const size_t n = std::min(block_size(rng), s.ts.size() - i);
          const BlockSummary summary = Summarize(s.ts.data() + i, s.values.data() + i, n);
          const bool takes = by_blocks.TakesBlockSummary(summary);
          ASSERT_EQ(takes, by_blocks.TryAddBlockSummary(summary)) << "TakesBlockSummary must predict TryAddBlockSummary";
          if (takes) {
            ++summaries_used;
          } else {
            ++summaries_refused;
            by_blocks.AddSeriesPoints(s.ts.data() + i, s.values.data() + i, n);
          }
          i += n;
        }
      }
      const std::vector<BucketValue> a = by_points.Finish(Fill{});
      const std::vector<BucketValue> b = by_blocks.Finish(Fill{});
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].bucket, b[i].bucket);
        EXPECT_EQ(a[i].is_null, b[i].is_null);
        EXPECT_EQ(a[i].value, b[i].value) << "bucket " << a[i].bucket;
      }
    }
  }
  EXPECT_GT(summaries_used, 100u);
  EXPECT_GT(summaries_refused, 100u);
}

TEST(AggregateTest, SummaryRefusedOutsideOneBucketOrRange) {
  const Timestamp ts[] = {10 * kSecond, 20 * kSecond, 3700 * kSecond};
  const double values[] = {1, 2, 3};
  BucketAggregator aggregator(Fn(AggregateKind::kSum), TimeBucketer(Interval{0, 0, kHour}), 0, 2 * kHour);
  EXPECT_FALSE(aggregator.TryAddBlockSummary(Summarize(ts, values, 3)));     // straddles 01:00
  EXPECT_TRUE(aggregator.TryAddBlockSummary(Summarize(ts, values, 2)));      // inside [00:00, 01:00)
  EXPECT_TRUE(aggregator.TryAddBlockSummary(Summarize(ts + 2, values + 2, 1)));  // inside [01:00, 02:00)
  BucketAggregator late(Fn(AggregateKind::kSum), TimeBucketer(Interval{0, 0, kHour}), 15 * kSecond, 2 * kHour);
  EXPECT_FALSE(late.TryAddBlockSummary(Summarize(ts, values, 2)));  // starts before since
  BucketAggregator median(Fn(AggregateKind::kMedian), std::nullopt, 0, 2 * kHour);
  EXPECT_FALSE(median.TryAddBlockSummary(Summarize(ts, values, 2)));
  BucketAggregator rate(Fn(AggregateKind::kRate), std::nullopt, 0, 2 * kHour);
  EXPECT_FALSE(rate.TryAddBlockSummary(Summarize(ts, values, 2)));
  const std::vector<BucketValue> rows = aggregator.Finish(Fill{});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].value, 3);
  EXPECT_EQ(rows[1].value, 3);
}

TEST(AggregateTest, FunctionsThatUseSummariesOrKeepValues) {
  for (const char* name : {"count", "sum", "min", "max", "avg", "first", "last", "delta", "sample_delta"}) {
    EXPECT_TRUE(ParseAggregateFn(name).UsesSummaries()) << name;
    EXPECT_FALSE(ParseAggregateFn(name).NeedsValues()) << name;
  }
  for (const char* name : {"median", "quantile(0.3)", "stddev", "variance", "rate", "increase", "sample_rate",
                           "sample_increase", "irate", "resets", "changes"}) {
    EXPECT_FALSE(ParseAggregateFn(name).UsesSummaries()) << name;
  }
  EXPECT_TRUE(ParseAggregateFn("median").NeedsValues());
  EXPECT_TRUE(ParseAggregateFn("quantile(0.3)").NeedsValues());
  EXPECT_FALSE(ParseAggregateFn("rate").NeedsValues());
}

// --- PostgreSQL's float8 rules ----------------------------------------------------

TEST(AggregateTest, MinMaxPutNaNAboveEverything) {
  const std::vector<Timestamp> ts = Seconds(4);
  const std::vector<double> mixed = {1, kNaN, -kInf, 3};
  EXPECT_EQ(*Aggregate(Fn(AggregateKind::kMin), ts, mixed), -kInf);
  EXPECT_TRUE(std::isnan(*Aggregate(Fn(AggregateKind::kMax), ts, mixed)));
  const std::vector<double> inf_and_nan = {kNaN, kInf, kNaN, 2};
  EXPECT_EQ(*Aggregate(Fn(AggregateKind::kMin), ts, inf_and_nan), 2);
  EXPECT_TRUE(std::isnan(*Aggregate(Fn(AggregateKind::kMax), ts, inf_and_nan)));
  const std::vector<double> all_nan = {kNaN, kNaN, kNaN, kNaN};
  EXPECT_TRUE(std::isnan(*Aggregate(Fn(AggregateKind::kMin), ts, all_nan)));
  const std::vector<double> infinities = {kInf, -kInf, kInf, 0};
  EXPECT_EQ(*Aggregate(Fn(AggregateKind::kMin), ts, infinities), -kInf);
  EXPECT_EQ(*Aggregate(Fn(AggregateKind::kMax), ts, infinities), kInf);
}

TEST(AggregateTest, MinMaxTieKeepsTheLaterInputAsPostgresDoes) {
  // float8smaller(state, new) returns new unless state < new.
  const std::vector<Timestamp> ts = Seconds(2);
  EXPECT_FALSE(std::signbit(*Aggregate(Fn(AggregateKind::kMin), ts, {-0.0, 0.0})));
  EXPECT_TRUE(std::signbit(*Aggregate(Fn(AggregateKind::kMin), ts, {0.0, -0.0})));
  EXPECT_TRUE(std::signbit(*Aggregate(Fn(AggregateKind::kMax), ts, {0.0, -0.0})));
}

TEST(AggregateTest, SumAvgStddevWithInfinitiesAndNaN) {
  const std::vector<Timestamp> ts = Seconds(2);
  EXPECT_EQ(*Aggregate(Fn(AggregateKind::kSum), ts, {kInf, 1}), kInf);
  EXPECT_TRUE(std::isnan(*Aggregate(Fn(AggregateKind::kSum), ts, {kInf, -kInf})));
  EXPECT_EQ(*Aggregate(Fn(AggregateKind::kAvg), ts, {kInf, 1}), kInf);
  EXPECT_TRUE(std::isnan(*Aggregate(Fn(AggregateKind::kStddev), ts, {kInf, 1})));
  EXPECT_TRUE(std::isnan(*Aggregate(Fn(AggregateKind::kVariance), Seconds(1), {kNaN})));
  EXPECT_TRUE(std::isnan(*Aggregate(Fn(AggregateKind::kVariance), Seconds(1), {kInf})));
  EXPECT_EQ(*Aggregate(Fn(AggregateKind::kVariance), Seconds(1), {5}), 0);
  EXPECT_TRUE(std::signbit(*Aggregate(Fn(AggregateKind::kSum), Seconds(1), {-0.0})));  // sum keeps its first input
}

TEST(AggregateTest, OverflowOfFiniteValuesIsAnError) {
  const std::vector<Timestamp> ts = Seconds(2);
  ExpectError([&] { Aggregate(Fn(AggregateKind::kSum), ts, {1e308, 1e308}); }, ErrorCategory::NumericOutOfRange,
              "value out of range: overflow");
  ExpectError([&] { Aggregate(Fn(AggregateKind::kAvg), ts, {1e308, 1e308}); }, ErrorCategory::NumericOutOfRange,
              "value out of range: overflow");
  // float8_accum also checks Sxx: avg(1e200, -1e200) fails in PostgreSQL.
  ExpectError([&] { Aggregate(Fn(AggregateKind::kAvg), ts, {1e200, -1e200}); }, ErrorCategory::NumericOutOfRange,
              "value out of range: overflow");
  ExpectError([&] { Aggregate(Fn(AggregateKind::kVariance), ts, {1e200, -1e200}); },
              ErrorCategory::NumericOutOfRange, "value out of range: overflow");
}

// Points summarised elsewhere (a shard's part of a bucket) say whether
// their sum overflowed; that raises sum's overflow where adding them to the
// bucket one by one would: not once the bucket's running sum is infinite.
// A stored step's infinite sum of finite values raises always.
TEST(AggregateTest, PartsFromPointsRaiseSumOverflowAsPointsDo) {
  const std::vector<Timestamp> ts = Seconds(4);
  const StepSummary infinite = SummarizeRun(ts.data(), std::vector<double>{kInf}.data(), 1);
  const std::vector<double> big = {1e308, 1e308};
  const StepSummary overflowed = SummarizeRun(ts.data() + 1, big.data(), 2);
  ASSERT_TRUE(PointsSumOverflows(big.data(), big.size(), overflowed.sum));
  // One node over the points: Infinity first, then the finite values.
  EXPECT_EQ(*Aggregate(Fn(AggregateKind::kSum), ts, {kInf, 1e308, 1e308, 1}), kInf);
  const auto sum_of = [&](std::vector<std::pair<StepSummary, SumOverflow>> parts) {
    BucketAggregator agg(Fn(AggregateKind::kSum), std::nullopt, 0, ts.back() + 1);
    agg.BeginSeries();
    for (const auto& [p, rule] : parts) agg.AddStep(p, rule);
    return agg.Finish(Fill{}).at(0).value;
  };
  EXPECT_EQ(sum_of({{infinite, SumOverflow::kNone}, {overflowed, SumOverflow::kIfRunningFinite}}), kInf);
  ExpectError([&] { sum_of({{infinite, SumOverflow::kStored}, {overflowed, SumOverflow::kStored}}); },
              ErrorCategory::NumericOutOfRange, "value out of range: overflow");
  // Points that overflowed first raise, as they would one by one.
  ExpectError([&] { sum_of({{overflowed, SumOverflow::kIfRunningFinite}}); }, ErrorCategory::NumericOutOfRange,
              "value out of range: overflow");
  // An overflow before an infinity in the same points: their sum is
  // infinite either way, and only the flag tells.
  const std::vector<double> hidden = {1e308, 1e308, kInf};
  const double hidden_sum = 1e308 + 1e308 + kInf;
  EXPECT_TRUE(PointsSumOverflows(hidden.data(), hidden.size(), hidden_sum));
  ExpectError([&] { Aggregate(Fn(AggregateKind::kSum), Seconds(3), hidden); }, ErrorCategory::NumericOutOfRange,
              "value out of range: overflow");
  // A summary of points that overflowed: an error after a finite running
  // sum (another series' points before them), none after a NaN one; one
  // judged not to have overflowed adds as float8pl does.
  const auto summary_of = [](double sum, double min, double max, Timestamp at) {
    BlockSummary b;
    b.count = 2;
    b.ts_min = b.ts_max = at;
    b.sum = sum;
    b.min = min;
    b.max = max;
    b.first = min;
    b.last = max;
    return b;
  };
  for (AggregateKind kind : {AggregateKind::kSum, AggregateKind::kAvg}) {
    BucketAggregator finite_first(Fn(kind), std::nullopt, 0, 100);
    finite_first.BeginSeries();
    ASSERT_TRUE(finite_first.TryAddBlockSummary(summary_of(5, 2, 3, 1)));
    finite_first.BeginSeries();
    ExpectError([&] { finite_first.TryAddBlockSummary(summary_of(kInf, 1e308, 1e308, 2), SumOverflow::kIfRunningFinite); },
                ErrorCategory::NumericOutOfRange, "value out of range: overflow");
    BucketAggregator nan_first(Fn(kind), std::nullopt, 0, 100);
    nan_first.BeginSeries();
    ASSERT_TRUE(nan_first.TryAddBlockSummary(summary_of(kNaN, kNaN, kNaN, 1)));
    nan_first.BeginSeries();
    EXPECT_TRUE(nan_first.TryAddBlockSummary(summary_of(kInf, 1e308, 1e308, 2), SumOverflow::kIfRunningFinite));
    BucketAggregator judged(Fn(kind), std::nullopt, 0, 100);
    judged.BeginSeries();
    EXPECT_TRUE(judged.TryAddBlockSummary(summary_of(kInf, 1e308, kInf, 1), SumOverflow::kNone));
  }
  const std::vector<double> after = {kInf, 1e308, 1e308};
  EXPECT_FALSE(PointsSumOverflows(after.data(), after.size(), kInf));
  EXPECT_FALSE(PointsSumOverflows(big.data(), big.size(), 5.0));  // a finite sum never overflowed
}

TEST(AggregateTest, StddevAndVarianceArePopulationForms) {
  // By hand: {2, 4, 4, 4, 5, 5, 7, 9} has mean 5 and squared deviations 32.
  const std::vector<double> values = {2, 4, 4, 4, 5, 5, 7, 9};
  EXPECT_DOUBLE_EQ(*Aggregate(Fn(AggregateKind::kVariance), Seconds(8), values), 4.0);
  EXPECT_DOUBLE_EQ(*Aggregate(Fn(AggregateKind::kStddev), Seconds(8), values), 2.0);
  EXPECT_DOUBLE_EQ(*Aggregate(Fn(AggregateKind::kAvg), Seconds(8), values), 5.0);
}

TEST(AggregateTest, SampleFormsDivideByNMinusOneAndNeedTwoPoints) {
  // stddev_samp/var_samp: the same squared deviations 32 over n - 1 = 7.
  const std::vector<double> values = {2, 4, 4, 4, 5, 5, 7, 9};
  AggregateFn variance = Fn(AggregateKind::kVariance);
  variance.sample = true;
  AggregateFn stddev = Fn(AggregateKind::kStddev);
  stddev.sample = true;
  EXPECT_DOUBLE_EQ(*Aggregate(variance, Seconds(8), values), 32.0 / 7.0);
  EXPECT_DOUBLE_EQ(*Aggregate(stddev, Seconds(8), values), std::sqrt(32.0 / 7.0));
  EXPECT_FALSE(Aggregate(variance, Seconds(1), {3}).has_value());
  EXPECT_FALSE(Aggregate(stddev, Seconds(1), {3}).has_value());
  EXPECT_DOUBLE_EQ(*Aggregate(Fn(AggregateKind::kVariance), Seconds(1), {3}), 0.0);
}

TEST(AggregateTest, BucketsFromAFunctionNeedNotRiseWithTime) {
  // A bucketing function that folds the hours of a day onto three buckets
  // (as no time_bucket does): every point lands in its function's bucket.
  const auto fold = [](Timestamp ts) { return ((ts / kHour) % 3) * kHour; };
  const TimeBucketer bucketer = TimeBucketer::FromFunction(fold);
  EXPECT_FALSE(bucketer.IsRegular());
  EXPECT_EQ(bucketer.BucketStart(7 * kHour + 5), kHour);
  ExpectError([&] { bucketer.NextBucketStart(0); }, ErrorCategory::Internal, "a bucketing function has no next bucket");
  std::vector<Timestamp> ts;
  std::vector<double> values;
  for (int i = 0; i < 24 * 6; ++i) {
    ts.push_back(i * 10 * 60 * kSecond);
    values.push_back(i);
  }
  for (AggregateKind kind : {AggregateKind::kCount, AggregateKind::kSum, AggregateKind::kFirst}) {
    BucketAggregator aggregator(Fn(kind), bucketer, 0, 24 * kHour);
    aggregator.BeginSeries();
    aggregator.AddSeriesPoints(ts.data(), values.data(), ts.size());
    const std::vector<BucketValue> rows = aggregator.Finish(Fill{});
    ASSERT_EQ(rows.size(), 3u);
    for (int b = 0; b < 3; ++b) {
      // Hours b, b + 3, ...: 8 hours of 6 points each.
      double count = 0, sum = 0, first = -1;
      for (size_t i = 0; i < ts.size(); ++i) {
        if (fold(ts[i]) != b * kHour) continue;
        count += 1;
        sum += values[i];
        if (first < 0) first = values[i];
      }
      EXPECT_EQ(rows[b].bucket, b * kHour);
      EXPECT_EQ(rows[b].value, kind == AggregateKind::kCount ? count : kind == AggregateKind::kSum ? sum : first);
    }
  }
  // The change across a bucket's samples needs no span; extrapolating to
  // the bucket's edges does, and is refused.
  BucketAggregator increase(Fn(AggregateKind::kSampleIncrease), bucketer, 0, 24 * kHour);
  increase.BeginSeries();
  increase.AddSeriesPoints(ts.data(), values.data(), ts.size());
  EXPECT_EQ(increase.Finish(Fill{}).size(), 3u);
  BucketAggregator rate(Fn(AggregateKind::kRate), bucketer, 0, 24 * kHour);
  rate.BeginSeries();
  ExpectError([&] { rate.AddSeriesPoints(ts.data(), values.data(), ts.size()); }, ErrorCategory::Internal,
              "an extrapolating counter function cannot use a bucketing function");
}

// --- percentile_cont ----------------------------------------------------------------

TEST(AggregateTest, QuantileInterpolatesLikePercentileCont) {
  // By hand with percentile_cont's rule: position q * (n - 1), interpolate
  // between the values at floor and ceil of it.
  const auto q = [](double quantile, std::vector<double> values) {
    return *Aggregate(Fn(AggregateKind::kQuantile, quantile), Seconds(values.size()), values);
  };
  EXPECT_EQ(*Aggregate(Fn(AggregateKind::kMedian), Seconds(4), {4, 1, 3, 2}), 2.5);  // between 2 and 3
  EXPECT_DOUBLE_EQ(q(0.9, {10, 9, 8, 7, 6, 5, 4, 3, 2, 1}), 9.1);               // 8.1 -> 9 + 0.1
  EXPECT_EQ(q(0.25, {50, 10, 40, 20, 30}), 20);                                 // exactly row 1
  EXPECT_DOUBLE_EQ(q(0.1, {3, 1}), 1.2);                                        // 1 + 0.1 * 2
  EXPECT_EQ(q(0.0, {7, -2, 5}), -2);
  EXPECT_EQ(q(1.0, {7, -2, 5}), 7);
  EXPECT_EQ(q(0.37, {42}), 42);
  EXPECT_EQ(*Aggregate(Fn(AggregateKind::kMedian), Seconds(3), {3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(q(0.75, {1, 2, 3, 4, 5, 6}), 4.75);  // 3.75 -> 4 + 0.75
}

TEST(AggregateTest, QuantileOutsideZeroToOneIsAnError) {
  // A hand-built AggregateFn bypassing the parser: percentile_cont's error.
  ExpectError([] { Aggregate(Fn(AggregateKind::kQuantile, 1.5), Seconds(2), {1, 2}); },
              ErrorCategory::NumericOutOfRange, "percentile value 1.5 is not between 0 and 1");
}

TEST(AggregateTest, QuantileSortsNaNLast) {
  const auto q = [](double quantile, std::vector<double> values) {
    return *Aggregate(Fn(AggregateKind::kQuantile, quantile), Seconds(values.size()), values);
  };
  EXPECT_EQ(q(0.5, {3, kNaN, 1}), 3);
  EXPECT_TRUE(std::isnan(q(1.0, {3, kNaN, 1})));
  EXPECT_TRUE(std::isnan(q(0.75, {3, kNaN, 1})));  // 3 + 0.5 * (NaN - 3)
  EXPECT_EQ(q(0.0, {kInf, -kInf, kNaN}), -kInf);
}

// --- first / last / delta -------------------------------------------------------

TEST(AggregateTest, FirstLastAcrossSeriesKeepTheEarlierAddedOnTies) {
  BucketAggregator first(Fn(AggregateKind::kFirst), std::nullopt, 0, kHour);
  BucketAggregator last(Fn(AggregateKind::kLast), std::nullopt, 0, kHour);
  const Timestamp a_ts[] = {10 * kSecond, 20 * kSecond};
  const double a_values[] = {1, 2};
  const Timestamp b_ts[] = {10 * kSecond, 20 * kSecond};
  const double b_values[] = {3, 4};
  for (BucketAggregator* agg : {&first, &last}) {
    agg->BeginSeries();
    agg->AddSeriesPoints(a_ts, a_values, 2);
    agg->BeginSeries();
    agg->AddSeriesPoints(b_ts, b_values, 2);
  }
  EXPECT_EQ(first.Finish(Fill{})[0].value, 1);
  EXPECT_EQ(last.Finish(Fill{})[0].value, 2);

  // A later series with an earlier / later point wins.
  const Timestamp c_ts[] = {5 * kSecond, 30 * kSecond};
  const double c_values[] = {5, 6};
  for (BucketAggregator* agg : {&first, &last}) {
    agg->BeginSeries();
    agg->AddSeriesPoints(c_ts, c_values, 2);
  }
  EXPECT_EQ(first.Finish(Fill{})[0].value, 5);
  EXPECT_EQ(last.Finish(Fill{})[0].value, 6);
}

TEST(AggregateTest, SampleDeltaIsLastMinusFirst) {
  EXPECT_EQ(*Aggregate(Fn(AggregateKind::kSampleDelta), Seconds(4), {10, 3, 8, 4}), -6);
  EXPECT_FALSE(Aggregate(Fn(AggregateKind::kSampleDelta), Seconds(1), {10}).has_value());
}

// --- The counter family -----------------------------------------------------------

// One bucket [0, 1 min) of one series through the aggregator.
std::optional<double> OneMinute(AggregateKind kind, const std::vector<Timestamp>& ts, const std::vector<double>& values) {
  BucketAggregator aggregator(Fn(kind), TimeBucketer(Interval{0, 0, 60 * kSecond}, 0), 0, 60 * kSecond);
  aggregator.AddSeriesPoints(ts.data(), values.data(), ts.size());
  const std::vector<BucketValue> rows = aggregator.Finish(Fill{});
  if (rows.empty() || rows[0].is_null) return std::nullopt;
  return rows[0].value;
}

TEST(AggregateTest, IncreaseAndRateExtrapolateAsPrometheusDoes) {
  // The example: 10, 15, 3, 7, 9 at :00 .. :40 give Prometheus 2.42's
  // increase(x[1m]) 15.75 and rate 0.2625 at 00:01. (9 - 10) + 15 = 14 over
  // 40 s, extrapolated by 0 s at the start (a point at it) and by half an
  // interval (5 s) at the end (20 s away, more than 1.1 intervals).
  const std::vector<Timestamp> ts = {0, 10 * kSecond, 20 * kSecond, 30 * kSecond, 40 * kSecond};
  const std::vector<double> values = {10, 15, 3, 7, 9};
  EXPECT_EQ(*OneMinute(AggregateKind::kIncrease, ts, values), 15.75);
  EXPECT_EQ(*OneMinute(AggregateKind::kRate, ts, values), 0.2625);
  EXPECT_EQ(*OneMinute(AggregateKind::kSampleIncrease, ts, values), 14);
  EXPECT_EQ(*OneMinute(AggregateKind::kSampleRate, ts, values), 14.0 / 40);
  EXPECT_EQ(*OneMinute(AggregateKind::kResets, ts, values), 1);
  EXPECT_EQ(*OneMinute(AggregateKind::kChanges, ts, values), 4);
  EXPECT_EQ(*OneMinute(AggregateKind::kIrate, ts, values), 0.2);
  // delta does not see resets: (9 - 10) * 45 / 40.
  EXPECT_EQ(*OneMinute(AggregateKind::kDelta, ts, values), -1.125);
  // A counter is not extrapolated below zero: 1 -> 11 over 20..40 s would
  // reach back 20 s (to 0 s), but zero lies 2 s before the first point.
  EXPECT_EQ(*OneMinute(AggregateKind::kIncrease, {20 * kSecond, 30 * kSecond, 40 * kSecond}, {1, 6, 11}),
            10 * (20.0 + 2 + 5) / 20);
  // A gauge has no such floor.
  EXPECT_EQ(*OneMinute(AggregateKind::kDelta, {20 * kSecond, 30 * kSecond, 40 * kSecond}, {1, 6, 11}),
            10 * (20.0 + 5 + 5) / 20);
}

TEST(AggregateTest, SampleIncreaseHandlesCounterResetsLikePrometheus) {
  // By hand with Prometheus's rule: last - first + value before each reset =
  // (4 - 1) + 5 = 8, the same as 4 + (0 -> 2) + 2 summed per step.
  const std::vector<Timestamp> ts = {0, 10 * kSecond, 20 * kSecond, 30 * kSecond};
  const std::vector<double> values = {1, 5, 2, 4};
  EXPECT_EQ(*Aggregate(Fn(AggregateKind::kSampleIncrease), ts, values), 8);
  EXPECT_DOUBLE_EQ(*Aggregate(Fn(AggregateKind::kSampleRate), ts, values), 8.0 / 30.0);
  // A restart from 0: (3 - 5) + 5 = 3, i.e. only what was counted after it.
  EXPECT_EQ(*Aggregate(Fn(AggregateKind::kSampleIncrease), {0, kSecond, 2 * kSecond}, {5, 0, 3}), 3);
  EXPECT_EQ(*Aggregate(Fn(AggregateKind::kSampleIncrease), {0, kSecond, 2 * kSecond}, {5, 0, 0}), 0);
}

TEST(AggregateTest, RateOverAnInfiniteWindowIsNull) {
  // increase extrapolates by half an interval at an infinite edge (here the
  // start reaches zero first, 1 s before the first point); rate has no
  // window length to divide by.
  EXPECT_FALSE(Aggregate(Fn(AggregateKind::kRate), Seconds(3), {1, 2, 3}).has_value());
  EXPECT_EQ(*Aggregate(Fn(AggregateKind::kIncrease), Seconds(3), {1, 2, 3}), 2 * (2 + 1 + 0.5) / 2);
  EXPECT_EQ(*Aggregate(Fn(AggregateKind::kDelta), Seconds(3), {1, 2, 3}), 2 * (2 + 0.5 + 0.5) / 2);
}

TEST(AggregateTest, LonePointsGiveNullOrZero) {
  for (AggregateKind kind : {AggregateKind::kRate, AggregateKind::kIncrease, AggregateKind::kDelta,
                             AggregateKind::kSampleRate, AggregateKind::kSampleIncrease,
                             AggregateKind::kSampleDelta, AggregateKind::kIrate}) {
    EXPECT_FALSE(OneMinute(kind, {kSecond}, {5}).has_value()) << static_cast<int>(kind);
  }
  EXPECT_EQ(*OneMinute(AggregateKind::kResets, {kSecond}, {5}), 0);
  EXPECT_EQ(*OneMinute(AggregateKind::kChanges, {kSecond}, {5}), 0);
  // NaN after NaN is no change; NaN after a number is.
  EXPECT_EQ(*OneMinute(AggregateKind::kChanges, Seconds(4), {kNaN, kNaN, 1, kNaN}), 2);
}

TEST(AggregateTest, RateNeedsTwoPointsPerSeries) {
  EXPECT_FALSE(Aggregate(Fn(AggregateKind::kSampleRate), {0}, {5}).has_value());
  EXPECT_FALSE(Aggregate(Fn(AggregateKind::kIncrease), {0}, {5}).has_value());
  BucketAggregator aggregator(Fn(AggregateKind::kSampleIncrease), std::nullopt, 0, kHour);
  const Timestamp one_ts[] = {kSecond};
  const double one_value[] = {100};
  const Timestamp two_ts[] = {0, 10 * kSecond};
  const double two_values[] = {10, 20};
  aggregator.BeginSeries();
  aggregator.AddSeriesPoints(one_ts, one_value, 1);
  aggregator.BeginSeries();
  aggregator.AddSeriesPoints(two_ts, two_values, 2);
  const std::vector<BucketValue> rows = aggregator.Finish(Fill{});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_FALSE(rows[0].is_null);
  EXPECT_EQ(rows[0].value, 10);
}

TEST(AggregateTest, RateSumsSeriesOfAGroupAndJoinsSlicesOfOneSeries) {
  const Timestamp a_ts[] = {0, 10 * kSecond, 20 * kSecond, 30 * kSecond};
  const double a_values[] = {1, 5, 2, 4};
  const Timestamp b_ts[] = {0, 10 * kSecond};
  const double b_values[] = {10, 20};
  for (AggregateKind kind : {AggregateKind::kSampleRate, AggregateKind::kSampleIncrease}) {
    BucketAggregator aggregator(Fn(kind), std::nullopt, 0, kHour);
    aggregator.BeginSeries();
    aggregator.AddSeriesPoints(a_ts, a_values, 2);      // slice 1: 1, 5
    aggregator.AddSeriesPoints(a_ts + 2, a_values + 2, 2);  // slice 2: 2, 4 (5 -> 2 is a reset)
    aggregator.BeginSeries();
    aggregator.AddSeriesPoints(b_ts, b_values, 2);
    const double expected = kind == AggregateKind::kSampleRate ? 8.0 / 30.0 + 1.0 : 18.0;
    EXPECT_DOUBLE_EQ(aggregator.Finish(Fill{})[0].value, expected);
  }
}

TEST(AggregateTest, IncreaseStepsBetweenBucketsBelongToNeither) {
  const Timestamp ts[] = {0, 10 * kSecond, 20 * kSecond, 30 * kSecond};
  const double values[] = {1, 5, 2, 4};
  BucketAggregator aggregator(Fn(AggregateKind::kSampleIncrease), TimeBucketer(Interval{0, 0, 20 * kSecond}, 0), 0,
                              kHour);
  aggregator.AddSeriesPoints(ts, values, 4);
  const std::vector<BucketValue> rows = aggregator.Finish(Fill{});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].value, 4);
  EXPECT_EQ(rows[1].value, 2);
}

// --- Combine ----------------------------------------------------------------------

TEST(AggregateTest, CombineOfSplitStatesEqualsTheWhole) {
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> value(-1000, 1000);
  for (const AggregateFn& fn : kAllFns) {
    for (int round = 0; round < 20; ++round) {
      const size_t n = 2 + rng() % 300;
      std::vector<Timestamp> ts = Seconds(n);
      std::vector<double> values(n);
      for (double& v : values) v = std::floor(value(rng));
      const size_t split = 1 + rng() % (n - 1);
      AggregateState whole, left, right;
      whole.AddPoints(fn, 1, ts.data(), values.data(), n);
      left.AddPoints(fn, 1, ts.data(), values.data(), split);
      right.AddPoints(fn, 1, ts.data() + split, values.data() + split, n - split);
      // Merge in either order: the later slice first must give the same.
      AggregateState merged = round % 2 ? left : right;
      merged.Combine(fn, round % 2 ? right : left);
      EXPECT_EQ(merged.count(), whole.count());
      const std::optional<double> a = merged.Final(fn);
      const std::optional<double> b = whole.Final(fn);
      ASSERT_EQ(a.has_value(), b.has_value()) << static_cast<int>(fn.kind);
      if (b) {
        EXPECT_NEAR(*a, *b, 1e-9 * std::max(1.0, std::fabs(*b))) << static_cast<int>(fn.kind);
      }
    }
  }
}

TEST(AggregateTest, CombineOfDifferentSeriesAddsTheirIncreases) {
  const AggregateFn fn = Fn(AggregateKind::kSampleIncrease);
  AggregateState a, b;
  const Timestamp ts[] = {0, 10 * kSecond};
  const double a_values[] = {1, 4};
  const double b_values[] = {10, 2};  // a reset: increase 2
  a.AddPoints(fn, 1, ts, a_values, 2);
  b.AddPoints(fn, 2, ts, b_values, 2);
  a.Combine(fn, b);
  EXPECT_EQ(*a.Final(fn), 5);
}

// The Citus path: each block's part of a bucket arrives as a CounterRun
// computed where the points are; folded in time order it gives what the
// points give, bit for bit for whole-number counters (resets summed per
// part are then exact), across bucket edges, resets at and inside the
// cuts, and single-point parts.
TEST(AggregateTest, CounterRunsOfPartsEqualThePoints) {
  std::mt19937_64 rng(17);
  const std::vector<AggregateKind> kinds = {AggregateKind::kRate,       AggregateKind::kIncrease,
                                            AggregateKind::kSampleRate, AggregateKind::kSampleIncrease,
                                            AggregateKind::kIrate,      AggregateKind::kResets,
                                            AggregateKind::kChanges,    AggregateKind::kDelta};
  const TimeBucketer minutes(Interval{0, 0, 60 * kSecond});
  for (int round = 0; round < 50; ++round) {
    const size_t n = 1 + rng() % 400;
    std::vector<Timestamp> ts(n);
    std::vector<double> values(n);
    Timestamp t = static_cast<Timestamp>(rng() % 30) * kSecond;
    double v = static_cast<double>(rng() % 50);
    for (size_t i = 0; i < n; ++i) {
      t += static_cast<Timestamp>(1 + rng() % 20) * kSecond;
      v = rng() % 9 == 0 ? static_cast<double>(rng() % 5) : v + static_cast<double>(rng() % 4);  // resets, repeats
      ts[i] = t;
      values[i] = v;
    }
    // Cut into parts at random points and at every bucket edge.
    std::vector<size_t> cuts = {0};
    for (size_t i = 1; i < n; ++i)
      if (rng() % 7 == 0 || minutes.BucketStart(ts[i]) != minutes.BucketStart(ts[i - 1])) cuts.push_back(i);
    cuts.push_back(n);
    for (AggregateKind kind : kinds) {
      const AggregateFn fn = Fn(kind);
      const Timestamp since = ts[0] - 5 * kSecond;
      const Timestamp until = ts[n - 1] + 7 * kSecond;
      BucketAggregator points(fn, minutes, since, until);
      BucketAggregator parts(fn, minutes, since, until);
      points.BeginSeries();
      parts.BeginSeries();
      for (size_t c = 0; c + 1 < cuts.size(); ++c) {
        points.AddSeriesPoints(&ts[cuts[c]], &values[cuts[c]], cuts[c + 1] - cuts[c]);
        CounterRun run;
        run.Add(&ts[cuts[c]], &values[cuts[c]], cuts[c + 1] - cuts[c]);
        parts.AddCounterRun(run);
      }
      const std::vector<BucketValue> want = points.Finish(Fill{});
      const std::vector<BucketValue> got = parts.Finish(Fill{});
      ASSERT_EQ(got.size(), want.size()) << static_cast<int>(kind);
      for (size_t b = 0; b < want.size(); ++b) {
        EXPECT_EQ(got[b].bucket, want[b].bucket);
        ASSERT_EQ(got[b].is_null, want[b].is_null) << static_cast<int>(kind);
        if (!want[b].is_null) {
          EXPECT_EQ(got[b].value, want[b].value) << static_cast<int>(kind) << " bucket " << b;
        }
      }
    }
  }
  AggregateState state;
  CounterRun run;
  EXPECT_THROW(state.AddCounterRun(Fn(AggregateKind::kSum), 1, run), Error);
}

// --- Buckets, ranges and fills --------------------------------------------------

TEST(AggregateTest, OnlyPointsInsideSinceUntilCount) {
  const Timestamp ts[] = {0, 10, 20, 30, 40};
  const double values[] = {1, 2, 4, 8, 16};
  BucketAggregator aggregator(Fn(AggregateKind::kSum), std::nullopt, 10, 40);
  aggregator.AddSeriesPoints(ts, values, 5);
  const std::vector<BucketValue> rows = aggregator.Finish(Fill{});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].bucket, 10);  // stamped since
  EXPECT_EQ(rows[0].value, 14);
  BucketAggregator empty(Fn(AggregateKind::kCount), std::nullopt, 100, 200);
  empty.AddSeriesPoints(ts, values, 5);
  EXPECT_TRUE(empty.Finish(Fill{}).empty());  // never a 0 row for no points
}

TEST(AggregateTest, EmptyBucketsAreOmittedWithFillNone) {
  const Timestamp ts[] = {kHour / 2, 2 * kHour + 1};
  const double values[] = {1, 2};
  BucketAggregator aggregator(Fn(AggregateKind::kCount), TimeBucketer(Interval{0, 0, kHour}), 0, 3 * kHour);
  aggregator.AddSeriesPoints(ts, values, 2);
  const std::vector<BucketValue> rows = aggregator.Finish(Fill{});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].bucket, 0);
  EXPECT_EQ(rows[1].bucket, 2 * kHour);
}

// Hourly buckets -1 .. 6 with points in buckets 0, 2 and 5.
class AggregateFillTest : public ::testing::Test {
 protected:
  std::vector<BucketValue> Run(const char* fill) {
    BucketAggregator aggregator(Fn(AggregateKind::kAvg), TimeBucketer(Interval{0, 0, kHour}, 0), -kHour + 5,
                                6 * kHour + 1);
    const Timestamp ts[] = {10, 2 * kHour + 10, 2 * kHour + 20, 5 * kHour};
    const double values[] = {10, 40, 40, 70};
    aggregator.AddSeriesPoints(ts, values, 4);
    return aggregator.Finish(ParseFill(fill));
  }
  static void ExpectRows(const std::vector<BucketValue>& rows, const std::vector<std::optional<double>>& expected) {
    ASSERT_EQ(rows.size(), expected.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(rows[i].bucket, (static_cast<int64_t>(i) - 1) * kHour);
      EXPECT_EQ(rows[i].is_null, !expected[i].has_value()) << "row " << i;
      if (expected[i]) {
        EXPECT_DOUBLE_EQ(rows[i].value, *expected[i]) << "row " << i;
      }
    }
  }
};

TEST_F(AggregateFillTest, None) {
  const std::vector<BucketValue> rows = Run("none");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].bucket, 0);
  EXPECT_EQ(rows[1].bucket, 2 * kHour);
  EXPECT_EQ(rows[2].bucket, 5 * kHour);
}

TEST_F(AggregateFillTest, Null) {
  ExpectRows(Run("null"), {std::nullopt, 10, std::nullopt, 40, std::nullopt, std::nullopt, 70, std::nullopt});
}

TEST_F(AggregateFillTest, Value) { ExpectRows(Run(" -1.5 "), {-1.5, 10, -1.5, 40, -1.5, -1.5, 70, -1.5}); }

TEST_F(AggregateFillTest, Previous) { ExpectRows(Run("previous"), {std::nullopt, 10, 10, 40, 40, 40, 70, 70}); }

TEST_F(AggregateFillTest, Linear) {
  // Between (0 h, 10) and (2 h, 40): 25 at 1 h; between (2 h, 40) and
  // (5 h, 70): 50 and 60; no anchor before -1 h or after 6 h.
  ExpectRows(Run("linear"), {std::nullopt, 10, 25, 40, 50, 60, 70, std::nullopt});
}

TEST(AggregateTest, FillPreviousSkipsBucketsWhoseValueIsNull) {
  // A bucket with one counter point has a NULL increase; previous carries the
  // last non-NULL value over it, and the NULL stays.
  const Timestamp ts[] = {0, 10 * kSecond, 2 * kHour};
  const double values[] = {1, 3, 7};
  BucketAggregator aggregator(Fn(AggregateKind::kSampleIncrease), TimeBucketer(Interval{0, 0, kHour}, 0), 0,
                              4 * kHour);
  aggregator.AddSeriesPoints(ts, values, 3);
  const std::vector<BucketValue> rows = aggregator.Finish(ParseFill("previous"));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].value, 2);
  EXPECT_FALSE(rows[1].is_null);
  EXPECT_EQ(rows[1].value, 2);
  EXPECT_TRUE(rows[2].is_null);
  EXPECT_EQ(rows[3].value, 2);
}

TEST(AggregateTest, FillWithOneBucketAndWithMonths) {
  BucketAggregator single(Fn(AggregateKind::kMax), std::nullopt, 100, 200);
  std::vector<BucketValue> rows = single.Finish(ParseFill("0"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].bucket, 100);
  EXPECT_EQ(rows[0].value, 0);
  EXPECT_FALSE(rows[0].is_null);

  // Months 2000-01 .. 2000-04 for since = 2000-01-15, until = 2000-04-02.
  const Timestamp since = 14 * kMicrosPerDay;
  const Timestamp until = (31 + 29 + 31 + 1) * kMicrosPerDay;
  BucketAggregator monthly(Fn(AggregateKind::kCount), TimeBucketer(Interval{1, 0, 0}), since, until);
  const Timestamp ts[] = {40 * kMicrosPerDay};  // 2000-02-10
  const double values[] = {1};
  monthly.AddSeriesPoints(ts, values, 1);
  rows = monthly.Finish(ParseFill("null"));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].bucket, 0);
  EXPECT_EQ(rows[1].bucket, 31 * kMicrosPerDay);
  EXPECT_EQ(rows[1].value, 1);
  EXPECT_EQ(rows[2].bucket, (31 + 29) * kMicrosPerDay);
  EXPECT_EQ(rows[3].bucket, (31 + 29 + 31) * kMicrosPerDay);
  EXPECT_TRUE(rows[3].is_null);
}

TEST(AggregateTest, FillNeedsAFiniteRange) {
  BucketAggregator aggregator(Fn(AggregateKind::kCount), TimeBucketer(Interval{0, 0, kHour}), kTimestampMinusInfinity,
                              kHour);
  ExpectError([&] { aggregator.Finish(ParseFill("null")); }, ErrorCategory::InvalidParameter,
              "fill needs a finite time range");
  EXPECT_TRUE(aggregator.Finish(ParseFill("none")).empty());
}

TEST(AggregateTest, FillStopsAtTenMillionBuckets) {
  BucketAggregator aggregator(Fn(AggregateKind::kCount), TimeBucketer(Interval{0, 0, 1}), 0, kMicrosPerDay);
  ExpectError([&] { aggregator.Finish(ParseFill("0")); }, ErrorCategory::LimitExceeded, "too many buckets to fill");
  BucketAggregator just_fits(Fn(AggregateKind::kCount), TimeBucketer(Interval{0, 0, 1}), 0,
                             static_cast<Timestamp>(BucketAggregator::kMaxFilledBuckets));
  EXPECT_EQ(just_fits.Finish(ParseFill("null")).size(), BucketAggregator::kMaxFilledBuckets);
}

TEST(AggregateTest, ExactQuantilesStopAtTheirMemoryLimit) {
  AggregateLimits limits;
  limits.max_value_bytes = 1000 * sizeof(double);
  BucketAggregator aggregator(ParseAggregateFn("quantile(0.9)"), std::nullopt, 0, kHour, limits);
  std::vector<Timestamp> ts(1000);
  std::vector<double> values(1000, 1.0);
  for (size_t i = 0; i < ts.size(); ++i) ts[i] = static_cast<Timestamp>(i);
  aggregator.AddSeriesPoints(ts.data(), values.data(), ts.size());  // exactly at the limit
  EXPECT_EQ(aggregator.Finish(ParseFill("none")).size(), 1u);
  aggregator.BeginSeries();
  const Timestamp one_more = 5000;
  const double value = 2.0;
  ExpectError([&] { aggregator.AddSeriesPoints(&one_more, &value, 1); }, ErrorCategory::LimitExceeded,
              "exact quantiles need more memory than work_mem allows");
  // Functions that keep no values ignore the limit.
  BucketAggregator sum(Fn(AggregateKind::kSum), std::nullopt, 0, kHour, limits);
  sum.AddSeriesPoints(ts.data(), values.data(), ts.size());
  sum.BeginSeries();
  sum.AddSeriesPoints(&one_more, &value, 1);
  EXPECT_EQ(sum.Finish(ParseFill("none"))[0].value, 1002.0);
}

TEST(AggregateTest, BucketsWithPointsStopAtTheirLimit) {
  AggregateLimits limits;
  limits.max_buckets = 10;
  BucketAggregator aggregator(Fn(AggregateKind::kCount), TimeBucketer(Interval{0, 0, 1}), 0, kHour, limits);
  std::vector<Timestamp> ts(11);
  std::vector<double> values(11, 1.0);
  for (size_t i = 0; i < ts.size(); ++i) ts[i] = static_cast<Timestamp>(i);
  aggregator.AddSeriesPoints(ts.data(), values.data(), 10);
  ExpectError([&] { aggregator.AddSeriesPoints(ts.data() + 10, values.data() + 10, 1); }, ErrorCategory::LimitExceeded,
              "too many buckets");
  // Also when a second series reaches a bucket below the first one's.
  BucketAggregator two(Fn(AggregateKind::kCount), TimeBucketer(Interval{0, 0, 1}), 0, kHour, limits);
  two.AddSeriesPoints(ts.data() + 1, values.data(), 10);
  two.BeginSeries();
  ExpectError([&] { two.AddSeriesPoints(ts.data(), values.data(), 1); }, ErrorCategory::LimitExceeded,
              "too many buckets");
}

TEST(AggregateTest, ProgressHookCanAbandonLongLoops) {
  AggregateLimits limits;
  size_t calls = 0;
  limits.progress = [&] {
    if (++calls == 3) throw std::runtime_error("cancelled");
  };
  BucketAggregator aggregator(Fn(AggregateKind::kCount), TimeBucketer(Interval{0, 0, 1}), 0, 100000, limits);
  EXPECT_THROW(aggregator.Finish(ParseFill("0")), std::runtime_error);
  EXPECT_EQ(calls, 3u);
}

// --- Parsers ------------------------------------------------------------------

TEST(AggregateTest, ParseAggregateFnNames) {
  const struct {
    const char* text;
    AggregateKind kind;
  } cases[] = {
      {"count", AggregateKind::kCount},       {"sum", AggregateKind::kSum},
      {"min", AggregateKind::kMin},           {"max", AggregateKind::kMax},
      {"avg", AggregateKind::kAvg},           {"first", AggregateKind::kFirst},
      {"last", AggregateKind::kLast},         {"median", AggregateKind::kMedian},
      {"stddev", AggregateKind::kStddev},     {"variance", AggregateKind::kVariance},
      {"delta", AggregateKind::kDelta},       {"rate", AggregateKind::kRate},
      {"increase", AggregateKind::kIncrease}, {"  sum\t", AggregateKind::kSum},
  };
  for (const auto& c : cases) EXPECT_EQ(ParseAggregateFn(c.text).kind, c.kind) << c.text;
  EXPECT_EQ(ParseAggregateFn("median").quantile, 0.5);
  const AggregateFn q = ParseAggregateFn("quantile(0.9)");
  EXPECT_EQ(q.kind, AggregateKind::kQuantile);
  EXPECT_EQ(q.quantile, 0.9);
  EXPECT_EQ(ParseAggregateFn(" quantile ( 0.25 ) ").quantile, 0.25);
  EXPECT_EQ(ParseAggregateFn("quantile(0)").quantile, 0.0);
  EXPECT_EQ(ParseAggregateFn("quantile(1)").quantile, 1.0);
  EXPECT_EQ(ParseAggregateFn("quantile(1e-1)").quantile, 0.1);
}

TEST(AggregateTest, ParseAggregateFnErrors) {
  for (const char* text : {"foo", "Sum", "", "count(*)", "rate()", "p99"}) {
    try {
      ParseAggregateFn(text);
      ADD_FAILURE() << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::InvalidParameter);
      EXPECT_EQ(std::string(e.what()), std::string("unknown aggregate function \"") + text + "\"");
      EXPECT_NE(e.detail().find("quantile(q)"), std::string::npos);
      EXPECT_NE(e.detail().find("increase"), std::string::npos);
    }
  }
  for (const char* text : {"quantile(1.5)", "quantile(-0.1)", "quantile(abc)", "quantile(0.5", "quantile()",
                           "quantile", "quantile(NaN)", "quantile(0.5) x", "quantile(0.5)(0.2)"}) {
    try {
      ParseAggregateFn(text);
      ADD_FAILURE() << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::InvalidParameter) << text;
      EXPECT_EQ(std::string(e.what()), std::string("invalid quantile in aggregate function \"") + text + "\"");
    }
  }
}

TEST(AggregateTest, ParseFillValues) {
  EXPECT_EQ(ParseFill("none").mode, FillMode::kNone);
  EXPECT_EQ(ParseFill("null").mode, FillMode::kNull);
  EXPECT_EQ(ParseFill("previous").mode, FillMode::kPrevious);
  EXPECT_EQ(ParseFill(" linear ").mode, FillMode::kLinear);
  EXPECT_EQ(ParseFill("0").mode, FillMode::kValue);
  EXPECT_EQ(ParseFill("0").value, 0);
  EXPECT_EQ(ParseFill("-1.5").value, -1.5);
  EXPECT_EQ(ParseFill("1e3").value, 1000);
  EXPECT_EQ(ParseFill("-Infinity").value, -kInf);
  EXPECT_TRUE(std::isnan(ParseFill("NaN").value));
  for (const char* text : {"", "zero", "Null", "1.5x", "1e999", "--1", "previous value"}) {
    ExpectError([&] { ParseFill(text); }, ErrorCategory::InvalidParameter,
                std::string("invalid fill \"") + text + "\"");
  }
}

// float8_accum raises an overflow only from a finite Sx: after +Inf the
// moments are NaN, also when the overflow comes in a rolled-up step or in a
// Citus shard's part of a bucket (AddStep), and it is raised when the step
// comes first.
TEST(AggregateTest, StepOverflowAfterInfinityIsNaN) {
  const double inf = kInf;
  const Timestamp ts[] = {10 * kSecond};
  const double values[] = {inf};
  StepSummary overflowed;  // two points of 1e308: Sx and Sxx overflow
  overflowed.bucket = overflowed.first_ts = 20 * kSecond;
  overflowed.last_ts = 30 * kSecond;
  overflowed.count = 2;
  overflowed.sum = inf;
  overflowed.sxx = inf;
  overflowed.min = overflowed.max = overflowed.first = overflowed.last = 1e308;
  for (AggregateKind kind : {AggregateKind::kStddev, AggregateKind::kVariance}) {
    BucketAggregator after_inf(Fn(kind), std::nullopt, 0, kHour);
    after_inf.BeginSeries();
    after_inf.AddSeriesPoints(ts, values, 1);
    EXPECT_NO_THROW(after_inf.AddStep(overflowed));
    const std::vector<BucketValue> rows = after_inf.Finish(Fill{});
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_TRUE(std::isnan(rows[0].value));
    BucketAggregator alone(Fn(kind), std::nullopt, 0, kHour);
    alone.BeginSeries();
    EXPECT_THROW(alone.AddStep(overflowed), std::runtime_error);
  }
}

}  // namespace
}  // namespace aegis::core
