// Codec 2 ("adaptive"); docs/block-format.md, section 6, is the specification.
//
// Everything is built from one primitive, the packed integer sequence
// (WritePacked/ReadPacked): integers stored as offsets from a base in a fixed
// number of bits, with the few that do not fit kept whole as exceptions. The
// encoder plans base and width by measuring the cost of a few candidates; the
// decoder unpacks all of them in one branch-free loop and patches the
// exceptions afterwards.
//
// Values are handled as their 64-bit patterns everywhere except in the decimal
// scheme, which turns each value into decimal digits and back with one IEEE
// division (exact for true decimals, deterministic for everything else) and
// keeps the difference between a value's bits and its digits' value as a
// packed correction, so every bit pattern round-trips.
#include "codec_v2.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "bit_pack.h"
#include "bit_patterns.h"
#include "bit_stream.h"
#include "byte_io.h"
#include "error.h"
#include "gorilla.h"

namespace aegis::core {
namespace {

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

constexpr uint64_t kSignBit = uint64_t{1} << 63;

// Raises the error for a segment summary given as a ValueAnchor that the
// block contradicts (the segments column is not covered by the block's
// checksum).
[[noreturn]] void ThrowCorruptSegments(const std::string& detail) {
  throw Error(ErrorCategory::DataCorrupted, kAnchorDisagrees, "The segment summaries disagree with the "
              "block: " + detail + ".");
}

// out[i] += out[i - 1] from i = 1: turns deltas back into values.
inline void PrefixSum(uint64_t* v, size_t m) {
  for (size_t i = 1; i < m; ++i) v[i] += v[i - 1];
}

// Evenly spaced sample positions of a sequence of m values (all of them when
// m <= kSampleSize).
constexpr size_t kSampleSize = 64;
inline size_t SampleCount(size_t m) { return std::min(m, kSampleSize); }
inline size_t SampleIndex(size_t k, size_t m) { return k * m / SampleCount(m); }

// ---------------------------------------------------------------------------
// Packed integer sequences (section 6.1)
// ---------------------------------------------------------------------------

// Bytes of a packed sequence's fixed part: width, base, exception count.
constexpr size_t kPackedHeaderBytes = 1 + 8 + 4;

// Bytes of an exception's position: 2 when every position fits in 16 bits.
inline size_t PositionBytes(size_t m) { return m <= 65536 ? 2 : 4; }

// How a sequence will be packed.
struct PackPlan {
  uint64_t base = 0;   // subtracted from every value (as a pattern, mod 2^64)
  unsigned width = 0;  // bits per packed offset
  size_t exceptions = 0;
  size_t bytes = 0;  // total encoded size
};

inline size_t PlanBytes(size_t m, unsigned width, size_t exceptions) {
  return kPackedHeaderBytes + PackedBytes(m, width) + exceptions * (PositionBytes(m) + 8);
}

// Best width for `base` (given as a biased pattern, value ^ kSignBit, so that
// unsigned order is the values' signed order): one pass building a histogram
// of offset widths, then the width that minimises the encoded size. Values
// below the base, or whose offset is wider than the width, are exceptions.
PackPlan PlanForBase(const uint64_t* v, size_t m, uint64_t biased_base) {
  // Four interleaved histograms (counts of offset widths; slot 65 counts
  // values below the base), so that runs of equal widths do not serialise on
  // one counter.
  std::array<std::array<uint32_t, 66>, 4> counts{};
  for (size_t i = 0; i < m; ++i) {
    const uint64_t u = v[i] ^ kSignBit;
    const unsigned slot = u < biased_base ? 65 : BitWidth(u - biased_base);
    ++counts[i & 3][slot];
  }
  std::array<size_t, 65> histogram{};
  for (unsigned w = 0; w <= 64; ++w) histogram[w] = size_t{counts[0][w]} + counts[1][w] + counts[2][w] + counts[3][w];
  PackPlan best;
  best.base = biased_base ^ kSignBit;
  best.bytes = SIZE_MAX;
  size_t fitting = 0;
  for (unsigned w = 0; w <= 64; ++w) {
    fitting += histogram[w];
    const size_t exceptions = m - fitting;
    const size_t bytes = PlanBytes(m, w, exceptions);
    if (bytes < best.bytes) {
      best.width = w;
      best.exceptions = exceptions;
      best.bytes = bytes;
    }
  }
  return best;
}

// Plans the packing of v[0, m) (signed 64-bit integers as patterns): the
// minimum as base, and a few low sample quantiles as bases that turn low
// outliers into exceptions; the cheapest wins.
PackPlan PlanPacking(const uint64_t* v, size_t m) {
  PackPlan plan;
  if (m == 0) {
    plan.bytes = kPackedHeaderBytes;
    return plan;
  }
  uint64_t lo = v[0] ^ kSignBit;
  uint64_t hi = lo;
  for (size_t i = 1; i < m; ++i) {
    const uint64_t u = v[i] ^ kSignBit;
    lo = std::min(lo, u);
    hi = std::max(hi, u);
  }
  plan.base = lo ^ kSignBit;
  plan.width = BitWidth(hi - lo);
  plan.bytes = PlanBytes(m, plan.width, 0);
  if (plan.width == 0 || m < 8) return plan;
  plan = PlanForBase(v, m, lo);
  // Low quantiles of a sorted sample as alternative bases.
  std::array<uint64_t, kSampleSize> sample{};
  const size_t s = SampleCount(m);
  for (size_t k = 0; k < s; ++k) sample[k] = v[SampleIndex(k, m)] ^ kSignBit;
  std::sort(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(s));
  // A higher base only helps when the bulk of the values, without the lowest
  // few, spans fewer bits than the whole range does.
  const uint64_t upper = sample[s - 1 - std::min<size_t>(s - 1, 1)];
  uint64_t tried = lo;
  for (size_t rank : {size_t{1}, size_t{3}}) {
    if (rank >= s || sample[rank] == tried || upper < sample[rank] ||
        BitWidth(upper - sample[rank]) >= BitWidth(upper - lo)) {
      continue;
    }
    tried = sample[rank];
    const PackPlan other = PlanForBase(v, m, tried);
    if (other.bytes < plan.bytes) plan = other;
  }
  return plan;
}

// Writes the exceptions of a sequence of m integers v: their positions (u16
// when m <= 65,536, else u32), then their values.
void WriteExceptions(const uint64_t* v, size_t m, const std::vector<uint32_t>& positions, ByteWriter* out) {
  const bool wide = PositionBytes(m) == 4;
  for (uint32_t p : positions) {
    if (wide) {
      out->U32(p);
    } else {
      out->U16(static_cast<uint16_t>(p));
    }
  }
  for (uint32_t p : positions) out->U64(v[p]);
}

// The exceptions that follow a sequence of m integers, taken from the reader.
class Exceptions {
 public:
  Exceptions(ByteReader* in, size_t m, uint32_t count, const char* what)
      : m_(m), count_(count), position_bytes_(PositionBytes(m)),
        positions_(in->Take(count * position_bytes_, what)), values_(in->Take(size_t{count} * 8, what)) {}

  // Checks that the positions rise and stay below m, and calls set(p, value)
  // for each exception at a position below limit.
  template <typename Set>
  void Apply(size_t limit, const char* what, Set set) const {
    size_t previous = 0;
    for (uint32_t k = 0; k < count_; ++k) {
      const size_t p = static_cast<size_t>(
          ByteReader::Little(positions_ + k * position_bytes_, static_cast<int>(position_bytes_)));
      if (p >= m_ || (k > 0 && p <= previous)) {
        ThrowCorruptPayload(std::string("The ") + what + " have an exception at position " + std::to_string(p) +
                            " (positions must rise and stay below " + std::to_string(m_) + ").");
      }
      previous = p;
      if (p < limit) set(p, ByteReader::Little(values_ + size_t{k} * 8, 8));
    }
  }

