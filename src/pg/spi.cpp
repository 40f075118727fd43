// SPI helpers shared by the write, read and lifecycle paths.
#include "pg/boundary.h"
#include "pg/spi.h"

extern "C" {
#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
}

namespace aegis::pg {

void ForEachCursorRow(Portal portal, long batch_rows, const std::function<void(uint64)>& row) {
  for (;;) {
    PgCall([&] { SPI_cursor_fetch(portal, true, batch_rows); });
    const uint64 n = SPI_processed;
    for (uint64 i = 0; i < n; ++i) row(i);
    PgCall([] { SPI_freetuptable(SPI_tuptable); });
    CheckForInterrupts();
    if (n < static_cast<uint64>(batch_rows)) break;
  }
  PgCall([&] { SPI_cursor_close(portal); });
}

bool UnderCitus() {
  // Citus, when present, is preloaded before this library (it must be first
  // in shared_preload_libraries), so its settings exist by the first plan.
  static const bool under_citus = GetConfigOption("citus.version", true, false) != nullptr;
  return under_citus;
}

namespace {

// DataDistributed's answer and the transaction it holds for.
LocalTransactionId distributed_checked = InvalidLocalTransactionId;
bool distributed = false;

// A rolled-back subtransaction may have distributed or undistributed the
// tables: ask again.
void ForgetDistributed(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
  if (event == SUBXACT_EVENT_ABORT_SUB) distributed_checked = InvalidLocalTransactionId;
}

}  // namespace

bool DataDistributed() {
  if (!UnderCitus()) return false;
  static bool callback_registered = false;
  if (!callback_registered) {
    RegisterSubXactCallback(ForgetDistributed, nullptr);
    callback_registered = true;
  }
  if (MyProc->lxid == distributed_checked) return distributed;
  // Citus's catalog lists every distributed table, on the coordinator and,
  // with its metadata synced, on the workers (recent_points, as
  // aegis.is_distributed() asks).
  const Oid catalog = get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE);
  const Oid aegis = get_namespace_oid("aegis", true);
  const Oid table = OidIsValid(aegis) ? get_relname_relid("recent_points", aegis) : InvalidOid;
  distributed = false;
  if (OidIsValid(catalog) && OidIsValid(table)) {
    Relation rel = table_open(catalog, AccessShareLock);
    const AttrNumber column = get_attnum(catalog, "logicalrelid");
    if (column != InvalidAttrNumber) {
      ScanKeyData key;
      ScanKeyInit(&key, column, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(table));
      SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, nullptr, 1, &key);
      distributed = HeapTupleIsValid(systable_getnext(scan));
      systable_endscan(scan);
    }
    table_close(rel, AccessShareLock);
  }
  distributed_checked = MyProc->lxid;
  return distributed;
}

int KeptPlanOptions() {
  // Citus plans a statement over distributed tables only with its
  // parameters' values in hand (an INSERT ... SELECT or a multi-shard query
  // with a generic plan fails with "could not create distributed plan"), so
  // under Citus every execution gets a custom plan (docs/scale-out.md).
  return UnderCitus() ? CURSOR_OPT_CUSTOM_PLAN : CURSOR_OPT_GENERIC_PLAN;
}

SPIPlanPtr PrepareKept(const char* sql, int nargs, const Oid* types, int cursor_options) {
  SPIPlanPtr plan = SPI_prepare_cursor(sql, nargs, const_cast<Oid*>(types), cursor_options);
  if (plan == nullptr) elog(ERROR, "aegis: SPI_prepare failed (%s) for: %s", SPI_result_code_string(SPI_result), sql);
  if (SPI_keepplan(plan) != 0) elog(ERROR, "aegis: SPI_keepplan failed");
  return plan;
}

SPIPlanPtr KeptPlan(SPIPlanPtr* slot, const char* sql, int nargs, const Oid* types) {
  if (*slot == nullptr) {
    // A generic plan, planned once per backend: the engine's statements
    // look rows up by key (series ids, time ranges), where the plan does not
    // depend on the values, and the plan cache would otherwise plan each
    // execution anew (custom plans looked cheaper), which cost a quarter of
    // a small aggregate's time. Partitions are still pruned, at executor
    // start.
    // Under Citus see KeptPlanOptions.
    *slot = PrepareKept(sql, nargs, types, KeptPlanOptions());
  }
  return *slot;
}

void SpiConnect() {
  PgCall([] {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "aegis: SPI_connect failed");
  });
}

void SpiFinish() {
  PgCall([] { SPI_finish(); });
}

