// Compressed blocks of (timestamp, value) points: the self-describing byte
// format stored for each series, and the per-block summary kept beside it.
//
// Block format version 1 (docs/block-format.md is the full specification):
//
//   byte  0      format version, 1
//   byte  1      codec id, 1 = Gorilla v1 (BlockCodec::kGorillaV1)
//   bytes 2-3    reserved, must be 0
//   bytes 4-7    point count n, u32 little-endian, 1..kMaxBlockPoints
//   bytes 8-11   payload length in bytes, u32 little-endian
//   bytes 12-15  CRC-32C of bytes 0-11 followed by the payload, u32 little-endian
//   bytes 16-    payload; the block is exactly 16 + payload length bytes
//
// The Gorilla v1 payload is one bit stream, most significant bit first: the n
// timestamps (first raw, then zigzag delta-of-deltas in variable-length
// buckets), then the n values (first raw, then XOR with the previous value,
// Gorilla style), then zero bits up to the next byte boundary.
#pragma once
#include "cpp_only.h"

#include <cstddef>
#include <cstdint>
#include <vector>

#include "crc32c.h"
#include "types.h"

namespace aegis::core {

constexpr uint8_t kBlockFormatVersion = 1;

// Payload encodings; the id is byte 1 of a block. kAdaptiveV2 is what
// EncodeBlock writes by default; kGorillaV1 blocks stay readable.
enum class BlockCodec : uint8_t { kGorillaV1 = 1, kAdaptiveV2 = 2 };

// How the values of an adaptive (codec 2) block are stored; the id is the
// first byte of the value section (docs/block-format.md, section 6).
enum class ValueScheme : uint8_t {
  kRaw = 0,         // 64-bit patterns as they are
  kConstant = 1,    // one value repeated
  kDecimal = 2,     // decimal digits (ALP-style) bit-packed, with corrections
  kDictionary = 3,  // sorted distinct values + bit-packed indices
  kRunLength = 4,   // run values + run lengths
  kSplit = 5,       // ALP-RD-style split: high bits and low bits packed apart
  kXor = 6,         // Gorilla XOR, as codec 1's value section
  kDecimalRice = 7, // decimal digits as Rice-coded differences, with corrections
};

// Lower-case name of a scheme ("decimal", ...), or "gorilla" for codec 1
// blocks' value section (BlockBitUsage::value_scheme == 255).
const char* ValueSchemeName(uint8_t scheme);

// Most points one block may hold (bounds decoding memory on corrupt input).
constexpr uint32_t kMaxBlockPoints = 1000000;

// Bytes in the fixed header that precedes the payload.
constexpr size_t kBlockHeaderSize = 16;

// The fixed header of a block, as ReadBlockHeader found it.
struct BlockHeader {
  uint8_t version;
  BlockCodec codec;
  uint32_t count;         // points in the block
  uint32_t payload_size;  // bytes after the header
  uint32_t checksum;      // stored CRC-32C (not verified by ReadBlockHeader)
};

// Where the payload bits of a block go, for compression statistics.
struct BlockBitUsage {
  uint32_t count = 0;
  uint64_t timestamp_bits = 0;  // bits of the timestamp section
  uint64_t value_bits = 0;      // bits of the value section
  uint64_t padding_bits = 0;    // zero bits up to the byte boundary (0..7)
  uint8_t value_scheme = 255;   // ValueScheme of a codec 2 block; 255 for codec 1
};

// Two of a block's points whose values are known from elsewhere: a reader
// that needs the points from first_ts on has them decoded from there instead
// of from the block's start, where the value scheme sums differences (codec
// 2's decimal-rice) and that is less work, and the block's value at last_ts
// (at or after first_ts) is checked against last_value, bit for bit
// (DataCorrupted when it differs, or when the block has no point at first_ts
// or last_ts). The check catches a wrong first value only when last_value
// comes from another source: the reads take first_ts and first_value from a
// segment summary and last_ts and last_value from the block's catalog row
// (its ts_max and last value). A scheme that cannot start there decodes as
// without it.
// The message of that DataCorrupted error (a reader tells it from a corrupt
// block by it: the segments are damaged, not the block).
inline constexpr char kAnchorDisagrees[] = "corrupt segment summaries";

struct ValueAnchor {
  Timestamp first_ts = 0;
  double first_value = 0;
  Timestamp last_ts = 0;
  double last_value = 0;
};

// Encodes n points (timestamps in ANY order incl. repeats/decreasing; any
// double bit pattern) into a self-describing block with the given codec.
// Throws Error(InvalidParameter) if n == 0 or n > kMaxBlockPoints.
std::vector<uint8_t> EncodeBlock(const Timestamp* ts, const double* values, size_t n,
                                 BlockCodec codec = BlockCodec::kAdaptiveV2);

// A codec 2 block whose values use `scheme` rather than the smallest one
// (tests and benchmarks). Throws Error(InvalidParameter) when the scheme
// cannot hold the values (kConstant for values that differ).
std::vector<uint8_t> EncodeBlockWithScheme(const Timestamp* ts, const double* values, size_t n, ValueScheme scheme);

// Validates and returns the fixed header (size, version, codec, count, payload
// length). Throws Error(DataCorrupted, ...) on any inconsistency. Does not
// verify the checksum.
BlockHeader ReadBlockHeader(const uint8_t* data, size_t size);

// CRC-32C that a block's bytes 12-15 must hold: over bytes 0-11, then the
// bytes after the header. Throws Error(DataCorrupted) if size < kBlockHeaderSize.
uint32_t ComputeBlockChecksum(const uint8_t* data, size_t size);

// Verifies header + checksum, then decodes; clears and fills ts/values (left
// empty on error). Throws Error(DataCorrupted, message, detail) on anything
// wrong: bad version, unknown codec, truncated, checksum mismatch, trailing
// garbage, count mismatch. Never reads outside [data, data + size) and never
// reserves more than the payload can hold.
void DecodeBlock(const uint8_t* data, size_t size, std::vector<Timestamp>* ts, std::vector<double>* values);

// DecodeBlock for a reader that needs only the points before `until`: ts and
// values hold those points (a prefix of the block); the values after them are
// not computed (codec 2). The header, the checksum and the payload's structure
// are checked as by DecodeBlock, the values only as far as they are computed
// (a decimal digit out of range past `until` goes unnoticed); `until` =
// kTimestampInfinity keeps every point. Returns the number of points in the
// block.
size_t DecodeBlockBefore(const uint8_t* data, size_t size, Timestamp until, std::vector<Timestamp>* ts,
                         std::vector<double>* values);

// DecodeBlockBefore for the points in [since, until): ts and values hold only
// those (the block's timestamps rise, so they are a run of it); the values
// before since are not computed either where the codec can skip them (codec
// 2's decimal schemes compute their digits but not the values), nor checked
// beyond the payload's structure. With an anchor at or before since, a
// decimal-rice block does not even sum the digits before it, where that is
// less work (ValueAnchor).
size_t DecodeBlockBetween(const uint8_t* data, size_t size, Timestamp since, Timestamp until,
                          std::vector<Timestamp>* ts, std::vector<double>* values,
                          const ValueAnchor* anchor = nullptr);

// Decodes a block like DecodeBlock and reports how many payload bits each
// section takes.
BlockBitUsage MeasureBlock(const uint8_t* data, size_t size);

// count, ts_min/ts_max (min/max of ts), min/max under Float8Less (PostgreSQL
// order, NaN above all; of equal values the later one wins, as PostgreSQL's
// float8smaller/float8larger do), sum added left to right starting from
// values[0], first = value at the first occurrence of ts_min, last = value at
// the last occurrence of ts_max. Throws Error(InvalidParameter) unless
// 1 <= n <= UINT32_MAX.
BlockSummary SummarizePoints(const Timestamp* ts, const double* values, size_t n);

}  // namespace aegis::core
