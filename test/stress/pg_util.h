// Small libpq helpers shared by the stress tiers: connections, parameters in
// binary form (timestamps and float8 values travel bit for bit), results read
// in binary, error classification, and the timestamp/tag formatting both
// tiers use.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace stress {

// Type OIDs used for parameters (fixed in every PostgreSQL).
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kFloat8ArrayOid = 1022;
constexpr Oid kTimestamptzOid = 1184;
constexpr Oid kTimestamptzArrayOid = 1185;
constexpr Oid kJsonbOid = 3802;

// 2000-01-01 00:00:00 UTC (PostgreSQL's epoch) in Unix seconds.
constexpr int64_t kPgEpochUnixSeconds = 946684800;

// An error a statement raised (or a lost connection).
struct SqlError : std::runtime_error {
  SqlError(std::string state, const std::string& message, bool lost)
      : std::runtime_error(message), sqlstate(std::move(state)), connection_lost(lost) {}
  std::string sqlstate;  // empty for client-side errors
  bool connection_lost;
};

// Owns a PGresult.
class Result {
 public:
  explicit Result(PGresult* r = nullptr) : r_(r, PQclear) {}
  PGresult* get() const { return r_.get(); }
  int rows() const { return PQntuples(r_.get()); }
  bool null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col), static_cast<size_t>(PQgetlength(r_.get(), row, col)));
  }
  // Binary-format columns.
  int64_t int8(int row, int col) const;
  double float8(int row, int col) const;
  uint64_t float8_bits(int row, int col) const;
  int64_t timestamptz_unix_us(int row, int col) const;
  bool boolean(int row, int col) const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

// Statement parameters; numbers, timestamps and arrays in binary.
class Params {
 public:
  void text(const std::string& s, Oid type = kTextOid);
  void int8(int64_t v);
  void float8(double v);
  void timestamptz(int64_t unix_us);
  void float8_array(const std::vector<double>& v);
  void timestamptz_array(const std::vector<int64_t>& unix_us);
  int size() const { return static_cast<int>(values_.size()); }
  const Oid* types() const { return types_.data(); }
  const int* formats() const { return formats_.data(); }
  const int* lengths() const { return lengths_.data(); }
  std::vector<const char*> pointers() const;

 private:
  void add(std::string bytes, Oid type, int format);
  std::vector<std::string> values_;
  std::vector<Oid> types_;
  std::vector<int> formats_;
  std::vector<int> lengths_;
};

// One connection. Every failing call throws SqlError.
class Connection {
 public:
  explicit Connection(const std::string& dsn);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A command or query; the result must be COMMAND_OK or TUPLES_OK.
  Result exec(const std::string& sql);
  Result exec(const std::string& sql, const Params& params, bool binary_result = true);
  // COPY ... FROM STDIN with the given text-format data; returns the command tag.
  std::string copy_in(const std::string& sql, const std::string& data);
  // Runs a statement and ignores any error (ROLLBACK after a failure).
  void exec_quietly(const std::string& sql);
  bool bad() const { return PQstatus(conn_) == CONNECTION_BAD; }
  PGconn* raw() const { return conn_; }

 private:
  Result check(PGresult* r);
  [[noreturn]] void fail(PGresult* r);
  PGconn* conn_;
};

// True for the SQLSTATEs and client errors that mean the server went away.
bool IsConnectionLoss(const std::string& sqlstate);

// "2024-01-01 00:00:05.250000+00" for COPY text input.
std::string FormatTimestamp(int64_t unix_us);

using Tags = std::vector<std::pair<std::string, std::string>>;

// The text jsonb prints for these tags (keys ordered by length, then bytes;
// the values used here never need escaping).
std::string CanonicalTags(Tags tags);
// The same object with keys in random order and random whitespace.
std::string ScrambledTags(Tags tags, std::mt19937_64& rng);

// The notices and warnings the server sent on every connection so far:
// "COUNT x first message", one line per message with its numbers masked.
std::vector<std::string> NoticeSummary();

// A value's bit pattern.
uint64_t Bits(double v);
double FromBits(uint64_t b);

// Cuts a long statement for a message.
std::string Shorten(const std::string& s, size_t n = 400);

// Command line: --name value pairs plus positional arguments.
struct Args {
  Args(int argc, char** argv, int first);
  std::string get(const std::string& name, const std::string& fallback = "") const;
  long long number(const std::string& name, long long fallback) const;
  std::vector<std::string> all(const std::string& name) const;
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> named;
};

}  // namespace stress
