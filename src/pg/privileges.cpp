// Acting as the tables' owner, and checking what the caller may see.
#include <algorithm>
#include <vector>

#include "core/series_points.h"

#include "pg/boundary.h"
#include "pg/privileges.h"
#include "pg/spi.h"
#include "pg/store.h"

extern "C" {
#include "catalog/pg_class.h"
#include "utils/acl.h"
#include "utils/rls.h"
#include "utils/syscache.h"
}

namespace aegis::pg {

namespace {


// The owner of aegis.series (and of every table of the extension).
Oid TableOwner() {
  HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(SeriesRelationId()));
  if (!HeapTupleIsValid(tuple)) elog(ERROR, "aegis: cache lookup failed for aegis.series");
  const Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
  ReleaseSysCache(tuple);
  return owner;
}

}  // namespace

Oid SeriesRelationId() {
  return PgCall([] {
    const Oid relid = get_relname_relid("series", get_namespace_oid("aegis", false));
    if (!OidIsValid(relid))
      ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("table aegis.series does not exist")));
    return relid;
  });
}

AsTableOwner::AsTableOwner(Mode mode) {
  PgCall([&] {
    const Oid owner = TableOwner();
    GetUserIdAndSecContext(&saved_user_, &saved_context_);
    if (mode == kPinnedSearchPath) {
      guc_level_ = NewGUCNestLevel();
      (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                              true, 0, false);
    }
    SetUserIdAndSecContext(owner, saved_context_ | SECURITY_LOCAL_USERID_CHANGE |
                                      (mode == kRestrictedQualified ? SECURITY_RESTRICTED_OPERATION : 0));
  });
}

AsTableOwner::~AsTableOwner() {
  // Neither call raises: the user id is a plain assignment, and popping a
  // GUC nest level only restores saved values.
  SetUserIdAndSecContext(saved_user_, saved_context_);
  if (guc_level_ >= 0) AtEOXact_GUC(true, guc_level_);
}

bool SeriesRowSecurityApplies() {
  const Oid relid = SeriesRelationId();
  return PgCall([&] { return check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED; });
}

void RequireSeriesSelect(const char* what) {
  const Oid relid = SeriesRelationId();
  PgCall([&] {
    if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
      ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), errmsg("permission denied for table series"),
                      errhint("%s needs SELECT on aegis.series: GRANT SELECT ON aegis.series TO %s.", what,
                              GetUserNameFromId(GetUserId(), false))));
  });
}

std::vector<int64_t> VisibleSeries(const std::vector<int64_t>& ids, bool statement_snapshot) {
  PgCall([&] {
    static const Oid types[] = {INT8ARRAYOID};
    static SPIPlanPtr plans[2] = {nullptr, nullptr};
    Datum values[] = {Int64Array(ids.data(), ids.size(), INT8OID)};
    RunPlan(&plans[statement_snapshot ? 1 : 0], "SELECT series_id FROM aegis.series WHERE series_id = ANY ($1)", 1,
            types, values, statement_snapshot ? Snap::kReadOnly : Snap::kLatest);
  });
  std::vector<int64_t> visible;
  visible.reserve(SPI_processed);
  for (uint64 i = 0; i < SPI_processed; ++i) {
    bool isnull = false;
    visible.push_back(DatumGetInt64(ResultValue(i, 1, &isnull)));
  }
  PgCall([] { SPI_freetuptable(SPI_tuptable); });
  std::sort(visible.begin(), visible.end());
  return visible;
}

}  // namespace aegis::pg
