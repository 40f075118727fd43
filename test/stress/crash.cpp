// aegis_stress crash-writer / crash-verify: writers that log what they are
// about to commit ("intent") and what the server acknowledged ("ack"), while
// the test script kills the server; then a verifier that checks every
// acknowledged transaction survived whole, every unacknowledged one is either
// whole or absent, and nothing else is there.
//
// Log lines (one file per writer):
//   H <run> <writer>
//   I <txn> <kind> <runs> {<series> <start_us> <step_us> <count> <seed> <text>}... <checksum>
//   A <txn>
// "I" is written (not synced: only the server is killed, never this
// process) before the transaction's BEGIN; "A" after COMMIT returned OK, then
// fsync'ed. Each writer owns its series and never writes a timestamp twice,
// so every point in the database belongs to exactly one intent.
// A run is `count` points of one series at start + i * step; point i's value
// is PointValue(seed, i, text). The checksum (FNV-1a over every (ts, value
// bits)) lets the verifier confirm it regenerates exactly what was sent.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "checks.h"
#include "pg_util.h"
#include "stress.h"

namespace stress {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kCrashBaseUs = INT64_C(1735689600) * 1000000;  // 2025-01-01 00:00:00 UTC
constexpr int64_t kSlotUs = INT64_C(600) * 1000000;              // one slot: 600 s
constexpr int64_t kStepUs = INT64_C(2) * 1000000;                // points 2 s apart; two phases per slot
constexpr int kSeriesPerWriter = 3;
constexpr const char* kCrashMetric = "crash";

uint64_t SplitMix(uint64_t x) {
  x += UINT64_C(0x9e3779b97f4a7c15);
  x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
  return x ^ (x >> 31);
}

// Point i of a run. Binary writes get every kind of bit pattern (NaN
// payloads, -0.0, infinities, subnormals); text (COPY) gets finite normal
// values and -0.0, which text carries exactly.
double PointValue(uint64_t seed, int64_t i, bool text) {
  const uint64_t r = SplitMix(seed ^ SplitMix(static_cast<uint64_t>(i)));
  const uint64_t kind = r % 100;
  const uint64_t r2 = SplitMix(r);
  if (kind < 65) {  // a 2-decimal walk: what the decimal codec is made for
    const int64_t walk = static_cast<int64_t>(SplitMix(seed) % 100000) + i * static_cast<int64_t>(r2 % 7) -
                         static_cast<int64_t>(r2 % 5) * i / 2;
    return static_cast<double>(walk) / 100.0;
  }
  if (kind < 75) return 42.0;  // runs of one value
  if (kind < 90) {             // any bit pattern
    const double v = FromBits(r2);
    if (!text) return v;
    if (std::isnan(v) || std::isinf(v) || (v != 0 && std::fabs(v) < 2.2250738585072014e-308))
      return static_cast<double>(r2 % 1000) / 8.0;
    return v;
  }
  static const uint64_t kSpecial[] = {
      UINT64_C(0x8000000000000000),  // -0.0
      UINT64_C(0x7ff0000000000000),  // +inf
      UINT64_C(0xfff0000000000000),  // -inf
      UINT64_C(0x7ff8000000000000),  // NaN
      UINT64_C(0x7ff0000000000001),  // signalling NaN payload
      UINT64_C(0xfff8000000000123),  // negative NaN with payload
      UINT64_C(0x0000000000000001),  // smallest subnormal
      UINT64_C(0x7fefffffffffffff),  // largest double
  };
  const double v = FromBits(kSpecial[r2 % 8]);
  if (text && r2 % 8 != 0) return 0.5;
  return v;
}

uint64_t Fnv(uint64_t h, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (8 * i)) & 0xff;
    h *= UINT64_C(0x100000001b3);
  }
  return h;
}

struct Run {
  int series = 0;
  int64_t start_us = 0;
  int64_t step_us = kStepUs;
  int64_t count = 0;
  uint64_t seed = 0;
  bool text = false;
};

