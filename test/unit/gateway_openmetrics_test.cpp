// aegis-gateway load --format openmetrics (src/gateway/openmetrics.h).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "gateway/openmetrics.h"

namespace aegis::gateway {
namespace {

constexpr int64_t kNow = 1700000000123456;  // µs since the Unix epoch

struct Parsed {
    Batch batch;
    std::vector<MetricMetadata> metadata;
    LineProtocolResult result;
};

Parsed Parse(std::string_view text) {
    Parsed p;
    ParseOpenMetrics(text, kNow, &p.batch, &p.metadata, &p.result);
    return p;
}

TEST(GatewayOpenMetrics, SamplesLabelsAndTimestamps) {
    Parsed p = Parse(
        "# TYPE http_requests counter\n"
        "# HELP http_requests Requests served.\n"
        "# UNIT http_requests requests\n"
        "http_requests_total{code=\"200\",path=\"/a \\\"b\\\" \\\\ \\n\"} 1027 1700000000.5\n"
        "http_requests_total{code=\"500\",empty=\"\"} 3 1700000000\n"
        "up 1\n"
        "temp{} -1.5e3 1700000000.123456789\n"
        "# EOF\n");
    EXPECT_EQ(p.result.Dropped(), 0u);
    ASSERT_EQ(p.batch.points.size(), 4u);
    EXPECT_EQ(p.batch.series[p.batch.points[0].series].metric, "http_requests_total");
    EXPECT_EQ(p.batch.series[p.batch.points[0].series].tags_json, R"({"code":"200","path":"/a \"b\" \\ \u000a"})");
    EXPECT_EQ(p.batch.points[0].ts, 1700000000500000 - kPgEpochUnixUs);
    EXPECT_EQ(p.batch.points[0].value, 1027.0);
    // An empty label is an absent one.
    EXPECT_EQ(p.batch.series[p.batch.points[1].series].tags_json, R"({"code":"500"})");
    // No timestamp: now.
    EXPECT_EQ(p.batch.points[2].ts, kNow - kPgEpochUnixUs);
    // Fractions beyond microseconds are cut.
    EXPECT_EQ(p.batch.points[3].ts, 1700000000123456 - kPgEpochUnixUs);
    EXPECT_EQ(p.batch.points[3].value, -1500.0);
    ASSERT_EQ(p.metadata.size(), 1u);
    EXPECT_EQ(p.metadata[0].metric, "http_requests");
    EXPECT_EQ(p.metadata[0].kind, "counter");
    EXPECT_EQ(p.metadata[0].unit, "requests");
    EXPECT_EQ(p.metadata[0].help, "Requests served.");
}

TEST(GatewayOpenMetrics, SpecialValues) {
    Parsed p = Parse("a NaN 1\nb +Inf 1\nc -Inf 1\nd +2 1\n");
    ASSERT_EQ(p.batch.points.size(), 4u);
    EXPECT_TRUE(std::isnan(p.batch.points[0].value));
    EXPECT_EQ(p.batch.points[1].value, INFINITY);
    EXPECT_EQ(p.batch.points[2].value, -INFINITY);
    EXPECT_EQ(p.batch.points[3].value, 2.0);
}

TEST(GatewayOpenMetrics, BadLinesAreReportedAndSkipped) {
    Parsed p = Parse("9bad 1\nm{a=\"x\" 1\nm{a=x} 1\nm{a=\"x\",a=\"y\"} 1\nm abc\nm 1 notatime\nm{a=\"\\q\"} 1\n"
                     "m\nm{a=\"\xff\"} 1\ngood 2 3\n");
    EXPECT_EQ(p.result.lines, 10u);
    EXPECT_EQ(p.result.dropped_lines, 9u);
    ASSERT_EQ(p.batch.points.size(), 1u);
    EXPECT_EQ(p.batch.series[0].metric, "good");
    EXPECT_EQ(p.result.errors[3].reason, "duplicate label");
    EXPECT_EQ(p.result.errors[3].line, 4u);
}

TEST(GatewayOpenMetrics, ExemplarsCrLfAndTheEnd) {
    // An exemplar is ignored, also on a sample without a timestamp.
    Parsed p = Parse("a_total 5 # {id=\"x\"} 1\r\nb_total 6 7 # {id=\"y\"} 1 7\r\n# EOF\r\nc 1 1\n");
    EXPECT_EQ(p.result.Dropped(), 0u);
    ASSERT_EQ(p.batch.points.size(), 2u);
    EXPECT_EQ(p.batch.points[0].ts, kNow - kPgEpochUnixUs);
    EXPECT_EQ(p.batch.points[1].ts, 7000000 - kPgEpochUnixUs);
    // Nothing after # EOF is read.
    EXPECT_EQ(p.result.lines, 2u);
    // A name past 200 bytes is a bad line (found by test/fuzz/gateway_parsers_fuzz.cpp:
    // it became a series with an empty metric, which the database refuses with the whole batch).
    Parsed longname = Parse(std::string(201, 'a') + " 1 1\n" + std::string(200, 'b') + " 2 2\n");
    EXPECT_EQ(longname.result.dropped_lines, 1u);
    ASSERT_EQ(longname.batch.points.size(), 1u);
    EXPECT_EQ(longname.batch.series[0].metric, std::string(200, 'b'));
    // Malformed: a missing comma between labels, doubled signs.
    for (const char *bad : {"m{a=\"1\"b=\"2\"} 1", "m 1 --5", "m +-5", "m 1 -", "m 1 1.2.3"}) {
        Parsed q = Parse(bad);
        EXPECT_EQ(q.result.dropped_lines, 1u) << bad;
    }
}

TEST(GatewayOpenMetrics, ConsecutiveSamplesOfASeriesShareIt) {
    Parsed p = Parse("m{a=\"1\"} 1 1\nm{a=\"1\"} 2 2\nm{a=\"2\"} 3 3\n");
    EXPECT_EQ(p.batch.series.size(), 2u);
    EXPECT_EQ(p.batch.points.size(), 3u);
}

TEST(GatewayOpenMetrics, MetadataTargets) {
    auto t = MetadataTargets({"rpc", "histogram", "", ""});
    ASSERT_EQ(t.size(), 4u);
    EXPECT_EQ(t[1], (std::pair<std::string, std::string>("rpc_bucket", "histogram")));
    EXPECT_EQ(t[2], (std::pair<std::string, std::string>("rpc_sum", "counter")));
    auto c = MetadataTargets({"req", "counter", "", ""});
    ASSERT_EQ(c.size(), 2u);
    EXPECT_EQ(c[1].first, "req_total");
    EXPECT_EQ(MetadataTargets({"g", "", "", ""}).size(), 1u);
}

}  // namespace
}  // namespace aegis::gateway
