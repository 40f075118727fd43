// aegis_stress concurrency: N clients run random single-statement
// transactions (writes of every kind, deletes, drops, compression, queries) at
// READ COMMITTED or REPEATABLE READ against shared and private series; then
// every committed transaction is replayed in commit-timestamp order into a
// model ("last write wins") and the database must equal it bit for bit.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "checks.h"
#include "pg_util.h"
#include "stress.h"

namespace stress {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kBaseUs = INT64_C(1704067200) * 1000000;  // 2024-01-01 00:00:00 UTC
constexpr int kTsRange = 2000;                                // seconds 0..2000

enum class Group { kShared, kDrop, kDelete, kOwn };

struct SeriesDef {
  std::string metric;
  Tags tags;
  std::string canonical;
  Group group;
  int owner = -1;
};

struct Catalog {
  std::vector<SeriesDef> series;
  std::vector<int> shared, drop, del;
  std::vector<std::vector<int>> own;  // per client
  std::map<std::string, int> by_key;  // SeriesKey -> index
  std::vector<std::string> metrics;

  explicit Catalog(int clients) {
    const std::vector<Tags> shared_tags = {
        {}, {{"host", "h1"}}, {{"host", "h2"}, {"region", "eu"}}, {{"region", "us"}, {"host", "h3"}, {"rack", "r1"}}};
    for (const char* m : {"st_shared_a", "st_shared_b", "st_shared_c"}) {
      metrics.push_back(m);
      for (const Tags& t : shared_tags) shared.push_back(add(m, t, Group::kShared, -1));
    }
    metrics.push_back("st_drop");
    for (const Tags& t : std::vector<Tags>{{{"k", "a"}}, {{"k", "b"}}, {}})
      drop.push_back(add("st_drop", t, Group::kDrop, -1));
    metrics.push_back("st_del");
    for (const char* d : {"1", "2", "3"}) del.push_back(add("st_del", {{"d", d}}, Group::kDelete, -1));
    metrics.push_back("st_own");
    own.resize(static_cast<size_t>(clients));
    for (int c = 0; c < clients; ++c) {
      const std::string name = "c" + std::to_string(c);
      own[static_cast<size_t>(c)].push_back(add("st_own", {{"client", name}}, Group::kOwn, c));
      own[static_cast<size_t>(c)].push_back(add("st_own", {{"client", name}, {"x", "y"}}, Group::kOwn, c));
    }
  }

  int add(const std::string& metric, const Tags& tags, Group g, int owner) {
    SeriesDef d{metric, tags, CanonicalTags(tags), g, owner};
    const int index = static_cast<int>(series.size());
    by_key[SeriesKey(metric, d.canonical)] = index;
    series.push_back(std::move(d));
    return index;
  }
};

struct Effect {
  enum Kind { kWrite, kDeleteSeries, kDropMetric } kind = kWrite;
  int series = -1;       // kWrite, kDeleteSeries
  std::string metric;    // kDropMetric
  std::vector<std::pair<int64_t, uint64_t>> points;  // kWrite: (ts, value bits) in the order written
};

struct Txn {
  int client = 0;
  int64_t op = 0;
  const char* name = "";
  bool rr = false;
  bool committed = false;
  int64_t xid = 0;
  int64_t commit_us = 0;
  std::vector<Effect> effects;
};

struct Counters {
  int64_t committed = 0, serialization = 0, deadlocks = 0, other = 0, drop_races = 0, wrong_results = 0;
  int64_t points_written = 0;
  std::map<std::string, int64_t> committed_by_op, failed_by_op;
};

// Tracks drop_metric calls in flight: one that overlapped another may find
// the metric gone (42704), which is then not a defect.
struct DropTracker {
  std::mutex mu;
  int in_flight = 0;
  int64_t started = 0;
};

struct Shared {
  const Catalog* catalog;
  std::string dsn;
  Clock::time_point deadline;
  DropTracker drops;
  std::mutex print_mu;
  std::atomic<int> printed{0};
};

class Client {
 public:
  Client(int id, uint64_t seed, Shared& shared) : id_(id), rng_(seed), shared_(shared) {}

  void run() {
    try {
      conn_ = std::make_unique<Connection>(shared_.dsn);
      conn_->exec("SET aegis.block_max_points = 100");
      conn_->exec("SET statement_timeout = '30s'");  // a hang becomes an error (57014)
      conn_->exec("SET TimeZone = 'UTC'");
    } catch (const SqlError& e) {
      lost("could not connect: " + std::string(e.what()));
      return;
    }
    while (Clock::now() < shared_.deadline) {
      if (!one_transaction()) break;
    }
  }

  std::vector<Txn> txns;
  Counters counters;
  std::vector<std::string> lost_connections;

 private:
  using OpFn = void (Client::*)(int64_t op);
  struct Op {
    const char* name;
    int weight;
    OpFn fn;
  };