uint64_t Checksum(const std::vector<Run>& runs) {
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (const Run& r : runs)
    for (int64_t i = 0; i < r.count; ++i) {
      h = Fnv(h, static_cast<uint64_t>(r.start_us + i * r.step_us));
      h = Fnv(h, Bits(PointValue(r.seed, i, r.text)));
    }
  return h;
}

Tags CrashTags(int run, int writer, int series) {
  return {{"run", std::to_string(run)}, {"w", std::to_string(writer)}, {"s", std::to_string(series)}};
}

// Hands out fresh time ranges of one series: slots of 600 s, each filled by
// up to two runs (even seconds, odd seconds). Some slots and phases are left
// behind and filled later, so late data lands between and inside blocks.
class SlotAllocator {
 public:
  std::pair<int64_t, int64_t> next(std::mt19937_64& rng) {  // (slot, phase)
    if (!holes_.empty() && rng() % 3 == 0) {
      const size_t i = rng() % holes_.size();
      const auto h = holes_[i];
      holes_.erase(holes_.begin() + static_cast<long>(i));
      return h;
    }
    if (rng() % 6 == 0) {  // skip a whole slot for now
      holes_.emplace_back(next_slot_, 0);
      holes_.emplace_back(next_slot_, 1);
      ++next_slot_;
    }
    const int64_t phase = static_cast<int64_t>(rng() % 2);
    holes_.emplace_back(next_slot_, 1 - phase);
    return {next_slot_++, phase};
  }

 private:
  int64_t next_slot_ = 0;
  std::vector<std::pair<int64_t, int64_t>> holes_;
};

struct WriterStats {
  int64_t committed = 0, points = 0, errors = 0;
  bool lost = false;
  std::string end;
};

class LogFile {
 public:
  explicit LogFile(const std::string& path) : fd_(open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644)) {
    if (fd_ < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  }
  ~LogFile() {
    if (fd_ >= 0) close(fd_);
  }
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;
  void append(const std::string& line, bool sync) {
    size_t done = 0;
    while (done < line.size()) {
      const ssize_t n = write(fd_, line.data() + done, line.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error(std::string("log write failed: ") + std::strerror(errno));
      }
      done += static_cast<size_t>(n);
    }
    if (sync && fsync(fd_) != 0) throw std::runtime_error(std::string("log fsync failed: ") + std::strerror(errno));
  }

 private:
  int fd_;
};

}  // namespace

// Whether an error ends a client as the loss of its server does: its own
// connection went, or (remote_loss: a Citus coordinator, whose worker was
// killed) the server reports the loss of another node: SQLSTATE class 08,
// Citus's internal errors about it (XX000: "failure on connection marked as
// essential", "connection to the remote node ...", any error "while
// executing command on <node>", such as "server closed the connection
// unexpectedly" or "SSL SYSCALL error: EOF detected", and the worker
// backend's own last words relayed, "terminating connection due to
// unexpected postmaster exit", when it saw its postmaster die before it was
// killed itself, and Citus's "postmaster was shut down, exiting", raised by
// a backend of the killed node that was waiting for a connection when its
// postmaster died), and its I/O error copying rows into a shard there (58030:
// "failed to COPY to shard").
bool ServerLost(const SqlError& e, bool remote_loss) {
  if (e.connection_lost) return true;
  if (!remote_loss) return false;
  if (e.sqlstate.rfind("08", 0) == 0) return true;
  const std::string what = e.what();
  const auto says = [&](const char* text) { return what.find(text) != std::string::npos; };
  if (e.sqlstate == "58030") return says("failed to COPY to shard");
  return e.sqlstate == "XX000" &&
         (says("failure on connection marked as essential") || says("connection to the remote node") ||
          says("while executing command on") || says("terminating connection due to unexpected postmaster exit") ||
          says("postmaster was shut down, exiting"));
}

