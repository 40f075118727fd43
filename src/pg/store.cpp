// Reading and writing recent rows and compressed blocks of one series.
#include <algorithm>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/block_cut.h"
#include "core/block_codec.h"
#include "core/error.h"
#include "core/segments.h"
#include "core/series_points.h"

#include "pg/boundary.h"
#include "pg/engine_stats.h"
#include "pg/guc.h"
#include "pg/packed.h"
#include "pg/partitions.h"
#include "pg/direct_read.h"
#include "pg/privileges.h"
#include "pg/spi.h"
#include "pg/store.h"

extern "C" {
#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_opfamily_d.h"
#include "catalog/pg_index.h"
#include "common/hashfn.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/rls.h"
#include "tcop/pquery.h"
#include "utils/datum.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
}

namespace aegis::pg {

namespace {

SPIPlanPtr fetch_blocks_plan = nullptr;
SPIPlanPtr fetch_recent_plan = nullptr;
SPIPlanPtr take_recent_plan = nullptr;
SPIPlanPtr upsert_recent_plan = nullptr;
SPIPlanPtr upsert_recent_many_plan = nullptr;
SPIPlanPtr delete_blocks_plan = nullptr;
SPIPlanPtr insert_block_plan = nullptr;
SPIPlanPtr lock_series_plan = nullptr;
SPIPlanPtr try_lock_series_plan = nullptr;
SPIPlanPtr refresh_last_points_plan = nullptr;
SPIPlanPtr drop_last_points_plan = nullptr;

// Blocks a BlockCursor fetches at a time: a batch holds its rows' data and
// segments (inline, so at most about 2 kB a block, a larger one a TOAST
// pointer; but whole when they come from elsewhere, as from Citus's
// workers): the first fetch asks for a few, each later one for as many as
// the rows so far suggest fit in kCursorBatchBytes, at most kCursorBatch.
constexpr long kCursorBatch = 256;
constexpr uint64 kCursorBatchBytes = 8 * 1024 * 1024;
SPIPlanPtr fetch_recent_of_series_plan = nullptr;

// First key of the advisory locks that serialise block rewrites of a series
// (the second key is the series id): "AEGS".
constexpr int32 kSeriesLockClass = 0x41454753;

#define AEGIS_BLOCK_SUMMARY_COLUMNS \
  "ts_min, ts_max, point_count, min_value, max_value, sum_value, first_value, last_value"
#define AEGIS_BLOCK_COLUMNS AEGIS_BLOCK_SUMMARY_COLUMNS ", data"

// Reads the block columns (AEGIS_BLOCK_COLUMNS order, starting at column
// first + 1, and the segments column after them when the query has one) of
// row `row` of table.
BlockRef BlockAt(const SPITupleTable* table, uint64 row, int first) {
  // One pass over the row: the lean forms' NULL data and segments make every
  // column after them an uncached offset, which heap_getattr would find
  // again from the row's start for each column.
  constexpr int kMaxColumns = 11;
  const TupleDesc desc = table->tupdesc;
  const int natts = desc->natts;
  if (natts < first + 9 || natts > kMaxColumns)
    throw core::Error(core::ErrorCategory::Internal, "a block row has " + std::to_string(natts) + " columns");
  Datum values[kMaxColumns];
  bool nulls[kMaxColumns];
  heap_deform_tuple(table->vals[row], desc, values, nulls);
  const auto column = [&](int n) { return values[first + n - 1]; };
  BlockRef ref;
  ref.summary.ts_min = DatumGetTimestampTz(column(1));
  ref.summary.ts_max = DatumGetTimestampTz(column(2));
  ref.summary.count = static_cast<uint32_t>(DatumGetInt32(column(3)));
  ref.summary.min = DatumGetFloat8(column(4));
  ref.summary.max = DatumGetFloat8(column(5));
  ref.summary.sum = DatumGetFloat8(column(6));
  ref.summary.first = DatumGetFloat8(column(7));
  ref.summary.last = DatumGetFloat8(column(8));
  ref.data = column(9);
  ref.has_data = !nulls[first + 8];
  if (natts >= first + 10) {
    ref.segments = column(10);
    ref.has_segments = !nulls[first + 9];
  }
  if (first == 1) ref.series_id = DatumGetInt64(values[0]);
  return ref;
}

// Whether a stored block is full by the current settings
// (core::BlockIsFull), from its point count and the size of its data and
// segments (those the query read).
bool BlockRowIsFull(const BlockRef& block) {
  size_t payload = block.has_data ? toast_raw_datum_size(block.data) - VARHDRSZ : 0;
  if (block.has_segments) payload += toast_raw_datum_size(block.segments) - VARHDRSZ;
  return core::BlockIsFull(block.summary.count, payload, StoredBlockLimits());
}

// The rows (series_id, AEGIS_BLOCK_COLUMNS) of SPI_tuptable as blocks; the
// table stays alive until the result is released.
FetchedBlocks TakeBlockRows() {
  FetchedBlocks fetched;
  fetched.table = SPI_tuptable;
  fetched.blocks.reserve(SPI_processed);
  for (uint64 i = 0; i < SPI_processed; ++i) fetched.blocks.push_back(BlockAt(SPI_tuptable, i, 1));
  return fetched;
}

// Reads (ts, value) rows of SPI_tuptable into points, in row order.
void ReadPointRows(core::SeriesPoints* points) {
  const uint64 n = SPI_processed;
  points->ts.resize(n);
  points->values.resize(n);
  for (uint64 i = 0; i < n; ++i) {
    bool isnull = false;
    points->ts[i] = DatumGetTimestampTz(ResultValue(i, 1, &isnull));
    points->values[i] = DatumGetFloat8(ResultValue(i, 2, &isnull));
  }
}

// Builds a palloc'd float8[].
Datum Float8Array(const double* values, size_t n) {
  Datum* elements = static_cast<Datum*>(palloc(sizeof(Datum) * (n > 0 ? n : 1)));
  for (size_t i = 0; i < n; ++i) elements[i] = Float8GetDatum(values[i]);
  ArrayType* array = construct_array(elements, static_cast<int>(n), FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
  pfree(elements);
  return PointerGetDatum(array);
}

// The INSERT of a block into one partition of aegis.blocks, prepared once
// per partition: inserting into the partition itself skips the tuple
// routing an INSERT into the parent sets up for every statement. The plan
// names the partition, so a replan finds it by name. Plans of partitions
// that were dropped are never used again; the map is emptied when it grows
// past kMaxInsertPlans.
constexpr size_t kMaxInsertPlans = 64;
std::unordered_map<Oid, SPIPlanPtr> insert_block_plans;

SPIPlanPtr InsertBlockPlan(Oid partition) {
  static const Oid types[] = {INT8OID,   TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID,  FLOAT8OID, FLOAT8OID,
                              FLOAT8OID, FLOAT8OID,      FLOAT8OID,      BYTEAOID, BYTEAOID};
  // Under Citus an INSERT ... VALUES goes to the shard as text, where a
  // NaN in the summary columns loses its payload bits; INSERT ... SELECT
  // of the parameters is evaluated on this node and copied into the shard
  // in binary (docs/scale-out.md).
  const char* const columns =
      UnderCitus() ? " (series_id, ts_min, ts_max, point_count, min_value, max_value, sum_value, first_value,"
                     " last_value, data, segments) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11"
                   : " (series_id, ts_min, ts_max, point_count, min_value, max_value, sum_value, first_value,"
                     " last_value, data, segments) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
  if (!OidIsValid(partition))  // a 0.1.0 database: one table, without segments
    return KeptPlan(&insert_block_plan,
                    "INSERT INTO aegis.blocks (series_id, ts_min, ts_max, point_count, min_value, max_value, sum_value,"
                    " first_value, last_value, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    10, types);
  auto found = insert_block_plans.find(partition);
  if (found != insert_block_plans.end()) return found->second;
  if (insert_block_plans.size() >= kMaxInsertPlans) {
    for (auto& entry : insert_block_plans) SPI_freeplan(entry.second);
    insert_block_plans.clear();
  }
  SPIPlanPtr plan = nullptr;
  KeptPlan(&plan, psprintf("INSERT INTO %s%s", quote_qualified_identifier("aegis", get_rel_name(partition)), columns),
           11, types);
  insert_block_plans.emplace(partition, plan);
  return plan;
}

// Writes one encoded block with its summary and segment summaries (none
// when empty) into its partition.
void InsertBlock(Oid partition, int64_t series_id, const core::BlockSummary& s, const std::vector<uint8_t>& bytes,
                 const std::vector<uint8_t>& segments) {
  PgCall([&] {
    bytea* data = ByteaOf(bytes);
    bytea* segments_data = segments.empty() ? nullptr : ByteaOf(segments);
    Datum values[] = {Int64GetDatum(series_id), TimestampTzGetDatum(s.ts_min), TimestampTzGetDatum(s.ts_max),
                      Int32GetDatum(static_cast<int32>(s.count)), Float8GetDatum(s.min), Float8GetDatum(s.max),
                      Float8GetDatum(s.sum), Float8GetDatum(s.first), Float8GetDatum(s.last),
                      PointerGetDatum(data), PointerGetDatum(segments_data)};
    const char nulls[] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', segments_data == nullptr ? 'n' : ' '};
    ExecutePlan(InsertBlockPlan(partition), values, nulls, false, 0);
    pfree(data);
    if (segments_data != nullptr) pfree(segments_data);
  });
  NoteBlockSpan(partition, s.ts_max - s.ts_min);
}

}  // namespace

bytea* ByteaOf(const std::vector<uint8_t>& bytes) {
  bytea* out = static_cast<bytea*>(palloc(VARHDRSZ + bytes.size()));
  SET_VARSIZE(out, VARHDRSZ + bytes.size());
  memcpy(VARDATA(out), bytes.data(), bytes.size());
  return out;
}

core::BlockLimits StoredBlockLimits() {
  if (SegmentsColumnExists()) return BlockCutLimits();
  constexpr size_t k010BlockPoints = 1000;  // 0.1.0's aegis.block_max_points
  core::BlockLimits limits;
  limits.max_points = std::min<size_t>(static_cast<size_t>(guc_block_max_points), k010BlockPoints);
  limits.max_bytes = 0;
  limits.with_segments = false;
  return limits;
}

bool SegmentsColumnExists() {
  const Oid aegis = get_namespace_oid("aegis", true);
  const Oid blocks = OidIsValid(aegis) ? get_relname_relid("blocks", aegis) : InvalidOid;
  return OidIsValid(blocks) && get_attnum(blocks, "segments") != InvalidAttrNumber;
}

Datum Int64Array(const int64_t* values, size_t n, Oid element_type) {
  Datum* elements = static_cast<Datum*>(palloc(sizeof(Datum) * (n > 0 ? n : 1)));
  for (size_t i = 0; i < n; ++i) elements[i] = Int64GetDatum(values[i]);
  ArrayType* array = construct_array(elements, static_cast<int>(n), element_type, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
  pfree(elements);
  return PointerGetDatum(array);
}

// The two int4 keys of the advisory lock that serialises rewrites of a
// series.
void RewriteLockKeys(int64_t series_id, Datum* keys) {
  const uint64 id = static_cast<uint64>(series_id);
  keys[0] = Int32GetDatum(static_cast<int32>(static_cast<uint32>(kSeriesLockClass) ^ (id >> 32)));
  keys[1] = Int32GetDatum(static_cast<int32>(id & 0xffffffffu));
}

bool TryLockSeriesForRewrite(int64_t series_id) {
  return PgCall([&] {
    static const Oid types[] = {INT4OID, INT4OID};
    Datum values[2];
    RewriteLockKeys(series_id, values);
    RunPlan(&try_lock_series_plan, "SELECT pg_catalog.pg_try_advisory_xact_lock($1, $2)", 2, types, values,
            Snap::kWrite);
    bool isnull = false;
    const bool locked = DatumGetBool(ResultValue(0, 1, &isnull));
    SPI_freetuptable(SPI_tuptable);
    return locked;
  });
}

void LockSeriesForRewrite(int64_t series_id) {
  PgCall([&] {
    static const Oid types[] = {INT4OID, INT4OID};
    Datum values[2];
    RewriteLockKeys(series_id, values);
    ExecutePlan(KeptPlan(&lock_series_plan, "SELECT pg_catalog.pg_advisory_xact_lock($1, $2)", 2, types), values,
                nullptr, false, 0);
    SPI_freetuptable(SPI_tuptable);
  });
}

std::string TimestampText(core::Timestamp ts) {
  const char* text = PgCall([&] { return timestamptz_to_str(ts); });
  return text;
}

FetchedBlocks FetchBlocks(int64_t series_id, core::Timestamp lo, core::Timestamp hi, bool latest) {
  const core::Timestamp scan_start = BlockScanStart(lo, latest);
  PgCall([&] {
    static const Oid types[] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
    const char* sql = "SELECT series_id, " AEGIS_BLOCK_COLUMNS
                      " FROM aegis.blocks WHERE series_id = $1 AND ts_max >= $2 AND ts_min <= $3 AND ts_min >= $4"
                      " ORDER BY ts_min";
    Datum values[] = {Int64GetDatum(series_id), TimestampTzGetDatum(lo), TimestampTzGetDatum(hi),
                      TimestampTzGetDatum(scan_start)};
    SPIPlanPtr plan = KeptPlan(&fetch_blocks_plan, sql, 4, types);
    if (latest) {
      ExecuteWithLatestSnapshot(plan, values, nullptr, 0);
    } else {
      ExecutePlan(plan, values, nullptr, true, 0);
    }
  });
  return TakeBlockRows();
}

namespace {

// Takes the rows of the recent-rows fetch straight from the executor into
// palloc'd arrays: no SPI tuple table (a copy of every row) and no sort in
// the executor (the rows are put in order here). Plain C on PostgreSQL's
// side: an ERROR (out of memory) may longjmp through it.
struct RecentReceiver {
  DestReceiver pub;  // first: the executor sees a DestReceiver
  MemoryContext context;
  int64* series_ids;
  int64* ts;
  double* values;
  uint64 n;
  uint64 capacity;
};

bool ReceiveRecentRow(TupleTableSlot* slot, DestReceiver* self) {
  auto* r = reinterpret_cast<RecentReceiver*>(self);
  if (r->n == r->capacity) {
    const uint64 capacity = r->capacity == 0 ? 1024 : r->capacity * 2;
    if (r->capacity == 0) {
      r->series_ids = static_cast<int64*>(MemoryContextAllocHuge(r->context, capacity * sizeof(int64)));
      r->ts = static_cast<int64*>(MemoryContextAllocHuge(r->context, capacity * sizeof(int64)));
      r->values = static_cast<double*>(MemoryContextAllocHuge(r->context, capacity * sizeof(double)));
    } else {
      r->series_ids = static_cast<int64*>(repalloc_huge(r->series_ids, capacity * sizeof(int64)));
      r->ts = static_cast<int64*>(repalloc_huge(r->ts, capacity * sizeof(int64)));
      r->values = static_cast<double*>(repalloc_huge(r->values, capacity * sizeof(double)));
    }
    r->capacity = capacity;
  }
  slot_getallattrs(slot);  // the columns are NOT NULL
  r->series_ids[r->n] = DatumGetInt64(slot->tts_values[0]);
  r->ts[r->n] = DatumGetTimestampTz(slot->tts_values[1]);
  r->values[r->n] = DatumGetFloat8(slot->tts_values[2]);
  ++r->n;
  return true;
}

// Puts rows[0, n) in (series, time) order into recent; sorted_ids holds
// every series id of the rows, ascending. A counting pass by series, then
// each series' run sorted by time where it is not already (the primary key
// makes (series_id, ts) unique).
void OrderRecentRows(const RecentReceiver& rows, const std::vector<int64_t>& sorted_ids, RecentOfSeries* recent) {
  const size_t n = rows.n;
  recent->series_ids.resize(n);
  recent->points.ts.resize(n);
  recent->points.values.resize(n);
  std::vector<size_t> start(sorted_ids.size() + 1, 0);
  std::vector<uint32_t> position(n);
  for (size_t i = 0; i < n; ++i) {
    const auto at = std::lower_bound(sorted_ids.begin(), sorted_ids.end(), rows.series_ids[i]);
    if (at == sorted_ids.end() || *at != rows.series_ids[i])
      throw core::Error(core::ErrorCategory::Internal,
                        "recent row of series " + std::to_string(rows.series_ids[i]) + ", which was not asked for");
    position[i] = static_cast<uint32_t>(at - sorted_ids.begin());
    ++start[position[i] + 1];
  }
  for (size_t p = 1; p < start.size(); ++p) start[p] += start[p - 1];
  std::vector<size_t> next(start.begin(), start.end() - 1);
  for (size_t i = 0; i < n; ++i) {
    const size_t to = next[position[i]]++;
    recent->series_ids[to] = rows.series_ids[i];
    recent->points.ts[to] = rows.ts[i];
    recent->points.values[to] = rows.values[i];
  }
  std::vector<std::pair<core::Timestamp, double>> run;
  for (size_t p = 0; p + 1 < start.size(); ++p) {
    const auto ts_begin = recent->points.ts.begin() + static_cast<std::ptrdiff_t>(start[p]);
    const auto ts_end = recent->points.ts.begin() + static_cast<std::ptrdiff_t>(start[p + 1]);
    if (std::is_sorted(ts_begin, ts_end)) continue;
    run.clear();
    for (size_t i = start[p]; i < start[p + 1]; ++i) run.emplace_back(recent->points.ts[i], recent->points.values[i]);
    std::sort(run.begin(), run.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t i = start[p]; i < start[p + 1]; ++i) {
      recent->points.ts[i] = run[i - start[p]].first;
      recent->points.values[i] = run[i - start[p]].second;
    }
  }
}

}  // namespace

namespace {

// Adds a block row to the receiver's batch: its columns (series_id,
// AEGIS_BLOCK_COLUMNS, segments) at values[at[0..10]] (at[10] < 0: no
// segments column), the data and segments copied into the batch's memory,
// the data left out when leave_out_data. PostgreSQL code.
void AddBlockRow(BlockBatchReceiver* r, const Datum* v, const bool* null, const int* at, bool leave_out_data) {
  BlockRef& ref = r->rows[r->n];
  ref.series_id = DatumGetInt64(v[at[0]]);
  ref.summary.ts_min = DatumGetTimestampTz(v[at[1]]);
  ref.summary.ts_max = DatumGetTimestampTz(v[at[2]]);
  ref.summary.count = static_cast<uint32_t>(DatumGetInt32(v[at[3]]));
  ref.summary.min = DatumGetFloat8(v[at[4]]);
  ref.summary.max = DatumGetFloat8(v[at[5]]);
  ref.summary.sum = DatumGetFloat8(v[at[6]]);
  ref.summary.first = DatumGetFloat8(v[at[7]]);
  ref.summary.last = DatumGetFloat8(v[at[8]]);
  MemoryContext old = MemoryContextSwitchTo(r->memory);
  ref.has_data = !null[at[9]] && !leave_out_data;
  ref.data = ref.has_data ? datumCopy(v[at[9]], false, -1) : 0;
  ref.has_segments = at[10] >= 0 && !null[at[10]];
  ref.segments = ref.has_segments ? datumCopy(v[at[10]], false, -1) : 0;
  if (ref.has_data) r->bytes += VARSIZE_ANY(DatumGetPointer(ref.data));
  if (ref.has_segments) r->bytes += VARSIZE_ANY(DatumGetPointer(ref.segments));
  MemoryContextSwitchTo(old);
  ++r->n;
}

// BlockCursor's receiver: the row's columns (series_id, AEGIS_BLOCK_COLUMNS,
// segments) straight from the executor's slot, the data and segments copied
// into the batch's memory; no tuple is formed or copied whole. PostgreSQL
// code (called by the executor).
bool ReceiveBlockRow(TupleTableSlot* slot, DestReceiver* self) {
  auto* r = reinterpret_cast<BlockBatchReceiver*>(self);
  if (r->n == r->capacity) elog(ERROR, "aegis: more block rows than the " UINT64_FORMAT " of a batch", r->capacity);
  if (slot->tts_tupleDescriptor->natts != 11)
    elog(ERROR, "aegis: a block row has %d columns, 11 expected", slot->tts_tupleDescriptor->natts);
  slot_getallattrs(slot);
  static const int at[11] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  AddBlockRow(r, slot->tts_values, slot->tts_isnull, at, false);
  return true;
}

}  // namespace

namespace {

// The rows of the series (an int8[]) in [lo, hi) read straight from the
// primary key of aegis.recent_points (relid), with the statement's
// snapshot, into rows, where that returns the rows the statement would: the
// caller may SELECT from the table, no row-level security applies to it
// there (with row_security off, the error the statement would raise is
// raised here), and the table is the plain one the extension made
// (series_id, ts, value; a btree key on the first two); not under Citus.
// Checked once the table is locked. False, having read nothing, otherwise.
// A new session's first read then parses and plans one statement fewer,
// and every read skips an executor start. PostgreSQL code.
bool ScanRecentRows(Oid relid, Datum ids, core::Timestamp lo, core::Timestamp hi, RecentReceiver* rows) {
  if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_RELATION) return false;
  Relation rel = table_open(relid, AccessShareLock);
  const Oid key_relid = RelationGetPrimaryKeyIndex(rel);
  const TupleDesc desc = RelationGetDescr(rel);
  if (!OidIsValid(key_relid) || rel->rd_rel->relhassubclass || desc->natts != 3 ||
      TupleDescAttr(desc, 0)->atttypid != INT8OID || TupleDescAttr(desc, 1)->atttypid != TIMESTAMPTZOID ||
      TupleDescAttr(desc, 2)->atttypid != FLOAT8OID || !MayReadDirectly(relid)) {
    table_close(rel, NoLock);
    return false;
  }
  Relation index = index_open(key_relid, AccessShareLock);
  if (index->rd_rel->relam != BTREE_AM_OID || index->rd_index->indnkeyatts != 2 ||
      index->rd_index->indkey.values[0] != 1 || index->rd_index->indkey.values[1] != 2) {
    index_close(index, NoLock);
    table_close(rel, NoLock);
    return false;
  }
  ScanKeyData keys[3];
  ScanKeyEntryInitialize(&keys[0], SK_SEARCHARRAY, 1, BTEqualStrategyNumber, INT8OID, InvalidOid, F_INT8EQ, ids);
  ScanKeyInit(&keys[1], 2, BTGreaterEqualStrategyNumber, F_TIMESTAMPTZ_GE, TimestampTzGetDatum(lo));
  ScanKeyInit(&keys[2], 2, BTLessStrategyNumber, F_TIMESTAMPTZ_LT, TimestampTzGetDatum(hi));
  IndexScanDesc scan = index_beginscan(rel, index, GetActiveSnapshot(), 3, 0);
  index_rescan(scan, keys, 3, nullptr, 0);
  TupleTableSlot* slot = table_slot_create(rel, nullptr);
  while (index_getnext_slot(scan, ForwardScanDirection, slot)) ReceiveRecentRow(slot, &rows->pub);
  ExecDropSingleTupleTableSlot(slot);
  index_endscan(scan);
  index_close(index, NoLock);  // held to the transaction's end, as a statement holds them
  table_close(rel, NoLock);
  return true;
}

}  // namespace

RecentOfSeries FetchRecentOfSeries(const std::vector<int64_t>& series_ids, core::Timestamp lo, core::Timestamp hi) {
  RecentReceiver rows{};
  InitReceiver(&rows.pub, ReceiveRecentRow);
  PgCall([&] {
    static const Oid types[] = {INT8ARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
    const Datum values[] = {Int64Array(series_ids.data(), series_ids.size(), INT8OID), TimestampTzGetDatum(lo),
                            TimestampTzGetDatum(hi)};
    rows.context = CurrentMemoryContext;
    const Oid relid = get_relname_relid("recent_points", get_namespace_oid("aegis", false));
    if (!ScanRecentRows(relid, values[0], lo, hi, &rows)) {
      ExecutePlanInto(KeptPlan(&fetch_recent_of_series_plan,
                               "SELECT series_id, ts, value FROM aegis.recent_points"
                               " WHERE series_id = ANY ($1) AND ts >= $2 AND ts < $3",
                               3, types),
                      3, types, values, &rows.pub);
    }
    pfree(DatumGetPointer(values[0]));
  });
  RecentOfSeries recent;
  OrderRecentRows(rows, series_ids, &recent);  // counted as read when folded (SeriesData)
  OverlayPacked(series_ids, lo, hi, &recent);
  if (rows.capacity > 0) {
    PgCall([&] {
      pfree(rows.series_ids);
      pfree(rows.ts);
      pfree(rows.values);
    });
  }
  return recent;
}

namespace {

// BlockCursor's statements, by form: [order][segments column] and the lean
// forms after them (4 + segments column). $6 is where the blocks that reach
// into [$2, $3) start at the earliest; $4 and $5 are the lean forms' own.
constexpr int kCursorForms = 6;
const char* const kCursorSql[kCursorForms] = {
    "SELECT series_id, " AEGIS_BLOCK_COLUMNS ", NULL::bytea"
    " FROM aegis.blocks WHERE series_id = ANY ($1) AND ts_max >= $2 AND ts_min < $3 AND ts_min >= $6"
    " ORDER BY series_id, ts_min",
    "SELECT series_id, " AEGIS_BLOCK_COLUMNS ", segments"
    " FROM aegis.blocks WHERE series_id = ANY ($1) AND ts_max >= $2 AND ts_min < $3 AND ts_min >= $6"
    " ORDER BY series_id, ts_min",
    "SELECT b.series_id, " AEGIS_BLOCK_COLUMNS ", NULL::bytea"
    " FROM unnest($1) WITH ORDINALITY AS s(series_id, position)"
    " JOIN aegis.blocks b ON b.series_id = s.series_id"
    " WHERE b.ts_max >= $2 AND b.ts_min < $3 AND b.ts_min >= $6 ORDER BY s.position, b.ts_min",
    "SELECT b.series_id, " AEGIS_BLOCK_COLUMNS ", b.segments"
    " FROM unnest($1) WITH ORDINALITY AS s(series_id, position)"
    " JOIN aegis.blocks b ON b.series_id = s.series_id"
    " WHERE b.ts_max >= $2 AND b.ts_min < $3 AND b.ts_min >= $6 ORDER BY s.position, b.ts_min",
    // The lean forms: no data for a block inside [since, until) that one
    // bucket holds ($4) or whose segments' span (the header's second byte)
    // the buckets never cut ($5).
    "SELECT series_id, " AEGIS_BLOCK_SUMMARY_COLUMNS ","
    " CASE WHEN ts_min >= $2 AND ts_max < $3 AND $4 THEN NULL ELSE data END, NULL::bytea"
    " FROM aegis.blocks WHERE series_id = ANY ($1) AND ts_max >= $2 AND ts_min < $3 AND ts_min >= $6"
    " ORDER BY series_id, ts_min",
    "SELECT series_id, " AEGIS_BLOCK_SUMMARY_COLUMNS ","
    " CASE WHEN ts_min >= $2 AND ts_max < $3 AND ($4 OR CASE WHEN length(segments) >= 6"
    " THEN get_byte(segments, 1) END <= $5) THEN NULL ELSE data END, segments"
    " FROM aegis.blocks WHERE series_id = ANY ($1) AND ts_max >= $2 AND ts_min < $3 AND ts_min >= $6"
    " ORDER BY series_id, ts_min"};
const Oid kCursorTypes[] = {INT8ARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID, BOOLOID, INT4OID, TIMESTAMPTZOID};

SPIPlanPtr cursor_plans[kCursorForms] = {};

// The same statements over one partition of aegis.blocks, planned once per
// partition: a plan over aegis.blocks locks every partition each time it
// runs, and is planned over all of them, which costs a new session's first
// read about 0.1 ms a partition (40 ms with 360 monthly partitions) and
// every read a few microseconds a partition. Kept for the partitions read
// last (kKeptPartitionPlans), and dropped when the partition cache reloads
// (a partition came or went: its OID might be another's later).
constexpr size_t kKeptPartitionPlans = 16;
struct PartitionPlans {
  Oid relid = InvalidOid;
  std::string name;  // schema-qualified, quoted, as the statements name it
  SPIPlanPtr plans[kCursorForms] = {};
};
std::vector<PartitionPlans> partition_plans;  // the most recently used last
uint64_t partition_plans_generation = 0;

// Frees kept plans (a cursor open on one keeps its plan: the portal holds
// its own reference). PostgreSQL code.
void FreePartitionPlans(PartitionPlans* kept) {
  for (SPIPlanPtr& plan : kept->plans) {
    if (plan != nullptr) SPI_freeplan(plan);
    plan = nullptr;
  }
}

// The kept plan of form `form` over the partition (named `name`), prepared
// (as the tables' owner, search_path pinned: BlockCursor) on first use.
SPIPlanPtr PartitionPlan(Oid relid, const std::string& name, int form, uint64_t generation) {
  if (generation != partition_plans_generation) {
    PgCall([] {
      for (PartitionPlans& kept : partition_plans) FreePartitionPlans(&kept);
    });
    partition_plans.clear();
    partition_plans_generation = generation;
  }
  auto it = std::find_if(partition_plans.begin(), partition_plans.end(),
                         [&](const PartitionPlans& p) { return p.relid == relid; });
  if (it == partition_plans.end()) {
    if (partition_plans.size() >= kKeptPartitionPlans) {
      PgCall([] { FreePartitionPlans(&partition_plans.front()); });
      partition_plans.erase(partition_plans.begin());
    }
    partition_plans.push_back(PartitionPlans{relid, name, {}});
    it = std::prev(partition_plans.end());
  } else if (std::next(it) != partition_plans.end()) {
    std::rotate(it, std::next(it), partition_plans.end());
    it = std::prev(partition_plans.end());
  }
  if (it->name != name) {  // renamed: its statements name it anew
    PgCall([&] { FreePartitionPlans(&*it); });
    it->name = name;
  }
  SPIPlanPtr& plan = it->plans[form];
  if (plan == nullptr) {
    // Each statement names aegis.blocks once.
    std::string sql = kCursorSql[form];
    const std::string parent = "aegis.blocks ";
    const size_t at = sql.find(parent);
    if (at == std::string::npos) throw core::Error(core::ErrorCategory::Internal, "a block statement without aegis.blocks");
    sql.replace(at, parent.size(), name + " ");
    PgCall([&] { plan = PrepareKept(sql.c_str(), 6, kCursorTypes, KeptPlanOptions()); });
  }
  return plan;
}

// Where a BlockCursor reads: aegis.blocks, one partition of it, or nothing
// (no partition holds a block that starts in the range).
struct CursorSource {
  enum Kind { kParent, kPartition, kNothing } kind = kParent;
  Oid partition = InvalidOid;
  std::string name;  // the partition's, schema-qualified and quoted
  uint64_t generation = 0;
};

// A BlockCursor reads the one partition that holds the blocks starting in
// [scan_start, until) directly, as the tables' owner, where that returns
// what the statement over aegis.blocks returns: the caller may SELECT from
// aegis.blocks and no row-level security applies to it there (a policy
// would not be applied to the partition; with row_security off, the error
// the statement would raise is raised here), and aegis.block_partitions
// lists exactly the partitions attached to aegis.blocks. Not under Citus
// (its distributed tables are planned by Citus), nor for a 0.1.0 database.
CursorSource ChooseSource(core::Timestamp scan_start, core::Timestamp until) {
  CursorSource source;
  if (UnderCitus() || scan_start >= until) return source;
  const PartitionsInRange in_range = PartitionsBetween(scan_start, until);
  if (!in_range.complete) return source;
  const bool may_read = PgCall([&] { return MayReadDirectly(in_range.parent); });
  if (!may_read) return source;  // the statement over aegis.blocks says why not, or applies the policies
  if (in_range.partitions.empty()) {
    source.kind = CursorSource::kNothing;
    return source;
  }
  if (in_range.partitions.size() != 1) return source;
  const Oid relid = in_range.partitions[0].relid;
  // Locked, it cannot be dropped before this transaction ends. One dropped
  // or detached since the cache was read, or a partition come or gone
  // meanwhile, leaves the read to the statement over aegis.blocks: each of
  // those invalidates aegis.blocks' relcache entry, and so the cache
  // (PartitionCacheUnchanged). PartitionsBetween accepted the invalidations
  // committed before it locked aegis.blocks, the partition's lock (when newly
  // taken) those committed since; a lock held from earlier in the
  // transaction keeps a detach or drop from committing at all. (The cache
  // was complete when read: it listed exactly the partitions attached then.)
  const char* name = PgCall([&]() -> const char* {
    LockRelationOid(relid, AccessShareLock);
    if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)) || !get_rel_relispartition(relid)) return nullptr;
    const char* relname = get_rel_name(relid);
    const char* nspname = get_namespace_name(get_rel_namespace(relid));
    return relname != nullptr && nspname != nullptr ? quote_qualified_identifier(nspname, relname) : nullptr;
  });
  if (name == nullptr || !PartitionCacheUnchanged(in_range.generation)) return source;
  source.kind = CursorSource::kPartition;
  source.partition = relid;
  source.name = name;
  source.generation = in_range.generation;
  return source;
}

}  // namespace

// A BlockCursor's read of one partition straight from its primary key
// (series_id, ts_min), with the statement's snapshot: no statement to parse,
// plan and start (about 0.5 ms of a new session's first read, and an
// executor start on every read). Rows as the cursor's statement returns
// them (kCursorSql): ts_min in [scan_start, until) from the key, ts_max >=
// since checked on the row, in (series_id, ts_min) order or, for kAsGiven,
// one key scan per given series in turn; a lean read leaves out the data
// of the blocks the statement's CASE leaves out. PostgreSQL code.
struct DirectBlockScan {
  Relation rel;
  Relation index;
  IndexScanDesc scan;
  TupleTableSlot* slot;
  Snapshot snapshot;
  int at[11];  // slot value index of series_id, ts_min, ts_max, point_count, the five values, data,
               // segments (-1: none), AddBlockRow's order
  AttrNumber last_column;
  bool by_id;
  int64* ids;  // kAsGiven: the series, scanned in turn
  int n_ids;
  int next_id;
  TimestampTz since;
  TimestampTz until;
  TimestampTz scan_start;
  bool lean;
  bool whole_blocks;
  int max_span_index;
  bool exhausted;
};

namespace {

// Whether index is a valid whole btree on (series_id, ts_min) of rel,
// ascending, with the default operator families' order.
bool IsBlockKey(Relation index, AttrNumber series_id, AttrNumber ts_min) {
  const Form_pg_index i = index->rd_index;
  if (index->rd_rel->relam != BTREE_AM_OID || !IndexUsableNow(index) || i->indnkeyatts != 2 ||
      i->indkey.values[0] != series_id || i->indkey.values[1] != ts_min || index->rd_indoption[0] != 0 ||
      index->rd_indoption[1] != 0 || index->rd_opfamily[0] != INTEGER_BTREE_FAM_OID)
    return false;
  const Oid less = get_opfamily_member(index->rd_opfamily[1], TIMESTAMPTZOID, TIMESTAMPTZOID, BTLessStrategyNumber);
  return OidIsValid(less) && get_opcode(less) == F_TIMESTAMPTZ_LT;
}

// Positions the scan on the next given series (kAsGiven); false when none
// is left.
bool StartNextSeries(DirectBlockScan* d) {
  if (d->next_id >= d->n_ids) return false;
  ScanKeyData keys[3];
  ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(d->ids[d->next_id++]));
  ScanKeyInit(&keys[1], 2, BTGreaterEqualStrategyNumber, F_TIMESTAMPTZ_GE, TimestampTzGetDatum(d->scan_start));
  ScanKeyInit(&keys[2], 2, BTLessStrategyNumber, F_TIMESTAMPTZ_LT, TimestampTzGetDatum(d->until));
  index_rescan(d->scan, keys, 3, nullptr, 0);
  return true;
}

// Opens the direct read of partition relid (locked by ChooseSource), or
// returns null where its table or key is not the one the extension makes.
DirectBlockScan* OpenDirectBlockScan(Oid relid, const std::vector<int64_t>& series_ids, core::Timestamp since,
                                     core::Timestamp until, core::Timestamp scan_start, bool by_id,
                                     bool with_segments, const LeanRead& lean) {
  if (get_rel_relkind(relid) != RELKIND_RELATION) return nullptr;
  Relation rel = table_open(relid, AccessShareLock);
  if (rel->rd_rel->relam != HEAP_TABLE_AM_OID) {
    table_close(rel, NoLock);
    return nullptr;
  }
  static const char* const names[] = {"series_id", "ts_min", "ts_max", "point_count", "min_value", "max_value",
                                      "sum_value", "first_value", "last_value", "data", "segments"};
  static const Oid types[] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID, FLOAT8OID, FLOAT8OID,
                              FLOAT8OID, FLOAT8OID, FLOAT8OID, BYTEAOID, BYTEAOID};
  AttrNumber columns[11];
  bool shaped = !rel->rd_rel->relhassubclass;
  for (int c = 0; shaped && c < 11; ++c) {
    columns[c] = c == 10 && !with_segments ? InvalidAttrNumber : ColumnOf(rel, names[c], types[c]);
    shaped = columns[c] != InvalidAttrNumber || (c == 10 && !with_segments);
  }
  const Oid key_relid = shaped ? RelationGetPrimaryKeyIndex(rel) : InvalidOid;
  if (!OidIsValid(key_relid)) {
    table_close(rel, NoLock);
    return nullptr;
  }
  Relation index = index_open(key_relid, AccessShareLock);
  if (!IsBlockKey(index, columns[0], columns[1])) {
    index_close(index, NoLock);  // held to the transaction's end, as a statement holds them
    table_close(rel, NoLock);
    return nullptr;
  }
  auto* d = static_cast<DirectBlockScan*>(palloc0(sizeof(DirectBlockScan)));
  d->rel = rel;
  d->index = index;
  d->last_column = 0;
  for (int c = 0; c < 11; ++c) {
    d->at[c] = columns[c] - 1;
    d->last_column = std::max(d->last_column, columns[c]);
  }
  d->by_id = by_id;
  d->since = since;
  d->until = until;
  d->scan_start = scan_start;
  d->lean = by_id && lean.enabled();
  d->whole_blocks = lean.whole_blocks;
  d->max_span_index = lean.max_span_index;
  d->snapshot = RegisterSnapshot(GetActiveSnapshot());
  d->scan = index_beginscan(rel, index, d->snapshot, 3, 0);
  d->slot = table_slot_create(rel, nullptr);
  if (by_id) {
    ScanKeyData keys[3];
    ScanKeyEntryInitialize(&keys[0], SK_SEARCHARRAY, 1, BTEqualStrategyNumber, INT8OID, InvalidOid, F_INT8EQ,
                           Int64Array(series_ids.data(), series_ids.size(), INT8OID));
    ScanKeyInit(&keys[1], 2, BTGreaterEqualStrategyNumber, F_TIMESTAMPTZ_GE, TimestampTzGetDatum(scan_start));
    ScanKeyInit(&keys[2], 2, BTLessStrategyNumber, F_TIMESTAMPTZ_LT, TimestampTzGetDatum(until));
    index_rescan(d->scan, keys, 3, nullptr, 0);
  } else {
    d->n_ids = static_cast<int>(series_ids.size());
    d->ids = static_cast<int64*>(palloc(sizeof(int64) * (series_ids.size() + 1)));
    for (size_t i = 0; i < series_ids.size(); ++i) d->ids[i] = series_ids[i];
    d->exhausted = !StartNextSeries(d);
  }
  return d;
}

