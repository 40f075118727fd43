// Segment summaries of a block (segments.h; docs/block-format.md section 11).
#include "segments.h"

#include <cmath>
#include <cstring>
#include <string>

#include "block_codec.h"
#include "byte_io.h"
#include "crc32c.h"
#include "error.h"

namespace aegis::core {

namespace {

using Int128 = __int128;

constexpr uint8_t kSegmentsVersion = 1;
// Value mode byte: a decimal exponent 0..kMaxSegmentExponent, or raw doubles.
constexpr uint8_t kRawValues = 255;
constexpr unsigned kMaxSegmentExponent = 10;
// Segments are kept only for timestamps within +-2^62 microseconds (146,000
// years around 2000, beyond PostgreSQL's range either way), so that slot
// arithmetic never overflows.
constexpr Timestamp kMaxSegmentTimestamp = Timestamp{1} << 62;
// Time offsets within a slot are stored in units of 10^u microseconds.
constexpr unsigned kMaxTimeUnit = 6;
constexpr uint64_t kTimeUnits[kMaxTimeUnit + 1] = {1, 10, 100, 1'000, 10'000, 100'000, 1'000'000};
// Digits are kept below 2^51 in magnitude, where a double holds them exactly.
constexpr double kMaxDigits = 2251799813685248.0;
constexpr double kPow10[kMaxSegmentExponent + 1] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10};

[[noreturn]] void ThrowCorruptSegments(std::string detail) {
  throw Error(ErrorCategory::DataCorrupted, "corrupt segment summaries of a time-series block", std::move(detail));
}

// The slot (floor(ts / span)) of a timestamp.
Timestamp SlotOf(Timestamp ts, Timestamp span) { return ts >= 0 ? ts / span : -((-(ts + 1)) / span) - 1; }

void PutVarint(std::vector<uint8_t>* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<uint8_t>(v));
}

uint64_t GetVarint(ByteReader* in, const char* what) {
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    const uint8_t byte = in->U8(what);
    if (shift == 63 && byte > 1) break;
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return v;
  }
  ThrowCorruptSegments(std::string("The varint of ") + what + " does not fit in 64 bits.");
}

uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// The decimal digits d of v at exponent e, when v is exactly the double
// nearest d / 10^e (bit for bit: -0.0, NaN and infinities never are).
bool Digits(double v, unsigned e, int64_t* digits) {
  if (!std::isfinite(v)) return false;
  const double scaled = v * kPow10[e];
  if (!(std::fabs(scaled) < kMaxDigits)) return false;
  const int64_t d = std::llround(scaled);
  const double back = static_cast<double>(d) / kPow10[e];
  if (std::memcmp(&back, &v, sizeof v) != 0) return false;
  *digits = d;
  return true;
}

// The index of the span for n ascending distinct timestamps, or -1.
int ChooseSpan(const Timestamp* ts, size_t n) {
  if (n < 2) return -1;
  const Int128 length = static_cast<Int128>(ts[n - 1]) - ts[0];
  for (size_t i = 0; i < kSegmentSpanCount; ++i)
    if (static_cast<Int128>(n - 1) * kSegmentSpans[i] >= static_cast<Int128>(kMinSegmentPoints) * length)
      return static_cast<int>(i);
  return -1;
}

// The summary values of a segment in the order they are stored.
void ValuesOf(const BlockSummary& s, double* out) {
  out[0] = s.first;
  out[1] = s.min;
  out[2] = s.max;
  out[3] = s.last;
}

}  // namespace

