// Block format v1 and the Gorilla v1 codec; docs/block-format.md is the
// specification this file implements.
#include "block_codec.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <limits>
#include <string>
#include <utility>

#include "bit_patterns.h"
#include "bit_stream.h"
#include "codec_v2.h"
#include "crc32c.h"
#include "error.h"
#include "gorilla.h"

namespace aegis::core {
namespace {

// Header byte offsets.
constexpr size_t kVersionOffset = 0;
constexpr size_t kCodecOffset = 1;
constexpr size_t kReservedOffset = 2;
constexpr size_t kCountOffset = 4;
constexpr size_t kPayloadSizeOffset = 8;
constexpr size_t kChecksumOffset = 12;
constexpr size_t kChecksummedHeaderBytes = 12;

// Delta-of-delta buckets. The zigzagged delta-of-delta z is written as a unary
// prefix of k one bits (k = 0..5; below 5 a terminating zero follows) and then
// z - kDodBase[k] in kDodBits[k] bits. Bucket 0 is z == 0 alone (1 bit), bucket
// 5 is the full 64-bit escape holding z itself.
constexpr unsigned kDodBuckets = 6;
constexpr unsigned kDodEscape = kDodBuckets - 1;
constexpr unsigned kDodBits[kDodBuckets] = {0, 8, 16, 24, 40, 64};
constexpr uint64_t kDodBase[kDodBuckets] = {
    0,
    1,
    1 + (uint64_t{1} << 8),
    1 + (uint64_t{1} << 8) + (uint64_t{1} << 16),
    1 + (uint64_t{1} << 8) + (uint64_t{1} << 16) + (uint64_t{1} << 24),
    0,
};

// XOR records: leading-zero count field width, its clamp, and the length field.
constexpr unsigned kLeadingBits = 5;
constexpr unsigned kMaxLeading = (1u << kLeadingBits) - 1;  // 31
constexpr unsigned kLengthBits = 6;                         // holds length - 1

// Fewest payload bits a block of `count` points can take: 64 + 64 for the first
// point, then at least one bit per timestamp and one per value.
constexpr uint64_t MinPayloadBits(uint64_t count) { return 128 + 2 * (count - 1); }

// Fewest payload bytes of a codec 2 block: the timestamp scheme and the first
// timestamp, and a value scheme byte.
constexpr uint64_t kMinPayloadBytesV2 = 1 + 8 + 1;

// Reads a little-endian u32 byte by byte.
uint32_t LoadLittleEndian32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

// Writes a little-endian u32 byte by byte.
void StoreLittleEndian32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

// Two's complement bits of a timestamp, so delta arithmetic wraps without UB.
inline uint64_t ToUnsigned(Timestamp t) { return static_cast<uint64_t>(t); }

// Inverse of ToUnsigned, defined for every bit pattern (no reliance on
// implementation-defined narrowing); compiles to nothing.
inline Timestamp ToSigned(uint64_t u) {
  if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return static_cast<int64_t>(u);
  return -static_cast<int64_t>(~u) - 1;
}

// "1 byte" or "N bytes".
std::string ByteCount(uint64_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); }

// Raises the error for a structurally corrupt block.
[[noreturn]] void ThrowCorrupt(const char* message, std::string detail) {
  throw Error(ErrorCategory::DataCorrupted, message, std::move(detail));
}

// Writes one zigzagged delta-of-delta in the smallest bucket that holds it.
inline void WriteDod(BitWriter* w, uint64_t z) {
  if (z == 0) {
    w->Write(0, 1);
  } else if (z - kDodBase[1] < (uint64_t{1} << kDodBits[1])) {
    w->Write((uint64_t{0b10} << kDodBits[1]) | (z - kDodBase[1]), 2 + kDodBits[1]);
  } else if (z - kDodBase[2] < (uint64_t{1} << kDodBits[2])) {
    w->Write((uint64_t{0b110} << kDodBits[2]) | (z - kDodBase[2]), 3 + kDodBits[2]);
  } else if (z - kDodBase[3] < (uint64_t{1} << kDodBits[3])) {
    w->Write((uint64_t{0b1110} << kDodBits[3]) | (z - kDodBase[3]), 4 + kDodBits[3]);
  } else if (z - kDodBase[4] < (uint64_t{1} << kDodBits[4])) {
    w->Write((uint64_t{0b11110} << kDodBits[4]) | (z - kDodBase[4]), 5 + kDodBits[4]);
  } else {
    w->Write(0b11111, 5);
    w->Write(z, 64);
  }
}

// Timestamp section: first timestamp raw, then one zigzagged delta-of-delta
// per point (the first delta is taken against a previous delta of 0).
void EncodeTimestamps(BitWriter* w, const Timestamp* ts, size_t n) {
  uint64_t prev = ToUnsigned(ts[0]);
  w->Write(prev, 64);
  uint64_t prev_delta = 0;
  for (size_t i = 1; i < n; ++i) {
    const uint64_t cur = ToUnsigned(ts[i]);
    const uint64_t delta = cur - prev;
    WriteDod(w, ZigZag(delta - prev_delta));
    prev = cur;
    prev_delta = delta;
  }
}

// Decodes the timestamp section into out[0, n).
void DecodeTimestamps(BitReader* r, Timestamp* out, size_t n) {
  uint64_t prev = r->Read(64);
  out[0] = ToSigned(prev);
  uint64_t delta = 0;
  for (size_t i = 1; i < n; ++i) {
    const unsigned bucket = r->ReadUnary(kDodEscape);
    uint64_t z = 0;
    if (bucket != 0) z = kDodBase[bucket] + r->Read(kDodBits[bucket]);
    delta += UnZigZag(z);
    prev += delta;
    out[i] = ToSigned(prev);
  }
}

// Checks the stored checksum against the block's bytes.
void VerifyChecksum(const uint8_t* data, size_t size, const BlockHeader& header) {
  const uint32_t computed = ComputeBlockChecksum(data, size);
  if (computed != header.checksum) {
    char detail[96];
    std::snprintf(detail, sizeof(detail), "Stored CRC-32C is 0x%08x, computed 0x%08x.", header.checksum, computed);
    ThrowCorrupt("time-series block checksum mismatch", detail);
  }
}

// Decodes a verified codec 1 payload into ts/values and measures its sections.
BlockBitUsage DecodeGorillaPayload(const uint8_t* data, const BlockHeader& header, std::vector<Timestamp>* ts,
                                   std::vector<double>* values) {
  BitReader reader(data + kBlockHeaderSize, header.payload_size);
  DecodeTimestamps(&reader, ts->data(), header.count);
  const uint64_t timestamp_bits = reader.BitPosition();
  DecodeGorillaValues(&reader, values->data(), header.count);
  const uint64_t end_bits = reader.BitPosition();
  const uint64_t remaining = reader.RemainingBits();
  if (remaining >= 8) {
    ThrowCorrupt("corrupt time-series block payload",
                 "The points end " + ByteCount(remaining / 8) + " before the end of the payload.");
  }
  if (!reader.RemainingBitsAreZero()) {
    ThrowCorrupt("corrupt time-series block payload", "The padding bits after the last point are not zero.");
  }
  BlockBitUsage usage;
  usage.count = header.count;
  usage.timestamp_bits = timestamp_bits;
  usage.value_bits = end_bits - timestamp_bits;
  usage.padding_bits = remaining;
  return usage;
}

// Decodes a verified block's payload with its codec.
// Only the points before `until` are kept (all of them for
// kTimestampInfinity); codec 2 leaves the values after them uncomputed.
BlockBitUsage DecodePayload(const uint8_t* data, const BlockHeader& header, std::vector<Timestamp>* ts,
                            std::vector<double>* values, Timestamp since, Timestamp until,
                            const ValueAnchor* anchor) {
  if (header.codec == BlockCodec::kGorillaV1) {
    ts->resize(header.count);
    values->resize(header.count);
    const BlockBitUsage usage = DecodeGorillaPayload(data, header, ts, values);
    size_t kept = header.count;
    size_t first = 0;
    if (until != kTimestampInfinity) kept = static_cast<size_t>(std::lower_bound(ts->begin(), ts->end(), until) - ts->begin());
    if (since != kTimestampMinusInfinity)
      first = std::min(kept, static_cast<size_t>(std::lower_bound(ts->begin(), ts->end(), since) - ts->begin()));
    ts->erase(ts->begin() + static_cast<std::ptrdiff_t>(kept), ts->end());
    values->erase(values->begin() + static_cast<std::ptrdiff_t>(kept), values->end());
    ts->erase(ts->begin(), ts->begin() + static_cast<std::ptrdiff_t>(first));
    values->erase(values->begin(), values->begin() + static_cast<std::ptrdiff_t>(first));
    return usage;
  }
  // Codec 2 writes every timestamp and the values of the points kept: into
  // scratch arrays (not zeroed, kept between calls up to kKeptScratchPoints),
  // then only the kept points go to the caller, so a short range of a big
  // block neither clears nor moves the rest.
  constexpr size_t kKeptScratchPoints = 65536;
  thread_local std::unique_ptr<Timestamp[]> ts_scratch;
  thread_local std::unique_ptr<double[]> value_scratch;
  thread_local size_t scratch_points = 0;
  if (scratch_points < header.count) {
    ts_scratch.reset(new Timestamp[header.count]);
    value_scratch.reset(new double[header.count]);
    scratch_points = header.count;
  }
  struct Trim {
    ~Trim() {
      if (scratch_points > kKeptScratchPoints) {
        ts_scratch.reset();
        value_scratch.reset();
        scratch_points = 0;
      }
    }
  } trim;
  size_t first = 0;
  size_t kept = header.count;
  const BlockBitUsage usage = DecodePayloadV2Between(data + kBlockHeaderSize, header.payload_size, header.count, since,
                                                     until, ts_scratch.get(), value_scratch.get(), &first, &kept, anchor);
  ts->assign(ts_scratch.get() + first, ts_scratch.get() + kept);
  values->assign(value_scratch.get() + first, value_scratch.get() + kept);
  return usage;
}

// DecodeBlock and MeasureBlock: header, checksum, payload; outputs left empty
// on error.
BlockBitUsage DecodeVerified(const uint8_t* data, size_t size, std::vector<Timestamp>* ts,
                             std::vector<double>* values, Timestamp since = kTimestampMinusInfinity,
                             Timestamp until = kTimestampInfinity, const ValueAnchor* anchor = nullptr) {
  if (ts == nullptr || values == nullptr) {
    throw Error(ErrorCategory::Internal, "DecodeBlock called without output vectors");
  }
  BlockHeader header;
  try {
    header = ReadBlockHeader(data, size);
    VerifyChecksum(data, size, header);
  } catch (...) {
    ts->clear();
    values->clear();
    throw;
  }
  try {
    return DecodePayload(data, header, ts, values, since, until, anchor);
  } catch (...) {
    ts->clear();
    values->clear();
    throw;
  }
}

}  // namespace

