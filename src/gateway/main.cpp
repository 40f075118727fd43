// aegis-gateway: Prometheus remote write and InfluxDB line protocol into
// aegis_timeseries (docs/gateway.md).
//
//   aegis-gateway [--listen 127.0.0.1:9201] [--dsn CONNINFO] [options]
//   aegis-gateway load [--format lp] [--dsn CONNINFO] FILE... | -
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gateway/line_protocol.h"
#include "gateway/metrics.h"
#include "gateway/openmetrics.h"
#include "gateway/prom.h"
#include "gateway/reader.h"
#include "gateway/writer.h"

namespace aegis::gateway {
namespace {

constexpr const char *kVersion = "0.2.0";

struct Options {
    std::string listen = "127.0.0.1:9201";
    std::string dsn;
    std::string read_dsn;  // empty: dsn
    size_t connections = 4;
    size_t read_sample_limit = 50000000;
    size_t threads = 8;
    size_t max_request_bytes = 32u << 20;
    long queue_timeout_ms = 5000;
    std::string bearer_token;
    std::string basic_auth;  // user:password
    std::string db_tag = "db";
    // load
    std::string format = "lp";
    std::string precision = "ns";
    size_t batch_lines = 50000;
    std::vector<std::string> files;
};

const char *kUsage = R"(aegis-gateway: Prometheus remote write and InfluxDB line protocol into PostgreSQL
(the aegis_timeseries extension).

Usage:
  aegis-gateway [OPTION]...                 serve HTTP
  aegis-gateway load [OPTION]... FILE...    write files (or - for standard input)

Serving:
  --listen HOST:PORT        where to listen (default 127.0.0.1:9201: loopback only)
  --dsn CONNINFO            libpq connection string (default: libpq's environment, PGHOST...)
  --read-dsn CONNINFO       connection string for remote read (default: --dsn), e.g. a role
                            with only the reader privileges
  --connections N           database connections for writes, and as many for reads (default 4)
  --read-sample-limit N     most samples one remote read returns (default 50000000)
  --threads N               HTTP worker threads (default 8)
  --max-request-bytes N     largest request body, and largest decompressed remote-write
                            body (default 33554432)
  --queue-timeout MS        how long a request waits for a free connection before it is
                            answered 503, to be retried (default 5000)
  --bearer-token TOKEN      require "Authorization: Bearer TOKEN" (or "Token TOKEN", as InfluxDB
                            2.x clients send it; also AEGIS_GATEWAY_TOKEN)
  --basic-auth USER:PASS    require HTTP basic authentication
  --db-tag KEY              tag that carries a line-protocol request's database or bucket
                            (default db; empty: none)
  --config FILE             read options from FILE, one "name = value" per line (names
                            without the leading --); the command line wins
Loading:
  --format F                lp (line protocol, default), openmetrics (OpenMetrics text, as
                            promtool reads it; its TYPE, UNIT and HELP set the metrics'
                            kind, unit and description), or csv (metric,tags,ts,value
                            rows as COPY aegis.points FROM ... (FORMAT csv) reads them)
  --precision P             line protocol timestamps' unit: ns (default), us, ms, s, m, h
  --batch-lines N           lines per transaction (default 50000)
Other:
  --help, --version

Endpoints: POST /api/v1/write (remote write 1.0), POST /api/v1/read (remote read), POST /write (InfluxDB 1.x: db, precision),
POST /api/v2/write (bucket, org, precision), GET /metrics, GET /-/healthy, GET /-/ready.
)";

[[noreturn]] void Usage(const std::string &problem) {
    std::fprintf(stderr, "aegis-gateway: %s\nTry 'aegis-gateway --help'.\n", problem.c_str());
    std::exit(2);
}

size_t ParseCount(const std::string &name, const std::string &v) {
    char *end = nullptr;
    unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n == 0 || n > (1ull << 40)) Usage("--" + name + " needs a positive number");
    return static_cast<size_t>(n);
}

void SetOption(Options *o, const std::string &name, const std::string &v) {
    if (name == "listen") o->listen = v;
    else if (name == "dsn") o->dsn = v;
    else if (name == "read-dsn") o->read_dsn = v;
    else if (name == "read-sample-limit") o->read_sample_limit = ParseCount(name, v);
    else if (name == "connections") o->connections = ParseCount(name, v);
    else if (name == "threads") o->threads = ParseCount(name, v);
    else if (name == "max-request-bytes") o->max_request_bytes = ParseCount(name, v);
    else if (name == "queue-timeout") o->queue_timeout_ms = static_cast<long>(ParseCount(name, v));
    else if (name == "bearer-token") o->bearer_token = v;
    else if (name == "basic-auth") o->basic_auth = v;
    else if (name == "db-tag") o->db_tag = v;
    else if (name == "format") o->format = v;
    else if (name == "precision") o->precision = v;
    else if (name == "batch-lines") o->batch_lines = ParseCount(name, v);
    else Usage("unknown option --" + name);
}

void ReadConfig(Options *o, const std::string &path) {
    std::ifstream in(path);
    if (!in) Usage("cannot read the config file " + path);
    std::string line;
    int no = 0;
    while (std::getline(in, line)) {
        no++;
        size_t start = line.find_first_not_of(" \t");
        if (start == std::string::npos || line[start] == '#') continue;
        size_t eq = line.find('=');
        if (eq == std::string::npos) Usage(path + ":" + std::to_string(no) + ": expected name = value");
        auto trim = [](std::string s) {
            size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t\r");
            return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
        };
        SetOption(o, trim(line.substr(0, eq)), trim(line.substr(eq + 1)));
    }
}

// Parses the command line; `*load` tells the subcommand.
Options ParseArgs(int argc, char **argv, bool *load) {
    Options o;
    if (const char *t = std::getenv("AEGIS_GATEWAY_TOKEN")) o.bearer_token = t;
    std::vector<std::pair<std::string, std::string>> given;
    std::string config;
    int i = 1;
    *load = argc > 1 && std::string(argv[1]) == "load";
    if (*load) i = 2;
    for (; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        }
        if (a == "--version") {
            std::printf("aegis-gateway %s\n", kVersion);
            std::exit(0);
        }
        if (a.rfind("--", 0) == 0 && a.size() > 2) {
            std::string name = a.substr(2), value;
            size_t eq = name.find('=');
            if (eq != std::string::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
            } else {
                if (i + 1 >= argc) Usage("--" + name + " needs a value");
                value = argv[++i];
            }
            if (name == "config") {
                config = value;
            } else {
                given.emplace_back(name, value);
            }
        } else if (*load) {
            o.files.push_back(a);
        } else {
            Usage("unexpected argument " + a);
        }
    }
    if (!config.empty()) ReadConfig(&o, config);
    for (const auto &[n, v] : given) SetOption(&o, n, v);
    return o;
}

