// The samples of one gateway request as aegis._write_request receives them
// (docs/gateway.md, "How samples reach the database"): each series' metric
// and tags once, then the samples, each naming its series by index. The
// gateway builds it (src/gateway/writer.cpp); the server parses it here,
// checking every length and index, so no input reads outside the bytes.
//
// Layout (little-endian):
//   u32 magic "AEWR", u32 version (1), u32 series count S, u32 sample count N;
//   S times: u32 metric length, the metric's bytes, u32 tags length, the
//            tags' bytes (a JSON object, as the gateway writes it);
//   N times: u32 series index (< S), i64 timestamp (microseconds since
//            2000-01-01 UTC), f64 value.
// S may not exceed N.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.h"

namespace aegis::core {

constexpr uint32_t kWriteRequestMagic = 0x52574541;  // "AEWR"
constexpr uint32_t kWriteRequestVersion = 1;

struct WriteRequest {
  struct Series {
    std::string_view metric;  // into the request's bytes
    std::string_view tags;
  };
  struct Sample {
    uint32_t series;
    Timestamp ts;
    double value;
  };
  std::vector<Series> series;
  std::vector<Sample> samples;
};

// Appends the request's header, series and samples to out (the gateway's
// side): series[i] is (metric, tags JSON).
void AppendWriteRequestHeader(std::string* out, uint32_t series, uint32_t samples);
void AppendWriteRequestSeries(std::string* out, std::string_view metric, std::string_view tags);
void AppendWriteRequestSample(std::string* out, uint32_t series, Timestamp ts, double value);

// Parses a request; throws InvalidParameter naming what is wrong. The views
// point into data.
void ParseWriteRequest(const uint8_t* data, size_t size, WriteRequest* out);

}  // namespace aegis::core