 private:
  size_t m_;
  uint32_t count_;
  size_t position_bytes_;
  const uint8_t* positions_;
  const uint8_t* values_;
};

// Writes v[0, m) as planned: width, base, exception count, the packed
// offsets (0 in exception slots), the exception positions, their values.
void WritePacked(const uint64_t* v, size_t m, const PackPlan& plan, ByteWriter* out) {
  out->U8(static_cast<uint8_t>(plan.width));
  out->U64(plan.base);
  const uint64_t mask = LowBitsMask(plan.width);
  const uint64_t biased_base = plan.base ^ kSignBit;
  std::vector<uint64_t> offsets(m);
  std::vector<uint32_t> positions;
  for (size_t i = 0; i < m; ++i) {
    const uint64_t u = v[i] ^ kSignBit;
    const uint64_t offset = u - biased_base;
    if (u < biased_base || offset > mask) {
      positions.push_back(static_cast<uint32_t>(i));
      offsets[i] = 0;
    } else {
      offsets[i] = offset;
    }
  }
  out->U32(static_cast<uint32_t>(positions.size()));
  PackBits(offsets.data(), m, plan.width, out->Grow(PackedBytes(m, plan.width)));
  WriteExceptions(v, m, positions, out);
}

// Plans and writes; returns the bytes written.
size_t PackIntegers(const uint64_t* v, size_t m, ByteWriter* out) {
  const PackPlan plan = PlanPacking(v, m);
  WritePacked(v, m, plan, out);
  return plan.bytes;
}

// Reads a sequence of m integers written by WritePacked into out[0, m).
// Returns true when every integer equals the base (width 0, no exceptions);
// then, if `uniform_base` is given, only *uniform_base is set and out is
// left alone.
//
// `limit` (at most m) is how many of them the caller needs: only out[0, limit)
// is written, but the whole sequence is read and checked, so the reader ends
// where it would after all m.
bool ReadPacked(ByteReader* in, size_t m, uint64_t* out, const char* what, uint64_t* uniform_base = nullptr,
                size_t limit = SIZE_MAX) {
  limit = std::min(limit, m);
  const unsigned width = in->U8(what);
  if (width > 64) {
    ThrowCorruptPayload(std::string("The ") + what + " claim " + std::to_string(width) + " bits per integer.");
  }
  const uint64_t base = in->U64(what);
  const uint32_t exceptions = in->U32(what);
  if (exceptions > m) {
    ThrowCorruptPayload(std::string("The ") + what + " claim " + std::to_string(exceptions) + " exceptions among " +
                        std::to_string(m) + " integers.");
  }
  const uint8_t* packed = in->Take(PackedBytes(m, width), what);
  if (width == 0 && exceptions == 0 && uniform_base != nullptr) {
    *uniform_base = base;
    return true;
  }
  UnpackBits(packed, limit, width, base, out);
  if (exceptions == 0) return width == 0;
  Exceptions(in, m, exceptions, what).Apply(limit, what, [out](size_t p, uint64_t v) { out[p] = v; });
  return false;
}


// Reusable decode buffers, one per nesting depth plus one for the block's
// columns and one for Rice quotients, so decoding allocates nothing once a
// thread has decoded a block of the same size. Buffers above kKeptScratch
// integers are released after use.
constexpr size_t kScratchSlots = 5;
constexpr size_t kKeptScratch = 1 << 16;

class DecodeScratch {
 public:
  uint64_t* Get(size_t slot, size_t m) {
    if (buffers_[slot].size() < m) buffers_[slot].resize(m);
    return buffers_[slot].data();
  }
  void Trim() {
    for (auto& b : buffers_) {
      if (b.size() > kKeptScratch) std::vector<uint64_t>().swap(b);
    }
  }

 private:
  std::array<std::vector<uint64_t>, kScratchSlots> buffers_;
};

constexpr size_t kColumnSlot = kScratchSlots - 2;
constexpr size_t kQuotientSlot = kScratchSlots - 1;  // RICE quotients (ReadRice)

// ---------------------------------------------------------------------------
// Timestamps (section 6.2)
// ---------------------------------------------------------------------------

constexpr uint8_t kTimestampDeltas = 0;

void FillArithmetic(uint64_t* t, size_t n, uint64_t step);  // with the vector loops below

void EncodeTimestampsV2(const Timestamp* ts, size_t n, ByteWriter* out) {
  out->U8(kTimestampDeltas);
  out->U64(static_cast<uint64_t>(ts[0]));
  if (n == 1) return;
  std::vector<uint64_t> deltas(n - 1);
  for (size_t i = 1; i < n; ++i) deltas[i - 1] = static_cast<uint64_t>(ts[i]) - static_cast<uint64_t>(ts[i - 1]);
  PackIntegers(deltas.data(), n - 1, out);
}

// The n timestamps of a block, ts[0, n) written, or only ts[0] when they are
// regular: then *step is their difference (ts[i] = ts[0] + i * step, in
// unsigned arithmetic, as FillArithmetic writes them) and true is returned.
bool DecodeTimestampsV2(ByteReader* in, size_t n, Timestamp* ts, uint64_t* step) {
  const uint8_t scheme = in->U8("timestamp section");
  if (scheme != kTimestampDeltas) ThrowCorruptPayload("Unknown timestamp scheme " + std::to_string(scheme) + ".");
  // Timestamp is int64_t; its unsigned counterpart may alias it.
  uint64_t* t = reinterpret_cast<uint64_t*>(ts);
  t[0] = in->U64("first timestamp");
  *step = 0;
  if (n == 1) return true;
  if (ReadPacked(in, n - 1, t + 1, "timestamp deltas", step)) return true;  // regular: no running sum
  PrefixSum(t, n);
  return false;
}

// A block's timestamps as DecodeTimestampsV2 left them: written, or regular
// and computed on demand, so that a short range of a big block writes only
// its own.
class BlockTimes {
 public:
  BlockTimes(const Timestamp* ts, size_t n, bool regular, uint64_t step)
      : ts_(ts), n_(n), regular_(regular), first_(static_cast<uint64_t>(ts[0])), step_(step) {}

  Timestamp operator[](size_t i) const {
    return regular_ ? static_cast<Timestamp>(first_ + i * step_) : ts_[i];
  }

  // The first index whose time is not below t (at_or_after false: above t),
  // by the halving std::lower_bound and std::upper_bound do.
  size_t Bound(Timestamp t, bool at_or_after) const {
    size_t first = 0;
    size_t len = n_;
    while (len > 0) {
      const size_t half = len >> 1;
      const Timestamp v = (*this)[first + half];
      if (at_or_after ? v < t : !(t < v)) {
        first += half + 1;
        len -= half + 1;
      } else {
        len = half;
      }
    }
    return first;
  }

  // Writes ts[from, to) when they are computed on demand.
  void Fill(Timestamp* ts, size_t from, size_t to) const {
    if (!regular_) return;
    uint64_t* t = reinterpret_cast<uint64_t*>(ts);
    if (from == 0 && to > 0) {
      FillArithmetic(t, to, step_);
      return;
    }
    for (size_t i = from; i < to; ++i) t[i] = first_ + i * step_;
  }

 private:
  const Timestamp* ts_;
  size_t n_;
  bool regular_;
  uint64_t first_;
  uint64_t step_;
};

// ---------------------------------------------------------------------------
// Values (section 6.3 onwards)
// ---------------------------------------------------------------------------

// Nesting: dictionary, run-length and split keep part of their data as an
// inner value column; the inner column of an inner column may only use the
// flat schemes, which bounds recursion at three levels.
constexpr int kMaxNestedDepth = 2;

inline bool IsNestingScheme(ValueScheme s) {
  return s == ValueScheme::kDictionary || s == ValueScheme::kRunLength || s == ValueScheme::kSplit;
}

void EncodeValueColumn(const uint64_t* v, size_t m, int depth, ByteWriter* out, const ValueScheme* forced = nullptr);

// A value the caller knows (ValueAnchor): the column's value at `index`.
// Only the top-level decimal-rice column starts from it; `used` says
// whether it did (the caller then checks the values it decoded).
struct ColumnAnchor {
  size_t index = 0;
  double value = 0;
  bool used = false;
};
// Decodes a column of m values; `limit` (at most m) is how many of the first
// ones the caller needs: the flat schemes write only out[0, limit), the
// nesting ones all of out[0, m). The whole column is read and checked either
// way. The decimal schemes also leave out the values before `from` (at most
// limit): they sum their digits but do not turn them into values.
void DecodeValueColumn(ByteReader* in, size_t m, int depth, uint64_t* out, DecodeScratch* scratch,
                       size_t limit = SIZE_MAX, size_t from = 0, ColumnAnchor* anchor = nullptr);

// --- raw and constant ------------------------------------------------------

void EncodeRaw(const uint64_t* v, size_t m, ByteWriter* out) {
  out->U8(static_cast<uint8_t>(ValueScheme::kRaw));
  for (size_t i = 0; i < m; ++i) out->U64(v[i]);
}

void DecodeRaw(ByteReader* in, size_t m, uint64_t* out) {
  const uint8_t* p = in->Take(m * 8, "raw values");
  for (size_t i = 0; i < m; ++i) out[i] = ByteReader::Little(p + 8 * i, 8);
}

// --- decimal (section 6.5) -------------------------------------------------

constexpr unsigned kMaxDecimalExponent = 18;      // digits * 10^-e, e <= 18
constexpr unsigned kMaxFloatDecimalExponent = 10;  // float32 mode, 10^10 exact in float
constexpr double kDigitLimit = 2251799813685247.0;  // 2^51 - 1: rounded digits stay below 2^51
constexpr uint64_t kDigitBias = uint64_t{1} << 51;  // d + bias < 2^52 iff -2^51 <= d < 2^51
constexpr double kFloatDigitLimit = 16777216.0;     // 2^24

constexpr uint8_t kDecimalDelta = 1;        // digits stored as deltas
constexpr uint8_t kDecimalFloat32 = 2;      // values are float32 widened to double
constexpr uint8_t kDecimalCorrections = 4;  // a correction sequence follows
constexpr uint8_t kDecimalFlags = kDecimalDelta | kDecimalFloat32 | kDecimalCorrections;

constexpr std::array<double, 19> kPow10 = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
                                           1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};
constexpr std::array<float, 11> kPow10Float = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f, 1e8f, 1e9f, 1e10f};

// Digits as a double: for |d| < 2^51 (all the encoder writes), adding d to
// the pattern of 1.5 * 2^52 and subtracting 1.5 * 2^52 again gives exactly d.
// Unlike an int64 -> double conversion this vectorises with SSE2/AVX2, and it
// is deterministic for every pattern, so a corrupt block still decodes the
// same way everywhere.
constexpr uint64_t kMagicBits = 0x4338000000000000ull;
constexpr double kMagic = 6755399441055744.0;  // 1.5 * 2^52

inline double DigitsAsDouble(uint64_t d) { return BitsToDouble(d + kMagicBits) - kMagic; }

