// Byte-level writer and bounds-checked reader for codec 2 payloads. Every
// multi-byte integer is little-endian. The reader never touches a byte outside
// the range it was given; running off the end throws DataCorrupted.
#pragma once
#include "cpp_only.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "error.h"

namespace aegis::core {

// Raises the error for a codec 2 payload that cannot be decoded.
[[noreturn]] inline void ThrowCorruptPayload(std::string detail) {
  throw Error(ErrorCategory::DataCorrupted, "corrupt time-series block payload", std::move(detail));
}

// Appends little-endian integers and raw bytes to a byte vector.
class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>* out) : out_(out) {}

  void U8(uint8_t v) { out_->push_back(v); }
  void U16(uint16_t v) { Little(v, 2); }
  void U32(uint32_t v) { Little(v, 4); }
  void U64(uint64_t v) { Little(v, 8); }

  // Appends `bytes` zero bytes and returns where they start (valid until the
  // next append).
  uint8_t* Grow(size_t bytes) {
    const size_t at = out_->size();
    out_->resize(at + bytes);
    return out_->data() + at;
  }

  void Append(const std::vector<uint8_t>& bytes) { out_->insert(out_->end(), bytes.begin(), bytes.end()); }

  size_t Size() const { return out_->size(); }

 private:
  void Little(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out_->push_back(static_cast<uint8_t>(v >> (8 * i)));
  }

  std::vector<uint8_t>* out_;
};

// Reads little-endian integers and byte ranges from [data, data + size).
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : begin_(data), next_(data), end_(data + size) {}

  size_t Remaining() const { return static_cast<size_t>(end_ - next_); }
  size_t Offset() const { return static_cast<size_t>(next_ - begin_); }

  // The next `bytes` bytes; `what` names them in the error.
  const uint8_t* Take(size_t bytes, const char* what) {
    if (bytes > Remaining()) {
      ThrowCorruptPayload(std::string("The payload ends inside ") + what + ": " + std::to_string(bytes) +
                          " bytes needed, " + std::to_string(Remaining()) + " left.");
    }
    const uint8_t* at = next_;
    next_ += bytes;
    return at;
  }

  uint8_t U8(const char* what) { return *Take(1, what); }
  uint16_t U16(const char* what) { return static_cast<uint16_t>(Little(Take(2, what), 2)); }
  uint32_t U32(const char* what) { return static_cast<uint32_t>(Little(Take(4, what), 4)); }
  uint64_t U64(const char* what) { return Little(Take(8, what), 8); }

  // Little-endian integer of `bytes` bytes at p.
  static uint64_t Little(const uint8_t* p, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }

 private:
  const uint8_t* begin_;
  const uint8_t* next_;
  const uint8_t* end_;
};

}  // namespace aegis::core