  // Returns false when the client must stop (connection lost).
  bool one_transaction() {
    static const Op kOps[] = {
        {"point write", 20, &Client::point_write}, {"batch write", 22, &Client::batch_write},
        {"insert", 12, &Client::insert_rows},      {"copy", 12, &Client::copy_rows},
        {"compress", 5, &Client::compress},        {"delete_series", 5, &Client::delete_series},
        {"drop_metric", 3, &Client::drop_metric},  {"read", 8, &Client::read},
        {"aggregate", 6, &Client::aggregate},      {"latest", 4, &Client::latest},
        {"stats", 3, &Client::stats},
    };
    int total = 0;
    for (const Op& o : kOps) total += o.weight;
    int pick = static_cast<int>(rng_() % static_cast<uint64_t>(total));
    const Op* op = kOps;
    while (pick >= op->weight) pick -= (op++)->weight;

    Txn t;
    t.client = id_;
    t.op = ++op_number_;
    t.name = op->name;
    t.rr = rng_() % 2 == 0;
    statement_.clear();
    effects_.clear();
    forced_series_ = -1;
    drop_overlapped_ = false;
    const bool is_drop = op->fn == &Client::drop_metric;
    if (is_drop) drop_begins();
    try {
      statement_ = t.rr ? "BEGIN ISOLATION LEVEL REPEATABLE READ" : "BEGIN";
      conn_->exec(statement_);
      // A quarter of the point and batch writes are transactions of two or
      // three write statements instead (see several_writes).
      if (op < kOps + 2 && rng_() % 4 == 0) {
        t.name = "writes in one transaction";
        several_writes();
      } else {
        (this->*(op->fn))(t.op);
      }
      statement_ = "SELECT txid_current()";
      Result x = conn_->exec(statement_);
      t.xid = std::stoll(x.text(0, 0));
      statement_ = "COMMIT";
      Result c = conn_->exec(statement_);
      if (std::string(PQcmdStatus(c.get())) != "COMMIT") {
        report("COMMIT answered '" + std::string(PQcmdStatus(c.get())) + "'", t);
        ++counters.other;
      } else {
        t.committed = true;
      }
      if (is_drop) drop_ends();
    } catch (const SqlError& e) {
      if (e.connection_lost) {
        lost("lost the connection in " + std::string(t.name) + ": " + e.what() + "\n#   statement: " +
             Shorten(statement_));
        return false;
      }
      conn_->exec_quietly("ROLLBACK");
      if (is_drop) drop_ends();
      ++counters.failed_by_op[t.name];
      if (e.sqlstate == "40001") {
        ++counters.serialization;
      } else if (e.sqlstate == "40P01") {
        ++counters.deadlocks;
        report("DEADLOCK (40P01): " + std::string(e.what()), t);
      } else if (e.sqlstate == "42704" && is_drop && drop_overlapped_) {
        ++counters.drop_races;  // another drop_metric removed it first
      } else {
        ++counters.other;
        report("SQLSTATE " + e.sqlstate + ": " + e.what(), t);
      }
    }
    t.effects = std::move(effects_);
    if (t.committed) {
      ++counters.committed;
      ++counters.committed_by_op[t.name];
      for (const Effect& e : t.effects) counters.points_written += static_cast<int64_t>(e.points.size());
    }
    // Writes of rolled-back transactions are kept too: a value of one found
    // in the database is named as such.
    if (!t.effects.empty()) txns.push_back(std::move(t));
    return true;
  }

  void report(const std::string& what, const Txn& t) {
    std::lock_guard<std::mutex> lock(shared_.print_mu);
    if (shared_.printed.fetch_add(1) >= 30) return;
    std::cout << "# client " << id_ << " op " << t.op << " (" << t.name << ", "
              << (t.rr ? "REPEATABLE READ" : "READ COMMITTED") << "): " << what << "\n#   statement: "
              << Shorten(statement_) << std::endl;
  }

  void lost(const std::string& what) {
    lost_connections.push_back("client " + std::to_string(id_) + ": " + what);
    std::lock_guard<std::mutex> lock(shared_.print_mu);
    std::cout << "# client " << id_ << ": " << what << std::endl;
  }

  void wrong(const std::string& what) {
    ++counters.wrong_results;
    std::lock_guard<std::mutex> lock(shared_.print_mu);
    std::cout << "# client " << id_ << ": " << what << std::endl;
  }

  // --- choosing series, timestamps and values -------------------------------

  const SeriesDef& def(int s) const { return shared_.catalog->series[static_cast<size_t>(s)]; }

  int pick(const std::vector<int>& from) { return from[rng_() % from.size()]; }

  int write_series() {
    if (forced_series_ >= 0) return forced_series_;
    const Catalog& c = *shared_.catalog;
    const uint64_t r = rng_() % 100;
    if (r < 45) return pick(c.shared);
    if (r < 60) return pick(c.drop);
    if (r < 75) return pick(c.del);
    return pick(c.own[static_cast<size_t>(id_)]);
  }

  static int64_t Ts(int64_t second) { return kBaseUs + second * 1000000; }

  // Unique per (client, op, index); three forms so that blocks see decimal,
  // negative and non-decimal values.
  double value(int64_t op, int index) const {
    const int64_t code = ((static_cast<int64_t>(id_) + 1) * 10000000 + op) * 10000 + index;
    switch (op % 3) {
      case 0: return static_cast<double>(code) / 100.0;
      case 1: return -static_cast<double>(code) - 0.5;
      default: return static_cast<double>(code) + 1.0 / 3.0;
    }
  }

  std::string tags_json(int s) { return ScrambledTags(def(s).tags, rng_); }

  // Distinct random seconds for one series (ascending).
  std::vector<int64_t> distinct_seconds(int n) {
    std::set<int64_t> chosen;
    while (static_cast<int>(chosen.size()) < n) chosen.insert(static_cast<int64_t>(rng_() % (kTsRange + 1)));
    return std::vector<int64_t>(chosen.begin(), chosen.end());
  }

