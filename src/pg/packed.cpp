// Packed batches: writing them, laying them over reads, draining them into
// blocks (src/pg/packed.h; docs/architecture.md, "Packed batches").
//
// Locks. Writers of packed batches take the cut lock (an advisory lock) in
// share mode before their batch gets its number, and hold it to commit. A
// drain, one at a time (the drain lock, to its commit), takes the cut lock
// exclusively for as long as it reads the batches: every batch numbered
// before the cut has committed then, so the drain takes all of them and no
// older batch appears after it, and batches written during the drain are
// newer than all it merges. It then merges each series' points into blocks
// under the series' rewrite lock (kRewrite), which waits for the series'
// small writers, and deletes the batches it read. Writes to recent rows or
// straight into blocks, and deletes, drain first when a batch holds one of
// their series, before taking series locks, so that a point they write is
// never older than a batch over it. A batch committed by a concurrent
// writer after that check is newer by the order the statements saw each
// other in (neither saw the other's points) and stays over the row or the
// delete: a serializable outcome, but not "the last to commit wins" that
// two concurrent row writes of one point give (docs/architecture.md).
#include "pg/packed.h"

#include <algorithm>
#include <map>
#include <string>

#include "core/error.h"
#include "core/packed_batch.h"

#include "pg/boundary.h"
#include "pg/catalog.h"
#include "pg/guc.h"
#include "pg/maintenance.h"
#include "pg/privileges.h"
#include "pg/spi.h"
#include "pg/store.h"

extern "C" {
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "storage/lmgr.h"
#include "utils/inval.h"
#include "utils/acl.h"
#include "utils/snapmgr.h"
}

namespace aegis::pg {

namespace {

// Advisory lock keys: (kPackedLockSpace, 1) the cut, (kPackedLockSpace, 2)
// the drain.
constexpr uint32 kPackedLockSpace = 1095059280;  // "AEGP"
constexpr uint32 kCutLock = 1;
constexpr uint32 kDrainLock = 2;

// Points per batch row: a row stays a few MB.
constexpr size_t kMaxBatchPoints = 100000;

// aegis.packed_points' columns.
enum PackedColumn { kBatchId = 1, kSeriesLo, kSeriesHi, kTsLo, kTsHi, kPoints, kData, kPackedColumns = kData };

SPIPlanPtr insert_batch_plan = nullptr;
SPIPlanPtr delete_batches_plan = nullptr;

Oid PackedRelid() {
  const Oid aegis = get_namespace_oid("aegis", true);
  return OidIsValid(aegis) ? get_relname_relid("packed_points", aegis) : InvalidOid;
}

void SetPackedLockTag(LOCKTAG* tag, uint32 which) {
  SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, kPackedLockSpace, which, 2);
}

// A batch row as read: its number and its detoasted data (palloc'd).
struct PackedRow {
  int64 batch_id;
  bytea* data;
};

// The rows of a scan (palloc'd array; PostgreSQL code fills it).
struct PackedRows {
  PackedRow* rows = nullptr;
  int n = 0;
  int capacity = 0;
};

// Reads the batch rows visible to snapshot whose series and time ranges
// meet [id_lo, id_hi] and [lo, hi), their data detoasted. PostgreSQL code.
void ScanPackedRows(Oid relid, Snapshot snapshot, int64 id_lo, int64 id_hi, TimestampTz lo, TimestampTz hi,
                    PackedRows* out) {
  Relation rel = table_open(relid, AccessShareLock);
  TupleDesc desc = RelationGetDescr(rel);
  if (desc->natts != kPackedColumns)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("aegis.packed_points has %d columns, not the extension's %d", desc->natts,
                           static_cast<int>(kPackedColumns)),
                    errhint("Do not alter the extension's tables; reinstall it from a dump.")));
  TableScanDesc scan = table_beginscan(rel, snapshot, 0, nullptr);
  HeapTuple tuple;
  while ((tuple = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
    bool isnull = false;
    if (DatumGetInt64(heap_getattr(tuple, kSeriesHi, desc, &isnull)) < id_lo ||
        DatumGetInt64(heap_getattr(tuple, kSeriesLo, desc, &isnull)) > id_hi ||
        DatumGetTimestampTz(heap_getattr(tuple, kTsHi, desc, &isnull)) < lo ||
        DatumGetTimestampTz(heap_getattr(tuple, kTsLo, desc, &isnull)) >= hi)
      continue;
    const Datum data = heap_getattr(tuple, kData, desc, &isnull);
    if (isnull) continue;  // NOT NULL in the table
    if (out->n == out->capacity) {
      out->capacity = out->capacity == 0 ? 16 : out->capacity * 2;
      out->rows = static_cast<PackedRow*>(out->rows == nullptr ? palloc(out->capacity * sizeof(PackedRow))
                                                               : repalloc(out->rows, out->capacity * sizeof(PackedRow)));
    }
    out->rows[out->n].batch_id = DatumGetInt64(heap_getattr(tuple, kBatchId, desc, &isnull));
    out->rows[out->n].data = DatumGetByteaPCopy(data);
    ++out->n;
  }
  table_endscan(scan);
  table_close(rel, NoLock);
}