// Whether a lean read leaves out the data of the block in the slot: the
// CASE of kCursorSql's lean forms.
bool LeftOut(const DirectBlockScan* d, TimestampTz ts_min, TimestampTz ts_max, bool segments_null, Datum segments) {
  if (!d->lean || ts_min < d->since || ts_max >= d->until) return false;
  if (d->whole_blocks) return true;
  if (d->max_span_index < 0 || segments_null) return false;  // a NULL comparison is not true
  const bytea* b = reinterpret_cast<const bytea*>(DatumGetPointer(segments));
  if (VARATT_IS_EXTENDED(b)) b = DatumGetByteaPP(segments);
  return VARSIZE_ANY_EXHDR(b) >= 6 && static_cast<int>(reinterpret_cast<const uint8*>(VARDATA_ANY(b))[1]) <= d->max_span_index;
}

// Reads up to count rows into the receiver's batch.
void FetchDirect(DirectBlockScan* d, BlockBatchReceiver* r, long count) {
  while (!d->exhausted && r->n < static_cast<uint64>(count)) {
    CHECK_FOR_INTERRUPTS();
    if (!index_getnext_slot(d->scan, ForwardScanDirection, d->slot)) {
      if (d->by_id || !StartNextSeries(d)) d->exhausted = true;
      continue;
    }
    slot_getsomeattrs(d->slot, d->last_column);
    const Datum* v = d->slot->tts_values;
    const bool* null = d->slot->tts_isnull;
    const int* at = d->at;
    const TimestampTz ts_max = DatumGetTimestampTz(v[at[2]]);
    if (ts_max < d->since) continue;
    const bool segments_null = at[10] < 0 || null[at[10]];
    AddBlockRow(r, v, null, at,
                LeftOut(d, DatumGetTimestampTz(v[at[1]]), ts_max, segments_null, segments_null ? 0 : v[at[10]]));
  }
}

