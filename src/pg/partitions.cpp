// Time partitions of aegis.blocks: finding, creating and dropping them.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "core/types.h"

#include "pg/boundary.h"
#include "pg/guc.h"
#include "pg/partitions.h"
#include "pg/privileges.h"
#include "pg/spi.h"
#include "pg/store.h"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/stratnum.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_opfamily.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"
#include "catalog/pg_inherits.h"
#include "access/xact.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "storage/proc.h"
#include "utils/syscache.h"
}

namespace aegis::pg {

namespace {

// Advisory lock class for partition DDL ("AEGP"): creators and droppers of
// partitions take it, without waiting, for the rest of their transaction.
constexpr int32 kPartitionLockClass = 0x41454750;

std::vector<PartitionRange> cache;
bool cache_valid = false;
uint64_t cache_generation = 0;  // counts LoadCache's reloads
bool cache_complete = false;    // the cache lists exactly aegis.blocks' partitions
SPIPlanPtr list_plan = nullptr;
Oid blocks_relid = InvalidOid;

SPIPlanPtr try_lock_plan = nullptr;
SPIPlanPtr register_plan = nullptr;
SPIPlanPtr unregister_plan = nullptr;
SPIPlanPtr refresh_dropped_plan = nullptr;
SPIPlanPtr unregister_spans_plan = nullptr;
SPIPlanPtr span_of_plan = nullptr;
SPIPlanPtr note_span_plan = nullptr;
SPIPlanPtr scan_start_plan = nullptr;

void OnRelcacheInvalidation(Datum /*arg*/, Oid relid) {
  if (relid == InvalidOid || relid == blocks_relid) cache_valid = false;
}

// Whether the cache lists exactly the partitions attached to aegis.blocks
// (a partition attached by hand, or a row lost by a partial restore, would
// make it miss or invent one). PostgreSQL code.
bool ListsEveryPartition() {
  if (!OidIsValid(blocks_relid) || get_rel_relkind(blocks_relid) != RELKIND_PARTITIONED_TABLE) return false;
  // pg_inherits alone (the partition bounds are the catalog's business).
  List* children = find_inheritance_children(blocks_relid, NoLock);
  std::vector<Oid> attached;
  ListCell* cell;
  foreach (cell, children) attached.push_back(lfirst_oid(cell));
  list_free(children);
  std::vector<Oid> listed;
  for (const PartitionRange& p : cache) listed.push_back(p.relid);
  std::sort(attached.begin(), attached.end());
  std::sort(listed.begin(), listed.end());
  return attached == listed;
}

// Reads aegis.block_partitions with a snapshot taken now. PostgreSQL code.
void LoadCache() {
  ++cache_generation;
  const Oid aegis_namespace = get_namespace_oid("aegis", false);
  blocks_relid = get_relname_relid("blocks", aegis_namespace);
  const Oid partitions_relid = get_relname_relid("block_partitions", aegis_namespace);
  if (!OidIsValid(partitions_relid)) {
    // A database still at 0.1.0 (the library serves both versions): one
    // unpartitioned table.
    cache.assign(1, PartitionRange{DT_NOBEGIN, DT_NOEND, InvalidOid});
    cache_valid = true;
    cache_complete = false;
    return;
  }
  // Rows into palloc'd memory: no C++ object lives across the calls that
  // may raise.
  PartitionRange* rows = nullptr;
  size_t n = 0;
  if (UnderCitus() || get_rel_relkind(partitions_relid) != RELKIND_RELATION || has_subclass(partitions_relid)) {
    // A distributed database keeps the rows in the reference table's shards
    // (the coordinator's own copy is emptied): Citus plans the statement.
    // (So for a table that is not the plain one the extension made.)
    RunPlan(&list_plan, "SELECT partition::oid, lo, hi FROM aegis.block_partitions ORDER BY lo", 0, nullptr,
            nullptr, Snap::kLatest);
    n = SPI_processed;
    rows = static_cast<PartitionRange*>(palloc(sizeof(PartitionRange) * (n + 1)));
    for (uint64 i = 0; i < SPI_processed; ++i) {
      bool isnull = false;
      rows[i] = PartitionRange{DatumGetTimestampTz(ResultValue(i, 2, &isnull)),
                               DatumGetTimestampTz(ResultValue(i, 3, &isnull)),
                               DatumGetObjectId(ResultValue(i, 1, &isnull))};
    }
    SPI_freetuptable(SPI_tuptable);
  } else {
    // Read directly, not through a statement, which a new session's first
    // read would parse and plan (the rows are the engine's bookkeeping,
    // read whatever the caller's privileges, as the tables' owner reads
    // them).
    Relation rel = table_open(partitions_relid, AccessShareLock);
    if (RelationGetDescr(rel)->natts < 3) elog(ERROR, "aegis: aegis.block_partitions lacks its columns");
    Snapshot snapshot = RegisterSnapshot(GetLatestSnapshot());
    TableScanDesc scan = table_beginscan(rel, snapshot, 0, nullptr);
    TupleTableSlot* slot = table_slot_create(rel, nullptr);
    size_t capacity = 16;
    rows = static_cast<PartitionRange*>(palloc(sizeof(PartitionRange) * capacity));
    while (table_scan_getnextslot(scan, ForwardScanDirection, slot)) {
      slot_getsomeattrs(slot, 3);  // partition, lo, hi: NOT NULL
      if (n == capacity) {
        capacity *= 2;
        rows = static_cast<PartitionRange*>(repalloc(rows, sizeof(PartitionRange) * capacity));
      }
      rows[n++] = PartitionRange{DatumGetTimestampTz(slot->tts_values[1]), DatumGetTimestampTz(slot->tts_values[2]),
                                 DatumGetObjectId(slot->tts_values[0])};
    }
    ExecDropSingleTupleTableSlot(slot);
    table_endscan(scan);
    UnregisterSnapshot(snapshot);
    table_close(rel, NoLock);  // held to the transaction's end, as a statement holds it
  }
  cache.assign(rows, rows + n);
  pfree(rows);
  std::sort(cache.begin(), cache.end(), [](const PartitionRange& a, const PartitionRange& b) { return a.lo < b.lo; });
  cache_valid = true;
  cache_complete = false;  // until checked
  cache_complete = ListsEveryPartition();
}

// The cached partition holding ts, or nullptr. PostgreSQL code.
const PartitionRange* FindCached(core::Timestamp ts) {
  auto it = std::upper_bound(cache.begin(), cache.end(), ts,
                             [](core::Timestamp t, const PartitionRange& p) { return t < p.lo; });
  if (it == cache.begin()) return nullptr;
  --it;
  return ts < it->hi ? &*it : nullptr;
}

// The time between the cached partitions around ts (which none holds).
PartitionRange GapAround(core::Timestamp ts) {
  PartitionRange gap{DT_NOBEGIN, DT_NOEND, InvalidOid, false};
  for (const PartitionRange& p : cache) {
    if (p.hi <= ts) gap.lo = std::max(gap.lo, p.hi);
    if (p.lo > ts) gap.hi = std::min(gap.hi, p.lo);
  }
  return gap;
}

// ts broken down in UTC, with its year as written (BC years positive; *bc
// tells). PostgreSQL code.
void BreakDown(core::Timestamp ts, pg_tm* tm, fsec_t* fsec = nullptr, bool* bc = nullptr) {
  fsec_t ignored = 0;
  if (timestamp2tm(ts, nullptr, tm, fsec != nullptr ? fsec : &ignored, nullptr, nullptr) != 0)
    ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("timestamp out of range")));
  if (bc != nullptr) {
    *bc = tm->tm_year <= 0;
    if (*bc) tm->tm_year = 1 - tm->tm_year;
  }
}