// The points column summed over the batch rows the latest snapshot sees
// (no batch is detoasted). PostgreSQL code.
int64 SumPackedPoints(Oid relid) {
  Relation rel = table_open(relid, AccessShareLock);
  TupleDesc desc = RelationGetDescr(rel);
  int64 points = 0;
  if (desc->natts == kPackedColumns) {
    TableScanDesc scan = table_beginscan(rel, GetLatestSnapshot(), 0, nullptr);
    HeapTuple tuple;
    while ((tuple = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
      bool isnull = false;
      points += DatumGetInt32(heap_getattr(tuple, kPoints, desc, &isnull));
    }
    table_endscan(scan);
  }
  table_close(rel, NoLock);
  return points;
}

void FreePackedRows(PackedRows* rows) {
  if (rows->rows == nullptr) return;
  PgCall([&] {
    for (int i = 0; i < rows->n; ++i) pfree(rows->rows[i].data);
    pfree(rows->rows);
  });
  rows->rows = nullptr;
  rows->n = 0;
}

// Takes the cut lock exclusively, as a session lock (the caller releases
// it). It first asks without waiting, for up to kCutPatience, so that a
// drain does not queue ahead of the writers that come after it (a writer
// holds the lock only from its batch's insert to its commit); then it
// waits, when may_wait, or gives up. PostgreSQL code.
constexpr long kCutPatienceUs = 1000000;
bool AcquireCut(LOCKTAG* tag, bool may_wait) {
  long slept = 0;
  for (long pause = 200; slept < kCutPatienceUs; slept += pause, pause = Min(pause * 2, 20000L)) {
    if (LockAcquire(tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL) return true;
    CHECK_FOR_INTERRUPTS();
    pg_usleep(pause);
  }
  if (!may_wait) return false;
  (void)LockAcquire(tag, ExclusiveLock, true, false);
  return true;
}

// Batches read by one call, in batch order; their bytes stay until it goes.
class Batches {
 public:
  Batches() = default;
  ~Batches() {
    try {
      FreePackedRows(&rows_);
    } catch (...) {
    }
  }
  Batches(const Batches&) = delete;
  Batches& operator=(const Batches&) = delete;

  // Reads the batches (see ScanPackedRows) with the statement's snapshot.
  // A damaged batch is XX001 naming it.
  void Read(Oid relid, int64 id_lo, int64 id_hi, TimestampTz lo, TimestampTz hi) {
    PgCall([&] { ScanPackedRows(relid, GetActiveSnapshot(), id_lo, id_hi, lo, hi, &rows_); });
    MakeViews(Damaged::kRaise);
  }

  // The batches committed by now (the latest snapshot) that may hold series
  // in [id_lo, id_hi], damaged ones left out: does a drain have work?
  void ReadLatest(Oid relid, int64 id_lo, int64 id_hi) {
    PgCall([&] {
      ScanPackedRows(relid, GetLatestSnapshot(), id_lo, id_hi, DT_NOBEGIN, DT_NOEND, &rows_);
    });
    MakeViews(Damaged::kSkip);
  }

  // A drain's read: every batch, with the latest snapshot, under the cut
  // lock (AcquireCut); false, having read nothing, when the lock could not
  // be had. A damaged batch is left where it is, with a WARNING.
  bool ReadForDrain(Oid relid, bool may_wait) {
    bool cut = false;
    PgCall([&] {
      LOCKTAG tag;
      SetPackedLockTag(&tag, kCutLock);
      if (!AcquireCut(&tag, may_wait)) return;
      cut = true;
      PG_TRY();
      { ScanPackedRows(relid, GetLatestSnapshot(), PG_INT64_MIN, PG_INT64_MAX, DT_NOBEGIN, DT_NOEND, &rows_); }
      PG_FINALLY();
      { (void)LockRelease(&tag, ExclusiveLock, true); }
      PG_END_TRY();
    });
    if (cut) MakeViews(Damaged::kWarn);
    return cut;
  }

  bool empty() const { return views_.empty(); }
  const std::vector<core::PackedBatchView>& views() const { return views_; }
  const std::vector<int64_t>& BatchIds() const { return batch_ids_; }

  // Those of ids (ascending) that some batch holds and the caller sees in
  // aegis.series (its row-level security applied; a series deleted since
  // its batch was written is not there): a batch's points are read as the
  // tables' owner, so only these may be shown.
  std::vector<int64_t> Visible(const std::vector<int64_t>& ids) const {
    std::vector<int64_t> held;
    for (int64_t id : ids) {
      if (!held.empty() && held.back() == id) continue;
      for (const core::PackedBatchView& view : views_) {
        if (view.Find(id) == view.series()) continue;
        held.push_back(id);
        break;
      }
    }
    return held.empty() ? held : VisibleSeries(held, true);
  }

  // The series' points with lo <= ts < hi laid over base (later batches win).
  void Overlay(int64_t series_id, core::Timestamp lo, core::Timestamp hi, core::SeriesPoints* base) const {
    core::SeriesPoints slice;
    for (const core::PackedBatchView& view : views_) {
      const size_t i = view.Find(series_id);
      if (i == view.series()) continue;
      slice.clear();
      view.AppendRange(i, lo, hi, &slice);
      if (!slice.empty()) *base = core::MergeNewerWins(*base, slice);
    }
  }

 private:
  enum class Damaged { kRaise, kWarn, kSkip };

  // Orders the rows by batch and checks each (core::PackedBatchView).
  void MakeViews(Damaged damaged) {
    std::sort(rows_.rows, rows_.rows + rows_.n,
              [](const PackedRow& a, const PackedRow& b) { return a.batch_id < b.batch_id; });
    views_.reserve(static_cast<size_t>(rows_.n));
    for (int i = 0; i < rows_.n; ++i) {
      const bytea* data = rows_.rows[i].data;
      const int64_t batch_id = rows_.rows[i].batch_id;
      try {
        views_.emplace_back(reinterpret_cast<const uint8_t*>(VARDATA_ANY(data)), VARSIZE_ANY_EXHDR(data));
        batch_ids_.push_back(batch_id);
      } catch (const core::Error& e) {
        const std::string message = "corrupt packed batch " + std::to_string(batch_id) + " in aegis.packed_points";
        const std::string detail = std::string(e.what()) + (e.detail().empty() ? "" : ": " + e.detail());
        if (damaged == Damaged::kRaise)
          throw core::Error(core::ErrorCategory::DataCorrupted, message, detail,
                            "Delete the row to lose its points, or restore it from a backup.");
        if (damaged == Damaged::kWarn) PgCall([&] {
          ereport(WARNING, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("%s", message.c_str()),
                            errdetail("%s", detail.c_str()),
                            errhint("The batch stays as it is, and reads of its series fail; delete the row to "
                                    "lose its points, or restore it from a backup.")));
        });
      }
    }
  }

  PackedRows rows_;
  std::vector<core::PackedBatchView> views_;
  std::vector<int64_t> batch_ids_;  // of views_
};

// A batch row's columns (series_lo, series_hi, ts_lo, ts_hi, points, data)
// for the points of ids[i] (ascending, each non-empty); data palloc'd.
struct BatchColumns {
  Datum values[6];
};
BatchColumns EncodeBatch(const std::vector<int64_t>& ids, const std::vector<const core::SeriesPoints*>& points) {
  size_t total = 0;
  core::Timestamp ts_lo = core::kTimestampInfinity, ts_hi = core::kTimestampMinusInfinity;
  for (const core::SeriesPoints* p : points) {
    total += p->size();
    ts_lo = std::min(ts_lo, p->ts.front());
    ts_hi = std::max(ts_hi, p->ts.back());
  }
  const size_t size = core::PackedBatchSize(ids.size(), total);
  bytea* data = PgCall([&] {
    auto* b = static_cast<bytea*>(palloc(VARHDRSZ + size));
    SET_VARSIZE(b, VARHDRSZ + size);
    return b;
  });
  core::EncodePackedBatch(ids.data(), points.data(), ids.size(), reinterpret_cast<uint8_t*>(VARDATA(data)));
  return {{Int64GetDatum(ids.front()), Int64GetDatum(ids.back()), TimestampTzGetDatum(ts_lo),
           TimestampTzGetDatum(ts_hi), Int32GetDatum(static_cast<int32>(total)), PointerGetDatum(data)}};
}

const Oid kBatchColumnTypes[] = {INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID, BYTEAOID};

SPIPlanPtr keep_failed_plan = nullptr;

// Leaves in batch batch_id only the points of the given series (which it
// holds): a drain could not merge them.
void KeepInBatch(int64_t batch_id, const core::PackedBatchView& view, const std::vector<int64_t>& failed) {
  std::vector<int64_t> ids;
  std::vector<core::SeriesPoints> kept;
  for (int64_t id : failed) {
    const size_t i = view.Find(id);
    if (i == view.series()) continue;
    ids.push_back(id);
    kept.emplace_back();
    view.AppendRange(i, core::kTimestampMinusInfinity, core::kTimestampInfinity, &kept.back());
  }
  std::vector<const core::SeriesPoints*> points;
  for (const core::SeriesPoints& p : kept) points.push_back(&p);
  BatchColumns columns = EncodeBatch(ids, points);
  PgCall([&] {
    static const Oid types[] = {INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID, BYTEAOID};
    Datum values[7] = {Int64GetDatum(batch_id)};
    std::copy(std::begin(columns.values), std::end(columns.values), values + 1);
    RunPlan(&keep_failed_plan,
            "UPDATE aegis.packed_points SET series_lo = $2, series_hi = $3, ts_lo = $4, ts_hi = $5, points = $6,"
            " data = $7 WHERE batch_id = $1",
            7, types, values, Snap::kLatest);
    pfree(DatumGetPointer(columns.values[5]));
  });
}

}  // namespace

