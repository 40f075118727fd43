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
#include "pg/packed.h"
#include "pg/privileges.h"
#include "pg/rollup.h"
#include "pg/series_query.h"
#include "pg/spi.h"
#include "pg/store.h"

namespace aegis::pg {

namespace {

SPIPlanPtr count_points_plan = nullptr;
SPIPlanPtr delete_recent_plan = nullptr;
SPIPlanPtr delete_blocks_plan = nullptr;
SPIPlanPtr delete_rollups_plan = nullptr;
SPIPlanPtr delete_last_points_plan = nullptr;
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
void RemoveSeries(Datum ids, bool may_wait) {
  // No packed batch is being written meanwhile, and a later one resolves its
  // series again (src/pg/packed.h).
  LockPackedForDelete(may_wait);
  // Series this transaction wrote may be among them (the statement trigger
  // on aegis.series says so too, unless triggers are off).
  ForgetWrittenValues();
  PgCall([&] {
    static const Oid types[] = {INT8ARRAYOID};
    Datum values[] = {ids};
    RunPlan(&delete_recent_plan, "DELETE FROM aegis.recent_points WHERE series_id = ANY ($1)", 1, types, values,
            Snap::kLatest);
    RunPlan(&delete_blocks_plan, "DELETE FROM aegis.blocks WHERE series_id = ANY ($1)", 1, types, values,
            Snap::kLatest);
  });
  if (LastPointsExist()) {
    PgCall([&] {
      static const Oid types[] = {INT8ARRAYOID};
      Datum values[] = {ids};
      RunPlan(&delete_last_points_plan, "DELETE FROM aegis.last_points WHERE series_id = ANY ($1)", 1, types,
              values, Snap::kLatest);
    });
  }
  if (RollupsExist()) {
    PgCall([&] {
      static const Oid types[] = {INT8ARRAYOID};
      Datum values[] = {ids};
      RunPlan(&delete_rollups_plan, "DELETE FROM aegis.rollups WHERE series_id = ANY ($1)", 1, types, values,
              Snap::kLatest);
    });
  }
  PgCall([&] {
    static const Oid types[] = {INT8ARRAYOID};
    Datum values[] = {ids};
    RunPlan(&delete_series_plan, "DELETE FROM aegis.series WHERE series_id = ANY ($1)", 1, types, values,
            Snap::kLatest);
    // Every backend forgets its cached series when this commits (no trigger
    // on the catalog: Citus cannot distribute a table with one).
    InvalidateSeriesCaches();
  });
  ForgetCachedSeries();
}

// A delete in a transaction that holds series rows of earlier statements
// found what it must lock held by another transaction: it may not wait.
[[noreturn]] void ThrowBusy(const std::string& what) {
  throw core::Error(core::ErrorCategory::SerializationFailure, "could not lock " + what + " without waiting",
                    "This transaction already holds series of earlier statements, and another session is "
                    "writing to it or deleting it.",
                    "Retry the transaction.");
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
  // A transaction that holds series rows of earlier statements must not wait
  // (docs/architecture.md, "Locks").
  const bool wait = !aegis::pg::HoldsSeriesLocks();
  std::vector<int64_t> ids;
  {
    aegis::pg::AsTableOwner owner;
    PgCall([&] {
      static const Oid types[] = {INT8OID};
      Datum values[] = {Int64GetDatum(series_id)};
      aegis::pg::ExecuteCatalogLock(aegis::pg::CatalogLock::kSeriesUpdate, wait, 1, types, values);
    });
    ids = aegis::pg::SeriesIdsOfResult();
    if (ids.empty() && !wait && PgCall([&] { return aegis::pg::SeriesExists(series_id); }))
      aegis::pg::ThrowBusy("series " + std::to_string(series_id));
    aegis::pg::NoteSeriesRowsHeld();
    if (!ids.empty()) aegis::pg::RemoveSeries(aegis::pg::IdArray(ids), wait);
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
  const bool wait = !aegis::pg::HoldsSeriesLocks();
  const bool exists = PgCall([&] {
    static const Oid types[] = {TEXTOID};
    Datum values[] = {name};
    aegis::pg::ExecuteCatalogLock(aegis::pg::CatalogLock::kMetricUpdate, wait, 1, types, values);
    return SPI_processed == 1;
  });
  if (!exists && !wait && PgCall([&] { return aegis::pg::MetricExists(name); }))
    aegis::pg::ThrowBusy("metric " + aegis::core::QuoteForMessage(metric));
  if (!exists) {
    throw aegis::core::Error(aegis::core::ErrorCategory::UndefinedObject,
                             "metric " + aegis::core::QuoteForMessage(metric) + " does not exist");
  }
  PgCall([&] {
    static const Oid types[] = {TEXTOID};
    Datum values[] = {name};
    aegis::pg::ExecuteCatalogLock(aegis::pg::CatalogLock::kSeriesUpdateByMetric, wait, 1, types, values);
  });
  const std::vector<int64_t> series = aegis::pg::SeriesIdsOfResult();
  if (!wait && static_cast<int64_t>(series.size()) != PgCall([&] { return aegis::pg::CountSeries(name); }))
    aegis::pg::ThrowBusy("a series of metric " + aegis::core::QuoteForMessage(metric));
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
  aegis::pg::RemoveSeries(ids, wait);
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

// aegis.delete(selector, since, until): removes the points of the matching
// series with since <= ts < until, compressed or not; returns how many
// aegis.read returned. Series are found with the caller's rights (a role
// deletes only what it can see), then locked FOR NO KEY UPDATE in ascending
// id, like a write straight into blocks (docs/architecture.md, "Locks"), and
// rewritten one by one as the tables' owner.
AEGIS_PG_FUNCTION(aegis_delete_points) {
  // PostgreSQL code (errors for NULLs, detoasting) before any C++ object
  // with a destructor.
  aegis::pg::RequireNotNull(fcinfo, 1, "since");
  aegis::pg::RequireNotNull(fcinfo, 2, "until");
  const TimestampTz since = PG_GETARG_TIMESTAMPTZ(1);
  const TimestampTz until = PG_GETARG_TIMESTAMPTZ(2);
  const std::string selector = aegis::pg::TextArgument(fcinfo, 0, "selector");
  aegis::pg::RequireSeriesSelect();
  aegis::pg::SpiConnect();
  std::vector<int64_t> ids;
  {
    aegis::pg::MatchedSeries matched = aegis::pg::FindMatchingSeries(selector);
    ids.reserve(matched.rows.size());
    for (const aegis::pg::SeriesRow& row : matched.rows) ids.push_back(row.series_id);
    aegis::pg::Release(&matched);
  }
  int64_t removed = 0;
  if (since < until && !ids.empty()) {
    const bool may_wait = !aegis::pg::HoldsSeriesLocks();
    aegis::pg::DrainPackedOrFail(ids, may_wait);
    aegis::pg::AsTableOwner owner;
    std::vector<int64_t> locked;
    locked.reserve(ids.size());
    for (int64_t id : ids)  // ascending: FindMatchingSeries orders by series_id
      if (aegis::pg::LockSeriesIfExists(id, aegis::pg::SeriesLock::kRewrite, may_wait)) locked.push_back(id);
    for (int64_t id : locked) {
      removed += aegis::pg::DeletePointsOfSeries(id, since, until) + aegis::pg::DeleteRolledUpSteps(id, since, until);
      aegis::pg::CheckForInterrupts();
    }
  }
  aegis::pg::SpiFinish();
  PG_RETURN_INT64(removed);
}

namespace aegis::pg {

bool DeletePointRow(const Datum* values, const bool* nulls) {
  if (nulls[0] || nulls[1] || nulls[2]) return false;  // no such point
  Jsonb* tags = nullptr;
  text* metric_text = nullptr;
  PgCall([&] {
    tags = DatumGetJsonbP(values[1]);
    metric_text = DatumGetTextPP(values[0]);
  });
  const std::string metric(VARDATA_ANY(metric_text), VARSIZE_ANY_EXHDR(metric_text));
  const TimestampTz ts = DatumGetTimestampTz(values[2]);
  SpiConnect();
  int64_t removed = 0;
  {
    const bool may_wait = !HoldsSeriesLocks();
    const int64_t series_id = ResolveSeries(metric, tags, false, may_wait);
    if (series_id >= 0) {
      DrainPackedOrFail({series_id}, may_wait);
      AsTableOwner owner;
      if (LockSeriesIfExists(series_id, SeriesLock::kRewrite, may_wait))
        removed = DeletePointsOfSeries(series_id, ts, ts + 1);
    }
  }
  SpiFinish();
  return removed > 0;
}

}  // namespace aegis::pg
