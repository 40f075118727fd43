#include "bucket_parts.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "byte_io.h"
#include "error.h"
#include "float8.h"

namespace aegis::core {

namespace {

uint64_t Bits(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}

double FromBits(uint64_t bits) {
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

[[noreturn]] void ThrowMalformed(const std::string& detail) {
  throw Error(ErrorCategory::DataCorrupted, "malformed bucket summaries from a shard", detail);
}

}  // namespace

std::vector<BucketPart> CombineBucketParts(std::vector<BucketPart> parts, bool sums) {
  std::stable_sort(parts.begin(), parts.end(),
                   [](const BucketPart& a, const BucketPart& b) { return a.bucket < b.bucket; });
  std::vector<BucketPart> combined;
  for (BucketPart& part : parts) {
    if (part.count == 0) continue;
    if (!sums) part.sum = 0;
    if (combined.empty() || combined.back().bucket != part.bucket) {
      combined.push_back(part);
      continue;
    }
    BucketPart& into = combined.back();
    into.count += part.count;
    if (sums) into.sum = Float8Pl(into.sum, part.sum);
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

std::vector<uint8_t> PackBucketParts(const std::vector<BucketPart>& combined) {
  std::vector<uint8_t> out;
  out.reserve(kBucketPartsHeader + combined.size() * kBucketPartBytes);
  ByteWriter w(&out);
  w.U32(kBucketPartsMagic);
  w.U32(static_cast<uint32_t>(combined.size()));
  for (const BucketPart& p : combined) {
    w.U64(static_cast<uint64_t>(p.bucket));
    w.U64(static_cast<uint64_t>(p.ts_min));
    w.U64(static_cast<uint64_t>(p.ts_max));
    w.U64(p.count);
    for (double v : {p.min, p.max, p.sum, p.first, p.last}) w.U64(Bits(v));
  }
  return out;
}

std::vector<BucketPart> UnpackBucketParts(const uint8_t* data, size_t size) {
  if (size < kBucketPartsHeader) ThrowMalformed("The pack is " + std::to_string(size) + " bytes, shorter than its header.");
  ByteReader r(data, size);
  if (r.U32("magic") != kBucketPartsMagic) ThrowMalformed("The pack does not start with its magic.");
  const uint64_t n = r.U32("count");
  if (r.Remaining() != n * kBucketPartBytes)
    ThrowMalformed("The pack holds " + std::to_string(r.Remaining()) + " bytes of entries for " + std::to_string(n) +
                   " entries of " + std::to_string(kBucketPartBytes) + ".");
  std::vector<BucketPart> parts(static_cast<size_t>(n));
  for (BucketPart& p : parts) {
    p.bucket = static_cast<Timestamp>(r.U64("bucket"));
    p.ts_min = static_cast<Timestamp>(r.U64("ts_min"));
    p.ts_max = static_cast<Timestamp>(r.U64("ts_max"));
    p.count = r.U64("count");
    double* const values[] = {&p.min, &p.max, &p.sum, &p.first, &p.last};
    for (double* v : values) *v = FromBits(r.U64("value"));
    if (p.count == 0 || p.ts_max < p.ts_min || p.ts_min < p.bucket)
      ThrowMalformed("An entry's count or times are inconsistent.");
    if (&p != &parts[0] && (&p)[-1].bucket >= p.bucket) ThrowMalformed("The entries are not in ascending bucket order.");
  }
  return parts;
}

}  // namespace aegis::core