SeeOwnWrites::SeeOwnWrites() {
  PgCall([&] {
    CommandCounterIncrement();
    PushCopiedSnapshot(GetActiveSnapshot());
    UpdateActiveSnapshotCommandId();
  });
  pushed_ = true;
}

SeeOwnWrites::~SeeOwnWrites() {
  if (!pushed_) return;
  try {
    PgCall([] { PopActiveSnapshot(); });
  } catch (...) {
  }
}

bool WritesPacked(size_t series) {
  return guc_packed_write_series > 0 && series >= static_cast<size_t>(guc_packed_write_series) && !UnderCitus() &&
         OidIsValid(PgCall([] { return PackedRelid(); }));
}

void LockPackedForWrite(bool may_wait) {
  const bool locked = PgCall([&] {
    LOCKTAG tag;
    SetPackedLockTag(&tag, kCutLock);
    if (LockAcquire(&tag, ShareLock, false, !may_wait) == LOCKACQUIRE_NOT_AVAIL) return false;
    // The table too (a TRUNCATE of aegis.series empties it), then whatever
    // a delete or truncate that held either has committed: the caller
    // checks its series ids against SeriesCacheGeneration() after this.
    const Oid relid = PackedRelid();
    if (OidIsValid(relid)) LockRelationOid(relid, RowExclusiveLock);
    AcceptInvalidationMessages();
    return true;
  });
  if (!locked)
    throw core::Error(core::ErrorCategory::SerializationFailure, "could not write a packed batch without waiting",
                      "This transaction already holds series, and a drain of aegis.packed_points is reading the "
                      "batches.",
                      "Retry the transaction.");
}

