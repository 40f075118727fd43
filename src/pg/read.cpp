// Reading: aegis.find_series, aegis.series_points (one series' points,
// compressed blocks merged with recent rows, recent rows winning) and
// aegis.latest. aegis.read is inlined SQL over the first two
// (src/sql/10_functions.sql).
#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/series_points.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/engine_stats.h"
#include "pg/packed.h"
#include "pg/series_query.h"
#include "pg/spi.h"
#include "pg/store.h"

extern "C" {
#include "access/table.h"
}

namespace aegis::pg {

namespace {

// Appends one row to the function's result tuplestore.
void EmitRow(FunctionCallInfo fcinfo, Datum* values, bool* nulls) {
  auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  PgCall([&] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls); });
}

// Emits points [begin, end) of points as (ts, value) rows.
void EmitPoints(FunctionCallInfo fcinfo, const core::SeriesPoints& points, size_t begin, size_t end) {
  Datum values[2];
  bool nulls[] = {false, false};
  for (size_t i = begin; i < end; ++i) {
    values[0] = TimestampTzGetDatum(points.ts[i]);
    values[1] = Float8GetDatum(points.values[i]);
    EmitRow(fcinfo, values, nulls);
  }
}

// Emits the points of one series with since <= ts < until in time order:
// blocks read through a cursor and decoded one at a time, recent rows
// emitted between them or merged over the block whose range they fall in
// (newer wins). Memory holds one block and the range's recent rows; the
// rows go to the result's tuplestore, which spills past work_mem.
void EmitSeries(FunctionCallInfo fcinfo, int64_t series_id, core::Timestamp since, core::Timestamp until) {
  const core::SeriesPoints recent = FetchRecent(series_id, since, until);
  size_t next_recent = 0;
  core::SeriesPoints decoded;
  BlockCursor blocks({series_id}, since, until);
  while (const BlockRef* block = blocks.Next()) {
    const core::BlockSummary& s = block->summary;
    const size_t recent_before = core::LowerBound(recent, s.ts_min);
    EmitPoints(fcinfo, recent, next_recent, recent_before);
    const size_t recent_inside =
        s.ts_max == core::kTimestampInfinity ? recent.size() : core::LowerBound(recent, s.ts_max + 1);
    decoded.clear();
    DecodeStoredBlock(series_id, *block, &decoded, until, since);
    const core::SeriesPoints* points = &decoded;
    core::SeriesPoints merged;
    if (recent_inside > recent_before) {
      core::SeriesPoints overlay;
      overlay.Append(recent, recent_before, recent_inside);
      merged = core::MergeNewerWins(decoded, overlay);
      points = &merged;
    }
    next_recent = recent_inside;
    // A block may extend beyond the range on either side.
    EmitPoints(fcinfo, *points, core::LowerBound(*points, since), core::LowerBound(*points, until));
    CheckForInterrupts();
  }
  EmitPoints(fcinfo, recent, next_recent, recent.size());
}

SPIPlanPtr last_points_plan = nullptr;
SPIPlanPtr all_last_points_plan = nullptr;
SPIPlanPtr newest_of_plan = nullptr;

// The newest point of each series: for the ones this transaction wrote, read
// from their recent rows and blocks (their aegis.last_points rows are only
// brought up to date as it commits); for the others, from aegis.last_points.
// Asking for at least this many series may scan aegis.last_points whole.
constexpr size_t kScanLastPointsAbove = 256;

// The planner's estimate of the rows of aegis.last_points (0 when unknown).
double LastPointsRowEstimate() {
  return PgCall([] {
    const Oid aegis = get_namespace_oid("aegis", false);
    const Oid relid = get_relname_relid("last_points", aegis);
    if (!OidIsValid(relid)) return 0.0;
    Relation rel = table_open(relid, AccessShareLock);
    const double tuples = rel->rd_rel->reltuples;
    table_close(rel, AccessShareLock);
    return tuples;
  });
}

}  // namespace

