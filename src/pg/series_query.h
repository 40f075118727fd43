// Turning a selector into the series it matches, answered from the catalog's
// indexes (equality matchers through the GIN index on tags).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pg/postgres_headers.h"

namespace aegis::pg {

// One matched series. metric, tags and group are Datums owned by the query
// result (or, read directly, by the SPI connection's memory) and valid until
// Release or SPI_finish, whichever comes first.
struct SeriesRow {
  int64_t series_id;
  Datum metric;
  Datum tags;
  Datum group;  // the aggregation group's tags (only with SeriesGrouping)
};

// How the matched series are grouped for aegis.aggregate's group_by.
struct SeriesGrouping {
  enum class Mode { kNone, kPerSeries, kAll, kByKeys } mode = Mode::kNone;
  Datum keys = 0;  // text[] of tag keys for kByKeys
};

struct MatchedSeries {
  std::vector<SeriesRow> rows;
  SPITupleTable* table = nullptr;  // the query's result; none when read directly
};

// Parses the selector, checks its regexes, and returns the matching series
// ordered by series_id (or by group, then series_id, when grouping; grouped
// into all-series or by-key groups, metric and tags are NULL). Needs an open
// SPI connection.
MatchedSeries FindMatchingSeries(const std::string& selector, const SeriesGrouping& grouping = {});

// Frees the rows behind matched.
void Release(MatchedSeries* matched);

}  // namespace aegis::pg
