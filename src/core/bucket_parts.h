// Per-bucket summaries of a series' points, as a shard hands them to the
// coordinator under Citus (the aggregate aegis._bucket_parts,
// docs/scale-out.md): the summaries of each block and of the recent rows,
// packed into one bytea per series; combined per bucket on the shard, or,
// for the functions that need each part in time order (stddev, variance,
// the counter functions), kept apart with each part's Sxx and counter state.
//
// Layout (little-endian): u32 magic "AEBP", u32 kind (0 combined, 1 parts,
// 2 too large: no entries, the series' summaries would pass a bytea's 1 GB),
// u32 entry count n, then n entries: bucket, ts_min, ts_max (i64
// microseconds), count (u64), min, max, sum, first, last (IEEE-754 binary64
// bits), 72 bytes; a part adds sxx, resets (binary64), reset_count,
// changes (u64), previous_ts (i64) and previous (binary64), 120 bytes. The
// top bit of count is the entry's `overflowed` flag (counts stay below
// 2^63), the next bit its `moments_overflowed` flag.
// Combined entries are in ascending bucket order; parts in the order made. A
// pack of any other size, magic, kind, order or count is DataCorrupted.
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
  // Parts only: the points' Sxx (float8_accum's) and counter state
  // (CounterRun's).
  double sxx = 0;
  double resets = 0;
  uint64_t reset_count = 0;
  uint64_t changes = 0;
  Timestamp previous_ts = 0;
  double previous = 0;
  // Combining only (not packed): a stored block or segment summary, whose
  // own overflowed sum is an overflow as AggregateState::AddSummary says;
  // else points, whose sum one node adds to the bucket's point by point.
  bool stored = false;
  // Points: adding them one by one from the first overflowed (float8pl:
  // finite operands, infinite result; PointsSumOverflows). A combined entry:
  // that happened to one of its parts while the sum of the pack's parts of
  // the bucket before it was finite. Either way one node raises sum's
  // overflow there unless the bucket's running sum (from other packs,
  // folded before) is already infinite or NaN (SumOverflow::kIfRunningFinite).
  bool overflowed = false;
  // Points: float8_accum's update over them from the first (avg's state)
  // overflowed (PointsMomentsOverflow); a combined entry: that happened to
  // one of its parts while the pack's running sum of the bucket before it
  // was finite. avg raises its overflow there as `overflowed` says.
  bool moments_overflowed = false;
};

// Whether adding values[0..n) one by one, as float8pl does, overflows at
// some point (finite operands, infinite result); sum is their sum (left to
// right): a finite sum never did.
bool PointsSumOverflows(const double* values, size_t n, double sum);

// Whether float8_accum's update over values[0..n), from an empty state,
// raises its overflow (finite inputs, infinite Sx or Sxx), as avg over them
// does (AggregateState::AddMoments). Values of magnitude at most 1e100 never
// do, which is checked first.
bool PointsMomentsOverflow(const double* values, size_t n);

constexpr uint32_t kBucketPartsMagic = 0x50424541;  // "AEBP"
constexpr size_t kBucketPartsHeader = 12;
constexpr size_t kBucketPartBytes = 72;   // combined
constexpr size_t kBucketPartFullBytes = 120;  // parts

// Combines the parts of each bucket into one, in ascending bucket order.
// Parts of one bucket combine in time order (by first time, then as given):
// count and sum add up (sum with float8pl's overflow rule; a stored part
// whose own sum overflowed from finite values an overflow too, points that
// overflowed the entry's `overflowed` flag, judged by the coordinator
// against the bucket's running sum; left 0 without sums: the functions
// that never read it must not fail on it), min and max in float8 order,
// first from the earliest time, last from the latest (the earlier on a
// tie, as aegis.first and aegis.last keep them).
std::vector<BucketPart> CombineBucketParts(std::vector<BucketPart> parts, bool sums);

// The packed form of entries: summaries combined by CombineBucketParts, or
// with parts, each part with its Sxx and counter state.
std::vector<uint8_t> PackBucketParts(const std::vector<BucketPart>& entries, bool parts);

// The entries of a pack of the kind asked for, checked (DataCorrupted when
// it is malformed or of the other kind).
std::vector<BucketPart> UnpackBucketParts(const uint8_t* data, size_t size, bool parts);

// The pack that stands for a series whose summaries would pass a bytea's
// 1 GB, and whether a pack is that one.
std::vector<uint8_t> PackTooLarge();
bool IsPackTooLarge(const uint8_t* data, size_t size);

}  // namespace aegis::core
