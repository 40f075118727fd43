// The maintenance jobs (API.md section 6): compress, rollup, merge and
// retention (rollup in pg/rollup.h).
//
// Each job is a list of series to visit and a function that does the job for
// one series, so the same code serves aegis.run_maintenance() (one
// transaction for the round) and the background worker (a transaction per
// series, so it never holds a series' locks for longer than its rewrite).
// Every function needs an open SPI connection and runs as the tables' owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pg/postgres_headers.h"

namespace aegis::pg {

enum class SeriesState { kLocked, kBusy, kGone };

// Takes what a maintenance job holds while it rewrites a series: the KEY
// SHARE lock on its catalog row (no delete can start) and its rewrite lock.
// Without wait, a series locked by someone else is kBusy, left to the next
// round.
SeriesState LockSeriesForMaintenance(int64_t series_id, bool wait);

// One series a job visits, with the cutoff the job applies to it (compress:
// points older than it are packed; retention: removed; merge: unused).
struct SeriesWork {
  int64_t series_id;
  TimestampTz cutoff;
  size_t plan = 0;  // rollup: which metric's tiers apply
};

// A maintenance job: a step over the whole database before and after (either
// may be empty), the series to visit and the work for one series; each
// returns points processed. aegis.run_maintenance() and the SQL functions run
// a job in one transaction (RunJob); the worker runs each part in a
// transaction of its own.
struct MaintenanceJob {
  const char* name;
  std::function<int64_t()> before;
  std::function<std::vector<SeriesWork>()> series;
  std::function<int64_t(const SeriesWork&)> step;
  std::function<int64_t()> after;
  // Whether the points the drain of packed batches before the job merged
  // count as the job's (compress: they went into blocks).
  bool counts_drained = false;
};

// compress: packs every series' recent points older than cutoff into
// blocks; with prepare_partitions (the background worker) it first creates
// the partitions writes will need next (the one holding now and the one
// after), so writers seldom create one. aegis.compress() does not: an empty
// partition costs about 80 kB, which a database maintained by hand (or a
// benchmark) need not carry.
MaintenanceJob CompressJob(TimestampTz now, TimestampTz cutoff, bool prepare_partitions);

// merge: series with neighbouring blocks of one partition that are not full
// (core::BlockIsFull; left by late writes, deletes and small appends) get
// each such run rewritten as fewer, full blocks (RepackBlocks); points
// rewritten.
MaintenanceJob MergeJob();

// retention: drops the partitions past every metric's cutoff (and empty ones
// of the past), then removes each series' points older than its metric's
// cutoff (aegis.set_retention, else aegis.default_retention), then drops
// the partitions that left empty, each once no snapshot sees a row of it
// (one emptied by this transaction waits for a later round). With wait,
// series other sessions are rewriting are waited for; without, they are
// left to the next round.
MaintenanceJob RetentionJob(TimestampTz now, bool wait);

// What RunSeriesIsolated reports of a series that failed: sqlstate 0 when
// it did not.
struct SeriesFailure {
  int sqlstate = 0;
  std::string message;
};

// Runs a job's work for one series in a subtransaction. An error that
// belongs to the series' data (a corrupt block, a data exception, tiers the
// stored steps cannot take, a duplicate key) rolls the work back whole and
// is reported in *failure (the result is then 0), so the job can go on with
// the next series; any other error (a cancel, a serialization failure,
// resources) is raised again, ending the job as it would have without the
// subtransaction.
int64_t RunSeriesIsolated(const std::function<int64_t()>& work, SeriesFailure* failure);

// Runs a whole job in the current transaction; returns points processed.
int64_t RunJob(const MaintenanceJob& job);

// What the SQL functions that run jobs do: connect to SPI, run the jobs in
// order as the tables' owner, disconnect; returns the points processed.
int64_t RunJobsAsOwner(const std::vector<MaintenanceJob>& jobs);

// Sets one column of a metric's catalog row as the tables' owner (`sql`:
// an UPDATE of aegis.metric_catalog with $1 the name and $2 the value, of
// type value_type; NULL when isnull). A metric that does not exist is an
// ERROR (42704). PostgreSQL code may call it only through the C++ boundary.
void SetMetricColumn(text* metric, SPIPlanPtr* plan, const char* sql, Oid value_type, Datum value, bool isnull);

// The parts of the jobs, in compress.cpp and lifecycle.cpp.
std::vector<int64_t> SeriesToCompress(TimestampTz cutoff);
int64_t CompressSeries(int64_t series_id, TimestampTz cutoff);

// Registers the launcher of the background worker when the library is
// preloaded (shared_preload_libraries); called from _PG_init.
void InitMaintenanceWorker();

}  // namespace aegis::pg
