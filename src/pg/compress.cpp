// aegis.compress(): packs recent points older than a cutoff into blocks.
//
// Compress never waits for anyone, so it can never be part of a deadlock:
// it takes each series' catalog row (KEY SHARE), the series' rewrite lock and
// its recent rows with SKIP LOCKED or a try-lock, in ascending series id, and
// leaves whatever is locked to the next round: a series being deleted, a
// series another session is rewriting, rows a writer has not committed yet.
// A series whose blocks do not decode is skipped with a WARNING (the error
// names it); recent rows whose series no longer exists (left by raw DML on
// the catalog) are removed.
#include <algorithm>
#include <string>
#include <vector>

#include "core/block_cut.h"
#include "core/error.h"
#include "core/series_points.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/catalog.h"
#include "pg/guc.h"
#include "pg/maintenance.h"
#include "pg/partitions.h"
#include "pg/privileges.h"
#include "pg/spi.h"
#include "pg/store.h"

namespace aegis::pg {

namespace {

SPIPlanPtr series_to_compress_plan = nullptr;
SPIPlanPtr series_exists_plan = nullptr;
SPIPlanPtr take_recent_plan = nullptr;
SPIPlanPtr delete_taken_plan = nullptr;
SPIPlanPtr delete_orphan_recent_plan = nullptr;
SPIPlanPtr delete_orphan_blocks_plan = nullptr;

// Series that have recent points older than cutoff, in series order.
std::vector<int64_t> SeriesWithRecentBefore(TimestampTz cutoff) {
  std::vector<int64_t> ids;
  PgCall([&] {
    static const Oid types[] = {TIMESTAMPTZOID};
    Datum args[] = {TimestampTzGetDatum(cutoff)};
    RunPlan(&series_to_compress_plan, "SELECT DISTINCT series_id FROM aegis.recent_points WHERE ts < $1 ORDER BY 1",
            1, types, args, Snap::kReadOnly);
  });
  ids.reserve(SPI_processed);
  for (uint64 i = 0; i < SPI_processed; ++i) {
    bool isnull = false;
    ids.push_back(DatumGetInt64(ResultValue(i, 1, &isnull)));
  }
  PgCall([] { SPI_freetuptable(SPI_tuptable); });
  return ids;
}


// Removes the points of a series that no longer exists; returns how many
// recent rows went.
uint64 RemoveOrphanPoints(int64_t series_id) {
  return PgCall([&] {
    static const Oid types[] = {INT8OID};
    Datum values[] = {Int64GetDatum(series_id)};
    RunPlan(&delete_orphan_recent_plan, "DELETE FROM aegis.recent_points WHERE series_id = $1", 1, types, values,
            Snap::kLatest);
    const uint64 removed = SPI_processed;
    RunPlan(&delete_orphan_blocks_plan, "DELETE FROM aegis.blocks WHERE series_id = $1", 1, types, values,
            Snap::kLatest);
    return removed;
  });
}

// The series' recent points older than cutoff that no one else holds, locked.
core::SeriesPoints LockRecentBefore(int64_t series_id, TimestampTz cutoff) {
  PgCall([&] {
    static const Oid types[] = {INT8OID, TIMESTAMPTZOID};
    Datum values[] = {Int64GetDatum(series_id), TimestampTzGetDatum(cutoff)};
    RunPlan(&take_recent_plan,
            "SELECT ts, value FROM aegis.recent_points WHERE series_id = $1 AND ts < $2 ORDER BY ts "
            "FOR UPDATE SKIP LOCKED",
            2, types, values, Snap::kLatest);
  });
  core::SeriesPoints points;
  points.ts.resize(SPI_processed);
  points.values.resize(SPI_processed);
  for (uint64 i = 0; i < SPI_processed; ++i) {
    bool isnull = false;
    points.ts[i] = DatumGetTimestampTz(ResultValue(i, 1, &isnull));
    points.values[i] = DatumGetFloat8(ResultValue(i, 2, &isnull));
  }
  PgCall([] { SPI_freetuptable(SPI_tuptable); });
  return points;
}

// Deletes the recent rows at the given timestamps (rows this transaction
// locked).
void DeleteRecentAt(int64_t series_id, const core::SeriesPoints& points) {
  PgCall([&] {
    static const Oid types[] = {INT8OID, TIMESTAMPTZARRAYOID};
    Datum values[] = {Int64GetDatum(series_id), Int64Array(points.ts.data(), points.size(), TIMESTAMPTZOID)};
    RunPlan(&delete_taken_plan, "DELETE FROM aegis.recent_points WHERE series_id = $1 AND ts = ANY ($2)", 2, types,
            values, Snap::kLatest);
    pfree(DatumGetPointer(values[1]));
  });
}

// Finds or creates the partitions of every point, so that all of them go
// into blocks (none stays a recent row, which compress then deletes); false
// when one cannot be created now (another transaction is creating or
// dropping partitions): the series waits for the next round.
bool PartitionsReady(const core::SeriesPoints& points) {
  for (size_t i = 0; i < points.size();) {
    const PartitionRange partition = FindPartition(points.ts[i]);
    if (!partition.exists) return false;
    i = static_cast<size_t>(std::lower_bound(points.ts.begin(), points.ts.end(), partition.hi) - points.ts.begin());
  }
  return true;
}

SPIPlanPtr compress_on_shard_plan = nullptr;
SPIPlanPtr recent_range_plan = nullptr;

// The first and last time of the series' recent rows in [from, cutoff);
// false when there is none.
bool RecentRange(int64_t series_id, TimestampTz from, TimestampTz cutoff, TimestampTz* lo, TimestampTz* hi) {
  return PgCall([&] {
    static const Oid types[] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
    Datum values[] = {Int64GetDatum(series_id), TimestampTzGetDatum(from), TimestampTzGetDatum(cutoff)};
    RunPlan(&recent_range_plan,
            "SELECT min(ts), max(ts) FROM aegis.recent_points WHERE series_id = $1 AND ts >= $2 AND ts < $3", 3, types,
            values, Snap::kLatest);
    bool isnull = false;
    *lo = DatumGetTimestampTz(ResultValue(0, 1, &isnull));
    if (!isnull) *hi = DatumGetTimestampTz(ResultValue(0, 2, &isnull));
    SPI_freetuptable(SPI_tuptable);
    return !isnull;
  });
}

// CompressSeries under Citus, after the series is locked: finds or creates
// the partitions of its recent rows older than cutoff (each a probe of the
// shard: the first row after the last partition found), then calls
// aegis._compress_on_shard, which Citus runs on the node that holds the
// series (a distributed function, src/sql/42_distribute.sql): the blocks are
// decoded, merged and encoded there, and only the counts come back. Rows in
// a partition another transaction is creating or dropping right now, and
// every later one, wait for the next round.
int64_t CompressOnShard(int64_t series_id, TimestampTz cutoff) {
  TimestampTz lo = 0;
  TimestampTz hi = 0;
  TimestampTz first = 0;
  TimestampTz last = 0;
  bool any = false;
  for (TimestampTz from = DT_NOBEGIN; RecentRange(series_id, from, cutoff, &lo, &hi);) {
    const PartitionRange partition = FindPartition(lo);
    if (!partition.exists) break;
    if (!any) first = lo;
    any = true;
    last = std::min(hi, partition.hi - 1);
    if (hi < partition.hi) break;
    from = partition.hi;
  }
  if (!any) return 0;
  Datum starts = 0;
  const Datum ends = PgCall([&] { return PartitionEndsArray(&starts); });
  const core::BlockLimits limits = StoredBlockLimits();
  const size_t full_bytes = core::FullBlockPayloadBytes(limits);
  static const Oid types[] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZARRAYOID,
                              TIMESTAMPTZARRAYOID, INT4OID, INT4OID, INT8OID};
  Datum values[] = {Int64GetDatum(series_id),
                    TimestampTzGetDatum(first),
                    TimestampTzGetDatum(last),
                    TimestampTzGetDatum(BlockScanStart(first, true)),
                    starts,
                    ends,
                    Int32GetDatum(static_cast<int32>(limits.max_points)),
                    Int32GetDatum(static_cast<int32>(limits.max_bytes)),
                    Int64GetDatum(static_cast<int64>(std::min<size_t>(full_bytes, PG_INT64_MAX)))};
  std::string failure;
  int failure_state = ERRCODE_DATA_CORRUPTED;
  const int64_t taken = RewriteOnShard(&compress_on_shard_plan,
                                       "SELECT points_taken, block_starts, block_ends, failure, failure_state"
                                       "  FROM aegis._compress_on_shard($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                                       9, types, values, &failure, &failure_state);
  // (The job runs every series in one memory context.)
  PgCall([&] {
    pfree(DatumGetPointer(starts));
    pfree(DatumGetPointer(ends));
  });
  // As CompressSeries reports a series whose blocks do not decode.
  if (!failure.empty())
    PgCall([&] {
      ereport(WARNING, (errcode(failure_state), errmsg("%s", failure.c_str()),
                        errhint("aegis.compress() skipped this series.")));
    });
  return taken;
}

}  // namespace

SeriesState LockSeriesForMaintenance(int64_t series_id, bool wait) {
  const SeriesState state = PgCall([&] {
    static const Oid types[] = {INT8OID};
    Datum values[] = {Int64GetDatum(series_id)};
    ExecuteCatalogLock(CatalogLock::kSeriesKeyShare, wait, 1, types, values);
    if (SPI_processed == 1) return SeriesState::kLocked;
    RunPlan(&series_exists_plan, "SELECT 1 FROM aegis.series WHERE series_id = $1", 1, types, values,
            Snap::kLatest);
    return SPI_processed == 1 ? SeriesState::kBusy : SeriesState::kGone;
  });
  if (state != SeriesState::kLocked) return state;
  NoteSeriesRowsHeld();  // later statements must not wait
  if (wait) {
    LockSeriesForRewrite(series_id);
    return SeriesState::kLocked;
  }
  return TryLockSeriesForRewrite(series_id) ? SeriesState::kLocked : SeriesState::kBusy;
}

std::vector<int64_t> SeriesToCompress(TimestampTz cutoff) { return SeriesWithRecentBefore(cutoff); }

int64_t CompressSeries(int64_t series_id, TimestampTz cutoff) {
  CheckForInterrupts();
  const SeriesState state = LockSeriesForMaintenance(series_id, false);
  if (state == SeriesState::kGone) {
    // Another compress removing the same orphan holds its rewrite lock:
    // leave it to that one rather than wait.
    if (!TryLockSeriesForRewrite(series_id)) return 0;
    // Usually a delete that committed after the list was made, which took
    // its points with it; anything left is an orphan worth a warning.
    const uint64 removed = RemoveOrphanPoints(series_id);
    if (removed > 0) {
      PgCall([&] {
        ereport(WARNING, (errmsg("removed " UINT64_FORMAT " recent points of series " INT64_FORMAT
                                 ", which no longer exists",
                                 removed, series_id)));
      });
    }
    return 0;
  }
  if (state == SeriesState::kBusy) return 0;
  if (UnderCitus() && SegmentsColumnExists()) return CompressOnShard(series_id, cutoff);
  core::SeriesPoints points = LockRecentBefore(series_id, cutoff);
  if (points.empty() || !PartitionsReady(points)) return 0;
  try {
    MergeIntoBlocks(series_id, points, false);
  } catch (const core::Error& e) {
    // A corrupt block is found while decoding, before anything is written.
    if (e.category() != core::ErrorCategory::DataCorrupted) throw;
    const std::string message = e.what();
    const std::string detail = e.detail();
    PgCall([&] {
      ereport(WARNING, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("%s", message.c_str()),
                        errdetail("%s", detail.c_str()), errhint("aegis.compress() skipped this series.")));
    });
    return 0;
  }
  DeleteRecentAt(series_id, points);
  return static_cast<int64_t>(points.size());
}

}  // namespace aegis::pg

// aegis.compress(older_than): packs points older than now() - older_than
// (default aegis.compress_after); returns points packed.
AEGIS_PG_FUNCTION(aegis_compress) {
  Interval* older_than = PG_ARGISNULL(0) ? aegis::pg::CompressAfter() : PG_GETARG_INTERVAL_P(0);
  TimestampTz cutoff = DatumGetTimestampTz(DirectFunctionCall2(
      timestamptz_mi_interval, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
      IntervalPGetDatum(older_than)));
  aegis::pg::SpiConnect();
  int64_t packed = 0;
  {
    aegis::pg::AsTableOwner owner;
    packed = aegis::pg::RunJob(aegis::pg::CompressJob(GetCurrentTransactionStartTimestamp(), cutoff, false));
  }
  aegis::pg::SpiFinish();
  PG_RETURN_INT64(packed);
}
