// Retention and merging (API.md section 6): aegis.set_retention,
// aegis.apply_retention and aegis.merge_blocks, job by job and series by
// series (pg/maintenance.h).
#include <algorithm>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "core/block_cut.h"
#include "core/series_points.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/catalog.h"
#include "pg/guc.h"
#include "pg/maintenance.h"
#include "pg/packed.h"
#include "pg/partitions.h"
#include "pg/privileges.h"
#include "pg/rollup.h"
#include "pg/spi.h"
#include "pg/store.h"

extern "C" {
#include "storage/lmgr.h"
}

namespace aegis::pg {

namespace {

SPIPlanPtr series_to_trim_plan = nullptr;
SPIPlanPtr delete_old_blocks_plan = nullptr;
SPIPlanPtr delete_old_recent_plan = nullptr;
SPIPlanPtr global_cutoff_plan = nullptr;
SPIPlanPtr set_retention_plan = nullptr;

Datum DefaultRetentionDatum(char* isnull) {
  Interval* keep = DefaultRetention();
  *isnull = keep == nullptr ? 'n' : ' ';
  return keep == nullptr ? Datum(0) : IntervalPGetDatum(keep);
}

std::vector<int64_t> SeriesIdsOfResult() {
  std::vector<int64_t> ids(SPI_processed);
  for (uint64 i = 0; i < SPI_processed; ++i) {
    bool isnull = false;
    ids[i] = DatumGetInt64(ResultValue(i, 1, &isnull));
  }
  SPI_freetuptable(SPI_tuptable);
  return ids;
}

std::vector<SeriesWork> SeriesToTrim(TimestampTz now) {
  return PgCall([&] {
    static const Oid types[] = {TIMESTAMPTZOID, INTERVALOID};
    char nulls[] = {' ', ' '};
    Datum values[] = {TimestampTzGetDatum(now), DefaultRetentionDatum(&nulls[1])};
    // One index probe per series and table; under Citus, whose planner
    // cannot push a catalog row's probes into the shards, the data tables
    // are joined to the catalog instead, on their distribution column.
    if (!UnderCitus())
      RunPlan(&series_to_trim_plan,
              "SELECT s.series_id, c.cutoff"
              "  FROM aegis.metric_catalog m"
              "  CROSS JOIN LATERAL (SELECT $1 - coalesce(m.retention, $2) AS cutoff) c"
              "  JOIN aegis.series s ON s.metric = m.name"
              " WHERE c.cutoff IS NOT NULL"
              "   AND (EXISTS (SELECT 1 FROM aegis.blocks b WHERE b.series_id = s.series_id AND b.ts_min < c.cutoff)"
              "        OR EXISTS (SELECT 1 FROM aegis.recent_points r"
              "                    WHERE r.series_id = s.series_id AND r.ts < c.cutoff)"
              "        OR EXISTS (SELECT 1 FROM aegis.rollups u WHERE u.series_id = s.series_id AND u.ts_min < c.cutoff))"
              " ORDER BY 1",
              2, types, values, Snap::kReadOnly, 0, nulls);
    else
      RunPlan(&series_to_trim_plan,
              "WITH cutoffs AS (SELECT s.series_id, $1 - coalesce(m.retention, $2) AS cutoff"
              "                   FROM aegis.metric_catalog m JOIN aegis.series s ON s.metric = m.name"
              "                  WHERE $1 - coalesce(m.retention, $2) IS NOT NULL)"
              "SELECT c.series_id, c.cutoff FROM cutoffs c"
              " WHERE c.series_id IN (SELECT b.series_id FROM aegis.blocks b JOIN cutoffs x USING (series_id)"
              "                        WHERE b.ts_min < x.cutoff"
              "                       UNION SELECT r.series_id FROM aegis.recent_points r JOIN cutoffs x USING (series_id)"
              "                        WHERE r.ts < x.cutoff"
              "                       UNION SELECT u.series_id FROM aegis.rollups u JOIN cutoffs x USING (series_id)"
              "                        WHERE u.ts_min < x.cutoff)"
              " ORDER BY 1",
              2, types, values, Snap::kReadOnly, 0, nulls);
    std::vector<SeriesWork> trims(SPI_processed);
    for (uint64 i = 0; i < SPI_processed; ++i) {
      bool isnull = false;
      trims[i].series_id = DatumGetInt64(ResultValue(i, 1, &isnull));
      trims[i].cutoff = DatumGetTimestampTz(ResultValue(i, 2, &isnull));
    }
    SPI_freetuptable(SPI_tuptable);
    return trims;
  });
}

int64_t TrimSeries(const SeriesWork& trim, bool wait) {
  CheckForInterrupts();
  if (LockSeriesForMaintenance(trim.series_id, wait) != SeriesState::kLocked) return 0;
  // Whole blocks and recent rows by index; then the one block that holds
  // the cutoff is decoded and rewritten.
  const int64_t removed = PgCall([&] {
    static const Oid types[] = {INT8OID, TIMESTAMPTZOID};
    Datum values[] = {Int64GetDatum(trim.series_id), TimestampTzGetDatum(trim.cutoff)};
    RunPlan(&delete_old_blocks_plan,
            "WITH gone AS (DELETE FROM aegis.blocks WHERE series_id = $1 AND ts_min < $2 AND ts_max < $2"
            "              RETURNING point_count)"
            "SELECT coalesce(sum(point_count), 0)::bigint FROM gone",
            2, types, values, Snap::kLatest);
    bool isnull = false;
    int64_t count = DatumGetInt64(ResultValue(0, 1, &isnull));
    SPI_freetuptable(SPI_tuptable);
    RunPlan(&delete_old_recent_plan, "DELETE FROM aegis.recent_points WHERE series_id = $1 AND ts < $2", 2, types,
            values, Snap::kLatest);
    return count + static_cast<int64_t>(SPI_processed);
  });
  const int64_t points = DeletePointsOfSeries(trim.series_id, DT_NOBEGIN, trim.cutoff);
  // The statements above may have taken the series' newest point (a series
  // no longer written); DeletePointsOfSeries refreshed it only if it removed
  // points itself.
  if (removed > 0 && points == 0) RefreshLastPoints({trim.series_id});
  return removed + points + TrimRolledUpSteps(trim.series_id, trim.cutoff);
}

int64_t DropExpiredPartitions(TimestampTz now) {
  // The oldest cutoff of any metric that has series; none when one of them
  // keeps its points forever.
  const TimestampTz everyone_cutoff = PgCall([&] {
    static const Oid types[] = {TIMESTAMPTZOID, INTERVALOID};
    char nulls[] = {' ', ' '};
    Datum values[] = {TimestampTzGetDatum(now), DefaultRetentionDatum(&nulls[1])};
    RunPlan(&global_cutoff_plan,
            "SELECT CASE WHEN bool_and(coalesce(m.retention, $2) IS NOT NULL)"
            "            THEN min($1 - coalesce(m.retention, $2)) END"
            "  FROM aegis.metric_catalog m WHERE EXISTS (SELECT 1 FROM aegis.series s WHERE s.metric = m.name)",
            2, types, values, Snap::kReadOnly, 0, nulls);
    bool isnull = false;
    const Datum cutoff = ResultValue(0, 1, &isnull);
    SPI_freetuptable(SPI_tuptable);
    return isnull ? DT_NOBEGIN : DatumGetTimestampTz(cutoff);
  });
  int64_t removed = 0;
  for (const PartitionRange& partition : ListPartitions()) {
    if (partition.hi > now || !OidIsValid(partition.relid)) break;  // the present and the future stay
    CheckForInterrupts();
    // Past every cutoff: its points are counted and it goes. Otherwise it
    // goes only when empty, which one row tells.
    const bool expired = partition.hi <= everyone_cutoff;
    int64_t points = 0;
    bool empty = false;
    bool exists = true;
    PgCall([&] {
      // Locked as the query would lock it; a drop another round committed
      // since the list was read is seen here (no name), and skipped.
      LockRelationOid(partition.relid, AccessShareLock);
      const char* name = get_rel_name(partition.relid);
      if (name == nullptr) {
        exists = false;
        return;
      }
      const char* table = quote_qualified_identifier("aegis", name);
      const char* sql = expired ? psprintf("SELECT coalesce(sum(point_count), 0)::bigint FROM %s", table)
                                // (SELECT 1: Citus 13.2 cannot plan a
                                // subquery with no target columns.)
                                : psprintf("SELECT NOT EXISTS (SELECT 1 FROM %s)", table);
      // Not read-only: it must see what this transaction deleted.
      CheckSpiResult(SPI_execute(sql, false, 0), "reading a partition");
      bool isnull = false;
      const Datum value = ResultValue(0, 1, &isnull);
      if (expired) points = DatumGetInt64(value);
      else empty = DatumGetBool(value);
      SPI_freetuptable(SPI_tuptable);
    });
    if (!exists || !(expired || empty)) continue;
    if (TryDropPartition(partition, expired ? DropReason::kExpired : DropReason::kEmpty)) removed += points;
  }
  return removed;
}

// A byte count of core/block_cut.h as a bigint parameter (SIZE_MAX, no
// limit: the largest bigint).
Datum BytesParameter(size_t bytes) {
  return Int64GetDatum(bytes > static_cast<size_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(bytes));
}

// A block row's payload (core::BlockIsFull): its data and segments; a
// 0.1.0 database has no segments.
const char* Payload(bool segments) {
  return segments ? "(octet_length(data) + coalesce(octet_length(segments), 0))" : "octet_length(data)";
}

// Runs of a series' blocks merged at once, at most this many blocks: a
// series' whole history in 1,000-point blocks (a 0.1.0 database upgraded)
// is repacked a run at a time, not decoded whole.
constexpr size_t kMaxRunBlocks = 64;

}  // namespace

std::vector<int64_t> SeriesToMerge() {
  return PgCall([] {
    static const Oid types[] = {INT4OID, INT8OID, INT8OID};
    static SPIPlanPtr plans[2] = {nullptr, nullptr};
    const bool segments = SegmentsColumnExists();
    const core::BlockLimits limits = StoredBlockLimits();
    Datum values[] = {Int32GetDatum(static_cast<int32>(limits.max_points)),
                      BytesParameter(core::FullBlockPayloadBytes(limits)),
                      BytesParameter(core::MergeRoomBytes(limits))};
    // Series with two neighbouring blocks of one partition that are not
    // full and would fit one block together (core::RunShrinks of the pair;
    // every run holding such a pair shrinks too). The window is per series,
    // so Citus computes it on the shards.
    const std::string sql =
        std::string("SELECT DISTINCT series_id FROM (SELECT series_id, point_count AS n, ") + Payload(segments) +
        " AS bytes, lag(point_count) OVER w AS prev_n, lag(" + Payload(segments) +
        ") OVER w AS prev_bytes FROM aegis.blocks WINDOW w AS (PARTITION BY series_id, tableoid ORDER BY ts_min)) b"
        " WHERE n < $1 AND bytes < $2 AND prev_n < $1 AND prev_bytes < $2 AND n + prev_n <= $1"
        " AND bytes + prev_bytes <= $3 ORDER BY 1";
    RunPlan(&plans[segments ? 1 : 0], sql.c_str(), 3, types, values, Snap::kReadOnly);
    return SeriesIdsOfResult();
  });
}

namespace {

SPIPlanPtr repack_on_shard_plan = nullptr;

// MergeSeries under Citus: the run of the series' blocks starting from
// first_start to last_start rewritten by aegis._repack_on_shard, which Citus
// runs on the node that holds the series (a distributed function,
// src/sql/42_distribute.sql), where the blocks are decoded and encoded
// again; returns the points rewritten (0 when the run would not shrink).
int64_t RepackOnShard(int64_t series_id, core::Timestamp first_start, core::Timestamp last_start,
                      const core::BlockLimits& limits) {
  static const Oid types[] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZARRAYOID, INT4OID, INT4OID};
  Datum values[] = {Int64GetDatum(series_id),
                    TimestampTzGetDatum(first_start),
                    TimestampTzGetDatum(last_start),
                    PgCall([] { return PartitionEndsArray(); }),
                    Int32GetDatum(static_cast<int32>(limits.max_points)),
                    Int32GetDatum(static_cast<int32>(limits.max_bytes))};
  const int64_t points = RewriteOnShard(&repack_on_shard_plan,
                                        "SELECT points_rewritten, block_starts, block_ends"
                                        "  FROM aegis._repack_on_shard($1, $2, $3, $4, $5, $6)",
                                        6, types, values);
  // (The job runs every series in one memory context.)
  PgCall([&] { pfree(DatumGetPointer(values[3])); });
  return points;
}

}  // namespace