  std::string selector() {
    static const char* const kSelectors[] = {
        "st_shared_a", "st_shared_b{host=\"h1\"}", "{__name__=~\"st_.*\"}", "st_drop", "st_del{d!=\"1\"}",
        "st_shared_c{region=~\"e.*\"}", "st_del", "{__name__=~\"st_shared_.\", host=~\"h[12]\"}"};
    const uint64_t r = rng_() % 10;
    if (r < 8) return kSelectors[r];
    return "st_own{client=\"c" + std::to_string(rng_() % shared_.catalog->own.size()) + "\"}";
  }

  std::pair<std::string, std::string> range() {
    if (rng_() % 4 == 0) return {"-infinity", "infinity"};
    const int64_t a = static_cast<int64_t>(rng_() % (kTsRange + 1));
    const int64_t b = a + 1 + static_cast<int64_t>(rng_() % (kTsRange + 1));
    return {FormatTimestamp(Ts(a)), FormatTimestamp(Ts(b))};
  }

  // --- operations ----------------------------------------------------------

  // One to three statements in the open transaction, each a point or
  // batch write to another series, in ascending series id (series not created
  // yet come last), as an application that avoids deadlocks between its
  // own transactions orders its writes. The extension's own locks must not
  // add a deadlock to that: a transaction that holds series from earlier
  // statements waits only for point rows, as with a plain table.
  void several_writes() {
    std::vector<std::pair<int64_t, int>> order;  // (series id or INT64_MAX, series)
    std::set<int> chosen;
    for (uint64_t k = 2 + rng_() % 3; k > 0; --k) {
      const int s = write_series();
      // One statement per series: two writes to one series in the opposite
      // timestamp order of another transaction's would deadlock on their
      // rows, as they would in any table.
      if (!chosen.insert(s).second) continue;
      Params p;
      p.text(def(s).metric);
      p.text(def(s).canonical, kJsonbOid);
      statement_ = "SELECT series_id FROM aegis.series WHERE metric = '" + def(s).metric + "' AND tags = '" +
                   def(s).canonical + "'";
      Result r = conn_->exec("SELECT series_id FROM aegis.series WHERE metric = $1 AND tags = $2", p);
      order.emplace_back(r.rows() == 1 ? r.int8(0, 0) : INT64_MAX, s);
    }
    std::sort(order.begin(), order.end());
    for (const auto& [id, s] : order) {
      forced_series_ = s;
      if (rng_() % 2) {
        point_write(++op_number_);
      } else {
        batch_write(++op_number_);
      }
    }
    forced_series_ = -1;
  }

  void point_write(int64_t op) {
    const int s = write_series();
    const int64_t ts = Ts(static_cast<int64_t>(rng_() % (kTsRange + 1)));
    const double v = value(op, 0);
    Params p;
    p.text(def(s).metric);
    p.text(tags_json(s), kJsonbOid);
    p.timestamptz(ts);
    p.float8(v);
    statement_ = "SELECT aegis.write('" + def(s).metric + "', '" + def(s).canonical + "', '" +
                 FormatTimestamp(ts) + "', " + FormatValue(Bits(v)) + ")";
    Effect e;
    e.series = s;
    e.points.emplace_back(ts, Bits(v));
    effects_.push_back(std::move(e));
    conn_->exec("SELECT aegis.write($1, $2, $3, $4)", p);
  }

  void batch_write(int64_t op) {
    const int s = write_series();
    const int n = rng_() % 2 ? 1 + static_cast<int>(rng_() % 99) : 100 + static_cast<int>(rng_() % 201);
    const int64_t max_step = n > 1 ? std::min<int64_t>(5, kTsRange / (n - 1)) : 1;
    const int64_t step = 1 + static_cast<int64_t>(rng_() % static_cast<uint64_t>(max_step));
    const int64_t start = static_cast<int64_t>(rng_() % static_cast<uint64_t>(kTsRange + 1 - (n - 1) * step));
    std::vector<int64_t> ts;
    for (int i = 0; i < n; ++i) ts.push_back(Ts(start + i * step));
    const uint64_t order = rng_() % 10;
    if (order == 7) std::reverse(ts.begin(), ts.end());
    if (order >= 8) std::shuffle(ts.begin(), ts.end(), rng_);
    if (n > 1 && rng_() % 10 == 0) {  // a few repeated timestamps: the later one wins
      const int k = 1 + static_cast<int>(rng_() % 3);
      for (int j = 0; j < k; ++j) ts[rng_() % ts.size()] = ts[rng_() % ts.size()];
    }
    std::vector<double> values;
    Effect e;
    e.series = s;
    for (int i = 0; i < n; ++i) {
      values.push_back(value(op, i));
      e.points.emplace_back(ts[static_cast<size_t>(i)], Bits(values.back()));
    }
    Params p;
    p.text(def(s).metric);
    p.text(tags_json(s), kJsonbOid);
    p.timestamptz_array(ts);
    p.float8_array(values);
    statement_ = "SELECT aegis.write('" + def(s).metric + "', '" + def(s).canonical + "', <" + std::to_string(n) +
                 " timestamps from " + FormatTimestamp(*std::min_element(ts.begin(), ts.end())) + ", step " +
                 std::to_string(step) + " s>, <values>)";
    effects_.push_back(std::move(e));
    Result r = conn_->exec("SELECT aegis.write($1, $2, $3, $4)", p);
    const int64_t distinct = static_cast<int64_t>(std::set<int64_t>(ts.begin(), ts.end()).size());
    if (r.int8(0, 0) != distinct) {
      wrong("batch write returned " + std::to_string(r.int8(0, 0)) + ", expected " + std::to_string(distinct) +
            " (points written after duplicates collapse)\n#   statement: " + statement_);
    }
  }

