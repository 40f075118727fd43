// The samples of one gateway request as aegis._write_request receives them
// (docs/gateway.md, the "Series dictionaries" item). A gateway connection
// and its backend share a series dictionary: a request defines the series
// the backend has not been told about yet, each once, and every sample names
// its series by slot, a number of that dictionary. The gateway builds it
// (src/gateway/request.cpp); the server parses it here, checking every length
// and slot, so no input reads outside the bytes, and keeps the dictionary
// (src/pg/write_request.cpp).
//
// Layout (little-endian):
//   u32 magic "AEWR", u32 version (2),
//   u64 dictionary id (the gateway's choice; a request naming another
//       dictionary than the backend keeps is refused, 55000),
//   u32 flags (bit 0: reset, the backend forgets every slot and keeps this
//       dictionary id from now on; other bits must be 0),
//   u32 first slot F (the dictionary's size before this request: after a
//       reset 0), u32 definition count D, u32 sample count N;
//   D times: u32 metric length, the metric's bytes, u32 tags length, the
//            tags' bytes (a JSON object): the series of slot F, F + 1, ...;
//   N times: u32 slot (< F + D), i64 timestamp (microseconds since
//            2000-01-01 UTC), f64 value.
// D may not exceed N (a request defines only series it has samples of).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.h"

namespace aegis::core {

constexpr uint32_t kWriteRequestMagic = 0x52574541;  // "AEWR"
constexpr uint32_t kWriteRequestVersion = 2;
constexpr uint32_t kWriteRequestReset = 1;          // flags bit 0
constexpr size_t kWriteRequestHeaderBytes = 32;
// Slots are below this (the dictionary's largest size).
constexpr uint32_t kWriteRequestMaxSlots = 1u << 30;

struct WriteRequest {
  struct Series {
    std::string_view metric;  // into the request's bytes
    std::string_view tags;
  };
  struct Sample {
    uint32_t slot;
    Timestamp ts;
    double value;
  };
  uint64_t dictionary = 0;
  bool reset = false;
  uint32_t first_slot = 0;
  std::vector<Series> definitions;  // of slots first_slot, first_slot + 1, ...
  std::vector<Sample> samples;
};

// The gateway's side: the header (32 bytes; written last, over a
// placeholder, once the counts are known), the definitions, the samples.
void PutWriteRequestHeader(char* header, uint64_t dictionary, bool reset, uint32_t first_slot, uint32_t definitions,
                           uint32_t samples);
void AppendWriteRequestDefinition(std::string* out, std::string_view metric, std::string_view tags);
void AppendWriteRequestSample(std::string* out, uint32_t slot, Timestamp ts, double value);

// Parses a request; throws InvalidParameter naming what is wrong. The views
// point into data.
void ParseWriteRequest(const uint8_t* data, size_t size, WriteRequest* out);

}  // namespace aegis::core