int64_t MergeSeries(int64_t series_id) {
  CheckForInterrupts();
  if (LockSeriesForMaintenance(series_id, false) != SeriesState::kLocked) return 0;
  // The series' blocks in order, with their partition, size and whether they
  // are full; runs of neighbours that are not, in one partition, are merged
  // where they shrink (core::RunShrinks).
  struct Row {
    int64_t partition;
    core::Timestamp ts_min;
    core::Timestamp ts_max;
    int64_t points;
    int64_t bytes;
    bool small;
  };
  const core::BlockLimits limits = StoredBlockLimits();
  const std::vector<Row> rows = PgCall([&] {
    static const Oid types[] = {INT8OID};
    static SPIPlanPtr plans[2] = {nullptr, nullptr};
    const bool segments = SegmentsColumnExists();
    Datum values[] = {Int64GetDatum(series_id)};
    const std::string sql = std::string("SELECT tableoid::oid::bigint, ts_min, ts_max, point_count::bigint, ") +
                            Payload(segments) + "::bigint FROM aegis.blocks WHERE series_id = $1 ORDER BY ts_min";
    RunPlan(&plans[segments ? 1 : 0], sql.c_str(), 1, types, values, Snap::kLatest);
    std::vector<Row> result(SPI_processed);
    for (uint64 i = 0; i < SPI_processed; ++i) {
      bool isnull = false;
      Row& row = result[i];
      row.partition = DatumGetInt64(ResultValue(i, 1, &isnull));
      row.ts_min = DatumGetTimestampTz(ResultValue(i, 2, &isnull));
      row.ts_max = DatumGetTimestampTz(ResultValue(i, 3, &isnull));
      row.points = DatumGetInt64(ResultValue(i, 4, &isnull));
      row.bytes = DatumGetInt64(ResultValue(i, 5, &isnull));
      row.small = !core::BlockIsFull(static_cast<size_t>(row.points), static_cast<size_t>(row.bytes), limits);
    }
    SPI_freetuptable(SPI_tuptable);
    return result;
  });
  int64_t rewritten = 0;
  // Under Citus each run is rewritten where the series is (RepackOnShard).
  const bool on_shard = UnderCitus() && SegmentsColumnExists();
  for (size_t begin = 0; begin < rows.size();) {
    size_t end = begin;
    while (end < rows.size() && end - begin < kMaxRunBlocks && rows[end].small &&
           rows[end].partition == rows[begin].partition)
      ++end;
    uint64_t run_points = 0;
    uint64_t run_bytes = 0;
    for (size_t k = begin; k < end; ++k) {
      run_points += static_cast<uint64_t>(rows[k].points);
      run_bytes += static_cast<uint64_t>(rows[k].bytes);
    }
    if (!core::RunShrinks(end - begin, run_points, run_bytes, limits)) {
      begin = std::max(end, begin + 1);
      continue;
    }
    if (on_shard) {
      rewritten += RepackOnShard(series_id, rows[begin].ts_min, rows[end - 1].ts_min, limits);
      begin = end;
      continue;
    }
    FetchedBlocks blocks = FetchBlocks(series_id, rows[begin].ts_min, rows[end - 1].ts_max, true);
    std::vector<core::Timestamp> starts;
    core::SeriesPoints points;
    for (const BlockRef& block : blocks.blocks) {
      DecodeStoredBlock(series_id, block, &points);
      starts.push_back(block.summary.ts_min);
    }
    Release(&blocks);
    core::SortAndDeduplicate(&points);
    if (RepackBlocks(series_id, starts, points) > 0) rewritten += static_cast<int64_t>(points.size());
    begin = end;
  }
  return rewritten;
}