int64_t NowUnixNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string JsonError(const std::string &msg) {
    std::string out = "{\"error\":";
    AppendJsonString(out, msg);
    return out + "}";
}

class Gateway {
public:
    explicit Gateway(const Options &o)
        : o_(o), pool_(o.dsn, o.connections), read_pool_(o.read_dsn.empty() ? o.dsn : o.read_dsn, o.connections) {}

    int Serve() {
        std::string host = o_.listen;
        size_t colon = host.rfind(':');
        if (colon == std::string::npos) Usage("--listen needs HOST:PORT");
        int port = std::atoi(host.substr(colon + 1).c_str());
        host = host.substr(0, colon);
        if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        if (port <= 0 || port > 65535) Usage("--listen needs a port from 1 to 65535");

        size_t threads = o_.threads;
        server_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
        server_.set_payload_max_length(o_.max_request_bytes);
        server_.set_read_timeout(30, 0);
        server_.set_write_timeout(30, 0);
        // Bodies are read through a ContentReader: cpp-httplib parses (and caps
        // at 8 kB) a body sent as application/x-www-form-urlencoded, which is
        // what `curl --data-binary` sends to /write unless told otherwise.
        using Reader = httplib::ContentReader;
        server_.Post("/api/v1/write", [this](const httplib::Request &q, httplib::Response &r, const Reader &rd) {
            Handle("remote_write", q, r, [&] {
                std::string body;
                if (ReadBody(rd, r, &body)) RemoteWrite(body, r);
            });
        });
        server_.Post("/api/v1/read", [this](const httplib::Request &q, httplib::Response &r, const Reader &rd) {
            Handle("remote_read", q, r, [&] {
                std::string body;
                if (ReadBody(rd, r, &body)) RemoteRead(body, r);
            });
        });
        server_.Post("/write", [this](const httplib::Request &q, httplib::Response &r, const Reader &rd) {
            Handle("influx_v1", q, r, [&] {
                std::string body;
                if (ReadBody(rd, r, &body)) InfluxWrite(q, body, r, false);
            });
        });
        server_.Post("/api/v2/write", [this](const httplib::Request &q, httplib::Response &r, const Reader &rd) {
            Handle("influx_v2", q, r, [&] {
                std::string body;
                if (ReadBody(rd, r, &body)) InfluxWrite(q, body, r, true);
            });
        });
        server_.Get("/metrics", [this](const httplib::Request &q, httplib::Response &r) {
            Handle("metrics", q, r, [&] {
                r.set_content(metrics_.Render(pool_.InUse(), pool_.Size()), "text/plain; version=0.0.4");
            });
        });
        server_.Get("/-/healthy", [](const httplib::Request &, httplib::Response &r) {
            r.set_content("Healthy.\n", "text/plain");
        });
        server_.Get("/-/ready", [this](const httplib::Request &q, httplib::Response &r) {
            Handle("ready", q, r, [&] { Ready(r); });
        });

        // SIGTERM and SIGINT stop the server: requests being answered finish.
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, nullptr);
        std::thread waiter([this, set] {
            int sig = 0;
            sigwait(&set, &sig);
            server_.stop();
        });
        waiter.detach();

