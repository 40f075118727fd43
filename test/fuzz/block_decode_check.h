// The check that the DecodeBlock fuzz target (test/fuzz/block_decode_fuzz.cpp)
// applies to each input, shared with the corpus regression test
// (test/unit/fuzz_corpus_test.cpp) so both judge an input the same way.
//
// An input is decoded twice: as given (so header and checksum checks are
// exercised) and, if it is at least a header long, with bytes 12-15 rewritten
// to the correct CRC-32C (so the payload decoders behind the checksum are
// reached). Each decode must either throw Error(DataCorrupted) and leave both
// outputs empty, or return n >= 1 points that EncodeBlock (default codec)
// turns into a block decoding to the same points, bit for bit.
//
// Inputs whose header (bytes 4-7) announces more than kMaxCheckedPoints points
// but no more than kMaxBlockPoints are skipped: codec 2 can describe a million
// regular, constant points in a few dozen bytes, and decoding them means
// filling 16 MB of output, which would eat the fuzzer's time without testing
// anything a 100,000-point block does not. Counts above kMaxBlockPoints are
// still decoded, since the header check rejects them before any allocation.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/block_codec.h"
#include "core/error.h"

namespace aegis::fuzz {

// Largest header point count that is decoded (see above).
constexpr uint32_t kMaxCheckedPoints = 100000;

// True when the input's header announces a point count in
// (kMaxCheckedPoints, kMaxBlockPoints]; such inputs are not decoded.
inline bool SkippedForPointCount(const uint8_t* data, size_t size) {
  if (size < 8) return false;
  const uint32_t count = static_cast<uint32_t>(data[4]) | (static_cast<uint32_t>(data[5]) << 8) |
                         (static_cast<uint32_t>(data[6]) << 16) | (static_cast<uint32_t>(data[7]) << 24);
  return count > kMaxCheckedPoints && count <= core::kMaxBlockPoints;
}

// Decodes `block`; on success checks the re-encode round trip. Returns an
// empty string when the decode behaved, else what went wrong. Exceptions other
// than aegis::core::Error are not caught: under the fuzzer they terminate the
// process with the throw site on the stack.
inline std::string CheckDecode(const std::vector<uint8_t>& block) {
  std::vector<core::Timestamp> ts;
  std::vector<double> values;
  try {
    core::DecodeBlock(block.data(), block.size(), &ts, &values);
  } catch (const core::Error& e) {
    if (e.category() != core::ErrorCategory::DataCorrupted) {
      return std::string("decode error with a category other than DataCorrupted: ") + e.what() + " / " + e.detail();
    }
    if (!ts.empty() || !values.empty()) return "outputs not cleared after a decode error";
    return {};
  }
  if (ts.empty() || ts.size() != values.size()) return "decode returned no points or mismatched vectors";
  // A prefix decode of a block that decodes whole succeeds, counts every
  // point and, where the timestamps rise (as in every stored block), gives
  // the points before its bound.
  {
    const core::Timestamp until = ts[ts.size() / 2];
    std::vector<core::Timestamp> ts_prefix;
    std::vector<double> values_prefix;
    try {
      if (core::DecodeBlockBefore(block.data(), block.size(), until, &ts_prefix, &values_prefix) != ts.size())
        return "a prefix decode counted another number of points";
    } catch (const core::Error& e) {
      return std::string("a prefix decode failed where the whole decode did not: ") + e.what();
    }
    if (ts_prefix.size() != values_prefix.size() || ts_prefix.size() > ts.size())
      return "a prefix decode returned mismatched vectors";
    bool rising = true;
    for (size_t i = 1; i < ts.size() && rising; ++i) rising = ts[i - 1] <= ts[i];
    if (rising) {
      size_t kept = 0;
      while (kept < ts.size() && (ts[kept] < until || until == core::kTimestampInfinity)) ++kept;
      if (ts_prefix.size() != kept || !std::equal(ts_prefix.begin(), ts_prefix.end(), ts.begin()) ||
          (kept > 0 && std::memcmp(values_prefix.data(), values.data(), kept * sizeof(double)) != 0))
        return "a prefix decode differs from the whole decode's points before its bound";
    }
  }
  std::vector<core::Timestamp> ts2;
  std::vector<double> values2;
  try {
    const std::vector<uint8_t> again = core::EncodeBlock(ts.data(), values.data(), ts.size());
    core::DecodeBlock(again.data(), again.size(), &ts2, &values2);
  } catch (const core::Error& e) {
    return std::string("re-encoding the decoded points failed: ") + e.what() + " / " + e.detail();
  }
  if (ts != ts2) return "timestamps differ after re-encoding";
  if (values.size() != values2.size() ||
      std::memcmp(values.data(), values2.data(), values.size() * sizeof(double)) != 0) {
    return "value bits differ after re-encoding";
  }
  return {};
}

// The whole check of one input: empty when it passes, else the failure (and
// which of the two decodes it came from).
inline std::string CheckBlockInput(const uint8_t* data, size_t size) {
  if (SkippedForPointCount(data, size)) return {};
  std::vector<uint8_t> block(data, data + size);  // exact-size copy so ASan sees overreads
  std::string failure = CheckDecode(block);
  if (!failure.empty()) return "as given: " + failure;
  if (block.size() >= core::kBlockHeaderSize) {
    const uint32_t crc = core::ComputeBlockChecksum(block.data(), block.size());
    for (int i = 0; i < 4; ++i) block[12 + i] = static_cast<uint8_t>(crc >> (8 * i));
    failure = CheckDecode(block);
    if (!failure.empty()) return "with the CRC fixed up: " + failure;
  }
  return {};
}

}  // namespace aegis::fuzz
