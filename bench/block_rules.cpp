// Candidate rules for where a series' compressed blocks are cut, measured
// before the engine commits to one (DESIGN-NOTES 7, "Cut blocks where buckets
// are cut"). Today a block is cut every 1,000 points whatever the time.
//
//   build/bench/block_rules [--markdown]
//
// prints one table, a row per (data set, rule), in plain text or (--markdown)
// as a Markdown table, then a line per data set with its size and what the
// short-range windows hold. Deterministic: seeded data and query positions.
//
// Data sets (each series' points sorted by timestamp, stable; timestamps are
// PostgreSQL's, microseconds since 2000-01-01 UTC):
//   tsbs_random_walk  codec_bench's seeded 2-decimal random walk (seed 42),
//                     100,000 values cut into 10 series of 10,000 points,
//                     every 10 s from 2024-01-01 00:00 UTC (27.8 h each)
//   walk_15s          one random walk (seed 15), 2 days every 15 s
//   walk_1min         one random walk (seed 60), 2 days every minute
//   machine_temperature, cpu_utilization (5 min), nyc_taxi (30 min),
//   etth1_all (ETTh1.csv, its 7 columns as 7 series, 1 h): the CSV files of
//                     ../shared/data, their timestamps read as UTC
//   city_temperature  city_temperature_f_tw.bin, one point every 10 s
//   nyc29             nyc29_tw.bin, one point every second (codec_bench gives
//                     it 10 s; 1 s puts a 1-second rate in the table)
// A set whose file is missing is left out (with a message on stderr).
//
// Rules (the blocks of one series' sorted points; the ladder is the nested
// slot durations 1 min, 5 min, 15 min, 1 h, 6 h, 1 day, slots aligned on the
// PostgreSQL epoch, so a UTC midnight is a multiple of 86,400,000,000):
//   count-N      a block every N consecutive points (today's rule at N = 1000)
//   aligned-N    per UTC day: rate = (points that day - 1) / (last ts - first
//                ts that day); the level l is the largest ladder duration with
//                rate * l <= N (one point that day: 1 day; points all at one
//                instant: 1 min); cut at multiples of l; a slot of more than N
//                points is further cut every N points
//   canonical-N  per UTC day, recursively: a slot of <= N points is one block,
//                otherwise it splits into the slots of the next finer ladder
//                level (day -> 6 h -> 1 h -> 15 min -> 5 min -> 1 min); a
//                1-minute slot of more than N points is cut every N points
// N = 1000, 2000, 4000 for each. The tool checks every rule's blocks with
// checks that stay on in release builds: each point lands in exactly one
// block, blocks are non-empty and in time order, and no aligned/canonical
// block crosses a UTC day boundary or holds more than N points.
//
// Columns:
//   blocks, pts/blk  blocks of the whole set and the average points per block
//   data B/pt        sum of core::EncodeBlock sizes (default codec, adaptive
//                    v2, header included) / points
//   stored B/pt      PostgreSQL storage estimate / points, this model:
//                    a block row is a tuple of 24 (header) + 76 (the fixed
//                    columns series_id int8, ts_min, ts_max timestamptz,
//                    point_count int4, 5 float8 summaries: 72 bytes laid out,
//                    ~4 of MAXALIGN padding) + 4 (varlena header) + data
//                    bytes, plus a 4-byte line pointer in its page. A tuple
//                    of up to 2,032 bytes (TOAST_TUPLE_THRESHOLD, line
//                    pointer not counted) stays in the heap; a larger one is
//                    moved to TOAST (the column is STORAGE EXTERNAL, so no
//                    compression is tried): the heap tuple is 24 + 76 + an
//                    18-byte TOAST pointer (which replaces the varlena header
//                    and the data) and the data is cut into chunks of 1,996
//                    bytes, each a TOAST tuple of 24 + 4 (chunk_id) + 4
//                    (chunk_seq) + 4 (varlena) + chunk bytes, plus its line
//                    pointer. Heap and TOAST tuples are packed, in series and
//                    time order, into their own pages of 8,192 bytes with a
//                    24-byte page header; a tuple that does not fit starts a
//                    new page; every page counts 8,192 bytes but the last,
//                    which counts its header and what it holds (so a small set
//                    is not charged for one part-filled page). Indexes: 24
//                    bytes per block row (btree entry) and 24 per TOAST chunk
//                    (TOAST index). No free-space map, visibility map, or
//                    index inner pages.
//   cut <step>       for dashboard steps 1 min ... 1 day (buckets aligned on
//                    the epoch, a query over the whole set): the share of the
//                    set's points in blocks that a bucket edge cuts (ts_min
//                    and ts_max in different buckets); those blocks must be
//                    decoded, the others are answered from their summaries
//   dec 5m, dec 12h  short-range reads (Q6/Q7-style): a 5-minute and a
//                    12-hour window [start, start + w) on one series at 20
//                    seeded positions (series uniform, start a whole second
//                    uniform in [first ts, last ts - w]); average points
//                    decoded per query = points of every block whose
//                    [ts_min, ts_max] meets the window. The same positions
//                    for every rule of a set; the footer gives the points the
//                    windows actually hold.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/block_codec.h"
#include "../test/unit/data_files.h"

