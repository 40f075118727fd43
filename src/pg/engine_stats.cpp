// Engine counters: per backend, published to shared memory at transaction
// end (see engine_stats.h), shown by aegis.engine_stats and zeroed by
// aegis.reset_stats().
#include "pg/engine_stats.h"

#include <vector>

#include "pg/boundary.h"

extern "C" {
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"
}

namespace aegis::pg {

namespace {

constexpr int kStats = static_cast<int>(Stat::kCount);

struct SharedStats {
  pg_atomic_uint64 counters[kStats];
  pg_atomic_uint64 reset_at;  // TimestampTz
};

SharedStats* shared_stats = nullptr;
// This backend's counters not yet published, and (without shared memory)
// everything it counted since it started or reset.
uint64_t pending[kStats];
uint64_t local_totals[kStats];
TimestampTz local_reset_at = 0;
// Writes wait for their commit; what each open subtransaction found when it
// started, so that its abort takes back what it wrote.
uint64_t pending_written = 0;
std::vector<uint64_t> written_marks;

shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;

void RequestShared() {
  if (previous_request_hook != nullptr) previous_request_hook();
  RequestAddinShmemSpace(MAXALIGN(sizeof(SharedStats)));
}

void StartShared() {
  if (previous_startup_hook != nullptr) previous_startup_hook();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found = false;
  auto* s = static_cast<SharedStats*>(ShmemInitStruct("aegis_timeseries engine stats", sizeof(SharedStats), &found));
  if (!found) {
    for (auto& counter : s->counters) pg_atomic_init_u64(&counter, 0);
    pg_atomic_init_u64(&s->reset_at, static_cast<uint64>(GetCurrentTimestamp()));
  }
  LWLockRelease(AddinShmemInitLock);
  shared_stats = s;
}

void Publish(bool committed) {
  if (committed) pending[static_cast<int>(Stat::kPointsWritten)] += pending_written;
  pending_written = 0;
  written_marks.clear();
  for (int i = 0; i < kStats; ++i) {
    if (pending[i] == 0) continue;
    if (shared_stats != nullptr) pg_atomic_fetch_add_u64(&shared_stats->counters[i], static_cast<int64>(pending[i]));
    local_totals[i] += pending[i];
    pending[i] = 0;
  }
}

void StatsXactCallback(XactEvent event, void* /*arg*/) {
  switch (event) {
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT:
    case XACT_EVENT_PREPARE:
      Publish(true);
      break;
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
      Publish(false);
      break;
    default:
      break;
  }
}

void StatsSubXactCallback(SubXactEvent event, SubTransactionId /*sub*/, SubTransactionId /*parent*/,
                          void* /*arg*/) {
  switch (event) {
    case SUBXACT_EVENT_START_SUB:
      try {
        written_marks.push_back(pending_written);
      } catch (...) {  // out of memory: the count may then keep an aborted write
      }
      break;
    case SUBXACT_EVENT_COMMIT_SUB:
      if (!written_marks.empty()) written_marks.pop_back();
      break;
    case SUBXACT_EVENT_ABORT_SUB:
      if (!written_marks.empty()) {
        pending_written = written_marks.back();
        written_marks.pop_back();
      }
      break;
    default:
      break;
  }
}

}  // namespace

void CountStat(Stat stat, uint64_t n) {
  if (stat == Stat::kPointsWritten) {
    pending_written += n;
  } else {
    pending[static_cast<int>(stat)] += n;
  }
}

void InitEngineStats() {
  local_reset_at = GetCurrentTimestamp();
  RegisterXactCallback(StatsXactCallback, nullptr);
  RegisterSubXactCallback(StatsSubXactCallback, nullptr);
  if (!process_shared_preload_libraries_in_progress) return;
  previous_request_hook = shmem_request_hook;
  shmem_request_hook = RequestShared;
  previous_startup_hook = shmem_startup_hook;
  shmem_startup_hook = StartShared;
}

}  // namespace aegis::pg

extern "C" {
PG_FUNCTION_INFO_V1(aegis_engine_stats);
PG_FUNCTION_INFO_V1(aegis_reset_stats);
Datum aegis_engine_stats(PG_FUNCTION_ARGS);
Datum aegis_reset_stats(PG_FUNCTION_ARGS);
}

// One row: every counter, since when, and whether they cover the server.
Datum aegis_engine_stats(PG_FUNCTION_ARGS) {
  using namespace aegis::pg;
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("aegis._engine_stats() must return a row")));
  Datum values[kStats + 2];
  bool nulls[kStats + 2] = {};
  // What this backend counted in its open transaction is not in yet.
  for (int i = 0; i < kStats; ++i) {
    const uint64 total = shared_stats != nullptr ? pg_atomic_read_u64(&shared_stats->counters[i]) : local_totals[i];
    values[i] = Int64GetDatum(static_cast<int64>(total));
  }
  values[kStats] = TimestampTzGetDatum(shared_stats != nullptr
                                           ? static_cast<TimestampTz>(pg_atomic_read_u64(&shared_stats->reset_at))
                                           : local_reset_at);
  values[kStats + 1] = BoolGetDatum(shared_stats != nullptr);
  PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

// Zeroes the counters (the server's, or this backend's without shared memory).
Datum aegis_reset_stats(PG_FUNCTION_ARGS) {
  using namespace aegis::pg;
  (void)fcinfo;
  const TimestampTz now = GetCurrentTimestamp();
  for (int i = 0; i < kStats; ++i) {
    if (shared_stats != nullptr) pg_atomic_write_u64(&shared_stats->counters[i], 0);
    local_totals[i] = 0;
  }
  if (shared_stats != nullptr) pg_atomic_write_u64(&shared_stats->reset_at, static_cast<uint64>(now));
  local_reset_at = now;
  PG_RETURN_TIMESTAMPTZ(now);
}
