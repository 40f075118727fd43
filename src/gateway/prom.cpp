// aegis-gateway: Prometheus remote write decoding (prom.h).
#include "gateway/prom.h"

#include <snappy.h>

#include <algorithm>

#include <cstring>

#include <google/protobuf/io/coded_stream.h>

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

// Decompresses a snappy block of at most `max_decoded` bytes into `raw`.
bool Decompress(std::string_view body, size_t max_decoded, std::string *raw, std::string *error) {
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
    if (!snappy::Uncompress(body.data(), body.size(), raw)) {
        *error = "the body's snappy data is corrupt";
        return false;
    }
    return true;
}

// Decompresses and parses `message` (named `what` in errors).
bool DecodeSnappyProto(std::string_view body, size_t max_decoded, const char *what,
                       google::protobuf::MessageLite *message, std::string *error) {
    std::string raw;
    if (!Decompress(body, max_decoded, &raw, error)) return false;
    if (!message->ParseFromString(raw)) {
        *error = std::string("the body is not a protobuf ") + what;
        return false;
    }
    return true;
}

// Protocol buffers' wire format, read with the library's CodedInputStream
// over a message's bytes without building messages: a remote-write request
// repeats every series' labels, and only those a connection has not defined
// yet are parsed (request.h).
class Wire {
public:
    explicit Wire(std::string_view bytes)
        : bytes_(bytes), in_(reinterpret_cast<const uint8_t *>(bytes.data()), static_cast<int>(bytes.size())) {}

    // The next field's number and wire type; false at the end (then check
    // Ok(): a tag that is not one, field number 0 or a cut field is not the
    // end of a message).
    bool Next(uint32_t *field, uint32_t *type) {
        start_ = in_.CurrentPosition();
        if (static_cast<size_t>(start_) == bytes_.size()) return false;
        uint64_t tag = 0;
        if (!in_.ReadVarint64(&tag) || tag > UINT32_MAX || (tag >> 3) == 0) {
            bad_ = true;
            return false;
        }
        *field = static_cast<uint32_t>(tag >> 3);
        *type = static_cast<uint32_t>(tag & 7);
        return true;
    }
    bool Ok() const { return !bad_ && in_.CurrentPosition() == static_cast<int>(bytes_.size()); }

    // A length-delimited field's contents (type 2).
    bool Bytes(std::string_view *out) {
        uint64_t len = 0;
        if (!in_.ReadVarint64(&len)) return false;
        const int at = in_.CurrentPosition();
        if (len > bytes_.size() - static_cast<size_t>(at) || !in_.Skip(static_cast<int>(len))) return false;
        *out = bytes_.substr(static_cast<size_t>(at), len);
        return true;
    }
    bool Varint(uint64_t *out) { return in_.ReadVarint64(out); }
    bool Fixed64(uint64_t *out) { return in_.ReadLittleEndian64(out); }
    // Skips a field of another number (or of an unexpected type, as
    // protobuf's own parser does); groups (types 3 and 4) are refused.
    bool Skip(uint32_t type) {
        uint64_t v = 0;
        uint32_t v32 = 0;
        std::string_view ignored;
        switch (type) {
            case 0:
                return in_.ReadVarint64(&v);
            case 1:
                return in_.ReadLittleEndian64(&v);
            case 2:
                return Bytes(&ignored);
            case 5:
                return in_.ReadLittleEndian32(&v32);
            default:
                return false;
        }
    }
    // The bytes of the field just read, its tag included.
    std::string_view Field() const {
        return bytes_.substr(static_cast<size_t>(start_), static_cast<size_t>(in_.CurrentPosition() - start_));
    }

private:
    std::string_view bytes_;
    google::protobuf::io::CodedInputStream in_;
    int start_ = 0;
    bool bad_ = false;
};

constexpr const char *kNotWriteRequest = "the body is not a protobuf WriteRequest";

// One TimeSeries: its label fields (gathered into `scratch` when another
// field comes between them) and samples.
bool DecodeSeries(std::string_view bytes, RemoteWrite *out, RemoteWriteStats *stats, std::string *scratch) {
    Wire w(bytes);
    uint32_t field = 0, type = 0;
    std::string_view labels;
    bool scattered = false;
    RemoteWrite::Series series;
    series.begin = out->samples.size();
    while (w.Next(&field, &type)) {
        std::string_view value;
        if (field == 1 && type == 2) {
            if (!w.Bytes(&value)) return false;
            const std::string_view f = w.Field();
            if (labels.empty()) {
                labels = f;
            } else if (!scattered && labels.data() + labels.size() == f.data()) {
                labels = std::string_view(labels.data(), labels.size() + f.size());
            } else {
                if (!scattered) scratch->assign(labels);
                scattered = true;
                scratch->append(f);
            }
        } else if (field == 2 && type == 2) {
            if (!w.Bytes(&value)) return false;
            Wire s(value);
            uint64_t bits = 0, ts = 0;
            while (s.Next(&field, &type)) {
                if (field == 1 && type == 1) {
                    if (!s.Fixed64(&bits)) return false;
                } else if (field == 2 && type == 0) {
                    if (!s.Varint(&ts)) return false;
                } else if (!s.Skip(type)) {
                    return false;
                }
            }
            if (!s.Ok()) return false;
            double v;
            std::memcpy(&v, &bits, sizeof v);
            out->samples.push_back({static_cast<int64_t>(ts), v});
        } else {
            if (field == 3 && type == 2) stats->exemplars++;
            if (field == 4 && type == 2) stats->histograms++;
            if (!w.Skip(type)) return false;
        }
    }
    if (!w.Ok()) return false;
    stats->series++;
    series.end = out->samples.size();
    if (series.begin == series.end) return true;  // nothing to write
    if (scattered) {
        out->gathered.push_back(std::move(*scratch));
        labels = out->gathered.back();
    }
    series.labels = labels;
    out->series.push_back(series);
    return true;
}

