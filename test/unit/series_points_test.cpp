// Tests for batch deduplication and layer merges.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "core/series_points.h"

using aegis::core::MergeNewerWins;
using aegis::core::SeriesPoints;
using aegis::core::SortAndDeduplicate;
using aegis::core::Timestamp;

namespace {

// Builds points from parallel lists.
SeriesPoints Make(std::initializer_list<Timestamp> ts, std::initializer_list<double> values) {
  SeriesPoints p;
  p.ts = ts;
  p.values = values;
  return p;
}

}  // namespace

TEST(SeriesPoints, SortKeepsLastWriteOfEachTimestamp) {
  SeriesPoints p = Make({5, 1, 5, 3, 1, 5}, {50, 10, 51, 30, 11, 52});
  SortAndDeduplicate(&p);
  EXPECT_EQ(p.ts, (std::vector<Timestamp>{1, 3, 5}));
  EXPECT_EQ(p.values, (std::vector<double>{11, 30, 52}));
}

TEST(SeriesPoints, AlreadySortedIsUnchanged) {
  SeriesPoints p = Make({1, 2, 3}, {1, 2, 3});
  SortAndDeduplicate(&p);
  EXPECT_EQ(p.ts, (std::vector<Timestamp>{1, 2, 3}));
}

TEST(SeriesPoints, MergeLetsNewerLayerWin) {
  SeriesPoints older = Make({1, 2, 3, 7}, {1, 2, 3, 7});
  SeriesPoints newer = Make({0, 2, 5, 7, 9}, {0, 20, 50, 70, 90});
  SeriesPoints merged = MergeNewerWins(older, newer);
  EXPECT_EQ(merged.ts, (std::vector<Timestamp>{0, 1, 2, 3, 5, 7, 9}));
  EXPECT_EQ(merged.values, (std::vector<double>{0, 1, 20, 3, 50, 70, 90}));
}

TEST(SeriesPoints, RandomMergeMatchesMapModel) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 200; ++round) {
    std::map<Timestamp, double> model;
    SeriesPoints older, newer;
    for (int i = 0; i < 50; ++i) older.push_back(static_cast<Timestamp>(rng() % 100) - 50, static_cast<double>(i));
    for (int i = 0; i < 30; ++i) newer.push_back(static_cast<Timestamp>(rng() % 100) - 50, 1000.0 + i);
    for (size_t i = 0; i < older.size(); ++i) model[older.ts[i]] = older.values[i];
    for (size_t i = 0; i < newer.size(); ++i) model[newer.ts[i]] = newer.values[i];
    SortAndDeduplicate(&older);
    SortAndDeduplicate(&newer);
    SeriesPoints merged = MergeNewerWins(older, newer);
    ASSERT_EQ(merged.size(), model.size());
    size_t i = 0;
    for (const auto& [t, v] : model) {
      EXPECT_EQ(merged.ts[i], t);
      EXPECT_EQ(merged.values[i], v);
      ++i;
    }
  }
}
