// Pure functions of one block row, for queries over aegis.blocks: they read
// nothing but their arguments, so they run wherever the row is (a parallel
// worker, a Citus worker; DESIGN-NOTES 2 and 8).
#include <algorithm>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/series_points.h"

#include "pg/boundary.h"
#include "pg/store.h"

// aegis._block_point_matches(series_id, data, ts[]): how many of the
// timestamps the block holds.
AEGIS_PG_FUNCTION(aegis_block_point_matches) {
  const int64 series_id = PG_GETARG_INT64(0);
  Datum data = PG_GETARG_DATUM(1);
  ArrayType* ts_array = PG_GETARG_ARRAYTYPE_P(2);
  if (ARR_NDIM(ts_array) > 1)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("ts must be a one-dimensional array")));
  Datum* ts_datums = nullptr;
  bool* ts_nulls = nullptr;
  int n = 0;
  deconstruct_array(ts_array, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &ts_datums, &ts_nulls, &n);
  std::vector<int64_t> wanted;
  wanted.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    if (!ts_nulls[i]) wanted.push_back(DatumGetTimestampTz(ts_datums[i]));
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  aegis::core::SeriesPoints points;
  try {
    aegis::pg::DecodeBlockData(series_id, data, &points);
  } catch (const aegis::core::Error& e) {
    if (e.category() != aegis::core::ErrorCategory::DataCorrupted) throw;
    // A count must not fail for one bad block (aegis.stats covers every
    // metric; drop_metric is how a corrupt series is removed): the block's
    // own count stands, possibly counting a replaced point twice.
    const std::string message = e.what();
    aegis::pg::PgCall([&] {
      ereport(WARNING, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("%s", message.c_str()),
                        errdetail("Points are counted from the block's summary.")));
    });
    PG_RETURN_INT32(0);
  }
  int32 matches = 0;
  for (int64_t ts : wanted)
    if (std::binary_search(points.ts.begin(), points.ts.end(), ts)) ++matches;
  PG_RETURN_INT32(matches);
}
