// Where a series' points are cut into blocks (docs/block-format.md section
// 12). A block is cut at aegis.block_max_points points or before its row
// (summary columns, segment summaries and data) grows past
// aegis.block_max_bytes, whichever comes first: rows of about 4 kB fill an
// 8 kB heap page two at a time, whatever the data's bits per point, where
// rows of a fixed point count would leave a page partly empty or spill into
// TOAST.
#pragma once
#include "cpp_only.h"

#include <cstddef>
#include <cstdint>
#include <vector>

#include "types.h"

namespace aegis::core {

// Bytes of a block row besides its data and segments, an upper bound: the
// heap tuple header with a null bitmap (32), series_id, ts_min, ts_max,
// point_count with its padding and the five summary values (72), and both
// varlena headers with the padding before the second (11).
constexpr size_t kBlockRowOverhead = 115;

// The row size blocks are cut at by default: two rows, each MAXALIGNed, with
// their line pointers fill an 8 kB page after its 24-byte header.
constexpr size_t kDefaultBlockMaxBytes = 4080;

// The smallest row size a cut may aim at (one point always fits in it).
constexpr size_t kMinBlockMaxBytes = 512;

struct BlockLimits {
  size_t max_points = 1000;  // at least 1
  size_t max_bytes = 0;      // row size; 0 cuts by point count alone
  bool with_segments = true;
};

struct CutBlock {
  size_t count = 0;               // the first `count` points
  std::vector<uint8_t> data;      // EncodeBlock of them
  std::vector<uint8_t> segments;  // EncodeSegments of them (empty without)

  size_t RowBytes() const { return kBlockRowOverhead + data.size() + segments.size(); }
};

// The block that starts the n (>= 1) points: at most max_points of them, and
// as many as fit max_bytes, found by encoding candidates (the count grows or
// shrinks in proportion to the bytes one took; about two encodings a block).
// *hint, when not 0, is the count to try first, and is set to the count
// taken, so that the next block of the same points starts from it.
CutBlock CutFirstBlock(const Timestamp* ts, const double* values, size_t n, const BlockLimits& limits,
                       size_t* hint);

// The payload bytes (data and segments, without the summary columns) from
// which a block counts as full by size: what a row of max_bytes leaves them,
// less 1/16 of it or 128 bytes, whichever is more (SIZE_MAX when max_bytes is
// 0). Every cut that fills 31/32 of a row is full, and so is one as long as
// fits unless one more point would have added more than that (where the
// data's density changes). Merges leave full blocks alone and merge runs of
// the others; SQL tests it with octet_length(data) + octet_length(segments).
size_t FullBlockPayloadBytes(const BlockLimits& limits);

// Whether a stored block of `count` points and `payload_bytes` of data and
// segments is full: max_points points, or FullBlockPayloadBytes.
bool BlockIsFull(size_t count, size_t payload_bytes, const BlockLimits& limits);

// The payload bytes a merge counts on one block holding: 15/16 of what a row
// of max_bytes leaves (SIZE_MAX when max_bytes is 0). The margin covers an
// encoding of merged points that takes more than the parts did.
size_t MergeRoomBytes(const BlockLimits& limits);

// Whether a run of `blocks` neighbouring blocks holding `points` points and
// `payload_bytes` of data and segments in all can be cut into fewer blocks:
// a merge rewrites only such runs, so no run is rewritten into as many
// blocks, or picked again and left, round after round.
bool RunShrinks(size_t blocks, uint64_t points, uint64_t payload_bytes, const BlockLimits& limits);

}  // namespace aegis::core
