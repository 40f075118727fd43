// Candidate rows of aegis.series read straight from the table and its
// indexes (series_scan.h). PostgreSQL code throughout: it runs inside PgCall
// and holds no C++ object, so an ERROR may longjmp through it.
#include "pg/series_scan.h"

#include "pg/direct_read.h"

extern "C" {
#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_collation_d.h"
#include "catalog/pg_opfamily_d.h"
#include "executor/tuptable.h"
#include "nodes/tidbitmap.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/relcache.h"
#include "utils/rls.h"
#include "utils/syscache.h"
}

namespace aegis::pg {

namespace {

// The columns of aegis.series a scan reads, by attribute number.
struct SeriesColumns {
  AttrNumber series_id = InvalidAttrNumber;
  AttrNumber metric = InvalidAttrNumber;
  AttrNumber tags = InvalidAttrNumber;
};

// Whether an index is usable now with `first_column` as its first key.
bool UsableIndex(Relation index, AttrNumber first_column) {
  return IndexUsableNow(index) && index->rd_index->indnkeyatts >= 1 && index->rd_index->indkey.values[0] == first_column;
}

// Whether index is a GIN index on tags whose operator family answers
// jsonb @> jsonb (jsonb_path_ops, as the extension makes it, or jsonb_ops).
bool IsTagsIndex(Relation index, AttrNumber tags) {
  if (index->rd_rel->relam != GIN_AM_OID || index->rd_index->indnkeyatts != 1 || !UsableIndex(index, tags)) return false;
  const Oid op = get_opfamily_member(index->rd_opfamily[0], JSONBOID, JSONBOID, JsonbContainsStrategyNumber);
  return OidIsValid(op) && get_opcode(op) == F_JSONB_CONTAINS;
}

// Whether index is a btree whose first column is metric under text's
// default operator family and the default collation.
bool IsMetricIndex(Relation index, AttrNumber metric) {
  return index->rd_rel->relam == BTREE_AM_OID && UsableIndex(index, metric) &&
         index->rd_opfamily[0] == TEXT_BTREE_FAM_OID && index->rd_indcollation[0] == DEFAULT_COLLATION_OID;
}

// The index of rel named `name` in its schema (as the extension makes it),
// opened and locked, when `usable` accepts it; else null. Found by name, so
// that no other index of the table is opened (and locked, and loaded into a
// new session's relation cache).
Relation OpenIndex(Relation rel, const char* name, bool (*usable)(Relation, AttrNumber), AttrNumber column) {
  const Oid relid = get_relname_relid(name, RelationGetNamespace(rel));
  if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_INDEX) return nullptr;
  // Locked first: a DROP INDEX CONCURRENTLY may have removed it since its
  // name was looked up (the table's lock does not keep it).
  LockRelationOid(relid, AccessShareLock);
  if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid))) {
    UnlockRelationOid(relid, AccessShareLock);
    return nullptr;
  }
  Relation index = index_open(relid, NoLock);
  if (index->rd_index->indrelid == RelationGetRelid(rel) && usable(index, column)) return index;
  index_close(index, NoLock);  // held to the transaction's end, as a statement holds them
  return nullptr;
}

// The state of one scan: what it checks and what it has kept.
struct ScanWork {
  SeriesColumns columns;
  Datum* metrics = nullptr;  // the non-NULL elements of the metrics array
  int n_metrics = -1;        // -1: any metric
  const Datum* contains = nullptr;  // tags @> any of them (jsonb objects)
  int n_contains = 0;
  CatalogRowFilter filter = nullptr;
  void* arg = nullptr;
  MemoryContext row_memory = nullptr;
  CatalogScan* out = nullptr;
  uint64 capacity = 0;
  bool gave_up = false;
};

bool MetricListed(const ScanWork& w, Datum metric) {
  if (w.n_metrics < 0) return true;
  const text* m = reinterpret_cast<const text*>(DatumGetPointer(metric));
  const size_t len = VARSIZE_ANY_EXHDR(m);
  for (int i = 0; i < w.n_metrics; ++i) {
    const text* e = reinterpret_cast<const text*>(DatumGetPointer(w.metrics[i]));
    if (VARSIZE_ANY_EXHDR(e) == len && memcmp(VARDATA_ANY(e), VARDATA_ANY(m), len) == 0) return true;
  }
  return false;
}

