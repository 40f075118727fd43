#include "pg_util.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>

namespace stress {
namespace {

void PutBe32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void PutBe64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

uint64_t GetBe64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

int64_t PgMicros(int64_t unix_us) { return unix_us - kPgEpochUnixSeconds * 1000000; }

// One-dimensional binary array (array_recv's format) of 8-byte elements.
std::string BinaryArray(Oid element, const std::vector<uint64_t>& items) {
  std::string out;
  PutBe32(out, 1);  // dimensions
  PutBe32(out, 0);  // no NULLs
  PutBe32(out, element);
  PutBe32(out, static_cast<uint32_t>(items.size()));
  PutBe32(out, 1);  // lower bound
  for (uint64_t v : items) {
    PutBe32(out, 8);
    PutBe64(out, v);
  }
  return out;
}

// Server notices and warnings, counted by their text with numbers masked.
struct Notices {
  std::mutex mu;
  std::map<std::string, std::pair<int64_t, std::string>> seen;  // masked -> (count, first example)
};

Notices& AllNotices() {
  static Notices n;
  return n;
}

void CollectNotice(void*, const char* message) {
  std::string text = message;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::string masked;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      if (masked.empty() || masked.back() != '#') masked += '#';
    } else {
      masked += c;
    }
  }
  Notices& n = AllNotices();
  std::lock_guard<std::mutex> lock(n.mu);
  auto& entry = n.seen[masked];
  if (entry.first++ == 0) entry.second = text;
}

}  // namespace

std::vector<std::string> NoticeSummary() {
  Notices& n = AllNotices();
  std::lock_guard<std::mutex> lock(n.mu);
  std::vector<std::string> out;
  for (const auto& [masked, entry] : n.seen)
    out.push_back(std::to_string(entry.first) + " x " + Shorten(entry.second, 200));
  return out;
}

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

double FromBits(uint64_t b) {
  double v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

int64_t Result::int8(int row, int col) const {
  if (PQgetlength(r_.get(), row, col) != 8) throw std::runtime_error("int8 column is not 8 bytes");
  return static_cast<int64_t>(GetBe64(PQgetvalue(r_.get(), row, col)));
}

uint64_t Result::float8_bits(int row, int col) const {
  if (PQgetlength(r_.get(), row, col) != 8) throw std::runtime_error("float8 column is not 8 bytes");
  return GetBe64(PQgetvalue(r_.get(), row, col));
}

double Result::float8(int row, int col) const { return FromBits(float8_bits(row, col)); }

int64_t Result::timestamptz_unix_us(int row, int col) const {
  return int8(row, col) + kPgEpochUnixSeconds * 1000000;
}

bool Result::boolean(int row, int col) const {
  if (PQgetlength(r_.get(), row, col) != 1) throw std::runtime_error("bool column is not 1 byte");
  return PQgetvalue(r_.get(), row, col)[0] != 0;
}

void Params::add(std::string bytes, Oid type, int format) {
  lengths_.push_back(static_cast<int>(bytes.size()));
  values_.push_back(std::move(bytes));
  types_.push_back(type);
  formats_.push_back(format);
}

void Params::text(const std::string& s, Oid type) { add(s, type, 0); }

void Params::int8(int64_t v) {
  std::string b;
  PutBe64(b, static_cast<uint64_t>(v));
  add(std::move(b), kInt8Oid, 1);
}

void Params::float8(double v) {
  std::string b;
  PutBe64(b, Bits(v));
  add(std::move(b), kFloat8Oid, 1);
}

void Params::timestamptz(int64_t unix_us) {
  std::string b;
  PutBe64(b, static_cast<uint64_t>(PgMicros(unix_us)));
  add(std::move(b), kTimestamptzOid, 1);
}

void Params::float8_array(const std::vector<double>& v) {
  std::vector<uint64_t> items;
  items.reserve(v.size());
  for (double d : v) items.push_back(Bits(d));
  add(BinaryArray(kFloat8Oid, items), kFloat8ArrayOid, 1);
}

void Params::timestamptz_array(const std::vector<int64_t>& unix_us) {
  std::vector<uint64_t> items;
  items.reserve(unix_us.size());
  for (int64_t t : unix_us) items.push_back(static_cast<uint64_t>(PgMicros(t)));
  add(BinaryArray(kTimestamptzOid, items), kTimestamptzArrayOid, 1);
}

std::vector<const char*> Params::pointers() const {
  std::vector<const char*> p;
  p.reserve(values_.size());
  for (const std::string& v : values_) p.push_back(v.data());
  return p;
}

Connection::Connection(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str())) {
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn_);
    PQfinish(conn_);
    conn_ = nullptr;
    throw SqlError("", "connection failed: " + message, true);
  }
  PQsetNoticeProcessor(conn_, CollectNotice, nullptr);
}

