// aegis-gateway's remote read in SQL (src/gateway/read_sql.h) and the tag
// reader it uses (ParseTagsJson, src/gateway/batch.h). The semantics are
// checked against the real Prometheus by test/server/gateway_prometheus.sh.
#include <gtest/gtest.h>

#include "gateway/batch.h"
#include "gateway/read_sql.h"

namespace aegis::gateway {
namespace {

TEST(GatewayReadSql, MatchersBecomeConditionsWithPrometheusSemantics) {
    std::vector<std::string> params = {"already"};
    std::vector<PromMatcher> m = {
        {PromMatcher::kEqual, "__name__", "up"},      {PromMatcher::kEqual, "job", "node"},
        {PromMatcher::kEqual, "env", ""},             {PromMatcher::kNotEqual, "dc", ""},
        {PromMatcher::kRegex, "instance", "a|b.*"},   {PromMatcher::kNotRegex, "__name__", "go_.*"},
        {PromMatcher::kNotEqual, "zone", "eu\"x'"},
    };
    std::string sql = SeriesCondition(m, &params);
    EXPECT_EQ(sql,
              "metric = $2 AND tags @> $3::jsonb AND coalesce(tags ->> $4, '') = $5 AND "
              "coalesce(tags ->> $6, '') <> $7 AND coalesce(tags ->> $8, '') ~ $9 AND metric !~ $10 AND "
              "coalesce(tags ->> $11, '') <> $12");
    std::vector<std::string> want = {"already", "up",       "{\"job\":\"node\"}", "env", "", "dc", "",
                                     "instance", "^(?:a|b.*)$", "^(?:go_.*)$", "zone", "eu\"x'"};
    EXPECT_EQ(params, want);
    std::vector<std::string> none;
    EXPECT_EQ(SeriesCondition({}, &none), "true");
}

TEST(GatewayReadSql, TimestampLiterals) {
    EXPECT_EQ(TimestampLiteral(0), "1970-01-01 00:00:00.000000+00");
    EXPECT_EQ(TimestampLiteral(1709251200123457), "2024-03-01 00:00:00.123457+00");
    EXPECT_EQ(TimestampLiteral(-1), "1969-12-31 23:59:59.999999+00");
    EXPECT_EQ(TimestampLiteral(-62135596800LL * 1000000), "0001-01-01 00:00:00.000000+00");
    EXPECT_EQ(TimestampLiteral(-62135596800LL * 1000000 - 1), "-infinity");
    EXPECT_EQ(TimestampLiteral(253402300800LL * 1000000), "infinity");
    EXPECT_EQ(TimestampLiteral(INT64_MIN), "-infinity");
}

TEST(GatewayReadSql, TagsJsonAsPostgreSQLWritesIt) {
    Tags t;
    ASSERT_TRUE(ParseTagsJson(R"({"a": "1", "k\"q": "v\\w\u00e9\ud83d\ude00\n\/"})", &t));
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[0], (std::pair<std::string, std::string>("a", "1")));
    EXPECT_EQ(t[1].first, "k\"q");
    EXPECT_EQ(t[1].second, "v\\w\xc3\xa9\xf0\x9f\x98\x80\n/");
    ASSERT_TRUE(ParseTagsJson("{}", &t));
    EXPECT_TRUE(t.empty());
    // Round trip through TagsJson.
    Tags u = {{"x y", "\x01\"\\"}, {"b", ""}};
    std::string json = TagsJson(u);
    ASSERT_TRUE(ParseTagsJson(json, &t));
    EXPECT_EQ(t, u);
    for (const char *bad : {"", "[]", "{", "{\"a\"}", "{\"a\": 1}", "{\"a\": \"b\",}", "{\"a\": \"b\"} x",
                            R"({"a": "\ud800"})", R"({"a": "\udc00"})", R"({"a": "\q"})", R"({"a": "\u12"})",
                            "{\"a\": \"b"}) {
        EXPECT_FALSE(ParseTagsJson(bad, &t)) << bad;
    }
}

}  // namespace
}  // namespace aegis::gateway
