// Writing points: aegis.write (one point and batch), aegis.write_now, and
// WriteSeries, the path every write takes (INSERT/COPY into aegis.points
// included: src/pg/points_buffer.cpp).
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/names.h"
#include "core/series_points.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/catalog.h"
#include "pg/engine_stats.h"
#include "pg/guc.h"
#include "pg/packed.h"
#include "pg/privileges.h"
#include "pg/spi.h"
#include "pg/store.h"
#include "pg/write.h"

namespace aegis::pg {

namespace {

// Raises 42501 unless the current user sees every series of `order` through
// the row-level security policies on aegis.series (a writer may only write
// to the series it may read).
void CheckSeriesVisible(const std::vector<SeriesWrite*>& order) {
  std::vector<int64_t> ids;
  ids.reserve(order.size());
  for (const SeriesWrite* write : order) ids.push_back(write->series_id);
  const std::vector<int64_t> visible = VisibleSeries(ids);
  for (const SeriesWrite* write : order) {
    if (std::binary_search(visible.begin(), visible.end(), write->series_id)) continue;
    throw core::Error(core::ErrorCategory::InsufficientPrivilege,
                      "new row violates row-level security policy for table \"series\"",
                      "The series of metric " + core::QuoteForMessage(write->metric) +
                          " with these tags is not visible to the current role, so it may not write to it.");
  }
}

}  // namespace

void WriteSeries(std::vector<SeriesWrite>* writes, uint64_t generation) {
  std::vector<SeriesWrite*> pointers;
  pointers.reserve(writes->size());
  for (SeriesWrite& write : *writes) pointers.push_back(&write);
  WriteSeries(pointers, generation);
}

void WriteSeries(const std::vector<SeriesWrite*>& writes, uint64_t generation) {
  // Resolve (and create) series in (metric, tags) order: creating a series
  // locks its metric's row and may wait for another transaction inserting
  // the same series, so both are taken in one order.
  // Series the caller resolved already (a gateway request's, by their
  // text) need neither.
  std::vector<SeriesWrite*> order, unresolved, preset;
  order.reserve(writes.size());
  for (SeriesWrite* write : writes) {
    if (write->points.empty()) continue;
    order.push_back(write);
    (write->series_id < 0 ? unresolved : preset).push_back(write);
  }
  std::stable_sort(unresolved.begin(), unresolved.end(), [](const SeriesWrite* a, const SeriesWrite* b) {
    if (a->metric != b->metric) return a->metric < b->metric;
    const std::string_view a_tags(VARDATA_ANY(a->tags), VARSIZE_ANY_EXHDR(a->tags));
    return a_tags < std::string_view(VARDATA_ANY(b->tags), VARSIZE_ANY_EXHDR(b->tags));
  });
  // Locks of earlier statements of the transaction (see LockSeriesForWrite).
  bool may_wait = !HoldsSeriesLocks();
  const bool first_locks = may_wait;
  SpiConnect();
  const bool row_security = SeriesRowSecurityApplies();
  HideSeriesCounts(row_security);
  const size_t block_points = StraightWritePoints();
  const bool all_small = std::all_of(order.begin(), order.end(), [&](const SeriesWrite* write) {
    return write->points.size() < block_points;
  });
  // Many series of few points each: one packed batch (src/pg/packed.h).
  // Anything else is stored as rows or blocks, which must not lie under an
  // older batch: a batch holding one of its series is drained first.
  const bool packed = all_small && WritesPacked(order.size());
  {
    AsTableOwner owner;
    for (SeriesWrite* write : unresolved) write->series_id = ResolveSeries(write->metric, write->tags, true, may_wait);
    if (packed) {
      // A batch takes no series lock; the cut lock, which a delete of series
      // waits for, and then every delete committed before it seen.
      LockPackedForWrite(first_locks);
      // Ids the caller resolved under another generation (a series deleted
      // since) are resolved again, without waiting now that this holds the
      // cut lock (40001 on a conflict).
      if (generation != 0 && SeriesCacheGeneration() != generation)
        for (SeriesWrite* write : preset) write->series_id = ResolveSeries(write->metric, write->tags, true, false);
      // A later statement of this transaction must not wait for a drain or
      // a delete, which wait for this one (docs/architecture.md, "Locks").
      NoteSeriesRowsHeld();
    }
  }
  // With the caller's rights: its row-level security decides what it may write.
  if (row_security) CheckSeriesVisible(order);
  // Then lock every series in ascending id, the order compress and the
  // deletes use too, before writing anything: a writer that holds data
  // locks never waits for a series lock.
  std::stable_sort(order.begin(), order.end(),
                   [](const SeriesWrite* a, const SeriesWrite* b) { return a->series_id < b->series_id; });
  AsTableOwner owner;
  if (!packed) {
    std::vector<int64_t> ids;
    ids.reserve(order.size());
    for (const SeriesWrite* write : order) ids.push_back(write->series_id);
    DrainPackedOrFail(ids, may_wait);
  }
  // Many small writes (a remote-write request: one point of each of
  // thousands of series) take their kAppend locks in one statement, in
  // ascending id; the loop below then finds them held, or resolves a deleted
  // series again. Only when every series of the statement takes kAppend: a
  // kRewrite lock taken after the others would break the ascending order
  // (and deadlock with a drop_metric locking its series in that order).
  // A packed batch takes no series lock: nothing it writes is changed in
  // place (a drain orders itself by the cut lock), and a batch of a series
  // deleted meanwhile is as if written before the delete (its points are
  // not read, and the next drain drops them).
  if (!packed && may_wait && order.size() > 1 && all_small) {
    std::vector<int64_t> ids;
    ids.reserve(order.size());
    for (const SeriesWrite* write : order) ids.push_back(write->series_id);
    LockSeriesForAppend(ids);
  }
  for (SeriesWrite* write : order) {
    // A caller's write may have been locked otherwise by an earlier
    // statement (a gateway connection keeps its writes between requests).
    write->lock = SeriesLock::kAppend;
    if (packed) continue;
    if (write->points.size() >= block_points) write->lock = SeriesLock::kRewrite;
    write->series_id = LockSeriesForWrite(write->metric, write->tags, write->series_id, &write->lock, &may_wait);
  }
  // A series created anew above has a new id: write in id order again.
  if (!may_wait)
    std::stable_sort(order.begin(), order.end(),
                     [](const SeriesWrite* a, const SeriesWrite* b) { return a->series_id < b->series_id; });
  std::vector<WrittenNewest> written;
  written.reserve(order.size());
  // Recent rows of all series in a few statements (ids are distinct: one
  // write per (metric, tags), one series each; should two ever share an
  // id, each is written on its own).
  std::vector<std::pair<int64_t, const core::SeriesPoints*>> appends;
  bool distinct = true;
  for (SeriesWrite* write : order) {
    if (write->lock == SeriesLock::kRewrite) {
      MergeIntoBlocks(write->series_id, write->points, true);
      CheckForInterrupts();
    } else {
      distinct = distinct && (appends.empty() || appends.back().first != write->series_id);
      appends.emplace_back(write->series_id, &write->points);
    }
    written.push_back({write->series_id, write->points.ts.back(), write->points.values.back()});
  }
  if (packed) {
    // The batch's newest points reach aegis.last_points when it is drained;
    // aegis.latest lays the batches over that table until then.

    if (distinct) {
      InsertPackedBatches(appends);
    } else {
      std::vector<core::SeriesPoints> combined;
      combined.reserve(appends.size());
      std::vector<std::pair<int64_t, const core::SeriesPoints*>> batch;
      for (const auto& [id, points] : appends) {
        if (!batch.empty() && batch.back().first == id) {
          combined.back() = core::MergeNewerWins(combined.back(), *points);
        } else {
          combined.push_back(*points);
          batch.emplace_back(id, nullptr);
        }
      }
      for (size_t i = 0; i < batch.size(); ++i) batch[i].second = &combined[i];
      InsertPackedBatches(batch);
    }
  } else if (distinct) {
    UpsertRecentMany(appends);
  } else {
    for (const auto& [id, points] : appends) UpsertRecent(id, *points);
  }
  size_t points_written = 0;
  for (const SeriesWrite* write : order) points_written += write->points.size();
  CountStat(Stat::kPointsWritten, points_written);
  if (!packed) NoteSeriesWritten(written);
  SpiFinish();
}

namespace {

// Writes one point given as (metric, tags) arguments 0 and 1.
void WriteOnePoint(FunctionCallInfo fcinfo, TimestampTz ts, double value) {
  text* metric_text = PG_GETARG_TEXT_PP(0);
  Jsonb* tags = PG_GETARG_JSONB_P(1);
  CheckTags(tags);
  CheckPointTimestamp(ts);
  std::vector<SeriesWrite> writes(1);
  writes[0].metric.assign(VARDATA_ANY(metric_text), VARSIZE_ANY_EXHDR(metric_text));
  writes[0].tags = tags;
  writes[0].points.push_back(ts, value);
  WriteSeries(&writes);
}

}  // namespace

}  // namespace aegis::pg