  struct Row {
    int series;
    int64_t ts;
    double value;
  };

  // Rows for several series, interleaved; now and then a (series, ts) twice
  // (the later row wins).
  std::vector<Row> rows_for(int64_t op, int min_series, int max_series, int max_rows) {
    std::set<int> chosen;
    const int k = min_series + static_cast<int>(rng_() % static_cast<uint64_t>(max_series - min_series + 1));
    while (static_cast<int>(chosen.size()) < k) chosen.insert(write_series());
    std::vector<Row> rows;
    int index = 0;
    for (int s : chosen) {
      int m = 1 + static_cast<int>(rng_() % static_cast<uint64_t>(max_rows));
      if (max_rows > 100 && rng_() % 4 == 0) m = 100 + static_cast<int>(rng_() % 150);  // a block-sized series
      for (int64_t sec : distinct_seconds(m)) {
        rows.push_back({s, Ts(sec), value(op, index)});
        ++index;
      }
      if (rng_() % 20 == 0) {
        const Row again = rows[rows.size() - 1 - rng_() % static_cast<uint64_t>(m)];
        rows.push_back({s, again.ts, value(op, index)});
        ++index;
      }
    }
    // Interleaved; where a (series, ts) repeats, the later row wins.
    std::shuffle(rows.begin(), rows.end(), rng_);
    return rows;
  }

  // The rows per series, in row order.
  void record(const std::vector<Row>& rows) {
    std::map<int, Effect> by_series;
    for (const Row& r : rows) {
      Effect& e = by_series[r.series];
      e.series = r.series;
      e.points.emplace_back(r.ts, Bits(r.value));
    }
    for (auto& [s, e] : by_series) effects_.push_back(std::move(e));
  }

  void insert_rows(int64_t op) {
    const std::vector<Row> rows = rows_for(op, 2, 5, 40);
    std::string sql = "INSERT INTO aegis.points (metric, tags, ts, value) VALUES ";
    Params p;
    for (size_t i = 0; i < rows.size(); ++i) {
      const int base = static_cast<int>(i) * 4;
      if (i > 0) sql += ", ";
      sql += "($" + std::to_string(base + 1) + ", $" + std::to_string(base + 2) + ", $" + std::to_string(base + 3) +
             ", $" + std::to_string(base + 4) + ")";
      p.text(def(rows[i].series).metric);
      p.text(tags_json(rows[i].series), kJsonbOid);
      p.timestamptz(rows[i].ts);
      p.float8(rows[i].value);
    }
    statement_ = "INSERT INTO aegis.points ... (" + std::to_string(rows.size()) + " rows)";
    record(rows);
    conn_->exec(sql, p);
  }

