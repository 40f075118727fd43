// Google Benchmark of the core block codec: encode and decode throughput
// (points per second, one core) and bits per point, on a TSBS-like random
// walk and on the real files of ../shared/data (when present), in blocks of
// 1,000 points with regular 10 s timestamps.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/block_codec.h"

namespace {

using aegis::core::Timestamp;

constexpr size_t kBlockPoints = 1000;

// A data set: values, with timestamps every 10 s.
struct DataSet {
  std::string name;
  std::vector<double> values;
};

// 2-decimal random walk clamped to [0, 100], as the TSBS-shaped generator.
DataSet RandomWalk() {
  DataSet d{"tsbs_random_walk", {}};
  std::mt19937_64 rng(42);
  std::normal_distribution<double> step(0.0, 1.0);
  double v = 50;
  for (size_t i = 0; i < 100 * kBlockPoints; ++i) {
    v = std::min(100.0, std::max(0.0, v + step(rng)));
    d.values.push_back(std::round(v * 100) / 100);
  }
  return d;
}

// The last numeric column of a CSV file with a header line.
DataSet Csv(const std::string& name, const std::string& path) {
  DataSet d{name, {}};
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    const size_t comma = line.rfind(',');
    if (comma != std::string::npos) d.values.push_back(std::strtod(line.c_str() + comma + 1, nullptr));
  }
  return d;
}

// Little-endian float64 values.
DataSet Binary(const std::string& name, const std::string& path) {
  DataSet d{name, {}};
  std::ifstream in(path, std::ios::binary);
  double v;
  while (in.read(reinterpret_cast<char*>(&v), sizeof v)) d.values.push_back(v);
  return d;
}

std::vector<Timestamp> Timestamps(size_t n) {
  std::vector<Timestamp> ts(n);
  for (size_t i = 0; i < n; ++i) ts[i] = 757382400000000 + static_cast<Timestamp>(i) * 10000000;
  return ts;
}

// Encodes every block of the set once per iteration.
void Encode(benchmark::State& state, const DataSet& d) {
  const std::vector<Timestamp> ts = Timestamps(d.values.size());
  size_t bytes = 0;
  for (auto _ : state) {
    bytes = 0;
    for (size_t at = 0; at < d.values.size(); at += kBlockPoints) {
      const size_t n = std::min(kBlockPoints, d.values.size() - at);
      std::vector<uint8_t> block = aegis::core::EncodeBlock(ts.data() + at, d.values.data() + at, n);
      bytes += block.size();
      benchmark::DoNotOptimize(block.data());
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * d.values.size()));
  state.counters["bits_per_point"] = 8.0 * static_cast<double>(bytes) / static_cast<double>(d.values.size());
}

// Decodes every block of the set once per iteration.
void Decode(benchmark::State& state, const DataSet& d) {
  const std::vector<Timestamp> ts = Timestamps(d.values.size());
  std::vector<std::vector<uint8_t>> blocks;
  for (size_t at = 0; at < d.values.size(); at += kBlockPoints) {
    const size_t n = std::min(kBlockPoints, d.values.size() - at);
    blocks.push_back(aegis::core::EncodeBlock(ts.data() + at, d.values.data() + at, n));
  }
  std::vector<Timestamp> out_ts;
  std::vector<double> out_values;
  for (auto _ : state) {
    for (const auto& block : blocks) {
      aegis::core::DecodeBlock(block.data(), block.size(), &out_ts, &out_values);
      benchmark::DoNotOptimize(out_values.data());
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * d.values.size()));
}

}  // namespace

int main(int argc, char** argv) {
  const std::string data = std::string(AEGIS_SOURCE_DIR) + "/../shared/data/";
  static std::vector<DataSet> sets = {
      RandomWalk(),
      Csv("machine_temperature", data + "machine_temperature_system_failure.csv"),
      Csv("cpu_utilization", data + "cpu_utilization_asg_misconfiguration.csv"),
      Csv("nyc_taxi", data + "nyc_taxi.csv"),
      Csv("etth1_ot", data + "ETTh1.csv"),
      Binary("city_temperature", data + "city_temperature_f_tw.bin"),
      Binary("nyc29", data + "nyc29_tw.bin"),
  };
  for (const DataSet& d : sets) {
    if (d.values.empty()) continue;  // file not present
    benchmark::RegisterBenchmark(("encode/" + d.name).c_str(), Encode, d)->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("decode/" + d.name).c_str(), Decode, d)->Unit(benchmark::kMicrosecond);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