// Value section: first value raw, then per value '0' (same bits as before), or
// '10' + the XOR's bits inside the current window, or '11' + a new window
// (5-bit leading-zero count, 6-bit length - 1) + the XOR's bits inside it.
void EncodeGorillaValues(BitWriter* w, const double* values, size_t n) {
  uint64_t prev = DoubleBits(values[0]);
  w->Write(prev, 64);
  // Window of the last '11' record. Before the first one the window is the
  // whole word (leading 0, trailing 0), which the decoder also assumes.
  unsigned window_leading = 0;
  unsigned window_trailing = 0;
  for (size_t i = 1; i < n; ++i) {
    const uint64_t cur = DoubleBits(values[i]);
    const uint64_t x = prev ^ cur;
    prev = cur;
    if (x == 0) {
      w->Write(0, 1);
      continue;
    }
    unsigned leading = static_cast<unsigned>(__builtin_clzll(x));
    const unsigned trailing = static_cast<unsigned>(__builtin_ctzll(x));
    if (leading > kMaxLeading) leading = kMaxLeading;
    const unsigned window_length = 64 - window_leading - window_trailing;
    const unsigned length = 64 - leading - trailing;
    // Reuse the window when the XOR fits in it and that is no dearer than
    // describing a new one.
    if (leading >= window_leading && trailing >= window_trailing &&
        window_length <= length + kLeadingBits + kLengthBits) {
      w->Write(0b10, 2);
      w->Write(x >> window_trailing, window_length);
    } else {
      w->Write((uint64_t{0b11} << (kLeadingBits + kLengthBits)) | (uint64_t{leading} << kLengthBits) | (length - 1),
               2 + kLeadingBits + kLengthBits);
      w->Write(x >> trailing, length);
      window_leading = leading;
      window_trailing = trailing;
    }
  }
}

