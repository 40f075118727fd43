// Roll-up steps: summarizing, combining, and the rollup block format
// (docs/block-format.md section 10).
#include "rollup.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "block_codec.h"
#include "byte_io.h"
#include "crc32c.h"
#include "error.h"
#include "float8.h"

namespace aegis::core {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInfinity = std::numeric_limits<double>::infinity();

// Rollup block header: magic "AR", version, column count, step count, step
// width, payload size, CRC-32C.
constexpr uint8_t kRollupMagic0 = 'A';
constexpr uint8_t kRollupMagic1 = 'R';
constexpr uint8_t kRollupVersion = 1;
constexpr size_t kRollupHeaderSize = 24;
constexpr uint8_t kRollupColumns = 10;
// Counts are stored as doubles: whole numbers up to 2^53 are exact.
constexpr double kMaxExactCount = 9007199254740992.0;

[[noreturn]] void ThrowCorruptRollup(const std::string& detail) {
  throw Error(ErrorCategory::DataCorrupted, "corrupt rollup block", detail);
}

// The state float8_accum leaves after one value.
void StartMoments(double value, StepSummary* s) {
  s->sum = value;
  s->sxx = std::isfinite(value) ? 0.0 : kNaN;
}

bool Less(double a, double b) { return Float8Less(a, b); }

}  // namespace

StepSummary SummarizeRun(const Timestamp* ts, const double* values, size_t n) {
  // The moments, min, max and resets on locals, which the compiler keeps in
  // registers.
  StepSummary s;
  s.bucket = ts[0];
  s.first_ts = ts[0];
  s.first = values[0];
  StartMoments(values[0], &s);
  double sum = s.sum;
  double sxx = s.sxx;
  double min = values[0];
  double max = values[0];
  double last = values[0];
  double resets = 0;
  double previous_count = 1.0;
  for (size_t j = 1; j < n; ++j) {
    const double value = values[j];
    // float8_accum's Youngs-Cramer step. Where float8_accum raises an
    // overflow error (finite inputs, infinite Sx or Sxx), Sxx becomes
    // +Infinity: the aggregates raise the error when they read the step.
    const bool overflowed = sxx == kInfinity;
    const double previous_sx = sum;
    const double count = previous_count + 1.0;
    sum += value;
    const double tmp = value * count - sum;
    double next_sxx = sxx + tmp * tmp / (count * previous_count);
    if (std::isinf(sum) || std::isinf(next_sxx)) {
      const bool overflow = !std::isinf(previous_sx) && !std::isinf(value) && !std::isnan(sxx);
      next_sxx = overflow ? kInfinity : kNaN;
    }
    sxx = overflowed ? kInfinity : next_sxx;
    // float8smaller/float8larger: a tie takes the later value.
    min = Less(min, value) ? min : value;
    max = Less(value, max) ? max : value;
    resets += KeepIf(value < last, last);  // a drop adds the value before it
    last = value;
    previous_count = count;
  }
  s.count = n;
  s.last_ts = ts[n - 1];
  s.sum = sum;
  s.sxx = sxx;
  s.min = min;
  s.max = max;
  s.last = last;
  s.resets = resets;
  return s;
}

std::vector<StepSummary> SummarizeSteps(const TimeBucketer& steps, const Timestamp* ts, const double* values,
                                        size_t n) {
  std::vector<StepSummary> out;
  size_t i = 0;
  while (i < n) {
    const Timestamp bucket = steps.BucketStart(ts[i]);
    const Timestamp next = steps.NextBucketStart(bucket);
    size_t j = i + 1;
    while (j < n && ts[j] < next) ++j;
    out.push_back(SummarizeRun(ts + i, values + i, j - i));
    out.back().bucket = bucket;
    i = j;
  }
  return out;
}

StepSummary CombineSteps(const StepSummary& a, const StepSummary& b) {
  const bool a_first = a.first_ts <= b.first_ts;
  const StepSummary& earlier = a_first ? a : b;
  const StepSummary& later = a_first ? b : a;
  StepSummary out;
  out.bucket = std::min(a.bucket, b.bucket);
  out.count = a.count + b.count;
  out.first_ts = earlier.first_ts;
  out.first = earlier.first;
  out.last_ts = later.last_ts >= earlier.last_ts ? later.last_ts : earlier.last_ts;
  out.last = later.last_ts >= earlier.last_ts ? later.last : earlier.last;
  out.min = Less(a.min, b.min) ? a.min : b.min;
  out.max = Less(b.max, a.max) ? a.max : b.max;
  // float8_combine of (N, Sx, Sxx).
  const double n1 = static_cast<double>(a.count);
  const double n2 = static_cast<double>(b.count);
  const double tmp = a.sum / n1 - b.sum / n2;
  double sxx = a.sxx + b.sxx + n1 * n2 * tmp * tmp / (n1 + n2);
  const double sum = a.sum + b.sum;
  if ((std::isinf(sxx) && !std::isinf(a.sxx) && !std::isinf(b.sxx)) ||
      (std::isinf(sum) && !std::isinf(a.sum) && !std::isinf(b.sum)) || a.sxx == kInfinity || b.sxx == kInfinity)
    sxx = kInfinity;  // float8_combine's overflow error (or one raised before), raised when read
  out.sum = sum;
  out.sxx = sxx;
  out.resets = earlier.resets + later.resets + (later.first < earlier.last ? earlier.last : 0.0);
  return out;
}