constexpr std::array<double, 19> kInvPow10 = {1 / 1e0,  1 / 1e1,  1 / 1e2,  1 / 1e3,  1 / 1e4,  1 / 1e5,  1 / 1e6,
                                              1 / 1e7,  1 / 1e8,  1 / 1e9,  1 / 1e10, 1 / 1e11, 1 / 1e12, 1 / 1e13,
                                              1 / 1e14, 1 / 1e15, 1 / 1e16, 1 / 1e17, 1 / 1e18};

#if defined(__x86_64__) && defined(__GNUC__)
// Checked once when the library loads; __builtin_cpu_init first, since this
// runs among the static initialisers.
bool DetectAvx2Fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
const bool kHaveAvx2 = DetectAvx2Fma();

// x / 10^e without a division: q = x * r with r = 1 / 10^e rounded, then one
// Newton step with two fused multiply-adds, q + (x - q * 10^e) * r. For the
// digits the encoder writes this equals the correctly rounded quotient (no
// difference found over 2 * 10^7 digits at each exponent 1..12); wherever it
// did not, the correction would keep the value exact. Fused multiply-add is
// one IEEE rounding everywhere, so every machine decodes the same bits.
__attribute__((target("fma"))) inline double FmaQuotientHardware(double x, double p, double r) {
  const double q = x * r;
  return __builtin_fma(__builtin_fma(-q, p, x), r, q);
}
#endif

inline double FmaQuotient(double x, double p, double r) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (kHaveAvx2) return FmaQuotientHardware(x, p, r);
#endif
  const double q = x * r;
  return std::fma(std::fma(-q, p, x), r, q);
}

// The value digits d stand for: d / 10^e by FmaQuotient, or in float32 mode
// one correctly rounded float division, widened.
inline double DigitsToValue(uint64_t d, unsigned e, bool float32) {
  if (float32) return static_cast<double>(static_cast<float>(DigitsAsDouble(d)) / kPow10Float[e]);
  return FmaQuotient(DigitsAsDouble(d), kPow10[e], kInvPow10[e]);
}

// The decimal hot loops. Each has a portable scalar form that also does the
// tails, and on x86-64 an SSE2 form (every x86-64 CPU) and an AVX2 form picked
// at run time. All give the same bits: the same IEEE operations in the same
// order, no contraction into FMA.
// Each returns a non-zero value when some digits lie outside [-2^51, 2^51),
// which no encoder writes (section 6.9), so that the decoded bits never
// depend on a platform's NaN rules.
uint64_t DigitsToValuesScalar(const uint64_t* d, size_t from, size_t m, unsigned e, uint64_t* out) {
  uint64_t outside = 0;
  for (size_t i = from; i < m; ++i) {
    outside |= (d[i] + kDigitBias) >> 52;
    out[i] = DoubleBits(FmaQuotient(DigitsAsDouble(d[i]), kPow10[e], kInvPow10[e]));
  }
  return outside;
}

uint64_t DigitsToFloatsScalar(const uint64_t* d, size_t from, size_t m, float scale, uint64_t* out) {
  uint64_t outside = 0;
  for (size_t i = from; i < m; ++i) {
    outside |= (d[i] + kDigitBias) >> 52;
    out[i] = DoubleBits(static_cast<double>(static_cast<float>(DigitsAsDouble(d[i])) / scale));
  }
  return outside;
}

void AddCorrectionsScalar(const uint64_t* z, size_t from, size_t m, uint64_t* out) {
  for (size_t i = from; i < m; ++i) out[i] += UnZigZag(z[i]);
}

#if defined(__x86_64__) && defined(__GNUC__)

// FmaQuotient on four lanes.
__attribute__((target("avx2,fma"))) inline __m256d FmaQuotient4(__m256d x, __m256d p, __m256d r) {
  const __m256d q = _mm256_mul_pd(x, r);
  return _mm256_fmadd_pd(_mm256_fnmadd_pd(q, p, x), r, q);
}

// Ors ((d + 2^51) >> 52) of four lanes into *outside.
__attribute__((target("avx2,fma"))) inline void NoteOutside4(__m256i d, __m256i* outside) {
  *outside = _mm256_or_si256(
      *outside, _mm256_srli_epi64(_mm256_add_epi64(d, _mm256_set1_epi64x(static_cast<long long>(kDigitBias))), 52));
}

__attribute__((target("avx2,fma"))) uint64_t AnyLane(__m256i v) { return _mm256_testz_si256(v, v) ? 0 : 1; }

__attribute__((target("avx2,fma"))) uint64_t DigitsToValuesAvx2(const uint64_t* d, size_t m, unsigned e,
                                                                  uint64_t* out) {
  const __m256i magic_bits = _mm256_set1_epi64x(static_cast<long long>(kMagicBits));
  const __m256d magic = _mm256_set1_pd(kMagic);
  const __m256d p = _mm256_set1_pd(kPow10[e]);
  const __m256d r = _mm256_set1_pd(kInvPow10[e]);
  __m256i outside = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 4 <= m; i += 4) {
    const __m256i digits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d + i));
    NoteOutside4(digits, &outside);
    const __m256d x = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_add_epi64(digits, magic_bits)), magic);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_castpd_si256(FmaQuotient4(x, p, r)));
  }
  return AnyLane(outside) | DigitsToValuesScalar(d, i, m, e, out);
}

__attribute__((target("avx2,fma"))) uint64_t DigitsToFloatsAvx2(const uint64_t* d, size_t m, float scale,
                                                                  uint64_t* out) {
  const __m256i magic_bits = _mm256_set1_epi64x(static_cast<long long>(kMagicBits));
  const __m256d magic = _mm256_set1_pd(kMagic);
  const __m128 divisor = _mm_set1_ps(scale);
  __m256i outside = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 4 <= m; i += 4) {
    const __m256i digits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d + i));
    NoteOutside4(digits, &outside);
    const __m256d x = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_add_epi64(digits, magic_bits)), magic);
    const __m128 f = _mm_div_ps(_mm256_cvtpd_ps(x), divisor);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_castpd_si256(_mm256_cvtps_pd(f)));
  }
  return AnyLane(outside) | DigitsToFloatsScalar(d, i, m, scale, out);
}

__attribute__((target("avx2,fma"))) void AddCorrectionsAvx2(const uint64_t* z, size_t m, uint64_t* out) {
  const __m256i one = _mm256_set1_epi64x(1);
  const __m256i zero = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 4 <= m; i += 4) {
    const __m256i zz = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(z + i));
    const __m256i sign = _mm256_sub_epi64(zero, _mm256_and_si256(zz, one));
    const __m256i delta = _mm256_xor_si256(_mm256_srli_epi64(zz, 1), sign);
    const __m256i o = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(out + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_add_epi64(o, delta));
  }
  AddCorrectionsScalar(z, i, m, out);
}

// Like DigitsToValuesAvx2 on d[0] followed by deltas d[1, m): each group of
// four is summed in its lanes (two shifted adds), then offset by the running
// total of the groups before it, kept in a scalar register so the only serial
// dependency is one add per four values. Leaves d untouched.
__attribute__((target("avx2,fma"))) uint64_t DeltasToValuesAvx2(const uint64_t* d, size_t m, unsigned e,
                                                                  uint64_t* out) {
  const __m256i magic_bits = _mm256_set1_epi64x(static_cast<long long>(kMagicBits));
  const __m256d magic = _mm256_set1_pd(kMagic);
  const __m256d p = _mm256_set1_pd(kPow10[e]);
  const __m256d r = _mm256_set1_pd(kInvPow10[e]);
  const __m256i zero = _mm256_setzero_si256();
  __m256i outside = zero;
  uint64_t running = 0;
  size_t i = 0;
  for (; i + 4 <= m; i += 4) {
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d + i));
    v = _mm256_add_epi64(v, _mm256_blend_epi32(_mm256_permute4x64_epi64(v, 0x90), zero, 0x03));  // + [0,a,b,c]
    v = _mm256_add_epi64(v, _mm256_blend_epi32(_mm256_permute4x64_epi64(v, 0x40), zero, 0x0F));  // + [0,0,a,b]
    const uint64_t group_total = static_cast<uint64_t>(_mm256_extract_epi64(v, 3));
    v = _mm256_add_epi64(v, _mm256_set1_epi64x(static_cast<long long>(running)));
    running += group_total;
    NoteOutside4(v, &outside);
    const __m256d x = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_add_epi64(v, magic_bits)), magic);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_castpd_si256(FmaQuotient4(x, p, r)));
  }
  uint64_t outside_tail = 0;
  for (; i < m; ++i) {
    running += d[i];
    outside_tail |= (running + kDigitBias) >> 52;
    out[i] = DoubleBits(FmaQuotientHardware(DigitsAsDouble(running), kPow10[e], kInvPow10[e]));
  }
  return AnyLane(outside) | outside_tail;
}

uint64_t DigitsToValues(const uint64_t* d, size_t m, unsigned e, uint64_t* out) {
  if (kHaveAvx2) return DigitsToValuesAvx2(d, m, e, out);
  return DigitsToValuesScalar(d, 0, m, e, out);
}

// Values of d[0] followed by deltas d[1, m); may turn d into running sums.
uint64_t DeltasToValues(uint64_t* d, size_t m, unsigned e, uint64_t* out) {
  if (kHaveAvx2) return DeltasToValuesAvx2(d, m, e, out);
  PrefixSum(d, m);
  return DigitsToValuesScalar(d, 0, m, e, out);
}

uint64_t DigitsToFloats(const uint64_t* d, size_t m, float scale, uint64_t* out) {
  if (kHaveAvx2) return DigitsToFloatsAvx2(d, m, scale, out);
  return DigitsToFloatsScalar(d, 0, m, scale, out);
}

