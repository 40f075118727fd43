#include "block_cut.h"

#include <algorithm>
#include <limits>

#include "block_codec.h"
#include "segments.h"

namespace aegis::core {

namespace {

// A cut is good enough once its row fills this much of max_bytes (31/32):
// growing it further would cost another encoding for a few points. Such a
// block is full (FullBlockPayloadBytes); so is, in practice, one as long as
// fits (the next point would not), where one point adds a few bytes.
bool FillsEnough(size_t row, size_t max_bytes) { return row * 32 >= max_bytes * 31; }

// The count whose row would be about max_bytes, from a row of `row` bytes
// for `count` points (bytes per point taken as constant), a little under.
size_t Scaled(size_t count, size_t row, size_t max_bytes) {
  const size_t payload = row > kBlockRowOverhead ? row - kBlockRowOverhead : 1;
  const size_t room = max_bytes - kBlockRowOverhead;
  const long double scaled = static_cast<long double>(count) * room / payload * 0.99L;
  return scaled >= static_cast<long double>(std::numeric_limits<size_t>::max()) ? std::numeric_limits<size_t>::max()
                                                                                 : static_cast<size_t>(scaled);
}

// What one more point may add to a block at most, but where density
// changes: its value and timestamp, or a new segment of raw doubles.
constexpr size_t kFullSlackBytes = 128;

}  // namespace

CutBlock CutFirstBlock(const Timestamp* ts, const double* values, size_t n, const BlockLimits& limits,
                       size_t* hint) {
  const size_t cap = std::min({n, std::max<size_t>(limits.max_points, 1), static_cast<size_t>(kMaxBlockPoints)});
  if (cap == 0) return CutBlock{};
  auto encode = [&](size_t count) {
    CutBlock block;
    block.count = count;
    block.data = EncodeBlock(ts, values, count);
    if (limits.with_segments) block.segments = EncodeSegments(ts, values, count);
    return block;
  };
  if (limits.max_bytes == 0) {
    if (hint != nullptr) *hint = cap;
    return encode(cap);
  }
  const size_t max_bytes = std::max(limits.max_bytes, kMinBlockMaxBytes);

  // First guess: the hint, else a byte a point. Then in proportion to the
  // bytes a candidate took, at most six times.
  size_t count = std::min(cap, hint != nullptr && *hint != 0 ? *hint : max_bytes - kBlockRowOverhead);
  CutBlock best;             // the largest cut that fits so far
  size_t too_big = cap + 1;  // the smallest count found not to fit
  bool enough = false;
  auto try_count = [&](size_t k) {
    CutBlock block = encode(k);
    const size_t row = block.RowBytes();
    if (row > max_bytes) {
      too_big = k;
      return row;
    }
    best = std::move(block);
    enough = k == cap || FillsEnough(row, max_bytes);
    return row;
  };
  for (int attempt = 0; attempt < 6 && !enough && count > best.count && count < too_big; ++attempt) {
    const size_t row = try_count(count);
    count = row <= max_bytes ? std::min(cap, std::max(count + 1, Scaled(count, row, max_bytes)))
                             : std::min(count - 1, Scaled(count, row, max_bytes));
  }
  // Density that changes inside the points can keep the guesses off: halve
  // the interval between what fits and what does not until the cut is as
  // long as fits (one point always does), so a block left short is full or
  // is the last one.
  while (!enough && too_big - best.count > 1) try_count(best.count + (too_big - best.count) / 2);
  if (best.count == 0) best = encode(1);
  if (hint != nullptr) *hint = best.count;
  return best;
}

size_t FullBlockPayloadBytes(const BlockLimits& limits) {
  if (limits.max_bytes == 0) return std::numeric_limits<size_t>::max();
  const size_t room = std::max(limits.max_bytes, kMinBlockMaxBytes) - kBlockRowOverhead;
  return room - std::max<size_t>(room / 16, kFullSlackBytes);
}

size_t MergeRoomBytes(const BlockLimits& limits) {
  if (limits.max_bytes == 0) return std::numeric_limits<size_t>::max();
  return (std::max(limits.max_bytes, kMinBlockMaxBytes) - kBlockRowOverhead) * 15 / 16;
}

bool RunShrinks(size_t blocks, uint64_t points, uint64_t payload_bytes, const BlockLimits& limits) {
  if (blocks < 2) return false;
  const long double fewer = static_cast<long double>(blocks - 1);
  return points <= fewer * static_cast<long double>(limits.max_points) &&
         (limits.max_bytes == 0 || payload_bytes <= fewer * static_cast<long double>(MergeRoomBytes(limits)));
}

bool BlockIsFull(size_t count, size_t payload_bytes, const BlockLimits& limits) {
  return count >= limits.max_points || payload_bytes >= FullBlockPayloadBytes(limits);
}

}  // namespace aegis::core
