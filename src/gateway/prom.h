// aegis-gateway: Prometheus remote write 1.0 (a snappy-compressed protobuf
// WriteRequest, src/gateway/remote.proto) into a Batch, and remote read
// (ReadRequest in, ReadResponse of samples out).
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/batch.h"
#include "gateway/request.h"
#include "gateway/read_sql.h"

namespace aegis::gateway {


struct RemoteWriteStats {
    size_t series = 0;
    size_t samples = 0;
    size_t exemplars = 0;   // skipped
    size_t histograms = 0;  // native histogram samples, skipped
    size_t metadata = 0;
};

// A decoded WriteRequest: its series as their label fields' bytes (which
// identify a series in a connection's dictionary) and its samples.
struct RemoteWrite {
    RemoteWrite() = default;
    RemoteWrite(const RemoteWrite &) = delete;  // the views would point into the original
    RemoteWrite &operator=(const RemoteWrite &) = delete;
    std::string raw;  // the decompressed message, which the views point into
    struct Series {
        std::string_view labels;  // the Label fields, tags included, as sent
        size_t begin = 0, end = 0;  // samples[begin, end)
    };
    std::vector<Series> series;  // those with samples
    std::vector<std::pair<int64_t, double>> samples;  // (microseconds since 2000-01-01 UTC, value)
    std::deque<std::string> gathered;  // label fields another field came between, gathered
};

// Decodes `body` into `out` and `metadata`; false with `error` (the 400
// answer's text) when it is not a snappy-compressed WriteRequest that
// decompresses to at most `max_decoded` bytes, or when a sample's time is
// outside PostgreSQL's range. A series' labels are read when a connection
// first writes it (EncodeRemoteWrite).
bool DecodeRemoteWrite(std::string_view body, size_t max_decoded, RemoteWrite *out,
                       std::vector<MetricMetadata> *metadata, RemoteWriteStats *stats, std::string *error);

// The metric and tags of a series' label fields: __name__ is the metric,
// the other labels with a value the tags. False with `error` when a label is
// not valid UTF-8 or the series has no usable metric name.
bool SeriesOfLabels(std::string_view labels, std::string *metric, std::string *tags_json, std::string *error);

// The request of a decoded WriteRequest: each series by its slot, defined
// (and its metric name added to `new_metrics`) when the connection's
// dictionary lacks it. False with `error` as SeriesOfLabels.
bool EncodeRemoteWrite(const RemoteWrite &decoded, RequestBuilder *builder, std::vector<std::string> *new_metrics,
                       std::string *error);

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
