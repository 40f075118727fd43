// aegis-gateway: remote read matchers as SQL (read_sql.h).
#include "gateway/read_sql.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>

#include "gateway/batch.h"

namespace aegis::gateway {

std::string SeriesCondition(const std::vector<PromMatcher> &matchers, std::vector<std::string> *params) {
    std::string where;
    auto param = [&](std::string v) {
        params->push_back(std::move(v));
        return "$" + std::to_string(params->size());
    };
    for (const PromMatcher &m : matchers) {
        if (!where.empty()) where += " AND ";
        bool name = m.name == "__name__";
        if (m.type == PromMatcher::kEqual && !name && !m.value.empty()) {
            Tags one = {{m.name, m.value}};
            where += "tags @> " + param(TagsJson(one)) + "::jsonb";
            continue;
        }
        std::string column = name ? "metric" : "coalesce(tags ->> " + param(m.name) + ", '')";
        switch (m.type) {
            case PromMatcher::kEqual:
                where += column + " = " + param(m.value);
                break;
            case PromMatcher::kNotEqual:
                where += column + " <> " + param(m.value);
                break;
            case PromMatcher::kRegex:
                where += column + " ~ " + param("^(?:" + m.value + ")$");
                break;
            case PromMatcher::kNotRegex:
                where += column + " !~ " + param("^(?:" + m.value + ")$");
                break;
        }
    }
    return where.empty() ? "true" : where;
}

std::string TimestampLiteral(int64_t unix_us) {
    // Years 1 to 9999: -62135596800 s to 253402300800 s (exclusive).
    constexpr int64_t kFirst = -62135596800LL * 1000000, kEnd = 253402300800LL * 1000000;
    if (unix_us < kFirst) return "-infinity";
    if (unix_us >= kEnd) return "infinity";
    int64_t secs = unix_us / 1000000, us = unix_us % 1000000;
    if (us < 0) {
        us += 1000000;
        secs--;
    }
    time_t t = static_cast<time_t>(secs);
    struct tm tm {};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%06" PRId64 "+00", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
    return buf;
}

}  // namespace aegis::gateway