namespace {

using aegis::core::Timestamp;
namespace test_data = aegis::core::test_data;

constexpr Timestamp kSecond = 1000000;  // microseconds
constexpr Timestamp kMinute = 60 * kSecond;
constexpr Timestamp kHour = 60 * kMinute;
constexpr Timestamp kDay = 24 * kHour;
constexpr Timestamp kRegularStart = 757382400 * kSecond;  // 2024-01-01 00:00:00 UTC

// The nested slot ladder, coarsest first; also the dashboard steps.
constexpr Timestamp kLadder[] = {kDay, 6 * kHour, kHour, 15 * kMinute, 5 * kMinute, kMinute};
constexpr size_t kLadderSize = sizeof kLadder / sizeof kLadder[0];
const char* const kStepNames[] = {"1m", "5m", "15m", "1h", "6h", "1d"};  // finest first
constexpr Timestamp kSteps[] = {kMinute, 5 * kMinute, 15 * kMinute, kHour, 6 * kHour, kDay};
constexpr size_t kStepCount = sizeof kSteps / sizeof kSteps[0];

constexpr Timestamp kWindows[] = {5 * kMinute, 12 * kHour};
constexpr size_t kWindowCount = sizeof kWindows / sizeof kWindows[0];
constexpr int kQueriesPerWindow = 20;

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "block_rules: %s\n", message.c_str());
  std::exit(1);
}

// A check that stays on in release builds (assert would not).
void Check(bool ok, const std::string& what) {
  if (!ok) Fail("check failed: " + what);
}

Timestamp FloorDiv(Timestamp a, Timestamp b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// ---- Data sets -------------------------------------------------------------
// CSV files through the unit tests' loader (test/unit/data_files.h); the
// random walk is codec_bench's generator.

struct Series {
  std::vector<Timestamp> ts;
  std::vector<double> values;
};

struct DataSet {
  std::string name;
  std::vector<Series> series;
  size_t points = 0;
  std::string rate;  // median interval, e.g. "10s", "5min"
};

// A 2-decimal random walk clamped to [0, 100], codec_bench's generator.
std::vector<double> Walk(uint64_t seed, size_t n) {
  std::vector<double> values;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> step(0.0, 1.0);
  double v = 50;
  for (size_t i = 0; i < n; ++i) {
    v = std::min(100.0, std::max(0.0, v + step(rng)));
    values.push_back(std::round(v * 100) / 100);
  }
  return values;
}

// values[at, at + n) every `step` from 2024-01-01 00:00 UTC.
Series Regular(const std::vector<double>& values, size_t at, size_t n, Timestamp step) {
  Series s;
  s.values.assign(values.begin() + static_cast<std::ptrdiff_t>(at), values.begin() + static_cast<std::ptrdiff_t>(at + n));
  for (size_t i = 0; i < n; ++i) s.ts.push_back(kRegularStart + static_cast<Timestamp>(i) * step);
  return s;
}

// One series per value column of a CSV file with a header line
// ("timestamp,value,...", read by the unit tests' loader); none if the file
// is missing or malformed.
std::vector<Series> ReadCsv(const std::string& path) {
  std::vector<std::pair<std::string, test_data::Series>> columns;
  if (!test_data::LoadCsv(path, &columns)) return {};
  std::vector<Series> series;
  for (auto& column : columns) series.push_back(Series{std::move(column.second.ts), std::move(column.second.values)});
  return series;
}

// Little-endian float64 values, one every `step`, as one series.
std::vector<Series> ReadBinary(const std::string& path, Timestamp step) {
  std::ifstream in(path, std::ios::binary);
  std::vector<double> values;
  double v;
  while (in.read(reinterpret_cast<char*>(&v), sizeof v)) values.push_back(v);
  if (values.empty()) return {};
  return {Regular(values, 0, values.size(), step)};
}

std::string Duration(Timestamp d) {
  if (d > 0 && d % kHour == 0) return std::to_string(d / kHour) + "h";
  if (d > 0 && d % kMinute == 0) return std::to_string(d / kMinute) + "min";
  if (d % kSecond == 0) return std::to_string(d / kSecond) + "s";
  return std::to_string(d) + "us";
}

// Sorts each series by timestamp (stable), counts the points and names the
// median interval.
DataSet Finish(std::string name, std::vector<Series> series) {
  DataSet d{std::move(name), {}, 0, ""};
  std::vector<Timestamp> deltas;
  for (Series& s : series) {
    if (s.ts.empty()) continue;
    std::vector<size_t> order(s.ts.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s.ts[a] < s.ts[b]; });
    Series sorted;
    for (const size_t i : order) {
      sorted.ts.push_back(s.ts[i]);
      sorted.values.push_back(s.values[i]);
    }
    for (size_t i = 1; i < sorted.ts.size(); ++i) deltas.push_back(sorted.ts[i] - sorted.ts[i - 1]);
    d.points += sorted.ts.size();
    d.series.push_back(std::move(sorted));
  }
  if (!deltas.empty()) {
    std::nth_element(deltas.begin(), deltas.begin() + static_cast<std::ptrdiff_t>(deltas.size() / 2), deltas.end());
    d.rate = Duration(deltas[deltas.size() / 2]);
  }
  return d;
}

