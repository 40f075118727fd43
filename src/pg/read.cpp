// Reading: aegis.find_series, aegis.series_points (one series' points,
// compressed blocks merged with recent rows, recent rows winning) and
// aegis.latest. aegis.read is inlined SQL over the first two
// (src/sql/10_functions.sql).
#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/series_points.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/engine_stats.h"
#include "pg/packed.h"
#include "pg/partitions.h"
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

// Emits one block's points (in [since, until), time order) with the recent
// points up to its last one merged over them (newer wins); next_recent is
// the first recent point not emitted yet. The blocks of a series come in
// time order and never overlap.
void EmitBlockWithRecent(FunctionCallInfo fcinfo, const core::SeriesPoints& decoded, const core::SeriesPoints& recent,
                         size_t* next_recent) {
  if (decoded.empty()) return;
  const size_t recent_end = std::max(*next_recent, core::LowerBound(recent, decoded.ts.back() + 1));
  if (recent_end == *next_recent) {
    EmitPoints(fcinfo, decoded, 0, decoded.size());
    return;
  }
  core::SeriesPoints overlay;
  overlay.Append(recent, *next_recent, recent_end);
  const core::SeriesPoints merged = core::MergeNewerWins(decoded, overlay);
  EmitPoints(fcinfo, merged, 0, merged.size());
  *next_recent = recent_end;
}

// At most about this many points of blocks go to aegis._points_of in one
// statement (its blocks travel as one array: well under a few MB, far below
// PostgreSQL's 1 GB; the worker holds the array and one decoded block).
constexpr int64_t kShardWindowPoints = 100000;

// The windows [lo, hi) that EmitSeriesOnShard reads the series in, one
// statement each: each starts where one of its blocks starts (the first at
// since) and holds blocks of at most kShardWindowPoints points together
// (at least one block), from the series' blocks in the range (ts_min and
// point_count, in time order).
std::vector<std::pair<core::Timestamp, core::Timestamp>> ShardWindows(
    const std::vector<std::pair<core::Timestamp, int64_t>>& blocks, core::Timestamp since, core::Timestamp until) {
  std::vector<std::pair<core::Timestamp, core::Timestamp>> windows{{since, until}};
  int64_t points = 0;
  for (const auto& [ts_min, count] : blocks) {
    if (points > 0 && points + count > kShardWindowPoints && ts_min > windows.back().first) {
      windows.back().second = ts_min;
      windows.emplace_back(ts_min, until);
      points = 0;
    }
    points += count;
  }
  return windows;
}

// Under Citus: the series' points decoded on the worker that holds them.
// Its blocks in the range are listed first (start and point count); then
// a statement per window of them, filtered on the series in both of its
// tables, so Citus sends it whole to the series' shard, which applies
// aegis._points_of to the window's block rows and recent rows there; the
// rows come back through a cursor, a batch at a time.
void EmitSeriesOnShard(FunctionCallInfo fcinfo, int64_t series_id, core::Timestamp since, core::Timestamp until) {
  const core::Timestamp scan_start = BlockScanStart(since);
  std::vector<std::pair<core::Timestamp, int64_t>> blocks;
  {
    static SPIPlanPtr plan = nullptr;
    static const Oid types[] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
    Datum values[] = {Int64GetDatum(series_id), TimestampTzGetDatum(since), TimestampTzGetDatum(until),
                      TimestampTzGetDatum(scan_start)};
    RunPlan(&plan,
            "SELECT ts_min, point_count FROM aegis.blocks"
            " WHERE series_id = $1 AND ts_min < $3 AND ts_max >= $2 AND ts_min >= $4 ORDER BY ts_min",
            4, types, values, Snap::kReadOnly);
    blocks.reserve(SPI_processed);
    for (uint64 i = 0; i < SPI_processed; ++i) {
      bool isnull = false;
      blocks.emplace_back(DatumGetTimestampTz(ResultValue(i, 1, &isnull)), DatumGetInt32(ResultValue(i, 2, &isnull)));
    }
    PgCall([] { SPI_freetuptable(SPI_tuptable); });
  }
  constexpr long kBatchRows = 10000;
  Datum row[2];
  bool nulls[] = {false, false};
  const auto windows = ShardWindows(blocks, since, until);
  for (size_t w = 0; w < windows.size(); ++w) {
    const core::Timestamp lo = windows[w].first, hi = windows[w].second;
    // A later window's blocks all start in it (blocks never overlap).
    const core::Timestamp from = w == 0 ? scan_start : lo;
    const Portal portal = PgCall([&] {
      static SPIPlanPtr plan = nullptr;
      static const Oid types[] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
      Datum values[] = {Int64GetDatum(series_id), TimestampTzGetDatum(lo), TimestampTzGetDatum(hi),
                        TimestampTzGetDatum(from)};
      SPIPlanPtr prepared =
          KeptPlan(&plan,
                   "SELECT x.ts, x.value"
                   "  FROM (SELECT array_agg(data ORDER BY ts_min) AS blocks,"
                   "               array_agg(point_count ORDER BY ts_min) AS counts FROM aegis.blocks"
                   "         WHERE series_id = $1 AND ts_min < $3 AND ts_max >= $2 AND ts_min >= $4) b,"
                   "       (SELECT array_agg(ts ORDER BY ts) AS ts, array_agg(value ORDER BY ts) AS vals"
                   "          FROM aegis.recent_points WHERE series_id = $1 AND ts >= $2 AND ts < $3) r,"
                   "       LATERAL aegis._points_of($1, b.blocks, b.counts, r.ts, r.vals, $2, $3) x",
                   4, types);
      return SPI_cursor_open(nullptr, prepared, values, nullptr, true);
    });
    ForEachCursorRow(portal, kBatchRows, [&](uint64 i) {
      bool isnull = false;
      row[0] = ResultValue(i, 1, &isnull);
      row[1] = ResultValue(i, 2, &isnull);
      EmitRow(fcinfo, row, nulls);
    });
  }
}