void CloseDirectBlockScan(DirectBlockScan* d) {
  ExecDropSingleTupleTableSlot(d->slot);
  index_endscan(d->scan);
  UnregisterSnapshot(d->snapshot);
  index_close(d->index, NoLock);  // held to the transaction's end, as a statement holds them
  table_close(d->rel, NoLock);
  if (d->ids != nullptr) pfree(d->ids);
  pfree(d);
}

}  // namespace

BlockCursor::BlockCursor(const std::vector<int64_t>& series_ids, core::Timestamp since, core::Timestamp until,
                         Order order, bool with_segments, const LeanRead& lean) {
  // Blocks that reach into [since, until) start at scan_start or later ($6;
  // $4 and $5 are the lean forms' own).
  const core::Timestamp scan_start = BlockScanStart(since);
  const CursorSource source = ChooseSource(scan_start, until);
  if (source.kind == CursorSource::kNothing) {
    done_ = true;
    return;
  }
  const int by = order == Order::kById ? 0 : 1;
  const int segments = with_segments && SegmentsColumnExists() ? 1 : 0;
  const int form = by == 0 && lean.enabled() ? 4 + segments : 2 * by + segments;
  if (source.kind == CursorSource::kPartition) {
    direct_ = PgCall([&] {
      return OpenDirectBlockScan(source.partition, series_ids, since, until, scan_start, by == 0, segments == 1, lean);
    });
  }
  if (direct_ != nullptr) {
    failed_ = true;
    PrepareBatch();
    failed_ = false;
    return;
  }
  std::optional<AsTableOwner> owner;
  SPIPlanPtr plan = nullptr;
  if (source.kind == CursorSource::kPartition) {
    // Prepared and opened as the tables' owner (the caller may have no
    // privilege on the partition), with search_path pinned, so that the
    // statement's operators and functions are pg_catalog's.
    owner.emplace(AsTableOwner::kPinnedSearchPath);
    plan = PartitionPlan(source.partition, source.name, form, source.generation);
  }
  failed_ = true;
  PgCall([&] {
    if (plan == nullptr) plan = KeptPlan(&cursor_plans[form], kCursorSql[form], 6, kCursorTypes);
    Datum values[] = {Int64Array(series_ids.data(), series_ids.size(), INT8OID), TimestampTzGetDatum(since),
                      TimestampTzGetDatum(until), BoolGetDatum(lean.whole_blocks),
                      Int32GetDatum(lean.max_span_index), TimestampTzGetDatum(scan_start)};
    // In series order the plan merges the partitions' index scans, each in
    // (series_id, ts_min) order already: a generic plan's estimates (one
    // row a partition) would rather sort the rows, copying every block's
    // data once more. Planned (and re-planned) when the cursor opens, so
    // the setting holds for that alone; an ERROR restores it with the
    // (sub)transaction.
    const int guc_level = by == 0 ? NewGUCNestLevel() : -1;
    if (guc_level >= 0)
      (void)set_config_option("enable_sort", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
    portal_ = SPI_cursor_open(nullptr, plan, values, nullptr, true);
    if (guc_level >= 0) AtEOXact_GUC(true, guc_level);
  });
  owner.reset();
  PrepareBatch();
  failed_ = false;
}

void BlockCursor::PrepareBatch() {
  PgCall([&] {
    batch_memory_ = AllocSetContextCreate(CurrentMemoryContext, "aegis block batch", ALLOCSET_DEFAULT_SIZES);
  });
  // batch_ is grown to each fetch's count before it (Next): most reads
  // fetch a few rows once.
  InitReceiver(&receiver_.pub, ReceiveBlockRow);
  receiver_.rows = batch_.data();
  receiver_.capacity = batch_.size();
  receiver_.memory = batch_memory_;
}

BlockCursor::~BlockCursor() {
  // Closed here only on success. While an error unwinds (an ERROR inside the
  // cursor's own calls, or one from another query run while it was open, such
  // as the re-read of left-out block data) the portal and the batch's memory
  // are left to the transaction's abort: no SPI call after an ERROR caught
  // mid-execution.
  if (failed_ || std::uncaught_exceptions() > 0) return;
  if (direct_ != nullptr) {
    // A destructor must not throw; closing raises nothing short of a
    // resource bookkeeping bug, which the transaction's end reports.
    try {
      PgCall([&] { CloseDirectBlockScan(direct_); });
    } catch (...) {
    }
  }
  if (portal_ != nullptr) SPI_cursor_close(portal_);
  if (batch_memory_ != nullptr) MemoryContextDelete(batch_memory_);
}

const BlockRef* BlockCursor::Next() {
  if (next_row_ == rows_) {
    if (done_) return nullptr;
    failed_ = true;
    if (batch_.size() < static_cast<size_t>(fetch_count_)) {
      batch_.resize(static_cast<size_t>(fetch_count_));  // fetch_count_ <= kCursorBatch
      receiver_.rows = batch_.data();
      receiver_.capacity = batch_.size();
    }
    // Straight from the executor into batch_ (ReceiveBlockRow), as
    // SPI_cursor_fetch runs the portal, without its tuple table.
    PgCall([&] {
      MemoryContextReset(batch_memory_);
      receiver_.n = 0;
      receiver_.bytes = 0;
      if (direct_ != nullptr) FetchDirect(direct_, &receiver_, fetch_count_);
      else PortalRunFetch(portal_, FETCH_FORWARD, fetch_count_, &receiver_.pub);
    });
    failed_ = false;
    rows_ = receiver_.n;
    next_row_ = 0;
    if (rows_ < static_cast<uint64>(fetch_count_)) done_ = true;
    // The next batch's size from this one's bytes a row.
    if (rows_ > 0) {
      const uint64 per_row = std::max<uint64>(1, receiver_.bytes / rows_);
      fetch_count_ = static_cast<long>(std::clamp<uint64>(kCursorBatchBytes / per_row, 1, kCursorBatch));
    }
    if (rows_ == 0) return nullptr;
  }
  CountStat(Stat::kBlocksRead, 1);
  return &batch_[next_row_++];
}

void Release(FetchedBlocks* fetched) {
  if (fetched->table != nullptr) PgCall([&] { SPI_freetuptable(fetched->table); });
  fetched->table = nullptr;
  fetched->blocks.clear();
}

void DecodeBlockData(int64_t series_id, Datum data, core::SeriesPoints* out,
                     const std::function<std::string()>& range, uint32_t expected_count, core::Timestamp until,
                     core::Timestamp since, const core::ValueAnchor* anchor) {
  struct varlena* raw = nullptr;
  struct varlena* stored = reinterpret_cast<struct varlena*>(DatumGetPointer(data));
  PgCall([&] { raw = pg_detoast_datum_packed(stored); });
  // Straight into `out` when it is empty (reusing its capacity), else into a
  // temporary appended below.
  core::SeriesPoints scratch;
  core::SeriesPoints& decoded = out->empty() ? *out : scratch;
  try {
    const size_t held = core::DecodeBlockBetween(reinterpret_cast<const uint8_t*>(VARDATA_ANY(raw)),
                                                 VARSIZE_ANY_EXHDR(raw), since, until, &decoded.ts, &decoded.values,
                                                 anchor);
    if (expected_count != 0 && held != expected_count)
      throw core::Error(core::ErrorCategory::DataCorrupted, "block point count does not match its catalog row",
                        "The block holds " + std::to_string(held) + " points, its row says " +
                            std::to_string(expected_count) + ".");
  } catch (const core::Error& e) {
    if (e.category() != core::ErrorCategory::DataCorrupted) throw;
    const std::string where = range ? " (" + range() + ")" : "";
    // A segment summary the block contradicts (core::ValueAnchor): the
    // segments are damaged, not the block.
    const bool segments = std::string(e.what()) == core::kAnchorDisagrees;
    throw core::Error(core::ErrorCategory::DataCorrupted,
                      (segments ? "corrupt segment summaries in series " : "corrupt block in series ") +
                          std::to_string(series_id) + where,
                      segments ? e.detail() : std::string(e.what()) + (e.detail().empty() ? "" : ": " + e.detail()),
                      segments ? kSegmentsHint
                               : "Restore the series from a backup, or remove the block with aegis.delete_series().");
  }
  if (raw != stored) PgCall([&] { pfree(raw); });
  CountStat(Stat::kBlocksDecoded, 1);
  CountStat(Stat::kPointsDecoded, decoded.size());
  if (&decoded != out) out->Append(decoded, 0, decoded.size());
}

void DecodeStoredBlock(int64_t series_id, const BlockRef& block, core::SeriesPoints* out, core::Timestamp until,
                       core::Timestamp since, const core::ValueAnchor* anchor) {
  const auto range = [&] { return TimestampText(block.summary.ts_min) + " to " + TimestampText(block.summary.ts_max); };
  if (block.has_data)
    return DecodeBlockData(series_id, block.data, out, range, block.summary.count, until, since, anchor);
  // Left out by a lean cursor: read by the block's key, with the statement's
  // snapshot (the cursor's), so it is the same row.
  static SPIPlanPtr block_data_plan = nullptr;
  SPITupleTable* table = nullptr;
  PgCall([&] {
    static const Oid types[] = {INT8OID, TIMESTAMPTZOID};
    Datum values[] = {Int64GetDatum(series_id), TimestampTzGetDatum(block.summary.ts_min)};
    ExecutePlan(KeptPlan(&block_data_plan, "SELECT data FROM aegis.blocks WHERE series_id = $1 AND ts_min = $2", 2,
                         types),
                values, nullptr, true, 0);
    table = SPI_tuptable;
  });
  if (SPI_processed != 1) {
    PgCall([&] { SPI_freetuptable(table); });
    throw core::Error(core::ErrorCategory::Internal,
                      "block of series " + std::to_string(series_id) + " from " + range() + " not found again",
                      "The block the cursor read is not there when its data is read by its key.");
  }
  bool isnull = false;
  const Datum data = PgCall([&] { return SPI_getbinval(table->vals[0], table->tupdesc, 1, &isnull); });
  DecodeBlockData(series_id, data, out, range, block.summary.count, until, since, anchor);
  PgCall([&] { SPI_freetuptable(table); });
}

std::vector<core::BlockSummary> DecodeStoredSegments(int64_t series_id, const BlockRef& block,
                                                     core::Timestamp widest_use) {
  if (!block.has_segments) return {};
  struct varlena* raw = nullptr;
  struct varlena* stored = reinterpret_cast<struct varlena*>(DatumGetPointer(block.segments));
  PgCall([&] { raw = pg_detoast_datum_packed(stored); });
  std::vector<core::BlockSummary> segments;
  const core::Timestamp span =
      core::SegmentSpanOf(reinterpret_cast<const uint8_t*>(VARDATA_ANY(raw)), VARSIZE_ANY_EXHDR(raw));
  if (span > widest_use) {
    if (raw != stored) PgCall([&] { pfree(raw); });
    return segments;
  }
  try {
    segments = core::DecodeSegments(reinterpret_cast<const uint8_t*>(VARDATA_ANY(raw)), VARSIZE_ANY_EXHDR(raw),
                                    block.summary);
  } catch (const core::Error& e) {
    if (e.category() != core::ErrorCategory::DataCorrupted) throw;
    throw core::Error(core::ErrorCategory::DataCorrupted,
                      "corrupt segment summaries in series " + std::to_string(series_id) + " (" +
                          TimestampText(block.summary.ts_min) + " to " + TimestampText(block.summary.ts_max) + ")",
                      std::string(e.what()) + (e.detail().empty() ? "" : ": " + e.detail()), kSegmentsHint);
  }
  if (raw != stored) PgCall([&] { pfree(raw); });
  return segments;
}

core::SeriesPoints FetchRecent(int64_t series_id, core::Timestamp lo, core::Timestamp hi) {
  core::SeriesPoints points;
  PgCall([&] {
    static const Oid types[] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
    Datum values[] = {Int64GetDatum(series_id), TimestampTzGetDatum(lo), TimestampTzGetDatum(hi)};
    ExecutePlan(KeptPlan(&fetch_recent_plan,
                         "SELECT ts, value FROM aegis.recent_points WHERE series_id = $1 AND ts >= $2 AND ts < $3 "
                         "ORDER BY ts",
                         3, types),
                values, nullptr, true, 0);
  });
  ReadPointRows(&points);
  CountStat(Stat::kRecentRowsRead, points.size());
  PgCall([] { SPI_freetuptable(SPI_tuptable); });
  OverlayPacked(series_id, lo, hi, &points);
  return points;
}

core::SeriesPoints TakeRecent(int64_t series_id, core::Timestamp lo, core::Timestamp hi) {
  core::SeriesPoints points;
  PgCall([&] {
    static const Oid types[] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
    Datum values[] = {Int64GetDatum(series_id), TimestampTzGetDatum(lo), TimestampTzGetDatum(hi)};
    ExecuteWithLatestSnapshot(KeptPlan(&take_recent_plan,
                              "DELETE FROM aegis.recent_points WHERE series_id = $1 AND ts >= $2 AND ts < $3 "
                              "RETURNING ts, value",
                              3, types),
                     values, nullptr, 0);
  });
  ReadPointRows(&points);
  PgCall([] { SPI_freetuptable(SPI_tuptable); });
  core::SortAndDeduplicate(&points);
  return points;
}

void UpsertRecent(int64_t series_id, const core::SeriesPoints& points) {
  PgCall([&] {
    static const Oid types[] = {INT8OID, TIMESTAMPTZARRAYOID, FLOAT8ARRAYOID};
    Datum values[] = {Int64GetDatum(series_id), Int64Array(points.ts.data(), points.size(), TIMESTAMPTZOID),
                      Float8Array(points.values.data(), points.size())};
    ExecutePlan(KeptPlan(&upsert_recent_plan,
                         "INSERT INTO aegis.recent_points (series_id, ts, value) "
                         "SELECT $1, p.ts, p.value FROM unnest($2, $3) AS p(ts, value) "
                         "ON CONFLICT (series_id, ts) DO UPDATE SET value = EXCLUDED.value",
                         3, types),
                values, nullptr, false, 0);
    pfree(DatumGetPointer(values[1]));
    pfree(DatumGetPointer(values[2]));
  });
}

void UpsertRecentMany(const std::vector<std::pair<int64_t, const core::SeriesPoints*>>& writes) {
  // Points per statement: the arrays stay a few MB.
  constexpr size_t kChunkPoints = 100000;
  std::vector<int64_t> ids, ts;
  std::vector<double> values;
  auto flush = [&] {
    if (ids.empty()) return;
    PgCall([&] {
      static const Oid types[] = {INT8ARRAYOID, TIMESTAMPTZARRAYOID, FLOAT8ARRAYOID};
      Datum args[] = {Int64Array(ids.data(), ids.size(), INT8OID), Int64Array(ts.data(), ts.size(), TIMESTAMPTZOID),
                      Float8Array(values.data(), values.size())};
      ExecutePlan(KeptPlan(&upsert_recent_many_plan,
                           "INSERT INTO aegis.recent_points (series_id, ts, value) "
                           "SELECT * FROM unnest($1, $2, $3) "
                           "ON CONFLICT (series_id, ts) DO UPDATE SET value = EXCLUDED.value",
                           3, types),
                  args, nullptr, false, 0);
      for (Datum d : args) pfree(DatumGetPointer(d));
    });
    ids.clear();
    ts.clear();
    values.clear();
  };
  for (const auto& [series_id, points] : writes) {
    if (points->size() >= kChunkPoints) {
      flush();  // keys stay in ascending (series_id, ts) order across statements
      UpsertRecent(series_id, *points);
      continue;
    }
    if (ids.size() + points->size() > kChunkPoints) flush();
    ids.insert(ids.end(), points->size(), series_id);
    ts.insert(ts.end(), points->ts.begin(), points->ts.end());
    values.insert(values.end(), points->values.begin(), points->values.end());
  }
  flush();
}

namespace {

// Deletes the series' blocks that start at block_starts.
void DeleteBlocks(int64_t series_id, const std::vector<core::Timestamp>& block_starts) {
  if (block_starts.empty()) return;
  PgCall([&] {
    static const Oid types[] = {INT8OID, TIMESTAMPTZARRAYOID};
    Datum values[] = {Int64GetDatum(series_id), Int64Array(block_starts.data(), block_starts.size(), TIMESTAMPTZOID)};
    ExecuteWithLatestSnapshot(
        KeptPlan(&delete_blocks_plan, "DELETE FROM aegis.blocks WHERE series_id = $1 AND ts_min = ANY ($2)", 2, types),
        values, nullptr, 0);
    pfree(DatumGetPointer(values[1]));
  });
}

}  // namespace

size_t ReplaceBlocks(int64_t series_id, const std::vector<core::Timestamp>& block_starts,
                     const core::SeriesPoints& points) {
  DeleteBlocks(series_id, block_starts);
  // Blocks never cross a partition boundary (so a partition can be dropped
  // whole once its end is past retention). Points whose partition another
  // transaction is creating right now stay recent rows (newer than any
  // block) until compress packs them.
  const core::BlockLimits limits = StoredBlockLimits();
  size_t hint = 0;  // the previous block's point count, where the next cut starts looking
  size_t written = 0;
  for (size_t begin = 0, n = 0; begin < points.size(); begin += n) {
    const PartitionRange partition = FindPartition(points.ts[begin]);
    const auto end = std::lower_bound(points.ts.begin() + static_cast<ptrdiff_t>(begin), points.ts.end(), partition.hi);
    if (!partition.exists) {
      n = static_cast<size_t>(end - points.ts.begin()) - begin;
      core::SeriesPoints outside;
      outside.Append(points, begin, begin + n);
      UpsertRecent(series_id, outside);
      continue;
    }
    const core::Timestamp* ts = points.ts.data() + begin;
    const double* values = points.values.data() + begin;
    core::CutBlock block =
        core::CutFirstBlock(ts, values, static_cast<size_t>(end - points.ts.begin()) - begin, limits, &hint);
    n = block.count;
    InsertBlock(partition.relid, series_id, core::SummarizePoints(ts, values, n), block.data, block.segments);
    ++written;
    CheckForInterrupts();
  }
  return written;
}

size_t RepackBlocks(int64_t series_id, const std::vector<core::Timestamp>& block_starts,
                    const core::SeriesPoints& points) {
  if (points.empty() || block_starts.size() < 2) return 0;
  const PartitionRange partition = FindPartition(points.ts.front());
  if (!partition.exists || points.ts.back() >= partition.hi) return 0;
  const core::BlockLimits limits = StoredBlockLimits();
  std::vector<core::CutBlock> cut;
  size_t hint = 0;
  for (size_t begin = 0; begin < points.size(); begin += cut.back().count) {
    cut.push_back(core::CutFirstBlock(points.ts.data() + begin, points.values.data() + begin, points.size() - begin,
                                      limits, &hint));
    if (cut.size() >= block_starts.size()) return 0;  // no fewer blocks: leave them
    CheckForInterrupts();
  }
  DeleteBlocks(series_id, block_starts);
  size_t begin = 0;
  for (const core::CutBlock& block : cut) {
    const core::Timestamp* ts = points.ts.data() + begin;
    const double* values = points.values.data() + begin;
    InsertBlock(partition.relid, series_id, core::SummarizePoints(ts, values, block.count), block.data, block.segments);
    begin += block.count;
  }
  return cut.size();
}

int64_t RewriteOnShard(SPIPlanPtr* slot, const char* sql, int nargs, const Oid* types, Datum* values,
                       std::string* failure, int* failure_state,
                       const std::function<void(HeapTuple, TupleDesc)>& read_row) {
  int64_t points = 0;
  // The new blocks' starts and ends, read into PostgreSQL memory first (no
  // C++ allocation inside PgCall).
  Datum* times[2] = {nullptr, nullptr};
  int counts[2] = {0, 0};
  char* error = nullptr;
  PgCall([&] {
    RunPlan(slot, sql, nargs, types, values, Snap::kLatest);
    bool isnull = false;
    points = DatumGetInt64(ResultValue(0, 1, &isnull));
    for (int k = 0; k < 2; ++k) {
      const Datum array = ResultValue(0, 2 + k, &isnull);
      bool* nulls = nullptr;
      if (!isnull)
        deconstruct_array(DatumGetArrayTypeP(array), TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &times[k],
                          &nulls, &counts[k]);
    }
    if (failure != nullptr) {
      const Datum message = ResultValue(0, 4, &isnull);
      if (!isnull) error = TextDatumGetCString(message);
      const Datum state = ResultValue(0, 5, &isnull);
      if (!isnull && failure_state != nullptr) {
        const char* code = TextDatumGetCString(state);
        if (strlen(code) == 5) *failure_state = MAKE_SQLSTATE(code[0], code[1], code[2], code[3], code[4]);
      }
    }
    if (read_row) read_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc);
    SPI_freetuptable(SPI_tuptable);
  });
  if (error != nullptr) *failure = error;
  // What InsertBlock notes of every block it writes.
  for (int i = 0; i < counts[0] && i < counts[1]; ++i) {
    const core::Timestamp start = DatumGetTimestampTz(times[0][i]);
    NoteBlockSpan(FindPartition(start).relid, DatumGetTimestampTz(times[1][i]) - start);
  }
  return points;
}

