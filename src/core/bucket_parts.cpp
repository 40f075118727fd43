#include "bucket_parts.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "bit_patterns.h"
#include "byte_io.h"
#include "error.h"
#include "float8.h"

namespace aegis::core {

namespace {

[[noreturn]] void ThrowMalformed(const std::string& detail) {
  throw Error(ErrorCategory::DataCorrupted, "malformed bucket summaries from a shard", detail);
}

}  // namespace

bool PointsSumOverflows(const double* values, size_t n, double sum) {
  if (std::isfinite(sum) || n == 0) return false;
  double running = values[0];
  for (size_t i = 1; i < n; ++i) {
    const double next = running + values[i];
    if (std::isinf(next) && std::isfinite(running) && std::isfinite(values[i])) return true;
    running = next;
  }
  return false;
}

bool PointsMomentsOverflow(const double* values, size_t n) {
  bool modest = true;
  for (size_t i = 0; i < n; ++i) modest &= std::fabs(values[i]) <= kModestMagnitude;  // false for NaN
  if (modest) return false;
  double count = 0;
  double sx = 0;
  double sxx = 0;
  for (size_t i = 0; i < n; ++i)
    if (!Float8AccumStep(values[i], &count, &sx, &sxx)) return true;
  return false;
}

namespace {

constexpr uint64_t kOverflowedBit = uint64_t{1} << 63;
constexpr uint64_t kMomentsOverflowedBit = uint64_t{1} << 62;

}  // namespace

std::vector<BucketPart> CombineBucketParts(std::vector<BucketPart> parts, bool sums) {
  // In time order within a bucket, as one node folds a series' blocks: the
  // same sums in the same order where the parts do not overlap, and the
  // same value kept on a tie.
  std::stable_sort(parts.begin(), parts.end(), [](const BucketPart& a, const BucketPart& b) {
    return a.bucket != b.bucket ? a.bucket < b.bucket : a.ts_min < b.ts_min;
  });
  std::vector<BucketPart> combined;
  for (BucketPart& part : parts) {
    if (part.count == 0) continue;
    const bool first_of_bucket = combined.empty() || combined.back().bucket != part.bucket;
    // A part whose own sum overflowed raised the overflow on one node: a
    // stored summary always (AggregateState::AddSummary's rule: an infinite
    // sum of finite values), points while the bucket's running sum is finite
    // (AddPoints adds them one by one). Checked per part, before an infinite
    // value elsewhere in the bucket hides it. For points, the running sum
    // includes what the coordinator folds before this pack (the series'
    // other arm, the group's earlier series): it judges the flag.
    bool overflowed = false;
    bool moments_overflowed = false;
    if (sums && part.stored && std::isinf(part.sum) && std::isfinite(part.min) && std::isfinite(part.max))
      ThrowFloat8Overflow();
    if (sums && !part.stored) {
      const bool running_finite = first_of_bucket || std::isfinite(combined.back().sum);
      overflowed = part.overflowed && running_finite;
      moments_overflowed = part.moments_overflowed && running_finite;
    }
    if (!sums) part.sum = 0;
    if (first_of_bucket) {
      combined.push_back(part);
      combined.back().overflowed = overflowed;
      combined.back().moments_overflowed = moments_overflowed;
      continue;
    }
    BucketPart& into = combined.back();
    into.overflowed = into.overflowed || overflowed;
    into.moments_overflowed = into.moments_overflowed || moments_overflowed;
    into.count += part.count;
    if (sums) {
      // float8pl without its error: where two finite sums overflow, the
      // entry says so and the coordinator judges it against the bucket's
      // running sum from what it folded before (another series of the
      // group, the series' other arm).
      const double sum = into.sum + part.sum;
      if (std::isinf(sum) && std::isfinite(into.sum) && std::isfinite(part.sum)) into.overflowed = true;
      into.sum = sum;
    }
    into.min = Float8Smaller(into.min, part.min);
    into.max = Float8Larger(into.max, part.max);
    if (part.ts_min < into.ts_min) {
      into.ts_min = part.ts_min;
      into.first = part.first;
    }
    if (part.ts_max > into.ts_max) {
      into.ts_max = part.ts_max;
      into.last = part.last;
    }
  }
  return combined;
}

std::vector<uint8_t> PackBucketParts(const std::vector<BucketPart>& entries, bool parts) {
  std::vector<uint8_t> out;
  out.reserve(kBucketPartsHeader + entries.size() * (parts ? kBucketPartFullBytes : kBucketPartBytes));
  ByteWriter w(&out);
  w.U32(kBucketPartsMagic);
  w.U32(parts ? 1 : 0);
  w.U32(static_cast<uint32_t>(entries.size()));
  for (const BucketPart& p : entries) {
    w.U64(static_cast<uint64_t>(p.bucket));
    w.U64(static_cast<uint64_t>(p.ts_min));
    w.U64(static_cast<uint64_t>(p.ts_max));
    w.U64(p.count | (p.overflowed ? kOverflowedBit : 0) | (p.moments_overflowed ? kMomentsOverflowedBit : 0));
    for (double v : {p.min, p.max, p.sum, p.first, p.last}) w.U64(DoubleBits(v));
    if (!parts) continue;
    w.U64(DoubleBits(p.sxx));
    w.U64(DoubleBits(p.resets));
    w.U64(p.reset_count);
    w.U64(p.changes);
    w.U64(static_cast<uint64_t>(p.previous_ts));
    w.U64(DoubleBits(p.previous));
  }
  return out;
}

std::vector<uint8_t> PackTooLarge() {
  std::vector<uint8_t> out;
  ByteWriter w(&out);
  w.U32(kBucketPartsMagic);
  w.U32(2);
  w.U32(0);
  return out;
}

bool IsPackTooLarge(const uint8_t* data, size_t size) {
  if (size != kBucketPartsHeader) return false;
  ByteReader r(data, size);
  return r.U32("magic") == kBucketPartsMagic && r.U32("kind") == 2 && r.U32("count") == 0;
}

std::vector<BucketPart> UnpackBucketParts(const uint8_t* data, size_t size, bool parts) {
  if (size < kBucketPartsHeader) ThrowMalformed("The pack is " + std::to_string(size) + " bytes, shorter than its header.");
  ByteReader r(data, size);
  if (r.U32("magic") != kBucketPartsMagic) ThrowMalformed("The pack does not start with its magic.");
  const uint32_t kind = r.U32("kind");
  if (kind != (parts ? 1u : 0u))
    ThrowMalformed("The pack is of kind " + std::to_string(kind) + ", not " + std::to_string(parts ? 1 : 0) + ".");
  const uint64_t n = r.U32("count");
  const size_t entry = parts ? kBucketPartFullBytes : kBucketPartBytes;
  if (r.Remaining() != n * entry)
    ThrowMalformed("The pack holds " + std::to_string(r.Remaining()) + " bytes of entries for " + std::to_string(n) +
                   " entries of " + std::to_string(entry) + ".");
  std::vector<BucketPart> out(static_cast<size_t>(n));
  for (size_t i = 0; i < out.size(); ++i) {
    BucketPart& p = out[i];
    p.bucket = static_cast<Timestamp>(r.U64("bucket"));
    p.ts_min = static_cast<Timestamp>(r.U64("ts_min"));
    p.ts_max = static_cast<Timestamp>(r.U64("ts_max"));
    p.count = r.U64("count");
    p.overflowed = (p.count & kOverflowedBit) != 0;
    p.moments_overflowed = (p.count & kMomentsOverflowedBit) != 0;
    p.count &= ~(kOverflowedBit | kMomentsOverflowedBit);
    double* const values[] = {&p.min, &p.max, &p.sum, &p.first, &p.last};
    for (double* v : values) *v = BitsToDouble(r.U64("value"));
    if (parts) {
      p.sxx = BitsToDouble(r.U64("sxx"));
      p.resets = BitsToDouble(r.U64("resets"));
      p.reset_count = r.U64("reset_count");
      p.changes = r.U64("changes");
      p.previous_ts = static_cast<Timestamp>(r.U64("previous_ts"));
      p.previous = BitsToDouble(r.U64("previous"));
    }
    if (p.count == 0 || p.ts_max < p.ts_min || p.ts_min < p.bucket)
      ThrowMalformed("An entry's count or times are inconsistent.");
    if (!parts && i > 0 && out[i - 1].bucket >= p.bucket)
      ThrowMalformed("The entries are not in ascending bucket order.");
  }
  return out;
}

}  // namespace aegis::core