Connection::~Connection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

void Connection::fail(PGresult* r) {
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
  if (message.empty()) message = PQerrorMessage(conn_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  std::string sqlstate = state != nullptr ? state : "";
  if (r != nullptr) PQclear(r);
  const bool lost = bad() || sqlstate.empty() || IsConnectionLoss(sqlstate);
  throw SqlError(sqlstate, message, lost);
}

Result Connection::check(PGresult* r) {
  const ExecStatusType status = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Result(r);
  fail(r);
}

Result Connection::exec(const std::string& sql) { return check(PQexec(conn_, sql.c_str())); }

Result Connection::exec(const std::string& sql, const Params& params, bool binary_result) {
  const std::vector<const char*> values = params.pointers();
  return check(PQexecParams(conn_, sql.c_str(), params.size(), params.types(), values.data(), params.lengths(),
                            params.formats(), binary_result ? 1 : 0));
}

std::string Connection::copy_in(const std::string& sql, const std::string& data) {
  PGresult* r = PQexec(conn_, sql.c_str());
  if (r == nullptr || PQresultStatus(r) != PGRES_COPY_IN) fail(r);
  PQclear(r);
  size_t offset = 0;
  while (offset < data.size()) {
    const size_t n = std::min<size_t>(64 * 1024, data.size() - offset);
    if (PQputCopyData(conn_, data.data() + offset, static_cast<int>(n)) != 1) fail(nullptr);
    offset += n;
  }
  if (PQputCopyEnd(conn_, nullptr) != 1) fail(nullptr);
  std::string tag;
  bool failed = false;
  PGresult* bad_result = nullptr;
  while ((r = PQgetResult(conn_)) != nullptr) {
    if (PQresultStatus(r) == PGRES_COMMAND_OK) {
      tag = PQcmdStatus(r);
      PQclear(r);
    } else if (!failed) {
      failed = true;
      bad_result = r;
    } else {
      PQclear(r);
    }
  }
  if (failed) fail(bad_result);
  return tag;
}

void Connection::exec_quietly(const std::string& sql) {
  PGresult* r = PQexec(conn_, sql.c_str());
  if (r != nullptr) PQclear(r);
}

bool IsConnectionLoss(const std::string& sqlstate) {
  return sqlstate.empty() || sqlstate.compare(0, 2, "08") == 0 || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03";
}

std::string FormatTimestamp(int64_t unix_us) {
  int64_t seconds = unix_us / 1000000;
  int64_t micros = unix_us % 1000000;
  if (micros < 0) {
    micros += 1000000;
    seconds -= 1;
  }
  const time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%06" PRId64 "+00", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
  return buf;
}

std::string CanonicalTags(Tags tags) {
  std::sort(tags.begin(), tags.end(), [](const auto& a, const auto& b) {
    if (a.first.size() != b.first.size()) return a.first.size() < b.first.size();
    return a.first < b.first;
  });
  std::string out = "{";
  for (size_t i = 0; i < tags.size(); ++i) {
    if (i > 0) out += ", ";
    out += "\"" + tags[i].first + "\": \"" + tags[i].second + "\"";
  }
  return out + "}";
}

std::string ScrambledTags(Tags tags, std::mt19937_64& rng) {
  std::shuffle(tags.begin(), tags.end(), rng);
  static const char* const kSpace[] = {"", " ", "  ", "\n", "\t "};
  auto space = [&] { return std::string(kSpace[rng() % 5]); };
  std::string out = space() + "{" + space();
  for (size_t i = 0; i < tags.size(); ++i) {
    if (i > 0) out += "," + space();
    out += "\"" + tags[i].first + "\"" + space() + ":" + space() + "\"" + tags[i].second + "\"" + space();
  }
  return out + "}" + space();
}

std::string Shorten(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  return s.substr(0, n) + "... (" + std::to_string(s.size()) + " bytes)";
}

Args::Args(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
      if (i + 1 >= argc) throw std::runtime_error("option " + a + " needs a value");
      named.emplace_back(a.substr(2), argv[++i]);
    } else {
      positional.push_back(a);
    }
  }
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
  std::string v = fallback;
  for (const auto& [k, value] : named)
    if (k == name) v = value;
  return v;
}

long long Args::number(const std::string& name, long long fallback) const {
  const std::string v = get(name);
  if (v.empty()) return fallback;
  char* end = nullptr;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  if (end == v.c_str() || *end != '\0') throw std::runtime_error("--" + name + " needs a number, not '" + v + "'");
  return n;
}

std::vector<std::string> Args::all(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& [k, value] : named)
    if (k == name) out.push_back(value);
  return out;
}

}  // namespace stress