size_t MergeIntoBlocks(int64_t series_id, const core::SeriesPoints& newer, bool absorb_recent) {
  if (newer.empty()) return 0;
  const core::Timestamp lo = newer.ts.front();
  const core::Timestamp hi = newer.ts.back();
  // One rewriter per series at a time: everything below reads with a
  // snapshot taken after the lock.
  LockSeriesForRewrite(series_id);

  // The blocks newer overlaps, plus the block just before it when that one is
  // not full, so that appending in small steps still yields full blocks.
  std::vector<core::Timestamp> replaced;
  core::SeriesPoints base;
  PgCall([&] {
    static const Oid types[] = {INT8OID, TIMESTAMPTZOID};
    // With its segments, whose size counts towards a full block (a 0.1.0
    // database has none).
    static const char* const sql[2] = {
        "SELECT " AEGIS_BLOCK_COLUMNS ", NULL::bytea"
        " FROM aegis.blocks WHERE series_id = $1 AND ts_max < $2 ORDER BY ts_min DESC LIMIT 1",
        "SELECT " AEGIS_BLOCK_COLUMNS ", segments"
        " FROM aegis.blocks WHERE series_id = $1 AND ts_max < $2 ORDER BY ts_min DESC LIMIT 1"};
    static SPIPlanPtr plans[2] = {nullptr, nullptr};
    const int segments = SegmentsColumnExists() ? 1 : 0;
    Datum values[] = {Int64GetDatum(series_id), TimestampTzGetDatum(lo)};
    ExecuteWithLatestSnapshot(KeptPlan(&plans[segments], sql[segments], 2, types), values, nullptr, 1);
  });
  if (SPI_processed == 1) {
    BlockRef previous = BlockAt(SPI_tuptable, 0, 0);
    if (!BlockRowIsFull(previous)) {
      DecodeStoredBlock(series_id, previous, &base);
      replaced.push_back(previous.summary.ts_min);
    }
  }
  PgCall([] { SPI_freetuptable(SPI_tuptable); });

  FetchedBlocks overlapping = FetchBlocks(series_id, lo, hi, true);
  for (const BlockRef& block : overlapping.blocks) {
    DecodeStoredBlock(series_id, block, &base);
    replaced.push_back(block.summary.ts_min);
  }
  Release(&overlapping);

  if (absorb_recent) {
    core::SeriesPoints recent = TakeRecent(series_id, lo, hi == core::kTimestampInfinity ? hi : hi + 1);
    base = core::MergeNewerWins(base, recent);
  }
  core::SeriesPoints merged = core::MergeNewerWins(base, newer);

  return ReplaceBlocks(series_id, replaced, merged);
}