void AddCorrections(const uint64_t* z, size_t m, uint64_t* out) {
  if (kHaveAvx2) return AddCorrectionsAvx2(z, m, out);
  AddCorrectionsScalar(z, 0, m, out);
}

// t[i] = t[0] + i * step for i in [1, n), four lanes at a time.
__attribute__((target("avx2,fma"))) void FillArithmeticAvx2(uint64_t* t, size_t n, uint64_t step) {
  const uint64_t start = t[0];
  __m256i v = _mm256_set_epi64x(static_cast<long long>(start + 4 * step), static_cast<long long>(start + 3 * step),
                                static_cast<long long>(start + 2 * step), static_cast<long long>(start + step));
  const __m256i increment = _mm256_set1_epi64x(static_cast<long long>(4 * step));
  size_t i = 1;
  for (; i + 4 <= n; i += 4) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(t + i), v);
    v = _mm256_add_epi64(v, increment);
  }
  for (; i < n; ++i) t[i] = start + i * step;
}

void FillArithmetic(uint64_t* t, size_t n, uint64_t step) {
  if (kHaveAvx2) return FillArithmeticAvx2(t, n, step);
  for (size_t i = 1; i < n; ++i) t[i] = t[0] + i * step;
}

#else

void FillArithmetic(uint64_t* t, size_t n, uint64_t step) {
  for (size_t i = 1; i < n; ++i) t[i] = t[0] + i * step;
}
uint64_t DigitsToValues(const uint64_t* d, size_t m, unsigned e, uint64_t* out) {
  return DigitsToValuesScalar(d, 0, m, e, out);
}
uint64_t DeltasToValues(uint64_t* d, size_t m, unsigned e, uint64_t* out) {
  PrefixSum(d, m);
  return DigitsToValuesScalar(d, 0, m, e, out);
}
uint64_t DigitsToFloats(const uint64_t* d, size_t m, float scale, uint64_t* out) {
  return DigitsToFloatsScalar(d, 0, m, scale, out);
}
void AddCorrections(const uint64_t* z, size_t m, uint64_t* out) { AddCorrectionsScalar(z, 0, m, out); }

#endif

// Digits of x at exponent e, if x * 10^e is within the digit range.
inline bool ValueToDigits(double x, unsigned e, bool float32, int64_t* d) {
  const double scaled = x * kPow10[e];
  if (!(std::fabs(scaled) < (float32 ? kFloatDigitLimit : kDigitLimit))) return false;  // also NaN
  *d = static_cast<int64_t>(std::nearbyint(scaled));
  return true;
}

// The exponent (and float32 mode) that the sample says is cheapest.
// ---------------------------------------------------------------------------
// Rice-coded integer sequences (section 6.4.1)
// ---------------------------------------------------------------------------
//
// For integers whose size varies around a typical one, such as the zigzagged
// differences of a random walk: a packed sequence spends the width of the
// widest on every one, a Rice code the typical width k plus a short unary
// quotient u >> k. The k low bits of all integers are packed as in PACKED,
// the quotients follow as one bit stream (q zero bits and a one each), so
// that decoding is an unpack plus one pass over the stream's set bits with
// no bit-serial dependency; integers whose quotient would be long are
// exceptions, stored whole.

constexpr uint64_t kRiceLongQuotient = 32;  // from here on an integer is an exception

struct RicePlan {
  unsigned k = 0;
  size_t bytes = SIZE_MAX;  // the whole sequence
};

// Bytes of u[0, m) as RICE(m) with k low bits.
size_t RiceBytes(const uint64_t* u, size_t m, unsigned k) {
  uint64_t quotient_bits = 0;
  size_t exceptions = 0;
  for (size_t i = 0; i < m; ++i) {
    const uint64_t q = u[i] >> k;
    const bool long_quotient = q >= kRiceLongQuotient;
    quotient_bits += long_quotient ? 1 : q + 1;
    exceptions += long_quotient;
  }
  return 1 + 4 + PackedBytes(m, k) + 4 + static_cast<size_t>((quotient_bits + 7) / 8) +
         exceptions * (PositionBytes(m) + 8);
}

// The k that makes u[0, m) smallest. Each k's size is estimated from a
// histogram of the integers' bit widths (an integer of width w is an
// exception exactly when w >= k + 6, and its quotient is about u / 2^k
// otherwise), so that a few large jumps, which the exceptions take, do not
// pull k up for every other integer; the best estimate and its neighbours
// are then measured exactly.
RicePlan PlanRice(const uint64_t* u, size_t m) {
  std::array<size_t, 65> count{};
  std::array<long double, 65> sum{};
  for (size_t i = 0; i < m; ++i) {
    const unsigned w = BitWidth(u[i]);
    ++count[w];
    sum[w] += static_cast<long double>(u[i]);
  }
  const long double exception_bits = 1 + 8.0L * static_cast<long double>(PositionBytes(m) + 8);
  unsigned guess = 0;
  long double guess_bits = 0;
  for (unsigned k = 0; k < 64; ++k) {
    long double bits = 0;
    const long double scale = std::ldexp(1.0L, -static_cast<int>(k));
    for (unsigned w = 0; w <= 64; ++w) {
      if (count[w] == 0) continue;
      bits += static_cast<long double>(count[w]) * k;
      bits += w >= k + 6 ? static_cast<long double>(count[w]) * exception_bits
                         : static_cast<long double>(count[w]) + sum[w] * scale;
    }
    if (k == 0 || bits < guess_bits) {
      guess = k;
      guess_bits = bits;
    }
  }
  RicePlan best;
  for (unsigned k = guess > 0 ? guess - 1 : 0; k <= std::min(63u, guess + 1); ++k) {
    const size_t bytes = RiceBytes(u, m, k);
    if (bytes < best.bytes) {
      best.bytes = bytes;
      best.k = k;
    }
  }
  return best;
}

void WriteRice(const uint64_t* u, size_t m, const RicePlan& plan, ByteWriter* out) {
  const unsigned k = plan.k;
  const uint64_t mask = LowBitsMask(k);
  std::vector<uint64_t> low(m);
  std::vector<uint8_t> quotients;
  quotients.reserve(plan.bytes);
  std::vector<uint32_t> positions;
  uint64_t acc = 0;  // quotient bits not yet written, least significant first
  unsigned used = 0;
  auto put_one_after = [&](uint64_t zeros) {  // zeros < 32
    used += static_cast<unsigned>(zeros);
    while (used >= 8) {
      quotients.push_back(static_cast<uint8_t>(acc));
      acc >>= 8;
      used -= 8;
    }
    acc |= uint64_t{1} << used;
    if (++used == 8) {
      quotients.push_back(static_cast<uint8_t>(acc));
      acc = 0;
      used = 0;
    }
  };
  for (size_t i = 0; i < m; ++i) {
    const uint64_t q = u[i] >> k;
    if (q < kRiceLongQuotient) {
      low[i] = u[i] & mask;
      put_one_after(q);
    } else {
      low[i] = 0;
      put_one_after(0);
      positions.push_back(static_cast<uint32_t>(i));
    }
  }
  if (used > 0) quotients.push_back(static_cast<uint8_t>(acc));
  out->U8(static_cast<uint8_t>(k));
  out->U32(static_cast<uint32_t>(positions.size()));
  PackBits(low.data(), m, k, out->Grow(PackedBytes(m, k)));
  out->U32(static_cast<uint32_t>(quotients.size()));
  out->Append(quotients);
  WriteExceptions(u, m, positions, out);
}

// The quotients one byte of a quotient stream holds: the zero bits before
// each of its one bits (the first counted from the byte's start), how many
// one bits it has, and the zero bits after the last one (8 when none).
struct QuotientByte {
  uint8_t gaps[8];
  uint8_t count;
  uint8_t tail;
};

const QuotientByte* QuotientTable() {
  static const auto table = [] {
    std::array<QuotientByte, 256> t{};
    for (unsigned b = 0; b < 256; ++b) {
      QuotientByte& e = t[b];
      unsigned run = 0;
      for (unsigned bit = 0; bit < 8; ++bit) {
        if ((b >> bit) & 1) {
          e.gaps[e.count++] = static_cast<uint8_t>(run);
          run = 0;
        } else {
          ++run;
        }
      }
      e.tail = static_cast<uint8_t>(run);
    }
    return t;
  }();
  return table.data();
}

// Quotients from stream[0, size), a byte at a time, into q (room for limit +
// 8), until `limit` are found or the stream ends: store(slots, byte's
// entry, carry) writes each byte's gaps to 8 slots (those past its count are
// overwritten by the next byte's), the first one plus the zeros carried from
// the bytes before. Returns how many were found (up to limit + 7); *end is
// the byte after the last one read. Starts at stream[byte] with `carry`
// zeros carried into it (0, 0: the stream's start).
template <typename Store>
inline size_t ExpandQuotientsWith(const uint8_t* stream, size_t size, size_t limit,
                                                                 uint64_t* q, size_t* end, Store store,
                                                                 size_t byte = 0, uint64_t carry = 0) {
  const QuotientByte* table = QuotientTable();
  size_t found = 0;
  for (; byte < size && found < limit; ++byte) {
    const QuotientByte& e = table[stream[byte]];
    store(q + found, e, carry);
    carry = e.count != 0 ? e.tail : carry + 8;
    found += e.count;
  }
  *end = byte;
  return found;
}

struct StoreGapsScalar {
  void operator()(uint64_t* slots, const QuotientByte& e, uint64_t carry) const {
    slots[0] = e.gaps[0] + carry;
    for (int j = 1; j < 8; ++j) slots[j] = e.gaps[j];
  }
};

