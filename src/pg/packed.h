// Packed batches (aegis.packed_points): a write statement of many series,
// each with few points, stored as one row (core/packed_batch.h) instead of a
// row per point. Reads lay the batches over recent rows (a batch wins over
// recent rows and blocks, a later batch over an earlier one); a drain merges
// them into blocks. docs/architecture.md, "Packed batches", has the locks.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/series_points.h"
#include "core/types.h"
#include "pg/postgres_headers.h"

namespace aegis::pg {

struct RecentOfSeries;  // pg/store.h

// Whether a statement's small writes to `series` series go into a packed
// batch: aegis.packed_write_series is reached, not under Citus, and the
// table exists (a 0.1.0 database has none).
bool WritesPacked(size_t series);

// Takes the packed-batch cut lock in share mode, to the transaction's end:
// a drain waits for every writer holding it, so the batches it reads are
// all those numbered before it (no batch numbered earlier commits later).
// Without waiting when may_wait is false (40001 when a drain holds it).
void LockPackedForWrite(bool may_wait);

// Taken by whatever deletes series (RemoveSeries), to its transaction's
// end: it waits for the batches being written, and a batch written after it
// sees the delete (LockPackedForWrite). 40001 instead of waiting when
// may_wait is false.
void LockPackedForDelete(bool may_wait);

// Writes the points (ascending, distinct series ids, each non-empty) as
// packed batch rows, after LockPackedForWrite.
void InsertPackedBatches(const std::vector<std::pair<int64_t, const core::SeriesPoints*>>& writes);

// Lays the packed points of the series with lo <= ts < hi over recent (the
// batches win), read with the statement's snapshot. ids ascending. The
// caller has read the series' recent rows, which checks it may.
void OverlayPacked(const std::vector<int64_t>& ids, core::Timestamp lo, core::Timestamp hi, RecentOfSeries* recent);
void OverlayPacked(int64_t series_id, core::Timestamp lo, core::Timestamp hi, core::SeriesPoints* recent);

// Lays the newest packed point of each series (ids ascending) over newest.
void OverlayNewestPacked(const std::vector<int64_t>& ids,
                         std::unordered_map<int64_t, std::pair<TimestampTz, double>>* newest);

// The oldest packed point of the series (ids ascending); false when none.
bool OldestPacked(const std::vector<int64_t>& ids, core::Timestamp* oldest);

// Merges every packed batch into blocks and deletes the batches. With
// `holding` (ascending ids), only when a batch holds one of those series.
// Call before taking series locks. may_wait false: gives up (returns false)
// instead of waiting for another drain. Needs an open SPI connection.
// *drained (when given) gets the points merged. A series whose blocks do
// not decode is skipped with a WARNING, its points left in their batches.
// *left (when given) gets the series whose points stayed in their batches:
// SQLSTATE 40001 when they were locked and may_wait is false, else why
// their merge failed.
struct LeftSeries {
  int64_t series_id;
  int sqlstate;
  std::string message;
};
bool DrainPacked(const std::vector<int64_t>* holding = nullptr, bool may_wait = true, int64_t* drained = nullptr,
                 std::vector<LeftSeries>* left = nullptr);

// While alive, the statement's reads see this transaction's writes so far
// (its snapshot with the current command id): a copy pushed as the active
// snapshot, popped when it goes. PostgreSQL code runs inside PgCall.
class SeeOwnWrites {
 public:
  SeeOwnWrites();
  ~SeeOwnWrites();
  SeeOwnWrites(const SeeOwnWrites&) = delete;
  SeeOwnWrites& operator=(const SeeOwnWrites&) = delete;

 private:
  bool pushed_ = false;
};

// The points waiting in packed batches (committed by now).
int64_t PackedPointsWaiting();

// Between its rounds the maintenance launcher starts a worker that merges
// the batches, every kPackedDrainSeconds, once this many points wait (a
// round merges them all).
constexpr int kPackedDrainSeconds = 5;
constexpr int64_t kPackedDrainPoints = 100000;

// DrainPacked for a statement about to write or delete points of the series
// (ascending ids): 40001 when it would have to wait and may not.
void DrainPackedOrFail(const std::vector<int64_t>& ids, bool may_wait);

}  // namespace aegis::pg