core::Timestamp FloorTo(core::Timestamp ts, int64 unit, int64 offset) {
  const int64 shifted = ts - offset;
  int64 q = shifted / unit;
  if (shifted % unit < 0) --q;
  return q * unit + offset;
}

// The aligned range of aegis.partition_interval that holds ts, in UTC.
// PostgreSQL code.
PartitionRange AlignedRange(core::Timestamp ts) {
  PartitionRange range;
  int64 unit = USECS_PER_DAY;
  int64 offset = 0;
  switch (static_cast<PartitionInterval>(guc_partition_interval)) {
    case PartitionInterval::kHour: unit = USECS_PER_HOUR; break;
    case PartitionInterval::kDay: break;
    case PartitionInterval::kWeek: unit = 7 * USECS_PER_DAY; offset = 2 * USECS_PER_DAY; break;  // Mondays
    case PartitionInterval::kMonth: {
      pg_tm tm{};
      BreakDown(ts, &tm);
      tm.tm_mday = 1;
      tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
      if (tm2timestamp(&tm, 0, nullptr, &range.lo) != 0) range.lo = DT_NOBEGIN;
      if (++tm.tm_mon > MONTHS_PER_YEAR) {
        tm.tm_mon = 1;
        ++tm.tm_year;
      }
      if (tm2timestamp(&tm, 0, nullptr, &range.hi) != 0 || !IS_VALID_TIMESTAMP(range.hi)) range.hi = DT_NOEND;
      return range;
    }
  }
  range.lo = FloorTo(ts, unit, offset);
  if (range.lo < MIN_TIMESTAMP) range.lo = DT_NOBEGIN;  // the first week or month of the range
  range.hi = range.lo >= END_TIMESTAMP - unit ? DT_NOEND : range.lo + unit;
  return range;
}