#if defined(__x86_64__) && defined(__GNUC__)
// The 8 gaps widened with two vector conversions instead of 8 byte loads
// (about 1.5 times as fast on the benchmark's walk).
struct StoreGapsAvx2 {
  __attribute__((target("avx2"))) void operator()(uint64_t* slots, const QuotientByte& e,
                                                                       uint64_t carry) const {
    uint64_t gaps;
    std::memcpy(&gaps, e.gaps, 8);
    const __m128i bytes = _mm_cvtsi64_si128(static_cast<long long>(gaps));
    const __m256i carried = _mm256_set_epi64x(0, 0, 0, static_cast<long long>(carry));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(slots), _mm256_add_epi64(_mm256_cvtepu8_epi64(bytes), carried));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(slots + 4), _mm256_cvtepu8_epi64(_mm_srli_si128(bytes, 4)));
  }
};

__attribute__((target("avx2"), flatten)) size_t ExpandQuotientsAvx2(const uint8_t* stream, size_t size, size_t limit,
                                                            uint64_t* q, size_t* end, size_t byte, uint64_t carry) {
  return ExpandQuotientsWith(stream, size, limit, q, end, StoreGapsAvx2(), byte, carry);
}
#endif

size_t ExpandQuotients(const uint8_t* stream, size_t size, size_t limit, uint64_t* q, size_t* end, size_t byte = 0,
                       uint64_t carry = 0) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (kHaveAvx2) return ExpandQuotientsAvx2(stream, size, limit, q, end, byte, carry);
#endif
  return ExpandQuotientsWith(stream, size, limit, q, end, StoreGapsScalar(), byte, carry);
}

// Moves past the first `skip` quotients of stream[0, size): whole bytes
// while they hold no more of them, so that ExpandQuotients from *byte with
// *carry finds quotient number *found (<= skip) first. Returns the one bits
// of the bytes passed (*found). Inlined into a plain and a popcnt build
// (SkipQuotients): without popcnt, __builtin_popcountll is a library call.
__attribute__((always_inline)) inline void SkipQuotientsBody(const uint8_t* stream, size_t size, size_t skip,
                                                             size_t* byte, uint64_t* carry, size_t* found) {
  const QuotientByte* table = QuotientTable();
  size_t b = 0;
  size_t n = 0;
  uint64_t c = 0;
  // Eight bytes at a time (LSB first: the zeros after a word's last one bit
  // are its leading zeros), then a byte at a time.
  for (; b + 8 <= size; b += 8) {
    const uint64_t word = LoadLittleEndian64(stream + b);
    const size_t ones = static_cast<size_t>(__builtin_popcountll(word));
    if (n + ones > skip) break;
    c = word != 0 ? static_cast<uint64_t>(__builtin_clzll(word)) : c + 64;
    n += ones;
  }
  for (; b < size && n + table[stream[b]].count <= skip; ++b) {
    const QuotientByte& e = table[stream[b]];
    c = e.count != 0 ? e.tail : c + 8;
    n += e.count;
  }
  *byte = b;
  *carry = c;
  *found = n;
}

// The one bits of stream[b, size), inlined as SkipQuotientsBody is.
__attribute__((always_inline)) inline size_t CountOnesBody(const uint8_t* stream, size_t b, size_t size) {
  size_t found = 0;
  for (; b + 8 <= size; b += 8) found += static_cast<size_t>(__builtin_popcountll(LoadLittleEndian64(stream + b)));
  for (; b < size; ++b) found += static_cast<size_t>(__builtin_popcount(stream[b]));
  return found;
}

#if defined(__x86_64__) && defined(__GNUC__)
bool DetectPopcnt() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("popcnt");
}
const bool kHavePopcnt = DetectPopcnt();

__attribute__((target("popcnt"))) void SkipQuotientsPopcnt(const uint8_t* stream, size_t size, size_t skip,
                                                           size_t* byte, uint64_t* carry, size_t* found) {
  SkipQuotientsBody(stream, size, skip, byte, carry, found);
}

__attribute__((target("popcnt"))) size_t CountOnesPopcnt(const uint8_t* stream, size_t b, size_t size) {
  return CountOnesBody(stream, b, size);
}
#endif

void SkipQuotients(const uint8_t* stream, size_t size, size_t skip, size_t* byte, uint64_t* carry, size_t* found) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (kHavePopcnt) return SkipQuotientsPopcnt(stream, size, skip, byte, carry, found);
#endif
  SkipQuotientsBody(stream, size, skip, byte, carry, found);
}

size_t CountOnes(const uint8_t* stream, size_t b, size_t size) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (kHavePopcnt) return CountOnesPopcnt(stream, b, size);
#endif
  return CountOnesBody(stream, b, size);
}

// Reads RICE(m) into out[0, limit) (at most m), unzigzagged when `unzigzag`;
// with `skip` (a multiple of 8, at most limit) only out[skip, limit), the
// integers before it left undecoded (out[0, skip) may hold exceptions'
// values). The quotients after the limit are not decoded, but the whole
// stream is checked (exactly m one bits, the last in the last byte), so that
// a range read rejects what a whole read rejects.
void ReadRice(ByteReader* in, size_t m, uint64_t* out, const char* what, size_t limit, bool unzigzag,
              DecodeScratch* scratch, size_t skip = 0) {
  limit = std::min(limit, m);
  skip = std::min(skip, limit) & ~size_t{7};
  const unsigned k = in->U8(what);
  if (k > 63) {
    ThrowCorruptPayload(std::string("The ") + what + " claim " + std::to_string(k) + " low bits per integer.");
  }
  const uint32_t exceptions = in->U32(what);
  if (exceptions > m) {
    ThrowCorruptPayload(std::string("The ") + what + " claim " + std::to_string(exceptions) + " exceptions among " +
                        std::to_string(m) + " integers.");
  }
  const uint8_t* low = in->Take(PackedBytes(m, k), what);
  const uint32_t size = in->U32(what);
  const uint8_t* stream = in->Take(size, what);
  const Exceptions listed(in, m, exceptions, what);
  // Quotients a byte at a time: each byte's gaps are stored in 8 slots
  // (those past its count are overwritten by the next byte's), the first
  // one plus the zeros carried from the bytes before.
  // q[i - base] is quotient i, from base (quotients before skip, in the
  // byte where the skipped ones end, come first and are not used).
  size_t start = 0;
  uint64_t carry = 0;
  size_t base = 0;
  if (skip > 0) SkipQuotients(stream, size, skip, &start, &carry, &base);
  uint64_t* q = scratch->Get(kQuotientSlot, limit - base + 8);
  size_t byte = 0;
  size_t found = base + ExpandQuotients(stream, size, limit - base, q, &byte, start, carry);
  found += CountOnes(stream, byte, size);
  if (found != m || (size > 0 && stream[size - 1] == 0)) {
    ThrowCorruptPayload(std::string("The ") + what + " hold " + std::to_string(found) +
                        " one bits, or bits after the last quotient (" + std::to_string(m) +
                        " one bits, the last in the last byte, allowed).");
  }
  // 8 integers of k bits are k whole bytes: integer skip starts a byte.
  UnpackBits(low + skip / 8 * k, limit - skip, k, 0, out + skip);
  if (unzigzag) {
    for (size_t i = skip; i < limit; ++i) out[i] = UnZigZag(out[i] + (q[i - base] << k));
  } else {
    for (size_t i = skip; i < limit; ++i) out[i] += q[i - base] << k;
  }
  listed.Apply(limit, what, [out, unzigzag](size_t p, uint64_t v) { out[p] = unzigzag ? UnZigZag(v) : v; });
}


struct DecimalChoice {
  bool usable = false;
  unsigned exponent = 0;
  bool float32 = false;
};

// Estimates, on the sample, the bits of each exponent (and of float32 mode
// when at least half the sample is float32 widened to double): the digits'
// range for every value, plus for a value whose digits miss it by a few ulps
// (printing noise such as 11.529000000000002) the correction's width, and 80
// bits for anything else (an exception). The cheapest wins; it is usable when
// at least half the sample is exact or nearly so.
DecimalChoice ChooseDecimal(const uint64_t* v, size_t m) {
  constexpr unsigned kNearMissBits = 24;
  const size_t s = SampleCount(m);
  std::array<double, kSampleSize> sample{};
  size_t float32_count = 0;
  for (size_t k = 0; k < s; ++k) {
    sample[k] = BitsToDouble(v[SampleIndex(k, m)]);
    const float f = static_cast<float>(sample[k]);
    if (DoubleBits(static_cast<double>(f)) == v[SampleIndex(k, m)] && f == f) ++float32_count;
  }
  DecimalChoice best;
  size_t best_cost = SIZE_MAX;
  size_t best_good = 0;
  for (int mode = 0; mode < (float32_count * 2 >= s ? 2 : 1); ++mode) {
    const bool float32 = mode == 1;
    const unsigned max_e = float32 ? kMaxFloatDecimalExponent : kMaxDecimalExponent;
    for (unsigned e = 0; e <= max_e; ++e) {
      size_t exact = 0;
      size_t near = 0;
      size_t others = 0;
      unsigned correction_bits = 0;
      int64_t lo = INT64_MAX;
      int64_t hi = INT64_MIN;
      for (size_t k = 0; k < s; ++k) {
        int64_t d;
        if (!ValueToDigits(sample[k], e, float32, &d)) {
          ++others;
          continue;
        }
        lo = std::min(lo, d);
        hi = std::max(hi, d);
        const uint64_t correction =
            ZigZag(DoubleBits(sample[k]) - DoubleBits(DigitsToValue(static_cast<uint64_t>(d), e, float32)));
        if (correction == 0) {
          ++exact;
        } else if (BitWidth(correction) <= kNearMissBits) {
          ++near;
          correction_bits = std::max(correction_bits, BitWidth(correction));
        } else {
          ++others;
        }
      }
      if (exact + near == 0) continue;
      const size_t cost = s * BitWidth(static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo)) +
                          std::min(s * correction_bits, near * 80) + others * 80;
      if (cost < best_cost) {
        best_cost = cost;
        best_good = exact + near;
        best.exponent = e;
        best.float32 = float32;
      }
      if (exact == s) break;  // a larger exponent only makes the digits longer
    }
  }
  best.usable = best_good * 2 >= s;
  return best;
}

