// PostgreSQL's float8 arithmetic rules that the engine's aggregates keep
// (utils/adt/float.c): overflow of finite inputs is an error; NaN sorts
// above everything; on a tie the later input wins.
#pragma once
#include "cpp_only.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "bit_patterns.h"
#include "error.h"
#include "types.h"

namespace aegis::core {

// PostgreSQL's float_overflow_error().
[[noreturn]] inline void ThrowFloat8Overflow() {
  throw Error(ErrorCategory::NumericOutOfRange, "value out of range: overflow");
}

// float8pl: a + b, an error when finite inputs overflow to infinity.
inline double Float8Pl(double a, double b) {
  const double result = a + b;
  if (std::isinf(result) && !std::isinf(a) && !std::isinf(b)) ThrowFloat8Overflow();
  return result;
}

// float8smaller(a, b): a if a < b in float8 order, else b (so b on a tie).
inline double Float8Smaller(double a, double b) { return Float8Less(a, b) ? a : b; }

// float8larger(a, b): a if a > b in float8 order, else b (so b on a tie).
inline double Float8Larger(double a, double b) { return Float8Less(b, a) ? a : b; }

// While every value is finite and at most this in magnitude, float8_accum's
// Sx stays below 1e116 and each Sxx term below 1e233: neither can overflow
// (avg's fast path, PointsMomentsOverflow).
constexpr double kModestMagnitude = 1e100;

// float8_accum's Youngs-Cramer step, adding value to (count, Sx, Sxx):
// false where float8_accum raises its overflow error (finite inputs, an
// infinite Sx or Sxx); Sxx is NaN after an infinite or NaN input.
inline bool Float8AccumStep(double value, double* count, double* sx, double* sxx) {
  const double previous_count = *count;
  const double previous_sx = *sx;
  *count += 1.0;
  *sx += value;
  if (previous_count > 0.0) {
    const double tmp = value * *count - *sx;
    *sxx += tmp * tmp / (*count * previous_count);
    if (std::isinf(*sx) || std::isinf(*sxx)) {
      if (!std::isinf(previous_sx) && !std::isinf(value)) return false;
      *sxx = std::numeric_limits<double>::quiet_NaN();
    }
  } else if (std::isnan(value) || std::isinf(value)) {
    *sxx = std::numeric_limits<double>::quiet_NaN();  // otherwise a lone Inf/NaN would report variance 0
  }
  return true;
}

// v when keep, else +0.0 (all bits clear), without a branch: for sums of
// the values before a drop, which noisy series make at random (a
// mispredicted branch a point cost more than the rest of those loops).
// Adding the +0.0 changes no such sum, which starts at +0.0 and so is never
// -0.0.
inline double KeepIf(bool keep, double v) {
  return BitsToDouble(DoubleBits(v) & (uint64_t{0} - static_cast<uint64_t>(keep)));
}

}  // namespace aegis::core
