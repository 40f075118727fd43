// aegis-gateway: Prometheus remote read against the database.
#pragma once

#include <libpq-fe.h>

#include <vector>

#include "gateway/prom.h"
#include "gateway/writer.h"

namespace aegis::gateway {

// Answers every query of a ReadRequest from one snapshot (a READ ONLY
// REPEATABLE READ transaction): the series the matchers select (read_sql.h)
// and their samples in [start, end], with the caller's privileges and
// row-level security. More than `sample_limit` samples in all is a 400.
// Timestamps are truncated to milliseconds; of several samples in one
// millisecond the last is kept.
Outcome ReadQueries(PGconn *conn, const std::vector<PromQuery> &queries, size_t sample_limit,
                    std::vector<std::vector<ReadSeries>> *results);

}  // namespace aegis::gateway
