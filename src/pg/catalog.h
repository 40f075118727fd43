// The series catalog seen from C++: validating names and tag sets, and
// resolving (metric, tags) to a series id with a per-backend cache.
#pragma once

#include <cstdint>
#include <string>

#include "pg/postgres_headers.h"

namespace aegis::pg {

// Registers the callbacks that keep the series cache true (transaction abort,
// invalidation of aegis.series); called from _PG_init.
void InitSeriesCache();

// Forgets every cached series of this backend (after this transaction
// removed series).
void ForgetCachedSeries();

// Raises ERROR (22023) unless tags is a flat JSON object of string values.
// Plain PostgreSQL code: call it before C++ objects exist or inside PgCall.
void CheckTags(Jsonb* tags);

// The series id of (metric, tags); creates the metric (as a gauge) and the
// series when create is true and they do not exist, enforcing
// aegis.max_series_per_metric. Returns -1 when absent and create is false.
// Needs an open SPI connection. Raises through C++ exceptions.
int64_t ResolveSeries(const std::string& metric, Jsonb* tags, bool create);

// Takes (once per transaction) the KEY SHARE lock on the series' row that
// keeps it from being deleted under a writer, and returns the series id to
// write to: when the series was deleted meanwhile, it is resolved again
// (created anew). Needs an open SPI connection.
int64_t LockSeriesForWrite(const std::string& metric, Jsonb* tags, int64_t series_id);

}  // namespace aegis::pg