std::vector<DataSet> LoadDataSets() {
  const std::string dir = std::string(AEGIS_SOURCE_DIR) + "/../shared/data/";
  std::vector<DataSet> all;
  {
    const std::vector<double> walk = Walk(42, 100000);
    std::vector<Series> series;
    for (size_t i = 0; i < 10; ++i) series.push_back(Regular(walk, i * 10000, 10000, 10 * kSecond));
    all.push_back(Finish("tsbs_random_walk", std::move(series)));
  }
  all.push_back(Finish("walk_15s", {Regular(Walk(15, 2 * 5760), 0, 2 * 5760, 15 * kSecond)}));
  all.push_back(Finish("walk_1min", {Regular(Walk(60, 2 * 1440), 0, 2 * 1440, kMinute)}));
  all.push_back(Finish("machine_temperature", ReadCsv(dir + "machine_temperature_system_failure.csv")));
  all.push_back(Finish("cpu_utilization", ReadCsv(dir + "cpu_utilization_asg_misconfiguration.csv")));
  all.push_back(Finish("nyc_taxi", ReadCsv(dir + "nyc_taxi.csv")));
  all.push_back(Finish("etth1_all", ReadCsv(dir + "ETTh1.csv")));
  all.push_back(Finish("city_temperature", ReadBinary(dir + "city_temperature_f_tw.bin", 10 * kSecond)));
  all.push_back(Finish("nyc29", ReadBinary(dir + "nyc29_tw.bin", kSecond)));
  std::vector<DataSet> present;
  for (DataSet& d : all) {
    if (d.points == 0) {
      std::fprintf(stderr, "block_rules: %s left out (its file is missing under %s)\n", d.name.c_str(), dir.c_str());
    } else {
      present.push_back(std::move(d));
    }
  }
  return present;
}

// ---- Rules -----------------------------------------------------------------

enum class Kind { kCount, kAligned, kCanonical };

struct Rule {
  std::string name;
  Kind kind;
  size_t n;
};

using Ranges = std::vector<std::pair<size_t, size_t>>;  // [begin, end) per block

// [at, end) cut every n points.
void CutEvery(size_t at, size_t end, size_t n, Ranges* out) {
  for (; at < end; at += n) out->emplace_back(at, std::min(end, at + n));
}

// End of the run of points from `at` whose timestamps fall in the same slot
// of duration `slot`.
size_t SlotEnd(const std::vector<Timestamp>& ts, size_t at, size_t end, Timestamp slot) {
  const Timestamp key = FloorDiv(ts[at], slot);
  size_t e = at + 1;
  while (e < end && FloorDiv(ts[e], slot) == key) ++e;
  return e;
}