void LockPackedForDelete(bool may_wait) {
  const bool locked = PgCall([&] {
    LOCKTAG tag;
    SetPackedLockTag(&tag, kCutLock);
    return LockAcquire(&tag, ExclusiveLock, false, !may_wait) != LOCKACQUIRE_NOT_AVAIL;
  });
  if (!locked)
    throw core::Error(core::ErrorCategory::SerializationFailure, "could not delete series without waiting",
                      "This transaction already holds series, and another session is writing a packed batch.",
                      "Retry the transaction.");
}

void InsertPackedBatches(const std::vector<std::pair<int64_t, const core::SeriesPoints*>>& writes) {
  std::vector<int64_t> ids;
  std::vector<const core::SeriesPoints*> points;
  size_t total = 0;
  auto flush = [&] {
    if (ids.empty()) return;
    BatchColumns columns = EncodeBatch(ids, points);
    PgCall([&] {
      RunPlan(&insert_batch_plan,
              "INSERT INTO aegis.packed_points (series_lo, series_hi, ts_lo, ts_hi, points, data)"
              " VALUES ($1, $2, $3, $4, $5, $6)",
              6, kBatchColumnTypes, columns.values, Snap::kWrite);
      pfree(DatumGetPointer(columns.values[5]));
    });
    ids.clear();
    points.clear();
    total = 0;
  };
  for (const auto& [id, p] : writes) {
    if (!ids.empty() && total + p->size() > kMaxBatchPoints) flush();
    ids.push_back(id);
    points.push_back(p);
    total += p->size();
  }
  flush();
}