namespace {

void PrepareUpcomingPartitions(TimestampTz now) {
  const PartitionRange current = FindPartition(now);
  if (current.hi != DT_NOEND) FindPartition(current.hi);
}

std::vector<SeriesWork> WithCutoff(const std::vector<int64_t>& ids, TimestampTz cutoff) {
  std::vector<SeriesWork> work(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) work[i] = SeriesWork{ids[i], cutoff};
  return work;
}

}  // namespace

MaintenanceJob CompressJob(TimestampTz now, TimestampTz cutoff, bool prepare_partitions) {
  std::function<int64_t()> prepare;
  if (prepare_partitions)
    prepare = [now] {
      PrepareUpcomingPartitions(now);
      return int64_t{0};
    };
  return MaintenanceJob{"compress", prepare,
                        [cutoff] { return WithCutoff(SeriesToCompress(cutoff), cutoff); },
                        [](const SeriesWork& work) { return CompressSeries(work.series_id, work.cutoff); },
                        nullptr, true};
}

MaintenanceJob MergeJob() {
  return MaintenanceJob{"merge", nullptr, [] { return WithCutoff(SeriesToMerge(), DT_NOBEGIN); },
                        [](const SeriesWork& work) { return MergeSeries(work.series_id); }, nullptr};
}

MaintenanceJob RetentionJob(TimestampTz now, bool wait) {
  return MaintenanceJob{"retention", [now] { return DropExpiredPartitions(now); },
                        [now] { return SeriesToTrim(now); },
                        [wait](const SeriesWork& work) { return TrimSeries(work, wait); },
                        [now] { return DropExpiredPartitions(now); }};
}

