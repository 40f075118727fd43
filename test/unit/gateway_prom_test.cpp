// The gateway's remote-write decoding (src/gateway/prom.h), read from the
// wire without protobuf messages, against requests built with protobuf's
// generated classes; and the write requests it makes through a connection's
// series dictionary (src/gateway/request.h).
#include "gateway/prom.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include <cstring>
#include <string>

#include "core/error.h"
#include "core/write_request.h"
#include "gateway/request.h"
#include "remote.pb.h"

namespace aegis::gateway {
namespace {

constexpr int64_t kMs = 1700000000000;  // 2023-11-14 22:13:20 UTC

void AddSeries(prompb::WriteRequest *req, const std::vector<std::pair<std::string, std::string>> &labels,
               const std::vector<std::pair<int64_t, double>> &samples) {
    prompb::TimeSeries *ts = req->add_timeseries();
    for (const auto &[k, v] : labels) {
        prompb::Label *l = ts->add_labels();
        l->set_name(k);
        l->set_value(v);
    }
    for (const auto &[t, v] : samples) {
        prompb::Sample *s = ts->add_samples();
        s->set_timestamp(t);
        s->set_value(v);
    }
}

std::string Compress(const std::string &raw) {
    std::string body;
    snappy::Compress(raw.data(), raw.size(), &body);
    return body;
}

prompb::WriteRequest Example() {
    prompb::WriteRequest req;
    AddSeries(&req, {{"__name__", "up"}, {"instance", "a:9100"}, {"job", "node"}}, {{kMs, 1.0}, {kMs + 1000, 0.0}});
    AddSeries(&req, {{"__name__", "node_load1"}, {"empty", ""}, {"quote", "say \"hi\"\n"}}, {{kMs, -2.5}});
    AddSeries(&req, {{"__name__", "no_samples"}}, {});
    req.mutable_timeseries(2)->add_exemplars("x");
    req.mutable_timeseries(0)->add_histograms("h");
    prompb::MetricMetadata *m = req.add_metadata();
    m->set_type(prompb::MetricMetadata::COUNTER);
    m->set_metric_family_name("http_requests");
    m->set_help("Requests.");
    m->set_unit("requests");
    return req;
}

TEST(GatewayRemoteWrite, DecodesAsProtobufDoes) {
    RemoteWrite decoded;
    std::vector<MetricMetadata> metadata;
    RemoteWriteStats stats;
    std::string error;
    ASSERT_TRUE(DecodeRemoteWrite(Compress(Example().SerializeAsString()), 1 << 20, &decoded, &metadata, &stats,
                                  &error))
        << error;
    EXPECT_EQ(stats.series, 3u);
    EXPECT_EQ(stats.samples, 3u);
    EXPECT_EQ(stats.exemplars, 1u);
    EXPECT_EQ(stats.histograms, 1u);
    EXPECT_EQ(stats.metadata, 1u);
    ASSERT_EQ(decoded.series.size(), 2u);  // the series without samples is left out
    ASSERT_EQ(decoded.samples.size(), 3u);
    const int64_t pg = (kMs * 1000) - kPgEpochUnixUs;
    EXPECT_EQ(decoded.samples[0], std::make_pair(pg, 1.0));
    EXPECT_EQ(decoded.samples[1], std::make_pair(pg + 1000000, 0.0));
    EXPECT_EQ(decoded.samples[2], std::make_pair(pg, -2.5));
    std::string metric, tags;
    ASSERT_TRUE(SeriesOfLabels(decoded.series[0].labels, &metric, &tags, &error)) << error;
    EXPECT_EQ(metric, "up");
    EXPECT_EQ(tags, "{\"instance\":\"a:9100\",\"job\":\"node\"}");
    ASSERT_TRUE(SeriesOfLabels(decoded.series[1].labels, &metric, &tags, &error)) << error;
    EXPECT_EQ(metric, "node_load1");
    EXPECT_EQ(tags, "{\"quote\":\"say \\\"hi\\\"\\u000a\"}");
    ASSERT_EQ(metadata.size(), 1u);
    EXPECT_EQ(metadata[0].metric, "http_requests");
    EXPECT_EQ(metadata[0].kind, "counter");
    EXPECT_EQ(metadata[0].unit, "requests");
    EXPECT_EQ(metadata[0].help, "Requests.");
}

// Labels with a sample between them (protobuf allows any field order) are
// gathered into one key, which reads back the same.
TEST(GatewayRemoteWrite, ScatteredLabelsAreGathered) {
    prompb::TimeSeries a, b;
    a.add_labels()->set_name("__name__");
    a.mutable_labels(0)->set_value("m");
    a.add_samples()->set_timestamp(kMs);
    b.add_labels()->set_name("k");
    b.mutable_labels(0)->set_value("v");
    const std::string ts = a.SerializeAsString() + b.SerializeAsString();  // fields of one message, concatenated
    prompb::WriteRequest req;
    req.add_timeseries()->ParseFromString(ts);
    std::string raw;
    // Written by hand: field 1 (TimeSeries) with the concatenated bytes, so
    // the label, sample, label order survives.
    raw.push_back(0x0a);
    raw.push_back(static_cast<char>(ts.size()));
    raw += ts;
    RemoteWrite decoded;
    std::vector<MetricMetadata> metadata;
    RemoteWriteStats stats;
    std::string error, metric, tags;
    ASSERT_TRUE(DecodeRemoteWrite(Compress(raw), 1 << 20, &decoded, &metadata, &stats, &error)) << error;
    ASSERT_EQ(decoded.series.size(), 1u);
    ASSERT_TRUE(SeriesOfLabels(decoded.series[0].labels, &metric, &tags, &error)) << error;
    EXPECT_EQ(metric, "m");
    EXPECT_EQ(tags, "{\"k\":\"v\"}");
}

TEST(GatewayRemoteWrite, RefusesWhatProtobufRefuses) {
    RemoteWrite decoded;
    std::vector<MetricMetadata> metadata;
    RemoteWriteStats stats;
    std::string error;
    EXPECT_FALSE(DecodeRemoteWrite("not snappy", 1 << 20, &decoded, &metadata, &stats, &error));
    const std::string raw = Example().SerializeAsString();
    EXPECT_FALSE(DecodeRemoteWrite(Compress(raw), raw.size() - 1, &decoded, &metadata, &stats, &error));
    EXPECT_NE(error.find("--max-request-bytes"), std::string::npos);
    // Every cut of the message: decoded as protobuf's parser decodes it, or
    // refused where it refuses; never read outside the bytes (ASan).
    for (size_t n = 0; n < raw.size(); n++) {
        const std::string cut = raw.substr(0, n);
        prompb::WriteRequest reference;
        const bool parses = reference.ParseFromString(cut);
        RemoteWrite d;
        std::vector<MetricMetadata> md;
        RemoteWriteStats st;
        const bool ok = DecodeRemoteWrite(Compress(cut), 1 << 20, &d, &md, &st, &error);
        EXPECT_EQ(ok, parses) << "cut at " << n;
    }
    // What protobuf's parser refuses besides cuts: field number 0, a tag
    // past 32 bits, a length past 2^31.
    for (const std::string &bad : {std::string("\x02\x00", 2), std::string("\x80\x80\x80\x80\x10\x00", 6),
                                   std::string("\x0a\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10)}) {
        prompb::WriteRequest reference;
        EXPECT_FALSE(reference.ParseFromString(bad));
        RemoteWrite d;
        std::vector<MetricMetadata> md;
        RemoteWriteStats st;
        EXPECT_FALSE(DecodeRemoteWrite(Compress(bad), 1 << 20, &d, &md, &st, &error));
    }
    // A group (wire types 3 and 4, which no remote-write client sends):
    // protobuf skips it as an unknown field, the gateway refuses it.
    EXPECT_FALSE(DecodeRemoteWrite(Compress(std::string("\x0b\x0c", 2)), 1 << 20, &decoded, &metadata, &stats,
                                   &error));
    // A sample out of PostgreSQL's range.
    prompb::WriteRequest far;
    AddSeries(&far, {{"__name__", "m"}}, {{INT64_MAX / 2, 1.0}});
    EXPECT_FALSE(DecodeRemoteWrite(Compress(far.SerializeAsString()), 1 << 20, &decoded, &metadata, &stats, &error));
    EXPECT_NE(error.find("outside PostgreSQL's range"), std::string::npos);
}

TEST(GatewayRemoteWrite, LabelsMustNameAMetricInUtf8) {
    std::string metric, tags, error;
    prompb::TimeSeries ts;
    ts.add_labels()->set_name("job");
    ts.mutable_labels(0)->set_value("x");
    EXPECT_FALSE(SeriesOfLabels(ts.SerializeAsString(), &metric, &tags, &error));
    EXPECT_EQ(error, "a series has no __name__ label");
    std::string bad = "\x0a\x0d\x0a\x08__name__\x12\x01\xff";  // value 0xff
    EXPECT_FALSE(SeriesOfLabels(bad, &metric, &tags, &error));
    EXPECT_NE(error.find("UTF-8"), std::string::npos);
    EXPECT_FALSE(SeriesOfLabels("\x0a\x05\x0a\x08__", &metric, &tags, &error));  // a cut label
}

// A connection's dictionary: the first request defines each series, the
// next names them by slot; after Reset() everything is defined again from
// slot 0 with the reset flag.
TEST(GatewayRemoteWrite, DictionaryDefinesOnce) {
    RemoteWrite decoded;
    std::vector<MetricMetadata> metadata;
    RemoteWriteStats stats;
    std::string error;
    ASSERT_TRUE(DecodeRemoteWrite(Compress(Example().SerializeAsString()), 1 << 20, &decoded, &metadata, &stats,
                                  &error));
    SeriesDictionary dictionary;
    std::vector<std::string> kept;  // the requests' bytes, which the parsed views point into
    kept.reserve(3);
    auto request = [&](core::WriteRequest *out, std::vector<std::string> *metrics) {
        RequestBuilder builder(&dictionary);
        ASSERT_TRUE(EncodeRemoteWrite(decoded, &builder, metrics, &error)) << error;
        kept.push_back(builder.Finish());
        core::ParseWriteRequest(reinterpret_cast<const uint8_t *>(kept.back().data()), kept.back().size(), out);
    };
    core::WriteRequest first, second, third;
    std::vector<std::string> metrics;
    request(&first, &metrics);
    EXPECT_TRUE(first.reset);
    EXPECT_EQ(first.first_slot, 0u);
    ASSERT_EQ(first.definitions.size(), 2u);
    EXPECT_EQ(first.definitions[1].metric, "node_load1");
    EXPECT_EQ(metrics, (std::vector<std::string>{"up", "node_load1"}));
    ASSERT_EQ(first.samples.size(), 3u);
    EXPECT_EQ(first.samples[2].slot, 1u);
    dictionary.Confirmed();
    metrics.clear();
    request(&second, &metrics);
    EXPECT_FALSE(second.reset);
    EXPECT_EQ(second.dictionary, first.dictionary);
    EXPECT_EQ(second.first_slot, 2u);
    EXPECT_TRUE(second.definitions.empty());
    EXPECT_TRUE(metrics.empty());
    ASSERT_EQ(second.samples.size(), 3u);
    EXPECT_EQ(second.samples[0].slot, 0u);
    EXPECT_EQ(second.samples[2].slot, 1u);
    EXPECT_EQ(second.samples[2].value, -2.5);
    dictionary.Reset();
    request(&third, &metrics);
    EXPECT_TRUE(third.reset);
    EXPECT_NE(third.dictionary, first.dictionary);
    EXPECT_EQ(third.definitions.size(), 2u);
    // A request built and never sent nor followed by Reset() (an exception
    // while encoding): the next one still starts the dictionary at slot 0.
    core::WriteRequest fourth;
    request(&fourth, &metrics);
    EXPECT_TRUE(fourth.reset);
    EXPECT_EQ(fourth.first_slot, 0u);
    EXPECT_EQ(fourth.definitions.size(), 2u);
}

TEST(GatewayRemoteWrite, DictionaryFindsEveryKey) {
    SeriesDictionary dictionary;
    for (uint32_t i = 0; i < 5000; i++) EXPECT_EQ(dictionary.Add("key " + std::to_string(i)), i);
    for (uint32_t i = 0; i < 5000; i++) EXPECT_EQ(dictionary.Find("key " + std::to_string(i)), i);
    EXPECT_EQ(dictionary.Find("key 5000"), -1);
    EXPECT_EQ(dictionary.Find(""), -1);
}

}  // namespace
}  // namespace aegis::gateway