std::vector<StepSummary> RegroupSteps(const std::vector<StepSummary>& steps, const TimeBucketer& coarser) {
  std::vector<StepSummary> out;
  for (const StepSummary& step : steps) {
    const Timestamp bucket = coarser.BucketStart(step.bucket);
    if (!out.empty() && out.back().bucket == bucket) {
      out.back() = CombineSteps(out.back(), step);
      out.back().bucket = bucket;
    } else {
      out.push_back(step);
      out.back().bucket = bucket;
    }
  }
  return out;
}

std::vector<StepSummary> MergeSteps(const std::vector<StepSummary>& a, const std::vector<StepSummary>& b) {
  std::vector<StepSummary> out;
  out.reserve(a.size() + b.size());
  size_t i = 0;
  size_t j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].bucket < b[j].bucket)) {
      out.push_back(a[i++]);
    } else if (i == a.size() || b[j].bucket < a[i].bucket) {
      out.push_back(b[j++]);
    } else {
      out.push_back(CombineSteps(a[i++], b[j++]));
    }
  }
  return out;
}

std::vector<uint8_t> EncodeRollupBlock(int64_t step_micros, const StepSummary* steps, size_t n) {
  if (n == 0 || n > kMaxBlockPoints)
    throw Error(ErrorCategory::InvalidParameter, "a rollup block holds 1 to " + std::to_string(kMaxBlockPoints) +
                                                     " steps, not " + std::to_string(n));
  if (step_micros <= 0) throw Error(ErrorCategory::InvalidParameter, "a rollup step must be positive");
  std::vector<Timestamp> buckets(n);
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && steps[i].bucket <= steps[i - 1].bucket)
      throw Error(ErrorCategory::InvalidParameter, "rollup steps must be in ascending bucket order");
    buckets[i] = steps[i].bucket;
  }
  std::vector<uint8_t> out;
  ByteWriter writer(&out);
  writer.U8(kRollupMagic0);
  writer.U8(kRollupMagic1);
  writer.U8(kRollupVersion);
  writer.U8(kRollupColumns);
  writer.U32(static_cast<uint32_t>(n));
  writer.U64(static_cast<uint64_t>(step_micros));
  writer.U32(0);  // payload size, below
  writer.U32(0);  // checksum, below
  std::vector<double> column(n);
  for (uint8_t c = 0; c < kRollupColumns; ++c) {
    for (size_t i = 0; i < n; ++i) {
      const StepSummary& s = steps[i];
      switch (c) {
        case 0: column[i] = static_cast<double>(s.count); break;
        case 1: column[i] = s.sum; break;
        case 2: column[i] = s.sxx; break;
        case 3: column[i] = s.min; break;
        case 4: column[i] = s.max; break;
        case 5: column[i] = s.first; break;
        case 6: column[i] = s.last; break;
        case 7: column[i] = s.resets; break;
        case 8: column[i] = static_cast<double>(s.first_ts - s.bucket); break;
        default: column[i] = static_cast<double>(s.last_ts - s.bucket); break;
      }
    }
    const std::vector<uint8_t> block = EncodeBlock(buckets.data(), column.data(), n);
    writer.U32(static_cast<uint32_t>(block.size()));
    writer.Append(block);
  }
  const uint32_t payload = static_cast<uint32_t>(out.size() - kRollupHeaderSize);
  for (int i = 0; i < 4; ++i) out[16 + i] = static_cast<uint8_t>(payload >> (8 * i));
  const uint32_t crc = Crc32c(out.data() + kRollupHeaderSize, payload, Crc32c(out.data(), 20));
  for (int i = 0; i < 4; ++i) out[20 + i] = static_cast<uint8_t>(crc >> (8 * i));
  return out;
}