// A timestamptz literal in UTC that any DateStyle reads back exactly.
const char* Literal(core::Timestamp ts) {
  if (TIMESTAMP_IS_NOBEGIN(ts)) return "'-infinity'";
  if (TIMESTAMP_IS_NOEND(ts)) return "'infinity'";
  pg_tm tm{};
  fsec_t fsec = 0;
  bool bc = false;
  BreakDown(ts, &tm, &fsec, &bc);
  char text[64];
  snprintf(text, sizeof text, "'%04d-%02d-%02d %02d:%02d:%02d.%06d+00%s'", tm.tm_year, tm.tm_mon, tm.tm_mday,
           tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(fsec), bc ? " BC" : "");
  return pstrdup(text);
}

// blocks_YYYYMMDD, with the time of day when the range does not start at
// midnight UTC.
const char* PartitionName(core::Timestamp lo) {
  if (TIMESTAMP_IS_NOBEGIN(lo)) return "blocks_first";
  pg_tm tm{};
  fsec_t fsec = 0;
  bool bc = false;
  BreakDown(lo, &tm, &fsec, &bc);
  char name[NAMEDATALEN];
  int n = snprintf(name, sizeof name, "blocks_%s%04d%02d%02d", bc ? "bc" : "", tm.tm_year, tm.tm_mon, tm.tm_mday);
  if (tm.tm_hour != 0 || tm.tm_min != 0 || tm.tm_sec != 0 || fsec != 0)
    n += snprintf(name + n, sizeof name - n, "_%02d%02d%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (fsec != 0) snprintf(name + n, sizeof name - n, "_%06d", static_cast<int>(fsec));
  return pstrdup(name);
}

// Takes the partition DDL lock if no other transaction holds it.
// PostgreSQL code.
bool TakePartitionLock() {
  static const Oid types[] = {INT4OID, INT4OID};
  Datum values[] = {Int32GetDatum(kPartitionLockClass), Int32GetDatum(0)};
  RunPlan(&try_lock_plan, "SELECT pg_catalog.pg_try_advisory_xact_lock($1, $2)", 2, types, values, Snap::kWrite);
  bool isnull = false;
  const bool locked = DatumGetBool(ResultValue(0, 1, &isnull));
  SPI_freetuptable(SPI_tuptable);
  return locked;
}

void RunDdl(const char* sql) { CheckSpiResult(SPI_execute(sql, false, 0), "partition DDL"); }

static_assert(kMaxBlockRowBytes == MaxHeapTupleSize, "aegis.block_max_bytes' limit is a heap page's largest row");

// Creates the partition for ts (the caller holds the partition lock and has
// found none). PostgreSQL code.
PartitionRange CreatePartition(core::Timestamp ts) {
  PartitionRange range = AlignedRange(ts);
  // Clip to the partitions that exist: they may have come from another
  // interval, or from the upgrade of a 0.1.0 database.
  const PartitionRange gap = GapAround(ts);
  range.lo = std::max(range.lo, gap.lo);
  range.hi = std::min(range.hi, gap.hi);
  const char* name = PartitionName(range.lo);
  // Block rows up to a page's largest stay in the heap, whole
  // (aegis.block_max_bytes cuts them, by default two to a page): TOAST would
  // move a row of more than 2 kB out of line, an extra page read a block.
  RunDdl(psprintf("CREATE TABLE aegis.%s (LIKE aegis.blocks INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
                  " INCLUDING STORAGE, PRIMARY KEY (series_id, ts_min)) WITH (toast_tuple_target = %d)",
                  name, kMaxBlockRowBytes));
  RunDdl(psprintf("ALTER TABLE aegis.blocks ATTACH PARTITION aegis.%s FOR VALUES FROM (%s) TO (%s)", name,
                  Literal(range.lo), Literal(range.hi)));
  range.relid = get_relname_relid(name, get_namespace_oid("aegis", false));
  static const Oid types[] = {OIDOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
  Datum values[] = {ObjectIdGetDatum(range.relid), TimestampTzGetDatum(range.lo), TimestampTzGetDatum(range.hi)};
  RunPlan(&register_plan, "INSERT INTO aegis.block_partitions (partition, lo, hi) VALUES ($1::regclass, $2, $3)", 3,
          types, values, Snap::kWrite);
  return range;
}

}  // namespace

void NoteBlockSpan(Oid partition, int64_t span) {
  if (!OidIsValid(partition)) return;  // a 0.1.0 database: no partitions
  // The spans this (sub)transaction knows its partitions' rows to cover. A
  // subtransaction id is never reused within a transaction, so a row a
  // rolled back subtransaction inserted is never taken for written.
  static LocalTransactionId noted_lxid = InvalidLocalTransactionId;
  static SubTransactionId noted_subxid = InvalidSubTransactionId;
  static std::vector<std::pair<Oid, int64_t>> noted;
  const LocalTransactionId lxid = MyProc->lxid;
  const SubTransactionId subxid = PgCall([] { return GetCurrentSubTransactionId(); });
  if (lxid != noted_lxid || subxid != noted_subxid) {
    noted.clear();
    noted_lxid = lxid;
    noted_subxid = subxid;
  }
  auto it = std::find_if(noted.begin(), noted.end(), [&](const auto& n) { return n.first == partition; });
  if (it != noted.end() && it->second >= span) return;
  // What the rows say now (the latest committed ones and this transaction's);
  // a longer block adds a row. Rows are only inserted: concurrent writers
  // may both add one, and neither waits for the other.
  const int64_t covered = PgCall([&] {
    static const Oid types[] = {OIDOID, INT8OID};
    Datum values[] = {ObjectIdGetDatum(partition), Int64GetDatum(span)};
    RunPlan(&span_of_plan, "SELECT max(max_span) FROM aegis.block_spans WHERE partition = $1::regclass", 1, types,
            values, Snap::kWrite);
    bool isnull = false;
    const Datum max = ResultValue(0, 1, &isnull);
    int64_t known = isnull ? -1 : DatumGetInt64(max);
    SPI_freetuptable(SPI_tuptable);
    if (known < span) {
      RunPlan(&note_span_plan, "INSERT INTO aegis.block_spans (partition, max_span) VALUES ($1::regclass, $2)", 2,
              types, values, Snap::kWrite);
      known = span;
    }
    return known;
  });
  if (it != noted.end()) {
    it->second = covered;
  } else {
    noted.emplace_back(partition, covered);
  }
}

namespace {

core::Timestamp CatalogScanStart(core::Timestamp since, bool latest);


// BlockScanStart for a reader, from the partition cache: the partition that
// holds `since` (PartitionsBetween, as BlockCursor chooses where to read),
// then its longest span. The partitions' rows need no scan of their own.
core::Timestamp ReaderScanStart(core::Timestamp since) {
  if (since == DT_NOEND) return since;
  if (UnderCitus()) return CatalogScanStart(since, false);  // Citus holds the rows (LoadCache)
  const PartitionsInRange in_range = PartitionsBetween(since, since + 1);
  if (!in_range.complete) return CatalogScanStart(since, false);
  if (in_range.partitions.empty()) return since;  // every older block ends before it
  if (in_range.partitions.size() > 1) return DT_NOBEGIN;  // overlapping partitions are not made
  const PartitionRange& partition = in_range.partitions.front();
  if (!OidIsValid(partition.relid)) return DT_NOBEGIN;  // a 0.1.0 database
  // The partition's longest span: the last entry of aegis.block_spans'
  // (partition, max_span) index for it, read directly with the statement's
  // snapshot (a statement would be parsed and planned in a new session).
  bool none = true;
  core::Timestamp span = 0;
  const bool read = PgCall([&] {
    const Oid aegis_namespace = get_namespace_oid("aegis", false);
    const Oid spans_relid = get_relname_relid("block_spans", aegis_namespace);
    const Oid index_relid = get_relname_relid("block_spans_partition_idx", aegis_namespace);
    if (!OidIsValid(spans_relid) || !OidIsValid(index_relid) || get_rel_relkind(spans_relid) != RELKIND_RELATION ||
        get_rel_relkind(index_relid) != RELKIND_INDEX)
      return false;
    // The table first, then its index, as every other user locks them.
    Relation rel = table_open(spans_relid, AccessShareLock);
    Relation index = index_open(index_relid, AccessShareLock);
    // Only the table and index the extension made: (partition regclass,
    // max_span bigint), no inheritance children, and a whole btree on both
    // columns, ascending, with their default operator families.
    const TupleDesc desc = RelationGetDescr(rel);
    const bool usable =
        !rel->rd_rel->relhassubclass && desc->natts == 2 && TupleDescAttr(desc, 0)->atttypid == REGCLASSOID &&
        TupleDescAttr(desc, 1)->atttypid == INT8OID && index->rd_index->indrelid == spans_relid &&
        index->rd_index->indisvalid && index->rd_rel->relam == BTREE_AM_OID && index->rd_index->indnkeyatts == 2 &&
        index->rd_index->indkey.values[0] == 1 && index->rd_index->indkey.values[1] == 2 &&
        index->rd_indoption[0] == 0 && index->rd_indoption[1] == 0 && index->rd_opfamily[0] == OID_BTREE_FAM_OID &&
        index->rd_opfamily[1] == INTEGER_BTREE_FAM_OID &&
        heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, nullptr);
    if (usable) {
      IndexScanDesc scan = index_beginscan(rel, index, GetActiveSnapshot(), 1, 0);
      ScanKeyData key;
      ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(partition.relid));
      index_rescan(scan, &key, 1, nullptr, 0);
      TupleTableSlot* slot = table_slot_create(rel, nullptr);
      if (index_getnext_slot(scan, BackwardScanDirection, slot)) {
        slot_getsomeattrs(slot, 2);
        none = slot->tts_isnull[1];
        if (!none) span = DatumGetInt64(slot->tts_values[1]);
      }
      ExecDropSingleTupleTableSlot(slot);
      index_endscan(scan);
    }
    index_close(index, NoLock);  // held to the transaction's end, as a statement holds them
    table_close(rel, NoLock);
    return usable;
  });
  if (!read) return CatalogScanStart(since, false);
  core::Timestamp back = 0;
  if (none || __builtin_sub_overflow(since, span, &back)) return partition.lo;
  return std::max(partition.lo, back);
}

}  // namespace

