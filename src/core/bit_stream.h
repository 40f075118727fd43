// Bit-level writer and reader for the block codecs. Bits are packed most
// significant bit first: the first bit written is bit 7 (0x80) of byte 0, and a
// multi-bit field is written from its most significant bit down. The reader
// works on a 64-bit window refilled a word at a time, and never touches a byte
// outside the buffer it was given; running off the end throws DataCorrupted.
#pragma once
#include "cpp_only.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "error.h"

namespace aegis::core {

// Loads 8 bytes as a big-endian 64-bit word (unaligned access is fine).
inline uint64_t LoadBigEndian64(const uint8_t* p) {
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t word;
  std::memcpy(&word, p, sizeof(word));
  return __builtin_bswap64(word);
#else
  uint64_t word = 0;
  for (int i = 0; i < 8; ++i) word = (word << 8) | p[i];
  return word;
#endif
}

// Stores a 64-bit word as 8 big-endian bytes.
inline void StoreBigEndian64(uint8_t* p, uint64_t word) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<uint8_t>(word);
    word >>= 8;
  }
}

// Appends bits to a byte vector; Finish() pads the last byte with zero bits.
// The vector is grown in large steps while writing and cut to size by Finish().
class BitWriter {
 public:
  // Appends to `out` after whatever it already holds (e.g. a reserved header).
  explicit BitWriter(std::vector<uint8_t>* out) : out_(out), start_(out->size()), pos_(out->size()) {}

  // Writes the low `nbits` bits of `value` (0 <= nbits <= 64); the bits above
  // them must be zero.
  void Write(uint64_t value, unsigned nbits) {
    if (nbits == 0) return;
    const unsigned free_bits = 64 - used_;
    if (nbits < free_bits) {
      buffer_ |= value << (free_bits - nbits);
      used_ += nbits;
      return;
    }
    const unsigned rest = nbits - free_bits;  // bits that go to the next word
    buffer_ |= value >> rest;
    FlushWord();
    used_ = rest;
    buffer_ = rest == 0 ? 0 : value << (64 - rest);
  }

  // Writes one bit.
  void WriteBit(bool bit) { Write(bit ? 1u : 0u, 1); }

  // Appends the pending bits, zero-padded to a whole byte, and trims `out` to
  // the bytes written. Call once, last.
  void Finish() {
    const unsigned bytes = (used_ + 7) / 8;
    out_->resize(pos_ + bytes);
    for (unsigned i = 0; i < bytes; ++i) (*out_)[pos_ + i] = static_cast<uint8_t>(buffer_ >> (56 - 8 * i));
    pos_ += bytes;
    buffer_ = 0;
    used_ = 0;
  }

  // Bits written so far (not counting the bytes `out` held at construction).
  uint64_t BitCount() const { return static_cast<uint64_t>(pos_ - start_) * 8 + used_; }

 private:
  // Stores the full 64-bit buffer as the next 8 bytes.
  void FlushWord() {
    if (out_->size() - pos_ < 8) out_->resize(pos_ + 8 + out_->size());  // about doubles
    StoreBigEndian64(out_->data() + pos_, buffer_);
    pos_ += 8;
  }

  std::vector<uint8_t>* out_;
  size_t start_;         // out_->size() at construction
  size_t pos_;           // bytes of out_ written (whole words only until Finish)
  uint64_t buffer_ = 0;  // pending bits, left-aligned
  unsigned used_ = 0;    // number of pending bits, 0..63
};

// Thrown when a reader needs more bits than its buffer holds.
[[noreturn]] inline void ThrowBitStreamOverrun() {
  throw Error(ErrorCategory::DataCorrupted, "corrupt time-series block payload",
              "The bit stream ends before the last point.");
}

// Reads bits written by BitWriter from [data, data + size).
class BitReader {
 public:
  // Reads from a caller-owned buffer that must outlive the reader.
  BitReader(const uint8_t* data, size_t size) : begin_(data), next_(data), end_(data + size) {}

