#include "core/packed_batch.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/error.h"

namespace aegis::core {
namespace {

std::vector<uint8_t> Encode(const std::vector<int64_t>& ids, const std::vector<SeriesPoints>& points) {
  std::vector<const SeriesPoints*> refs;
  size_t total = 0;
  for (const SeriesPoints& p : points) {
    refs.push_back(&p);
    total += p.size();
  }
  std::vector<uint8_t> out(PackedBatchSize(ids.size(), total));
  EncodePackedBatch(ids.data(), refs.data(), ids.size(), out.data());
  return out;
}

SeriesPoints Points(std::initializer_list<std::pair<Timestamp, double>> list) {
  SeriesPoints p;
  for (const auto& [t, v] : list) p.push_back(t, v);
  return p;
}

TEST(PackedBatch, RoundTripsAndFindsSeries) {
  const std::vector<int64_t> ids = {3, 7, 1000000000000};
  const std::vector<SeriesPoints> points = {Points({{10, 1.5}, {20, -0.0}}), Points({{5, 7}}),
                                            Points({{-100, 1e300}, {0, 2}, {100, 3}})};
  const std::vector<uint8_t> bytes = Encode(ids, points);
  PackedBatchView view(bytes.data(), bytes.size());
  ASSERT_EQ(view.series(), 3u);
  ASSERT_EQ(view.points(), 6u);
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(view.Find(ids[i]), i);
    SeriesPoints got;
    view.AppendRange(i, kTimestampMinusInfinity, kTimestampInfinity, &got);
    EXPECT_EQ(got.ts, points[i].ts);
    ASSERT_EQ(got.values.size(), points[i].values.size());
    for (size_t k = 0; k < got.values.size(); ++k)
      EXPECT_EQ(std::memcmp(&got.values[k], &points[i].values[k], sizeof(double)), 0);
  }
  EXPECT_EQ(view.Find(4), view.series());
  EXPECT_EQ(view.Find(-1), view.series());
  SeriesPoints cut;
  view.AppendRange(2, 0, 100, &cut);  // [0, 100)
  EXPECT_EQ(cut.ts, std::vector<Timestamp>({0}));
}

TEST(PackedBatch, EmptyBatchIsValid) {
  const std::vector<uint8_t> bytes = Encode({}, {});
  PackedBatchView view(bytes.data(), bytes.size());
  EXPECT_EQ(view.series(), 0u);
  EXPECT_EQ(view.Find(1), 0u);
}

// Every single-byte change and every truncation is DataCorrupted.
TEST(PackedBatch, DamageIsDataCorrupted) {
  const std::vector<uint8_t> bytes = Encode({1, 2}, {Points({{1, 1}, {2, 2}}), Points({{1, 3}})});
  for (size_t at = 0; at < bytes.size(); ++at) {
    std::vector<uint8_t> bad = bytes;
    bad[at] ^= 0x5a;
    try {
      PackedBatchView view(bad.data(), bad.size());
      ADD_FAILURE() << "byte " << at << " changed, still accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::DataCorrupted);
    }
  }
  for (size_t size = 0; size < bytes.size(); ++size) {
    try {
      PackedBatchView view(bytes.data(), size);
      ADD_FAILURE() << "cut to " << size << " bytes, still accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::DataCorrupted);
    }
  }
}

}  // namespace
}  // namespace aegis::core