int64_t DeletePointsOfSeries(int64_t series_id, core::Timestamp since, core::Timestamp until) {
  if (since >= until) return 0;
  // One rewriter per series at a time; everything below reads with a
  // snapshot taken after the lock.
  LockSeriesForRewrite(series_id);
  if (UnderCitus() && SegmentsColumnExists()) {
    // Where the series is: aegis._delete_on_shard, which Citus runs on the
    // node that holds its shards, does what follows there.
    const core::BlockLimits limits = StoredBlockLimits();
    static SPIPlanPtr delete_on_shard_plan = nullptr;
    static const Oid types[] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZARRAYOID,
                                INT4OID, INT4OID};
    Datum values[] = {Int64GetDatum(series_id),
                      TimestampTzGetDatum(since),
                      TimestampTzGetDatum(until),
                      TimestampTzGetDatum(BlockScanStart(since, true)),
                      PgCall([] { return PartitionEndsArray(); }),
                      Int32GetDatum(static_cast<int32>(limits.max_points)),
                      Int32GetDatum(static_cast<int32>(limits.max_bytes))};
    const int64_t removed = RewriteOnShard(&delete_on_shard_plan,
                                           "SELECT points_removed, block_starts, block_ends"
                                           "  FROM aegis._delete_on_shard($1, $2, $3, $4, $5, $6, $7)",
                                           7, types, values);
    PgCall([&] { pfree(DatumGetPointer(values[4])); });
    if (removed > 0) RefreshLastPoints({series_id});
    return removed;
  }
  // Recent rows first: they shadow block points at the same timestamps.
  std::vector<core::Timestamp> shadowed = TakeRecent(series_id, since, until).ts;
  int64_t removed = static_cast<int64_t>(shadowed.size());

  FetchedBlocks blocks = FetchBlocks(series_id, since, until == core::kTimestampInfinity ? until : until - 1, true);
  std::vector<core::Timestamp> replaced;
  core::SeriesPoints kept;
  for (const BlockRef& block : blocks.blocks) {
    core::SeriesPoints points;
    DecodeStoredBlock(series_id, block, &points);
    const auto begin = std::lower_bound(points.ts.begin(), points.ts.end(), since);
    const auto end = std::lower_bound(begin, points.ts.end(), until);
    if (begin == end) continue;  // overlaps the range but has no point in it
    for (auto it = begin; it != end; ++it)
      if (!std::binary_search(shadowed.begin(), shadowed.end(), *it)) ++removed;
    const size_t from = static_cast<size_t>(begin - points.ts.begin());
    const size_t to = static_cast<size_t>(end - points.ts.begin());
    kept.Append(points, 0, from);
    kept.Append(points, to, points.size());
    replaced.push_back(block.summary.ts_min);
    CheckForInterrupts();
  }
  Release(&blocks);
  // Blocks of a series are disjoint, so kept is in time order already;
  // sorting costs little and keeps a block valid should they ever overlap.
  core::SortAndDeduplicate(&kept);
  if (!replaced.empty()) ReplaceBlocks(series_id, replaced, kept);
  if (removed > 0) RefreshLastPoints({series_id});
  return removed;
}

