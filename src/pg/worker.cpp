// The maintenance background worker (API.md section 6).
//
// With aegis_timeseries in shared_preload_libraries, a launcher (connected to
// no database) starts, every aegis.maintenance_interval, one short-lived
// worker per database that allows connections. The worker runs one round of
// maintenance when the database has the extension (and does not set
// aegis.maintenance_worker = off) and exits; one without it is checked again
// only every kAbsentRecheckSeconds. A worker that holds no
// connection between rounds never stands in the way of DROP DATABASE.
//
// A round runs each job series by series, a transaction per series, so no
// lock a writer could wait for is held for longer than one series' rewrite.
// A failed step is logged, recorded in aegis.jobs, and the round goes on with
// the next job. The round takes the session advisory lock that
// aegis.run_maintenance() tries, so the two never run at once.
#include <string>
#include <vector>

#include "pg/packed.h"  // first: it includes core headers, which precede PostgreSQL's
#include "pg/boundary.h"
#include "pg/guc.h"
#include "pg/maintenance.h"
#include "pg/rollup.h"
#include "pg/privileges.h"
#include "pg/spi.h"

extern "C" {
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/backend_status.h"
#include "utils/wait_event.h"

PGDLLEXPORT void aegis_maintenance_launcher(Datum arg);
PGDLLEXPORT void aegis_maintenance_worker(Datum arg);
}