        if (!server_.bind_to_port(host.c_str(), port)) {
            std::fprintf(stderr, "aegis-gateway: cannot listen on %s\n", o_.listen.c_str());
            return 1;
        }
        std::fprintf(stderr, "aegis-gateway %s listening on %s\n", kVersion, o_.listen.c_str());
        server_.listen_after_bind();
        std::fprintf(stderr, "aegis-gateway stopped\n");
        return 0;
    }

private:
    // Reads the whole body into *body. False, with the answer set, when it is
    // larger than --max-request-bytes (413: cpp-httplib checks only a
    // Content-Length, not a chunked or decompressed body) or did not arrive
    // whole (400: a client gone or a read timeout mid-body; a cut body is
    // never parsed, its last line could read as a different point).
    bool ReadBody(const httplib::ContentReader &reader, httplib::Response &r, std::string *body) const {
        bool too_big = false;
        bool whole = reader([&](const char *data, size_t n) {
            if (body->size() + n > o_.max_request_bytes) {
                too_big = true;
                return false;
            }
            body->append(data, n);
            return true;
        });
        if (whole && !too_big) return true;
        too_big = too_big || r.status == 413;
        r.status = too_big ? 413 : 400;
        r.set_content(too_big ? "the request body is larger than --max-request-bytes\n"
                              : "the request body did not arrive whole\n",
                      "text/plain");
        return false;
    }

    template <typename F>
    void Handle(const char *handler, const httplib::Request &q, httplib::Response &r, F &&body) {
        auto start = std::chrono::steady_clock::now();
        try {
            if (Authorized(q)) {
                body();
            } else {
                r.status = 401;
                r.set_header("WWW-Authenticate", o_.basic_auth.empty() ? "Bearer" : "Basic realm=\"aegis-gateway\"");
                r.set_content("unauthorized\n", "text/plain");
            }
        } catch (const std::exception &e) {
            r.status = 500;
            r.set_content(std::string("internal error: ") + e.what() + "\n", "text/plain");
        }
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        metrics_.Request(handler, r.status, s);
    }

    bool Authorized(const httplib::Request &q) const {
        if (o_.bearer_token.empty() && o_.basic_auth.empty()) return true;
        std::string auth = q.get_header_value("Authorization");
        // Prometheus sends "Bearer", InfluxDB 2.x clients "Token".
        if (!o_.bearer_token.empty() && (auth == "Bearer " + o_.bearer_token || auth == "Token " + o_.bearer_token)) {
            return true;
        }
        if (!o_.basic_auth.empty()) {
            auto [user, pass] = [&] {
                size_t c = o_.basic_auth.find(':');
                return std::make_pair(o_.basic_auth.substr(0, c),
                                      c == std::string::npos ? std::string() : o_.basic_auth.substr(c + 1));
            }();
            if (auth == httplib::make_basic_authentication_header(user, pass).second) return true;
        }
        return false;
    }

    // Writes `samples` samples, the request `encode` makes, in one
    // transaction; the outcome as the answer's status.
    Outcome Commit(size_t samples, const char *protocol,
                   const std::function<bool(RequestBuilder *, std::string *)> &encode) {
        if (samples == 0) return {};
        Outcome o;
        Pool::Lease conn = pool_.Acquire(std::chrono::milliseconds(o_.queue_timeout_ms), &o);
        if (!conn) return o;
        auto start = std::chrono::steady_clock::now();
        o = WriteThrough(conn.connection(), encode);
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        metrics_.Add("aegis_gateway_db_write_duration_seconds_sum", s);
        metrics_.Add("aegis_gateway_db_write_duration_seconds_count", 1);
        if (o.defined > 0) metrics_.Add("aegis_gateway_series_defined_total", static_cast<double>(o.defined));
        if (o.resends > 0) metrics_.Add("aegis_gateway_dictionary_resends_total", o.resends);
        if (o.Ok()) {
            metrics_.Add(std::string("aegis_gateway_samples_written_total{protocol=\"") + protocol + "\"}",
                         static_cast<double>(samples));
        }
        return o;
    }

    static void Answer(httplib::Response &r, const Outcome &o) {
        r.status = o.status;
        if (o.status == 503) r.set_header("Retry-After", "1");
        if (!o.Ok()) {
            std::string text = o.message;
            if (!o.sqlstate.empty()) text += " (SQLSTATE " + o.sqlstate + ")";
            r.set_content(text + "\n", "text/plain");
        }
    }

    void RemoteWrite(const std::string &body, httplib::Response &r) {
        aegis::gateway::RemoteWrite decoded;
        std::vector<MetricMetadata> metadata;
        RemoteWriteStats stats;
        std::string error;
        if (!DecodeRemoteWrite(body, o_.max_request_bytes, &decoded, &metadata, &stats, &error)) {
            r.status = 400;
            r.set_content(error + "\n", "text/plain");
            return;
        }
        if (stats.exemplars > 0) {
            metrics_.Add("aegis_gateway_samples_skipped_total{reason=\"exemplar\"}", double(stats.exemplars));
        }
        if (stats.histograms > 0) {
            metrics_.Add("aegis_gateway_samples_skipped_total{reason=\"histogram\"}", double(stats.histograms));
        }
        if (stats.metadata > 0) metrics_.Add("aegis_gateway_metadata_received_total", double(stats.metadata));
        std::vector<std::string> new_metrics;
        Outcome o = Commit(decoded.samples.size(), "remote_write", [&](RequestBuilder *builder, std::string *err) {
            new_metrics.clear();
            return EncodeRemoteWrite(decoded, builder, &new_metrics, err);
        });
        if (o.Ok()) {
            NoteMetrics(new_metrics);
            ApplyMetadata(metadata);
        }
        Answer(r, o);
    }

    // Metric names this process has written samples of: metadata is applied
    // only to those (a histogram family's metadata names foo, its series are
    // foo_bucket, foo_sum and foo_count; no catalog entry is made for a name
    // without samples).
    // A remote write notes the metrics of the series it defined to its
    // connection (every series written was, by some request that succeeded).
    // Never forgotten (a series a connection knows is not defined again);
    // bounded: past a million metric names no more are noted, and metadata
    // of the later ones is not applied.
    void NoteMetrics(const std::vector<std::string> &metrics) {
        if (metrics.empty()) return;
        std::lock_guard<std::mutex> lock(meta_mu_);
        for (const std::string &m : metrics) {
            if (seen_.size() >= kMaxNotedMetrics) break;
            seen_.insert(m);
        }
    }
    static constexpr size_t kMaxNotedMetrics = 1000000;

    // Sets kind, unit and description (aegis.describe_metric) of the written
    // metrics a metadata entry describes, when they changed since this process
    // last set them. Never fails the request: errors are counted.
    void ApplyMetadata(const std::vector<MetricMetadata> &metadata) {
        std::vector<MetricMetadata> changes;
        {
            std::lock_guard<std::mutex> lock(meta_mu_);
            for (const MetricMetadata &m : metadata) {
                for (auto &[metric, kind] : MetadataTargets(m)) {
                    if (seen_.count(metric) == 0) continue;
                    std::string key = kind + '\0' + m.unit + '\0' + m.help;
                    auto it = described_.find(metric);
                    if (it != described_.end() && it->second == key) continue;
                    described_[metric] = key;
                    changes.push_back({metric, kind, m.unit, m.help});
                }
            }
        }
        if (changes.empty()) return;
        Outcome o;
        Pool::Lease conn = pool_.Acquire(std::chrono::milliseconds(o_.queue_timeout_ms), &o);
        if (conn) o = DescribeMetrics(conn.get(), changes);
        if (!o.Ok()) {
            metrics_.Add("aegis_gateway_metadata_errors_total", static_cast<double>(changes.size()));
            std::lock_guard<std::mutex> lock(meta_mu_);
            for (const MetricMetadata &c : changes) described_.erase(c.metric);  // tried again with the next metadata
        }
    }

    void RemoteRead(const std::string &body, httplib::Response &r) {
        std::vector<PromQuery> queries;
        std::string error;
        if (!DecodeRemoteRead(body, o_.max_request_bytes, &queries, &error)) {
            r.status = 400;
            r.set_content(error + "\n", "text/plain");
            return;
        }
        Outcome o;
        Pool::Lease conn = read_pool_.Acquire(std::chrono::milliseconds(o_.queue_timeout_ms), &o);
        std::vector<std::vector<ReadSeries>> results;
        if (conn) o = ReadQueries(conn.get(), queries, o_.read_sample_limit, &results);
        if (!o.Ok()) return Answer(r, o);
        size_t samples = 0;
        for (const auto &result : results) {
            for (const ReadSeries &s : result) samples += s.samples.size();
        }
        metrics_.Add("aegis_gateway_samples_read_total", static_cast<double>(samples));
        r.status = 200;
        r.set_header("Content-Encoding", "snappy");
        r.set_header("X-Prometheus-Remote-Read-Version", "0.1.0");
        r.set_content(EncodeReadResponse(results), "application/x-protobuf");
    }

    void InfluxWrite(const httplib::Request &q, const std::string &body, httplib::Response &r, bool v2) {
        auto fail = [&](int status, const std::string &msg) {
            r.status = status;
            if (v2) {
                std::string body = "{\"code\":\"invalid\",\"message\":";
                AppendJsonString(body, msg);
                r.set_content(body + "}", "application/json");
            } else {
                r.set_content(JsonError(msg), "application/json");
            }
        };
        std::string db = q.get_param_value(v2 ? "bucket" : "db");
        if (db.empty()) return fail(v2 ? 400 : 400, v2 ? "bucket is required" : "database is required");
        LineProtocolOptions lp;
        if (!ParsePrecision(q.get_param_value("precision"), v2, &lp.precision)) {
            return fail(400, "invalid precision \"" + q.get_param_value("precision") + "\"");
        }
        lp.now_unix_ns = NowUnixNs();
        lp.extra_tag_key = o_.db_tag;
        lp.extra_tag_value = db;
        Batch batch;
        LineProtocolResult result;
        ParseLineProtocol(body, lp, &batch, &result);
        if (result.dropped_fields > 0) {
            metrics_.Add("aegis_gateway_samples_skipped_total{reason=\"string_field\"}", double(result.dropped_fields));
        }
        if (result.dropped_lines > 0) {
            metrics_.Add("aegis_gateway_samples_skipped_total{reason=\"bad_line\"}", double(result.dropped_lines));
        }
        Outcome o = Commit(batch.points.size(), "influx", [&](RequestBuilder *builder, std::string *) {
            EncodeBatch(batch, builder);
            return true;
        });
        if (!o.Ok()) {
            std::string msg = o.message + (o.sqlstate.empty() ? "" : " (SQLSTATE " + o.sqlstate + ")");
            return fail(o.status, msg);
        }
        if (result.Dropped() > 0) return fail(400, result.PartialWriteMessage());
        r.status = 204;
    }

    void Ready(httplib::Response &r) {
        Outcome o;
        Pool::Lease conn = pool_.Acquire(std::chrono::milliseconds(1000), &o);
        if (conn) {
            o = Exec(conn.get(), "SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'aegis_timeseries'", {});
        }
        if (o.Ok()) {
            r.set_content("Ready.\n", "text/plain");
        } else {
            r.status = 503;
            r.set_content("not ready: " + o.message + "\n", "text/plain");
        }
    }

    const Options &o_;
    Pool pool_;
    Pool read_pool_;
    Metrics metrics_;
    std::mutex meta_mu_;
    std::set<std::string> seen_;
    std::map<std::string, std::string> described_;  // metric -> kind, unit, help last set
    httplib::Server server_;
};