// Which of the two decimal schemes EncodeDecimal may write.
enum class DecimalForm { kSmaller, kPackedOnly, kRiceOnly };

// Writes the decimal scheme (2), or decimal-rice (7) when Rice-coded
// differences are more than a sixteenth smaller than packed ones (decoding
// them costs more); `form` may force either (decimal-rice needs m >= 2).
// Returns the bytes the decimal scheme takes (what was written, or what it
// would have been in place of decimal-rice), which the choice of the other
// candidates goes by.
size_t EncodeDecimal(const uint64_t* v, size_t m, const DecimalChoice& choice, ByteWriter* out,
                     DecimalForm form = DecimalForm::kSmaller) {
  const size_t start = out->Size();
  const unsigned e = choice.exponent;
  const bool float32 = choice.float32;
  std::vector<uint64_t> digits(m);
  std::vector<uint64_t> corrections(m);
  bool any_correction = false;
  int64_t previous = 0;
  for (size_t i = 0; i < m; ++i) {
    int64_t d;
    if (!ValueToDigits(BitsToDouble(v[i]), e, float32, &d)) d = previous;  // NaN, infinity, too large
    digits[i] = static_cast<uint64_t>(d);
    corrections[i] = ZigZag(v[i] - DoubleBits(DigitsToValue(static_cast<uint64_t>(d), e, float32)));
    any_correction |= corrections[i] != 0;
    previous = d;
  }
  // Frame of reference on the digits, or on their deltas; or Rice codes of
  // the zigzagged deltas.
  const PackPlan direct = PlanPacking(digits.data(), m);
  std::vector<uint64_t> deltas;
  PackPlan delta_plan;
  RicePlan rice_plan;
  bool use_deltas = false;
  bool use_rice = false;
  if (m > 1) {
    deltas.resize(m - 1);
    for (size_t i = 1; i < m; ++i) deltas[i - 1] = digits[i] - digits[i - 1];
    delta_plan = PlanPacking(deltas.data(), m - 1);
    use_deltas = delta_plan.bytes + 8 < direct.bytes;
    std::vector<uint64_t> zigzag(m - 1);
    for (size_t i = 0; i + 1 < m; ++i) zigzag[i] = ZigZag(deltas[i]);
    rice_plan = PlanRice(zigzag.data(), m - 1);
    const size_t packed_bytes = use_deltas ? delta_plan.bytes + 8 : direct.bytes;
    use_rice = form == DecimalForm::kRiceOnly ||
               (form == DecimalForm::kSmaller && (rice_plan.bytes + 8) * 16 < packed_bytes * 15);
    if (use_rice) deltas.swap(zigzag);
  }
  if (form == DecimalForm::kRiceOnly && !use_rice) {
    throw Error(ErrorCategory::InvalidParameter, "value scheme 7 needs at least two values");
  }
  out->U8(static_cast<uint8_t>(use_rice ? ValueScheme::kDecimalRice : ValueScheme::kDecimal));
  out->U8(static_cast<uint8_t>((use_deltas || use_rice ? kDecimalDelta : 0) | (float32 ? kDecimalFloat32 : 0) |
                               (any_correction ? kDecimalCorrections : 0)));
  out->U8(static_cast<uint8_t>(e));
  if (use_rice) {
    out->U64(digits[0]);
    WriteRice(deltas.data(), m - 1, rice_plan, out);
  } else if (use_deltas) {
    out->U64(digits[0]);
    WritePacked(deltas.data(), m - 1, delta_plan, out);
  } else {
    WritePacked(digits.data(), m, direct, out);
  }
  if (any_correction) PackIntegers(corrections.data(), m, out);
  const size_t written = out->Size() - start;
  return use_rice ? written - (8 + rice_plan.bytes) + (use_deltas ? 8 + delta_plan.bytes : direct.bytes) : written;
}

// The decimal scheme's fields (2), or decimal-rice's (7: `rice`), after the
// scheme id. With an anchor (decimal-rice without corrections, in double
// mode, anchor->index in [1, from]), the digits start at the anchor's value
// instead of being summed from the first; anchor->used says whether they did.
void DecodeDecimal(ByteReader* in, size_t m, int depth, uint64_t* out, DecodeScratch* scratch, size_t limit,
                   size_t from, bool rice = false, ColumnAnchor* anchor = nullptr) {
  limit = std::min(limit, m);
  from = std::min(from, limit);
  const uint8_t flags = in->U8("decimal flags");
  const unsigned e = in->U8("decimal exponent");
  const bool float32 = (flags & kDecimalFloat32) != 0;
  if ((flags & ~kDecimalFlags) != 0) ThrowCorruptPayload("Unknown decimal flags " + std::to_string(flags) + ".");
  if (e > (float32 ? kMaxFloatDecimalExponent : kMaxDecimalExponent)) {
    ThrowCorruptPayload("Decimal exponent " + std::to_string(e) + " is out of range.");
  }
  uint64_t* digits = scratch->Get(static_cast<size_t>(depth), m);
  const bool deltas = (flags & kDecimalDelta) != 0;
  if (rice && !deltas) ThrowCorruptPayload("Rice-coded decimal digits without the deltas flag.");
  // The anchor's digits, when it can be used: the digits whose value is its
  // value, bit for bit (distinct digits in range give distinct values).
  int64_t anchor_digits = 0;
  const bool anchored = anchor != nullptr && rice && deltas && !float32 && (flags & kDecimalCorrections) == 0 &&
                        anchor->index >= 1 && anchor->index <= from && from <= limit &&
                        ValueToDigits(anchor->value, e, false, &anchor_digits) &&
                        DoubleBits(DigitsToValue(static_cast<uint64_t>(anchor_digits), e, false)) ==
                            DoubleBits(anchor->value);
  if (anchor != nullptr) anchor->used = anchored;
  if (deltas) {
    if (m < 2) ThrowCorruptPayload("A single decimal value cannot be stored as deltas.");
    digits[0] = in->U64("first decimal digits");
    if (rice) {
      // Anchored: the differences from the anchor's on (digits[i] is the
      // Rice integer i - 1), from the group of 8 that holds it.
      ReadRice(in, m - 1, digits + 1, "Rice-coded decimal digit deltas", limit == 0 ? 0 : limit - 1, true, scratch,
               anchored ? anchor->index : 0);
    } else {
      ReadPacked(in, m - 1, digits + 1, "decimal digit deltas", nullptr, limit - 1);
    }
  } else {
    ReadPacked(in, m, digits, "decimal digits", nullptr, limit);
  }
  // The hot loops: one conversion and one quotient per value.
  // Values only from `from` on; the digits before it are summed.
  uint64_t outside;
  if (anchored) {
    digits[anchor->index] = static_cast<uint64_t>(anchor_digits);
    PrefixSum(digits + anchor->index, limit - anchor->index);
  } else if (deltas && (float32 || from > 0)) {
    PrefixSum(digits, limit);
  }
  if (float32) {
    outside = DigitsToFloats(digits + from, limit - from, kPow10Float[e], out + from);
  } else if (deltas && from == 0) {
    outside = DeltasToValues(digits, limit, e, out);
  } else {
    outside = DigitsToValues(digits + from, limit - from, e, out + from);
  }
  if (outside != 0) ThrowCorruptPayload("Decimal digits lie outside [-2^51, 2^51).");
  if ((flags & kDecimalCorrections) != 0) {
    ReadPacked(in, m, digits, "decimal corrections", nullptr, limit);
    AddCorrections(digits + from, limit - from, out + from);
  }
}

// --- dictionary (section 6.6) ----------------------------------------------

// IEEE total order key of a pattern: negative values reversed below positive
// ones, so sorted keys are sorted numbers (and their digits pack well).
inline uint64_t OrderKey(uint64_t bits) { return (bits & kSignBit) ? ~bits : bits | kSignBit; }

// Open-addressing set of patterns mapping each to a small number.
class PatternTable {
 public:
  explicit PatternTable(size_t capacity_hint) {
    size_t size = 16;
    while (size < 2 * capacity_hint) size *= 2;
    shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(size));
    keys_.assign(size, 0);
    slots_.assign(size, 0);
  }

  // Slot of `key`, inserting it (with number `count() `) when absent.
  uint32_t& Find(uint64_t key, bool* inserted) {
    size_t i = static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
    const size_t mask = keys_.size() - 1;
    while (slots_[i] != 0 && keys_[i] != key) i = (i + 1) & mask;
    *inserted = slots_[i] == 0;
    if (*inserted) {
      keys_[i] = key;
      slots_[i] = static_cast<uint32_t>(++count_);
    }
    return slots_[i];
  }

  size_t count() const { return count_; }

 private:
  unsigned shift_;
  std::vector<uint64_t> keys_;
  std::vector<uint32_t> slots_;  // 0 = empty, else a number >= 1
  size_t count_ = 0;
};

