// Per-bucket summaries of a series' points, as a shard hands them to the
// coordinator under Citus (aegis._bucket_parts, docs/scale-out.md): the
// summaries of each block and of the recent rows, combined per bucket on the
// shard and packed into one bytea per series.
//
// Layout (little-endian): u32 magic "AEBP", u32 entry count n, then n
// entries of 72 bytes in ascending bucket order: bucket, ts_min, ts_max (i64
// microseconds), count (u64), min, max, sum, first, last (IEEE-754 binary64
// bits). A pack of any other size, magic, order or count is DataCorrupted.
#pragma once
#include "cpp_only.h"

#include <cstddef>
#include <cstdint>
#include <vector>

#include "types.h"

namespace aegis::core {

// The summary of a bucket's points (or of a part of them).
struct BucketPart {
  Timestamp bucket = 0;
  Timestamp ts_min = 0;  // first time
  Timestamp ts_max = 0;  // last time
  uint64_t count = 0;
  double min = 0;
  double max = 0;
  double sum = 0;
  double first = 0;  // value at ts_min
  double last = 0;   // value at ts_max
};

constexpr uint32_t kBucketPartsMagic = 0x50424541;  // "AEBP"
constexpr size_t kBucketPartsHeader = 8;
constexpr size_t kBucketPartBytes = 72;

// Combines the parts of each bucket into one, in ascending bucket order.
// Parts of one bucket combine in the order given (a stable sort): count and
// sum add up (sum with float8pl's overflow rule, and left 0 without sums:
// the functions that never read it must not fail on it), min and max in
// float8 order, first from the earliest time, last from the latest (the
// earlier given on a tie, as aegis.first and aegis.last keep them).
std::vector<BucketPart> CombineBucketParts(std::vector<BucketPart> parts, bool sums);

// The packed form of parts combined by CombineBucketParts.
std::vector<uint8_t> PackBucketParts(const std::vector<BucketPart>& combined);

// The parts of a pack, checked (DataCorrupted when it is malformed).
std::vector<BucketPart> UnpackBucketParts(const uint8_t* data, size_t size);

}  // namespace aegis::core