void OverlayPacked(const std::vector<int64_t>& ids, core::Timestamp lo, core::Timestamp hi, RecentOfSeries* recent) {
  if (ids.empty() || lo >= hi) return;
  const Oid relid = PgCall([] { return PackedRelid(); });
  if (!OidIsValid(relid)) return;
  Batches batches;
  batches.Read(relid, ids.front(), ids.back(), lo, hi);
  if (batches.empty()) return;
  const std::vector<int64_t> visible = batches.Visible(ids);
  if (visible.empty()) return;
  RecentOfSeries out;
  size_t at = 0;
  core::SeriesPoints points;
  for (size_t k = 0; k < ids.size(); ++k) {
    if (k > 0 && ids[k] == ids[k - 1]) continue;
    const int64_t id = ids[k];
    const size_t begin = at;
    while (at < recent->series_ids.size() && recent->series_ids[at] == id) ++at;
    points.clear();
    points.Append(recent->points, begin, at);
    if (std::binary_search(visible.begin(), visible.end(), id)) batches.Overlay(id, lo, hi, &points);
    out.series_ids.insert(out.series_ids.end(), points.size(), id);
    out.points.Append(points, 0, points.size());
  }
  *recent = std::move(out);
}

void OverlayPacked(int64_t series_id, core::Timestamp lo, core::Timestamp hi, core::SeriesPoints* recent) {
  if (lo >= hi) return;
  const Oid relid = PgCall([] { return PackedRelid(); });
  if (!OidIsValid(relid)) return;
  Batches batches;
  batches.Read(relid, series_id, series_id, lo, hi);
  if (batches.empty() || batches.Visible({series_id}).empty()) return;
  batches.Overlay(series_id, lo, hi, recent);
}

void OverlayNewestPacked(const std::vector<int64_t>& ids,
                         std::unordered_map<int64_t, std::pair<TimestampTz, double>>* newest) {
  if (ids.empty()) return;
  const Oid relid = PgCall([] { return PackedRelid(); });
  if (!OidIsValid(relid)) return;
  Batches batches;
  batches.Read(relid, ids.front(), ids.back(), DT_NOBEGIN, DT_NOEND);
  if (batches.empty()) return;
  const std::vector<int64_t> visible = batches.Visible(ids);
  for (const core::PackedBatchView& view : batches.views()) {
    for (int64_t id : visible) {
      const size_t i = view.Find(id);
      if (i == view.series()) continue;
      const size_t last = view.end(i) - 1;
      auto found = newest->find(id);
      // A later batch wins a tie, and a batch wins over stored points.
      if (found == newest->end() || view.ts(last) >= found->second.first)
        (*newest)[id] = {view.ts(last), view.value(last)};
    }
  }
}