int64_t DecodeRollupBlock(const uint8_t* data, size_t size, std::vector<StepSummary>* out, uint16_t columns) {
  if (size < kRollupHeaderSize)
    ThrowCorruptRollup("The block has " + std::to_string(size) + " bytes, fewer than its header's " +
                       std::to_string(kRollupHeaderSize) + ".");
  ByteReader header(data, kRollupHeaderSize);
  const uint8_t magic0 = header.U8("the magic");
  const uint8_t magic1 = header.U8("the magic");
  if (magic0 != kRollupMagic0 || magic1 != kRollupMagic1) ThrowCorruptRollup("The block does not start with \"AR\".");
  const uint8_t version = header.U8("the version");
  if (version != kRollupVersion)
    ThrowCorruptRollup("Rollup block version " + std::to_string(version) + " is not supported (this build reads " +
                       std::to_string(kRollupVersion) + ").");
  const uint8_t column_count = header.U8("the column count");
  if (column_count != kRollupColumns)
    ThrowCorruptRollup("The block has " + std::to_string(column_count) + " columns, not " +
                       std::to_string(kRollupColumns) + ".");
  const uint32_t n = header.U32("the step count");
  const int64_t step = static_cast<int64_t>(header.U64("the step width"));
  const uint32_t payload = header.U32("the payload size");
  const uint32_t stored_crc = header.U32("the checksum");
  if (n == 0 || n > kMaxBlockPoints) ThrowCorruptRollup("The step count " + std::to_string(n) + " is out of range.");
  if (step <= 0) ThrowCorruptRollup("The step width is not positive.");
  if (payload != size - kRollupHeaderSize)
    ThrowCorruptRollup("The header gives " + std::to_string(payload) + " payload bytes; the block has " +
                       std::to_string(size - kRollupHeaderSize) + ".");
  if (Crc32c(data + kRollupHeaderSize, payload, Crc32c(data, 20)) != stored_crc)
    ThrowCorruptRollup("The checksum does not match the block's contents.");

  std::vector<StepSummary> steps;  // sized once the first column has shown n steps
  ByteReader reader(data + kRollupHeaderSize, payload);
  std::vector<Timestamp> buckets;
  std::vector<Timestamp> ts;
  std::vector<double> column;
  for (uint8_t c = 0; c < kRollupColumns; ++c) {
    const uint32_t length = reader.U32("a column length");
    const uint8_t* bytes = reader.Take(length, "a column");
    if (c > 0 && (columns & (1u << c)) == 0) {
      if (c >= 8)
        for (StepSummary& s : steps) (c == 8 ? s.first_ts : s.last_ts) = s.bucket;
      continue;
    }
    DecodeBlock(bytes, length, c == 0 ? &buckets : &ts, &column);
    if (column.size() != n)
      ThrowCorruptRollup("Column " + std::to_string(c) + " holds " + std::to_string(column.size()) + " steps, not " +
                         std::to_string(n) + ".");
    if (c > 0 && ts != buckets) ThrowCorruptRollup("Column " + std::to_string(c) + " has other step starts.");
    if (c == 0) steps.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
      StepSummary& s = steps[i];
      const double v = column[i];
      switch (c) {
        case 0:
          if (!(v >= 1.0 && v <= kMaxExactCount && v == std::floor(v)))
            ThrowCorruptRollup("Step " + std::to_string(i) + " has a point count that is not a positive whole number.");
          if (i > 0 && buckets[i] <= buckets[i - 1]) ThrowCorruptRollup("The step starts are not ascending.");
          if (buckets[i] > kTimestampEndValid - step || buckets[i] < kTimestampMinValid)
            ThrowCorruptRollup("A step start is out of range.");
          s.bucket = buckets[i];
          s.count = static_cast<uint64_t>(v);
          break;
        case 1: s.sum = v; break;
        case 2: s.sxx = v; break;
        case 3: s.min = v; break;
        case 4: s.max = v; break;
        case 5: s.first = v; break;
        case 6: s.last = v; break;
        case 7: s.resets = v; break;
        default: {
          if (!(v >= 0.0 && v < static_cast<double>(step) && v == std::floor(v)))
            ThrowCorruptRollup("Step " + std::to_string(i) + " has a point time outside its step.");
          const Timestamp at = s.bucket + static_cast<Timestamp>(v);
          if (c == 8) {
            s.first_ts = at;
          } else {
            if (at < s.first_ts && (columns & kRollupFirstTime) != 0)
              ThrowCorruptRollup("Step " + std::to_string(i) + " ends before it starts.");
            s.last_ts = at;
          }
          break;
        }
      }
    }
  }
  if (reader.Remaining() != 0) ThrowCorruptRollup("The block has bytes after its last column.");
  out->insert(out->end(), steps.begin(), steps.end());
  return step;
}

}  // namespace aegis::core
