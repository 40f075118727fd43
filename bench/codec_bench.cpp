// Google Benchmark of the core block codec, both codecs side by side
// (gorilla_v1 = BlockCodec::kGorillaV1, adaptive_v2 = BlockCodec::kAdaptiveV2).
//
// What it measures, per data set and codec, in blocks of 1,000 consecutive
// points (the last block of a run shorter):
//   encode/<codec>/<set>  EncodeBlock of every block, one core; items = points
//   decode/<codec>/<set>  DecodeBlock of every block (checksum included)
// and on both, as counters from MeasureBlock: bits_per_value (value section),
// bits_per_timestamp (timestamp section) and bits_per_point (whole blocks,
// 16-byte headers and padding included), each divided by the set's points.
// The label counts the blocks per value scheme, e.g. "decimal:100" or
// "dictionary:120,xor:11" (codec 1 blocks count as "gorilla").
//
// Data sets: a seeded 2-decimal random walk (tsbs_random_walk) and the real
// files of ../shared/data (see its README.md); CSV files keep their own
// timestamps (read as UTC) and their order, the .bin files get one point every
// 10 s. A set whose file is missing is left out.
//
// Before any benchmark runs, every block of every set and codec is decoded and
// compared with its input (timestamps exactly, values bit for bit); a mismatch
// prints the set, codec and block and exits with status 1.
//
// --dump_values=<dir> writes each set's values as <dir>/<set>.f64 (little-
// endian float64, the order the blocks hold them) and exits; bench/bench.py
// uses it to compress the same values with xz.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/block_codec.h"

namespace {

using aegis::core::BlockCodec;
using aegis::core::Timestamp;

constexpr size_t kBlockPoints = 1000;
constexpr Timestamp kSecond = 1000000;                    // microseconds
constexpr Timestamp kRegularStart = 757382400 * kSecond;  // 2024-01-01 00:00:00 UTC
constexpr Timestamp kRegularStep = 10 * kSecond;

// A data set: points in order, cut into runs (one run per series); blocks
// never span two runs.
struct DataSet {
  std::string name;
  std::vector<Timestamp> ts;
  std::vector<double> values;
  std::vector<size_t> runs;  // run lengths, summing to values.size()
};

// A data set encoded with one codec, with what MeasureBlock reported.
struct Encoded {
  const DataSet* set = nullptr;
  const char* codec_name = nullptr;
  BlockCodec codec = BlockCodec::kGorillaV1;
  std::vector<std::pair<size_t, size_t>> ranges;  // (first point, points) per block
  std::vector<std::vector<uint8_t>> blocks;
  double bits_per_value = 0;
  double bits_per_timestamp = 0;
  double bits_per_point = 0;
  std::string schemes;  // "decimal:100" or "dictionary:120,xor:11"
};

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "codec_bench: %s\n", message.c_str());
  std::exit(1);
}

// Microseconds since 2000-01-01 UTC of "YYYY-MM-DD HH:MM:SS" read as UTC
// (days_from_civil of H. Hinnant's date algorithms).
Timestamp ParseTimestamp(const std::string& text, const std::string& where) {
  int y, m, d, hh, mm, ss;
  char tail;
  if (std::sscanf(text.c_str(), "%d-%d-%d %d:%d:%d%c", &y, &m, &d, &hh, &mm, &ss, &tail) != 6) {
    Fail(where + ": not a YYYY-MM-DD HH:MM:SS timestamp: '" + text + "'");
  }
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days_since_1970 = era * 146097 + doe - 719468;
  const int64_t seconds = (days_since_1970 - 10957) * 86400 + hh * 3600 + mm * 60 + ss;  // 10957: 2000-01-01
  return seconds * kSecond;
}

// n timestamps every 10 s from 2024-01-01.
std::vector<Timestamp> RegularTimestamps(size_t n) {
  std::vector<Timestamp> ts(n);
  for (size_t i = 0; i < n; ++i) ts[i] = kRegularStart + static_cast<Timestamp>(i) * kRegularStep;
  return ts;
}

