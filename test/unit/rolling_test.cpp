// Tests of rolling windows: every function against the aggregate computed
// from scratch over each window (the naive, quadratic definition), over
// random irregular series with resets, NaN and infinities, and the edges
// (lone points, windows reaching before the first point, huge widths).
#include "core/rolling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <vector>

#include "core/aggregate.h"
#include "core/error.h"

namespace aegis::core {
namespace {

constexpr int64_t kSecond = kMicrosPerSecond;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// fn over the window (ts[i] - width, ts[i]] computed from scratch with the
// aggregate's own state, as aegis.aggregate would over those points.
std::optional<double> Naive(const AggregateFn& fn, int64_t width, const std::vector<Timestamp>& ts,
                            const std::vector<double>& values, size_t i) {
  size_t lo = 0;
  while (ts[lo] <= ts[i] - width) ++lo;
  AggregateState state;
  state.SetWindow(ts[i] - width, ts[i]);
  state.AddPoints(fn, 1, ts.data() + lo, values.data() + lo, i - lo + 1);
  return state.Final(fn);
}

bool Exact(AggregateKind kind) {
  switch (kind) {
    case AggregateKind::kCount:
    case AggregateKind::kMin:
    case AggregateKind::kMax:
    case AggregateKind::kFirst:
    case AggregateKind::kLast:
    case AggregateKind::kMedian:
    case AggregateKind::kQuantile:
    case AggregateKind::kResets:
    case AggregateKind::kChanges:
    case AggregateKind::kIrate:
    case AggregateKind::kSampleDelta:
      return true;
    default:
      return false;
  }
}

void ExpectSame(const AggregateFn& fn, std::optional<double> want, std::optional<double> got, size_t i) {
  ASSERT_EQ(want.has_value(), got.has_value()) << "fn " << static_cast<int>(fn.kind) << " point " << i;
  if (!want) return;
  if (std::isnan(*want) || std::isnan(*got)) {
    EXPECT_TRUE(std::isnan(*want) && std::isnan(*got)) << "fn " << static_cast<int>(fn.kind) << " point " << i;
  } else if (Exact(fn.kind) || std::isinf(*want)) {
    EXPECT_EQ(*want, *got) << "fn " << static_cast<int>(fn.kind) << " point " << i;
  } else {
    EXPECT_NEAR(*want, *got, 1e-9 * std::max(1.0, std::fabs(*want))) << "fn " << static_cast<int>(fn.kind)
                                                                       << " point " << i;
  }
}

const char* const kAllFunctions[] = {
    "count",    "sum",      "min",         "max",           "avg",         "first",
    "last",     "median",   "quantile(0.9)", "quantile(0)", "quantile(1)", "stddev",
    "variance", "delta",    "rate",        "increase",      "sample_delta", "sample_rate",
    "sample_increase", "irate", "resets",  "changes"};

TEST(RollingTest, EveryFunctionEqualsTheAggregateOfEachWindow) {
  std::mt19937_64 rng(17);
  std::uniform_int_distribution<int64_t> gap(1, 40);
  for (int round = 0; round < 12; ++round) {
    const size_t n = 1 + rng() % 600;
    std::vector<Timestamp> ts(n);
    std::vector<double> values(n);
    Timestamp t = static_cast<Timestamp>(rng() % 1000) * kSecond;
    double v = 100;
    for (size_t i = 0; i < n; ++i) {
      ts[i] = t;
      t += gap(rng) * kSecond + static_cast<int64_t>(rng() % 1000);
      const int pick = static_cast<int>(rng() % 50);
      if (round % 3 == 2 && pick == 0) v = kNaN;  // NaN and infinities in some rounds
      else if (round % 3 == 2 && pick == 1) v = std::numeric_limits<double>::infinity();
      else if (pick < 4 || !std::isfinite(v)) v = static_cast<double>(rng() % 10);  // a reset
      else v += static_cast<double>(rng() % 100) / 8;
      values[i] = v;
    }
    const int64_t width = (1 + static_cast<int64_t>(rng() % 300)) * kSecond;
    const size_t begin = rng() % n;
    for (const char* name : kAllFunctions) {
      const AggregateFn fn = ParseAggregateFn(name);
      const std::vector<std::optional<double>> got = RollingWindow(fn, width, ts.data(), values.data(), n, begin);
      ASSERT_EQ(got.size(), n - begin) << name;
      for (size_t i = begin; i < n; ++i) ExpectSame(fn, Naive(fn, width, ts, values, i), got[i - begin], i);
    }
  }
}

TEST(RollingTest, WindowsAreOpenAtTheOlderEnd) {
  // Points every 10 s, width 20 s: the window of the point at 20 s is
  // (0 s, 20 s], so it holds the points at 10 s and 20 s only.
  const std::vector<Timestamp> ts = {0, 10 * kSecond, 20 * kSecond, 30 * kSecond};
  const std::vector<double> values = {1, 2, 4, 8};
  const auto sums = RollingWindow(ParseAggregateFn("sum"), 20 * kSecond, ts.data(), values.data(), 4, 0);
  ASSERT_EQ(sums.size(), 4u);
  EXPECT_EQ(*sums[0], 1);
  EXPECT_EQ(*sums[1], 3);
  EXPECT_EQ(*sums[2], 6);
  EXPECT_EQ(*sums[3], 12);
  // A lone point: count 1, rate NULL (Prometheus needs two samples).
  const auto rates = RollingWindow(ParseAggregateFn("rate"), kSecond, ts.data(), values.data(), 4, 0);
  for (const auto& r : rates) EXPECT_FALSE(r.has_value());
}

TEST(RollingTest, HugeWidthsAndEmptyInput) {
  const std::vector<Timestamp> ts = {kTimestampMinValid, 0, 10 * kSecond};
  const std::vector<double> values = {1, 2, 4};
  const auto counts = RollingWindow(ParseAggregateFn("count"), std::numeric_limits<int64_t>::max(), ts.data(),
                                    values.data(), 3, 0);
  EXPECT_EQ(*counts[2], 3);
  // rate over a window reaching before the first timestamp: no finite start.
  const auto rates = RollingWindow(ParseAggregateFn("rate"), std::numeric_limits<int64_t>::max(), ts.data(),
                                   values.data(), 3, 0);
  EXPECT_FALSE(rates[2].has_value());
  EXPECT_TRUE(RollingWindow(ParseAggregateFn("sum"), kSecond, ts.data(), values.data(), 0, 0).empty());
  EXPECT_THROW(RollingWindow(ParseAggregateFn("sum"), 0, ts.data(), values.data(), 3, 0), Error);
}

}  // namespace
}  // namespace aegis::core
