// aegis-gateway: Prometheus remote write 1.0 (a snappy-compressed protobuf
// WriteRequest, src/gateway/remote.proto) into a Batch, and remote read
// (ReadRequest in, ReadResponse of samples out).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/batch.h"
#include "gateway/read_sql.h"

namespace aegis::gateway {


struct RemoteWriteStats {
    size_t series = 0;
    size_t samples = 0;
    size_t exemplars = 0;   // skipped
    size_t histograms = 0;  // native histogram samples, skipped
    size_t metadata = 0;
};

// Decodes `body` into `out` (appending) and `metadata`; false with `error`
// (the 400 answer's text) when it is not a snappy-compressed WriteRequest
// that decompresses to at most `max_decoded` bytes, or when a series has no
// metric name or a sample's time is outside PostgreSQL's range.
bool DecodeRemoteWrite(std::string_view body, size_t max_decoded, Batch *out, std::vector<MetricMetadata> *metadata,
                       RemoteWriteStats *stats, std::string *error);


// A series of a remote read answer.
struct ReadSeries {
    std::string metric;
    Tags tags;
    std::vector<std::pair<int64_t, double>> samples;  // (ms since the Unix epoch, value), in time order
};

// Decodes a snappy-compressed ReadRequest; false with `error` (the 400
// answer) otherwise, or when the client accepts no samples response.
bool DecodeRemoteRead(std::string_view body, size_t max_decoded, std::vector<PromQuery> *queries, std::string *error);

// The snappy-compressed ReadResponse with one QueryResult per query.
std::string EncodeReadResponse(const std::vector<std::vector<ReadSeries>> &results);

}  // namespace aegis::gateway
