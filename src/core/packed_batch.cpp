#include "core/packed_batch.h"

#include <cstring>
#include <string>

#include "core/crc32c.h"
#include "core/error.h"

namespace aegis::core {

namespace {

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
void Store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "packed batches are read in place as little-endian");

[[noreturn]] void Corrupt(const std::string& detail) {
  throw Error(ErrorCategory::DataCorrupted, "corrupt packed batch", detail);
}

}  // namespace

size_t PackedBatchSize(size_t series, size_t points) { return kPackedBatchHeader + series * 12 + points * 16; }

void EncodePackedBatch(const int64_t* ids, const SeriesPoints* const* points, size_t series, uint8_t* out) {
  size_t total = 0;
  for (size_t i = 0; i < series; ++i) total += points[i]->size();
  uint8_t* id_out = out + kPackedBatchHeader;
  uint8_t* end_out = id_out + series * 8;
  uint8_t* ts_out = end_out + series * 4;
  uint8_t* value_out = ts_out + total * 8;
  size_t at = 0;
  for (size_t i = 0; i < series; ++i) {
    const SeriesPoints& p = *points[i];
    Store<int64_t>(id_out + i * 8, ids[i]);
    std::memcpy(ts_out + at * 8, p.ts.data(), p.size() * 8);
    std::memcpy(value_out + at * 8, p.values.data(), p.size() * 8);
    at += p.size();
    Store<uint32_t>(end_out + i * 4, static_cast<uint32_t>(at));
  }
  Store<uint32_t>(out, kPackedBatchMagic);
  Store<uint32_t>(out + 4, static_cast<uint32_t>(series));
  Store<uint32_t>(out + 8, static_cast<uint32_t>(total));
  const size_t size = PackedBatchSize(series, total);
  Store<uint32_t>(out + 12, Crc32c(out + kPackedBatchHeader, size - kPackedBatchHeader));
}

PackedBatchView::PackedBatchView(const uint8_t* data, size_t size) {
  if (size < kPackedBatchHeader) Corrupt(std::to_string(size) + " bytes, shorter than the header");
  if (Load<uint32_t>(data) != kPackedBatchMagic) Corrupt("the header does not start with AEPB");
  series_ = Load<uint32_t>(data + 4);
  points_ = Load<uint32_t>(data + 8);
  if (size != PackedBatchSize(series_, points_))
    Corrupt(std::to_string(size) + " bytes for " + std::to_string(series_) + " series and " +
            std::to_string(points_) + " points, which take " + std::to_string(PackedBatchSize(series_, points_)));
  if (Crc32c(data + kPackedBatchHeader, size - kPackedBatchHeader) != Load<uint32_t>(data + 12))
    Corrupt("checksum mismatch");
  ids_ = data + kPackedBatchHeader;
  ends_ = ids_ + series_ * 8;
  ts_ = ends_ + series_ * 4;
  values_ = ts_ + points_ * 8;
  size_t previous_end = 0;
  for (size_t i = 0; i < series_; ++i) {
    if (i > 0 && series_id(i) <= series_id(i - 1)) Corrupt("series ids out of order");
    const size_t e = end(i);
    if (e <= previous_end || e > points_) Corrupt("series " + std::to_string(series_id(i)) + " has no points");
    for (size_t p = previous_end + 1; p < e; ++p)
      if (ts(p) <= ts(p - 1)) Corrupt("timestamps of series " + std::to_string(series_id(i)) + " out of order");
    previous_end = e;
  }
  if (previous_end != points_) Corrupt("the series hold fewer points than the header says");
}

int64_t PackedBatchView::series_id(size_t i) const { return Load<int64_t>(ids_ + i * 8); }
size_t PackedBatchView::end(size_t i) const { return Load<uint32_t>(ends_ + i * 4); }
Timestamp PackedBatchView::ts(size_t p) const { return Load<int64_t>(ts_ + p * 8); }
double PackedBatchView::value(size_t p) const { return Load<double>(values_ + p * 8); }

size_t PackedBatchView::Find(int64_t id) const {
  size_t lo = 0, hi = series_;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (series_id(mid) < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < series_ && series_id(lo) == id ? lo : series_;
}

void PackedBatchView::AppendRange(size_t i, Timestamp lo, Timestamp hi, SeriesPoints* out) const {
  for (size_t p = begin(i), e = end(i); p < e; ++p) {
    const Timestamp t = ts(p);
    if (t < lo) continue;
    if (t >= hi) break;
    out->push_back(t, value(p));
  }
}

}  // namespace aegis::core
