// Loaders for the real data files of ../shared/data, shared by the codec
// tests: CSV files keep their own timestamps (read as UTC), the .bin files of
// little-endian float64 values get one point every 10 s from 2020-01-01.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/bit_patterns.h"
#include "core/types.h"

namespace aegis::core::test_data {

// One series of a data file.
struct Series {
  std::vector<Timestamp> ts;
  std::vector<double> values;
};

// Directory of the shared data files.
inline std::string DataDir() { return std::string(AEGIS_SOURCE_DIR) + "/../shared/data/"; }

// Days from 1970-01-01 to a civil date (proleptic Gregorian).
inline int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Parses "YYYY-MM-DD HH:MM:SS" (read as UTC) to microseconds since 2000-01-01.
inline bool ParseTimestamp(const std::string& text, Timestamp* out) {
  int y, mo, d, h, mi, s;
  if (std::sscanf(text.c_str(), "%d-%d-%d %d:%d:%d", &y, &mo, &d, &h, &mi, &s) != 6) return false;
  const int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) - 10957;
  *out = ((days * 24 + h) * 60 + mi) * 60 * kMicrosPerSecond + s * kMicrosPerSecond;
  return true;
}

// Loads every value column of a `timestamp,value...` CSV, one Series each,
// named by the header.
inline bool LoadCsv(const std::string& path, std::vector<std::pair<std::string, Series>>* columns) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  {
    std::stringstream ss(line);
    std::string cell;
    std::getline(ss, cell, ',');
    while (std::getline(ss, cell, ',')) columns->push_back({cell, Series{}});
  }
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    Timestamp t;
    if (cells.size() != columns->size() + 1 || !ParseTimestamp(cells[0], &t)) return false;
    for (size_t c = 0; c < columns->size(); ++c) {
      (*columns)[c].second.ts.push_back(t);
      (*columns)[c].second.values.push_back(std::strtod(cells[c + 1].c_str(), nullptr));
    }
  }
  return !columns->empty() && !columns->front().second.ts.empty();
}

// Loads one column of a CSV: the one named OT if there is one (ETTh1's
// target), else the first value column.
inline bool LoadCsvColumn(const std::string& path, Series* out) {
  std::vector<std::pair<std::string, Series>> columns;
  if (!LoadCsv(path, &columns)) return false;
  size_t pick = 0;
  for (size_t c = 0; c < columns.size(); ++c) {
    if (columns[c].first == "OT") pick = c;
  }
  *out = std::move(columns[pick].second);
  return true;
}

// Loads a file of little-endian float64 values, stamped every 10 s from 2020-01-01.
inline bool LoadBin(const std::string& path, Series* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const Timestamp start = 631152000LL * kMicrosPerSecond;
  for (size_t i = 0; i + 8 <= bytes.size(); i += 8) {
    uint64_t b = 0;
    for (int k = 7; k >= 0; --k) b = (b << 8) | bytes[i + static_cast<size_t>(k)];
    out->ts.push_back(start + static_cast<int64_t>(out->ts.size()) * 10 * kMicrosPerSecond);
    out->values.push_back(BitsToDouble(b));
  }
  return !out->ts.empty();
}

}  // namespace aegis::core::test_data
