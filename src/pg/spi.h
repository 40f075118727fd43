// Small helpers over SPI. All of them may raise a PostgreSQL ERROR, so C++
// code calls them inside PgCall.
#pragma once

#include <functional>

#include "pg/postgres_headers.h"

namespace aegis::pg {

// Whether Citus is loaded into this server (docs/scale-out.md).
bool UnderCitus();

// Whether this database's data tables are distributed by Citus
// (aegis.distribute()): the reads that take the shards' paths take them
// only then. A database on a server with Citus preloaded that was never
// distributed reads as one node does, so it sees packed batches written
// before Citus was preloaded (Citus turns packed writes off, and those
// paths do not read the batches). PostgreSQL code; looked up once a
// transaction, and again after a subtransaction rolls back.
bool DataDistributed();

// The cursor options of the engine's kept plans: generic plans, planned once
// per backend, except under Citus, which needs the parameters' values to
// plan a distributed statement (custom plans).
int KeptPlanOptions();

// Prepares sql with the cursor options (CURSOR_OPT_*; 0: the plan cache
// chooses custom or generic plans) and keeps the plan for the backend.
SPIPlanPtr PrepareKept(const char* sql, int nargs, const Oid* types, int cursor_options);

// Returns the plan in *slot, preparing and keeping it on first use
// (see KeptPlanOptions).
SPIPlanPtr KeptPlan(SPIPlanPtr* slot, const char* sql, int nargs, const Oid* types);

// Runs a kept plan; raises if SPI reports failure.
int ExecutePlan(SPIPlanPtr plan, Datum* values, const char* nulls, bool read_only, long count);

// Runs a kept plan read-only with the statement's snapshot, sending its rows
// to dest instead of SPI_tuptable (arguments: nargs values of types; nulls
// as SPI takes them, NULL: none is NULL).
void ExecutePlanInto(SPIPlanPtr plan, int nargs, const Oid* types, const Datum* values, DestReceiver* dest,
                     const char* nulls = nullptr);

// A DestReceiver that hands each row to receive and needs nothing else
// (receive runs inside the executor: PostgreSQL code, no C++ object).
void InitReceiver(DestReceiver* pub, bool (*receive)(TupleTableSlot*, DestReceiver*));

// Runs a kept plan with a snapshot taken now, for reads that must see what
// the holder of a lock we just waited for committed. Under READ COMMITTED
// that is what SPI does anyway; under REPEATABLE READ and SERIALIZABLE the
// latest snapshot is used with the transaction's as crosscheck (as
// ri_triggers.c does), so changing a row this transaction cannot see is a
// serialization failure (40001) instead of a silent overwrite.
int ExecuteWithLatestSnapshot(SPIPlanPtr plan, Datum* values, const char* nulls, long count);

// Runs a locking statement (sql ends in FOR UPDATE, FOR SHARE, ...) with a
// snapshot taken now: waiting for rows another transaction locked when
// wait, else skipping them (SKIP LOCKED appended). Each variant is prepared
// once, in slots[1] and slots[0].
int ExecuteLocking(SPIPlanPtr (&slots)[2], const char* sql, bool wait, int nargs, const Oid* types, Datum* values);

// The statements that lock rows of the catalogs (docs/architecture.md,
// "Locks"): $1 is a series id, an array of them (kSeriesShareMany) or a
// metric name (kSeriesUpdateByMetric, kMetricUpdate).
enum class CatalogLock {
  kSeriesShare,          // FOR SHARE: a writer appending
  kSeriesNoKeyUpdate,    // FOR NO KEY UPDATE: a writer rewriting blocks
  kSeriesShareMany,      // FOR SHARE of several, in ascending id (returns the ids)
  kSeriesKeyShare,       // FOR KEY SHARE: compression and maintenance
  kSeriesUpdate,         // FOR UPDATE: deleting the series (returns its id)
  kSeriesUpdateByMetric, // FOR UPDATE of a metric's series, ascending (returns the ids)
  kMetricUpdate,         // FOR UPDATE of a metric's row: creating its series, dropping it
  kCount
};

// Runs a catalog locking statement as ExecuteLocking does. On a database
// distributed by Citus the rows are locked in this node's placement of the
// reference table (docs/scale-out.md, "Limits"): through the reference
// table, Citus would take a lock on its whole shard for every row lock
// (FOR SHARE and FOR KEY SHARE: ShareLock, the others ExclusiveLock), which
// serialises every writer and deadlocks writers against compression.
int ExecuteCatalogLock(CatalogLock which, bool wait, int nargs, const Oid* types, Datum* values);

// How RunPlan runs a statement.
enum class Snap {
  kReadOnly,  // a read with the statement's snapshot
  kWrite,     // a write (or locking read) as SPI runs it
  kLatest,    // ExecuteWithLatestSnapshot: after a lock, or to lock and change rows others may have written
};

// Prepares sql once per backend (kept in *slot) and runs it; rows in
// SPI_tuptable. nulls as SPI takes them (NULL: no NULL argument).
int RunPlan(SPIPlanPtr* slot, const char* sql, int nargs, const Oid* types, Datum* values, Snap snap,
            long count = 0, const char* nulls = nullptr);

// Column `column` (1-based) of row `row` of SPI_tuptable; *isnull tells NULL.
Datum ResultValue(uint64 row, int column, bool* isnull);

// From C++ code: fetches the rows of the open cursor `portal` into
// SPI_tuptable, batch_rows at a time, calls row(i) for each row i of a
// batch, checks for interrupts between batches and closes the cursor (a
// PostgreSQL error arrives as PgError; the cursor is then left to the
// transaction's end).
void ForEachCursorRow(Portal portal, long batch_rows, const std::function<void(uint64)>& row);

// Opens an SPI connection from C++ code (a failure arrives as PgError).
void SpiConnect();

// Closes the SPI connection on the success path.
void SpiFinish();

// Raises ERROR for an SPI result code that is not a success.
void CheckSpiResult(int code, const char* what);

}  // namespace aegis::pg