void CheckSpiResult(int code, const char* what) {
  if (code < 0) elog(ERROR, "aegis: %s failed: %s", what, SPI_result_code_string(code));
}

int ExecutePlan(SPIPlanPtr plan, Datum* values, const char* nulls, bool read_only, long count) {
  int code = SPI_execute_plan(plan, values, nulls, read_only, count);
  CheckSpiResult(code, "SPI_execute_plan");
  return code;
}

int ExecuteLocking(SPIPlanPtr (&slots)[2], const char* sql, bool wait, int nargs, const Oid* types, Datum* values) {
  SPIPlanPtr* slot = &slots[wait ? 1 : 0];
  const char* text = *slot == nullptr && !wait ? psprintf("%s SKIP LOCKED", sql) : sql;
  return ExecuteWithLatestSnapshot(KeptPlan(slot, text, nargs, types), values, nullptr, 0);
}

void ExecutePlanInto(SPIPlanPtr plan, int nargs, const Oid* types, const Datum* values, DestReceiver* dest,
                     const char* nulls) {
  ParamListInfo params = makeParamList(nargs);
  for (int i = 0; i < nargs; ++i) {
    params->params[i].value = values[i];
    params->params[i].isnull = nulls != nullptr && nulls[i] == 'n';
    params->params[i].pflags = PARAM_FLAG_CONST;
    params->params[i].ptype = types[i];
  }
  SPIExecuteOptions options{};
  options.params = params;
  options.read_only = true;
  options.dest = dest;
  CheckSpiResult(SPI_execute_plan_extended(plan, &options), "SPI_execute_plan_extended");
}

namespace {

void NoStartup(DestReceiver*, int, TupleDesc) {}
void NoShutdown(DestReceiver*) {}

}  // namespace

void InitReceiver(DestReceiver* pub, bool (*receive)(TupleTableSlot*, DestReceiver*)) {
  pub->receiveSlot = receive;
  pub->rStartup = NoStartup;
  pub->rShutdown = NoShutdown;
  pub->rDestroy = NoShutdown;
  pub->mydest = DestNone;
}

namespace {

struct CatalogLockStatement {
  int table;  // 0: aegis.series, 1: aegis.metric_catalog
  const char* pattern;  // %s: the table
};
constexpr CatalogLockStatement kCatalogLocks[] = {
    {0, "SELECT 1 FROM %s WHERE series_id = $1 FOR SHARE"},
    {0, "SELECT 1 FROM %s WHERE series_id = $1 FOR NO KEY UPDATE"},
    {0, "SELECT series_id FROM %s WHERE series_id OPERATOR(pg_catalog.=) ANY ($1) ORDER BY series_id FOR SHARE"},
    {0, "SELECT 1 FROM %s WHERE series_id = $1 FOR KEY SHARE"},
    {0, "SELECT series_id FROM %s WHERE series_id = $1 FOR UPDATE"},
    {0, "SELECT series_id FROM %s WHERE metric = $1 ORDER BY series_id FOR UPDATE"},
    {1, "SELECT 1 FROM %s WHERE name = $1 FOR UPDATE"},
};
static_assert(sizeof kCatalogLocks / sizeof kCatalogLocks[0] == static_cast<size_t>(CatalogLock::kCount));

constexpr const char* kCatalogTables[2] = {"series", "metric_catalog"};
// What the statements lock: "aegis.<table>", or its placement on this node.
char lock_tables[2][2 * NAMEDATALEN + 8] = {"aegis.series", "aegis.metric_catalog"};
LocalTransactionId lock_tables_checked = InvalidLocalTransactionId;
char* lock_sql[static_cast<size_t>(CatalogLock::kCount)] = {};
SPIPlanPtr lock_plans[static_cast<size_t>(CatalogLock::kCount)][2] = {};

// Sets lock_tables[table] to name; the statements over the table planned
// for an earlier name go.
void SetLockTable(int table, const char* name) {
  if (strcmp(lock_tables[table], name) == 0) return;
  for (size_t i = 0; i < static_cast<size_t>(CatalogLock::kCount); ++i) {
    if (kCatalogLocks[i].table != table) continue;
    for (SPIPlanPtr& plan : lock_plans[i]) {
      SPIPlanPtr old = plan;
      plan = nullptr;
      if (old != nullptr) SPI_freeplan(old);
    }
    char* old_sql = lock_sql[i];
    lock_sql[i] = nullptr;
    if (old_sql != nullptr) pfree(old_sql);
  }
  strlcpy(lock_tables[table], name, sizeof lock_tables[table]);
}

// Under Citus, once per transaction: the catalogs' placements on this node
// when they are Citus reference tables, else the tables themselves.
void RefreshLockTables() {
  if (!UnderCitus() || MyProc->lxid == lock_tables_checked) return;
  char names[2][2 * NAMEDATALEN + 8] = {"aegis.series", "aegis.metric_catalog"};
  if (OidIsValid(get_relname_relid("pg_dist_shard", PG_CATALOG_NAMESPACE))) {
    SPITupleTable* const saved_table = SPI_tuptable;  // a caller may be reading it
    const uint64 saved_processed = SPI_processed;
    const int code = SPI_execute(
        "SELECT c.relname::text, pg_catalog.shard_name(s.logicalrelid, s.shardid)"
        "  FROM pg_catalog.pg_dist_shard s"
        "  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.logicalrelid"
        "  JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid"
        " WHERE c.relnamespace OPERATOR(pg_catalog.=) 'aegis'::pg_catalog.regnamespace"
        "   AND c.relname IN ('series', 'metric_catalog')"
        "   AND p.groupid OPERATOR(pg_catalog.=) (SELECT groupid FROM pg_catalog.pg_dist_local_group)",
        true, 0);
    CheckSpiResult(code, "SPI_execute");
    for (uint64 row = 0; row < SPI_processed; ++row) {
      const char* table = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1);
      const char* shard = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 2);
      for (int t = 0; t < 2; ++t)
        if (table != nullptr && shard != nullptr && strcmp(table, kCatalogTables[t]) == 0)
          strlcpy(names[t], shard, sizeof names[t]);
    }
    SPI_freetuptable(SPI_tuptable);
    SPI_tuptable = saved_table;
    SPI_processed = saved_processed;
  }
  for (int t = 0; t < 2; ++t) SetLockTable(t, names[t]);
  lock_tables_checked = MyProc->lxid;  // only once the names are right
}

}  // namespace

