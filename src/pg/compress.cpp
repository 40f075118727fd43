// aegis.compress(): packs recent points older than a cutoff into blocks.
#include <vector>

#include "core/series_points.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/guc.h"
#include "pg/spi.h"
#include "pg/store.h"

namespace aegis::pg {

namespace {

SPIPlanPtr series_to_compress_plan = nullptr;

// Series that have recent points older than cutoff, in series order.
std::vector<int64_t> SeriesWithRecentBefore(TimestampTz cutoff) {
  std::vector<int64_t> ids;
  PgCall([&] {
    static const Oid types[] = {TIMESTAMPTZOID};
    Datum args[] = {TimestampTzGetDatum(cutoff)};
    ExecutePlan(KeptPlan(&series_to_compress_plan,
                         "SELECT DISTINCT series_id FROM aegis.recent_points WHERE ts < $1 ORDER BY 1", 1, types),
                args, nullptr, true, 0);
  });
  ids.reserve(SPI_processed);
  for (uint64 i = 0; i < SPI_processed; ++i) {
    bool isnull = false;
    ids.push_back(DatumGetInt64(ResultValue(i, 1, &isnull)));
  }
  PgCall([] { SPI_freetuptable(SPI_tuptable); });
  return ids;
}

}  // namespace

// Packs every series' recent points older than cutoff; returns points packed.
int64_t CompressBefore(TimestampTz cutoff) {
  int64_t packed = 0;
  for (int64_t series_id : SeriesWithRecentBefore(cutoff)) {
    // The series lock before anything else, so that compress and a batch
    // writer never wait for each other's rows and lock in opposite orders.
    LockSeriesForRewrite(series_id);
    core::SeriesPoints points = TakeRecent(series_id, core::kTimestampMinusInfinity, cutoff);
    MergeIntoBlocks(series_id, points, false);
    packed += static_cast<int64_t>(points.size());
    CheckForInterrupts();
  }
  return packed;
}

}  // namespace aegis::pg

// aegis.compress(older_than): packs points older than now() - older_than
// (default aegis.compress_after); returns points packed.
AEGIS_PG_FUNCTION(aegis_compress) {
  Interval* older_than = PG_ARGISNULL(0) ? aegis::pg::CompressAfter() : PG_GETARG_INTERVAL_P(0);
  TimestampTz cutoff = DatumGetTimestampTz(DirectFunctionCall2(
      timestamptz_mi_interval, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
      IntervalPGetDatum(older_than)));
  aegis::pg::SpiConnect();
  int64_t packed = aegis::pg::CompressBefore(cutoff);
  aegis::pg::SpiFinish();
  PG_RETURN_INT64(packed);
}
