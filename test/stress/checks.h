// Checks both stress tiers run on the final state of a database, and the
// "ok - / not ok -" report they print.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pg_util.h"

namespace stress {

class Report {
 public:
  void ok(const std::string& line);
  void not_ok(const std::string& line);
  void check(bool good, const std::string& line) { good ? ok(line) : not_ok(line); }
  void note(const std::string& line);  // "# ..." lines
  int failures() const { return failures_; }

 private:
  int failures_ = 0;
};

// One series as aegis.read returned it.
struct DbSeries {
  int64_t series_id = 0;
  std::string metric;
  std::string tags;                 // jsonb's text form
  std::map<int64_t, uint64_t> points;  // ts (Unix microseconds) -> value bits
};

// Every point aegis.read(selector) returns, by "metric tags"; duplicate rows
// (one series and ts twice) and rows out of order are counted.
struct DbContent {
  std::map<std::string, DbSeries> series;  // key: SeriesKey(metric, tags)
  int64_t rows = 0;
  int64_t duplicate_rows = 0;
  int64_t unordered_rows = 0;
  std::vector<std::string> duplicate_examples;
};

std::string SeriesKey(const std::string& metric, const std::string& canonical_tags);

DbContent ReadEverything(Connection& conn, const std::string& selector);

// One series per (metric, tags); no recent row or block without its series;
// blocks of a series never overlap; aegis.read over every series decodes every
// block; duplicate or unordered rows in `content`. Adds ok/not ok lines.
void StructuralChecks(Connection& conn, const DbContent& content, Report& report);

// aegis.latest, aegis.aggregate(count) and aegis.stats agree with `content`
// (what aegis.read returned) for the given metrics.
void ConsistencyChecks(Connection& conn, const DbContent& content, const std::vector<std::string>& metrics,
                       Report& report);

std::string FormatValue(uint64_t bits);

}  // namespace stress