bool LastPointsExist() {
  return PgCall([] {
    const Oid aegis = get_namespace_oid("aegis", true);
    return OidIsValid(aegis) && OidIsValid(get_relname_relid("last_points", aegis));
  });
}

namespace {

// The statement of NewestPointsQuery on one node: one index probe per series
// and table.
#define AEGIS_NEWEST_BY_PROBES                                                                   \
  "SELECT i.id AS series_id, n.ts, n.value"                                                      \
  "  FROM (SELECT DISTINCT pg_catalog.unnest($1::pg_catalog.int8[]) AS id) i"                    \
  " CROSS JOIN LATERAL ("                                                                         \
  "   SELECT c.ts, c.value FROM ("                                                                \
  "     (SELECT r.ts, r.value, 1 AS newer FROM aegis.recent_points r"                             \
  "       WHERE r.series_id OPERATOR(pg_catalog.=) i.id ORDER BY r.ts DESC LIMIT 1)"              \
  "     UNION ALL"                                                                                \
  "     (SELECT b.ts_max, b.last_value, 0 FROM aegis.blocks b"                                    \
  "       WHERE b.series_id OPERATOR(pg_catalog.=) i.id ORDER BY b.ts_min DESC LIMIT 1)) c"       \
  "   ORDER BY c.ts DESC, c.newer DESC LIMIT 1) n"                                                \
  " ORDER BY i.id"

// Under Citus, which cannot push a probe per array element down to the
// shards: one statement over the co-located tables, run on every shard
// (docs/scale-out.md).
#define AEGIS_NEWEST_BY_SHARDS                                                                   \
  "SELECT DISTINCT ON (c.series_id) c.series_id, c.ts, c.value"                                  \
  "  FROM (SELECT r.series_id, r.ts, r.value, 1 AS newer FROM aegis.recent_points r"             \
  "         WHERE r.series_id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[])"                \
  "        UNION ALL"                                                                             \
  "        SELECT b.series_id, b.ts_max, b.last_value, 0 FROM aegis.blocks b"                     \
  "         WHERE b.series_id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[])) c"             \
  " ORDER BY c.series_id, c.ts DESC, c.newer DESC"

// The upsert of the newest points of the series in $1 (the statement ends
// with its ON CONFLICT target: callers add the update).
#define AEGIS_UPSERT_NEWEST(query) "INSERT INTO aegis.last_points AS l (series_id, ts, value) " query

// Series this transaction wrote, to bring aegis.last_points up to date just
// before it commits, in two kinds:
// - newest_written: the newest point the transaction stored of each series,
//   as written. It is what storage holds as long as nothing but writes
//   touched the series, so the commit upserts it as it is.
// - series_written: series whose newest point is read back from storage at
//   commit, because something else changed them in this transaction (a
//   delete, retention, a roll-up, a series removed: ForgetWrittenValues) or
//   a subtransaction that wrote was rolled back, or under Citus (whose
//   shards the statement reads as they are).
std::unordered_map<int64_t, std::pair<TimestampTz, double>> newest_written;
std::vector<int64_t> series_written;

// A subtransaction was rolled back since newest_written was last made
// whole: it may have written some of those points. The entries move to
// series_written before the map is used again (not in the callback, which
// must not allocate: it runs while a subtransaction aborts).
bool written_values_stale = false;

void LastPointsSubXactCallback(SubXactEvent event, SubTransactionId /*sub*/, SubTransactionId /*parent*/,
                               void* /*arg*/) {
  if (event == SUBXACT_EVENT_ABORT_SUB && !newest_written.empty()) written_values_stale = true;
}

// Applies written_values_stale.
void SettleWrittenValues() {
  if (written_values_stale) ForgetWrittenValues();
}

// Runs `plan` with `values` and the latest snapshot as the extension's owner
// (whoever wrote: a writer holds no table privilege; row-level security does
// not apply to the owner), with a pinned search_path, as a security-
// restricted operation. An ERROR unwinds both with the transaction.
void RunAsOwnerAtCommit(Oid owner, SPIPlanPtr plan, Datum* values) {
  Oid saved_user;
  int saved_context;
  GetUserIdAndSecContext(&saved_user, &saved_context);
  const int guc_level = NewGUCNestLevel();
  (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
                          false);
  if (OidIsValid(owner))
    SetUserIdAndSecContext(owner, saved_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
  // No portal is left at commit: each statement gets its snapshot here.
  const int code = SPI_execute_snapshot(plan, values, nullptr, GetLatestSnapshot(), InvalidSnapshot, false, true, 0);
  if (code < 0) elog(ERROR, "aegis: updating aegis.last_points failed: %s", SPI_result_code_string(code));
  SetUserIdAndSecContext(saved_user, saved_context);
  AtEOXact_GUC(true, guc_level);
}

// Committers of aegis.last_points rows take turns through advisory locks of
// kCommitLockSlots slots, a series' slot a hash of its id: a commit holds at
// most that many locks, however many series it wrote (PostgreSQL's lock
// table is shared, and sized for about max_locks_per_transaction each).
constexpr uint32 kCommitLockSlots = 64;

// Takes the transaction-level advisory lock (`mode`) of the slot of each
// series of `ids`, in ascending slot (PostgreSQL code).
void LockCommitters(const std::vector<int64_t>& ids, LOCKMODE mode) {
  constexpr uint32 kLastPointsLockSpace = 1095059284;  // "AEGT"
  bool slots[kCommitLockSlots] = {};
  for (int64_t id : ids)
    slots[(hash_bytes_uint32(static_cast<uint32>(id)) ^ hash_bytes_uint32(static_cast<uint32>(id >> 32))) %
          kCommitLockSlots] = true;
  for (uint32 slot = 0; slot < kCommitLockSlots; ++slot) {
    if (!slots[slot]) continue;
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, kLastPointsLockSpace, slot, 2);
    (void)LockAcquire(&tag, mode, false, false);
  }
}

// Brings aegis.last_points up to date for the series of newest_written and
// series_written (C++ code: PostgreSQL calls go through PgCall).
void CommitLastPoints() {
  SettleWrittenValues();
  std::sort(series_written.begin(), series_written.end());
  series_written.erase(std::unique(series_written.begin(), series_written.end()), series_written.end());
  // Read back from storage: those of series_written. As written: the others.
  std::vector<int64_t> read_ids, written_ids, all_ids;
  std::vector<TimestampTz> written_ts;
  std::vector<double> written_values;
  read_ids.swap(series_written);
  for (const auto& entry : newest_written)
    if (!std::binary_search(read_ids.begin(), read_ids.end(), entry.first)) written_ids.push_back(entry.first);
  std::sort(written_ids.begin(), written_ids.end());
  for (int64_t id : written_ids) {
    const auto& point = newest_written.find(id)->second;
    written_ts.push_back(point.first);
    written_values.push_back(point.second);
  }
  std::unordered_map<int64_t, std::pair<TimestampTz, double>>().swap(newest_written);
  std::merge(read_ids.begin(), read_ids.end(), written_ids.begin(), written_ids.end(), std::back_inserter(all_ids));
  PgCall([&] {
    const Oid aegis = get_namespace_oid("aegis", true);
    const Oid relid = OidIsValid(aegis) ? get_relname_relid("last_points", aegis) : InvalidOid;
    if (!OidIsValid(relid)) return;
    Oid owner = InvalidOid;
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (HeapTupleIsValid(tuple)) {
      owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
      ReleaseSysCache(tuple);
    }
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "aegis: SPI_connect failed");
    // Committers of one series take turns through the advisory lock of its
    // slot, all taken before the commit's upsert, in ascending slot (so no
    // cycle among them):
    // - exclusive under REPEATABLE READ and SERIALIZABLE, so that the
    //   upsert's latest snapshot sees every other committer's row and never
    //   fails the commit with a serialization error, and under Citus (whose
    //   upsert runs a task per shard at once);
    // - shared otherwise: READ COMMITTED committers do not wait for each
    //   other here, only for an exclusive holder; their one upsert waits for
    //   a row by itself, in ascending series order.
    // Rows of aegis.last_points a transaction locked before its commit (a
    // delete's, retention's or roll-up's refresh, a series removed) are of
    // series it holds the rewrite lock of, which keeps their writers
    // waiting until it ends; a dropped partition's refresh takes none, and a
    // REPEATABLE READ transaction that wrote a series and then dropped a
    // partition holding its newest point can deadlock at commit with a
    // writer of it (PostgreSQL's detector then fails one of them).
    const LOCKMODE mode = IsolationUsesXactSnapshot() || UnderCitus() ? ExclusiveLock : ShareLock;
    LockCommitters(all_ids, mode);
#define AEGIS_KEEP_NEWER                                                             \
  " ON CONFLICT (series_id) DO UPDATE SET ts = excluded.ts, value = excluded.value" \
  " WHERE excluded.ts OPERATOR(pg_catalog.>=) l.ts"
    // The newest committed points of the series read back from storage
    // ($1; also under REPEATABLE READ, with no crosscheck: a point committed
    // after this transaction's snapshot is newer still) and the points as
    // written of the others, in one statement, in ascending series (unnest
    // of several arrays is FROM-clause syntax that takes no schema; the
    // pinned search_path resolves it).
    static SPIPlanPtr plan = nullptr;
    static SPIPlanPtr citus_plan = nullptr;
    if (UnderCitus()) {
      // Nothing is kept as written under Citus (NoteSeriesWritten).
      static const Oid id_types[] = {INT8ARRAYOID};
      Datum values[] = {Int64Array(read_ids.data(), read_ids.size(), INT8OID)};
      RunAsOwnerAtCommit(owner,
                         KeptPlan(&citus_plan, AEGIS_UPSERT_NEWEST(AEGIS_NEWEST_BY_SHARDS) AEGIS_KEEP_NEWER, 1,
                                        id_types),
                         values);
    } else {
      static const Oid types[] = {INT8ARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID, FLOAT8ARRAYOID};
      Datum values[] = {Int64Array(read_ids.data(), read_ids.size(), INT8OID),
                        Int64Array(written_ids.data(), written_ids.size(), INT8OID),
                        Int64Array(written_ts.data(), written_ts.size(), TIMESTAMPTZOID),
                        Float8Array(written_values.data(), written_values.size())};
      RunAsOwnerAtCommit(owner,
                         KeptPlan(&plan,
                                        AEGIS_UPSERT_NEWEST(
                                            "SELECT * FROM ((" AEGIS_NEWEST_BY_PROBES
                                            ") UNION ALL SELECT * FROM unnest($2::pg_catalog.int8[],"
                                            " $3::pg_catalog.timestamptz[], $4::pg_catalog.float8[])) u"
                                            " ORDER BY 1") AEGIS_KEEP_NEWER,
                                        4, types),
                         values);
    }
#undef AEGIS_KEEP_NEWER
    SPI_finish();
  });
}

