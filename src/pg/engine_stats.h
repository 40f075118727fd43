// aegis.engine_stats: what the engine did since the last aegis.reset_stats(),
// summed over every backend (the Rust engine's EngineStats). Counters
// accumulate in the backend and are added to shared memory when its
// transaction ends (writes only when it commits). With the library not in
// shared_preload_libraries there is no shared memory: the view then shows
// this backend's own counters.
#pragma once

#include <cstdint>

namespace aegis::pg {

enum class Stat : int {
  kPointsWritten = 0,     // points of committed writes
  kQueries,               // reads: aggregate, rolling, read, latest, scans of aegis.points
  kPointsDecoded,         // points decoded from blocks
  kRecentRowsRead,        // recent rows read
  kPointsFromSummaries,   // points answered by block or segment summaries, undecoded
  kBlocksRead,            // block rows read
  kBlocksDecoded,         // blocks decoded
  kBlocksFromSummaries,   // blocks answered by their summary or segment summaries
  kCount
};

// Adds n to a counter of this backend (published at transaction end).
void CountStat(Stat stat, uint64_t n);

// Registers the shared memory (from _PG_init, when preloading) and the
// transaction callback.
void InitEngineStats();

}  // namespace aegis::pg