std::unordered_map<int64_t, std::pair<TimestampTz, double>> NewestPoints(const std::vector<int64_t>& ids) {
  std::unordered_map<int64_t, std::pair<TimestampTz, double>> newest;
  const std::vector<int64_t> written = SeriesWrittenInTransaction();
  std::vector<int64_t> from_storage;
  std::set_intersection(ids.begin(), ids.end(), written.begin(), written.end(), std::back_inserter(from_storage));
  // Keeps the rows of SPI_tuptable; from last_points (skip_written) only
  // those of series asked for (ids is sorted) and not written here.
  const auto collect = [&](bool skip_written) {
    for (uint64 i = 0; i < SPI_processed; ++i) {
      bool isnull = false;
      const int64_t id = DatumGetInt64(ResultValue(i, 1, &isnull));
      if (skip_written && (std::binary_search(from_storage.begin(), from_storage.end(), id) ||
                           !std::binary_search(ids.begin(), ids.end(), id)))
        continue;
      const TimestampTz ts = DatumGetTimestampTz(ResultValue(i, 2, &isnull));
      newest[id] = {ts, DatumGetFloat8(ResultValue(i, 3, &isnull))};
    }
  };
  // Many of the table's series (a dashboard's "newest of everything"): one
  // scan of the table, filtered here, instead of an index probe per series.
  const bool scan = ids.size() >= kScanLastPointsAbove && ids.size() * 2 >= LastPointsRowEstimate();
  PgCall([&] {
    static const Oid types[] = {INT8ARRAYOID};
    if (scan) {
      RunPlan(&all_last_points_plan, "SELECT series_id, ts, value FROM aegis.last_points", 0, nullptr, nullptr,
              Snap::kReadOnly);
      return;
    }
    Datum values[] = {Int64Array(ids.data(), ids.size(), INT8OID)};
    RunPlan(&last_points_plan, "SELECT series_id, ts, value FROM aegis.last_points WHERE series_id = ANY ($1)", 1,
            types, values, Snap::kReadOnly);
  });
  collect(true);
  if (!from_storage.empty()) {
    PgCall([&] {
      static const Oid types[] = {INT8ARRAYOID};
      Datum values[] = {Int64Array(from_storage.data(), from_storage.size(), INT8OID)};
      // With the caller's rights: its row-level security applies.
      RunPlan(&newest_of_plan, NewestPointsQuery(),
              1, types, values, Snap::kReadOnly);
    });
    collect(false);
  }
  OverlayNewestPacked(ids, &newest);
  return newest;
}

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
    if ((row.series_id & 1023) == 0) aegis::pg::CheckForInterrupts();
    Datum values[] = {Int64GetDatum(row.series_id), row.metric, row.tags};
    bool nulls[] = {false, false, false};
    EmitRow(fcinfo, values, nulls);
  }
  Release(&matched);
  SpiFinish();
  return static_cast<Datum>(0);
}

// aegis.latest(selector): the newest point of every matching series, in
// series_id order.
AEGIS_PG_FUNCTION(aegis_latest) {
  aegis::pg::CountStat(aegis::pg::Stat::kQueries, 1);
  RequireNotNull(fcinfo, 0, "selector");
  InitMaterializedSRF(fcinfo, 0);
  std::string selector = TextArgument(fcinfo, 0, "selector");
  SpiConnect();
  aegis::pg::MatchedSeries matched = aegis::pg::FindMatchingSeries(selector);
  std::vector<int64_t> ids;
  ids.reserve(matched.rows.size());
  for (const aegis::pg::SeriesRow& row : matched.rows) ids.push_back(row.series_id);
  if (!ids.empty()) {
    const auto newest = aegis::pg::NewestPoints(ids);
    for (const aegis::pg::SeriesRow& row : matched.rows) {
      const auto it = newest.find(row.series_id);
      if (it == newest.end()) continue;
      Datum values[] = {Int64GetDatum(row.series_id), row.metric, row.tags, TimestampTzGetDatum(it->second.first),
                        Float8GetDatum(it->second.second)};
      bool nulls[] = {false, false, false, false, false};
      EmitRow(fcinfo, values, nulls);
    }
  }
  Release(&matched);
  SpiFinish();
  return static_cast<Datum>(0);
}

// aegis._read_arguments(selector, since, until): aegis.read's NULL checks,
// made once per call of the SQL function that joins find_series and
// series_points; returns the selector.
AEGIS_PG_FUNCTION(aegis_read_arguments) {
  aegis::pg::CountStat(aegis::pg::Stat::kQueries, 1);
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
  aegis::pg::EmitSeries(fcinfo, series_id, since, until);
  SpiFinish();
  return static_cast<Datum>(0);
}