namespace aegis::pg {

namespace {

constexpr int kMaxDatabases = 256;
constexpr int kAbsentRecheckSeconds = 30;
constexpr int32 kRoundLockClass = 1095059274;  // "AEGJ", as in run_maintenance()

// Databases whose worker found no extension, reported to the launcher.
struct Shared {
  slock_t mutex;
  int absent_count;
  Oid absent[kMaxDatabases];
};
Shared* shared = nullptr;
shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;

void RequestShared() {
  if (previous_request_hook != nullptr) previous_request_hook();
  RequestAddinShmemSpace(MAXALIGN(sizeof(Shared)));
}

void StartShared() {
  if (previous_startup_hook != nullptr) previous_startup_hook();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found = false;
  shared = static_cast<Shared*>(ShmemInitStruct("aegis_timeseries maintenance", sizeof(Shared), &found));
  if (!found) {
    SpinLockInit(&shared->mutex);
    shared->absent_count = 0;
  }
  LWLockRelease(AddinShmemInitLock);
}

void ReportAbsent(Oid database) {
  SpinLockAcquire(&shared->mutex);
  if (shared->absent_count < kMaxDatabases) shared->absent[shared->absent_count++] = database;
  SpinLockRelease(&shared->mutex);
}

// ---------------------------------------------------------------- launcher

struct DatabaseSlot {
  Oid oid;
  char name[NAMEDATALEN];
  BackgroundWorkerHandle* handle;
  TimestampTz next_start;
  TimestampTz next_drain;  // of packed batches, between rounds
  bool seen;
};
DatabaseSlot* slots = nullptr;  // kMaxDatabases, in TopMemoryContext
int slot_count = 0;

DatabaseSlot* SlotFor(Oid oid) {
  for (int i = 0; i < slot_count; ++i)
    if (slots[i].oid == oid) return &slots[i];
  if (slot_count == kMaxDatabases) return nullptr;
  // A database is first visited one interval after it is first seen (the
  // launcher's start included), not while it is being set up.
  DatabaseSlot* slot = &slots[slot_count++];
  const TimestampTz first = GetCurrentTimestamp() + static_cast<int64>(guc_maintenance_interval) * USECS_PER_SEC;
  *slot = DatabaseSlot{oid, {}, nullptr, first, first, false};
  return slot;
}

// Marks every database that allows connections as seen. PostgreSQL code
// (a failure ends the launcher, which the postmaster restarts).
void ScanDatabases() {
  for (int i = 0; i < slot_count; ++i) slots[i].seen = false;
  StartTransactionCommand();
  Relation rel = table_open(DatabaseRelationId, AccessShareLock);
  TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
  HeapTuple tuple;
  while ((tuple = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
    Form_pg_database db = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
    if (db->datistemplate || !db->datallowconn) continue;
    DatabaseSlot* slot = SlotFor(db->oid);
    if (slot == nullptr) continue;
    slot->seen = true;
    strlcpy(slot->name, NameStr(db->datname), NAMEDATALEN);
  }
  table_endscan(scan);
  table_close(rel, AccessShareLock);
  CommitTransactionCommand();
  // Forget dropped databases.
  int kept = 0;
  for (int i = 0; i < slot_count; ++i)
    if (slots[i].seen || slots[i].handle != nullptr) slots[kept++] = slots[i];
  slot_count = kept;
}

bool WorkerRunning(DatabaseSlot* slot) {
  if (slot->handle == nullptr) return false;
  pid_t pid = 0;
  const BgwHandleStatus status = GetBackgroundWorkerPid(slot->handle, &pid);
  if (status == BGWH_STARTED || status == BGWH_NOT_YET_STARTED) return true;
  pfree(slot->handle);
  slot->handle = nullptr;
  return false;
}

// bgw_extra[0] of a worker that only merges packed batches.
constexpr char kDrainOnly = 'd';

void StartWorker(DatabaseSlot* slot, bool drain_only) {
  BackgroundWorker worker{};
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
  worker.bgw_restart_time = BGW_NEVER_RESTART;
  strlcpy(worker.bgw_library_name, "aegis_timeseries", BGW_MAXLEN);
  strlcpy(worker.bgw_function_name, "aegis_maintenance_worker", BGW_MAXLEN);
  snprintf(worker.bgw_name, BGW_MAXLEN, "aegis maintenance worker for database %s", slot->name);
  strlcpy(worker.bgw_type, "aegis maintenance worker", BGW_MAXLEN);
  worker.bgw_main_arg = ObjectIdGetDatum(slot->oid);
  worker.bgw_extra[0] = drain_only ? kDrainOnly : '\0';
  worker.bgw_notify_pid = MyProcPid;
  BackgroundWorkerHandle* handle = nullptr;
  MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
  if (RegisterDynamicBackgroundWorker(&worker, &handle)) slot->handle = handle;
  MemoryContextSwitchTo(old);
  if (slot->handle == nullptr)
    ereport(LOG, (errmsg("aegis maintenance: could not start a worker for database \"%s\"", slot->name),
                  errhint("Raise max_worker_processes.")));
}

// -------------------------------------------------------------------- worker

// Runs fn in a transaction of its own (as the tables' owner unless
// as_owner is false); on failure logs it, rolls it back and returns false
// with the message in *error.
template <typename Fn>
bool InTransaction(const char* job, Fn&& fn, std::string* error, bool as_owner = true) {
  SetCurrentStatementStartTimestamp();
  StartTransactionCommand();
  try {
    SpiConnect();
    PgCall([] { PushActiveSnapshot(GetTransactionSnapshot()); });
    if (as_owner) {
      AsTableOwner owner;
      fn();
    } else {
      fn();
    }
    PgCall([] { PopActiveSnapshot(); });
    SpiFinish();
    PgCall([] { CommitTransactionCommand(); });
    return true;
  } catch (const PgError& e) {
    *error = std::string(unpack_sql_state(e.data()->sqlerrcode)) + ": " + (e.data()->message ? e.data()->message : "");
  } catch (const std::exception& e) {
    *error = std::string(unpack_sql_state(SqlStateOf(e))) + ": " + e.what();
  }
  ereport(LOG, (errmsg("aegis maintenance job \"%s\" failed: %s", job, error->c_str())));
  AbortCurrentTransaction();
  return false;
}

SPIPlanPtr record_plan = nullptr;
SPIPlanPtr round_lock_plan = nullptr;
SPIPlanPtr round_unlock_plan = nullptr;

void RecordJob(const char* job, TimestampTz started, int64_t points, const std::string& error,
               TimestampTz next_start) {
  std::string ignored;
  InTransaction(job, [&] {
    PgCall([&] {
      static const Oid types[] = {TEXTOID, TIMESTAMPTZOID, INTERVALOID, INT8OID, TEXTOID, TIMESTAMPTZOID};
      const TimestampTz now = GetCurrentTimestamp();
      Interval* duration = static_cast<Interval*>(palloc0(sizeof(Interval)));
      duration->time = now - started;
      Datum values[] = {CStringGetTextDatum(job), TimestampTzGetDatum(started), IntervalPGetDatum(duration),
                        Int64GetDatum(points), CStringGetTextDatum(error.c_str()), TimestampTzGetDatum(next_start)};
      const char nulls[] = {' ', ' ', ' ', error.empty() ? ' ' : 'n', error.empty() ? 'n' : ' ', ' '};
      RunPlan(&record_plan,
              "INSERT INTO aegis.job_state AS s (job, last_start, last_duration, points, last_error, last_error_at, "
              "next_start) VALUES ($1, $2, $3, $4, $5, CASE WHEN $5 IS NOT NULL THEN $2 END, $6) "
              "ON CONFLICT (job) DO UPDATE SET last_start = EXCLUDED.last_start, "
              "last_duration = EXCLUDED.last_duration, points = EXCLUDED.points, "
              "last_error = coalesce(EXCLUDED.last_error, s.last_error), "
              "last_error_at = coalesce(EXCLUDED.last_error_at, s.last_error_at), next_start = EXCLUDED.next_start",
              6, types, values, Snap::kWrite, 0, nulls);
    });
  }, &ignored);
}

// Whether this database has the extension at a version with maintenance.
bool MaintenanceInstalled() {
  bool installed = false;
  std::string error;
  InTransaction("round", [&] {
    installed = PgCall([] {
      return OidIsValid(get_extension_oid("aegis_timeseries", true)) &&
             OidIsValid(get_relname_relid("block_partitions", get_namespace_oid("aegis", true)));
    });
  }, &error, false);
  return installed;
}

// Whether this node runs the database's maintenance (aegis._maintained_here():
// not a Citus worker of a distributed database). An extension without the
// function (0.1.0, not updated yet) is maintained as before.
bool MaintainedOnThisNode() {
  if (!UnderCitus()) return true;
  bool here = true;
  std::string error;
  InTransaction("round", [&] {
    here = PgCall([] {
      CheckSpiResult(SPI_execute("SELECT aegis._maintained_here()", true, 1), "SPI_execute");
      bool isnull = false;
      const bool answer = SPI_processed != 1 || DatumGetBool(ResultValue(0, 1, &isnull)) || isnull;
      SPI_freetuptable(SPI_tuptable);
      return answer;
    });
  }, &error, false);
  return here;
}

bool RoundLock(bool take) {
  bool locked = false;
  std::string error;
  InTransaction("round", [&] {
    locked = PgCall([&] {
      static const Oid types[] = {INT4OID, INT4OID};
      Datum values[] = {Int32GetDatum(kRoundLockClass), Int32GetDatum(0)};
      RunPlan(take ? &round_lock_plan : &round_unlock_plan,
              take ? "SELECT pg_catalog.pg_try_advisory_lock($1, $2)" : "SELECT pg_catalog.pg_advisory_unlock($1, $2)",
              2, types, values, Snap::kWrite);
      bool isnull = false;
      const bool result = DatumGetBool(ResultValue(0, 1, &isnull));
      SPI_freetuptable(SPI_tuptable);
      return result;
    });
  }, &error);
  return locked;
}

// One job: each part in a transaction of its own (every series apart).
// Stops at the first failure or on shutdown, and records what it did.
void RunJobInSteps(const MaintenanceJob& job, TimestampTz next_start) {
  const TimestampTz started = GetCurrentTimestamp();
  std::string error;
  std::vector<SeriesWork> series;
  int64_t points = 0;
  // Packed batches first (see RunJob).
  bool ok = InTransaction(job.name, [&] {
    int64_t drained = 0;
    (void)DrainPacked(nullptr, true, &drained);
    if (job.counts_drained) points += drained;
  }, &error);
  ok = ok && (!job.before || InTransaction(job.name, [&] { points += job.before(); }, &error));
  ok = ok && InTransaction(job.name, [&] { series = job.series(); }, &error);
  // A series that fails (a corrupt block, say) is logged and recorded, and
  // the job goes on with the next one; after kMaxFailedSeries failures the
  // cause is likely not one series, and the job stops until the next round.
  constexpr int kMaxFailedSeries = 10;
  int failed = 0;
  for (size_t i = 0; ok && i < series.size() && !ShutdownRequestPending; ++i) {
    std::string series_error;
    if (InTransaction(job.name, [&] { points += job.step(series[i]); }, &series_error)) continue;
    if (error.empty()) error = series_error;
    // A cancel (class 57) or lack of resources (53) is not one series' fault.
    const bool stop = series_error.rfind("57", 0) == 0 || series_error.rfind("53", 0) == 0;
    ok = !stop && ++failed < kMaxFailedSeries;
  }
  if (ok && job.after) InTransaction(job.name, [&] { points += job.after(); }, &error);
  RecordJob(job.name, started, points, error, next_start);
}

void RunRound() {
  const TimestampTz now = GetCurrentTimestamp();
  const TimestampTz next_start = now + static_cast<int64>(guc_maintenance_interval) * USECS_PER_SEC;
  TimestampTz compress_cutoff = now;
  std::string error;
  std::vector<MaintenanceJob> jobs;
  if (InTransaction("compress", [&] {
        PgCall([&] {
          compress_cutoff = DatumGetTimestampTz(DirectFunctionCall2(
              timestamptz_mi_interval, TimestampTzGetDatum(now), IntervalPGetDatum(CompressAfter())));
        });
      }, &error))
    jobs.push_back(CompressJob(now, compress_cutoff, true));
  else
    RecordJob("compress", now, 0, error, next_start);
  jobs.push_back(RollupJob(now, true));
  jobs.push_back(MergeJob());
  jobs.push_back(RetentionJob(now, false));
  for (const MaintenanceJob& job : jobs) {
    if (ShutdownRequestPending) break;
    RunJobInSteps(job, next_start);
  }
}

}  // namespace

void InitMaintenanceWorker() {
  if (!process_shared_preload_libraries_in_progress) return;
  previous_request_hook = shmem_request_hook;
  shmem_request_hook = RequestShared;
  previous_startup_hook = shmem_startup_hook;
  shmem_startup_hook = StartShared;

  BackgroundWorker worker{};
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
  worker.bgw_restart_time = 10;
  strlcpy(worker.bgw_library_name, "aegis_timeseries", BGW_MAXLEN);
  strlcpy(worker.bgw_function_name, "aegis_maintenance_launcher", BGW_MAXLEN);
  strlcpy(worker.bgw_name, "aegis maintenance launcher", BGW_MAXLEN);
  strlcpy(worker.bgw_type, "aegis maintenance launcher", BGW_MAXLEN);
  RegisterBackgroundWorker(&worker);
}

}  // namespace aegis::pg

using aegis::pg::DatabaseSlot;

void aegis_maintenance_launcher(Datum /*arg*/) {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
  aegis::pg::slots = static_cast<DatabaseSlot*>(
      MemoryContextAllocZero(TopMemoryContext, sizeof(DatabaseSlot) * aegis::pg::kMaxDatabases));
  ereport(LOG, (errmsg("aegis maintenance launcher started")));
  while (!ShutdownRequestPending) {
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
    }
    aegis::pg::ScanDatabases();
    const TimestampTz now = GetCurrentTimestamp();
    // Databases without the extension wait longer before the next check.
    SpinLockAcquire(&aegis::pg::shared->mutex);
    for (int i = 0; i < aegis::pg::shared->absent_count; ++i) {
      for (int j = 0; j < aegis::pg::slot_count; ++j)
        if (aegis::pg::slots[j].oid == aegis::pg::shared->absent[i])
          aegis::pg::slots[j].next_start = aegis::pg::slots[j].next_drain =
              now + static_cast<int64>(std::max(aegis::pg::guc_maintenance_interval,
                                                aegis::pg::kAbsentRecheckSeconds)) * USECS_PER_SEC;
    }
    aegis::pg::shared->absent_count = 0;
    SpinLockRelease(&aegis::pg::shared->mutex);
    for (int i = 0; i < aegis::pg::slot_count; ++i) {
      DatabaseSlot* slot = &aegis::pg::slots[i];
      if (!slot->seen || aegis::pg::WorkerRunning(slot)) continue;
      constexpr int64 kDrainTick = static_cast<int64>(aegis::pg::kPackedDrainSeconds) * USECS_PER_SEC;
      if (now >= slot->next_start) {
        slot->next_start = now + static_cast<int64>(aegis::pg::guc_maintenance_interval) * USECS_PER_SEC;
        slot->next_drain = now + kDrainTick;
        aegis::pg::StartWorker(slot, false);
      } else if (now >= slot->next_drain) {
        slot->next_drain = now + kDrainTick;
        aegis::pg::StartWorker(slot, true);
      }
    }
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000L, PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
  }
  proc_exit(0);
}