// The largest ladder duration l with rate * l <= n, for a day of points
// [at, end): rate = (points - 1) / (last - first). Exact integer arithmetic.
Timestamp AlignedLevel(const std::vector<Timestamp>& ts, size_t at, size_t end, size_t n) {
  const size_t points = end - at;
  if (points == 1) return kDay;
  const int64_t gaps = static_cast<int64_t>(points - 1);
  const int64_t span = ts[end - 1] - ts[at];
  for (const Timestamp l : kLadder) {
    if (gaps * l <= static_cast<int64_t>(n) * span) return l;  // gaps / span * l <= n
  }
  return kMinute;  // every point at one instant (or denser than n per minute)
}

// Canonical: [at, end) lies in one slot of kLadder[level].
void Canonical(const std::vector<Timestamp>& ts, size_t at, size_t end, size_t level, size_t n, Ranges* out) {
  if (end - at <= n) {
    out->emplace_back(at, end);
  } else if (level + 1 == kLadderSize) {
    CutEvery(at, end, n, out);
  } else {
    for (size_t a = at; a < end;) {
      const size_t e = SlotEnd(ts, a, end, kLadder[level + 1]);
      Canonical(ts, a, e, level + 1, n, out);
      a = e;
    }
  }
}

Ranges Cut(const Rule& rule, const std::vector<Timestamp>& ts) {
  Ranges out;
  const size_t size = ts.size();
  if (rule.kind == Kind::kCount) {
    CutEvery(0, size, rule.n, &out);
    return out;
  }
  for (size_t day = 0; day < size;) {
    const size_t day_end = SlotEnd(ts, day, size, kDay);
    if (rule.kind == Kind::kCanonical) {
      Canonical(ts, day, day_end, 0, rule.n, &out);
    } else {
      const Timestamp l = AlignedLevel(ts, day, day_end, rule.n);
      for (size_t a = day; a < day_end;) {
        const size_t e = SlotEnd(ts, a, day_end, l);
        CutEvery(a, e, rule.n, &out);
        a = e;
      }
    }
    day = day_end;
  }
  return out;
}

// The checks of the header comment.
void Verify(const Rule& rule, const std::string& where, const std::vector<Timestamp>& ts, const Ranges& ranges) {
  size_t next = 0;
  for (size_t b = 0; b < ranges.size(); ++b) {
    const auto [begin, end] = ranges[b];
    const std::string at = where + " " + rule.name + " block " + std::to_string(b);
    Check(begin == next, at + ": starts at point " + std::to_string(begin) + ", not " + std::to_string(next));
    Check(end > begin, at + ": empty");
    Check(std::is_sorted(ts.begin() + static_cast<std::ptrdiff_t>(begin), ts.begin() + static_cast<std::ptrdiff_t>(end)),
          at + ": points out of time order");
    if (b > 0) Check(ts[ranges[b - 1].second - 1] <= ts[begin], at + ": starts before the previous block ends");
    if (rule.kind != Kind::kCount) {
      Check(end - begin <= rule.n, at + ": holds " + std::to_string(end - begin) + " points");
      Check(FloorDiv(ts[begin], kDay) == FloorDiv(ts[end - 1], kDay), at + ": crosses a UTC day boundary");
    }
    next = end;
  }
  Check(next == ts.size(), where + " " + rule.name + ": blocks hold " + std::to_string(next) + " of " +
                               std::to_string(ts.size()) + " points");
}

// ---- Storage model ---------------------------------------------------------

constexpr size_t kPage = 8192;
constexpr size_t kPageHeader = 24;
constexpr size_t kTupleHeader = 24;
constexpr size_t kLinePointer = 4;
constexpr size_t kFixedColumns = 76;
constexpr size_t kVarlenaHeader = 4;
constexpr size_t kToastThreshold = 2032;
constexpr size_t kToastPointer = 18;
constexpr size_t kToastChunk = 1996;
constexpr size_t kToastChunkColumns = 4 + 4 + 4;  // chunk_id, chunk_seq, varlena header
constexpr size_t kIndexEntry = 24;

// Tuples packed in order into pages; a tuple that does not fit starts a new one.
class Pages {
 public:
  void Add(size_t bytes) {
    if (pages_ == 0 || used_ + bytes > kPage - kPageHeader) {
      ++pages_;
      used_ = 0;
    }
    used_ += bytes;
  }
  // Every page in full but the last, which counts its header and contents.
  uint64_t Bytes() const { return pages_ == 0 ? 0 : (pages_ - 1) * kPage + kPageHeader + used_; }

 private:
  uint64_t pages_ = 0;
  size_t used_ = 0;
};

struct Storage {
  Pages heap, toast;
  uint64_t index_bytes = 0;

