// Who the engine acts as. Reads run with the caller's rights, so table
// privileges and row-level security apply to every read path. Writes and
// maintenance change the extension's own tables as the tables' owner (the
// role that created the extension), so a writer needs EXECUTE on the write
// functions (or INSERT on aegis.points) and no privilege on the tables at all:
// it cannot UPDATE or DELETE blocks, recent rows or the catalog directly.
// Row-level security on aegis.series still binds writers and deleters: what
// they touch is checked with their own rights first (docs/security.md).
#pragma once

#include <cstdint>
#include <vector>

#include "pg/postgres_headers.h"

namespace aegis::pg {

// While alive, the current user is the owner of the extension's tables and
// search_path is pg_catalog, pg_temp (so no operator or function of the
// caller's schemas can run with the owner's rights). Restores both when it
// goes out of scope; an ERROR restores them through the transaction abort.
// kRestrictedQualified instead leaves search_path alone and makes it a
// security-restricted operation: for a read path's lookups whose statements
// name every operator and function with its schema (a search_path set and
// restored on every read would put a GUC change and a search-path
// recomputation on the hot path).
class AsTableOwner {
 public:
  enum Mode { kPinnedSearchPath, kRestrictedQualified };
  explicit AsTableOwner(Mode mode = kPinnedSearchPath);
  ~AsTableOwner();
  AsTableOwner(const AsTableOwner&) = delete;
  AsTableOwner& operator=(const AsTableOwner&) = delete;

 private:
  Oid saved_user_ = InvalidOid;
  int saved_context_ = 0;
  int guc_level_ = -1;
};

// True when row-level security on aegis.series applies to the current user
// (enabled on the table, and the user is neither its owner nor BYPASSRLS).
bool SeriesRowSecurityApplies();

// Raises 42501 unless the current user may SELECT from aegis.series (the
// hint says what needs it). C++ code: it calls PostgreSQL inside PgCall.
void RequireSeriesSelect(const char* what = "Deleting series");

// The ids among `ids` that the current user can see in aegis.series (its
// row-level security policies applied), with the latest snapshot (a write's
// check) or, with statement_snapshot, the statement's (a read's). Needs an
// open SPI connection.
std::vector<int64_t> VisibleSeries(const std::vector<int64_t>& ids, bool statement_snapshot = false);

// The OID of aegis.series.
Oid SeriesRelationId();

}  // namespace aegis::pg