void aegis_maintenance_worker(Datum arg) {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
  BackgroundWorkerUnblockSignals();
  const Oid database = DatumGetObjectId(arg);
  BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
  pgstat_report_appname("aegis maintenance");
  // A compress or trim lost in a crash is simply done again.
  SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
  // The database's own settings apply from here (ALTER DATABASE ... SET).
  if (!aegis::pg::guc_maintenance_worker || !aegis::pg::MaintenanceInstalled() ||
      !aegis::pg::MaintainedOnThisNode()) {
    aegis::pg::ReportAbsent(database);
    proc_exit(0);
  }
  if (MyBgworkerEntry->bgw_extra[0] == aegis::pg::kDrainOnly) {
    // Between rounds: packed batches, once enough points wait (see
    // kPackedDrainPoints), so that reads lay few batches over the stored
    // points under a steady stream of remote writes.
    std::string error;
    (void)aegis::pg::InTransaction("compress", [] {
      // Without waiting: a lock held by a session left idle in a
      // transaction must not hold up the launcher's rounds.
      if (aegis::pg::PackedPointsWaiting() >= aegis::pg::kPackedDrainPoints)
        (void)aegis::pg::DrainPacked(nullptr, false);
    }, &error);
    proc_exit(0);
  }
  if (aegis::pg::RoundLock(true)) {
    pgstat_report_activity(STATE_RUNNING, "aegis maintenance round");
    aegis::pg::RunRound();
    aegis::pg::RoundLock(false);
    pgstat_report_activity(STATE_IDLE, nullptr);
  }
  proc_exit(0);
}