int ExecuteCatalogLock(CatalogLock which, bool wait, int nargs, const Oid* types, Datum* values) {
  RefreshLockTables();
  const size_t i = static_cast<size_t>(which);
  const int table = kCatalogLocks[i].table;
  const auto placement = [&] { return strcmp(lock_tables[table] + strlen("aegis."), kCatalogTables[table]) != 0; };
  if (placement() &&
      !OidIsValid(get_relname_relid(lock_tables[table] + strlen("aegis."), get_namespace_oid("aegis", false)))) {
    // The placement went with aegis.undistribute() earlier in this
    // transaction: look again.
    lock_tables_checked = InvalidLocalTransactionId;
    RefreshLockTables();
  }
  if (placement()) {
    // The rows are locked in this node's placement: the table itself gets
    // ROW SHARE, as a locking read of it would, so that a statement that
    // takes the whole table (aegis.undistribute()'s EXCLUSIVE) waits for
    // this transaction or keeps it out.
    const Oid relation = get_relname_relid(kCatalogTables[table], get_namespace_oid("aegis", false));
    if (OidIsValid(relation)) LockRelationOid(relation, RowShareLock);
  }
  if (lock_sql[i] == nullptr) {
    lock_sql[i] = MemoryContextStrdup(TopMemoryContext,
                                      psprintf(kCatalogLocks[i].pattern, lock_tables[kCatalogLocks[i].table]));
  }
  return ExecuteLocking(lock_plans[i], lock_sql[i], wait, nargs, types, values);
}

int ExecuteWithLatestSnapshot(SPIPlanPtr plan, Datum* values, const char* nulls, long count) {
  if (!IsolationUsesXactSnapshot()) return ExecutePlan(plan, values, nulls, false, count);
  CommandCounterIncrement();
  int code = SPI_execute_snapshot(plan, values, nulls, GetLatestSnapshot(), GetTransactionSnapshot(), false, true,
                                  count);
  CheckSpiResult(code, "SPI_execute_snapshot");
  return code;
}

int RunPlan(SPIPlanPtr* slot, const char* sql, int nargs, const Oid* types, Datum* values, Snap snap, long count,
            const char* nulls) {
  SPIPlanPtr plan = KeptPlan(slot, sql, nargs, types);
  switch (snap) {
    case Snap::kReadOnly: return ExecutePlan(plan, values, nulls, true, count);
    case Snap::kWrite: return ExecutePlan(plan, values, nulls, false, count);
    case Snap::kLatest: return ExecuteWithLatestSnapshot(plan, values, nulls, count);
  }
  return 0;
}

Datum ResultValue(uint64 row, int column, bool* isnull) {
  return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column, isnull);
}

}  // namespace aegis::pg