  void AddBlock(size_t data_bytes) {
    index_bytes += kIndexEntry;
    const size_t tuple = kTupleHeader + kFixedColumns + kVarlenaHeader + data_bytes;
    if (tuple <= kToastThreshold) {
      heap.Add(tuple + kLinePointer);
      return;
    }
    heap.Add(kTupleHeader + kFixedColumns + kToastPointer + kLinePointer);
    for (size_t left = data_bytes; left > 0;) {
      const size_t chunk = std::min(left, kToastChunk);
      toast.Add(kTupleHeader + kToastChunkColumns + chunk + kLinePointer);
      index_bytes += kIndexEntry;
      left -= chunk;
    }
  }
  uint64_t Bytes() const { return heap.Bytes() + toast.Bytes() + index_bytes; }
};

// ---- Measurement -----------------------------------------------------------

struct BlockInfo {
  Timestamp ts_min, ts_max;
  size_t points;
};

struct Query {
  size_t series;
  Timestamp start;
};

// 20 seeded positions per window, the same for every rule of a set.
std::vector<std::vector<Query>> MakeQueries(const DataSet& d) {
  std::mt19937_64 rng(20240101);
  std::vector<std::vector<Query>> queries(kWindowCount);
  for (size_t w = 0; w < kWindowCount; ++w) {
    for (int q = 0; q < kQueriesPerWindow; ++q) {
      const size_t s = std::uniform_int_distribution<size_t>(0, d.series.size() - 1)(rng);
      const Timestamp first = d.series[s].ts.front(), last = d.series[s].ts.back();
      const int64_t room = std::max<int64_t>(0, (last - kWindows[w] - first) / kSecond);
      queries[w].push_back({s, first + std::uniform_int_distribution<int64_t>(0, room)(rng) * kSecond});
    }
  }
  return queries;
}

struct Row {
  size_t blocks = 0;
  double points_per_block = 0;
  double data_bytes_per_point = 0;
  double stored_bytes_per_point = 0;
  double cut_share[kStepCount] = {};     // percent of points
  double decoded[kWindowCount] = {};     // average points decoded per query
};

Row Measure(const DataSet& d, const Rule& rule, const std::vector<std::vector<Query>>& queries) {
  Row row;
  Storage storage;
  uint64_t data_bytes = 0;
  uint64_t cut_points[kStepCount] = {};
  std::vector<std::vector<BlockInfo>> blocks(d.series.size());
  for (size_t s = 0; s < d.series.size(); ++s) {
    const Series& series = d.series[s];
    const Ranges ranges = Cut(rule, series.ts);
    Verify(rule, d.name + " series " + std::to_string(s), series.ts, ranges);
    for (const auto& [begin, end] : ranges) {
      const size_t n = end - begin;
      std::vector<uint8_t> block;
      try {
        block = aegis::core::EncodeBlock(series.ts.data() + begin, series.values.data() + begin, n);
        Check(aegis::core::ReadBlockHeader(block.data(), block.size()).count == n,
              d.name + " " + rule.name + ": block header count differs");
      } catch (const std::exception& e) {
        Fail(d.name + " " + rule.name + ": EncodeBlock: " + e.what());
      }
      data_bytes += block.size();
      storage.AddBlock(block.size());
      const BlockInfo info{series.ts[begin], series.ts[end - 1], n};
      for (size_t k = 0; k < kStepCount; ++k) {
        if (FloorDiv(info.ts_min, kSteps[k]) != FloorDiv(info.ts_max, kSteps[k])) cut_points[k] += n;
      }
      blocks[s].push_back(info);
      ++row.blocks;
    }
  }
  const double points = static_cast<double>(d.points);
  row.points_per_block = points / static_cast<double>(row.blocks);
  row.data_bytes_per_point = static_cast<double>(data_bytes) / points;
  row.stored_bytes_per_point = static_cast<double>(storage.Bytes()) / points;
  for (size_t k = 0; k < kStepCount; ++k) row.cut_share[k] = 100.0 * static_cast<double>(cut_points[k]) / points;
  for (size_t w = 0; w < kWindowCount; ++w) {
    uint64_t decoded = 0;
    for (const Query& q : queries[w]) {
      const Timestamp end = q.start + kWindows[w];
      for (const BlockInfo& b : blocks[q.series]) {
        if (b.ts_max >= q.start && b.ts_min < end) decoded += b.points;
      }
    }
    row.decoded[w] = static_cast<double>(decoded) / static_cast<double>(queries[w].size());
  }
  return row;
}