bool ContainsAny(const ScanWork& w, Datum tags) {
  for (int i = 0; i < w.n_contains; ++i)
    if (DatumGetBool(DirectFunctionCall2(jsonb_contains, tags, w.contains[i]))) return true;
  return false;
}

// Checks the slot's row and keeps it when it passes. False when the scan
// should stop (the filter gave up, or a column is NULL, which the table's
// constraints forbid and the statement would return).
bool TakeRow(ScanWork* w, TupleTableSlot* slot) {
  CHECK_FOR_INTERRUPTS();
  bool null_id = false, null_metric = false, null_tags = false;
  const Datum id = slot_getattr(slot, w->columns.series_id, &null_id);
  Datum metric = slot_getattr(slot, w->columns.metric, &null_metric);
  const Datum tags = slot_getattr(slot, w->columns.tags, &null_tags);
  if (null_id || null_metric || null_tags) {
    w->gave_up = true;
    return false;
  }
  MemoryContext outer = MemoryContextSwitchTo(w->row_memory);
  metric = PointerGetDatum(PG_DETOAST_DATUM_PACKED(metric));
  bool keep = MetricListed(*w, metric) && (w->n_contains == 0 || ContainsAny(*w, tags));
  if (keep) {
    ++w->out->candidates;
    if (w->filter != nullptr) {
      const CatalogVerdict verdict = w->filter(w->arg, metric, tags);
      if (verdict == CatalogVerdict::kGiveUp) w->gave_up = true;
      keep = verdict == CatalogVerdict::kKeep;
    }
  }
  MemoryContextSwitchTo(outer);
  if (keep) {
    if (w->out->n_rows == w->capacity) {
      w->capacity = w->capacity == 0 ? 16 : w->capacity * 2;
      w->out->rows = static_cast<CatalogRow*>(w->out->rows == nullptr
                                                  ? palloc(sizeof(CatalogRow) * w->capacity)
                                                  : repalloc(w->out->rows, sizeof(CatalogRow) * w->capacity));
    }
    w->out->rows[w->out->n_rows++] = {DatumGetInt64(id), datumCopy(metric, false, -1), datumCopy(tags, false, -1)};
  }
  MemoryContextReset(w->row_memory);
  return !w->gave_up;
}

int CompareBySeriesId(const void* a, const void* b) {
  const int64 x = static_cast<const CatalogRow*>(a)->series_id;
  const int64 y = static_cast<const CatalogRow*>(b)->series_id;
  return x < y ? -1 : (x > y ? 1 : 0);
}

// Reads the rows the GIN index finds for tags @> any of the objects (a
// bitmap scan, one index scan per object OR-ed into the bitmap, as a
// BitmapOr does; GIN returns no ordered tuples), rechecking each.
void ScanByTags(ScanWork* w, Relation rel, Relation index, Snapshot snapshot) {
  TIDBitmap* bitmap = tbm_create(work_mem * 1024L, nullptr);
  for (int i = 0; i < w->n_contains; ++i) {
    ScanKeyData key;
    ScanKeyEntryInitialize(&key, 0, 1, JsonbContainsStrategyNumber, JSONBOID, InvalidOid, F_JSONB_CONTAINS,
                           w->contains[i]);
    IndexScanDesc iscan = index_beginscan_bitmap(index, snapshot, 1);
    index_rescan(iscan, &key, 1, nullptr, 0);
    index_getbitmap(iscan, bitmap);
    index_endscan(iscan);
  }
  TableScanDesc scan = table_beginscan_bm(rel, snapshot, 0, nullptr);
  TupleTableSlot* slot = table_slot_create(rel, nullptr);
  TBMIterator* it = tbm_begin_iterate(bitmap);
  bool more = true;
  for (TBMIterateResult* page = tbm_iterate(it); more && page != nullptr; page = tbm_iterate(it)) {
    if (!table_scan_bitmap_next_block(scan, page)) continue;
    while (more && table_scan_bitmap_next_tuple(scan, page, slot)) more = TakeRow(w, slot);
  }
  tbm_end_iterate(it);
  ExecDropSingleTupleTableSlot(slot);
  table_endscan(scan);
  tbm_free(bitmap);
}

