// The maintenance jobs (API.md section 6): compress, merge and retention.
//
// Each job is a list of series to visit and a function that does the job for
// one series, so the same code serves aegis.run_maintenance() (one
// transaction for the round) and the background worker (a transaction per
// series, so it never holds a series' locks for longer than its rewrite).
// Every function needs an open SPI connection and runs as the tables' owner.
#pragma once

#include <cstdint>
#include <vector>

#include "pg/postgres_headers.h"

namespace aegis::pg {

enum class SeriesState { kLocked, kBusy, kGone };

// Takes what a maintenance job holds while it rewrites a series: the KEY
// SHARE lock on its catalog row (no delete can start) and its rewrite lock.
// Without wait, a series locked by someone else is kBusy, left to the next
// round.
SeriesState LockSeriesForMaintenance(int64_t series_id, bool wait);

// compress: pack recent points older than cutoff into blocks.
std::vector<int64_t> SeriesToCompress(TimestampTz cutoff);
int64_t CompressSeries(int64_t series_id, TimestampTz cutoff);
int64_t CompressBefore(TimestampTz cutoff);

// merge: series with more than one block below aegis.block_max_points in one
// partition (left by late writes and deletes) get those partitions' blocks
// rewritten as full ones. Returns the points rewritten.
std::vector<int64_t> SeriesToMerge();
int64_t MergeSeries(int64_t series_id);

// retention: the series that hold points older than their metric's cutoff
// (aegis.set_retention, else aegis.default_retention), with that cutoff.
struct SeriesCutoff {
  int64_t series_id;
  TimestampTz cutoff;
};
std::vector<SeriesCutoff> SeriesToTrim(TimestampTz now);
// Removes the series' points older than cutoff; returns how many.
int64_t TrimSeries(const SeriesCutoff& trim, bool wait);
// Drops the partitions whose whole range is past every metric's cutoff, and
// empty partitions of the past; returns the points they held.
int64_t DropExpiredPartitions(TimestampTz now);

// Creates the partitions that writes and compress will need next (the one
// holding now and the one after), so writers seldom create one themselves.
void PrepareUpcomingPartitions(TimestampTz now);

// Registers the launcher of the background worker when the library is
// preloaded (shared_preload_libraries); called from _PG_init.
void InitMaintenanceWorker();

}  // namespace aegis::pg