  static std::string CopyEscape(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '\\') out += "\\\\";
      else if (c == '\n') out += "\\n";
      else if (c == '\t') out += "\\t";
      else out += c;
    }
    return out;
  }

  void copy_rows(int64_t op) {
    const std::vector<Row> rows = rows_for(op, 1, 4, 150);
    std::string data;
    for (const Row& r : rows) {
      char v[64];
      std::snprintf(v, sizeof v, "%.17g", r.value);
      data += def(r.series).metric + "\t" + CopyEscape(tags_json(r.series)) + "\t" + FormatTimestamp(r.ts) + "\t" +
              v + "\n";
    }
    statement_ = "COPY aegis.points (metric, tags, ts, value) FROM STDIN (" + std::to_string(rows.size()) +
                 " rows; first: " + Shorten(data.substr(0, data.find('\n')), 120) + ")";
    record(rows);
    conn_->copy_in("COPY aegis.points (metric, tags, ts, value) FROM STDIN", data);
  }

  void compress(int64_t) {
    statement_ = "SELECT aegis.compress('0')";
    conn_->exec(statement_);
  }

  void delete_series(int64_t) {
    const int s = pick(shared_.catalog->del);
    Params p;
    p.text(def(s).metric);
    p.text(def(s).canonical, kJsonbOid);
    statement_ = "SELECT aegis.delete_series(series_id) FROM aegis.series WHERE metric = '" + def(s).metric +
                 "' AND tags = '" + def(s).canonical + "'";
    Result r = conn_->exec("SELECT aegis.delete_series(series_id) FROM aegis.series WHERE metric = $1 AND tags = $2",
                           p);
    bool deleted = false;
    for (int i = 0; i < r.rows(); ++i) deleted = deleted || r.boolean(i, 0);
    if (!deleted) return;
    Effect e;
    e.kind = Effect::kDeleteSeries;
    e.series = s;
    effects_.push_back(std::move(e));
  }

  // A drop_metric transaction is "in flight" from before its BEGIN until its
  // COMMIT or ROLLBACK returned (a drop's delete shows only at its commit).
  void drop_begins() {
    DropTracker& d = shared_.drops;
    std::lock_guard<std::mutex> lock(d.mu);
    drop_overlapped_ = d.in_flight > 0;
    ++d.in_flight;
    drop_started_ = ++d.started;
  }

  void drop_ends() {
    DropTracker& d = shared_.drops;
    std::lock_guard<std::mutex> lock(d.mu);
    --d.in_flight;
    if (d.started != drop_started_) drop_overlapped_ = true;
  }

  void drop_metric(int64_t) {
    statement_ = "SELECT aegis.drop_metric(name) FROM aegis.metric_catalog WHERE name = 'st_drop'";
    Result r = conn_->exec(statement_);
    if (r.rows() == 0) return;
    Effect e;
    e.kind = Effect::kDropMetric;
    e.metric = "st_drop";
    effects_.push_back(std::move(e));
  }

  void read(int64_t) {
    // One statement, one snapshot: read and aggregate(count) must agree.
    const std::string sel = selector();
    const auto [since, until] = range();
    Params p;
    p.text(sel);
    p.text(since, kTimestamptzOid);
    p.text(until, kTimestamptzOid);
    statement_ = "read/aggregate-count of " + sel + " in [" + since + ", " + until + ")";
    Result r = conn_->exec(
        "SELECT (SELECT count(*) FROM aegis.read($1, $2, $3)), "
        "(SELECT coalesce(sum(value), 0)::int8 FROM aegis.aggregate($1, 'count', $2, $3, '1 hour'))",
        p);
    if (r.int8(0, 0) != r.int8(0, 1)) {
      wrong("in one statement aegis.read returned " + std::to_string(r.int8(0, 0)) +
            " points and aegis.aggregate counted " + std::to_string(r.int8(0, 1)) + "\n#   statement: " + statement_);
    }
  }

  void aggregate(int64_t) {
    static const char* const kFns[] = {"sum", "sum", "sum", "count", "max", "last", "rate", "quantile(0.9)"};
    const std::string sel = selector();
    const std::string fn = kFns[rng_() % 8];
    std::string since = FormatTimestamp(Ts(static_cast<int64_t>(rng_() % 1000)));
    std::string until = FormatTimestamp(Ts(1000 + static_cast<int64_t>(rng_() % 2000)));
    Params p;
    p.text(sel);
    p.text(fn);
    p.text(since, kTimestamptzOid);
    p.text(until, kTimestamptzOid);
    statement_ = "SELECT count(*) FROM aegis.aggregate('" + sel + "', '" + fn + "', '" + since + "', '" + until +
                 "', '1 hour')";
    conn_->exec("SELECT count(*) FROM aegis.aggregate($1, $2, $3, $4, '1 hour')", p);
  }

  void latest(int64_t) {
    Params p;
    p.text(selector());
    statement_ = "SELECT count(*) FROM aegis.latest(...)";
    conn_->exec("SELECT count(*) FROM aegis.latest($1)", p);
  }

  void stats(int64_t) {
    statement_ = "SELECT * FROM aegis.stats";
    conn_->exec(statement_);
  }

  int id_;
  std::mt19937_64 rng_;
  Shared& shared_;
  std::unique_ptr<Connection> conn_;
  int64_t op_number_ = 0;
  int forced_series_ = -1;  // write_series() returns it when set
  std::string statement_;
  std::vector<Effect> effects_;  // what the running operation writes or removes
  bool drop_overlapped_ = false;
  int64_t drop_started_ = 0;
};

// --- the model ---------------------------------------------------------------

// Per (series, ts): the values the database may hold (nullopt: absent). One
// candidate unless transactions with equal commit timestamps both touched it.
using Candidates = std::vector<std::optional<uint64_t>>;
using SeriesState = std::map<int64_t, Candidates>;

struct Model {
  std::vector<SeriesState> state;
  int64_t tie_groups = 0;      // groups of equal commit timestamps touching one series
  int64_t ambiguous_keys = 0;  // (series, ts) left with more than one acceptable outcome
};

std::vector<int> SeriesOf(const Catalog& c, const Effect& e) {
  if (e.kind == Effect::kDropMetric) {
    std::vector<int> out;
    for (size_t i = 0; i < c.series.size(); ++i)
      if (c.series[i].metric == e.metric) out.push_back(static_cast<int>(i));
    return out;
  }
  return {e.series};
}

void ApplyOne(const Catalog& c, const Txn& t, Model& m) {
  for (const Effect& e : t.effects) {
    if (e.kind == Effect::kWrite) {
      SeriesState& s = m.state[static_cast<size_t>(e.series)];
      for (const auto& [ts, bits] : e.points) s[ts] = Candidates{bits};
    } else {
      for (int s : SeriesOf(c, e)) m.state[static_cast<size_t>(s)].clear();
    }
  }
}

// Transactions with one commit timestamp: any order is possible. Keys touched
// by one of them take its outcome; keys touched by several may end with any.
void ApplyGroup(const Catalog& c, const std::vector<const Txn*>& group, Model& m) {
  std::map<int, std::vector<const Txn*>> touching;
  for (const Txn* t : group)
    for (const Effect& e : t->effects)
      for (int s : SeriesOf(c, e)) {
        auto& v = touching[s];
        if (v.empty() || v.back() != t) v.push_back(t);
      }
  bool contested = false;
  for (const auto& [s, ts] : touching) contested = contested || ts.size() > 1;
  if (!contested) {
    for (const Txn* t : group) ApplyOne(c, *t, m);
    return;
  }
  ++m.tie_groups;
  for (const auto& [s, txns] : touching) {
    SeriesState& state = m.state[static_cast<size_t>(s)];
    // Each transaction's outcome per key of this series: a write's last value,
    // or "absent" for every key when it deletes the series.
    std::vector<std::map<int64_t, uint64_t>> writes(txns.size());
    std::vector<bool> clears(txns.size(), false);
    std::set<int64_t> keys;
    for (const auto& [ts, cands] : state) keys.insert(ts);
    for (size_t i = 0; i < txns.size(); ++i)
      for (const Effect& e : txns[i]->effects) {
        const std::vector<int> of = SeriesOf(c, e);
        if (std::find(of.begin(), of.end(), s) == of.end()) continue;
        if (e.kind == Effect::kWrite) {
          for (const auto& [ts, bits] : e.points) {
            writes[i][ts] = bits;
            keys.insert(ts);
          }
        } else {
          clears[i] = true;
        }
      }
    SeriesState next;
    for (int64_t ts : keys) {
      Candidates out;
      bool touched = false;
      for (size_t i = 0; i < txns.size(); ++i) {
        std::optional<uint64_t> outcome;
        if (writes[i].count(ts)) {
          outcome = writes[i][ts];
        } else if (!clears[i]) {
          continue;
        }
        touched = true;
        if (std::find(out.begin(), out.end(), outcome) == out.end()) out.push_back(outcome);
      }
      if (!touched) {
        auto it = state.find(ts);
        if (it != state.end()) next[ts] = it->second;
        continue;
      }
      if (out.size() > 1) ++m.ambiguous_keys;
      if (out.size() == 1 && !out[0]) continue;
      next[ts] = out;
    }
    state = std::move(next);
  }
}

