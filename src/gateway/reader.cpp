// aegis-gateway: remote read (reader.h).
#include "gateway/reader.h"

#include <cstring>
#include <map>

namespace aegis::gateway {

namespace {

uint64_t Get64(const char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

Outcome ReadOne(PGconn *conn, const PromQuery &q, size_t sample_limit, size_t *samples,
                std::vector<ReadSeries> *out) {
    Outcome o;
    std::vector<std::string> params;
    std::string where = SeriesCondition(q.matchers, &params);
    PGresult *r = Run(conn, "SELECT series_id, metric, tags::text FROM aegis.series WHERE " + where +
                                " ORDER BY series_id", params, false, &o);
    if (r == nullptr) return o;
    std::map<int64_t, size_t> index;  // series_id -> position in *out
    std::string ids = "{";
    for (int i = 0; i < PQntuples(r); i++) {
        ReadSeries s;
        s.metric = PQgetvalue(r, i, 1);
        if (!ParseTagsJson(PQgetvalue(r, i, 2), &s.tags)) {
            PQclear(r);
            return {500, "the database returned a tag set the gateway cannot read", ""};
        }
        int64_t id = std::strtoll(PQgetvalue(r, i, 0), nullptr, 10);
        index[id] = out->size();
        out->push_back(std::move(s));
        if (ids.size() > 1) ids += ',';
        ids += PQgetvalue(r, i, 0);
    }
    ids += '}';
    PQclear(r);
    if (out->empty()) return o;

    // [start, end] in milliseconds: since = start, until = end + 1 µs.
    int64_t since = 0, until = 0;
    bool lo = !__builtin_mul_overflow(q.start_ms, int64_t{1000}, &since);
    bool hi = !__builtin_mul_overflow(q.end_ms, int64_t{1000}, &until) && !__builtin_add_overflow(until, 1, &until);
    std::string limit = std::to_string(sample_limit - *samples + 1);
    r = Run(conn,
            "SELECT s.id, p.ts, p.value FROM unnest($1::bigint[]) WITH ORDINALITY AS s(id, n)"
            " CROSS JOIN LATERAL aegis.series_points(s.id, $2::timestamptz, $3::timestamptz) p ORDER BY s.n, p.ts LIMIT " +
                limit,
            {ids, lo ? TimestampLiteral(since) : (q.start_ms < 0 ? "-infinity" : "infinity"),
             hi ? TimestampLiteral(until) : (q.end_ms < 0 ? "-infinity" : "infinity")},
            true, &o);
    if (r == nullptr) return o;
    int n = PQntuples(r);
    if (*samples + static_cast<size_t>(n) > sample_limit) {
        PQclear(r);
        return {400, "the query selects more than " + std::to_string(sample_limit) + " samples (--read-sample-limit)",
                ""};
    }
    *samples += static_cast<size_t>(n);
    for (int i = 0; i < n; i++) {
        if (PQgetlength(r, i, 0) != 8 || PQgetlength(r, i, 1) != 8 || PQgetlength(r, i, 2) != 8) {
            PQclear(r);
            return {500, "unexpected binary result from the database", ""};
        }
        auto id = static_cast<int64_t>(Get64(PQgetvalue(r, i, 0)));
        auto pg_us = static_cast<int64_t>(Get64(PQgetvalue(r, i, 1)));
        uint64_t bits = Get64(PQgetvalue(r, i, 2));
        double value;
        std::memcpy(&value, &bits, 8);
        int64_t unix_us = 0;
        if (__builtin_add_overflow(pg_us, kPgEpochUnixUs, &unix_us)) continue;  // past year 292,000: no ms for it
        int64_t ms = unix_us / 1000 - (unix_us % 1000 < 0 ? 1 : 0);
        auto &samples_of = (*out)[index[id]].samples;
        if (!samples_of.empty() && samples_of.back().first == ms) {
            samples_of.back().second = value;
        } else {
            samples_of.emplace_back(ms, value);
        }
    }
    PQclear(r);
    // Series without samples in the range are left out, as Prometheus does.
    std::vector<ReadSeries> kept;
    for (ReadSeries &s : *out) {
        if (!s.samples.empty()) kept.push_back(std::move(s));
    }
    out->swap(kept);
    return o;
}

}  // namespace

Outcome ReadQueries(PGconn *conn, const std::vector<PromQuery> &queries, size_t sample_limit,
                    std::vector<std::vector<ReadSeries>> *results) {
    Outcome o;
    PGresult *r = Run(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", {}, false, &o);
    if (r == nullptr) return o;
    PQclear(r);
    size_t samples = 0;
    for (const PromQuery &q : queries) {
        results->emplace_back();
        o = ReadOne(conn, q, sample_limit, &samples, &results->back());
        if (!o.Ok()) break;
    }
    Outcome end;
    r = Run(conn, o.Ok() ? "COMMIT" : "ROLLBACK", {}, false, &end);
    if (r != nullptr) PQclear(r);
    return o.Ok() ? end : o;
}

}  // namespace aegis::gateway
