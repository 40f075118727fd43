// What every direct read (a table or index read with table and index access
// calls instead of a statement) checks first, so that it returns what the
// statement would: series_scan.cpp (aegis.series), store.cpp (a partition of
// aegis.blocks, aegis.recent_points). PostgreSQL code: these may raise.
#pragma once

#include "pg/postgres_headers.h"

namespace aegis::pg {

// Whether a read of relid may skip the statement: not under Citus (whose
// distributed tables only a statement reads), the current user may SELECT
// from it, and no row-level security applies to it there (with
// row_security off, raises the error the statement would raise).
bool MayReadDirectly(Oid relid);

// The column of rel named `name` when it has type `type` (and, for text,
// the database's default collation, under which equality is bytewise);
// InvalidAttrNumber otherwise.
AttrNumber ColumnOf(Relation rel, const char* name, Oid type);

// Whether an index can answer a scan now as the planner would let it: valid,
// ready, live, usable by every snapshot, without a predicate.
bool IndexUsableNow(Relation index);

}  // namespace aegis::pg