  // Reads `n` bits (1 <= n <= 64) as an unsigned number, first bit most
  // significant. Throws DataCorrupted past the end of the buffer.
  uint64_t Read(unsigned n) {
    if (bits_ < n) {
      Refill();
      if (bits_ < n) return ReadSplit(n);
    }
    const uint64_t result = buffer_ >> (64 - n);
    buffer_ = (buffer_ << (n - 1)) << 1;  // n may be 64
    bits_ -= n;
    return result;
  }

  // Reads one bit.
  unsigned ReadBit() {
    if (bits_ == 0) {
      Refill();
      if (bits_ == 0) ThrowBitStreamOverrun();
    }
    const unsigned bit = static_cast<unsigned>(buffer_ >> 63);
    buffer_ <<= 1;
    --bits_;
    return bit;
  }

  // Reads a unary prefix: counts 1 bits up to `max_ones` (1..32), consuming the
  // terminating 0 unless `max_ones` ones were read. Returns the count.
  unsigned ReadUnary(unsigned max_ones) {
    if (bits_ < max_ones) Refill();
    // Bits of the buffer beyond bits_ are zero or the true next bits, so they
    // never make the count larger than what the stream holds; the length check
    // below rejects a prefix that runs off the end.
    const uint64_t inverted = ~buffer_;
    unsigned ones = inverted == 0 ? 64 : static_cast<unsigned>(__builtin_clzll(inverted));
    unsigned length = ones + 1;
    if (ones >= max_ones) {
      ones = max_ones;
      length = max_ones;
    }
    if (length > bits_) ThrowBitStreamOverrun();
    buffer_ <<= length;
    bits_ -= length;
    return ones;
  }

  // The next `n` bits (1 <= n <= 57) without consuming them; bits past the end
  // of the buffer read as zero (Skip then rejects consuming them).
  uint64_t Peek(unsigned n) {
    if (bits_ < n) Refill();
    return buffer_ >> (64 - n);
  }

  // Consumes `n` bits (1 <= n <= 57) already looked at with Peek.
  void Skip(unsigned n) {
    if (n > bits_) ThrowBitStreamOverrun();
    buffer_ <<= n;
    bits_ -= n;
  }

  // Bits consumed since construction.
  uint64_t BitPosition() const { return static_cast<uint64_t>(next_ - begin_) * 8 - bits_; }

  // Bits not yet consumed.
  uint64_t RemainingBits() const { return static_cast<uint64_t>(end_ - next_) * 8 + bits_; }

  // True when every remaining bit is zero; call only when RemainingBits() < 64.
  bool RemainingBitsAreZero() {
    Refill();
    return bits_ == 0 || (buffer_ >> (64 - bits_)) == 0;
  }

 private:
  // Tops the buffer up to at least 57 bits, or to everything that is left.
  void Refill() {
    if (end_ - next_ >= 8) {
      // bits_ <= 63 here (callers refill only when short of bits). Bits past
      // the whole bytes counted are the true next bits; a later refill ORs the
      // same values into the same places.
      buffer_ |= LoadBigEndian64(next_) >> bits_;
      const unsigned bytes = (64 - bits_) / 8;
      next_ += bytes;
      bits_ += bytes * 8;
      return;
    }
    while (bits_ <= 56 && next_ < end_) {
      buffer_ |= static_cast<uint64_t>(*next_) << (56 - bits_);
      ++next_;
      bits_ += 8;
    }
  }

  // Read() for a request that straddles a refill: takes what the buffer holds,
  // then the rest from a fresh buffer.
  uint64_t ReadSplit(unsigned n) {
    const unsigned have = bits_;  // < n <= 64
    const uint64_t high = have == 0 ? 0 : buffer_ >> (64 - have);
    const unsigned rest = n - have;
    buffer_ = 0;
    bits_ = 0;
    Refill();
    if (bits_ < rest) ThrowBitStreamOverrun();
    const uint64_t low = buffer_ >> (64 - rest);
    buffer_ = (buffer_ << (rest - 1)) << 1;
    bits_ -= rest;
    return have == 0 ? low : (high << rest) | low;
  }

  const uint8_t* begin_;
  const uint8_t* next_;  // next byte to load into the buffer
  const uint8_t* end_;
  uint64_t buffer_ = 0;  // unconsumed bits, left-aligned
  unsigned bits_ = 0;    // number of valid bits in buffer_, 0..64
};

}  // namespace aegis::core
