// SPI helpers shared by the write, read and lifecycle paths.
#include "pg/boundary.h"
#include "pg/spi.h"

namespace aegis::pg {

bool UnderCitus() {
  // Citus, when present, is preloaded before this library (it must be first
  // in shared_preload_libraries), so its settings exist by the first plan.
  static const bool under_citus = GetConfigOption("citus.version", true, false) != nullptr;
  return under_citus;
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

void ExecutePlanInto(SPIPlanPtr plan, int nargs, const Oid* types, const Datum* values, DestReceiver* dest) {
  ParamListInfo params = makeParamList(nargs);
  for (int i = 0; i < nargs; ++i) {
    params->params[i].value = values[i];
    params->params[i].isnull = false;
    params->params[i].pflags = PARAM_FLAG_CONST;
    params->params[i].ptype = types[i];
  }
  SPIExecuteOptions options{};
  options.params = params;
  options.read_only = true;
  options.dest = dest;
  CheckSpiResult(SPI_execute_plan_extended(plan, &options), "SPI_execute_plan_extended");
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