namespace {

// A copy of error in context, as CopyErrorData makes of the current error:
// the subtransaction's rollback frees the memory an error caught inside it
// lives in.
ErrorData* CopyErrorTo(const ErrorData* error, MemoryContext context) {
  MemoryContext old = MemoryContextSwitchTo(context);
  auto* copy = static_cast<ErrorData*>(palloc(sizeof(ErrorData)));
  *copy = *error;
  for (char** field : {&copy->message, &copy->detail, &copy->detail_log, &copy->hint, &copy->context,
                       &copy->backtrace, &copy->schema_name, &copy->table_name, &copy->column_name,
                       &copy->datatype_name, &copy->constraint_name, &copy->internalquery})
    if (*field != nullptr) *field = pstrdup(*field);
  copy->assoc_context = nullptr;
  MemoryContextSwitchTo(old);
  return copy;
}

}  // namespace

int64_t RunSeriesIsolated(const std::function<int64_t()>& work, SeriesFailure* failure) {
  MemoryContext context = CurrentMemoryContext;
  ResourceOwner owner = CurrentResourceOwner;
  PgCall([] { BeginInternalSubTransaction(nullptr); });
  int sqlstate = 0;
  std::string message;
  ErrorData* error = nullptr;  // a PostgreSQL error, to raise again as it was
  try {
    const int64_t points = work();
    PgCall([&] {
      ReleaseCurrentSubTransaction();
      MemoryContextSwitchTo(context);
      CurrentResourceOwner = owner;
    });
    return points;
  } catch (const PgError& e) {
    sqlstate = e.data()->sqlerrcode;
    message = e.data()->message != nullptr ? e.data()->message : "";
    // Without the copy (no memory) the error is raised again by its code
    // and message alone, below.
    try {
      error = PgCall([&] { return CopyErrorTo(e.data(), context); });
    } catch (...) {
      error = nullptr;
    }
  } catch (const std::bad_alloc&) {
    sqlstate = ERRCODE_OUT_OF_MEMORY;
    message = "out of memory";
  } catch (const std::exception& e) {
    sqlstate = SqlStateOf(e);
    message = e.what();
  }
  PgCall([&] {
    RollbackAndReleaseCurrentSubTransaction();
    MemoryContextSwitchTo(context);
    CurrentResourceOwner = owner;
  });
  const bool series_specific = sqlstate == ERRCODE_DATA_CORRUPTED || sqlstate == ERRCODE_FEATURE_NOT_SUPPORTED ||
                               sqlstate == ERRCODE_UNIQUE_VIOLATION ||
                               ERRCODE_TO_CATEGORY(sqlstate) == ERRCODE_DATA_EXCEPTION;
  if (!series_specific) {
    // With its detail and context (a Citus worker's error names the node
    // there).
    PgCall([&] {
      if (error != nullptr) ReThrowError(error);
      ereport(ERROR, (errcode(sqlstate), errmsg("%s", message.c_str())));
    });
  }
  failure->sqlstate = sqlstate;
  failure->message = message;
  return 0;
}