std::vector<uint8_t> EncodeSegments(const Timestamp* ts, const double* values, size_t n) {
  if (n < 2 || ts[0] < -kMaxSegmentTimestamp || ts[n - 1] > kMaxSegmentTimestamp) return {};
  const int span_index = ChooseSpan(ts, n);
  if (span_index < 0) return {};
  const Timestamp span = kSegmentSpans[span_index];
  if (SlotOf(ts[0], span) == SlotOf(ts[n - 1], span)) return {};

  std::vector<Timestamp> slots;
  std::vector<BlockSummary> segments;
  for (size_t begin = 0; begin < n;) {
    const Timestamp slot = SlotOf(ts[begin], span);
    const Timestamp slot_end = (slot + 1) * span;
    size_t end = begin + 1;
    while (end < n && ts[end] < slot_end) ++end;
    slots.push_back(slot);
    segments.push_back(SummarizePoints(ts + begin, values + begin, end - begin));
    begin = end;
  }

  // The smallest exponent at which every first, min, max and last value is
  // a decimal; else raw doubles.
  uint8_t mode = kRawValues;
  for (unsigned e = 0; e <= kMaxSegmentExponent && mode == kRawValues; ++e) {
    bool all = true;
    for (const BlockSummary& s : segments) {
      double v[4];
      ValuesOf(s, v);
      int64_t d = 0;
      for (double x : v) all = all && Digits(x, e, &d);
      if (!all) break;
    }
    if (all) mode = static_cast<uint8_t>(e);
  }

  // The largest power of ten (up to a second) that divides every offset of
  // a segment from its slot's edges: regular series keep whole seconds.
  unsigned unit = kMaxTimeUnit;
  for (size_t j = 0; j < segments.size() && unit > 0; ++j) {
    const Timestamp slot_start = slots[j] * span;
    const uint64_t offsets[] = {static_cast<uint64_t>(segments[j].ts_min - slot_start),
                                static_cast<uint64_t>(slot_start + span - 1 - segments[j].ts_max) + 1};
    for (uint64_t offset : offsets)
      while (unit > 0 && offset % kTimeUnits[unit] != 0) --unit;
  }
  const uint64_t unit_micros = kTimeUnits[unit];

  std::vector<uint8_t> out;
  out.push_back(kSegmentsVersion);
  out.push_back(static_cast<uint8_t>(span_index));
  out.push_back(static_cast<uint8_t>(unit));
  out.push_back(mode);
  PutVarint(&out, segments.size());
  ByteWriter writer(&out);
  int64_t previous_last = 0;
  for (size_t j = 0; j < segments.size(); ++j) {
    const BlockSummary& s = segments[j];
    const Timestamp slot_start = slots[j] * span;
    if (j > 0) PutVarint(&out, static_cast<uint64_t>(slots[j] - slots[j - 1] - 1));
    PutVarint(&out, s.count);
    PutVarint(&out, static_cast<uint64_t>(s.ts_min - slot_start) / unit_micros);
    PutVarint(&out, (static_cast<uint64_t>(slot_start + span - 1 - s.ts_max) + 1) / unit_micros);
    uint64_t bits = 0;
    std::memcpy(&bits, &s.sum, sizeof bits);
    writer.U64(bits);
    double v[4];
    ValuesOf(s, v);
    if (mode == kRawValues) {
      for (double x : v) {
        std::memcpy(&bits, &x, sizeof bits);
        writer.U64(bits);
      }
      continue;
    }
    int64_t d[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4; ++i) Digits(v[i], mode, &d[i]);
    PutVarint(&out, ZigZag(d[0] - previous_last));
    for (int i = 1; i < 4; ++i) PutVarint(&out, ZigZag(d[i] - d[0]));
    previous_last = d[3];
  }
  // The CRC-32C of everything before it, little-endian.
  writer.U32(Crc32c(out.data(), out.size()));
  return out;
}

Timestamp SegmentSpanOf(const uint8_t* data, size_t size) {
  if (size < 2 + 4 || data[0] != kSegmentsVersion || data[1] >= kSegmentSpanCount) return 0;
  return kSegmentSpans[data[1]];
}

