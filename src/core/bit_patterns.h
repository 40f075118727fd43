// Bit-pattern helpers shared by the block codecs.
#pragma once
#include "cpp_only.h"

#include <cstdint>
#include <cstring>

namespace aegis::core {

// Bit pattern of a double.
inline uint64_t DoubleBits(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  return bits;
}

// Double with the given bit pattern.
inline double BitsToDouble(uint64_t bits) {
  double v;
  std::memcpy(&v, &bits, sizeof(v));
  return v;
}

// Maps a wrapped signed difference to an unsigned number, small magnitudes
// first: 0, -1, 1, -2, 2, ... -> 0, 1, 2, 3, 4, ...
inline uint64_t ZigZag(uint64_t d) { return (d << 1) ^ (uint64_t{0} - (d >> 63)); }

// Inverse of ZigZag.
inline uint64_t UnZigZag(uint64_t z) { return (z >> 1) ^ (uint64_t{0} - (z & 1)); }

}  // namespace aegis::core