// Whether a sample of the values holds at least 4 repeated values: about what
// a sample of 64 shows when half the values of a 1000-value block are
// distinct (the dictionary's limit outside the fallback).
bool SampleRepeats(const uint64_t* v, size_t m) {
  const size_t s = SampleCount(m);
  std::array<uint64_t, kSampleSize> sample{};
  for (size_t k = 0; k < s; ++k) sample[k] = v[SampleIndex(k, m)];
  std::sort(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(s));
  size_t repeats = 0;
  for (size_t k = 1; k < s; ++k) repeats += sample[k] == sample[k - 1];
  return repeats >= std::min<size_t>(4, s / 4);
}

// Writes the dictionary scheme when v has at most max_distinct distinct
// patterns; returns false (writing nothing) otherwise.
bool EncodeDictionary(const uint64_t* v, size_t m, size_t max_distinct, int depth, ByteWriter* out) {
  PatternTable table(max_distinct + 1);
  std::vector<uint64_t> distinct;
  bool inserted;
  for (size_t i = 0; i < m; ++i) {
    table.Find(v[i], &inserted);
    if (inserted) {
      if (distinct.size() == max_distinct) return false;
      distinct.push_back(v[i]);
    }
  }
  std::sort(distinct.begin(), distinct.end(), [](uint64_t a, uint64_t b) { return OrderKey(a) < OrderKey(b); });
  for (size_t k = 0; k < distinct.size(); ++k) table.Find(distinct[k], &inserted) = static_cast<uint32_t>(k + 1);
  std::vector<uint64_t> indices(m);
  for (size_t i = 0; i < m; ++i) indices[i] = table.Find(v[i], &inserted) - 1;
  out->U8(static_cast<uint8_t>(ValueScheme::kDictionary));
  out->U32(static_cast<uint32_t>(distinct.size()));
  EncodeValueColumn(distinct.data(), distinct.size(), depth + 1, out);
  PackIntegers(indices.data(), m, out);
  return true;
}

void DecodeDictionary(ByteReader* in, size_t m, int depth, uint64_t* out, DecodeScratch* scratch) {
  const uint32_t size = in->U32("dictionary size");
  if (size == 0 || size > m) {
    ThrowCorruptPayload("A dictionary of " + std::to_string(size) + " values for " + std::to_string(m) +
                        " values.");
  }
  std::vector<uint64_t> dictionary(size);
  DecodeValueColumn(in, size, depth + 1, dictionary.data(), scratch);
  ReadPacked(in, m, out, "dictionary indices");
  uint64_t largest = 0;
  for (size_t i = 0; i < m; ++i) largest = std::max(largest, out[i]);
  if (largest >= size) {
    ThrowCorruptPayload("Dictionary index " + std::to_string(largest) + " is past the dictionary's " +
                        std::to_string(size) + " values.");
  }
  for (size_t i = 0; i < m; ++i) out[i] = dictionary[out[i]];
}

// --- run-length (section 6.7) ----------------------------------------------

void EncodeRunLength(const uint64_t* v, size_t m, int depth, ByteWriter* out) {
  std::vector<uint64_t> run_values;
  std::vector<uint64_t> run_lengths;
  for (size_t i = 0; i < m;) {
    size_t j = i + 1;
    while (j < m && v[j] == v[i]) ++j;
    run_values.push_back(v[i]);
    run_lengths.push_back(j - i);
    i = j;
  }
  out->U8(static_cast<uint8_t>(ValueScheme::kRunLength));
  out->U32(static_cast<uint32_t>(run_values.size()));
  EncodeValueColumn(run_values.data(), run_values.size(), depth + 1, out);
  PackIntegers(run_lengths.data(), run_lengths.size(), out);
}

void DecodeRunLength(ByteReader* in, size_t m, int depth, uint64_t* out, DecodeScratch* scratch) {
  const uint32_t runs = in->U32("run count");
  if (runs == 0 || runs > m) {
    ThrowCorruptPayload(std::to_string(runs) + " runs cannot make " + std::to_string(m) + " values.");
  }
  std::vector<uint64_t> run_values(runs);
  std::vector<uint64_t> run_lengths(runs);
  DecodeValueColumn(in, runs, depth + 1, run_values.data(), scratch);
  ReadPacked(in, runs, run_lengths.data(), "run lengths");
  uint64_t total = 0;
  for (uint64_t length : run_lengths) {
    if (length == 0 || length > m) ThrowCorruptPayload("A run of " + std::to_string(length) + " values.");
    total += length;
  }
  if (total != m) {
    ThrowCorruptPayload("The runs hold " + std::to_string(total) + " values, not " + std::to_string(m) + ".");
  }
  size_t at = 0;
  for (uint32_t r = 0; r < runs; ++r) {
    std::fill(out + at, out + at + run_lengths[r], run_values[r]);
    at += run_lengths[r];
  }
}

// --- split (section 6.8) ---------------------------------------------------

// Low-bit count for the split scheme, from the sample: the split that
// minimises low bits plus the cheaper of packing the high parts' range or
// indexing their distinct values.
unsigned ChooseSplit(const uint64_t* v, size_t m) {
  const size_t s = SampleCount(m);
  std::array<uint64_t, kSampleSize> sample{};
  for (size_t k = 0; k < s; ++k) sample[k] = v[SampleIndex(k, m)];
  std::sort(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(s));
  unsigned best_shift = 32;
  double best_bits = 1e300;
  for (unsigned shift = 1; shift < 64; ++shift) {
    size_t distinct = 1;
    for (size_t k = 1; k < s; ++k) distinct += (sample[k] >> shift) != (sample[k - 1] >> shift);
    const unsigned range_bits = BitWidth((sample[s - 1] >> shift) - (sample[0] >> shift));
    const double dictionary_bits = BitWidth(distinct - 1) + static_cast<double>(distinct) * (64 - shift) / s;
    const double bits = shift + std::min(static_cast<double>(range_bits), dictionary_bits);
    if (bits <= best_bits) {  // ties go to the larger split: fewer, smaller high parts
      best_bits = bits;
      best_shift = shift;
    }
  }
  return best_shift;
}

void EncodeSplit(const uint64_t* v, size_t m, unsigned shift, int depth, ByteWriter* out) {
  std::vector<uint64_t> high(m);
  std::vector<uint64_t> low(m);
  for (size_t i = 0; i < m; ++i) {
    high[i] = v[i] >> shift;
    low[i] = v[i] & LowBitsMask(shift);
  }
  out->U8(static_cast<uint8_t>(ValueScheme::kSplit));
  out->U8(static_cast<uint8_t>(shift));
  EncodeValueColumn(high.data(), m, depth + 1, out);
  PackIntegers(low.data(), m, out);
}

void DecodeSplit(ByteReader* in, size_t m, int depth, uint64_t* out, DecodeScratch* scratch) {
  const unsigned shift = in->U8("split width");
  if (shift == 0 || shift > 63) ThrowCorruptPayload("A split at bit " + std::to_string(shift) + ".");
  DecodeValueColumn(in, m, depth + 1, out, scratch);
  uint64_t* low = scratch->Get(static_cast<size_t>(depth), m);
  ReadPacked(in, m, low, "split low bits");
  for (size_t i = 0; i < m; ++i) out[i] = (out[i] << shift) | (low[i] & LowBitsMask(shift));
}

// --- XOR (section 6.9) -----------------------------------------------------

void EncodeXor(const uint64_t* v, size_t m, ByteWriter* out) {
  std::vector<double> values(m);
  std::memcpy(values.data(), v, m * sizeof(double));
  std::vector<uint8_t> stream;
  BitWriter writer(&stream);
  EncodeGorillaValues(&writer, values.data(), m);
  writer.Finish();
  out->U8(static_cast<uint8_t>(ValueScheme::kXor));
  out->U32(static_cast<uint32_t>(stream.size()));
  out->Append(stream);
}

void DecodeXor(ByteReader* in, size_t m, uint64_t* out) {
  const uint32_t length = in->U32("XOR stream length");
  const uint8_t* stream = in->Take(length, "XOR stream");
  BitReader reader(stream, length);
  std::vector<double> values(m);
  DecodeGorillaValues(&reader, values.data(), m);
  if (reader.RemainingBits() >= 8 || !reader.RemainingBitsAreZero()) {
    ThrowCorruptPayload("The XOR stream does not end with its last value.");
  }
  std::memcpy(out, values.data(), m * sizeof(double));
}

// --- choosing --------------------------------------------------------------

// Candidates are encoded whole into scratch buffers; the smallest is kept.
class SmallestEncoding {
 public:
  explicit SmallestEncoding(size_t raw_bytes) : best_bytes_(raw_bytes) {}

  // Encodes with `encode(ByteWriter*)`; keeps it if smaller than the best so
  // far. `encode` may return false to withdraw.
  // Returns the candidate's size (SIZE_MAX when withdrawn).
  template <typename Encode>
  size_t Try(Encode encode) {
    std::vector<uint8_t> candidate;
    ByteWriter writer(&candidate);
    if (!encode(&writer)) return SIZE_MAX;
    const size_t size = candidate.size();
    if (size < best_bytes_) {
      best_bytes_ = size;
      best_ = std::move(candidate);
    }
    return size;
  }

  size_t bytes() const { return best_bytes_; }
  bool found() const { return !best_.empty(); }
  const std::vector<uint8_t>& encoding() const { return best_; }

 private:
  size_t best_bytes_;
  std::vector<uint8_t> best_;
};