// Average points inside each window (what the queries need), per window.
std::vector<double> PointsInWindows(const DataSet& d, const std::vector<std::vector<Query>>& queries) {
  std::vector<double> inside;
  for (size_t w = 0; w < kWindowCount; ++w) {
    uint64_t n = 0;
    for (const Query& q : queries[w]) {
      const std::vector<Timestamp>& ts = d.series[q.series].ts;
      n += static_cast<uint64_t>(std::lower_bound(ts.begin(), ts.end(), q.start + kWindows[w]) -
                                 std::lower_bound(ts.begin(), ts.end(), q.start));
    }
    inside.push_back(static_cast<double>(n) / static_cast<double>(queries[w].size()));
  }
  return inside;
}

// ---- Output ----------------------------------------------------------------

std::string Format(const char* format, double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}

void PrintTable(const std::vector<std::vector<std::string>>& rows, bool markdown) {
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  const size_t text_columns = 3;  // set, rate, rule: left-aligned
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string line = markdown ? "|" : "";
    for (size_t c = 0; c < rows[i].size(); ++c) {
      const std::string& cell = rows[i][c];
      const std::string pad(width[c] - cell.size(), ' ');
      const std::string padded = c < text_columns ? cell + pad : pad + cell;
      line += markdown ? " " + padded + " |" : (c == 0 ? "" : "  ") + padded;
    }
    std::printf("%s\n", line.c_str());
    if (i == 0) {
      std::string rule = markdown ? "|" : "";
      for (size_t c = 0; c < width.size(); ++c) {
        if (markdown) {
          rule += c < text_columns ? "-" + std::string(width[c], '-') + "-|" : "-" + std::string(width[c], '-') + ":|";
        } else {
          rule += (c == 0 ? "" : "  ") + std::string(width[c], '-');
        }
      }
      std::printf("%s\n", rule.c_str());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool markdown = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--markdown") == 0) {
      markdown = true;
    } else {
      std::fprintf(stderr, "usage: %s [--markdown]\n", argv[0]);
      return 2;
    }
  }
  std::vector<Rule> rules;
  for (const auto& [prefix, kind] : {std::pair<const char*, Kind>{"count-", Kind::kCount},
                                     {"aligned-", Kind::kAligned},
                                     {"canonical-", Kind::kCanonical}}) {
    for (const size_t n : {1000, 2000, 4000}) rules.push_back({prefix + std::to_string(n), kind, n});
  }

  const std::vector<DataSet> sets = LoadDataSets();
  std::vector<std::vector<std::string>> table;
  std::vector<std::string> header = {"set", "rate", "rule", "blocks", "pts/blk", "data B/pt", "stored B/pt"};
  for (const char* step : kStepNames) header.push_back(std::string("cut ") + step + " %");
  header.push_back("dec 5m");
  header.push_back("dec 12h");
  table.push_back(header);
  std::vector<std::string> footer;
  for (const DataSet& d : sets) {
    const std::vector<std::vector<Query>> queries = MakeQueries(d);
    for (const Rule& rule : rules) {
      const Row r = Measure(d, rule, queries);
      std::vector<std::string> cells = {d.name,
                                        d.rate,
                                        rule.name,
                                        std::to_string(r.blocks),
                                        Format("%.1f", r.points_per_block),
                                        Format("%.3f", r.data_bytes_per_point),
                                        Format("%.3f", r.stored_bytes_per_point)};
      for (const double share : r.cut_share) cells.push_back(Format("%.1f", share));
      for (const double decoded : r.decoded) cells.push_back(Format("%.0f", decoded));
      table.push_back(cells);
    }
    Timestamp first = d.series[0].ts.front(), last = d.series[0].ts.back();
    for (const Series& s : d.series) {
      first = std::min(first, s.ts.front());
      last = std::max(last, s.ts.back());
    }
    const std::vector<double> inside = PointsInWindows(d, queries);
    char line[256];
    std::snprintf(line, sizeof line,
                  "%s: %zu series, %zu points, %.1f days; points inside the windows: 5 min %.1f, 12 h %.1f",
                  d.name.c_str(), d.series.size(), d.points, static_cast<double>(last - first) / kDay, inside[0],
                  inside[1]);
    footer.push_back(line);
  }
  PrintTable(table, markdown);
  std::printf("\n");
  for (const std::string& line : footer) std::printf("%s%s\n", markdown ? "- " : "", line.c_str());
  return 0;
}
