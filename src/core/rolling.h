// Rolling windows for aegis.rolling (API.md section 5): for every point of a
// series, a function over the trailing window (ts - width, ts] of that
// series, in time linear in the number of points (n log n for
// median/quantile):
//  - count, first, last: from the window's two ends;
//  - sum, min, max, avg, stddev, variance and the counter family: a sliding
//    aggregate of partial states (two stacks, each state combined O(1) times
//    amortized), so no value is ever subtracted back out;
//  - median, quantile(q): an order-statistic tree (Fenwick tree over the
//    ranks of the series' values), exact as percentile_cont.
// The functions mean what they mean in aegis.aggregate, over the window's
// points: rate/increase/delta are Prometheus's, evaluated at ts over a range
// of `width` (so they equal Prometheus's rate(x[width]) at a point's time
// when no sample lies exactly at ts - width, which Prometheus 2.42 includes).
// Sums and moments are combined in a different order than a sequential sum
// over the window, so they may differ from it in the last bits.
#pragma once
#include "cpp_only.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "aggregate.h"
#include "types.h"

namespace aegis::core {

// fn over (ts[i] - width, ts[i]] for every i in [begin, n); ts strictly
// ascending; width > 0 microseconds. Points before `begin` only serve as the
// earlier points of windows. out gets n - begin values (nullopt: SQL NULL,
// as aegis.aggregate gives for the same points). progress, if set, is called
// every few thousand points and may throw to abandon the work.
std::vector<std::optional<double>> RollingWindow(const AggregateFn& fn, int64_t width, const Timestamp* ts,
                                                 const double* values, size_t n, size_t begin,
                                                 const std::function<void()>& progress = {});

}  // namespace aegis::core
