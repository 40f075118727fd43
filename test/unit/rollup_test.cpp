// Tests of roll-up steps: every aggregate over steps (and over steps regrouped
// to a coarser width) against the same aggregate over the points, the rollup
// block round trip, and the decoder's refusal of damaged blocks.
#include "core/rollup.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/aggregate.h"
#include "core/error.h"
#include "core/float8.h"
#include "core/time_bucket.h"

namespace aegis::core {
namespace {

constexpr int64_t kSecond = kMicrosPerSecond;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;

struct Points {
  std::vector<Timestamp> ts;
  std::vector<double> values;
};

// A counter with resets and irregular spacing, or a gauge.
Points MakePoints(bool counter, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Points p;
  Timestamp t = 1000 * kHour + 7 * kSecond;
  double v = 100;
  for (size_t i = 0; i < n; ++i) {
    t += (5 + static_cast<int64_t>(rng() % 40)) * kSecond;
    if (counter) v = (rng() % 50 == 0) ? static_cast<double>(rng() % 10) : v + static_cast<double>(rng() % 7);
    else v = std::round((v + (static_cast<double>(rng() % 2001) - 1000.0) / 100.0) * 100.0) / 100.0;
    p.ts.push_back(t);
    p.values.push_back(v);
  }
  return p;
}

TimeBucketer Step(int64_t micros) { return TimeBucketer(Interval{0, 0, micros}); }

std::vector<BucketValue> OverPoints(AggregateKind kind, const Points& p, int64_t query_step) {
  BucketAggregator agg(AggregateFn{kind, 0.5}, Step(query_step), kTimestampMinValid, kTimestampEndValid);
  agg.BeginSeries();
  agg.AddSeriesPoints(p.ts.data(), p.values.data(), p.ts.size());
  return agg.Finish(Fill{});
}

std::vector<BucketValue> OverSteps(AggregateKind kind, const std::vector<StepSummary>& steps, int64_t query_step) {
  BucketAggregator agg(AggregateFn{kind, 0.5}, Step(query_step), kTimestampMinValid, kTimestampEndValid);
  agg.BeginSeries();
  for (const StepSummary& s : steps) agg.AddStep(s);
  return agg.Finish(Fill{});
}

void ExpectSame(const std::vector<BucketValue>& want, const std::vector<BucketValue>& got, AggregateKind kind) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(want[i].bucket, got[i].bucket);
    EXPECT_EQ(want[i].is_null, got[i].is_null);
    if (want[i].is_null) continue;
    const double tolerance = 1e-9 * std::max(1.0, std::fabs(want[i].value));
    EXPECT_NEAR(want[i].value, got[i].value, tolerance) << "fn " << static_cast<int>(kind) << " bucket " << i;
  }
}

const AggregateKind kStepKinds[] = {AggregateKind::kCount, AggregateKind::kSum,      AggregateKind::kMin,
                                    AggregateKind::kMax,   AggregateKind::kAvg,      AggregateKind::kFirst,
                                    AggregateKind::kLast,  AggregateKind::kStddev,   AggregateKind::kVariance,
                                    AggregateKind::kDelta, AggregateKind::kIncrease, AggregateKind::kRate,
                                    AggregateKind::kSampleDelta, AggregateKind::kSampleIncrease,
                                    AggregateKind::kSampleRate};

TEST(RollupTest, StepsAnswerEveryFunctionLikeThePoints) {
  for (bool counter : {false, true}) {
    const Points p = MakePoints(counter, 5000, counter ? 7 : 11);
    const std::vector<StepSummary> five = SummarizeSteps(Step(5 * kMinute), p.ts.data(), p.values.data(), p.ts.size());
    const std::vector<StepSummary> hourly = RegroupSteps(five, Step(kHour));
    for (AggregateKind kind : kStepKinds) {
      // Query steps that are whole multiples of the stored ones.
      ExpectSame(OverPoints(kind, p, 5 * kMinute), OverSteps(kind, five, 5 * kMinute), kind);
      ExpectSame(OverPoints(kind, p, kHour), OverSteps(kind, five, kHour), kind);
      ExpectSame(OverPoints(kind, p, kHour), OverSteps(kind, hourly, kHour), kind);
      ExpectSame(OverPoints(kind, p, 24 * kHour), OverSteps(kind, hourly, 24 * kHour), kind);
    }
  }
}