int64_t RunJob(const MaintenanceJob& job) {
  // Packed batches first, so that the job sees their points in blocks
  // (without waiting inside a transaction that holds series: series others
  // hold keep their points in their batches, for a later round).
  int64_t drained = 0;
  (void)DrainPacked(nullptr, !HoldsSeriesLocks(), &drained);
  // What the drain wrote, the job's reads with the statement's snapshot see.
  SeeOwnWrites see;
  int64_t points = (job.counts_drained ? drained : 0) + (job.before ? job.before() : 0);
  for (const SeriesWork& work : job.series()) points += job.step(work);
  if (job.after) points += job.after();
  return points;
}

int64_t RunJobsAsOwner(const std::vector<MaintenanceJob>& jobs) {
  SpiConnect();
  int64_t points = 0;
  {
    AsTableOwner owner;
    for (const MaintenanceJob& job : jobs) points += RunJob(job);
  }
  SpiFinish();
  return points;
}

void SetMetricColumn(text* metric, SPIPlanPtr* plan, const char* sql, Oid value_type, Datum value, bool isnull) {
  SpiConnect();
  uint64 updated = 0;
  {
    AsTableOwner owner;
    updated = PgCall([&] {
      const Oid types[] = {TEXTOID, value_type};
      Datum values[] = {PointerGetDatum(metric), isnull ? Datum(0) : value};
      const char nulls[] = {' ', isnull ? 'n' : ' '};
      RunPlan(plan, sql, 2, types, values, Snap::kWrite, 0, nulls);
      return SPI_processed;
    });
  }
  SpiFinish();
  if (updated == 0)
    PgCall([&] {
      ereport(ERROR,
              (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("metric \"%s\" does not exist", text_to_cstring(metric))));
    });
}

}  // namespace aegis::pg