bool OldestPacked(const std::vector<int64_t>& ids, core::Timestamp* oldest) {
  if (ids.empty()) return false;
  const Oid relid = PgCall([] { return PackedRelid(); });
  if (!OidIsValid(relid)) return false;
  Batches batches;
  batches.Read(relid, ids.front(), ids.back(), DT_NOBEGIN, DT_NOEND);
  if (batches.empty()) return false;
  const std::vector<int64_t> visible = batches.Visible(ids);
  bool found = false;
  for (const core::PackedBatchView& view : batches.views()) {
    for (int64_t id : visible) {
      const size_t i = view.Find(id);
      if (i == view.series()) continue;
      const core::Timestamp first = view.ts(view.begin(i));
      if (!found || first < *oldest) *oldest = first;
      found = true;
    }
  }
  return found;
}

int64_t PackedPointsWaiting() {
  return PgCall([] {
    const Oid relid = PackedRelid();
    return OidIsValid(relid) ? SumPackedPoints(relid) : int64{0};
  });
}

bool DrainPacked(const std::vector<int64_t>* holding, bool may_wait, int64_t* drained, std::vector<LeftSeries>* left) {
  const Oid relid = PgCall([] { return PackedRelid(); });
  if (!OidIsValid(relid)) return true;
  // Anything to drain? (batches committed by now)
  if (holding == nullptr && PackedPointsWaiting() == 0) return true;
  if (holding != nullptr) {
    Batches seen;
    const bool some = holding != nullptr && !holding->empty();
    seen.ReadLatest(relid, some ? holding->front() : PG_INT64_MIN, some ? holding->back() : PG_INT64_MAX);
    bool holds = false;
    for (const core::PackedBatchView& view : seen.views())
      for (int64_t id : *holding) holds = holds || view.Find(id) < view.series();
    if (!holds) return true;
  }
  const bool locked = PgCall([&] {
    LOCKTAG tag;
    SetPackedLockTag(&tag, kDrainLock);
    return LockAcquire(&tag, ExclusiveLock, false, !may_wait) != LOCKACQUIRE_NOT_AVAIL;
  });
  if (!locked) return false;
  AsTableOwner owner;
  Batches batches;
  if (!batches.ReadForDrain(relid, may_wait)) return false;
  if (batches.empty()) return true;  // another drain took them
  // Each series' points in batch order, then sorted: a later batch wins.
  std::map<int64_t, core::SeriesPoints> points;
  for (const core::PackedBatchView& view : batches.views()) {
    for (size_t i = 0; i < view.series(); ++i) {
      core::SeriesPoints& p = points[view.series_id(i)];
      for (size_t k = view.begin(i); k < view.end(i); ++k) p.push_back(view.ts(k), view.value(k));
    }
    CheckForInterrupts();
  }
  std::vector<WrittenNewest> written;
  std::vector<int64_t> kept;  // series left in their batches, ascending
  int64_t merged = 0;
  for (auto& [id, p] : points) {
    core::SortAndDeduplicate(&p);
    // A series deleted since: its points go with the batches. One locked by
    // another transaction, when this one may not wait: they stay.
    bool exists = false;
    try {
      exists = LockSeriesIfExists(id, SeriesLock::kRewrite, may_wait);
    } catch (const core::Error& e) {
      if (e.category() != core::ErrorCategory::SerializationFailure) throw;
      kept.push_back(id);
      if (left != nullptr) left->push_back({id, ERRCODE_T_R_SERIALIZATION_FAILURE, e.what()});
      continue;
    }
    if (!exists) continue;
    SeriesFailure failure;
    const int64_t series_id = id;
    const core::SeriesPoints& series_points = p;
    RunSeriesIsolated(
        [&] {
          MergeIntoBlocks(series_id, series_points, true);
          return int64_t{0};
        },
        &failure);
    if (failure.sqlstate != 0) {
      // Its points stay in their batches, over what is stored.
      kept.push_back(id);
      if (left != nullptr) left->push_back({id, failure.sqlstate, failure.message});
      const std::string message = failure.message;
      PgCall([&] {
        ereport(WARNING, (errcode(failure.sqlstate), errmsg("%s", message.c_str()),
                          errhint("The series' packed points stay in their batches; aegis.compress() tries again.")));
      });
      continue;
    }
    written.push_back({id, p.ts.back(), p.values.back()});
    merged += static_cast<int64_t>(p.size());
    CheckForInterrupts();
  }
  std::vector<int64_t> gone;
  const std::vector<int64_t>& batch_ids = batches.BatchIds();
  for (size_t b = 0; b < batch_ids.size(); ++b) {
    const core::PackedBatchView& view = batches.views()[b];
    bool keeps = false;
    for (int64_t id : kept) keeps = keeps || view.Find(id) < view.series();
    if (keeps)
      KeepInBatch(batch_ids[b], view, kept);
    else
      gone.push_back(batch_ids[b]);
  }
  PgCall([&] {
    static const Oid types[] = {INT8ARRAYOID};
    Datum values[] = {Int64Array(gone.data(), gone.size(), INT8OID)};
    RunPlan(&delete_batches_plan, "DELETE FROM aegis.packed_points WHERE batch_id = ANY ($1)", 1, types, values,
            Snap::kLatest);
    pfree(DatumGetPointer(values[0]));
  });
  NoteSeriesWritten(written);
  if (drained != nullptr) *drained = merged;
  return true;
}