namespace {

void Writer(const std::string& dsn, const std::string& log_path, int run, int writer, uint64_t seed,
            Clock::time_point deadline, bool remote_loss, WriterStats& stats) {
  std::mt19937_64 rng(seed);
  LogFile log(log_path);
  log.append("H " + std::to_string(run) + " " + std::to_string(writer) + "\n", true);
  std::vector<SlotAllocator> slots(kSeriesPerWriter);
  std::vector<std::string> tags;
  for (int s = 0; s < kSeriesPerWriter; ++s) tags.push_back(CanonicalTags(CrashTags(run, writer, s)));
  std::unique_ptr<Connection> conn;
  std::string statement;
  try {
    conn = std::make_unique<Connection>(dsn);
    conn->exec("SET aegis.block_max_points = 100");
    for (int64_t txn = 1; Clock::now() < deadline; ++txn) {
      // What this transaction writes.
      const uint64_t k = rng() % 100;
      const char* kind = k < 50 ? "batch" : k < 65 ? "single" : "copy";
      std::vector<Run> runs;
      std::set<int> used;
      const int nruns = kind[0] == 'c' ? 1 + static_cast<int>(rng() % kSeriesPerWriter) : 1;
      while (static_cast<int>(runs.size()) < nruns) {
        const int s = static_cast<int>(rng() % kSeriesPerWriter);
        if (!used.insert(s).second) continue;
        Run r;
        r.series = s;
        const auto [slot, phase] = slots[static_cast<size_t>(s)].next(rng);
        r.start_us = kCrashBaseUs + slot * kSlotUs + phase * 1000000;
        r.count = kind[0] == 's'  ? 1
                  : rng() % 2     ? 100 + static_cast<int64_t>(rng() % 201)   // straight into blocks
                                  : 1 + static_cast<int64_t>(rng() % 99);
        r.seed = rng();
        r.text = kind[0] == 'c';
        runs.push_back(r);
      }
      // The intent goes to the log before the transaction writes anything, so
      // a transaction cut off anywhere before its acknowledgement is known.
      std::ostringstream intent;
      intent << "I " << txn << " " << kind << " " << runs.size();
      int64_t points = 0;
      for (const Run& r : runs) {
        intent << " " << r.series << " " << r.start_us << " " << r.step_us << " " << r.count << " " << r.seed << " "
               << (r.text ? 1 : 0);
        points += r.count;
      }
      intent << " " << Checksum(runs) << "\n";
      log.append(intent.str(), false);
      statement = "BEGIN";
      conn->exec("BEGIN");
      if (kind[0] == 'c') {
        std::string data;
        for (const Run& r : runs)
          for (int64_t i = 0; i < r.count; ++i) {
            char v[64];
            std::snprintf(v, sizeof v, "%.17g", PointValue(r.seed, i, true));
            data += std::string(kCrashMetric) + "\t" + tags[static_cast<size_t>(r.series)] + "\t" +
                    FormatTimestamp(r.start_us + i * r.step_us) + "\t" + v + "\n";
          }
        statement = "COPY aegis.points (metric, tags, ts, value) FROM STDIN";
        conn->copy_in(statement, data);
      } else {
        const Run& r = runs[0];
        Params p;
        p.text(kCrashMetric);
        p.text(tags[static_cast<size_t>(r.series)], kJsonbOid);
        if (kind[0] == 's') {
          p.timestamptz(r.start_us);
          p.float8(PointValue(r.seed, 0, false));
        } else {
          std::vector<int64_t> ts;
          std::vector<double> values;
          for (int64_t i = 0; i < r.count; ++i) {
            ts.push_back(r.start_us + i * r.step_us);
            values.push_back(PointValue(r.seed, i, false));
          }
          p.timestamptz_array(ts);
          p.float8_array(values);
        }
        statement = std::string("SELECT aegis.write(...) (") + kind + ", " + std::to_string(r.count) + " points)";
        conn->exec("SELECT aegis.write($1, $2, $3, $4)", p);
      }
      statement = "COMMIT";
      Result c = conn->exec("COMMIT");
      if (std::string(PQcmdStatus(c.get())) != "COMMIT")
        throw SqlError("", "COMMIT answered " + std::string(PQcmdStatus(c.get())), false);
      log.append("A " + std::to_string(txn) + "\n", true);
      ++stats.committed;
      stats.points += points;
    }
    stats.end = "time is up";
  } catch (const SqlError& e) {
    if (ServerLost(e, remote_loss)) {
      stats.lost = true;
      std::string what = e.what();
      what = what.substr(0, what.find('\n'));
      stats.end = "connection lost in " + statement + " (" + what + ")";
    } else {
      ++stats.errors;
      stats.end = "SQLSTATE " + e.sqlstate + ": " + e.what() + " in " + statement;
    }
  }
}

void Compressor(const std::string& dsn, Clock::time_point deadline, bool remote_loss, WriterStats& stats) {
  try {
    Connection conn(dsn);
    conn.exec("SET aegis.block_max_points = 100");
    while (Clock::now() < deadline) {
      Result r = conn.exec("SELECT aegis.compress('0')");
      ++stats.committed;
      stats.points += std::stoll(r.text(0, 0));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stats.end = "time is up";
  } catch (const SqlError& e) {
    if (ServerLost(e, remote_loss)) {
      stats.lost = true;
      stats.end = "connection lost";
    } else {
      ++stats.errors;
      stats.end = "SQLSTATE " + e.sqlstate + ": " + e.what() + " in aegis.compress('0')";
    }
  }
}

// --- verification ------------------------------------------------------------

struct Intent {
  std::string log;
  int64_t txn = 0;
  std::string kind;
  std::vector<Run> runs;
  int64_t points = 0;
  bool acked = false;
  int64_t present = 0, wrong = 0;
};

struct Claim {
  size_t intent;
  uint64_t bits;
};

std::string Basename(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

int RunCrashWriter(const Args& args) {
  const std::string dsn = args.get("dsn");
  const std::string dir = args.get("log-dir");
  const int run = static_cast<int>(args.number("run", 1));
  const int writers = static_cast<int>(args.number("writers", 3));
  const int seconds = static_cast<int>(args.number("seconds", 60));
  const uint64_t seed = static_cast<uint64_t>(args.number("seed", 1));
  const bool remote_loss = args.number("remote-loss", 0) != 0;
  if (dsn.empty() || dir.empty() || writers < 1) {
    std::cerr << "usage: aegis_stress crash-writer --dsn CONNINFO --log-dir DIR --run R --writers N --seconds S "
                 "--seed X [--remote-loss 1]\n";
    return 2;
  }
  const auto deadline = Clock::now() + std::chrono::seconds(seconds);
  std::vector<WriterStats> stats(static_cast<size_t>(writers) + 1);
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    const std::string path = dir + "/run-" + std::to_string(run) + "-writer-" + std::to_string(w) + ".log";
    threads.emplace_back([&, w, path] {
      try {
        Writer(dsn, path, run, w, SplitMix(seed * 131 + static_cast<uint64_t>(w)), deadline, remote_loss,
               stats[static_cast<size_t>(w)]);
      } catch (const std::exception& e) {
        ++stats[static_cast<size_t>(w)].errors;
        stats[static_cast<size_t>(w)].end = e.what();
      }
    });
  }
  threads.emplace_back([&] { Compressor(dsn, deadline, remote_loss, stats.back()); });
  for (auto& t : threads) t.join();
  int errors = 0;
  for (const std::string& n : NoticeSummary()) std::cout << "# server said: " << n << std::endl;
  for (int w = 0; w <= writers; ++w) {
    const WriterStats& s = stats[static_cast<size_t>(w)];
    std::cout << "# run " << run << (w < writers ? " writer " + std::to_string(w) : std::string(" compressor"))
              << ": " << s.committed << (w < writers ? " transactions acknowledged, " : " compress calls, ")
              << s.points << (w < writers ? " points" : " points packed") << "; ended: " << s.end << std::endl;
    errors += static_cast<int>(s.errors);
  }
  return errors == 0 ? 0 : 1;
}

int RunCrashVerify(const Args& args) {
  const std::string dsn = args.get("dsn");
  const std::string state_path = args.get("state");
  std::vector<std::string> logs = args.all("log");
  logs.insert(logs.end(), args.positional.begin(), args.positional.end());
  if (dsn.empty() || logs.empty()) {
    std::cerr << "usage: aegis_stress crash-verify --dsn CONNINFO [--state FILE] LOG...\n";
    return 2;
  }
  Report report;
  std::vector<Intent> intents;
  std::map<std::string, std::map<int64_t, Claim>> claims;  // series key -> ts -> claim
  int64_t log_problems = 0;
  for (const std::string& path : logs) {
    std::ifstream in(path);
    if (!in) {
      report.not_ok("cannot read log " + path);
      continue;
    }
    int run = -1, writer = -1;
    std::map<int64_t, size_t> by_txn;
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream l(line);
      std::string tag;
      l >> tag;
      if (tag == "H") {
        l >> run >> writer;
      } else if (tag == "I") {
        Intent in_;
        in_.log = Basename(path);
        size_t nruns = 0;
        l >> in_.txn >> in_.kind >> nruns;
        for (size_t i = 0; i < nruns; ++i) {
          Run r;
          int text = 0;
          l >> r.series >> r.start_us >> r.step_us >> r.count >> r.seed >> text;
          r.text = text != 0;
          in_.runs.push_back(r);
          in_.points += r.count;
        }
        uint64_t checksum = 0;
        l >> checksum;
        if (!l || run < 0) {
          // A torn last line cannot happen (the writer outlives the server),
          // so any unreadable line is a problem.
          ++log_problems;
          std::cout << "# unreadable log line in " << path << ": " << line << std::endl;
          continue;
        }
        if (Checksum(in_.runs) != checksum) {
          ++log_problems;
          std::cout << "# " << path << " txn " << in_.txn << ": checksum differs from the regenerated values"
                    << std::endl;
        }
        const size_t index = intents.size();
        for (const Run& r : in_.runs) {
          auto& series = claims[SeriesKey(kCrashMetric, CanonicalTags(CrashTags(run, writer, r.series)))];
          for (int64_t i = 0; i < r.count; ++i)
            if (!series.emplace(r.start_us + i * r.step_us, Claim{index, Bits(PointValue(r.seed, i, r.text))})
                     .second) {
              ++log_problems;
              std::cout << "# " << path << " txn " << in_.txn << ": a timestamp claimed twice" << std::endl;
            }
        }
        by_txn[in_.txn] = index;
        intents.push_back(std::move(in_));
      } else if (tag == "A") {
        int64_t txn = 0;
        l >> txn;
        auto it = by_txn.find(txn);
        if (it == by_txn.end()) {
          ++log_problems;
          std::cout << "# " << path << ": ack of txn " << txn << " without intent" << std::endl;
        } else {
          intents[it->second].acked = true;
        }
      }
    }
  }
  report.check(log_problems == 0, "writer logs are consistent (" + std::to_string(logs.size()) + " logs, " +
                                      std::to_string(intents.size()) + " intents, " +
                                      std::to_string(log_problems) + " problems)");
  try {
    Connection conn(dsn);
    DbContent db = ReadEverything(conn, "{__name__=~\".+\"}");
    int64_t unexpected = 0, db_points = 0;
    std::vector<std::string> examples;
    for (const auto& [key, s] : db.series) {
      auto c = claims.find(key);
      for (const auto& [ts, bits] : s.points) {
        ++db_points;
        const Claim* claim = nullptr;
        if (c != claims.end()) {
          auto it = c->second.find(ts);
          if (it != c->second.end()) claim = &it->second;
        }
        if (claim == nullptr) {
          if (++unexpected <= 5) examples.push_back(key + " " + FormatTimestamp(ts) + " " + FormatValue(bits));
          continue;
        }
        Intent& in_ = intents[claim->intent];
        if (claim->bits == bits) {
          ++in_.present;
        } else {
          ++in_.wrong;
          if (in_.wrong == 1)
            std::cout << "# " << in_.log << " txn " << in_.txn << ": " << key << " at " << FormatTimestamp(ts)
                      << " holds " << FormatValue(bits) << ", written " << FormatValue(claim->bits) << std::endl;
        }
      }
    }
    // Earlier verifications' verdicts on unacknowledged transactions.
    std::map<std::string, std::string> previous;
    if (!state_path.empty()) {
      std::ifstream st(state_path);
      std::string log, verdict;
      int64_t txn;
      while (st >> log >> txn >> verdict) previous[log + " " + std::to_string(txn)] = verdict;
    }
    int64_t acked = 0, acked_points = 0, acked_bad = 0, complete = 0, absent = 0, partial = 0, changed = 0;
    std::ostringstream state;
    for (const Intent& in_ : intents) {
      const bool whole = in_.present == in_.points && in_.wrong == 0;
      const bool none = in_.present == 0 && in_.wrong == 0;
      if (in_.acked) {
        ++acked;
        acked_points += in_.points;
        if (!whole) {
          if (++acked_bad <= 10)
            std::cout << "# LOST: acknowledged " << in_.log << " txn " << in_.txn << " (" << in_.kind << ", "
                      << in_.points << " points): " << in_.present << " present, " << in_.wrong << " wrong, "
                      << in_.points - in_.present - in_.wrong << " missing" << std::endl;
        }
        continue;
      }
      const std::string verdict = whole ? "complete" : none ? "absent" : "partial";
      if (whole) ++complete;
      else if (none) ++absent;
      else {
        ++partial;
        std::cout << "# HALF: unacknowledged " << in_.log << " txn " << in_.txn << " (" << in_.kind << ", "
                  << in_.points << " points): " << in_.present << " present, " << in_.wrong << " wrong" << std::endl;
      }
      const std::string id = in_.log + " " + std::to_string(in_.txn);
      auto p = previous.find(id);
      if (p != previous.end() && p->second != verdict) {
        ++changed;
        std::cout << "# CHANGED: " << id << " was " << p->second << ", now " << verdict << std::endl;
      }
      state << id << " " << verdict << "\n";
    }
    report.check(acked_bad == 0, std::to_string(acked) + " acknowledged transactions verified: all " +
                                     std::to_string(acked_points) + " of their points present once with their values" +
                                     (acked_bad ? " -- " + std::to_string(acked_bad) + " of them NOT" : ""));
    report.check(partial == 0, std::to_string(complete + absent + partial) + " unacknowledged transactions: " +
                                   std::to_string(complete) + " complete, " + std::to_string(absent) + " absent, " +
                                   std::to_string(partial) + " partial");
    std::string ex;
    for (const std::string& e : examples) ex += " [" + e + "]";
    report.check(unexpected == 0, "no point that no transaction wrote (" + std::to_string(db_points) +
                                      " points in the database, " + std::to_string(unexpected) + " unexpected)" + ex);
    if (!state_path.empty()) {
      report.check(changed == 0, "unacknowledged transactions keep their verdict across restarts (" +
                                     std::to_string(previous.size()) + " known before, " + std::to_string(changed) +
                                     " changed)");
      std::ofstream out(state_path, std::ios::trunc);
      out << state.str();
    }
    StructuralChecks(conn, db, report);
    ConsistencyChecks(conn, db, {kCrashMetric}, report);
  } catch (const SqlError& e) {
    report.not_ok("verification failed: SQLSTATE " + e.sqlstate + ": " + e.what());
  }
  return report.failures() == 0 ? 0 : 1;
}

// aegis_stress lost-server --sqlstate S --message M [--remote-loss 1]:
// prints whether ServerLost counts that error as the loss of the server
// (exit 0) or not (exit 1), so that a test can check the rules on the
// messages seen in crash cycles.
int RunLostServer(const Args& args) {
  const SqlError e(args.get("sqlstate"), args.get("message"), false);
  const bool lost = ServerLost(e, args.number("remote-loss", 0) != 0);
  std::cout << (lost ? "lost" : "not lost") << std::endl;
  return lost ? 0 : 1;
}

}  // namespace stress