// aegis-gateway load: each chunk of --batch-lines lines is one transaction;
// a progress line on a terminal, a summary at the end.
int Load(const Options &o) {
    enum class Format { kLp, kOpenMetrics, kCsv };
    Format format;
    if (o.format == "lp") {
        format = Format::kLp;
    } else if (o.format == "openmetrics") {
        format = Format::kOpenMetrics;
    } else if (o.format == "csv") {
        format = Format::kCsv;
    } else {
        Usage("unknown --format " + o.format + " (lp, openmetrics or csv)");
    }
    LineProtocolOptions lp;
    if (!ParsePrecision(o.precision, false, &lp.precision)) Usage("unknown --precision " + o.precision);
    std::vector<std::string> files = o.files;
    if (files.empty()) Usage("load needs a FILE (or - for standard input)");
    Pool pool(o.dsn, 1);
    Outcome oc;
    Pool::Lease conn = pool.Acquire(std::chrono::milliseconds(10000), &oc);
    if (!conn) {
        std::fprintf(stderr, "aegis-gateway load: %s\n", oc.message.c_str());
        return 1;
    }
    bool tty = isatty(STDERR_FILENO) != 0;
    auto start = std::chrono::steady_clock::now();
    size_t points = 0, lines = 0, dropped = 0;
    std::vector<MetricMetadata> metadata;
    std::set<std::string> written;
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
    for (const std::string &path : files) {
        std::ifstream file;
        std::istream *in = &std::cin;
        if (path != "-") {
            file.open(path, std::ios::binary);
            if (!file) {
                std::fprintf(stderr, "aegis-gateway load: cannot read %s\n", path.c_str());
                return 1;
            }
            in = &file;
        }
        std::string chunk, line;
        size_t chunk_lines = 0;
        // A chunk is parsed while the one before it is written: the write
        // runs on the connection in a thread of its own, one at a time, in
        // file order, and the next chunk's write starts only once its
        // outcome is known.
        struct Job {
            Batch batch;
            std::string csv;
            LineProtocolResult result;
            size_t lines = 0;
        };
        auto job = std::make_unique<Job>();
        std::unique_ptr<Job> writing;
        std::future<Outcome> pending;
        // Waits for the write in flight and counts it; false when it failed.
        auto settle = [&]() -> bool {
            if (!pending.valid()) return true;
            const Outcome w = pending.get();
            if (!w.Ok()) {
                std::string state = w.sqlstate.empty() ? "" : " (SQLSTATE " + w.sqlstate + ")";
                std::fprintf(stderr,
                             "aegis-gateway load: %s: the database refused the batch of lines %zu to %zu: %s%s; %zu "
                             "points were committed before it\n",
                             path.c_str(), lines + 1, lines + writing->lines, w.message.c_str(), state.c_str(), points);
                return false;
            }
            for (const Batch::Series &s : writing->batch.series) written.insert(s.metric);
            points += writing->result.points;
            lines += writing->lines;
            dropped += writing->result.Dropped();
            if (tty) {
                std::fprintf(stderr, "\r%s: %zu points, %.0f points/s   ", path.c_str(), points,
                             points / std::max(elapsed(), 1e-9));
            }
            return true;
        };
        auto flush = [&]() -> bool {
            if (format == Format::kCsv) {
                job->csv = std::move(chunk);
                job->result.lines = job->result.points = chunk_lines;
            } else {
                if (format == Format::kLp) {
                    lp.now_unix_ns = NowUnixNs();
                    ParseLineProtocol(chunk, lp, &job->batch, &job->result);
                } else {
                    ParseOpenMetrics(chunk, NowUnixNs() / 1000, &job->batch, &metadata, &job->result);
                }
                for (const auto &e : job->result.errors) {
                    std::fprintf(stderr, "aegis-gateway load: %s: skipped: %s (%s)\n", path.c_str(), e.text.c_str(),
                                 e.reason.c_str());
                }
            }
            job->lines = format == Format::kCsv ? chunk_lines : job->result.lines;
            chunk.clear();
            chunk_lines = 0;
            if (!settle()) return false;
            writing = std::move(job);
            job = std::make_unique<Job>();
            Connection *c = conn.connection();
            const Job *w = writing.get();
            const bool csv = format == Format::kCsv;
            pending = std::async(std::launch::async,
                                 [c, w, csv] { return csv ? CopyCsv(c->conn, w->csv) : WriteBatch(c, w->batch); });
            return true;
        };
        // A CSV record may span lines inside a quoted field: a chunk ends
        // only where the quotes are balanced.
        bool quoted = false;
        while (std::getline(*in, line)) {
            chunk += line;
            chunk += '\n';
            if (format == Format::kCsv) {
                for (char c : line) quoted ^= c == '"';
                if (quoted) continue;
            }
            if (++chunk_lines < o.batch_lines) continue;
            if (format == Format::kLp) {
                // A string field may hold newlines: cut after the last whole
                // line, carry the rest into the next batch.
                size_t whole = CompleteLines(chunk);
                if (whole == 0) continue;  // one line longer than the batch: read on
                std::string rest = chunk.substr(whole);
                chunk.resize(whole);
                size_t rest_lines = static_cast<size_t>(std::count(rest.begin(), rest.end(), '\n'));
                chunk_lines -= rest_lines;
                if (!flush()) return 1;
                chunk = std::move(rest);
                chunk_lines = rest_lines;
            } else if (!flush()) {
                return 1;
            }
        }
        if (!chunk.empty() && !flush()) return 1;
        if (!settle()) return 1;
    }
    if (tty) std::fputc('\n', stderr);
    // OpenMetrics metadata: kind, unit and description of what was written.
    std::vector<MetricMetadata> described;
    for (const MetricMetadata &m : metadata) {
        for (const auto &[metric, kind] : MetadataTargets(m)) {
            if (written.count(metric) > 0) described.push_back({metric, kind, m.unit, m.help});
        }
    }
    Outcome d = DescribeMetrics(conn.get(), described);
    if (!d.Ok()) std::fprintf(stderr, "aegis-gateway load: metadata not set: %s\n", d.message.c_str());
    double s = elapsed();
    std::printf("loaded %zu points from %zu lines in %.2f s (%.0f points/s), %zu dropped\n", points, lines, s,
                points / std::max(s, 1e-9), dropped);
    return dropped > 0 ? 3 : 0;
}

}  // namespace
}  // namespace aegis::gateway

int main(int argc, char **argv) {
    using namespace aegis::gateway;
    try {
        bool load = false;
        Options o = ParseArgs(argc, argv, &load);
        if (load) return Load(o);
        Gateway g(o);
        return g.Serve();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "aegis-gateway: %s\n", e.what());
        return 1;
    }
}