// Writes the column in a scheme chosen by the caller (tests, benchmarks).
void EncodeForced(const uint64_t* v, size_t m, int depth, ValueScheme scheme, size_t runs, ByteWriter* out) {
  switch (scheme) {
    case ValueScheme::kRaw:
      return EncodeRaw(v, m, out);
    case ValueScheme::kConstant:
      if (runs != 1) break;
      out->U8(static_cast<uint8_t>(ValueScheme::kConstant));
      return out->U64(v[0]);
    case ValueScheme::kDecimal: {
      DecimalChoice choice = ChooseDecimal(v, m);
      EncodeDecimal(v, m, choice, out, DecimalForm::kPackedOnly);
      return;
    }
    case ValueScheme::kDictionary:
      EncodeDictionary(v, m, m, depth, out);
      return;
    case ValueScheme::kRunLength:
      return EncodeRunLength(v, m, depth, out);
    case ValueScheme::kSplit:
      return EncodeSplit(v, m, ChooseSplit(v, m), depth, out);
    case ValueScheme::kXor:
      return EncodeXor(v, m, out);
    case ValueScheme::kDecimalRice: {
      DecimalChoice choice = ChooseDecimal(v, m);
      EncodeDecimal(v, m, choice, out, DecimalForm::kRiceOnly);
      return;
    }
  }
  throw Error(ErrorCategory::InvalidParameter,
              "value scheme " + std::to_string(static_cast<unsigned>(scheme)) + " cannot store these values");
}

void EncodeValueColumn(const uint64_t* v, size_t m, int depth, ByteWriter* out, const ValueScheme* forced) {
  size_t runs = 1;
  for (size_t i = 1; i < m; ++i) runs += v[i] != v[i - 1];
  if (forced != nullptr) return EncodeForced(v, m, depth, *forced, runs, out);
  if (runs == 1) {
    out->U8(static_cast<uint8_t>(ValueScheme::kConstant));
    out->U64(v[0]);
    return;
  }
  const bool nesting = depth < kMaxNestedDepth;
  SmallestEncoding best(1 + 8 * m);
  // Which further candidates to try goes by the smallest encoding without
  // Rice codes (`reference`), so that decimal-rice, smaller than decimal,
  // never keeps a smaller dictionary, split or XOR from being tried.
  size_t reference = 1 + 8 * m;
  const DecimalChoice decimal = ChooseDecimal(v, m);
  if (decimal.usable) {
    best.Try([&](ByteWriter* w) {
      reference = std::min(reference, EncodeDecimal(v, m, decimal, w));
      return true;
    });
  }
  if (nesting && runs * 4 <= m) {
    reference = std::min(reference, best.Try([&](ByteWriter* w) {
      EncodeRunLength(v, m, depth, w);
      return true;
    }));
  }
  // A dictionary when the sample repeats itself, or when nothing else went
  // under 3 bytes per value and at most 90% of the values are distinct.
  const bool fallback = reference > 3 * m;
  if (nesting && m >= 4 && (fallback || SampleRepeats(v, m))) {
    reference = std::min(reference, best.Try([&](ByteWriter* w) {
      return EncodeDictionary(v, m, fallback ? m * 9 / 10 : m / 2, depth, w);
    }));
  }
  // Full-precision values: the split and XOR schemes.
  if (reference > 3 * m) {
    if (nesting && m >= 8) {
      const unsigned shift = ChooseSplit(v, m);
      best.Try([&](ByteWriter* w) {
        EncodeSplit(v, m, shift, depth, w);
        return true;
      });
    }
    best.Try([&](ByteWriter* w) {
      EncodeXor(v, m, w);
      return true;
    });
  }
  if (best.found()) {
    out->Append(best.encoding());
  } else {
    EncodeRaw(v, m, out);
  }
}

void DecodeValueColumn(ByteReader* in, size_t m, int depth, uint64_t* out, DecodeScratch* scratch, size_t limit,
                       size_t from, ColumnAnchor* anchor) {
  limit = std::min(limit, m);
  from = std::min(from, limit);
  const uint8_t id = in->U8("value scheme");
  const auto scheme = static_cast<ValueScheme>(id);
  if (IsNestingScheme(scheme) && depth >= kMaxNestedDepth) {
    ThrowCorruptPayload("Value scheme " + std::to_string(id) + " nested too deep.");
  }
  switch (scheme) {
    case ValueScheme::kRaw:
      DecodeRaw(in, m, out);
      return;
    case ValueScheme::kConstant: {
      const uint64_t value = in->U64("constant value");
      std::fill(out, out + limit, value);
      return;
    }
    case ValueScheme::kDecimal:
      DecodeDecimal(in, m, depth, out, scratch, limit, from);
      return;
    case ValueScheme::kDictionary:
      DecodeDictionary(in, m, depth, out, scratch);
      return;
    case ValueScheme::kRunLength:
      DecodeRunLength(in, m, depth, out, scratch);
      return;
    case ValueScheme::kSplit:
      DecodeSplit(in, m, depth, out, scratch);
      return;
    case ValueScheme::kXor:
      DecodeXor(in, m, out);
      return;
    case ValueScheme::kDecimalRice:
      DecodeDecimal(in, m, depth, out, scratch, limit, from, true, anchor);
      return;
  }
  ThrowCorruptPayload("Unknown value scheme " + std::to_string(id) + ".");
}

}  // namespace

void EncodePayloadV2(const Timestamp* ts, const double* values, size_t n, std::vector<uint8_t>* out,
                     const ValueScheme* forced) {
  ByteWriter writer(out);
  EncodeTimestampsV2(ts, n, &writer);
  std::vector<uint64_t> bits(n);
  std::memcpy(bits.data(), values, n * sizeof(double));
  EncodeValueColumn(bits.data(), n, 0, &writer, forced);
}

BlockBitUsage DecodePayloadV2(const uint8_t* payload, size_t size, size_t n, Timestamp* ts, double* values) {
  return DecodePayloadV2Between(payload, size, n, kTimestampMinusInfinity, kTimestampInfinity, ts, values, nullptr,
                                nullptr);
}

BlockBitUsage DecodePayloadV2Between(const uint8_t* payload, size_t size, size_t n, Timestamp since,
                                     Timestamp until, Timestamp* ts, double* values, size_t* first, size_t* kept,
                                     const ValueAnchor* anchor) {
  thread_local DecodeScratch scratch;
  struct Trim {
    ~Trim() { scratch.Trim(); }
  } trim;
  ByteReader reader(payload, size);
  uint64_t step = 0;
  const bool regular = DecodeTimestampsV2(&reader, n, ts, &step);
  const BlockTimes times(ts, n, regular, step);
  // The points in [since, until) (timestamps rise within a block); a block
  // wholly inside is decoded whole.
  const size_t limit = (until == kTimestampInfinity || times[n - 1] < until) ? n : times.Bound(until, true);
  const size_t from =
      (since == kTimestampMinusInfinity || times[0] >= since) ? 0 : std::min(limit, times.Bound(since, true));
  times.Fill(ts, from, limit);  // the timestamps returned: the caller reads ts[from, limit)
  const size_t timestamp_bytes = reader.Offset();
  const uint8_t scheme = size > timestamp_bytes ? payload[timestamp_bytes] : 255;
  uint64_t* bits = scratch.Get(kColumnSlot, n);
  // An anchor's points a (where the digits start) and b (whose value is
  // checked): the values are computed from min(from, b) to past b as well.
  // Used only where that is less work than summing from the start.
  ColumnAnchor column_anchor;
  size_t check = 0;
  bool anchor_helps = anchor != nullptr && from > 0 && from < n && anchor->first_ts <= times[from] &&
                      anchor->first_ts <= anchor->last_ts;
  if (anchor_helps) {
    const size_t a = times.Bound(anchor->first_ts, true);
    const size_t b_end = times.Bound(anchor->last_ts, false);
    if (a == n || times[a] != anchor->first_ts || b_end == 0 || times[b_end - 1] != anchor->last_ts) {
      ThrowCorruptSegments("the block has no point at the first or last time of a segment summary");
    }
    column_anchor.index = a;
    column_anchor.value = anchor->first_value;
    check = b_end - 1;
    // Digits summed plus values converted, either way.
    const size_t to = std::max(limit, check + 1);
    anchor_helps = (to - a) + (to - std::min(from, check)) < limit + (limit - from);
  }
  const size_t value_limit = anchor_helps ? std::max(limit, check + 1) : limit;
  const size_t value_from = anchor_helps ? std::min(from, check) : from;
  DecodeValueColumn(&reader, n, 0, bits, &scratch, value_limit, value_from, anchor_helps ? &column_anchor : nullptr);
  if (reader.Remaining() != 0) {
    ThrowCorruptPayload("The points end " + std::to_string(reader.Remaining()) +
                        " bytes before the end of the payload.");
  }
  if (column_anchor.used && bits[check] != DoubleBits(anchor->last_value)) {
    ThrowCorruptSegments("the block's differences from a segment summary's first value do not end at the "
                         "block's last value");
  }
  std::memcpy(values + from, bits + from, (limit - from) * sizeof(double));
  if (first != nullptr) *first = from;
  if (kept != nullptr) *kept = limit;
  BlockBitUsage usage;
  usage.count = static_cast<uint32_t>(n);
  usage.timestamp_bits = 8 * timestamp_bytes;
  usage.value_bits = 8 * (size - timestamp_bytes);
  usage.padding_bits = 0;
  usage.value_scheme = scheme;
  return usage;
}

}  // namespace aegis::core