core::Timestamp BlockScanStart(core::Timestamp since, bool latest) {
  if (since == DT_NOBEGIN) return since;
  return latest ? CatalogScanStart(since, true) : ReaderScanStart(since);
}

namespace {

// BlockScanStart from the rows of aegis.block_partitions, with the
// statement's snapshot or the latest one.
core::Timestamp CatalogScanStart(core::Timestamp since, bool latest) {
  const bool spans_exist =
      PgCall([] { return OidIsValid(get_relname_relid("block_spans", get_namespace_oid("aegis", false))); });
  if (!spans_exist) return DT_NOBEGIN;  // a 0.1.0 database
  {
    // Read as the tables' owner (a reader needs no privilege on these two
    // tables), as a security-restricted operation; the statement names every
    // operator and function with its schema.
    AsTableOwner owner(AsTableOwner::kRestrictedQualified);
    PgCall([&] {
      static const Oid types[] = {TIMESTAMPTZOID};
      Datum values[] = {TimestampTzGetDatum(since)};
      RunPlan(&scan_start_plan,
              "SELECT p.lo, (SELECT pg_catalog.max(s.max_span) FROM aegis.block_spans s"
              " WHERE s.partition OPERATOR(pg_catalog.=) p.partition)"
              " FROM aegis.block_partitions p WHERE p.lo OPERATOR(pg_catalog.<=) $1 AND p.hi OPERATOR(pg_catalog.>) $1",
              1, types, values, latest ? Snap::kLatest : Snap::kReadOnly);
    });
  }
  return PgCall([&] {
    // No partition holds `since`: every block that starts before it lies in
    // an older partition, so it ends before it too.
    core::Timestamp start = since;
    if (SPI_processed == 1) {
      bool lo_null = false;
      bool span_null = false;
      // A block lies inside one partition: it starts at lo or later, and at
      // most the partition's longest span before `since`.
      start = DatumGetTimestampTz(ResultValue(0, 1, &lo_null));
      const Datum span = ResultValue(0, 2, &span_null);
      core::Timestamp back = 0;
      if (!span_null && !__builtin_sub_overflow(since, DatumGetInt64(span), &back)) start = std::max(start, back);
    } else if (SPI_processed > 1) {
      start = DT_NOBEGIN;  // overlapping partitions are not made; read as if there were no bound
    }
    SPI_freetuptable(SPI_tuptable);
    return start;
  });
}

}  // namespace