// At PRE_COMMIT (and PRE_PREPARE): the newest point of every series written
// replaces the stored one unless that is newer. Doing it here rather than in
// each write keeps writers of one series from queueing behind each other's
// row lock in aegis.last_points until commit: the row is locked only while
// the transaction commits, in ascending series order (no cycles).
//
// Called by PostgreSQL: the work runs inside the boundary, and an ERROR
// aborts the commit.
void LastPointsXactCallback(XactEvent event, void* /*arg*/) {
  if (event != XACT_EVENT_PRE_COMMIT && event != XACT_EVENT_PRE_PREPARE) {
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE ||
        event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT) {
      std::vector<int64_t>().swap(series_written);
      std::unordered_map<int64_t, std::pair<TimestampTz, double>>().swap(newest_written);
      written_values_stale = false;
    }
    return;
  }
  if (series_written.empty() && newest_written.empty()) return;
  Guarded([] { CommitLastPoints(); });
}

}  // namespace

void NoteSeriesWritten(const std::vector<WrittenNewest>& written) {
  SettleWrittenValues();
  static size_t unique_size = 0;
  if (series_written.empty()) unique_size = 0;
  // Under Citus the statement that reads storage is the one pushed down to
  // the shards.
  const bool by_value = !UnderCitus();
  for (const WrittenNewest& w : written) {
    if (!by_value) {
      series_written.push_back(w.series_id);
      continue;
    }
    // A later write of the same timestamp replaced the point.
    auto [it, inserted] = newest_written.try_emplace(w.series_id, w.ts, w.value);
    if (!inserted && w.ts >= it->second.first) it->second = {w.ts, w.value};
  }
  // A long transaction of many small writes: keep each series once.
  if (series_written.size() > 2 * unique_size + 1024) {
    std::sort(series_written.begin(), series_written.end());
    series_written.erase(std::unique(series_written.begin(), series_written.end()), series_written.end());
    unique_size = series_written.size();
  }
}