// Decodes the value section into out[0, n). Each record's first 13 bits
// (control, and the new-window fields when the control is '11') are looked at
// in one go; Skip() then consumes only what the record really has, so a record
// cut off by the end of the payload still fails.
void DecodeGorillaValues(BitReader* r, double* out, size_t n) {
  uint64_t prev = r->Read(64);
  out[0] = BitsToDouble(prev);
  unsigned window_length = 64;
  unsigned window_trailing = 0;
  for (size_t i = 1; i < n; ++i) {
    const uint64_t control = r->Peek(2 + kLeadingBits + kLengthBits);
    if (control < (uint64_t{0b10} << (kLeadingBits + kLengthBits))) {
      r->Skip(1);
    } else {
      if (control >= (uint64_t{0b11} << (kLeadingBits + kLengthBits))) {
        r->Skip(2 + kLeadingBits + kLengthBits);
        const unsigned leading = static_cast<unsigned>(control >> kLengthBits) & kMaxLeading;
        const unsigned length = static_cast<unsigned>(control & ((1u << kLengthBits) - 1)) + 1;
        if (leading + length > 64) {
          ThrowCorrupt("corrupt time-series block payload",
                       "Value " + std::to_string(i) + " has an XOR window of " + std::to_string(leading) +
                           " leading zero bits and " + std::to_string(length) + " meaningful bits, over 64.");
        }
        window_length = length;
        window_trailing = 64 - leading - length;
      } else {
        r->Skip(2);
      }
      prev ^= r->Read(window_length) << window_trailing;
    }
    out[i] = BitsToDouble(prev);
  }
}

