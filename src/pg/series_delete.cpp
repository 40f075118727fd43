// Removing series: aegis.delete_series and aegis.drop_metric.
//
// There are no foreign keys between the extension's tables; what keeps every
// point attached to a series is the lock protocol (docs/architecture.md,
// "Locks"). A delete locks the series' catalog rows FOR UPDATE in ascending
// id, which waits for every writer holding them (FOR SHARE or FOR NO KEY
// UPDATE) and every compress (FOR KEY SHARE), and keeps new ones out; then it removes the points and the rows. Everything is
// read and deleted with a snapshot taken after the locks: under REPEATABLE
// READ a point committed after the transaction's snapshot is a serialization
// failure (40001), never left behind without its series.
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/names.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/catalog.h"
#include "pg/privileges.h"
#include "pg/spi.h"
#include "pg/store.h"

namespace aegis::pg {

namespace {

SPIPlanPtr lock_one_plan = nullptr;
SPIPlanPtr lock_metric_series_plan = nullptr;
SPIPlanPtr lock_metric_plan = nullptr;
SPIPlanPtr count_points_plan = nullptr;
SPIPlanPtr delete_recent_plan = nullptr;
SPIPlanPtr delete_blocks_plan = nullptr;
SPIPlanPtr delete_series_plan = nullptr;
SPIPlanPtr delete_metric_plan = nullptr;

// The series ids in SPI_tuptable's first column.
std::vector<int64_t> SeriesIdsOfResult() {
  std::vector<int64_t> ids;
  ids.reserve(SPI_processed);
  for (uint64 i = 0; i < SPI_processed; ++i) {
    bool isnull = false;
    ids.push_back(DatumGetInt64(ResultValue(i, 1, &isnull)));
  }
  return ids;
}

// A palloc'd int8[] of the ids.
Datum IdArray(const std::vector<int64_t>& ids) {
  return PgCall([&] { return Int64Array(ids.data(), ids.size(), INT8OID); });
}

// Points of the (locked) series as aegis.read returns them.
int64_t CountPoints(Datum ids) {
  return PgCall([&] {
    static const Oid types[] = {INT8ARRAYOID};
    Datum values[] = {ids};
    RunPlan(&count_points_plan, "SELECT points FROM aegis._series_storage($1)", 1, types, values, Snap::kLatest);
    bool isnull = false;
    return SPI_processed == 1 ? DatumGetInt64(ResultValue(0, 1, &isnull)) : int64{0};
  });
}

// Removes the points and catalog rows of series this transaction locked.
void RemoveSeries(Datum ids) {
  PgCall([&] {
    static const Oid types[] = {INT8ARRAYOID};
    Datum values[] = {ids};
    RunPlan(&delete_recent_plan, "DELETE FROM aegis.recent_points WHERE series_id = ANY ($1)", 1, types, values,
            Snap::kLatest);
    RunPlan(&delete_blocks_plan, "DELETE FROM aegis.blocks WHERE series_id = ANY ($1)", 1, types, values,
            Snap::kLatest);
    RunPlan(&delete_series_plan, "DELETE FROM aegis.series WHERE series_id = ANY ($1)", 1, types, values,
            Snap::kLatest);
  });
  ForgetCachedSeries();
}

}  // namespace

}  // namespace aegis::pg

using aegis::pg::PgCall;
using aegis::pg::RunPlan;
using aegis::pg::Snap;

// aegis.delete_series(series_id): removes one series and its points; false
// when there is no such series.
AEGIS_PG_FUNCTION(aegis_delete_series) {
  aegis::pg::RequireNotNull(fcinfo, 0, "series_id");
  const int64 series_id = PG_GETARG_INT64(0);
  // With the caller's rights: it must be able to see the series.
  aegis::pg::RequireSeriesSelect();
  aegis::pg::SpiConnect();
  if (aegis::pg::SeriesRowSecurityApplies() && aegis::pg::VisibleSeries({series_id}).empty()) {
    aegis::pg::SpiFinish();
    PG_RETURN_BOOL(false);
  }
  std::vector<int64_t> ids;
  {
    aegis::pg::AsTableOwner owner;
    PgCall([&] {
      static const Oid types[] = {INT8OID};
      Datum values[] = {Int64GetDatum(series_id)};
      RunPlan(&aegis::pg::lock_one_plan, "SELECT series_id FROM aegis.series WHERE series_id = $1 FOR UPDATE", 1,
              types, values, Snap::kLatest);
    });
    ids = aegis::pg::SeriesIdsOfResult();
    aegis::pg::NoteSeriesRowsHeld();
    if (!ids.empty()) aegis::pg::RemoveSeries(aegis::pg::IdArray(ids));
  }
  aegis::pg::SpiFinish();
  PG_RETURN_BOOL(!ids.empty());
}

// aegis.drop_metric(name): removes the metric, its series and points;
// returns the points removed.
AEGIS_PG_FUNCTION(aegis_drop_metric) {
  // PostgreSQL code (detoasting) before any C++ object with a destructor.
  const std::string metric = aegis::pg::TextArgument(fcinfo, 0, "metric name");
  Datum name = PG_GETARG_DATUM(0);
  aegis::pg::RequireSeriesSelect();
  const bool row_security = aegis::pg::SeriesRowSecurityApplies();
  aegis::pg::SpiConnect();
  std::optional<aegis::pg::AsTableOwner> owner;
  owner.emplace();
  // The metric's row first: writers creating a series of it hold it, and
  // none can start while it is held.
  const bool exists = PgCall([&] {
    static const Oid types[] = {TEXTOID};
    Datum values[] = {name};
    RunPlan(&aegis::pg::lock_metric_plan, "SELECT 1 FROM aegis.metric_catalog WHERE name = $1 FOR UPDATE", 1, types,
            values, Snap::kLatest);
    return SPI_processed == 1;
  });
  if (!exists) {
    throw aegis::core::Error(aegis::core::ErrorCategory::UndefinedObject,
                             "metric " + aegis::core::QuoteForMessage(metric) + " does not exist");
  }
  PgCall([&] {
    static const Oid types[] = {TEXTOID};
    Datum values[] = {name};
    RunPlan(&aegis::pg::lock_metric_series_plan,
            "SELECT series_id FROM aegis.series WHERE metric = $1 ORDER BY series_id FOR UPDATE", 1, types, values,
            Snap::kLatest);
  });
  const std::vector<int64_t> series = aegis::pg::SeriesIdsOfResult();
  aegis::pg::NoteSeriesRowsHeld();
  if (row_security) {
    // With the caller's rights: a metric is dropped whole, so the caller
    // must see every one of its series.
    owner.reset();
    const size_t visible = aegis::pg::VisibleSeries(series).size();
    if (visible != series.size()) {
      // Without a count: the caller may not learn how many it cannot see.
      throw aegis::core::Error(aegis::core::ErrorCategory::InsufficientPrivilege,
                               "permission denied to drop metric " + aegis::core::QuoteForMessage(metric),
                               "The metric has series that row-level security hides from the current role.");
    }
    owner.emplace();
  }
  const Datum ids = aegis::pg::IdArray(series);
  const int64_t removed = aegis::pg::CountPoints(ids);
  aegis::pg::RemoveSeries(ids);
  PgCall([&] {
    static const Oid types[] = {TEXTOID};
    Datum values[] = {name};
    RunPlan(&aegis::pg::delete_metric_plan, "DELETE FROM aegis.metric_catalog WHERE name = $1", 1, types, values,
            Snap::kLatest);
  });
  owner.reset();
  aegis::pg::SpiFinish();
  PG_RETURN_INT64(removed);
}