void InitPartitionCache() { CacheRegisterRelcacheCallback(OnRelcacheInvalidation, PointerGetDatum(nullptr)); }

PartitionRange FindPartition(core::Timestamp ts) {
  return PgCall([&] {
    for (int attempt = 0;; ++attempt) {
      AcceptInvalidationMessages();
      if (!cache_valid) LoadCache();
      if (const PartitionRange* found = FindCached(ts)) {
        const PartitionRange partition = *found;
        if (!OidIsValid(partition.relid)) return partition;  // 0.1.0: not partitioned
        // Once locked it cannot be dropped; a drop that committed before is
        // seen here (the lock processes pending invalidations).
        LockRelationOid(partition.relid, RowExclusiveLock);
        // (A partition's bounds never change while it exists.)
        if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(partition.relid))) return partition;
        cache_valid = false;
        if (attempt < 3) continue;
        elog(ERROR, "aegis: the partition of aegis.blocks for %s keeps disappearing", timestamptz_to_str(ts));
      }
      if (TakePartitionLock()) {
        LoadCache();  // what other creators committed
        if (FindCached(ts) != nullptr) continue;
        PartitionRange created = CreatePartition(ts);
        LockRelationOid(created.relid, RowExclusiveLock);
        LoadCache();
        return created;
      }
      // Someone else is creating or dropping partitions: perhaps ours was
      // committed since the cache was read.
      LoadCache();
      if (attempt < 3 && FindCached(ts) != nullptr) continue;
      return GapAround(ts);
    }
  });
}