TEST(RollupTest, RegroupingEqualsSummarizingAtTheCoarserStep) {
  const Points p = MakePoints(true, 3000, 3);
  const std::vector<StepSummary> direct = SummarizeSteps(Step(kHour), p.ts.data(), p.values.data(), p.ts.size());
  const std::vector<StepSummary> regrouped =
      RegroupSteps(SummarizeSteps(Step(kMinute), p.ts.data(), p.values.data(), p.ts.size()), Step(kHour));
  ASSERT_EQ(direct.size(), regrouped.size());
  for (size_t i = 0; i < direct.size(); ++i) {
    EXPECT_EQ(direct[i].bucket, regrouped[i].bucket);
    EXPECT_EQ(direct[i].count, regrouped[i].count);
    EXPECT_EQ(direct[i].first_ts, regrouped[i].first_ts);
    EXPECT_EQ(direct[i].last_ts, regrouped[i].last_ts);
    EXPECT_EQ(direct[i].min, regrouped[i].min);
    EXPECT_EQ(direct[i].max, regrouped[i].max);
    EXPECT_EQ(direct[i].first, regrouped[i].first);
    EXPECT_EQ(direct[i].last, regrouped[i].last);
    EXPECT_EQ(direct[i].resets, regrouped[i].resets);
    EXPECT_NEAR(direct[i].sum, regrouped[i].sum, 1e-9 * std::fabs(direct[i].sum));
    EXPECT_NEAR(direct[i].sxx, regrouped[i].sxx, 1e-9 * std::max(1.0, std::fabs(direct[i].sxx)));
  }
}

TEST(RollupTest, LatePointsCombineIntoTheirStep) {
  const Points p = MakePoints(false, 400, 5);
  Points early;
  Points late;
  for (size_t i = 0; i < p.ts.size(); ++i) {
    Points& into = (i % 3 == 0) ? late : early;
    into.ts.push_back(p.ts[i]);
    into.values.push_back(p.values[i]);
  }
  const std::vector<StepSummary> merged =
      MergeSteps(SummarizeSteps(Step(kHour), early.ts.data(), early.values.data(), early.ts.size()),
                 SummarizeSteps(Step(kHour), late.ts.data(), late.values.data(), late.ts.size()));
  for (AggregateKind kind : {AggregateKind::kCount, AggregateKind::kSum, AggregateKind::kMin, AggregateKind::kMax,
                             AggregateKind::kFirst, AggregateKind::kLast, AggregateKind::kStddev})
    ExpectSame(OverPoints(kind, p, kHour), OverSteps(kind, merged, kHour), kind);
}

TEST(RollupTest, OverflowIsReportedWhenRead) {
  const Timestamp ts[] = {kHour, kHour + kSecond};
  const double values[] = {1.5e308, 1.5e308};
  const std::vector<StepSummary> steps = SummarizeSteps(Step(kHour), ts, values, 2);
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_TRUE(std::isinf(steps[0].sum));
  for (AggregateKind kind : {AggregateKind::kSum, AggregateKind::kAvg, AggregateKind::kStddev}) {
    try {
      OverSteps(kind, steps, kHour);
      ADD_FAILURE() << "expected an overflow";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::NumericOutOfRange);
    }
  }
  // min, max and count still answer.
  EXPECT_EQ(OverSteps(AggregateKind::kCount, steps, kHour)[0].value, 2.0);
}

TEST(RollupTest, MedianOverStepsIsRefused) {
  const Points p = MakePoints(false, 10, 1);
  const std::vector<StepSummary> steps = SummarizeSteps(Step(kHour), p.ts.data(), p.values.data(), p.ts.size());
  try {
    OverSteps(AggregateKind::kMedian, steps, kHour);
    ADD_FAILURE() << "expected a refusal";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::NotSupported);
  }
}

TEST(RollupTest, BlocksRoundTripEveryField) {
  Points p = MakePoints(true, 2000, 9);
  p.values[10] = std::numeric_limits<double>::quiet_NaN();
  p.values[20] = -std::numeric_limits<double>::infinity();
  const std::vector<StepSummary> steps =
      SummarizeSteps(Step(5 * kMinute), p.ts.data(), p.values.data(), p.ts.size());
  const std::vector<uint8_t> block = EncodeRollupBlock(5 * kMinute, steps.data(), steps.size());
  std::vector<StepSummary> back;
  EXPECT_EQ(DecodeRollupBlock(block.data(), block.size(), &back), 5 * kMinute);
  ASSERT_EQ(back.size(), steps.size());
  for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(std::memcmp(&back[i], &steps[i], sizeof(StepSummary)), 0) << i;
  // Far smaller than ten 8-byte columns.
  EXPECT_LT(block.size(), steps.size() * 40);
}