// aegis.set_retention(metric, keep): keep the metric's points newer than
// now() - keep; NULL falls back to aegis.default_retention.
AEGIS_PG_FUNCTION(aegis_set_retention) {
  if (PG_ARGISNULL(0))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("metric must not be NULL")));
  text* metric = PG_GETARG_TEXT_PP(0);
  Interval* keep = PG_ARGISNULL(1) ? nullptr : PG_GETARG_INTERVAL_P(1);
  if (keep != nullptr && (keep->month < 0 || keep->day < 0 || keep->time < 0 ||
                          (keep->month == 0 && keep->day == 0 && keep->time == 0)))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("retention must be a positive interval"),
                    errdetail("Got %s.", DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(keep)))),
                    errhint("Pass NULL to use aegis.default_retention.")));
  // The cutoff moves with now(); one that is out of range already (22008)
  // would make every later retention round fail.
  if (keep != nullptr)
    (void)DirectFunctionCall2(timestamptz_mi_interval, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
                              IntervalPGetDatum(keep));
  aegis::pg::SetMetricColumn(metric, &aegis::pg::set_retention_plan,
                             "UPDATE aegis.metric_catalog SET retention = $2 WHERE name = $1", INTERVALOID,
                             keep == nullptr ? Datum(0) : IntervalPGetDatum(keep), keep == nullptr);
  PG_RETURN_VOID();
}

// aegis.apply_retention(): removes every point older than its metric's
// cutoff; returns the points removed.
AEGIS_PG_FUNCTION(aegis_apply_retention) {
  (void)fcinfo;
  const TimestampTz now = GetCurrentTransactionStartTimestamp();
  // API.md: retention also rolls up what the downsampling tiers say, first.
  PG_RETURN_INT64(aegis::pg::RunJobsAsOwner({aegis::pg::RollupJob(now, false), aegis::pg::RetentionJob(now, true)}));
}

// aegis.merge_blocks(): rewrites series' small blocks into full ones;
// returns the points rewritten.
AEGIS_PG_FUNCTION(aegis_merge_blocks) {
  (void)fcinfo;
  PG_RETURN_INT64(aegis::pg::RunJobsAsOwner({aegis::pg::MergeJob()}));
}