namespace {

// Checks EncodeBlock's arguments.
void CheckPointsToEncode(const Timestamp* ts, const double* values, size_t n) {
  if (n == 0 || n > kMaxBlockPoints) {
    throw Error(ErrorCategory::InvalidParameter, "invalid number of points for a time-series block",
                "A block holds 1 to " + std::to_string(kMaxBlockPoints) + " points, not " + std::to_string(n) + ".");
  }
  if (ts == nullptr || values == nullptr) {
    throw Error(ErrorCategory::InvalidParameter, "missing points for a time-series block");
  }
}

// Fills in the header of a block whose payload follows its first 16 bytes.
// At most 69 + 77 bits per point in codec 1 and 1 + 8 + 13 + 8 bytes per point
// in codec 2's worst case, so the payload always fits in a u32.
void FinishBlock(BlockCodec codec, size_t n, std::vector<uint8_t>* block) {
  const uint32_t payload_size = static_cast<uint32_t>(block->size() - kBlockHeaderSize);
  uint8_t* b = block->data();
  b[kVersionOffset] = kBlockFormatVersion;
  b[kCodecOffset] = static_cast<uint8_t>(codec);
  StoreLittleEndian32(b + kCountOffset, static_cast<uint32_t>(n));
  StoreLittleEndian32(b + kPayloadSizeOffset, payload_size);
  StoreLittleEndian32(b + kChecksumOffset, ComputeBlockChecksum(b, block->size()));
}

}  // namespace