struct Origin {
  const Txn* txn;
  const Effect* effect;
  int index;
};

std::string Describe(const Txn& t) {
  std::ostringstream o;
  o << "client " << t.client << " op " << t.op << " (" << t.name << ", " << (t.rr ? "RR" : "RC") << ", "
    << (t.committed ? "committed xid " + std::to_string(t.xid) + " at " + FormatTimestamp(t.commit_us)
                    : std::string("rolled back"))
    << ")";
  return o.str();
}

}  // namespace

int RunConcurrency(const Args& args) {
  const std::string dsn = args.get("dsn");
  const int clients = static_cast<int>(args.number("clients", 8));
  const int seconds = static_cast<int>(args.number("seconds", 20));
  const uint64_t seed = static_cast<uint64_t>(args.number("seed", 1));
  if (dsn.empty() || clients < 8 || clients > 64 || seconds < 1) {
    std::cerr << "usage: aegis_stress concurrency --dsn CONNINFO --clients N(8..64) --seconds S --seed X\n";
    return 2;
  }
  const Catalog catalog(clients);
  Shared shared;
  shared.catalog = &catalog;
  shared.dsn = dsn;
  std::cout << "# concurrency: " << clients << " clients, " << seconds << " s, seed " << seed << std::endl;

  try {
    // The model starts from nothing: the database must hold no series.
    Connection conn(dsn);
    const std::string n = conn.exec("SELECT count(*) FROM aegis.series").text(0, 0);
    if (n != "0") {
      std::cerr << "aegis_stress concurrency: the database already holds " << n
                << " series; it needs a fresh database with the extension\n";
      return 2;
    }
  } catch (const SqlError& e) {
    std::cerr << "aegis_stress concurrency: " << e.what() << "\n";
    return 2;
  }
  const auto started = Clock::now();
  shared.deadline = started + std::chrono::seconds(seconds);
  std::vector<std::unique_ptr<Client>> all;
  for (int c = 0; c < clients; ++c)
    all.push_back(std::make_unique<Client>(c, seed * 1000003 + static_cast<uint64_t>(c) * 7919 + 1, shared));
  std::vector<std::thread> threads;
  for (auto& c : all) threads.emplace_back([&c] { c->run(); });
  for (auto& t : threads) t.join();
  const double ran = std::chrono::duration<double>(Clock::now() - started).count();

  Report report;
  for (const std::string& n : NoticeSummary()) report.note("server said during the run: " + n);
  Counters total;
  std::vector<const Txn*> txns;
  std::vector<std::string> lost;
  for (const auto& c : all) {
    const Counters& k = c->counters;
    total.committed += k.committed;
    total.serialization += k.serialization;
    total.deadlocks += k.deadlocks;
    total.other += k.other;
    total.drop_races += k.drop_races;
    total.wrong_results += k.wrong_results;
    total.points_written += k.points_written;
    for (const auto& [n, v] : k.committed_by_op) total.committed_by_op[n] += v;
    for (const auto& [n, v] : k.failed_by_op) total.failed_by_op[n] += v;
    for (const Txn& t : c->txns) txns.push_back(&t);
    lost.insert(lost.end(), c->lost_connections.begin(), c->lost_connections.end());
  }
  std::ostringstream by_op;
  for (const auto& [n, v] : total.committed_by_op) {
    by_op << " " << n << " " << v;
    if (total.failed_by_op.count(n)) by_op << "/" << total.failed_by_op[n] << " failed";
    by_op << ",";
  }
  std::cout << "# ran " << ran << " s; committed by operation:" << by_op.str() << std::endl;
  std::cout << "# transactions committed " << total.committed << ", failed with 40001 " << total.serialization
            << ", other errors " << total.other << ", deadlocks " << total.deadlocks
            << ", drop_metric of a metric another drop removed first (42704) " << total.drop_races << std::endl;
  std::cout << "# points written by committed transactions " << total.points_written << std::endl;
  // A run where (nearly) everything fails proves nothing: every kind of
  // operation must have committed, and most transactions.
  std::string never_committed;
  for (const char* name : {"point write", "batch write", "insert", "copy", "compress", "delete_series", "drop_metric",
                           "read", "aggregate", "latest", "stats", "writes in one transaction"})
    if (total.committed_by_op[name] == 0) never_committed += std::string(never_committed.empty() ? "" : ", ") + name;
  report.check(never_committed.empty() && total.committed > total.serialization * 2 && total.points_written > 0,
               "every kind of operation committed, most transactions did (" + std::to_string(total.committed) +
                   " committed, " + std::to_string(total.serialization) + " 40001" +
                   (never_committed.empty() ? "" : "; never committed: " + never_committed) + ")");
  report.check(total.deadlocks == 0, "no deadlocks (40P01: " + std::to_string(total.deadlocks) + ")");
  report.check(total.other == 0 && lost.empty(), "no errors other than 40001 (other errors " +
                                                    std::to_string(total.other) + ", lost connections " +
                                                    std::to_string(lost.size()) + ")");
  report.check(total.wrong_results == 0, "batch write results and read/aggregate counts in one statement agree (" +
                                             std::to_string(total.wrong_results) + " wrong)");
  if (total.committed == 0) report.not_ok("no transaction committed");

  try {
    Connection conn(dsn);
    // Commit timestamps of every committed writing transaction.
    std::map<int64_t, const Txn*> by_xid;
    for (const Txn* t : txns)
      if (t->committed) by_xid[t->xid] = t;
    std::vector<int64_t> xids;
    for (const auto& [x, t] : by_xid) xids.push_back(x);
    int64_t missing_ts = 0;
    for (size_t off = 0; off < xids.size(); off += 5000) {
      std::string list = "{";
      for (size_t i = off; i < std::min(xids.size(), off + 5000); ++i)
        list += (i > off ? "," : "") + std::to_string(xids[i]);
      list += "}";
      Params p;
      p.text(list, 0);
      Result r = conn.exec("SELECT x, pg_xact_commit_timestamp(x::text::xid) FROM unnest($1::int8[]) x", p);
      for (int i = 0; i < r.rows(); ++i) {
        Txn* t = const_cast<Txn*>(by_xid.at(r.int8(i, 0)));
        if (r.null(i, 1)) {
          ++missing_ts;
          continue;
        }
        t->commit_us = r.timestamptz_unix_us(i, 1);
      }
    }
    report.check(missing_ts == 0, "every committed transaction has a commit timestamp (" +
                                      std::to_string(xids.size()) + " writing transactions, " +
                                      std::to_string(missing_ts) + " without)");

    // Replay in commit order.
    std::vector<const Txn*> order;
    for (const auto& [x, t] : by_xid) order.push_back(t);
    std::sort(order.begin(), order.end(), [](const Txn* a, const Txn* b) {
      return a->commit_us != b->commit_us ? a->commit_us < b->commit_us : a->xid < b->xid;
    });
    Model model;
    model.state.resize(catalog.series.size());
    int64_t equal_ts_groups = 0;
    for (size_t i = 0; i < order.size();) {
      size_t j = i + 1;
      while (j < order.size() && order[j]->commit_us == order[i]->commit_us) ++j;
      if (j - i == 1) {
        ApplyOne(catalog, *order[i], model);
      } else {
        ++equal_ts_groups;
        ApplyGroup(catalog, std::vector<const Txn*>(order.begin() + static_cast<long>(i),
                                                    order.begin() + static_cast<long>(j)),
                   model);
      }
      i = j;
    }
    if (equal_ts_groups > 0)
      report.note(std::to_string(equal_ts_groups) + " groups of writing transactions share a commit timestamp; " +
                  std::to_string(model.tie_groups) + " of them touch a common series, leaving " +
                  std::to_string(model.ambiguous_keys) + " (series, ts) where either order is accepted");

    // Where each value came from.
    std::unordered_map<uint64_t, Origin> origin;
    int64_t collisions = 0;
    for (const Txn* t : txns)
      for (const Effect& e : t->effects)
        for (size_t i = 0; i < e.points.size(); ++i)
          if (!origin.emplace(e.points[i].second, Origin{t, &e, static_cast<int>(i)}).second) ++collisions;
    // The check's own premise: no two writes ever wrote the same value.
    report.check(collisions == 0, "every value written is unique (" + std::to_string(origin.size()) + " values, " +
                                      std::to_string(collisions) + " repeated)");
    auto who = [&](uint64_t bits) {
      auto it = origin.find(bits);
      if (it == origin.end()) return std::string("a value no client wrote");
      return "point " + std::to_string(it->second.index) + " of " + Describe(*it->second.txn);
    };
    // The committed history of one (series, ts), for a mismatch.
    auto history = [&](int s, int64_t ts) {
      std::string h;
      std::vector<std::string> lines;
      for (const Txn* t : order)
        for (const Effect& e : t->effects) {
          const std::vector<int> of = SeriesOf(catalog, e);
          if (std::find(of.begin(), of.end(), s) == of.end()) continue;
          if (e.kind != Effect::kWrite) {
            lines.push_back(std::string(e.kind == Effect::kDropMetric ? "drop_metric" : "delete_series") + " by " +
                            Describe(*t));
            continue;
          }
          for (const auto& [pts, bits] : e.points)
            if (pts == ts)
              lines.push_back("wrote " + FormatValue(bits) + " (" + std::to_string(e.points.size()) +
                              " points of this series in the statement): " + Describe(*t));
        }
      for (size_t i = lines.size() > 6 ? lines.size() - 6 : 0; i < lines.size(); ++i)
        h += "\n#       " + lines[i];
      for (const Txn* t : txns)
        if (!t->committed)
          for (const Effect& e : t->effects)
            if (e.series == s)
              for (const auto& [pts, bits] : e.points)
                if (pts == ts) h += "\n#       (rolled back) wrote " + FormatValue(bits) + ": " + Describe(*t);
      return h;
    };

    DbContent db = ReadEverything(conn, "{__name__=~\".+\"}");
    int64_t model_points = 0, db_points = 0, wrong = 0, missing = 0, extra = 0, extra_series = 0;
    int64_t older_wins = 0, small_over_block = 0;
    std::vector<std::string> problems;
    auto problem = [&](const std::string& p) {
      if (problems.size() < 15) problems.push_back(p);
    };
    for (const auto& [key, s] : db.series) {
      db_points += static_cast<int64_t>(s.points.size());
      if (!catalog.by_key.count(key)) {
        ++extra_series;
        problem("series " + key + " (" + std::to_string(s.points.size()) + " points) was never written");
      }
    }
    for (size_t si = 0; si < catalog.series.size(); ++si) {
      const SeriesDef& d = catalog.series[si];
      const std::string key = SeriesKey(d.metric, d.canonical);
      static const std::map<int64_t, uint64_t> kNone;
      auto it = db.series.find(key);
      const std::map<int64_t, uint64_t>& got = it == db.series.end() ? kNone : it->second.points;
      const SeriesState& want = model.state[si];
      for (const auto& [ts, cands] : want)
        if (!(cands.size() == 1 && !cands[0])) ++model_points;
      std::set<int64_t> keys;
      for (const auto& [ts, v] : got) keys.insert(ts);
      for (const auto& [ts, v] : want) keys.insert(ts);
      for (int64_t ts : keys) {
        auto g = got.find(ts);
        auto w = want.find(ts);
        std::optional<uint64_t> have;
        if (g != got.end()) have = g->second;
        Candidates accepted = w == want.end() ? Candidates{std::nullopt} : w->second;
        if (std::find(accepted.begin(), accepted.end(), have) != accepted.end()) continue;
        std::string expected;
        for (const auto& a : accepted) expected += (expected.empty() ? "" : " or ") + (a ? FormatValue(*a) : "absent");
        if (!have) {
          ++missing;
        } else if (w == want.end() || (accepted.size() == 1 && !accepted[0])) {
          ++extra;
        } else {
          ++wrong;
          // The pattern seen so far: an earlier commit's small write (recent
          // rows) beats a later commit's block-sized write of the same point.
          auto h = origin.find(*have);
          auto x = accepted[0] ? origin.find(*accepted[0]) : origin.end();
          if (h != origin.end() && x != origin.end() && h->second.txn->committed &&
              h->second.txn->commit_us < x->second.txn->commit_us) {
            ++older_wins;
            if (h->second.effect->points.size() < 100 && x->second.effect->points.size() >= 100) ++small_over_block;
          }
        }
        problem(key + " at " + FormatTimestamp(ts) + ": database has " +
                (have ? FormatValue(*have) + " from " + who(*have) : std::string("nothing")) + ", model expects " +
                expected + "; history (commit order):" + history(static_cast<int>(si), ts));
      }
    }
    for (const std::string& p : problems) std::cout << "#   " << p << std::endl;
    if (wrong > 0)
      report.note("of the " + std::to_string(wrong) + " wrong values, " + std::to_string(older_wins) +
                  " hold the value of an EARLIER committed write than the last one; in " +
                  std::to_string(small_over_block) + " of these the earlier write put fewer than 100 points of the "
                  "series in its statement (recent rows) and the later one 100 or more (straight into blocks)");
    report.check(wrong == 0 && missing == 0 && extra == 0 && extra_series == 0,
                 "final state equals the commit-order model: " + std::to_string(db_points) + " points in " +
                     std::to_string(db.series.size()) + " series (model " + std::to_string(model_points) +
                     "); wrong values " + std::to_string(wrong) + ", missing " + std::to_string(missing) +
                     ", unexpected " + std::to_string(extra) + ", unknown series " + std::to_string(extra_series));

    StructuralChecks(conn, db, report);
    ConsistencyChecks(conn, db, catalog.metrics, report);

    // Compression must change nothing that read returns.
    conn.exec("SET aegis.block_max_points = 100");
    Result packed = conn.exec("SELECT aegis.compress('0')");
    DbContent after = ReadEverything(conn, "{__name__=~\".+\"}");
    int64_t changed = 0;
    for (const auto& [key, s] : db.series) {
      auto it = after.series.find(key);
      if (it == after.series.end() || it->second.points != s.points) ++changed;
    }
    for (const auto& [key, s] : after.series)
      if (!db.series.count(key)) ++changed;
    const int64_t recent = std::stoll(conn.exec("SELECT count(*) FROM aegis.recent_points").text(0, 0));
    report.check(changed == 0 && recent == 0, "a final aegis.compress('0') packs every recent point (" +
                                                  packed.text(0, 0) + " packed, " + std::to_string(recent) +
                                                  " left) and changes nothing read returns (" +
                                                  std::to_string(changed) + " series differ)");
    StructuralChecks(conn, after, report);
    const int64_t series_rows = std::stoll(conn.exec("SELECT count(*) FROM aegis.series").text(0, 0));
    std::cout << "# summary: clients " << clients << ", seconds " << seconds << ", committed " << total.committed
              << ", 40001 " << total.serialization << ", other errors " << total.other << ", deadlocks "
              << total.deadlocks << ", points written " << total.points_written << ", final points " << db_points
              << ", series " << series_rows << std::endl;
  } catch (const SqlError& e) {
    report.not_ok("verification failed: SQLSTATE " + e.sqlstate + ": " + e.what());
  }
  return report.failures() == 0 ? 0 : 1;
}

}  // namespace stress
