#include "checks.h"

#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <set>

namespace stress {

void Report::ok(const std::string& line) { std::cout << "ok - " << line << std::endl; }

void Report::not_ok(const std::string& line) {
  ++failures_;
  std::cout << "not ok - " << line << std::endl;
}

void Report::note(const std::string& line) { std::cout << "# " << line << std::endl; }

std::string SeriesKey(const std::string& metric, const std::string& canonical_tags) {
  return metric + " " + canonical_tags;
}

std::string FormatValue(uint64_t bits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g (0x%016" PRIx64 ")", FromBits(bits), bits);
  return buf;
}

DbContent ReadEverything(Connection& conn, const std::string& selector) {
  DbContent out;
  Params p;
  p.text(selector);
  Result r = conn.exec("SELECT series_id, metric, tags::text, ts, value FROM aegis.read($1)", p);
  DbSeries* current = nullptr;
  int64_t current_id = -1;
  int64_t last_ts = 0;
  for (int i = 0; i < r.rows(); ++i) {
    const int64_t id = r.int8(i, 0);
    const int64_t ts = r.timestamptz_unix_us(i, 3);
    const uint64_t value = r.float8_bits(i, 4);
    ++out.rows;
    if (id != current_id) {
      const std::string key = SeriesKey(r.text(i, 1), r.text(i, 2));
      current = &out.series[key];
      if (current->series_id != 0 && current->series_id != id) {
        // Two series ids for one (metric, tags): StructuralChecks reports it.
        out.duplicate_examples.push_back("two series ids for " + key);
      }
      current->series_id = id;
      current->metric = r.text(i, 1);
      current->tags = r.text(i, 2);
      current_id = id;
    } else if (ts <= last_ts) {
      if (ts == last_ts) {
        ++out.duplicate_rows;
        if (out.duplicate_examples.size() < 10)
          out.duplicate_examples.push_back("series " + std::to_string(id) + " ts " + FormatTimestamp(ts) +
                                           " returned twice");
      } else {
        ++out.unordered_rows;
      }
    }
    last_ts = ts;
    current->points[ts] = value;
  }
  return out;
}

namespace {

int64_t Count(Connection& conn, const std::string& sql) {
  Result r = conn.exec(sql);
  return std::stoll(r.text(0, 0));
}

}  // namespace

void StructuralChecks(Connection& conn, const DbContent& content, Report& report) {
  {
    Result r = conn.exec(
        "SELECT metric || ' ' || tags::text || ' x' || count(*) FROM aegis.series GROUP BY metric, tags "
        "HAVING count(*) > 1");
    std::string examples;
    for (int i = 0; i < r.rows() && i < 5; ++i) examples += " [" + r.text(i, 0) + "]";
    const int64_t series = Count(conn, "SELECT count(*) FROM aegis.series");
    report.check(r.rows() == 0, "one row in aegis.series per (metric, tags) (" + std::to_string(series) +
                                    " series" + (r.rows() ? ", duplicated:" + examples : "") + ")");
  }
  {
    const int64_t recent = Count(conn,
                                 "SELECT count(*) FROM aegis.recent_points r WHERE NOT EXISTS "
                                 "(SELECT 1 FROM aegis.series s WHERE s.series_id = r.series_id)");
    const int64_t blocks = Count(conn,
                                 "SELECT count(*) FROM aegis.blocks b WHERE NOT EXISTS "
                                 "(SELECT 1 FROM aegis.series s WHERE s.series_id = b.series_id)");
    report.check(recent == 0 && blocks == 0, "no recent row or block without its series (orphans: " +
                                                 std::to_string(recent) + " recent rows, " +
                                                 std::to_string(blocks) + " blocks)");
  }
  {
    Result r = conn.exec(
        "SELECT a.series_id::text || ' [' || a.ts_min || ', ' || a.ts_max || '] and [' || b.ts_min || ', ' || "
        "b.ts_max || ']' FROM aegis.blocks a JOIN aegis.blocks b ON a.series_id = b.series_id "
        "AND a.ts_min < b.ts_min AND a.ts_max >= b.ts_min");
    const int64_t blocks = Count(conn, "SELECT count(*) FROM aegis.blocks");
    std::string examples;
    for (int i = 0; i < r.rows() && i < 3; ++i) examples += " {" + r.text(i, 0) + "}";
    report.check(r.rows() == 0, "blocks of a series never overlap (" + std::to_string(blocks) + " blocks" +
                                    (r.rows() ? ", " + std::to_string(r.rows()) + " overlapping pairs:" + examples
                                              : "") +
                                    ")");
  }
  try {
    const int64_t n = Count(conn, "SELECT count(*) FROM aegis.read('{__name__=~\".+\"}')");
    report.ok("aegis.read over every series decodes every block (" + std::to_string(n) + " points)");
  } catch (const SqlError& e) {
    report.not_ok("aegis.read over every series fails: SQLSTATE " + e.sqlstate + ": " + e.what());
  }
  std::string dup;
  for (const std::string& d : content.duplicate_examples) dup += " [" + d + "]";
  report.check(content.duplicate_rows == 0 && content.unordered_rows == 0 && content.duplicate_examples.empty(),
               "aegis.read returns each (series, ts) once, in order (" + std::to_string(content.rows) +
                   " rows; duplicates " + std::to_string(content.duplicate_rows) + ", out of order " +
                   std::to_string(content.unordered_rows) + ")" + dup);
}

void ConsistencyChecks(Connection& conn, const DbContent& content, const std::vector<std::string>& metrics,
                       Report& report) {
  // aegis.latest: the last point aegis.read returned, bit for bit.
  {
    Result r = conn.exec("SELECT metric, tags::text, ts, value FROM aegis.latest('{__name__=~\".+\"}')", Params());
    int bad = 0;
    std::string example;
    std::set<std::string> seen;
    for (int i = 0; i < r.rows(); ++i) {
      const std::string key = SeriesKey(r.text(i, 0), r.text(i, 1));
      seen.insert(key);
      auto it = content.series.find(key);
      const int64_t ts = r.timestamptz_unix_us(i, 2);
      const uint64_t v = r.float8_bits(i, 3);
      if (it == content.series.end() || it->second.points.empty()) {
        if (++bad == 1) example = key + ": latest returns a point, read none";
        continue;
      }
      const auto& last = *it->second.points.rbegin();
      if (last.first != ts || last.second != v) {
        if (++bad == 1)
          example = key + ": latest " + FormatTimestamp(ts) + " " + FormatValue(v) + ", read's last " +
                    FormatTimestamp(last.first) + " " + FormatValue(last.second);
      }
    }
    for (const auto& [key, s] : content.series)
      if (!s.points.empty() && !seen.count(key) && ++bad == 1) example = key + ": no row from latest";
    report.check(bad == 0, "aegis.latest equals the last point aegis.read returns for every series (" +
                               std::to_string(r.rows()) + " series" + (bad ? ", " + std::to_string(bad) +
                                                                                 " differ, e.g. " + example
                                                                           : "") +
                               ")");
  }
  // aegis.aggregate(count) per series and aegis.stats points per metric.
  {
    int bad = 0;
    std::string example;
    int64_t stats_bad = 0;
    std::string stats_example;
    for (const std::string& metric : metrics) {
      Params p;
      p.text(metric);
      Result r = conn.exec(
          "SELECT tags::text, value FROM aegis.aggregate($1, 'count', '1970-01-01', '2100-01-01')", p);
      std::map<std::string, uint64_t> counts;
      int64_t metric_points = 0;
      for (const auto& [key, s] : content.series)
        if (s.metric == metric) {
          counts[s.tags] = s.points.size();
          metric_points += static_cast<int64_t>(s.points.size());
        }
      std::set<std::string> seen;
      for (int i = 0; i < r.rows(); ++i) {
        const std::string tags = r.text(i, 0);
        const double c = r.float8(i, 1);
        seen.insert(tags);
        const uint64_t want = counts.count(tags) ? counts[tags] : 0;
        if (c != static_cast<double>(want) && ++bad == 1)
          example = metric + " " + tags + ": aggregate count " + std::to_string(c) + ", read " + std::to_string(want);
      }
      for (const auto& [tags, n] : counts)
        if (n > 0 && !seen.count(tags) && ++bad == 1) example = metric + " " + tags + ": no aggregate row";
      Result st = conn.exec("SELECT points FROM aegis.stats WHERE metric = $1", p, false);
      const int64_t stat_points = st.rows() ? std::stoll(st.text(0, 0)) : 0;
      if (stat_points != metric_points && ++stats_bad == 1)
        stats_example = metric + ": stats " + std::to_string(stat_points) + ", read " + std::to_string(metric_points);
    }
    report.check(bad == 0, "aegis.aggregate(count) per series equals what aegis.read returns" +
                               (bad ? " (" + std::to_string(bad) + " differ, e.g. " + example + ")" : ""));
    report.check(stats_bad == 0, "aegis.stats points per metric equal what aegis.read returns" +
                                     (stats_bad ? " (" + stats_example + ")" : ""));
  }
}

}  // namespace stress
