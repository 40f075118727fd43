// The points of one series in time order, as two columns, and the merges the
// storage layer needs: batches are deduplicated (the last write of a
// timestamp wins) and newer layers replace older ones at equal timestamps.
#pragma once
#include "cpp_only.h"

#include <cstddef>
#include <vector>

#include "types.h"

namespace aegis::core {

// Points as columns: ts ascending (after SortAndDeduplicate or by
// construction), values aligned with ts.
struct SeriesPoints {
  std::vector<Timestamp> ts;
  std::vector<double> values;

  size_t size() const { return ts.size(); }
  bool empty() const { return ts.empty(); }
  void clear() {
    ts.clear();
    values.clear();
  }
  void push_back(Timestamp t, double v) {
    ts.push_back(t);
    values.push_back(v);
  }
  // Appends points [begin, end) of other.
  void Append(const SeriesPoints& other, size_t begin, size_t end);
};

// Sorts by timestamp and keeps, for each timestamp, the value that came last
// in the input (last write wins within a batch).
void SortAndDeduplicate(SeriesPoints* points);

// Merges two time-ordered, duplicate-free layers; at an equal timestamp the
// newer layer's value wins. The result is time-ordered and duplicate-free.
SeriesPoints MergeNewerWins(const SeriesPoints& older, const SeriesPoints& newer);

// Index of the first point with ts >= t (points ascending).
size_t LowerBound(const SeriesPoints& points, Timestamp t);

}  // namespace aegis::core
