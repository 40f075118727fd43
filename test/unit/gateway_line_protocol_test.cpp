// aegis-gateway's InfluxDB line-protocol parser (src/gateway/line_protocol.h)
// and the helpers it shares with remote write (src/gateway/batch.h). The same
// rules are checked against the real InfluxDB 1.6 by
// test/server/gateway_influx.sh.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "gateway/line_protocol.h"

namespace aegis::gateway {
namespace {

constexpr int64_t kUnix1700000000Us = 1700000000LL * 1000000 - kPgEpochUnixUs;

struct Parsed {
    Batch batch;
    LineProtocolResult result;
};

Parsed Parse(std::string_view body, Precision p = Precision::kSeconds, std::string db = "") {
    Parsed out;
    LineProtocolOptions o;
    o.precision = p;
    o.now_unix_ns = 1700000000123456789LL;
    if (!db.empty()) {
        o.extra_tag_key = "db";
        o.extra_tag_value = db;
    }
    ParseLineProtocol(body, o, &out.batch, &out.result);
    return out;
}

std::string MetricOf(const Parsed &p, size_t i) { return p.batch.series[p.batch.points[i].series].metric; }
std::string TagsOf(const Parsed &p, size_t i) { return p.batch.series[p.batch.points[i].series].tags_json; }

TEST(GatewayLineProtocol, FieldsBecomeMetricsWithTheLinesTags) {
    Parsed p = Parse("cpu,host=a,region=eu usage=1.5,idle=98i,ok=true 1700000000\n");
    ASSERT_EQ(p.result.Dropped(), 0u);
    ASSERT_EQ(p.batch.points.size(), 3u);
    EXPECT_EQ(MetricOf(p, 0), "cpu_usage");
    EXPECT_EQ(MetricOf(p, 1), "cpu_idle");
    EXPECT_EQ(MetricOf(p, 2), "cpu_ok");
    EXPECT_EQ(TagsOf(p, 0), R"({"host":"a","region":"eu"})");
    EXPECT_EQ(p.batch.points[0].value, 1.5);
    EXPECT_EQ(p.batch.points[1].value, 98.0);
    EXPECT_EQ(p.batch.points[2].value, 1.0);
    EXPECT_EQ(p.batch.points[0].ts, kUnix1700000000Us);
}

// A series that comes back in later lines is one series of the batch (its
// tags and name made once); a line that is dropped adds none; a field key
// twice in a line is one series with both points (the second wins on
// writing, as a point written twice).
TEST(GatewayLineProtocol, RepeatedSeriesAreOneSeriesOfTheBatch) {
    Parsed p = Parse(
        "cpu,host=a u=1,s=2 1700000000\n"
        "cpu,host=b u=3 1700000000\n"
        "cpu,host=a u=4,s=5 1700000010\n"
        "cpu,host=c u=x 1700000010\n"
        "cpu,host=a s=6,s=7 1700000020\n",
        Precision::kSeconds, "db0");
    EXPECT_EQ(p.result.dropped_lines, 1u);
    ASSERT_EQ(p.batch.points.size(), 7u);
    ASSERT_EQ(p.batch.series.size(), 3u);
    EXPECT_EQ(p.batch.points[0].series, p.batch.points[3].series);
    EXPECT_EQ(p.batch.points[1].series, p.batch.points[4].series);
    EXPECT_EQ(p.batch.points[5].series, p.batch.points[6].series);
    EXPECT_EQ(p.batch.points[5].series, p.batch.points[1].series);
    EXPECT_EQ(MetricOf(p, 4), "cpu_s");
    EXPECT_EQ(TagsOf(p, 4), "{\"db\":\"db0\",\"host\":\"a\"}");
    EXPECT_EQ(MetricOf(p, 2), "cpu_u");
    EXPECT_EQ(TagsOf(p, 2), "{\"db\":\"db0\",\"host\":\"b\"}");
    EXPECT_EQ(p.batch.points[6].value, 7);
}

// A line whose metric name and tags would make a series key longer than the
// server takes is dropped, the other lines kept (the server would refuse
// the whole request).
TEST(GatewayLineProtocol, ALineWithTooLargeASeriesKeyIsDropped) {
    const std::string big(2600, 'x');
    Parsed p = Parse("cpu,host=" + big + " u=1 1700000000\ncpu,host=a u=2 1700000000\n");
    EXPECT_EQ(p.result.dropped_lines, 1u);
    ASSERT_EQ(p.batch.points.size(), 1u);
    EXPECT_EQ(p.batch.points[0].value, 2);
    ASSERT_EQ(p.result.errors.size(), 1u);
    EXPECT_NE(p.result.errors[0].reason.find("2600 bytes"), std::string::npos);
}

// The hash of the gateway's key tables, checked against SipHash-2-4's
// reference vectors (key 00..0f, messages 00..n-1); the tables use
// SipHash-1-3 of the same code.
TEST(GatewayBatch, SipHashReferenceVectors) {
    const uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
    std::string message;
    for (int i = 0; i < 15; i++) message.push_back(static_cast<char>(i));
    EXPECT_EQ((SipHash<2, 4>(k0, k1, std::string_view(message).substr(0, 0))), 0x726fdb47dd0e0e31ULL);
    EXPECT_EQ((SipHash<2, 4>(k0, k1, std::string_view(message).substr(0, 1))), 0x74f839c593dc67fdULL);
    EXPECT_EQ((SipHash<2, 4>(k0, k1, std::string_view(message).substr(0, 8))), 0x93f5f5799a932462ULL);
    EXPECT_EQ((SipHash<2, 4>(k0, k1, message)), 0xa129ca6149be45e5ULL);
}

TEST(GatewayLineProtocol, EscapesFollowInfluxDB) {
    Parsed p = Parse(R"(cpu\,load\ x,ta\ g\,k\=y=v\ a\,l\=ue f\ i\,e\=ld=1 1700000000)"
                     "\n"
                     R"(back\slash,t=a\b v=2 1700000000)");
    ASSERT_EQ(p.result.Dropped(), 0u) << p.result.PartialWriteMessage();
    ASSERT_EQ(p.batch.points.size(), 2u);
    // "cpu,load x" + "_" + "f i,e=ld", made a metric name.
    EXPECT_EQ(MetricOf(p, 0), "cpu_load_x_f_i_e_ld");
    EXPECT_EQ(TagsOf(p, 0), R"({"ta g,k=y":"v a,l=ue"})");
    // A backslash before anything else is itself.
    EXPECT_EQ(MetricOf(p, 1), "back_slash_v");
    EXPECT_EQ(TagsOf(p, 1), R"({"t":"a\\b"})");
}

TEST(GatewayLineProtocol, EveryBooleanSpelling) {
    const char *truths[] = {"t", "T", "true", "True", "TRUE"};
    const char *lies[] = {"f", "F", "false", "False", "FALSE"};
    for (const char *t : truths) {
        Parsed p = Parse(std::string("m v=") + t + " 1");
        ASSERT_EQ(p.batch.points.size(), 1u) << t;
        EXPECT_EQ(p.batch.points[0].value, 1.0);
    }
    for (const char *f : lies) {
        Parsed p = Parse(std::string("m v=") + f + " 1");
        ASSERT_EQ(p.batch.points.size(), 1u) << f;
        EXPECT_EQ(p.batch.points[0].value, 0.0);
    }
    EXPECT_EQ(Parse("m v=tRuE 1").result.dropped_lines, 1u);
}

TEST(GatewayLineProtocol, NumbersAsInfluxDBReadsThem) {
    Parsed p = Parse("m a=-0.0,b=1e-300,c=.5,d=1.,e=-9223372036854775808i,f=18446744073709551615u,g=-3 1");
    ASSERT_EQ(p.result.Dropped(), 0u) << p.result.PartialWriteMessage();
    ASSERT_EQ(p.batch.points.size(), 7u);
    EXPECT_TRUE(std::signbit(p.batch.points[0].value));
    EXPECT_EQ(p.batch.points[1].value, 1e-300);
    EXPECT_EQ(p.batch.points[2].value, 0.5);
    EXPECT_EQ(p.batch.points[3].value, 1.0);
    EXPECT_EQ(p.batch.points[4].value, -9223372036854775808.0);
    EXPECT_EQ(p.batch.points[5].value, 18446744073709551615.0);
    EXPECT_EQ(p.batch.points[6].value, -3.0);
    // Refused whole lines: NaN and infinities, '+', overflow, junk.
    for (const char *bad : {"m v=NaN 1", "m v=inf 1", "m v=+1 1", "m v=9223372036854775808i 1", "m v=1i2 1",
                            "m v=-1u 1", "m v=1e999 1", "m v=0x10 1", "m v= 1", "m v=i 1", "m v=abc 1"}) {
        Parsed q = Parse(bad);
        EXPECT_EQ(q.result.dropped_lines, 1u) << bad;
        EXPECT_TRUE(q.batch.points.empty()) << bad;
    }
}

TEST(GatewayLineProtocol, BadLinesAreDroppedAndTheRestKept) {
    Parsed p = Parse("cpu\ncpu,host=a\ncpu,host=a,host=b v=1 1\n,host=a v=1 1\ncpu,=a v=1 1\ncpu,host= v=1 1\n"
                     "cpu v=1 notatime\ncpu v=1 1 extra\ncpu =1 1\ngood v=1 1\n");
    EXPECT_EQ(p.result.lines, 10u);
    EXPECT_EQ(p.result.dropped_lines, 9u);
    ASSERT_EQ(p.batch.points.size(), 1u);
    EXPECT_EQ(MetricOf(p, 0), "good_v");
    EXPECT_EQ(p.result.errors[2].reason, "duplicate tags");
    EXPECT_EQ(p.result.errors[2].line, 3u);
    std::string msg = p.result.PartialWriteMessage();
    EXPECT_EQ(msg.rfind("partial write: unable to parse 'cpu': ", 0), 0u) << msg;
    EXPECT_NE(msg.find(" dropped=9"), std::string::npos) << msg;
}

TEST(GatewayLineProtocol, StringFieldsAreDroppedTheOtherFieldsKept) {
    Parsed p = Parse(R"(m,t=x s="a, \"quoted\" = string",v=2,s2="" 1)");
    EXPECT_EQ(p.result.dropped_lines, 0u);
    EXPECT_EQ(p.result.dropped_fields, 2u);
    ASSERT_EQ(p.batch.points.size(), 1u);
    EXPECT_EQ(MetricOf(p, 0), "m_v");
    EXPECT_EQ(p.batch.points[0].value, 2.0);
}

TEST(GatewayLineProtocol, AStringMaySpanLinesAndAnOpenOneRunsToTheEnd) {
    // As InfluxDB's scanner: the newline inside the quotes is the string's.
    Parsed p = Parse("m s=\"two\nlines\",v=1 1\nn v=2 2\n");
    EXPECT_EQ(p.result.lines, 2u);
    ASSERT_EQ(p.batch.points.size(), 2u);
    EXPECT_EQ(MetricOf(p, 1), "n_v");
    EXPECT_EQ(p.result.errors.at(0).line, 1u);
    Parsed q = Parse("m s=\"open 1\nn v=2 2\nk v=3 3\n");
    EXPECT_EQ(q.result.lines, 1u);
    EXPECT_EQ(q.result.dropped_lines, 1u);
    EXPECT_TRUE(q.batch.points.empty());
}

TEST(GatewayLineProtocol, WholeLinesForAStreamReader) {
    // Where `load` may cut its input: after a newline that ends a line.
    EXPECT_EQ(CompleteLines("a v=1 1\nb v=2 2\n"), 16u);
    EXPECT_EQ(CompleteLines("a v=1 1\nb v=2"), 8u);
    EXPECT_EQ(CompleteLines("a s=\"x\ny\",v=1 1\n"), 16u);  // the first newline is the string's
    EXPECT_EQ(CompleteLines("a v=1 1\nb s=\"open\n"), 8u);     // the second line's string is still open
    EXPECT_EQ(CompleteLines(""), 0u);
}

TEST(GatewayLineProtocol, BlankLinesCommentsAndCarriageReturns) {
    Parsed p = Parse("# comment\n\n   \n\tm v=1 1\r\n  # indented comment\nm v=2 2");
    EXPECT_EQ(p.result.lines, 2u);
    EXPECT_EQ(p.result.Dropped(), 0u);
    ASSERT_EQ(p.batch.points.size(), 2u);
}

TEST(GatewayLineProtocol, Precisions) {
    struct Case {
        Precision p;
        const char *ts;
        int64_t unix_us;
    };
    const Case cases[] = {
        {Precision::kNanoseconds, "1700000000123456789", 1700000000123456LL},
        {Precision::kNanoseconds, "-1999", -2},  // rounds toward the past
        {Precision::kMicroseconds, "1700000000123456", 1700000000123456LL},
        {Precision::kMilliseconds, "1700000000123", 1700000000123000LL},
        {Precision::kSeconds, "1700000000", 1700000000000000LL},
        {Precision::kMinutes, "28333333", 28333333LL * 60000000},
        {Precision::kHours, "472222", 472222LL * 3600000000},
    };
    for (const Case &c : cases) {
        Parsed p = Parse(std::string("m v=1 ") + c.ts, c.p);
        ASSERT_EQ(p.batch.points.size(), 1u) << c.ts;
        EXPECT_EQ(p.batch.points[0].ts, c.unix_us - kPgEpochUnixUs) << c.ts;
    }
    // Past PostgreSQL's range or int64's.
    EXPECT_EQ(Parse("m v=1 9223372036854775807", Precision::kHours).result.dropped_lines, 1u);
    EXPECT_EQ(Parse("m v=1 99999999999999999999", Precision::kNanoseconds).result.dropped_lines, 1u);
    // No timestamp: the request's time, truncated to the precision.
    Parsed now = Parse("m v=1", Precision::kSeconds);
    ASSERT_EQ(now.batch.points.size(), 1u);
    EXPECT_EQ(now.batch.points[0].ts, kUnix1700000000Us);
    Parsed now_ms = Parse("m v=1", Precision::kMilliseconds);
    EXPECT_EQ(now_ms.batch.points[0].ts, kUnix1700000000Us + 123000);

    Precision out;
    EXPECT_TRUE(ParsePrecision("", false, &out) && out == Precision::kNanoseconds);
    EXPECT_TRUE(ParsePrecision("u", false, &out) && out == Precision::kMicroseconds);
    EXPECT_TRUE(ParsePrecision("h", false, &out) && out == Precision::kHours);
    EXPECT_FALSE(ParsePrecision("h", true, &out));
    EXPECT_FALSE(ParsePrecision("u", true, &out));
    EXPECT_TRUE(ParsePrecision("us", true, &out) && out == Precision::kMicroseconds);
    EXPECT_FALSE(ParsePrecision("days", false, &out));
}

TEST(GatewayLineProtocol, TheDatabaseTagReplacesThePointsOwn) {
    Parsed p = Parse("m,db=mine,z=1 v=1 1\nm,a=2 v=1 1", Precision::kSeconds, "telegraf");
    ASSERT_EQ(p.batch.points.size(), 2u);
    EXPECT_EQ(TagsOf(p, 0), R"({"db":"telegraf","z":"1"})");
    EXPECT_EQ(TagsOf(p, 1), R"({"a":"2","db":"telegraf"})");
}

TEST(GatewayLineProtocol, InvalidUtf8IsABadLine) {
    EXPECT_EQ(Parse("m,t=\xff v=1 1").result.dropped_lines, 1u);
    EXPECT_EQ(Parse("m\xc3 v=1 1").result.dropped_lines, 1u);
    EXPECT_EQ(Parse("m,t=\xc3\xa9t\xc3\xa9 v=1 1").result.dropped_lines, 0u);
}

TEST(GatewayBatch, MetricNames) {
    EXPECT_EQ(MetricName("cpu_usage"), "cpu_usage");
    EXPECT_EQ(MetricName("job:rate5m:sum"), "job:rate5m:sum");
    EXPECT_EQ(MetricName(":leading"), "_:leading");
    EXPECT_EQ(MetricName("9lives"), "_9lives");
    EXPECT_EQ(MetricName("a b,c=d\xc3\xa9"), "a_b_c_d__");
    EXPECT_EQ(MetricName(""), "");
    EXPECT_EQ(MetricName(std::string(200, 'a')).size(), 200u);
    EXPECT_EQ(MetricName(std::string(201, 'a')), "");
}

TEST(GatewayBatch, Utf8) {
    EXPECT_TRUE(IsUtf8("plain \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
    EXPECT_FALSE(IsUtf8(std::string_view("a\0b", 3)));
    EXPECT_FALSE(IsUtf8("\xc0\xaf"));          // overlong
    EXPECT_FALSE(IsUtf8("\xed\xa0\x80"));      // surrogate
    EXPECT_FALSE(IsUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
    EXPECT_FALSE(IsUtf8("\xe2\x82"));          // cut short
    EXPECT_FALSE(IsUtf8("\x80"));
}

TEST(GatewayBatch, TagsJsonSortsAndEscapes) {
    Tags t = {{"z", "1"}, {"a\"b", "c\\d\n\x01"}};
    EXPECT_EQ(TagsJson(t), "{\"a\\\"b\":\"c\\\\d\\u000a\\u0001\",\"z\":\"1\"}");
    Tags none;
    EXPECT_EQ(TagsJson(none), "{}");
}

}  // namespace
}  // namespace aegis::gateway