void DrainPackedOrFail(const std::vector<int64_t>& ids, bool may_wait) {
  std::vector<LeftSeries> left;
  const bool done = DrainPacked(&ids, may_wait, nullptr, &left);
  if (done) {
    // A point of these series written now would lie under an older batch.
    for (const LeftSeries& series : left) {
      if (!std::binary_search(ids.begin(), ids.end(), series.series_id)) continue;
      if (series.sqlstate != ERRCODE_T_R_SERIALIZATION_FAILURE)
        throw core::Error(core::ErrorCategory::DataCorrupted,
                          "the packed points of series " + std::to_string(series.series_id) +
                              " cannot be merged into its blocks: " + series.message,
                          "", "Restore the series from a backup, or remove it with aegis.delete_series().");
      throw core::Error(core::ErrorCategory::SerializationFailure,
                        "could not merge the packed points of series " + std::to_string(series.series_id) +
                            " without waiting",
                        "This transaction already holds series, and another session is writing this one.",
                        "Retry the transaction.");
    }
    return;
  }
  throw core::Error(core::ErrorCategory::SerializationFailure, "could not merge packed batches without waiting",
                    "This transaction already holds series, and another session is merging the packed batches "
                    "that hold points of these series.",
                    "Retry the transaction.");
}

}  // namespace aegis::pg

using aegis::pg::PgCall;

// aegis._packed_points(series_ids): the packed points of those series the
// caller sees, in (series, time) order.
AEGIS_PG_FUNCTION(aegis_packed_points) {
  ArrayType* array = PG_GETARG_ARRAYTYPE_P(0);
  Datum* elements = nullptr;
  bool* nulls = nullptr;
  int n = 0;
  PgCall([&] {
    // As the recent rows it stands for: SELECT on aegis.recent_points.
    const Oid recent = get_relname_relid("recent_points", get_namespace_oid("aegis", false));
    const AclResult acl = pg_class_aclcheck(recent, GetUserId(), ACL_SELECT);
    if (acl != ACLCHECK_OK) aclcheck_error(acl, OBJECT_TABLE, "recent_points");
    deconstruct_array(array, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elements, &nulls, &n);
    InitMaterializedSRF(fcinfo, 0);
  });
  std::vector<int64_t> ids;
  for (int i = 0; i < n; ++i)
    if (!nulls[i]) ids.push_back(DatumGetInt64(elements[i]));
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  aegis::pg::SpiConnect();
  aegis::pg::RecentOfSeries packed;
  aegis::pg::OverlayPacked(ids, DT_NOBEGIN, DT_NOEND, &packed);
  aegis::pg::SpiFinish();
  auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  PgCall([&] {
    for (size_t i = 0; i < packed.points.size(); ++i) {
      Datum values[] = {Int64GetDatum(packed.series_ids[i]), TimestampTzGetDatum(packed.points.ts[i]),
                        Float8GetDatum(packed.points.values[i])};
      bool nulls[] = {false, false, false};
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
  });
  return static_cast<Datum>(0);
}

// aegis.drain_packed(): merges every packed batch into blocks.
AEGIS_PG_FUNCTION(aegis_drain_packed) {
  (void)fcinfo;
  aegis::pg::SpiConnect();
  (void)aegis::pg::DrainPacked(nullptr, !aegis::pg::HoldsSeriesLocks());
  aegis::pg::SpiFinish();
  PG_RETURN_VOID();
}