// Reads the rows of the metrics through a btree on metric.
void ScanByMetric(ScanWork* w, Relation rel, Relation index, Snapshot snapshot, Datum metrics) {
  ScanKeyData key;
  ScanKeyEntryInitialize(&key, SK_SEARCHARRAY, 1, BTEqualStrategyNumber, TEXTOID, DEFAULT_COLLATION_OID, F_TEXTEQ,
                         metrics);
  IndexScanDesc scan = index_beginscan(rel, index, snapshot, 1, 0);
  index_rescan(scan, &key, 1, nullptr, 0);
  TupleTableSlot* slot = table_slot_create(rel, nullptr);
  while (index_getnext_slot(scan, ForwardScanDirection, slot) && TakeRow(w, slot)) {
  }
  ExecDropSingleTupleTableSlot(slot);
  index_endscan(scan);
}

// Reads every row of the table.
void ScanAll(ScanWork* w, Relation rel, Snapshot snapshot) {
  TableScanDesc scan = table_beginscan(rel, snapshot, 0, nullptr);
  TupleTableSlot* slot = table_slot_create(rel, nullptr);
  while (table_scan_getnextslot(scan, ForwardScanDirection, slot) && TakeRow(w, slot)) {
  }
  ExecDropSingleTupleTableSlot(slot);
  table_endscan(scan);
}

}  // namespace

bool ScanSeriesCatalog(Datum metrics, const Datum* contains, int n_contains, CatalogRowFilter filter, void* arg,
                       CatalogScan* out) {
  const Oid relid = get_relname_relid("series", get_namespace_oid("aegis", false));
  if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_RELATION) return false;
  Relation rel = table_open(relid, AccessShareLock);
  ScanWork w;
  w.columns.series_id = ColumnOf(rel, "series_id", INT8OID);
  w.columns.metric = ColumnOf(rel, "metric", TEXTOID);
  w.columns.tags = ColumnOf(rel, "tags", JSONBOID);
  if (w.columns.series_id == InvalidAttrNumber || w.columns.metric == InvalidAttrNumber ||
      w.columns.tags == InvalidAttrNumber || rel->rd_rel->relhassubclass || rel->rd_rel->relam != HEAP_TABLE_AM_OID ||
      !MayReadDirectly(relid)) {
    table_close(rel, NoLock);
    return false;
  }
  Relation index = nullptr;
  if (n_contains > 0) {
    index = OpenIndex(rel, "series_tags_idx", IsTagsIndex, w.columns.tags);
  } else if (metrics != 0) {
    index = OpenIndex(rel, "series_metric_idx", IsMetricIndex, w.columns.metric);
  }
  if (index == nullptr && (n_contains > 0 || metrics != 0)) {
    table_close(rel, NoLock);
    return false;  // the statement would choose its own way
  }
  if (metrics != 0) {
    bool* nulls = nullptr;
    Datum* elements = nullptr;
    int n = 0;
    deconstruct_array(DatumGetArrayTypeP(metrics), TEXTOID, -1, false, TYPALIGN_INT, &elements, &nulls, &n);
    w.metrics = static_cast<Datum*>(palloc(sizeof(Datum) * (n + 1)));
    w.n_metrics = 0;
    for (int i = 0; i < n; ++i)
      if (!nulls[i]) w.metrics[w.n_metrics++] = PointerGetDatum(PG_DETOAST_DATUM_PACKED(elements[i]));
  }
  w.contains = contains;
  w.n_contains = n_contains;
  w.filter = filter;
  w.arg = arg;
  w.row_memory = AllocSetContextCreate(CurrentMemoryContext, "aegis catalog scan row", ALLOCSET_SMALL_SIZES);
  CatalogScan found;
  w.out = &found;
  const Snapshot snapshot = GetActiveSnapshot();
  if (n_contains > 0) ScanByTags(&w, rel, index, snapshot);
  else if (metrics != 0) ScanByMetric(&w, rel, index, snapshot, metrics);
  else ScanAll(&w, rel, snapshot);
  MemoryContextDelete(w.row_memory);
  if (index != nullptr) index_close(index, NoLock);
  table_close(rel, NoLock);
  if (w.gave_up) {
    if (found.rows != nullptr) pfree(found.rows);
    return false;
  }
  if (found.n_rows > 1) qsort(found.rows, found.n_rows, sizeof(CatalogRow), CompareBySeriesId);
  *out = found;
  return true;
}

}  // namespace aegis::pg