// 100,000 points of a 2-decimal random walk clamped to [0, 100] (seeded, so the
// same values every run), every 10 s.
DataSet RandomWalk() {
  DataSet d{"tsbs_random_walk", {}, {}, {}};
  std::mt19937_64 rng(42);
  std::normal_distribution<double> step(0.0, 1.0);
  double v = 50;
  for (size_t i = 0; i < 100 * kBlockPoints; ++i) {
    v = std::min(100.0, std::max(0.0, v + step(rng)));
    d.values.push_back(std::round(v * 100) / 100);
  }
  d.ts = RegularTimestamps(d.values.size());
  d.runs = {d.values.size()};
  return d;
}

// A CSV file with a header line, "timestamp,value,value,...": the timestamps
// and one vector per value column, in file order. Empty if the file is missing.
struct CsvColumns {
  std::vector<Timestamp> ts;
  std::vector<std::vector<double>> columns;
};

CsvColumns ReadCsv(const std::string& path) {
  CsvColumns csv;
  std::ifstream in(path);
  if (!in) return csv;
  std::string line;
  std::getline(in, line);
  const size_t n_columns = static_cast<size_t>(std::count(line.begin(), line.end(), ','));
  csv.columns.resize(n_columns);
  for (size_t row = 2; std::getline(in, line); ++row) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::string where = path + " line " + std::to_string(row);
    std::vector<std::string> fields;
    std::stringstream fs(line);
    for (std::string f; std::getline(fs, f, ',');) fields.push_back(f);
    if (fields.size() != n_columns + 1) Fail(where + ": expected " + std::to_string(n_columns + 1) + " fields");
    csv.ts.push_back(ParseTimestamp(fields[0], where));
    for (size_t c = 0; c < n_columns; ++c) {
      char* end = nullptr;
      errno = 0;
      const double v = std::strtod(fields[c + 1].c_str(), &end);
      if (end == fields[c + 1].c_str() || *end != '\0' || errno == ERANGE) {
        Fail(where + ": not a number: '" + fields[c + 1] + "'");
      }
      csv.columns[c].push_back(v);
    }
  }
  return csv;
}

// One value column of a CSV file (the last when column < 0), with the file's
// timestamps, as one run.
DataSet CsvColumn(const std::string& name, const std::string& path, int column = -1) {
  DataSet d{name, {}, {}, {}};
  CsvColumns csv = ReadCsv(path);
  if (csv.columns.empty() || csv.ts.empty()) return d;
  d.ts = std::move(csv.ts);
  d.values = std::move(column < 0 ? csv.columns.back() : csv.columns[static_cast<size_t>(column)]);
  d.runs = {d.values.size()};
  return d;
}

// Every value column of a CSV file, one run per column (each with the file's
// timestamps), the columns one after another.
DataSet CsvAllColumns(const std::string& name, const std::string& path) {
  DataSet d{name, {}, {}, {}};
  const CsvColumns csv = ReadCsv(path);
  for (const std::vector<double>& column : csv.columns) {
    if (column.empty()) continue;
    d.ts.insert(d.ts.end(), csv.ts.begin(), csv.ts.end());
    d.values.insert(d.values.end(), column.begin(), column.end());
    d.runs.push_back(column.size());
  }
  return d;
}

// Little-endian float64 values (as this x86/ARM build stores doubles), every
// 10 s, as one run.
DataSet Binary(const std::string& name, const std::string& path) {
  DataSet d{name, {}, {}, {}};
  std::ifstream in(path, std::ios::binary);
  double v;
  while (in.read(reinterpret_cast<char*>(&v), sizeof v)) d.values.push_back(v);
  d.ts = RegularTimestamps(d.values.size());
  d.runs = {d.values.size()};
  return d;
}

