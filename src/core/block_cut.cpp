#include "block_cut.h"

#include <algorithm>
#include <limits>

#include "block_codec.h"
#include "segments.h"

namespace aegis::core {

namespace {

// A cut is good enough once its row fills this much of max_bytes (31/32):
// growing it further would cost another encoding for a few points. Such a
// block is full (FullBlockPayloadBytes).
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

  // First guess: the hint, else a byte a point.
  size_t count = std::min(cap, hint != nullptr && *hint != 0 ? *hint : max_bytes - kBlockRowOverhead);
  CutBlock best;             // the largest cut that fits so far
  size_t too_big = cap + 1;  // the smallest count found not to fit
  for (int attempt = 0; attempt < 6 && count > best.count && count < too_big; ++attempt) {
    CutBlock block = encode(count);
    const size_t row = block.RowBytes();
    if (row <= max_bytes) {
      best = std::move(block);
      if (count == cap || FillsEnough(row, max_bytes)) break;
      count = std::min(cap, std::max(count + 1, Scaled(count, row, max_bytes)));
      if (count >= too_big) count = best.count + (too_big - best.count) / 2;
    } else {
      too_big = count;
      count = std::min(count - 1, Scaled(count, row, max_bytes));
      if (count <= best.count) count = best.count + (too_big - best.count) / 2;
      count = std::max<size_t>(count, 1);
    }
  }
  // Six attempts normally end far sooner; without a fit yet (a block of
  // wildly varying density), halve until one fits: one point always does.
  count = std::max<size_t>(std::min(count, too_big / 2), 1);
  while (best.count == 0) {
    CutBlock block = encode(count);
    if (block.RowBytes() <= max_bytes || count == 1) best = std::move(block);
    count = std::max<size_t>(count / 2, 1);
  }
  if (hint != nullptr) *hint = best.count;
  return best;
}

size_t FullBlockPayloadBytes(const BlockLimits& limits) {
  if (limits.max_bytes == 0) return std::numeric_limits<size_t>::max();
  return (std::max(limits.max_bytes, kMinBlockMaxBytes) - kBlockRowOverhead) * 15 / 16;
}

bool BlockIsFull(size_t count, size_t payload_bytes, const BlockLimits& limits) {
  return count >= limits.max_points || payload_bytes >= FullBlockPayloadBytes(limits);
}

}  // namespace aegis::core
