// A packed batch: the points one write statement gave to many series, kept
// as one row of aegis.packed_points until a drain merges them into blocks
// (docs/architecture.md, "Packed batches"). A remote-write request carries
// one sample of each of thousands of series; a row per sample costs the
// server more than the rest of the write together.
//
// Layout (little-endian, docs/block-format.md):
//   u32 magic "AEPB", u32 series count S, u32 point count N,
//   u32 CRC-32C of everything after these 16 bytes;
//   i64 series_id[S], strictly ascending;
//   u32 end[S], the index one past each series' last point (non-decreasing,
//       end[S-1] == N, each series at least one point);
//   i64 ts[N], strictly ascending within each series;
//   f64 value[N].
// Reading checks all of it, so a damaged row is DataCorrupted, never a
// crash or points out of order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/series_points.h"
#include "core/types.h"

namespace aegis::core {

constexpr uint32_t kPackedBatchMagic = 0x42504541;  // "AEPB"
constexpr size_t kPackedBatchHeader = 16;

// Bytes of the batch holding `series` series and `points` points.
size_t PackedBatchSize(size_t series, size_t points);

// Writes the batch of ids[i] with points[i] (ids strictly ascending, each
// points[i] non-empty, time-ordered and duplicate-free) into out, which has
// PackedBatchSize bytes.
void EncodePackedBatch(const int64_t* ids, const SeriesPoints* const* points, size_t series, uint8_t* out);

// A checked view of an encoded batch (the bytes must outlive it).
class PackedBatchView {
 public:
  // Throws DataCorrupted when the bytes are not a valid batch.
  PackedBatchView(const uint8_t* data, size_t size);

  size_t series() const { return series_; }
  size_t points() const { return points_; }
  int64_t series_id(size_t i) const;
  // Points [begin(i), end(i)) belong to series i.
  size_t begin(size_t i) const { return i == 0 ? 0 : end(i - 1); }
  size_t end(size_t i) const;
  Timestamp ts(size_t p) const;
  double value(size_t p) const;

  // Index of the series, or series() when the batch has none of it.
  size_t Find(int64_t series_id) const;
  // Appends the series' points with lo <= ts < hi to out.
  void AppendRange(size_t i, Timestamp lo, Timestamp hi, SeriesPoints* out) const;

 private:
  const uint8_t* ids_;
  const uint8_t* ends_;
  const uint8_t* ts_;
  const uint8_t* values_;
  size_t series_;
  size_t points_;
};

}  // namespace aegis::core
