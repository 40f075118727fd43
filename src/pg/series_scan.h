// Reading candidate rows of aegis.series straight from the table and its
// indexes, without a statement: a new session's first selector would
// otherwise parse and plan one (about 1 ms of its first query), and every
// query pays an executor start.
#pragma once

#include "pg/postgres_headers.h"

namespace aegis::pg {

// A row of aegis.series a direct scan kept, its metric and tags copied into
// the caller's memory context as stored (tags possibly compressed or a TOAST
// pointer, as a statement's result holds them).
struct CatalogRow {
  int64 series_id;
  Datum metric;
  Datum tags;
};

// What a filter says of a candidate row.
enum class CatalogVerdict { kDrop, kKeep, kGiveUp };

// Decides on one candidate row (metric and tags valid during the call only);
// kGiveUp abandons the direct scan (a row the filter cannot judge as the
// statement would). PostgreSQL code: may raise; runs in a memory context
// reset after each row.
using CatalogRowFilter = CatalogVerdict (*)(void* arg, Datum metric, Datum tags);

// What a direct scan of aegis.series returned.
struct CatalogScan {
  CatalogRow* rows = nullptr;  // palloc'd, in series_id order
  uint64 n_rows = 0;
  uint64 candidates = 0;  // rows with metric = ANY (metrics) and tags @> ANY (contains), before the filter
};

// The rows of aegis.series with metric = ANY (metrics) (a text[]; 0: any)
// and tags containing any of contains[0, n_contains) (jsonb objects; none:
// any tags) that filter keeps (nullptr: all), in series_id order, read with
// the statement's snapshot through the GIN index on tags (when contains are
// given), the btree on metric (when only metrics are), or the heap, where that returns what "SELECT series_id,
// metric, tags FROM aegis.series WHERE ... ORDER BY series_id" would: the
// caller may SELECT from the table, no row-level security applies to it
// (with row_security off, the error the statement would raise is raised
// here), it is a heap without inheritance children, its columns are the extension's,
// and the index read is valid, of the kind and operator family named; not
// under Citus. Checked once the table is locked. False, having returned
// nothing, otherwise or when the filter gives up. PostgreSQL code.
bool ScanSeriesCatalog(Datum metrics, const Datum* contains, int n_contains, CatalogRowFilter filter, void* arg,
                       CatalogScan* out);

}  // namespace aegis::pg
