// Reading: aegis.find_series and aegis.series_points (one series' points,
// compressed blocks merged with recent rows, recent rows winning). aegis.read
// and aegis.latest are inlined SQL over these (src/sql/10_functions.sql).
#include <string>

#include "core/series_points.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/series_query.h"
#include "pg/spi.h"
#include "pg/store.h"

namespace aegis::pg {

namespace {

// Appends one row to the function's result tuplestore.
void EmitRow(FunctionCallInfo fcinfo, Datum* values, bool* nulls) {
  auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  PgCall([&] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls); });
}

// The points of one series with since <= ts < until, blocks and recent rows
// merged in time order.
core::SeriesPoints ReadSeries(int64_t series_id, core::Timestamp since, core::Timestamp until) {
  core::SeriesPoints stored;
  FetchedBlocks blocks = FetchBlocks(series_id, since, until - 1);
  for (const BlockRef& block : blocks.blocks) DecodeStoredBlock(series_id, block, &stored);
  Release(&blocks);
  // Blocks may extend beyond the range on either side.
  const size_t begin = core::LowerBound(stored, since);
  const size_t end = core::LowerBound(stored, until);
  if (begin > 0 || end < stored.size()) {
    core::SeriesPoints inside;
    inside.Append(stored, begin, end);
    stored = std::move(inside);
  }
  return core::MergeNewerWins(stored, FetchRecent(series_id, since, until));
}

}  // namespace

}  // namespace aegis::pg

using aegis::pg::SpiConnect;
using aegis::pg::SpiFinish;
using aegis::pg::EmitRow;
using aegis::pg::RequireNotNull;
using aegis::pg::TextArgument;

// aegis.find_series(selector): the series a selector matches.
AEGIS_PG_FUNCTION(aegis_find_series) {
  RequireNotNull(fcinfo, 0, "selector");
  InitMaterializedSRF(fcinfo, 0);
  std::string selector = TextArgument(fcinfo, 0, "selector");
  SpiConnect();
  aegis::pg::MatchedSeries matched = aegis::pg::FindMatchingSeries(selector);
  for (const aegis::pg::SeriesRow& row : matched.rows) {
    Datum values[] = {Int64GetDatum(row.series_id), row.metric, row.tags};
    bool nulls[] = {false, false, false};
    EmitRow(fcinfo, values, nulls);
  }
  Release(&matched);
  SpiFinish();
  return static_cast<Datum>(0);
}

// aegis._read_arguments(selector, since, until): aegis.read's NULL checks,
// made once per call of the SQL function that joins find_series and
// series_points; returns the selector.
AEGIS_PG_FUNCTION(aegis_read_arguments) {
  RequireNotNull(fcinfo, 0, "selector");
  RequireNotNull(fcinfo, 1, "since");
  RequireNotNull(fcinfo, 2, "until");
  PG_RETURN_DATUM(PG_GETARG_DATUM(0));
}

// aegis.series_points(series_id, since, until): the points of one series, in
// time order. Behind the aegis.points view, joined laterally to aegis.series,
// so that conditions on metric and tags choose the series before any point
// is read.
AEGIS_PG_FUNCTION(aegis_series_points) {
  RequireNotNull(fcinfo, 0, "series_id");
  RequireNotNull(fcinfo, 1, "since");
  RequireNotNull(fcinfo, 2, "until");
  const int64_t series_id = PG_GETARG_INT64(0);
  const TimestampTz since = PG_GETARG_TIMESTAMPTZ(1);
  const TimestampTz until = PG_GETARG_TIMESTAMPTZ(2);
  InitMaterializedSRF(fcinfo, 0);
  if (since >= until) return static_cast<Datum>(0);
  SpiConnect();
  aegis::core::SeriesPoints points = aegis::pg::ReadSeries(series_id, since, until);
  Datum values[2];
  bool nulls[] = {false, false};
  for (size_t i = 0; i < points.size(); ++i) {
    values[0] = TimestampTzGetDatum(points.ts[i]);
    values[1] = Float8GetDatum(points.values[i]);
    EmitRow(fcinfo, values, nulls);
  }
  SpiFinish();
  return static_cast<Datum>(0);
}
