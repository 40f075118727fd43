// Basic vocabulary of the engine.
#pragma once
#include "cpp_only.h"

#include <cstdint>
#include <limits>

namespace aegis::core {

// Time is PostgreSQL's time: microseconds since 2000-01-01 00:00:00 UTC, the
// internal form of timestamptz, so no conversion ever loses precision.
using Timestamp = int64_t;

// PostgreSQL's -infinity / infinity timestamps (DT_NOBEGIN / DT_NOEND).
constexpr Timestamp kTimestampMinusInfinity = std::numeric_limits<int64_t>::min();
constexpr Timestamp kTimestampInfinity = std::numeric_limits<int64_t>::max();

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;

// Per-block summary, stored beside each compressed block so that a block lying
// wholly inside an aggregation bucket is answered without decoding it.
// min/max order values as PostgreSQL's float8 does: NaN is above everything.
struct BlockSummary {
  uint32_t count = 0;
  Timestamp ts_min = 0;  // smallest timestamp in the block
  Timestamp ts_max = 0;  // largest timestamp in the block
  double min = 0;
  double max = 0;
  double sum = 0;
  double first = 0;  // value at ts_min
  double last = 0;   // value at ts_max
};

// PostgreSQL's float8 ordering (float8_lt): NaN sorts above every other value
// and equals itself.
inline bool Float8Less(double a, double b) {
  if (a != a) return false;  // NaN is never less
  if (b != b) return true;   // anything non-NaN is less than NaN
  return a < b;
}

}  // namespace aegis::core