// Every data set whose file is present, in report order.
std::vector<DataSet> LoadDataSets() {
  const std::string dir = std::string(AEGIS_SOURCE_DIR) + "/../shared/data/";
  std::vector<DataSet> all;
  all.push_back(RandomWalk());
  all.push_back(CsvColumn("machine_temperature", dir + "machine_temperature_system_failure.csv"));
  all.push_back(CsvColumn("cpu_utilization", dir + "cpu_utilization_asg_misconfiguration.csv"));
  all.push_back(CsvColumn("nyc_taxi", dir + "nyc_taxi.csv"));
  all.push_back(CsvColumn("etth1_ot", dir + "ETTh1.csv"));
  all.push_back(CsvAllColumns("etth1_all", dir + "ETTh1.csv"));
  all.push_back(Binary("city_temperature", dir + "city_temperature_f_tw.bin"));
  all.push_back(Binary("nyc29", dir + "nyc29_tw.bin"));
  std::vector<DataSet> present;
  for (DataSet& d : all) {
    if (d.values.empty()) {
      std::fprintf(stderr, "codec_bench: %s left out (its file is missing under %s)\n", d.name.c_str(), dir.c_str());
    } else {
      present.push_back(std::move(d));
    }
  }
  return present;
}

// Writes <dir>/<set>.f64 for every set; false (after a message) on a write error.
bool DumpValues(const std::vector<DataSet>& sets, const std::string& dir) {
  for (const DataSet& d : sets) {
    const std::string path = dir + "/" + d.name + ".f64";
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(d.values.data()),
              static_cast<std::streamsize>(d.values.size() * sizeof(double)));
    if (!out) {
      std::fprintf(stderr, "codec_bench: cannot write %s\n", path.c_str());
      return false;
    }
  }
  return true;
}

// (first point, points) of each block: 1,000 consecutive points within a run.
std::vector<std::pair<size_t, size_t>> BlockRanges(const DataSet& d) {
  std::vector<std::pair<size_t, size_t>> ranges;
  size_t run_start = 0;
  for (const size_t run : d.runs) {
    for (size_t at = 0; at < run; at += kBlockPoints) {
      ranges.emplace_back(run_start + at, std::min(kBlockPoints, run - at));
    }
    run_start += run;
  }
  return ranges;
}

