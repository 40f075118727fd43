// The series catalog seen from C++: validating names and tag sets, and
// resolving (metric, tags) to a series id with a per-backend cache.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/names.h"
#include "pg/postgres_headers.h"

namespace aegis::pg {

// Registers the callbacks that keep the series cache true (transaction abort,
// invalidation of aegis.series); called from _PG_init.
void InitSeriesCache();

// Forgets every cached series of this backend (after this transaction
// removed series).
void ForgetCachedSeries();

// Tells every backend's series cache, when this transaction commits, that
// series were removed (PostgreSQL code). The functions that delete series
// call it, so that nothing depends on the catalog's triggers, which
// aegis.distribute() drops (Citus refuses to distribute a table with one,
// docs/scale-out.md).
void InvalidateSeriesCaches();

// A TRUNCATE statement that names aegis.series, extended to the tables keyed
// by its ids (copied first when read_only_tree); any other returned as it
// is. PostgreSQL code, called from the ProcessUtility hook.
PlannedStmt* WithSeriesDataTruncated(PlannedStmt* pstmt, bool read_only_tree);

// Before DROP EXTENSION aegis_timeseries under Citus: drops the shards of the
// extension's Citus tables (aegis._drop_shards), which Citus's own clean-up
// leaves. Any other DROP statement is left alone. PostgreSQL code, called
// from the ProcessUtility hook.
void DropShardsBeforeDropExtension(Node* parsetree);

// PostgreSQL code (call inside PgCall), reading with a snapshot taken now:
// whether the series or the metric exists, and how many series the metric
// has.
bool SeriesExists(int64_t series_id);
bool MetricExists(Datum metric);
int64_t CountSeries(Datum metric);

// Whether errors about the series limit leave out how many series the
// metric has (the writer is under row-level security and may not see them).
void HideSeriesCounts(bool hidden);

// Raises ERROR (22023) unless tags is a flat JSON object of string values.
// Plain PostgreSQL code: call it before C++ objects exist or inside PgCall.
void CheckTags(Jsonb* tags);

// The series id of (metric, tags); creates the metric (as a gauge) and the
// series when create is true and they do not exist, enforcing
// aegis.max_series_per_metric. Returns -1 when absent and create is false.
// Creating waits for locks (the metric's row, a concurrent insert of the same
// series) only when may_wait; otherwise a conflict raises 40001 (see
// LockSeriesForWrite). Needs an open SPI connection. Raises through C++
// exceptions.
int64_t ResolveSeries(const std::string& metric, Jsonb* tags, bool create, bool may_wait);

using core::kMaxSeriesKeyBytes;  // core/names.h

// A number that changes whenever ResolveSeries' cache is emptied (a series
// deleted, a rollback): an id ResolveSeries returned while it had one value
// is what it would return again while it has that value.
uint64_t SeriesCacheGeneration();

// How a writer locks a series' catalog row (docs/architecture.md, "Locks").
// kAppend (FOR SHARE): small writes, which go to recent rows; any number at
// once. kRewrite (FOR NO KEY UPDATE): a write that goes straight into blocks
// and takes the series' recent rows in its range; it waits for the small
// writers of the series and they wait for it, so the last to commit wins.
// Both keep the series from being deleted under the writer (a delete locks
// FOR UPDATE) and neither blocks compress (FOR KEY SHARE SKIP LOCKED).
enum class SeriesLock { kAppend = 0, kRewrite = 1 };

// Whether this transaction has locked the row of any series (it wrote or
// deleted before), so that it must not wait for series or metric locks.
bool HoldsSeriesLocks();

// Locks the row of an existing series in mode (waiting only when may_wait
// and this transaction does not hold it in another mode; otherwise a
// conflict is 40001); false when the series no longer exists.
bool LockSeriesIfExists(int64_t series_id, SeriesLock mode, bool may_wait);

// Records that this transaction locked series rows (the deletes).
void NoteSeriesRowsHeld();

// Locks the series' row (once per transaction and mode) and returns the
// series id to write to. Call it for a statement's series in ascending id.
// The lock waits only while *may_wait is true, which the caller sets when
// the transaction held no series before the statement: a transaction that
// holds points of earlier statements must not wait for a series lock (the
// holder may be waiting for those points), so it takes the lock without
// waiting, settles for kAppend when kRewrite is taken (*mode changes: write
// to recent rows), and fails with 40001 when neither can be had. When the
// series was deleted since it was resolved, it is resolved again (created
// anew) and *may_wait becomes false. A transaction that holds kAppend on the
// series gets kRewrite only when no other transaction holds the row.
// Needs an open SPI connection.
int64_t LockSeriesForWrite(const std::string& metric, Jsonb* tags, int64_t series_id, SeriesLock* mode,
                           bool* may_wait);

// Takes kAppend (FOR SHARE) on the rows of every series in `ids` (ascending)
// that this transaction does not hold yet, in one statement, waiting for
// them in ascending id as LockSeriesForWrite would one by one; returns the
// ids whose rows are gone (deleted since they were resolved), for
// LockSeriesForWrite to resolve again. Only for a statement whose
// transaction held no series before it (*may_wait of LockSeriesForWrite).
// Needs an open SPI connection.
std::vector<int64_t> LockSeriesForAppend(const std::vector<int64_t>& ids);

}  // namespace aegis::pg