// Header space first, then the payload, then the header.
std::vector<uint8_t> EncodeBlock(const Timestamp* ts, const double* values, size_t n, BlockCodec codec) {
  CheckPointsToEncode(ts, values, n);
  std::vector<uint8_t> block(kBlockHeaderSize, 0);
  if (codec == BlockCodec::kGorillaV1) {
    BitWriter writer(&block);
    EncodeTimestamps(&writer, ts, n);
    EncodeGorillaValues(&writer, values, n);
    writer.Finish();
  } else if (codec == BlockCodec::kAdaptiveV2) {
    EncodePayloadV2(ts, values, n, &block);
  } else {
    throw Error(ErrorCategory::InvalidParameter,
                "unknown time-series block codec " + std::to_string(static_cast<unsigned>(codec)));
  }
  FinishBlock(codec, n, &block);
  return block;
}

std::vector<uint8_t> EncodeBlockWithScheme(const Timestamp* ts, const double* values, size_t n, ValueScheme scheme) {
  CheckPointsToEncode(ts, values, n);
  std::vector<uint8_t> block(kBlockHeaderSize, 0);
  EncodePayloadV2(ts, values, n, &block, &scheme);
  FinishBlock(BlockCodec::kAdaptiveV2, n, &block);
  return block;
}

// Checks, in order: version, codec, header length, reserved bytes, count,
// payload length against the block size, count against the payload length.
BlockHeader ReadBlockHeader(const uint8_t* data, size_t size) {
  if (size == 0 || data == nullptr) ThrowCorrupt("truncated time-series block", "The block is empty.");
  if (data[kVersionOffset] != kBlockFormatVersion) {
    throw Error(ErrorCategory::DataCorrupted,
                "unsupported time-series block format version " + std::to_string(data[kVersionOffset]),
                "This build reads block format version " + std::to_string(kBlockFormatVersion) + ".");
  }
  if (size > kCodecOffset && data[kCodecOffset] != static_cast<uint8_t>(BlockCodec::kGorillaV1) &&
      data[kCodecOffset] != static_cast<uint8_t>(BlockCodec::kAdaptiveV2)) {
    throw Error(ErrorCategory::DataCorrupted, "unknown time-series block codec " + std::to_string(data[kCodecOffset]),
                "This build knows codec 1 (Gorilla v1) and codec 2 (adaptive).");
  }
  if (size < kBlockHeaderSize) {
    ThrowCorrupt("truncated time-series block", "The block has " + std::to_string(size) + " bytes; its header needs " +
                                                    std::to_string(kBlockHeaderSize) + ".");
  }
  BlockHeader header;
  header.version = data[kVersionOffset];
  header.codec = static_cast<BlockCodec>(data[kCodecOffset]);
  header.count = LoadLittleEndian32(data + kCountOffset);
  header.payload_size = LoadLittleEndian32(data + kPayloadSizeOffset);
  header.checksum = LoadLittleEndian32(data + kChecksumOffset);
  if (data[kReservedOffset] != 0 || data[kReservedOffset + 1] != 0) {
    ThrowCorrupt("corrupt time-series block header", "Reserved header bytes 2-3 are not zero.");
  }
  if (header.count == 0 || header.count > kMaxBlockPoints) {
    ThrowCorrupt("corrupt time-series block header", "The point count " + std::to_string(header.count) +
                                                         " is outside 1.." + std::to_string(kMaxBlockPoints) + ".");
  }
  const size_t available = size - kBlockHeaderSize;
  if (header.payload_size > available) {
    ThrowCorrupt("truncated time-series block", "The header announces a " + std::to_string(header.payload_size) +
                                                    "-byte payload but " + ByteCount(available) +
                                                    " follow the header.");
  }
  if (header.payload_size < available) {
    ThrowCorrupt("trailing bytes after time-series block",
                 ByteCount(available - header.payload_size) + (available - header.payload_size == 1 ? " follows" : " follow") +
                     " the " + std::to_string(header.payload_size) + "-byte payload that the header announces.");
  }
  const uint64_t min_bits =
      header.codec == BlockCodec::kGorillaV1 ? MinPayloadBits(header.count) : 8 * kMinPayloadBytesV2;
  if (min_bits > uint64_t{8} * header.payload_size) {
    ThrowCorrupt("corrupt time-series block header", "A " + std::to_string(header.payload_size) +
                                                         "-byte payload cannot hold " + std::to_string(header.count) +
                                                         " points.");
  }
  return header;
}