// "name:count,..." with the most used scheme first.
std::string SchemeLabel(const std::map<std::string, size_t>& counts) {
  std::vector<std::pair<std::string, size_t>> sorted(counts.begin(), counts.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string label;
  for (const auto& [name, n] : sorted) label += (label.empty() ? "" : ",") + name + ":" + std::to_string(n);
  return label;
}

// Encodes every block of the set, checks that each decodes to its input
// (timestamps equal, values memcmp-equal) and sums MeasureBlock's figures.
// Exits with status 1 on a mismatch or an exception.
Encoded EncodeAndVerify(const DataSet& d, const char* codec_name, BlockCodec codec) {
  Encoded e;
  e.set = &d;
  e.codec_name = codec_name;
  e.codec = codec;
  e.ranges = BlockRanges(d);
  uint64_t value_bits = 0, timestamp_bits = 0, block_bytes = 0;
  std::map<std::string, size_t> schemes;
  std::vector<Timestamp> out_ts;
  std::vector<double> out_values;
  for (size_t b = 0; b < e.ranges.size(); ++b) {
    const auto [at, n] = e.ranges[b];
    const std::string where = d.name + " " + codec_name + " block " + std::to_string(b) + " (points " +
                              std::to_string(at) + ".." + std::to_string(at + n - 1) + ")";
    try {
      e.blocks.push_back(aegis::core::EncodeBlock(d.ts.data() + at, d.values.data() + at, n, codec));
      const std::vector<uint8_t>& block = e.blocks.back();
      aegis::core::DecodeBlock(block.data(), block.size(), &out_ts, &out_values);
      if (out_ts.size() != n || out_values.size() != n) {
        Fail(where + ": decoded " + std::to_string(out_values.size()) + " points, encoded " + std::to_string(n));
      }
      for (size_t i = 0; i < n; ++i) {
        if (out_ts[i] != d.ts[at + i]) Fail(where + ": timestamp " + std::to_string(i) + " differs after decoding");
        if (std::memcmp(&out_values[i], &d.values[at + i], sizeof(double)) != 0) {
          Fail(where + ": value " + std::to_string(i) + " differs after decoding (bit pattern)");
        }
      }
      const aegis::core::BlockBitUsage usage = aegis::core::MeasureBlock(block.data(), block.size());
      if (usage.count != n) Fail(where + ": MeasureBlock counts " + std::to_string(usage.count) + " points");
      value_bits += usage.value_bits;
      timestamp_bits += usage.timestamp_bits;
      block_bytes += block.size();
      ++schemes[aegis::core::ValueSchemeName(usage.value_scheme)];
    } catch (const std::exception& ex) {
      Fail(where + ": " + ex.what());
    }
  }
  const double points = static_cast<double>(d.values.size());
  e.bits_per_value = static_cast<double>(value_bits) / points;
  e.bits_per_timestamp = static_cast<double>(timestamp_bits) / points;
  e.bits_per_point = 8.0 * static_cast<double>(block_bytes) / points;
  e.schemes = SchemeLabel(schemes);
  return e;
}

// The size counters and the scheme label, the same on encode and decode.
void Report(benchmark::State& state, const Encoded& e) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * e.set->values.size()));
  state.counters["bits_per_value"] = e.bits_per_value;
  state.counters["bits_per_timestamp"] = e.bits_per_timestamp;
  state.counters["bits_per_point"] = e.bits_per_point;
  state.SetLabel(e.schemes);
}

// Encodes every block of the set once per iteration.
void Encode(benchmark::State& state, const Encoded* e) {
  const DataSet& d = *e->set;
  for (auto _ : state) {
    for (const auto& [at, n] : e->ranges) {
      std::vector<uint8_t> block = aegis::core::EncodeBlock(d.ts.data() + at, d.values.data() + at, n, e->codec);
      benchmark::DoNotOptimize(block.data());
    }
  }
  Report(state, *e);
}

// Decodes every block of the set once per iteration (into reused vectors).
void Decode(benchmark::State& state, const Encoded* e) {
  std::vector<Timestamp> ts;
  std::vector<double> values;
  for (auto _ : state) {
    for (const std::vector<uint8_t>& block : e->blocks) {
      aegis::core::DecodeBlock(block.data(), block.size(), &ts, &values);
      benchmark::DoNotOptimize(values.data());
    }
  }
  Report(state, *e);
}

}  // namespace

// --dump_values=<dir> first (writes and exits); otherwise verify every block,
// register encode/decode per codec and set, run Google Benchmark.
int main(int argc, char** argv) {
  static const std::vector<DataSet> sets = LoadDataSets();
  const std::string dump_flag = "--dump_values=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], dump_flag.c_str(), dump_flag.size()) == 0) {
      return DumpValues(sets, argv[i] + dump_flag.size()) ? 0 : 1;
    }
  }

  static std::vector<Encoded> encoded;  // filled before registering: the pointers stay valid
  const std::pair<const char*, BlockCodec> codecs[] = {{"gorilla_v1", BlockCodec::kGorillaV1},
                                                       {"adaptive_v2", BlockCodec::kAdaptiveV2}};
  for (const DataSet& d : sets) {
    for (const auto& [name, codec] : codecs) encoded.push_back(EncodeAndVerify(d, name, codec));
  }
  for (const Encoded& e : encoded) {
    const std::string suffix = std::string("/") + e.codec_name + "/" + e.set->name;
    benchmark::RegisterBenchmark(("encode" + suffix).c_str(), Encode, &e)->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("decode" + suffix).c_str(), Decode, &e)->Unit(benchmark::kMicrosecond);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
