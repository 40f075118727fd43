// aegis-gateway: connection pool and the write of a batch (writer.h).
#include "gateway/writer.h"

#include "core/write_request.h"

#include <algorithm>
#include <cstring>

namespace aegis::gateway {

int StatusForSqlstate(const std::string &sqlstate) {
    if (sqlstate.size() != 5) return 503;
    // The set-up's fault, not the data's: a missing grant, the extension or
    // a function missing (being installed): retried until it is fixed.
    if (sqlstate == "42501" || sqlstate == "42P01" || sqlstate == "42883" || sqlstate == "3F000") return 503;
    std::string cls = sqlstate.substr(0, 2);
    if (cls == "22" || cls == "23" || cls == "42" || cls == "54" || cls == "2F" || cls == "0A") return 400;
    return 503;
}

Pool::~Pool() {
    for (Connection *c : idle_) {
        PQfinish(c->conn);
        delete c;
    }
}

Pool::Lease::~Lease() {
    if (conn_ != nullptr) pool_->Release(conn_);
}

size_t Pool::InUse() {
    std::lock_guard<std::mutex> lock(mu_);
    return open_ - idle_.size();
}

Pool::Lease Pool::Acquire(std::chrono::milliseconds wait, Outcome *outcome) {
    std::unique_lock<std::mutex> lock(mu_);
    bool ready = cv_.wait_for(lock, wait, [&] { return !idle_.empty() || open_ < size_; });
    if (!ready) {
        *outcome = {503, "every database connection of the gateway is busy; retry later", ""};
        return Lease(this, nullptr);
    }
    if (!idle_.empty()) {
        Connection *c = idle_.back();
        idle_.pop_back();
        return Lease(this, c);
    }
    open_++;
    lock.unlock();
    // The gateway's own settings around the caller's: a connect timeout the
    // DSN may override, and UTF8 always (labels are UTF-8).
    const char *keywords[] = {"connect_timeout", "application_name", "dbname", "client_encoding", nullptr};
    const char *values[] = {"10", "aegis-gateway", dsn_.c_str(), "UTF8", nullptr};
    PGconn *c = PQconnectdbParams(keywords, values, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        std::string err = PQerrorMessage(c);
        while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
        PQfinish(c);
        lock.lock();
        open_--;
        cv_.notify_one();
        *outcome = {503, "cannot connect to the database: " + err, "08006"};
        return Lease(this, nullptr);
    }
    // Writes and reads are the gateway's own statements: no surprises from
    // the role's or database's settings.
    PGresult *r = PQexec(c, "SET search_path = pg_catalog, pg_temp; SET TimeZone = 'UTC'");
    PQclear(r);
    auto *connection = new Connection();
    connection->conn = c;
    return Lease(this, connection);
}

void Pool::Release(Connection *conn) {
    bool broken = PQstatus(conn->conn) != CONNECTION_OK || PQtransactionStatus(conn->conn) != PQTRANS_IDLE;
    if (broken) {
        PQfinish(conn->conn);
        delete conn;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (broken) {
        open_--;
    } else {
        idle_.push_back(conn);
    }
    cv_.notify_one();
}

namespace {

Outcome FromResult(PGresult *r, PGconn *conn) {
    Outcome o;
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return o;
    const char *state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    const char *msg = r != nullptr ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    o.sqlstate = state != nullptr ? state : "";
    o.message = msg != nullptr ? msg : PQerrorMessage(conn);
    while (!o.message.empty() && o.message.back() == '\n') o.message.pop_back();
    o.status = PQstatus(conn) != CONNECTION_OK ? 503 : StatusForSqlstate(o.sqlstate);
    return o;
}

}  // namespace

PGresult *Run(PGconn *conn, const std::string &sql, const std::vector<std::string> &params, bool binary, Outcome *o) {
    std::vector<const char *> values;
    values.reserve(params.size());
    for (const std::string &p : params) values.push_back(p.c_str());
    PGresult *r = PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                               nullptr, binary ? 1 : 0);
    *o = FromResult(r, conn);
    if (o->Ok()) return r;
    PQclear(r);
    return nullptr;
}

Outcome Exec(PGconn *conn, const std::string &sql, const std::vector<std::string> &params) {
    Outcome o;
    PQclear(Run(conn, sql, params, false, &o));
    return o;
}

namespace {

// A PostgreSQL text[] literal: every element double-quoted, '"' and '\'
// backslash-escaped.
std::string TextArray(const std::vector<std::string> &items) {
    std::string out = "{";
    for (size_t i = 0; i < items.size(); i++) {
        if (i > 0) out += ',';
        out += '"';
        for (char c : items[i]) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    return out + "}";
}

}  // namespace

Outcome DescribeMetrics(PGconn *conn, const std::vector<MetricMetadata> &entries) {
    if (entries.empty()) return {};
    std::vector<std::string> columns[4];
    for (const MetricMetadata &m : entries) {
        columns[0].push_back(m.metric);
        columns[1].push_back(m.kind);
        columns[2].push_back(m.unit);
        columns[3].push_back(m.help);
    }
    return Exec(conn,
                "SELECT aegis.describe_metric(m, NULLIF(k, ''), NULLIF(u, ''), NULLIF(d, ''))"
                "  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(m, k, u, d)",
                {TextArray(columns[0]), TextArray(columns[1]), TextArray(columns[2]), TextArray(columns[3])});
}

namespace {

// Runs a COPY ... FROM STDIN, sends `data`, ends it; the statement's outcome.
Outcome CopyIn(PGconn *conn, const char *copy_sql, std::string_view data) {
    PGresult *r = PQexec(conn, copy_sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        Outcome o = FromResult(r, conn);
        PQclear(r);
        return o;
    }
    PQclear(r);
    bool sent = true;
    for (size_t off = 0; off < data.size() && sent; off += 1 << 20) {
        size_t n = std::min<size_t>(1 << 20, data.size() - off);
        sent = PQputCopyData(conn, data.data() + off, static_cast<int>(n)) == 1;
    }
    PQputCopyEnd(conn, sent ? nullptr : "the gateway could not send the data");
    Outcome o;
    while ((r = PQgetResult(conn)) != nullptr) {
        Outcome one = FromResult(r, conn);
        if (!one.Ok() && o.Ok()) o = one;
        PQclear(r);
    }
    if (o.Ok() && (!sent || PQstatus(conn) != CONNECTION_OK)) {
        o = {503, "the connection to the database broke during the write", "08006"};
    }
    return o;
}

}  // namespace

Outcome CopyCsv(PGconn *conn, std::string_view csv) {
    return CopyIn(conn, "COPY aegis.points (metric, tags, ts, value) FROM STDIN (FORMAT csv)", csv);
}

Outcome WriteThrough(Connection *conn, const std::function<bool(RequestBuilder *, std::string *)> &encode) {
    Outcome o;
    for (int attempt = 0; attempt < 2; attempt++) {
        RequestBuilder builder(&conn->dictionary);
        std::string error;
        if (!encode(&builder, &error)) {
            conn->dictionary.Reset();
            return {400, error, ""};
        }
        const std::string request = builder.Finish();
        static const Oid types[] = {17};  // bytea
        const char *values[] = {request.data()};
        const int lengths[] = {static_cast<int>(request.size())};
        static const int formats[] = {1};
        PGresult *r =
            PQexecParams(conn->conn, "SELECT aegis._write_request($1)", 1, types, values, lengths, formats, 0);
        o = FromResult(r, conn->conn);
        PQclear(r);
        o.defined = builder.definitions();  // of the attempt that counts
        o.resends = attempt;
        if (o.Ok()) {
            conn->dictionary.Confirmed();
            return o;
        }
        conn->dictionary.Reset();
        if (o.sqlstate != "55000") break;
    }
    return o;
}

void EncodeBatch(const Batch &batch, RequestBuilder *builder) {
    std::vector<uint32_t> slots(batch.series.size());
    std::string key;
    for (size_t i = 0; i < batch.series.size(); i++) {
        const Batch::Series &s = batch.series[i];
        key.assign(1, 'T').append(s.metric).append(1, '\0').append(s.tags_json);
        const int64_t slot = builder->Find(key);
        slots[i] = slot >= 0 ? static_cast<uint32_t>(slot) : builder->Define(key, s.metric, s.tags_json);
    }
    for (const Batch::Point &p : batch.points) builder->Sample(slots[p.series], p.ts, p.value);
}

Outcome WriteBatch(Connection *conn, const Batch &batch) {
    return WriteThrough(conn, [&](RequestBuilder *builder, std::string *) {
        EncodeBatch(batch, builder);
        return true;
    });
}

}  // namespace aegis::gateway