using aegis::pg::CheckPointTimestamp;
using aegis::pg::RequireNotNull;

// aegis.write(metric, tags, ts, value): one point.
AEGIS_PG_FUNCTION(aegis_write_point) {
  RequireNotNull(fcinfo, 0, "metric");
  RequireNotNull(fcinfo, 1, "tags");
  RequireNotNull(fcinfo, 2, "ts");
  RequireNotNull(fcinfo, 3, "value");
  aegis::pg::WriteOnePoint(fcinfo, PG_GETARG_TIMESTAMPTZ(2), PG_GETARG_FLOAT8(3));
  PG_RETURN_VOID();
}

// aegis.write_now(metric, tags, value): one point at now().
AEGIS_PG_FUNCTION(aegis_write_now) {
  RequireNotNull(fcinfo, 0, "metric");
  RequireNotNull(fcinfo, 1, "tags");
  RequireNotNull(fcinfo, 2, "value");
  aegis::pg::WriteOnePoint(fcinfo, GetCurrentTransactionStartTimestamp(), PG_GETARG_FLOAT8(2));
  PG_RETURN_VOID();
}

// aegis.write(metric, tags, ts[], value[]): a batch for one series.
AEGIS_PG_FUNCTION(aegis_write_batch) {
  RequireNotNull(fcinfo, 0, "metric");
  RequireNotNull(fcinfo, 1, "tags");
  RequireNotNull(fcinfo, 2, "ts");
  RequireNotNull(fcinfo, 3, "value");
  text* metric_text = PG_GETARG_TEXT_PP(0);
  Jsonb* tags = PG_GETARG_JSONB_P(1);
  ArrayType* ts_array = PG_GETARG_ARRAYTYPE_P(2);
  ArrayType* value_array = PG_GETARG_ARRAYTYPE_P(3);
  aegis::pg::CheckTags(tags);
  if (ARR_NDIM(ts_array) > 1 || ARR_NDIM(value_array) > 1)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("ts and value must be one-dimensional arrays")));
  Datum* ts_datums = nullptr;
  Datum* value_datums = nullptr;
  bool* ts_nulls = nullptr;
  bool* value_nulls = nullptr;
  int n_ts = 0;
  int n_values = 0;
  deconstruct_array(ts_array, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &ts_datums, &ts_nulls, &n_ts);
  deconstruct_array(value_array, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &value_datums, &value_nulls,
                    &n_values);
  if (n_ts != n_values)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("ts and value arrays differ in length"),
                    errdetail("ts has %d elements, value has %d.", n_ts, n_values)));
  for (int i = 0; i < n_ts; ++i) {
    CHECK_FOR_INTERRUPTS();
    if (ts_nulls[i])
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("ts[%d] must not be NULL", i + 1)));
    if (value_nulls[i])
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("value[%d] must not be NULL", i + 1)));
    TimestampTz ts = DatumGetTimestampTz(ts_datums[i]);
    if (TIMESTAMP_NOT_FINITE(ts))
      ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("ts[%d] must be finite", i + 1)));
  }

  std::vector<aegis::pg::SeriesWrite> writes(1);
  aegis::pg::SeriesWrite& write = writes[0];
  write.metric.assign(VARDATA_ANY(metric_text), VARSIZE_ANY_EXHDR(metric_text));
  write.tags = tags;
  write.points.ts.resize(static_cast<size_t>(n_ts));
  write.points.values.resize(static_cast<size_t>(n_ts));
  for (int i = 0; i < n_ts; ++i) {
    write.points.ts[static_cast<size_t>(i)] = DatumGetTimestampTz(ts_datums[i]);
    write.points.values[static_cast<size_t>(i)] = DatumGetFloat8(value_datums[i]);
  }
  // Points written: the batch after duplicate timestamps collapsed to their
  // last value (API.md section 4).
  aegis::core::SortAndDeduplicate(&write.points);
  const int64 written = static_cast<int64>(write.points.size());
  if (written == 0) {
    aegis::core::ValidateMetricName(write.metric);
    PG_RETURN_INT64(0);
  }
  aegis::pg::WriteSeries(&writes);
  PG_RETURN_INT64(written);
}

