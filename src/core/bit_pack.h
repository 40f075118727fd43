// Fixed-width bit packing for codec 2 (docs/block-format.md, section 5.1).
//
// n unsigned integers of w bits each (0 <= w <= 64) are packed least
// significant bit first: integer i occupies bits [i*w, (i+1)*w) of the packed
// bytes read as one little-endian number. The packed form of n integers takes
// exactly PackedBytes(n, w) bytes; the unused high bits of the last byte are
// zero.
//
// Unpacking is the hot path of every codec 2 decode. For w <= 56 it runs a
// loop specialised per width that handles 8 integers (w bytes) per step with
// compile-time shifts and one unaligned 64-bit load per integer, no branches;
// the last few integers, whose 64-bit load would pass the end of the packed
// bytes, are read byte by byte so nothing outside them is ever touched.
#pragma once
#include "cpp_only.h"

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace aegis::core {

// Bytes taken by n packed integers of w bits.
constexpr size_t PackedBytes(size_t n, unsigned w) { return (n * w + 7) / 8; }

// Loads 8 bytes as a little-endian 64-bit word (unaligned access is fine).
inline uint64_t LoadLittleEndian64(const uint8_t* p) {
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t word;
  std::memcpy(&word, p, sizeof(word));
  return word;
#else
  uint64_t word = 0;
  for (int i = 7; i >= 0; --i) word = (word << 8) | p[i];
  return word;
#endif
}

// Mask of the low w bits (w <= 64).
constexpr uint64_t LowBitsMask(unsigned w) { return w >= 64 ? ~uint64_t{0} : (uint64_t{1} << w) - 1; }

// Bits needed to write x (0 for 0).
inline unsigned BitWidth(uint64_t x) { return x == 0 ? 0 : 64 - static_cast<unsigned>(__builtin_clzll(x)); }

// Packs in[0, n) (each < 2^w) into out[0, PackedBytes(n, w)).
void PackBits(const uint64_t* in, size_t n, unsigned w, uint8_t* out);

// Unpacks n integers of w bits from in[0, PackedBytes(n, w)) and stores each
// plus `base` (mod 2^64) into out[0, n). Reads no byte outside that range.
void UnpackBits(const uint8_t* in, size_t n, unsigned w, uint64_t base, uint64_t* out);

}  // namespace aegis::core
