// aegis-gateway: Prometheus remote write decoding (prom.h).
#include "gateway/prom.h"

#include <snappy.h>

#include <algorithm>

#include <google/protobuf/arena.h>

#include "remote.pb.h"

namespace aegis::gateway {

namespace {

const char *KindOf(prompb::MetricMetadata::MetricType type) {
    switch (type) {
        case prompb::MetricMetadata::COUNTER:
            return "counter";
        case prompb::MetricMetadata::GAUGE:
            return "gauge";
        case prompb::MetricMetadata::HISTOGRAM:
        case prompb::MetricMetadata::GAUGEHISTOGRAM:
            return "histogram";
        case prompb::MetricMetadata::SUMMARY:
            return "summary";
        default:
            return "";
    }
}

// Decompresses a snappy block of at most `max_decoded` bytes and parses it
// as `message` (named `what` in errors).
bool DecodeSnappyProto(std::string_view body, size_t max_decoded, const char *what,
                       google::protobuf::MessageLite *message, std::string *error) {
    size_t decoded_size = 0;
    if (!snappy::GetUncompressedLength(body.data(), body.size(), &decoded_size)) {
        *error = "the body is not snappy-compressed (remote write and read send a snappy block)";
        return false;
    }
    if (decoded_size > max_decoded) {
        *error = "the request decompresses to " + std::to_string(decoded_size) + " bytes, more than the limit of " +
                 std::to_string(max_decoded) + " (--max-request-bytes)";
        return false;
    }
    std::string raw;
    if (!snappy::Uncompress(body.data(), body.size(), &raw)) {
        *error = "the body's snappy data is corrupt";
        return false;
    }
    if (!message->ParseFromString(raw)) {
        *error = std::string("the body is not a protobuf ") + what;
        return false;
    }
    return true;
}

}  // namespace

bool DecodeRemoteWrite(std::string_view body, size_t max_decoded, Batch *out, std::vector<MetricMetadata> *metadata,
                       RemoteWriteStats *stats, std::string *error) {
    // The message's strings in an arena: a request holds thousands of labels,
    // and allocating and freeing each took half of the gateway's time.
    google::protobuf::ArenaOptions options;
    options.start_block_size = 64 * 1024;
    options.max_block_size = 1024 * 1024;
    google::protobuf::Arena arena(options);
    auto *req = google::protobuf::Arena::CreateMessage<prompb::WriteRequest>(&arena);
    if (!DecodeSnappyProto(body, max_decoded, "WriteRequest", req, error)) return false;
    TagViews tags;
    for (const prompb::TimeSeries &ts : req->timeseries()) {
        stats->series++;
        stats->exemplars += static_cast<size_t>(ts.exemplars_size());
        stats->histograms += static_cast<size_t>(ts.histograms_size());
        if (ts.samples_size() == 0) continue;
        std::string_view name;
        tags.clear();
        for (const prompb::Label &l : ts.labels()) {
            if (l.name() == "__name__") {
                name = l.value();
            } else if (!l.value().empty()) {  // an empty label is an absent one
                tags.emplace_back(l.name(), l.value());
            }
        }
        std::string metric = MetricName(name);
        if (metric.empty()) {
            *error = name.empty() ? "a series has no __name__ label"
                                  : "metric name \"" + std::string(name.substr(0, 100)) + "\" is longer than 200 bytes";
            return false;
        }
        auto index = static_cast<uint32_t>(out->series.size());
        out->series.push_back({std::move(metric), TagsJson(tags)});
        for (const prompb::Sample &s : ts.samples()) {
            int64_t us = 0, pg = 0;
            if (__builtin_mul_overflow(s.timestamp(), int64_t{1000}, &us) ||
                __builtin_sub_overflow(us, kPgEpochUnixUs, &pg) || pg < kMinPgUs || pg >= kEndPgUs) {
                *error = "a sample's timestamp (" + std::to_string(s.timestamp()) +
                         " ms) is outside PostgreSQL's range";
                return false;
            }
            out->points.push_back({index, pg, s.value()});
            stats->samples++;
        }
    }
    for (const prompb::MetricMetadata &m : req->metadata()) {
        stats->metadata++;
        std::string metric = MetricName(m.metric_family_name());
        if (metric.empty()) continue;
        metadata->push_back({std::move(metric), KindOf(m.type()), m.unit(), m.help()});
    }
    return true;
}

bool DecodeRemoteRead(std::string_view body, size_t max_decoded, std::vector<PromQuery> *queries, std::string *error) {
    prompb::ReadRequest req;
    if (!DecodeSnappyProto(body, max_decoded, "ReadRequest", &req, error)) return false;
    bool samples = req.accepted_response_types_size() == 0;
    for (int t : req.accepted_response_types()) samples = samples || t == prompb::ReadRequest::SAMPLES;
    if (!samples) {
        *error = "the client accepts only streamed chunks; the gateway answers with samples";
        return false;
    }
    for (const prompb::Query &q : req.queries()) {
        PromQuery out;
        out.start_ms = q.start_timestamp_ms();
        out.end_ms = q.end_timestamp_ms();
        for (const prompb::LabelMatcher &m : q.matchers()) {
            if (m.type() < prompb::LabelMatcher::EQ || m.type() > prompb::LabelMatcher::NRE) {
                *error = "unknown label matcher type " + std::to_string(m.type());
                return false;
            }
            out.matchers.push_back({static_cast<PromMatcher::Type>(m.type()), m.name(), m.value()});
        }
        queries->push_back(std::move(out));
    }
    return true;
}

std::string EncodeReadResponse(const std::vector<std::vector<ReadSeries>> &results) {
    prompb::ReadResponse resp;
    for (const std::vector<ReadSeries> &result : results) {
        prompb::QueryResult *qr = resp.add_results();
        for (const ReadSeries &s : result) {
            prompb::TimeSeries *ts = qr->add_timeseries();
            // Labels sorted by name, __name__ among them, as Prometheus keeps them.
            Tags labels;
            for (const auto &t : s.tags) {
                if (t.first != "__name__") labels.push_back(t);  // a tag of that name (line protocol) would clash
            }
            labels.emplace_back("__name__", s.metric);
            std::sort(labels.begin(), labels.end());
            for (const auto &[k, v] : labels) {
                prompb::Label *l = ts->add_labels();
                l->set_name(k);
                l->set_value(v);
            }
            for (const auto &[ms, v] : s.samples) {
                prompb::Sample *sample = ts->add_samples();
                sample->set_timestamp(ms);
                sample->set_value(v);
            }
        }
    }
    std::string raw = resp.SerializeAsString(), out;
    snappy::Compress(raw.data(), raw.size(), &out);
    return out;
}

}  // namespace aegis::gateway