// CRC-32C over bytes 0-11, continued over the payload.
uint32_t ComputeBlockChecksum(const uint8_t* data, size_t size) {
  if (data == nullptr || size < kBlockHeaderSize) {
    ThrowCorrupt("truncated time-series block", "The block has " + std::to_string(size) + " bytes; its header needs " +
                                                    std::to_string(kBlockHeaderSize) + ".");
  }
  const uint32_t header_crc = Crc32c(data, kChecksummedHeaderBytes);
  return Crc32c(data + kBlockHeaderSize, size - kBlockHeaderSize, header_crc);
}

const char* ValueSchemeName(uint8_t scheme) {
  switch (scheme) {
    case static_cast<uint8_t>(ValueScheme::kRaw):
      return "raw";
    case static_cast<uint8_t>(ValueScheme::kConstant):
      return "constant";
    case static_cast<uint8_t>(ValueScheme::kDecimal):
      return "decimal";
    case static_cast<uint8_t>(ValueScheme::kDictionary):
      return "dictionary";
    case static_cast<uint8_t>(ValueScheme::kRunLength):
      return "run-length";
    case static_cast<uint8_t>(ValueScheme::kSplit):
      return "split";
    case static_cast<uint8_t>(ValueScheme::kXor):
      return "xor";
    case static_cast<uint8_t>(ValueScheme::kDecimalRice):
      return "decimal-rice";
    case 255:
      return "gorilla";
    default:
      return "unknown";
  }
}

// Verified decode into the caller's vectors.
void DecodeBlock(const uint8_t* data, size_t size, std::vector<Timestamp>* ts, std::vector<double>* values) {
  DecodeVerified(data, size, ts, values);
}

size_t DecodeBlockBefore(const uint8_t* data, size_t size, Timestamp until, std::vector<Timestamp>* ts,
                         std::vector<double>* values) {
  return DecodeVerified(data, size, ts, values, kTimestampMinusInfinity, until).count;
}

size_t DecodeBlockBetween(const uint8_t* data, size_t size, Timestamp since, Timestamp until,
                          std::vector<Timestamp>* ts, std::vector<double>* values, const ValueAnchor* anchor) {
  return DecodeVerified(data, size, ts, values, since, until, anchor).count;
}

// Verified decode into scratch vectors, keeping only the section sizes.
BlockBitUsage MeasureBlock(const uint8_t* data, size_t size) {
  std::vector<Timestamp> ts;
  std::vector<double> values;
  return DecodeVerified(data, size, &ts, &values);
}

// One pass over the points; see the header for each field's exact meaning.
BlockSummary SummarizePoints(const Timestamp* ts, const double* values, size_t n) {
  if (n == 0 || n > std::numeric_limits<uint32_t>::max() || ts == nullptr || values == nullptr) {
    throw Error(ErrorCategory::InvalidParameter, "invalid number of points for a block summary",
                "A summary needs 1 to " + std::to_string(std::numeric_limits<uint32_t>::max()) + " points, not " +
                    std::to_string(n) + ".");
  }
  BlockSummary s;
  s.count = static_cast<uint32_t>(n);
  s.ts_min = ts[0];
  s.ts_max = ts[0];
  s.first = values[0];
  s.last = values[0];
  s.min = values[0];
  s.max = values[0];
  s.sum = values[0];
  for (size_t i = 1; i < n; ++i) {
    const Timestamp t = ts[i];
    const double v = values[i];
    if (t < s.ts_min) {
      s.ts_min = t;
      s.first = v;
    }
    if (t >= s.ts_max) {
      s.ts_max = t;
      s.last = v;
    }
    // float8smaller(min, v) / float8larger(max, v): on a tie the new value wins.
    if (!Float8Less(s.min, v)) s.min = v;
    if (!Float8Less(v, s.max)) s.max = v;
    s.sum += v;
  }
  return s;
}

}  // namespace aegis::core