bool DecodeMetadata(std::string_view bytes, std::vector<MetricMetadata> *metadata) {
    Wire w(bytes);
    uint32_t field = 0, type = 0;
    uint64_t kind = 0;
    std::string_view name, help, unit;
    while (w.Next(&field, &type)) {
        if (field == 1 && type == 0) {
            if (!w.Varint(&kind)) return false;
        } else if (type == 2 && (field == 2 || field == 4 || field == 5)) {
            if (!w.Bytes(field == 2 ? &name : field == 4 ? &help : &unit)) return false;
        } else if (!w.Skip(type)) {
            return false;
        }
    }
    if (!w.Ok() || !IsUtf8(name) || !IsUtf8(help) || !IsUtf8(unit)) return false;
    std::string metric = MetricName(name);
    if (!metric.empty()) {
        metadata->push_back({std::move(metric), KindOf(static_cast<prompb::MetricMetadata::MetricType>(kind)),
                             std::string(unit), std::string(help)});
    }
    return true;
}

}  // namespace

bool DecodeRemoteWrite(std::string_view body, size_t max_decoded, RemoteWrite *out,
                       std::vector<MetricMetadata> *metadata, RemoteWriteStats *stats, std::string *error) {
    if (!Decompress(body, max_decoded, &out->raw, error)) return false;
    Wire w(out->raw);
    uint32_t field = 0, type = 0;
    std::string scratch;
    while (w.Next(&field, &type)) {
        std::string_view value;
        bool ok;
        if (field == 1 && type == 2) {
            ok = w.Bytes(&value) && DecodeSeries(value, out, stats, &scratch);
        } else if (field == 3 && type == 2) {
            stats->metadata++;
            ok = w.Bytes(&value) && DecodeMetadata(value, metadata);
        } else {
            ok = w.Skip(type);
        }
        if (!ok) {
            *error = kNotWriteRequest;
            return false;
        }
    }
    if (!w.Ok()) {
        *error = kNotWriteRequest;
        return false;
    }
    for (auto &[ts, value] : out->samples) {
        int64_t us = 0, pg = 0;
        if (__builtin_mul_overflow(ts, int64_t{1000}, &us) || __builtin_sub_overflow(us, kPgEpochUnixUs, &pg) ||
            pg < kMinPgUs || pg >= kEndPgUs) {
            *error = "a sample's timestamp (" + std::to_string(ts) + " ms) is outside PostgreSQL's range";
            return false;
        }
        ts = pg;
        stats->samples++;
    }
    return true;
}

bool SeriesOfLabels(std::string_view labels, std::string *metric, std::string *tags_json, std::string *error) {
    Wire w(labels);
    uint32_t field = 0, type = 0;
    std::string_view name;
    TagViews tags;
    bool malformed = false;
    while (!malformed && w.Next(&field, &type)) {
        std::string_view label;
        if (!w.Bytes(&label)) break;  // only Label fields (1, type 2) are gathered
        Wire l(label);
        std::string_view k, v;
        while (!malformed && l.Next(&field, &type)) {
            if (type == 2 && (field == 1 || field == 2)) {
                malformed = !l.Bytes(field == 1 ? &k : &v);
            } else {
                malformed = !l.Skip(type);
            }
        }
        malformed = malformed || !l.Ok();
        if (malformed) break;
        if (!IsUtf8(k) || !IsUtf8(v)) {
            *error = "a label name or value is not valid UTF-8 (or holds a NUL byte)";
            return false;
        }
        if (k == "__name__") {
            name = v;
        } else if (!v.empty()) {  // an empty label is an absent one
            tags.emplace_back(k, v);
        }
    }
    if (malformed || !w.Ok()) {
        *error = kNotWriteRequest;
        return false;
    }
    *metric = MetricName(name);
    if (metric->empty()) {
        *error = name.empty() ? "a series has no __name__ label"
                              : "metric name \"" + std::string(name.substr(0, 100)) + "\" is longer than 200 bytes";
        return false;
    }
    *tags_json = TagsJson(tags);
    return true;
}

bool EncodeRemoteWrite(const RemoteWrite &decoded, RequestBuilder *builder, std::vector<std::string> *new_metrics,
                       std::string *error) {
    std::string key, metric, tags_json;
    for (const RemoteWrite::Series &s : decoded.series) {
        key.assign(1, 'P').append(s.labels);
        int64_t slot = builder->Find(key);
        if (slot < 0) {
            if (!SeriesOfLabels(s.labels, &metric, &tags_json, error)) return false;
            slot = builder->Define(key, metric, tags_json);
            new_metrics->push_back(metric);
        }
        for (size_t i = s.begin; i < s.end; i++) {
            builder->Sample(static_cast<uint32_t>(slot), decoded.samples[i].first, decoded.samples[i].second);
        }
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