// Emits the points of one series with since <= ts < until in time order:
// blocks read through a cursor and decoded one at a time, recent rows
// emitted between them or merged over the block whose range they fall in
// (newer wins). Memory holds one block and the range's recent rows; the
// rows go to the result's tuplestore, which spills past work_mem. Under
// Citus the worker that holds the series does this (EmitSeriesOnShard).
void EmitSeries(FunctionCallInfo fcinfo, int64_t series_id, core::Timestamp since, core::Timestamp until) {
  if (PgCall([] { return DataDistributed(); })) return EmitSeriesOnShard(fcinfo, series_id, since, until);
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

// aegis._points_of(series_id, blocks, counts, ts, vals, since, until): the
// points of one series with since <= ts < until, in time order, from its
// block rows' data and point counts (in time order) and its recent rows (ts ascending; a recent
// row replaces a block point at its time). A pure function of its
// arguments, so Citus runs it on the shard that holds the series
// (EmitSeriesOnShard; docs/scale-out.md). Blocks are decoded one at a time
// and the rows go to a tuplestore, as aegis.series_points does.
AEGIS_PG_FUNCTION(aegis_points_of) {
  for (int i : {0, 5, 6})
    if (PG_ARGISNULL(i))
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("series_id, since and until must not be NULL")));
  const int64 series_id = PG_GETARG_INT64(0);
  const TimestampTz since = PG_GETARG_TIMESTAMPTZ(5);
  const TimestampTz until = PG_GETARG_TIMESTAMPTZ(6);
  const aegis::pg::BlockArrays blocks = aegis::pg::BlockArrayArguments(fcinfo, 1);
  const aegis::pg::PointArrays recent_rows = aegis::pg::PointArrayArguments(fcinfo, 3);
  InitMaterializedSRF(fcinfo, 0);

  // C++ from here on: no PostgreSQL call outside PgCall.
  aegis::core::SeriesPoints recent;
  for (int i = 0; i < recent_rows.n; ++i) {
    const TimestampTz ts = DatumGetTimestampTz(recent_rows.ts[i]);
    if (ts >= since && ts < until) recent.push_back(ts, DatumGetFloat8(recent_rows.values[i]));
  }
  size_t next_recent = 0;
  aegis::core::SeriesPoints decoded;
  bool any = false;
  aegis::core::Timestamp last = 0;  // the last point of the blocks so far
  for (int i = 0; i < blocks.n; ++i) {
    decoded.clear();
    const int32 count = DatumGetInt32(blocks.counts[i]);
    if (count <= 0)
      throw aegis::core::Error(aegis::core::ErrorCategory::InvalidParameter, "counts must be positive",
                               "Count " + std::to_string(i + 1) + " is " + std::to_string(count) + ".");
    aegis::pg::DecodeBlockData(series_id, blocks.blocks[i], &decoded, {}, static_cast<uint32_t>(count), until, since);
    if (decoded.empty()) continue;
    // Stored blocks of a series never overlap: overlapping ones are damage.
    if (any && decoded.ts.front() <= last)
      throw aegis::core::Error(aegis::core::ErrorCategory::DataCorrupted, "blocks out of time order in series " +
                                                                                std::to_string(series_id),
                               "Block " + std::to_string(i + 1) + " starts before the blocks before it end.");
    any = true;
    last = decoded.ts.back();
    aegis::pg::EmitBlockWithRecent(fcinfo, decoded, recent, &next_recent);
    aegis::pg::CheckForInterrupts();
  }
  aegis::pg::EmitPoints(fcinfo, recent, next_recent, recent.size());
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
