// CRC-32C: SSE4.2's crc32 instruction when the CPU has it (checked once at
// start-up), else software slicing-by-8, whose eight 256-entry tables let the
// loop fold eight input bytes per step with independent table lookups.
#include "crc32c.h"

#include <array>
#include <cstring>

namespace aegis::core {
namespace {

constexpr uint32_t kCrc32cPolynomialReflected = 0x82F63B78u;

using Crc32cTables = std::array<std::array<uint32_t, 256>, 8>;

// Builds the slicing tables: tables[0] is the classic byte-at-a-time table and
// tables[k][b] is the CRC of byte b followed by k zero bytes.
constexpr Crc32cTables MakeCrc32cTables() {
  Crc32cTables tables{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? kCrc32cPolynomialReflected : 0u);
    tables[0][b] = crc;
  }
  for (size_t k = 1; k < 8; ++k) {
    for (size_t b = 0; b < 256; ++b) {
      const uint32_t prev = tables[k - 1][b];
      tables[k][b] = (prev >> 8) ^ tables[0][prev & 0xFFu];
    }
  }
  return tables;
}

constexpr Crc32cTables kTables = MakeCrc32cTables();

static_assert(kTables[0][1] == 0xF26B8303u, "CRC-32C table is wrong");

// Reads a little-endian 32-bit word byte by byte (no alignment assumptions).
inline uint32_t LoadLittleEndian32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}


// Software path: folds eight bytes per step, then the tail one byte at a time.
uint32_t Crc32cSoftware(const uint8_t* data, size_t size, uint32_t crc) {
  crc = ~crc;
  const uint8_t* p = data;
  while (size >= 8) {
    const uint32_t lo = LoadLittleEndian32(p) ^ crc;
    const uint32_t hi = LoadLittleEndian32(p + 4);
    crc = kTables[7][lo & 0xFFu] ^ kTables[6][(lo >> 8) & 0xFFu] ^ kTables[5][(lo >> 16) & 0xFFu] ^
          kTables[4][lo >> 24] ^ kTables[3][hi & 0xFFu] ^ kTables[2][(hi >> 8) & 0xFFu] ^
          kTables[1][(hi >> 16) & 0xFFu] ^ kTables[0][hi >> 24];
    p += 8;
    size -= 8;
  }
  while (size > 0) {
    crc = kTables[0][(crc ^ *p) & 0xFFu] ^ (crc >> 8);
    ++p;
    --size;
  }
  return ~crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
// The crc32 instruction takes three cycles but starts one every cycle, so the
// hardware path runs three streams of kStripe bytes side by side and joins
// them: by linearity, the register after A then B is the register after A
// moved over len(B) zero bytes, XOR the register after B alone (started at
// 0). Moving a register over kStripe zero bytes is a linear map of its 32
// bits, tabulated per byte of the register (kStripeShift).
constexpr size_t kStripe = 128;

using ShiftTables = std::array<std::array<uint32_t, 256>, 4>;

// The register after `zeros` zero bytes, from `crc` (no inversion).
constexpr uint32_t OverZeros(uint32_t crc, size_t zeros) {
  for (size_t i = 0; i < zeros; ++i) crc = kTables[0][crc & 0xFFu] ^ (crc >> 8);
  return crc;
}

constexpr ShiftTables MakeShiftTables() {
  std::array<uint32_t, 32> bit{};  // the map of each single bit
  for (int b = 0; b < 32; ++b) bit[b] = OverZeros(uint32_t{1} << b, kStripe);
  ShiftTables t{};
  for (int k = 0; k < 4; ++k) {
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t sum = 0;
      for (int b = 0; b < 8; ++b)
        if ((n >> b) & 1u) sum ^= bit[8 * k + b];
      t[k][n] = sum;
    }
  }
  return t;
}

constexpr ShiftTables kStripeShift = MakeShiftTables();

inline uint64_t OverStripe(uint64_t crc) {
  return kStripeShift[0][crc & 0xFFu] ^ kStripeShift[1][(crc >> 8) & 0xFFu] ^ kStripeShift[2][(crc >> 16) & 0xFFu] ^
         kStripeShift[3][(crc >> 24) & 0xFFu];
}

// SSE4.2's crc32 instruction computes exactly this CRC, eight bytes at a
// time: three stripes at once while three are left, then one stream.
__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(const uint8_t* data, size_t size, uint32_t crc) {
  uint64_t c = ~crc;
  while (size >= 3 * kStripe) {
    uint64_t c1 = 0;
    uint64_t c2 = 0;
    for (size_t i = 0; i < kStripe; i += 8) {
      uint64_t w0, w1, w2;
      std::memcpy(&w0, data + i, sizeof(w0));
      std::memcpy(&w1, data + kStripe + i, sizeof(w1));
      std::memcpy(&w2, data + 2 * kStripe + i, sizeof(w2));
      c = __builtin_ia32_crc32di(c, w0);
      c1 = __builtin_ia32_crc32di(c1, w1);
      c2 = __builtin_ia32_crc32di(c2, w2);
    }
    c = OverStripe(OverStripe(c) ^ c1) ^ c2;
    data += 3 * kStripe;
    size -= 3 * kStripe;
  }
  while (size >= 8) {
    uint64_t word;
    std::memcpy(&word, data, sizeof(word));
    c = __builtin_ia32_crc32di(c, word);
    data += 8;
    size -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (size > 0) {
    c32 = __builtin_ia32_crc32qi(c32, *data);
    ++data;
    --size;
  }
  return ~c32;
}

// Checked once when the library loads; __builtin_cpu_init first, since this
// runs among the static initialisers.
bool DetectSse42() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}
const bool kHaveSse42 = DetectSse42();
#endif

}  // namespace

// The crc32 instruction where the CPU has it, else slicing-by-8.
uint32_t Crc32c(const uint8_t* data, size_t size, uint32_t crc) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (kHaveSse42) return Crc32cHardware(data, size, crc);
#endif
  return Crc32cSoftware(data, size, crc);
}

// Exposed for the unit test that compares both paths.
uint32_t Crc32cPortable(const uint8_t* data, size_t size, uint32_t crc) { return Crc32cSoftware(data, size, crc); }

}  // namespace aegis::core