std::vector<BlockSummary> DecodeSegments(const uint8_t* data, size_t size, const BlockSummary& block) {
  if (size < 4) ThrowCorruptSegments("Segment summaries need at least their 4-byte checksum.");
  size -= 4;
  const uint32_t stored = static_cast<uint32_t>(data[size]) | static_cast<uint32_t>(data[size + 1]) << 8 |
                          static_cast<uint32_t>(data[size + 2]) << 16 | static_cast<uint32_t>(data[size + 3]) << 24;
  if (stored != Crc32c(data, size)) ThrowCorruptSegments("The checksum of the segment summaries does not match.");
  ByteReader in(data, size);
  const uint8_t version = in.U8("segments version");
  if (version != kSegmentsVersion) ThrowCorruptSegments("Unknown segments version " + std::to_string(version) + ".");
  const uint8_t span_index = in.U8("segment span");
  if (span_index >= kSegmentSpanCount) ThrowCorruptSegments("Unknown segment span " + std::to_string(span_index) + ".");
  const Timestamp span = kSegmentSpans[span_index];
  const uint8_t unit = in.U8("segment time unit");
  if (unit > kMaxTimeUnit) ThrowCorruptSegments("Unknown segment time unit " + std::to_string(unit) + ".");
  const uint64_t unit_micros = kTimeUnits[unit];
  const uint8_t mode = in.U8("segment value mode");
  if (mode != kRawValues && mode > kMaxSegmentExponent)
    ThrowCorruptSegments("Unknown segment value mode " + std::to_string(mode) + ".");
  if (block.ts_min < -kMaxSegmentTimestamp || block.ts_max > kMaxSegmentTimestamp || block.ts_min > block.ts_max)
    ThrowCorruptSegments("The block's time range cannot have segments.");
  const uint64_t k = GetVarint(&in, "segment count");
  if (k < 2 || k > block.count)
    ThrowCorruptSegments(std::to_string(k) + " segments for a block of " + std::to_string(block.count) + " points.");

  // A segment takes at least 13 bytes (count, two offsets, the sum, and four
  // values of at least a byte each).
  if (k > in.Remaining() / 13 + 1)
    ThrowCorruptSegments(std::to_string(k) + " segments cannot fit in " + std::to_string(size) + " bytes.");
  std::vector<BlockSummary> segments;
  segments.reserve(static_cast<size_t>(k));
  Int128 slot = SlotOf(block.ts_min, span);
  const Int128 last_slot = SlotOf(block.ts_max, span);
  uint64_t total = 0;
  int64_t previous_last = 0;
  for (uint64_t j = 0; j < k; ++j) {
    if (j > 0) slot += static_cast<Int128>(GetVarint(&in, "slot gap")) + 1;
    if (slot > last_slot) ThrowCorruptSegments("A segment lies after the block's last timestamp.");
    BlockSummary s;
    const uint64_t count = GetVarint(&in, "segment point count");
    if (count == 0 || count > block.count - total)
      ThrowCorruptSegments("Segment point counts do not add up to the block's " + std::to_string(block.count) + ".");
    s.count = static_cast<uint32_t>(count);
    total += count;
    const Int128 slot_start = slot * span;
    // Offsets from the slot's start to the first point and from the last
    // point to the slot's end (exclusive), in the unit.
    const uint64_t start_units = GetVarint(&in, "segment start");
    const uint64_t end_units = GetVarint(&in, "segment end");
    const uint64_t slot_units = static_cast<uint64_t>(span) / unit_micros;
    if (start_units >= slot_units || end_units == 0 || end_units > slot_units || start_units + end_units > slot_units)
      ThrowCorruptSegments("A segment's time range does not lie in its slot.");
    const uint64_t start_offset = start_units * unit_micros;
    const uint64_t end_offset = end_units * unit_micros - 1;
    s.ts_min = static_cast<Timestamp>(slot_start + static_cast<Int128>(start_offset));
    s.ts_max = static_cast<Timestamp>(slot_start + span - 1 - static_cast<Int128>(end_offset));
    if ((s.count == 1) != (s.ts_min == s.ts_max))
      ThrowCorruptSegments("A segment's point count does not fit its time range.");
    uint64_t bits = in.U64("segment sum");
    std::memcpy(&s.sum, &bits, sizeof bits);
    double v[4];
    if (mode == kRawValues) {
      for (double& x : v) {
        bits = in.U64("segment value");
        std::memcpy(&x, &bits, sizeof bits);
      }
    } else {
      int64_t d[4] = {0, 0, 0, 0};
      d[0] = static_cast<int64_t>(static_cast<uint64_t>(previous_last) + static_cast<uint64_t>(
                                                                            UnZigZag(GetVarint(&in, "segment digits"))));
      for (int i = 1; i < 4; ++i)
        d[i] = static_cast<int64_t>(static_cast<uint64_t>(d[0]) +
                                    static_cast<uint64_t>(UnZigZag(GetVarint(&in, "segment digits"))));
      for (int i = 0; i < 4; ++i) {
        if (!(std::fabs(static_cast<double>(d[i])) < kMaxDigits)) ThrowCorruptSegments("Segment digits out of range.");
        v[i] = static_cast<double>(d[i]) / kPow10[mode];
      }
      previous_last = d[3];
    }
    s.first = v[0];
    s.min = v[1];
    s.max = v[2];
    s.last = v[3];
    segments.push_back(s);
  }
  if (total != block.count)
    ThrowCorruptSegments("Segment point counts add up to " + std::to_string(total) + ", not the block's " +
                         std::to_string(block.count) + ".");
  if (segments.front().ts_min != block.ts_min || segments.back().ts_max != block.ts_max)
    ThrowCorruptSegments("The segments do not start and end where the block does.");
  if (in.Remaining() != 0) ThrowCorruptSegments(std::to_string(in.Remaining()) + " bytes follow the last segment.");
  return segments;
}

}  // namespace aegis::core
