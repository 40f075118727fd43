// Sorting, deduplication and layer merges over SeriesPoints.
#include "series_points.h"

#include <algorithm>
#include <numeric>

namespace aegis::core {

void SeriesPoints::Append(const SeriesPoints& other, size_t begin, size_t end) {
  ts.insert(ts.end(), other.ts.begin() + begin, other.ts.begin() + end);
  values.insert(values.end(), other.values.begin() + begin, other.values.begin() + end);
}

void SortAndDeduplicate(SeriesPoints* points) {
  const size_t n = points->size();
  bool strictly_ascending = true;
  for (size_t i = 1; i < n && strictly_ascending; ++i) strictly_ascending = points->ts[i - 1] < points->ts[i];
  if (strictly_ascending) return;

  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return points->ts[a] < points->ts[b]; });
  SeriesPoints result;
  result.ts.reserve(n);
  result.values.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const size_t at = order[i];
    // Within a run of equal timestamps the stable sort keeps input order, so
    // the last of the run is the last write.
    if (i + 1 < n && points->ts[order[i + 1]] == points->ts[at]) continue;
    result.push_back(points->ts[at], points->values[at]);
  }
  *points = std::move(result);
}

SeriesPoints MergeNewerWins(const SeriesPoints& older, const SeriesPoints& newer) {
  if (newer.empty()) return older;
  if (older.empty()) return newer;
  SeriesPoints result;
  result.ts.reserve(older.size() + newer.size());
  result.values.reserve(older.size() + newer.size());
  size_t i = 0, j = 0;
  while (i < older.size() && j < newer.size()) {
    if (older.ts[i] < newer.ts[j]) {
      result.push_back(older.ts[i], older.values[i]);
      ++i;
    } else {
      if (older.ts[i] == newer.ts[j]) ++i;  // replaced by the newer write
      result.push_back(newer.ts[j], newer.values[j]);
      ++j;
    }
  }
  result.Append(older, i, older.size());
  result.Append(newer, j, newer.size());
  return result;
}

size_t LowerBound(const SeriesPoints& points, Timestamp t) {
  return static_cast<size_t>(std::lower_bound(points.ts.begin(), points.ts.end(), t) - points.ts.begin());
}

}  // namespace aegis::core
