// Blocks cut by size (src/core/block_cut.h): every cut fits the row size and
// fills it, holds exactly the points it says, and the fullness rule agrees
// with the cuts.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/block_codec.h"
#include "core/block_cut.h"
#include "core/segments.h"

namespace aegis::core {
namespace {

constexpr Timestamp kTenSeconds = 10'000'000;

struct Points {
  std::vector<Timestamp> ts;
  std::vector<double> values;
};

// A random walk in hundredths at 10 s: about 9 bits a point, as the
// benchmark's generated set.
Points RandomWalk(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> step(0, 100);
  Points p;
  int64_t hundredths = 5000;
  for (size_t i = 0; i < n; ++i) {
    p.ts.push_back(1'700'000'000'000'000LL + static_cast<Timestamp>(i) * kTenSeconds);
    hundredths += static_cast<int64_t>(std::llround(step(rng)));
    p.values.push_back(static_cast<double>(hundredths) / 100);
  }
  return p;
}

// Cuts all points as the store does, checking every block.
std::vector<CutBlock> CutAll(const Points& p, const BlockLimits& limits) {
  std::vector<CutBlock> blocks;
  size_t hint = 0;
  for (size_t begin = 0; begin < p.ts.size();) {
    CutBlock block = CutFirstBlock(p.ts.data() + begin, p.values.data() + begin, p.ts.size() - begin, limits, &hint);
    EXPECT_GE(block.count, 1u);
    EXPECT_EQ(hint, block.count);
    std::vector<Timestamp> ts;
    std::vector<double> values;
    DecodeBlock(block.data.data(), block.data.size(), &ts, &values);
    EXPECT_EQ(ts.size(), block.count);
    for (size_t i = 0; i < ts.size(); ++i) {
      EXPECT_EQ(ts[i], p.ts[begin + i]);
      EXPECT_EQ(std::memcmp(&values[i], &p.values[begin + i], sizeof(double)), 0);
    }
    EXPECT_EQ(block.segments,
              limits.with_segments ? EncodeSegments(p.ts.data() + begin, p.values.data() + begin, block.count)
                                   : std::vector<uint8_t>());
    begin += block.count;
    blocks.push_back(std::move(block));
  }
  return blocks;
}

TEST(BlockCut, RowsFitAndFill) {
  const Points p = RandomWalk(50'000, 7);
  BlockLimits limits;
  limits.max_points = 100'000;
  limits.max_bytes = kDefaultBlockMaxBytes;
  const std::vector<CutBlock> blocks = CutAll(p, limits);
  ASSERT_GT(blocks.size(), 10u);
  for (size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_LE(blocks[i].RowBytes(), kDefaultBlockMaxBytes);
    if (i + 1 < blocks.size()) {
      EXPECT_GE(blocks[i].RowBytes() * 32, kDefaultBlockMaxBytes * 31) << "block " << i;
      EXPECT_TRUE(BlockIsFull(blocks[i].count, blocks[i].data.size() + blocks[i].segments.size(), limits));
    }
  }
  // About 3,300 points a block at 9 bits a point.
  EXPECT_GT(blocks[0].count, 2500u);
}

TEST(BlockCut, PointCountStillCaps) {
  const Points p = RandomWalk(5'000, 8);
  BlockLimits limits;
  limits.max_points = 700;
  limits.max_bytes = kDefaultBlockMaxBytes;
  for (const CutBlock& block : CutAll(p, limits)) EXPECT_LE(block.count, 700u);
}

TEST(BlockCut, ZeroBytesCutsByPointsAlone) {
  const Points p = RandomWalk(2'500, 9);
  BlockLimits limits;
  limits.max_points = 1000;
  limits.max_bytes = 0;
  limits.with_segments = false;
  const std::vector<CutBlock> blocks = CutAll(p, limits);
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[0].count, 1000u);
  EXPECT_EQ(blocks[1].count, 1000u);
  EXPECT_EQ(blocks[2].count, 500u);
  EXPECT_TRUE(blocks[2].segments.empty());
}

// Density changing inside the points (constant values, then random doubles
// of 64 bits each): the proportional guess overshoots, and the cut still
// fits.
TEST(BlockCut, ChangingDensity) {
  Points p;
  std::mt19937_64 rng(10);
  for (size_t i = 0; i < 40'000; ++i) {
    p.ts.push_back(static_cast<Timestamp>(i) * kTenSeconds);
    double v = 1.5;
    if (i >= 20'000) {
      const uint64_t bits = (rng() & ~(0x7FFull << 52)) | (0x3FFull << 52);  // finite, in [1, 2)
      std::memcpy(&v, &bits, sizeof v);
    }
    p.values.push_back(v);
  }
  for (const size_t max_bytes : {kMinBlockMaxBytes, size_t{1024}, kDefaultBlockMaxBytes, size_t{8160}}) {
    BlockLimits limits;
    limits.max_points = 1'000'000;
    limits.max_bytes = max_bytes;
    const std::vector<CutBlock> blocks = CutAll(p, limits);
    size_t short_blocks = 0;
    for (size_t i = 0; i < blocks.size(); ++i) {
      EXPECT_LE(blocks[i].RowBytes(), max_bytes);
      if (i + 1 < blocks.size())
        short_blocks += !BlockIsFull(blocks[i].count, blocks[i].data.size() + blocks[i].segments.size(), limits);
    }
    // As long as fits: every block but the last is full, except where the
    // density changes (one block).
    EXPECT_LE(short_blocks, 1u) << max_bytes << " bytes, " << blocks.size() << " blocks";
  }
}

TEST(BlockCut, OnePoint) {
  const Points p = RandomWalk(1, 11);
  BlockLimits limits;
  limits.max_bytes = kMinBlockMaxBytes;
  size_t hint = 0;
  const CutBlock block = CutFirstBlock(p.ts.data(), p.values.data(), 1, limits, &hint);
  EXPECT_EQ(block.count, 1u);
  EXPECT_EQ(CutFirstBlock(p.ts.data(), p.values.data(), 0, limits, &hint).count, 0u);
}

TEST(BlockCut, Fullness) {
  BlockLimits limits;
  limits.max_points = 1000;
  limits.max_bytes = 4080;
  const size_t full = FullBlockPayloadBytes(limits);
  EXPECT_EQ(full, (4080 - kBlockRowOverhead) - (4080 - kBlockRowOverhead) / 16);
  // Every cut that fills enough is full.
  EXPECT_LE(full + kBlockRowOverhead, 4080u * 31 / 32);
  EXPECT_TRUE(BlockIsFull(1000, 10, limits));
  EXPECT_TRUE(BlockIsFull(10, full, limits));
  EXPECT_FALSE(BlockIsFull(999, full - 1, limits));
  limits.max_bytes = 0;
  EXPECT_FALSE(BlockIsFull(999, 1'000'000, limits));
}

// A merge rewrites a run only when its points and bytes fit fewer blocks.
TEST(BlockCut, RunShrinks) {
  BlockLimits limits;
  limits.max_points = 1000;
  limits.max_bytes = 4080;
  const size_t room = MergeRoomBytes(limits);
  EXPECT_EQ(room, (4080 - kBlockRowOverhead) * 15 / 16);
  EXPECT_FALSE(RunShrinks(1, 10, 10, limits));
  EXPECT_TRUE(RunShrinks(2, 1000, room, limits));
  EXPECT_FALSE(RunShrinks(2, 1001, room, limits));      // too many points for one block
  EXPECT_FALSE(RunShrinks(2, 1000, room + 1, limits));  // too many bytes
  EXPECT_TRUE(RunShrinks(3, 1800, 2 * room, limits));   // three blocks at 60% make two
  limits.max_bytes = 0;
  EXPECT_TRUE(RunShrinks(2, 1000, 1'000'000, limits));
}

}  // namespace
}  // namespace aegis::core