void ForgetWrittenValues() {
  for (const auto& entry : newest_written) series_written.push_back(entry.first);
  std::unordered_map<int64_t, std::pair<TimestampTz, double>>().swap(newest_written);
  written_values_stale = false;
}

void InitLastPoints() {
  RegisterXactCallback(LastPointsXactCallback, nullptr);
  RegisterSubXactCallback(LastPointsSubXactCallback, nullptr);
}

std::vector<int64_t> SeriesWrittenInTransaction() {
  SettleWrittenValues();
  std::vector<int64_t> ids = series_written;
  for (const auto& entry : newest_written) ids.push_back(entry.first);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

const char* NewestPointsQuery() { return UnderCitus() ? AEGIS_NEWEST_BY_SHARDS : AEGIS_NEWEST_BY_PROBES; }

void RefreshLastPointsOf(Datum ids) {
  static const Oid types[] = {INT8ARRAYOID};
  Datum args[] = {ids};
#define AEGIS_REPLACE " ON CONFLICT (series_id) DO UPDATE SET ts = excluded.ts, value = excluded.value"
  const char* upsert = UnderCitus() ? AEGIS_UPSERT_NEWEST(AEGIS_NEWEST_BY_SHARDS) AEGIS_REPLACE
                                    : AEGIS_UPSERT_NEWEST(AEGIS_NEWEST_BY_PROBES) AEGIS_REPLACE;
#undef AEGIS_REPLACE
  // An upsert, not a delete and an insert: a writer committing meanwhile
  // (its own upsert) must meet a row, not a gap it could fill first.
  RunPlan(&refresh_last_points_plan, upsert, 1, types, args, Snap::kLatest);
  // Series left without points.
  RunPlan(&drop_last_points_plan,
          "DELETE FROM aegis.last_points l WHERE l.series_id OPERATOR(pg_catalog.=) ANY ($1)"
          " AND NOT EXISTS (SELECT 1 FROM aegis.recent_points r WHERE r.series_id OPERATOR(pg_catalog.=) l.series_id)"
          " AND NOT EXISTS (SELECT 1 FROM aegis.blocks b WHERE b.series_id OPERATOR(pg_catalog.=) l.series_id)",
          1, types, args, Snap::kLatest);
}

void RefreshLastPoints(const std::vector<int64_t>& series_ids) {
  if (series_ids.empty() || !LastPointsExist()) return;
  // Points were removed: the commit reads what is left back from storage.
  ForgetWrittenValues();
  PgCall([&] { RefreshLastPointsOf(Int64Array(series_ids.data(), series_ids.size(), INT8OID)); });
}

}  // namespace aegis::pg
