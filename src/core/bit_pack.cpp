// Fixed-width LSB-first bit packing; see bit_pack.h.
#include "bit_pack.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

namespace aegis::core {
namespace {

// Integer i read bit by bit-group from the packed bytes, touching only bytes
// inside [in, in + total): the safe path for the tail and for w > 56.
inline uint64_t UnpackOne(const uint8_t* in, size_t total, size_t i, unsigned w) {
  const uint64_t bit = static_cast<uint64_t>(i) * w;
  size_t byte = static_cast<size_t>(bit >> 3);
  const unsigned shift = static_cast<unsigned>(bit & 7);
  // Up to 9 bytes hold w + shift <= 71 bits.
  unsigned __int128 word = 0;
  const size_t last = std::min(total, byte + 9);
  for (size_t b = byte, k = 0; b < last; ++b, ++k) word |= static_cast<unsigned __int128>(in[b]) << (8 * k);
  return static_cast<uint64_t>(word >> shift) & LowBitsMask(w);
}

// Groups of 8 integers of W bits (W bytes per group) while a 64-bit load at
// every integer's first byte stays inside the packed bytes. Returns how many
// integers it unpacked (a multiple of 8).
template <unsigned W>
size_t UnpackGroups(const uint8_t* in, size_t n, uint64_t base, uint64_t* out) {
  constexpr uint64_t kMask = LowBitsMask(W);
  const size_t total = PackedBytes(n, W);
  size_t groups = n / 8;
  // The last integer of a group starts at byte (7W)/8; its load reads 8 bytes.
  constexpr size_t kReach = (7 * W) / 8 + 8;
  if (W == 0) {
    for (size_t i = 0; i < groups * 8; ++i) out[i] = base;
    return groups * 8;
  }
  while (groups > 0 && (groups - 1) * W + kReach > total) --groups;
  for (size_t g = 0; g < groups; ++g) {
    const uint8_t* p = in + g * W;
    uint64_t* o = out + g * 8;
#define AEGIS_UNPACK_LANE(j) o[j] = base + ((LoadLittleEndian64(p + ((j) * W) / 8) >> (((j) * W) % 8)) & kMask)
    AEGIS_UNPACK_LANE(0);
    AEGIS_UNPACK_LANE(1);
    AEGIS_UNPACK_LANE(2);
    AEGIS_UNPACK_LANE(3);
    AEGIS_UNPACK_LANE(4);
    AEGIS_UNPACK_LANE(5);
    AEGIS_UNPACK_LANE(6);
    AEGIS_UNPACK_LANE(7);
#undef AEGIS_UNPACK_LANE
  }
  return groups * 8;
}

using GroupUnpacker = size_t (*)(const uint8_t*, size_t, uint64_t, uint64_t*);

constexpr unsigned kMaxFastWidth = 56;

template <size_t... W>
constexpr std::array<GroupUnpacker, sizeof...(W)> MakeUnpackers(std::index_sequence<W...>) {
  return {&UnpackGroups<static_cast<unsigned>(W)>...};
}

constexpr auto kUnpackers = MakeUnpackers(std::make_index_sequence<kMaxFastWidth + 1>());

}  // namespace

// A 128-bit accumulator takes each integer whole; full bytes leave it as they
// fill up.
void PackBits(const uint64_t* in, size_t n, unsigned w, uint8_t* out) {
  const size_t total = PackedBytes(n, w);
  if (w == 0) return;
  unsigned __int128 acc = 0;
  unsigned bits = 0;
  size_t pos = 0;
  for (size_t i = 0; i < n; ++i) {
    acc |= static_cast<unsigned __int128>(in[i] & LowBitsMask(w)) << bits;
    bits += w;
    while (bits >= 8) {
      out[pos++] = static_cast<uint8_t>(acc);
      acc >>= 8;
      bits -= 8;
    }
  }
  if (pos < total) out[pos++] = static_cast<uint8_t>(acc);
}

// The width-specialised groups first, then the rest one at a time.
void UnpackBits(const uint8_t* in, size_t n, unsigned w, uint64_t base, uint64_t* out) {
  size_t done = 0;
  if (w <= kMaxFastWidth) done = kUnpackers[w](in, n, base, out);
  const size_t total = PackedBytes(n, w);
  for (size_t i = done; i < n; ++i) out[i] = base + UnpackOne(in, total, i, w);
}

}  // namespace aegis::core