PartitionsInRange PartitionsBetween(core::Timestamp lo, core::Timestamp hi) {
  const bool fresh = PgCall([] {
    AcceptInvalidationMessages();
    if (!cache_valid || !OidIsValid(blocks_relid)) return false;
    LockRelationOid(blocks_relid, AccessShareLock);
    return cache_valid;
  });
  if (!fresh) {
    // A reader needs no privilege on aegis.block_partitions (LoadCache may
    // run a statement).
    AsTableOwner owner;
    PgCall([] {
      LoadCache();
      if (OidIsValid(blocks_relid)) LockRelationOid(blocks_relid, AccessShareLock);
      if (!cache_valid) LoadCache();  // the lock saw a partition come or go
    });
  }
  PartitionsInRange found;
  found.parent = blocks_relid;
  found.generation = cache_generation;
  found.complete = cache_complete;
  for (const PartitionRange& p : cache)
    if (p.lo < hi && p.hi > lo) found.partitions.push_back(p);
  return found;
}

bool PartitionCacheUnchanged(uint64_t generation) { return cache_valid && cache_generation == generation; }

std::vector<PartitionRange> ListPartitions() {
  return PgCall([] {
    LoadCache();
    return cache;
  });
}

Datum PartitionEndsArray(Datum* starts) {
  LoadCache();
  Datum* elements = static_cast<Datum*>(palloc(sizeof(Datum) * (cache.empty() ? 1 : cache.size())));
  const auto array_of = [&](bool ends) {
    for (size_t i = 0; i < cache.size(); ++i) elements[i] = TimestampTzGetDatum(ends ? cache[i].hi : cache[i].lo);
    return PointerGetDatum(construct_array(elements, static_cast<int>(cache.size()), TIMESTAMPTZOID, 8,
                                           FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
  };
  if (starts != nullptr) *starts = array_of(false);
  const Datum ends = array_of(true);
  pfree(elements);
  return ends;
}

namespace {

// Whether no snapshot, however old, can see a row of the relation: every
// tuple version in it is dead to every transaction, as VACUUM would judge
// it (a delete committed before the oldest snapshot of the database). The
// caller holds ACCESS EXCLUSIVE on it, so no one adds rows meanwhile.
// PostgreSQL code.
bool NoSnapshotSeesRows(Oid relid) {
  Relation rel = table_open(relid, NoLock);
  const TransactionId horizon = GetOldestNonRemovableTransactionId(rel);
  TableScanDesc scan = table_beginscan(rel, SnapshotAny, 0, nullptr);
  const Buffer* buffer = &reinterpret_cast<HeapScanDesc>(scan)->rs_cbuf;
  bool none = true;
  for (HeapTuple tuple; none && (tuple = heap_getnext(scan, ForwardScanDirection)) != nullptr;) {
    // The visibility check may set hint bits: it needs the page locked.
    LockBuffer(*buffer, BUFFER_LOCK_SHARE);
    none = HeapTupleSatisfiesVacuum(tuple, horizon, *buffer) == HEAPTUPLE_DEAD;
    LockBuffer(*buffer, BUFFER_LOCK_UNLOCK);
  }
  table_endscan(scan);
  table_close(rel, NoLock);
  return none;
}

}  // namespace

bool TryDropPartition(const PartitionRange& partition, DropReason reason) {
  if (!OidIsValid(partition.relid)) return false;
  const bool last_points = LastPointsExist();
  // Points of this transaction's writes may go with the partition.
  ForgetWrittenValues();
  return PgCall([&] {
    if (!TakePartitionLock()) return false;
    // ACCESS EXCLUSIVE on the partition, then on aegis.blocks, without
    // queueing in front of readers and writers: a few tries each (an
    // autovacuum of the partition, likely after retention trimmed it, holds
    // it for a while), then leave it to the next round. The partition
    // first, held for at most a second while aegis.blocks is tried.
    const auto try_lock = [](Oid relid, int attempts) {
      for (int attempt = 0; attempt < attempts; ++attempt) {
        if (ConditionalLockRelationOid(relid, AccessExclusiveLock)) return true;
        pg_usleep(20000L);
        CHECK_FOR_INTERRUPTS();
      }
      return false;
    };
    if (!try_lock(partition.relid, 250)) return false;
    // The partition's own lock is not kept when it stays: a generic plan of
    // an engine read locks every partition when it starts.
    const auto keep = [&] {
      UnlockRelationOid(partition.relid, AccessExclusiveLock);
      return false;
    };
    if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(partition.relid))) return keep();
    // Emptied by deletes some snapshot predates (this transaction's own, or
    // a reader's that has not opened aegis.blocks yet): not now. Checked
    // before aegis.blocks is locked, and a partition that stays is unlocked
    // at once, so a round that keeps it holds no lock anyone waits for.
    if (reason == DropReason::kEmpty && !NoSnapshotSeesRows(partition.relid)) return keep();
    if (!try_lock(blocks_relid, 50)) return keep();
    static const Oid types[] = {OIDOID};
    Datum values[] = {ObjectIdGetDatum(partition.relid)};
    RunPlan(&unregister_plan, "DELETE FROM aegis.block_partitions WHERE partition = $1::regclass", 1, types, values,
            Snap::kWrite);
    RunPlan(&unregister_spans_plan, "DELETE FROM aegis.block_spans WHERE partition = $1::regclass", 1, types, values,
            Snap::kWrite);
    RunDdl(psprintf("DROP TABLE %s", quote_qualified_identifier("aegis", get_rel_name(partition.relid))));
    cache_valid = false;
    // Series whose newest point was in the partition.
    if (last_points) {
      Datum hi[] = {TimestampTzGetDatum(partition.hi)};
      static const Oid hi_types[] = {TIMESTAMPTZOID};
      RunPlan(&refresh_dropped_plan,
              "SELECT pg_catalog.array_agg(series_id) FROM aegis.last_points WHERE ts < $1", 1, hi_types, hi,
              Snap::kWrite);
      bool isnull = true;
      const Datum ids = ResultValue(0, 1, &isnull);
      if (!isnull) RefreshLastPointsOf(ids);
    }
    return true;
  });
}

}  // namespace aegis::pg