TEST(RollupTest, DecodingOnlyTheColumnsAFunctionReadsGivesTheSameResult) {
  for (bool counter : {false, true}) {
    const Points p = MakePoints(counter, 3000, counter ? 21 : 22);
    const std::vector<StepSummary> steps =
        SummarizeSteps(Step(5 * kMinute), p.ts.data(), p.values.data(), p.ts.size());
    const std::vector<uint8_t> block = EncodeRollupBlock(5 * kMinute, steps.data(), steps.size());
    for (AggregateKind kind : kStepKinds) {
      std::vector<StepSummary> some;
      DecodeRollupBlock(block.data(), block.size(), &some, AggregateFn{kind, 0.5}.RollupColumns());
      ASSERT_EQ(some.size(), steps.size());
      const std::vector<BucketValue> want = OverSteps(kind, steps, kHour);
      const std::vector<BucketValue> got = OverSteps(kind, some, kHour);
      ASSERT_EQ(want.size(), got.size());
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(want[i].bucket, got[i].bucket);
        EXPECT_EQ(want[i].is_null, got[i].is_null);
        if (!want[i].is_null) {
          EXPECT_EQ(want[i].value, got[i].value) << static_cast<int>(kind) << " " << i;
        }
      }
    }
  }
}

TEST(RollupTest, DamagedBlocksAreRefused) {
  const Points p = MakePoints(false, 500, 2);
  const std::vector<StepSummary> steps = SummarizeSteps(Step(kMinute), p.ts.data(), p.values.data(), p.ts.size());
  const std::vector<uint8_t> block = EncodeRollupBlock(kMinute, steps.data(), steps.size());
  std::vector<StepSummary> out;
  for (size_t cut = 0; cut < block.size(); cut += 7) {
    EXPECT_THROW(DecodeRollupBlock(block.data(), cut, &out), Error) << cut;
  }
  for (size_t at = 0; at < block.size(); at += 3) {
    std::vector<uint8_t> bad = block;
    bad[at] ^= 0x10;
    try {
      DecodeRollupBlock(bad.data(), bad.size(), &out);
      ADD_FAILURE() << "a flipped bit at " << at << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::DataCorrupted) << at;
    }
  }
  EXPECT_TRUE(out.empty());
  EXPECT_THROW(EncodeRollupBlock(kMinute, steps.data(), 0), Error);
}

}  // namespace
}  // namespace aegis::core

namespace aegis::core {
namespace {

// SummarizeRun and CounterRun::Add sum the value before each drop without a
// branch (KeepIf): the same bits as adding it only at a drop, over noisy
// values, NaN, infinities and signed zeros.
TEST(RollupTest, DropSumsMatchTheBranchingSum) {
  std::mt19937_64 rng(7);
  const double specials[] = {0.0, -0.0, std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN(), -1.5};
  for (int round = 0; round < 200; ++round) {
    const size_t n = 1 + rng() % 300;
    std::vector<Timestamp> ts(n);
    std::vector<double> values(n);
    for (size_t i = 0; i < n; ++i) {
      ts[i] = static_cast<Timestamp>(i) * 1000;
      values[i] = rng() % 7 == 0 ? specials[rng() % 6] : static_cast<double>(rng() % 1000) / 8.0 - 40.0;
    }
    double resets = 0;
    uint64_t drops = 0;
    for (size_t i = 1; i < n; ++i) {
      if (values[i] < values[i - 1]) {
        resets += values[i - 1];
        ++drops;
      }
    }
    const StepSummary step = SummarizeRun(ts.data(), values.data(), n);
    CounterRun run;
    run.Add(ts.data(), values.data(), n);
    EXPECT_EQ(std::memcmp(&step.resets, &resets, sizeof resets), 0) << "round " << round;
    EXPECT_EQ(std::memcmp(&run.resets, &resets, sizeof resets), 0) << "round " << round;
    EXPECT_EQ(run.reset_count, drops);
  }
  EXPECT_EQ(std::signbit(KeepIf(true, -0.0)), true);
  EXPECT_EQ(std::signbit(KeepIf(false, -2.0)), false);
  EXPECT_EQ(KeepIf(false, std::numeric_limits<double>::quiet_NaN()), 0.0);
}

}  // namespace
}  // namespace aegis::core
