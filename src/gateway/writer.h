// aegis-gateway: the database side. A fixed pool of libpq connections, each
// with its series dictionary (request.h); a request's samples are written
// with one call of aegis._write_request (src/core/write_request.h), one
// statement and so one transaction: all of them are committed, or nothing.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/batch.h"
#include "gateway/request.h"

namespace aegis::gateway {

// What became of a request's database work, as the HTTP answer says it.
struct Outcome {
    // HTTP status: 2xx, 400 (the data: not retried), 503 (retry later). Never
    // 429: Prometheus 2.42 drops a request answered 429 unless its
    // queue_config says retry_on_http_429.
    int status = 204;
    std::string message;
    std::string sqlstate;
    // Of a WriteThrough: series defined to the backend, and requests sent
    // again from a new dictionary (55000).
    size_t defined = 0;
    int resends = 0;
    bool Ok() const { return status < 300; }
};

// The HTTP status for a failed statement's SQLSTATE: the data's fault (class
// 22, 23, 42, 54: bad values, a cardinality limit) is 400, which Prometheus
// does not retry, but for the set-up's (42501 a missing grant, 42P01, 42883,
// 3F000 the extension missing); everything else (connection, shutdown,
// resources, serialization, a server bug) is 503, which it retries.
int StatusForSqlstate(const std::string &sqlstate);

// A database connection and the series dictionary it shares with its
// backend.
struct Connection {
    PGconn *conn = nullptr;
    SeriesDictionary dictionary;
};

class Pool {
public:
    Pool(std::string dsn, size_t size) : dsn_(std::move(dsn)), size_(size) {}
    ~Pool();
    Pool(const Pool &) = delete;
    Pool &operator=(const Pool &) = delete;

    // A connection for one request, returned to the pool when it goes out of
    // scope (closed instead when it broke).
    class Lease {
    public:
        Lease(Pool *pool, Connection *conn) : pool_(pool), conn_(conn) {}
        Lease(Lease &&o) noexcept : pool_(o.pool_), conn_(o.conn_) { o.conn_ = nullptr; }
        Lease &operator=(Lease &&) = delete;
        ~Lease();
        PGconn *get() const { return conn_->conn; }
        Connection *connection() const { return conn_; }
        explicit operator bool() const { return conn_ != nullptr; }

    private:
        Pool *pool_;
        Connection *conn_;
    };

    // Waits up to `wait` for a free connection (opening one when the pool has
    // room). An empty lease and `*outcome` 503 (the pool stayed busy, or the
    // database cannot be reached) when there is none.
    Lease Acquire(std::chrono::milliseconds wait, Outcome *outcome);

    size_t Size() const { return size_; }
    size_t InUse();

private:
    void Release(Connection *conn);

    std::string dsn_;
    size_t size_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Connection *> idle_;
    size_t open_ = 0;  // idle plus lent
};

// One aegis._write_request call: `encode` fills the request (false with
// the 400 answer's text when the data cannot be written). The dictionary is
// started again after anything but success; a request the backend refused
// for its dictionary (55000: a new backend behind a pooler, a full
// dictionary) is encoded and sent once more from a fresh one.
Outcome WriteThrough(Connection *conn, const std::function<bool(RequestBuilder *, std::string *)> &encode);

// The request of `batch`: a parsed series' key is its metric and tags JSON.
void EncodeBatch(const Batch &batch, RequestBuilder *builder);

// Writes every point of `batch` (one aegis._write_request call).
Outcome WriteBatch(Connection *conn, const Batch &batch);

// Sends `csv` (whole records: metric,tags,ts,value) through COPY
// aegis.points (metric, tags, ts, value) FROM STDIN (FORMAT csv): one
// statement, the server parses and checks every field.
Outcome CopyCsv(PGconn *conn, std::string_view csv);

// Runs `sql` with text parameters (binary results when `binary`): the
// result, or nullptr with `*o` saying why.
PGresult *Run(PGconn *conn, const std::string &sql, const std::vector<std::string> &params, bool binary, Outcome *o);

// Runs `sql` with text parameters; the outcome of the statement.
Outcome Exec(PGconn *conn, const std::string &sql, const std::vector<std::string> &params);

// aegis.describe_metric for every entry (kind, unit, help empty: keep the
// field), in one statement: one transaction, one commit.
Outcome DescribeMetrics(PGconn *conn, const std::vector<MetricMetadata> &entries);

}  // namespace aegis::gateway
