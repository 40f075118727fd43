// aegis-gateway: Prometheus remote read in SQL. Pure C++ (unit-tested in
// test/unit/gateway_read_sql_test.cpp); reader.cpp runs what this builds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace aegis::gateway {

// A label matcher as remote read sends it.
struct PromMatcher {
    enum Type { kEqual = 0, kNotEqual = 1, kRegex = 2, kNotRegex = 3 };
    Type type = kEqual;
    std::string name;
    std::string value;
};

// One query of a ReadRequest: samples with start_ms <= t <= end_ms (both
// ends included, as Prometheus asks) of the series every matcher matches.
struct PromQuery {
    int64_t start_ms = 0;
    int64_t end_ms = 0;
    std::vector<PromMatcher> matchers;
};

// The WHERE condition over aegis.series (columns metric and tags) that keeps
// exactly the series Prometheus would: a label a series lacks counts as the
// empty string (so `job=""` matches series without job, and `job=~".*"`
// every series), regexes are anchored at both ends, __name__ is the metric.
// Values travel as parameters, appended to `params` and numbered from
// params->size() + 1. An equality with a non-empty value is asked as
// `tags @> {"k": "v"}` so the GIN index answers it.
std::string SeriesCondition(const std::vector<PromMatcher> &matchers, std::vector<std::string> *params);

// A timestamptz literal for `unix_us` microseconds since the Unix epoch
// ("2024-03-01 00:00:00.123456+00"), or "-infinity" / "infinity" past the
// years 1 to 9999.
std::string TimestampLiteral(int64_t unix_us);

}  // namespace aegis::gateway
