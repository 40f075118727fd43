// Writing points: aegis.write (one point and batch), aegis.write_now and the
// triggers behind INSERT/COPY into aegis.points.
#include <string>
#include <unordered_map>
#include <vector>

#include "core/names.h"
#include "core/series_points.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/catalog.h"
#include "pg/guc.h"
#include "pg/spi.h"
#include "pg/store.h"

namespace aegis::pg {

namespace {

// Raises 22008 unless ts is a finite timestamp.
void CheckPointTimestamp(TimestampTz ts) {
  if (TIMESTAMP_NOT_FINITE(ts))
    ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("point timestamp must be finite"),
                    errdetail("Got %s.", TIMESTAMP_IS_NOBEGIN(ts) ? "-infinity" : "infinity")));
}

// Writes points (time-ordered, duplicate-free) of one series, resolving or
// creating the series first. A batch of at least aegis.block_max_points
// points goes straight into compressed blocks.
void WriteSeriesPoints(const std::string& metric, Jsonb* tags, const core::SeriesPoints& points) {
  SpiConnect();
  const int64_t series_id = LockSeriesForWrite(metric, tags, ResolveSeries(metric, tags, true));
  if (points.size() >= static_cast<size_t>(guc_block_max_points)) {
    MergeIntoBlocks(series_id, points, true);
  } else if (!points.empty()) {
    UpsertRecent(series_id, points);
  }
  SpiFinish();
}

// Writes one point given as (metric, tags) arguments 0 and 1.
void WriteOnePoint(FunctionCallInfo fcinfo, TimestampTz ts, double value) {
  text* metric_text = PG_GETARG_TEXT_PP(0);
  Jsonb* tags = PG_GETARG_JSONB_P(1);
  CheckTags(tags);
  CheckPointTimestamp(ts);
  std::string metric(VARDATA_ANY(metric_text), VARSIZE_ANY_EXHDR(metric_text));
  core::SeriesPoints points;
  points.push_back(ts, value);
  WriteSeriesPoints(metric, tags, points);
}

// Rows inserted into aegis.points by the running statement, grouped by
// series, in arrival order. The row trigger only validates and appends; the
// statement trigger (or a full buffer) writes each series' points as one
// batch, so a COPY of many points per series goes straight into blocks.
struct PendingSeries {
  std::string key;  // metric name, NUL, the tags' jsonb bytes
  size_t metric_length;
  core::SeriesPoints points;
};
std::vector<PendingSeries> pending;
std::unordered_map<std::string, size_t> pending_index;
size_t pending_points = 0;

// Points buffered before a flush inside the statement (about 16 MB).
constexpr size_t kMaxPendingPoints = 1000000;

// Forgets buffered rows (their statement failed).
void DiscardPending() {
  pending.clear();
  pending_index.clear();
  pending_points = 0;
}

// Transaction callback: rows of an aborted statement are never written.
void PendingXactCallback(XactEvent event, void* /*arg*/) {
  if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) DiscardPending();
}

// Subtransaction callback: the same for a rolled-back savepoint.
void PendingSubXactCallback(SubXactEvent event, SubTransactionId /*sub*/, SubTransactionId /*parent*/,
                            void* /*arg*/) {
  if (event == SUBXACT_EVENT_ABORT_SUB) DiscardPending();
}

// Writes every buffered series, in arrival order.
void FlushPending() {
  std::vector<PendingSeries> batch;
  batch.swap(pending);
  pending_index.clear();
  pending_points = 0;
  for (PendingSeries& series : batch) {
    const std::string metric = series.key.substr(0, series.metric_length);
    const char* tag_bytes = series.key.data() + series.metric_length + 1;
    const size_t tag_size = series.key.size() - series.metric_length - 1;
    Jsonb* tags = PgCall([&] {
      auto* jsonb = static_cast<Jsonb*>(palloc(VARHDRSZ + tag_size));
      SET_VARSIZE(jsonb, VARHDRSZ + tag_size);
      memcpy(VARDATA(jsonb), tag_bytes, tag_size);
      return jsonb;
    });
    core::SortAndDeduplicate(&series.points);
    WriteSeriesPoints(metric, tags, series.points);
    PgCall([&] { pfree(tags); });
    CheckForInterrupts();
  }
}

}  // namespace

void InitWriteBuffer() {
  RegisterXactCallback(PendingXactCallback, nullptr);
  RegisterSubXactCallback(PendingSubXactCallback, nullptr);
}

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
    if (ts_nulls[i])
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("ts[%d] must not be NULL", i + 1)));
    if (value_nulls[i])
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("value[%d] must not be NULL", i + 1)));
    TimestampTz ts = DatumGetTimestampTz(ts_datums[i]);
    if (TIMESTAMP_NOT_FINITE(ts))
      ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("ts[%d] must be finite", i + 1)));
  }

  std::string metric(VARDATA_ANY(metric_text), VARSIZE_ANY_EXHDR(metric_text));
  aegis::core::SeriesPoints points;
  points.ts.resize(static_cast<size_t>(n_ts));
  points.values.resize(static_cast<size_t>(n_ts));
  for (int i = 0; i < n_ts; ++i) {
    points.ts[static_cast<size_t>(i)] = DatumGetTimestampTz(ts_datums[i]);
    points.values[static_cast<size_t>(i)] = DatumGetFloat8(value_datums[i]);
  }
  aegis::core::SortAndDeduplicate(&points);
  if (n_ts == 0) {
    aegis::core::ValidateMetricName(metric);
    PG_RETURN_INT64(0);
  }
  aegis::pg::WriteSeriesPoints(metric, tags, points);
  PG_RETURN_INT64(n_ts);
}

// INSTEAD OF INSERT trigger on aegis.points: each row is one point.
AEGIS_PG_FUNCTION(aegis_points_insert) {
  if (!CALLED_AS_TRIGGER(fcinfo))
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                    errmsg("aegis_points_insert() must be called as a trigger")));
  auto* trigger_data = reinterpret_cast<TriggerData*>(fcinfo->context);
  TupleDesc desc = trigger_data->tg_relation->rd_att;
  static const Oid column_types[] = {TEXTOID, JSONBOID, TIMESTAMPTZOID, FLOAT8OID};
  bool shape_ok = TRIGGER_FIRED_FOR_ROW(trigger_data->tg_event) && TRIGGER_FIRED_INSTEAD(trigger_data->tg_event) &&
                  TRIGGER_FIRED_BY_INSERT(trigger_data->tg_event) && desc->natts == 4;
  for (int i = 0; shape_ok && i < 4; ++i)
    shape_ok = !TupleDescAttr(desc, i)->attisdropped && TupleDescAttr(desc, i)->atttypid == column_types[i];
  if (!shape_ok)
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                    errmsg("aegis_points_insert() must be an INSTEAD OF INSERT row trigger on aegis.points")));
  HeapTuple row = trigger_data->tg_trigtuple;
  bool nulls[4];
  Datum values[4];
  static const char* const names[] = {"metric", "tags", "ts", "value"};
  for (int i = 0; i < 4; ++i) {
    values[i] = heap_getattr(row, i + 1, desc, &nulls[i]);
    if (nulls[i])
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not be NULL", names[i])));
  }
  text* metric_text = DatumGetTextPP(values[0]);
  Jsonb* tags = DatumGetJsonbP(values[1]);
  TimestampTz ts = DatumGetTimestampTz(values[2]);
  CheckPointTimestamp(ts);

  std::string key;
  const size_t metric_length = VARSIZE_ANY_EXHDR(metric_text);
  key.reserve(metric_length + 1 + VARSIZE_ANY_EXHDR(tags));
  key.append(VARDATA_ANY(metric_text), metric_length).push_back('\0');
  key.append(VARDATA_ANY(tags), VARSIZE_ANY_EXHDR(tags));
  auto found = aegis::pg::pending_index.find(key);
  size_t index;
  if (found != aegis::pg::pending_index.end()) {
    index = found->second;
  } else {
    // A series seen for the first time in this statement: check its name and
    // tags now, so the error names the row that is wrong.
    aegis::pg::PgCall([&] { aegis::pg::CheckTags(tags); });
    aegis::core::ValidateMetricName(std::string_view(key.data(), metric_length));
    index = aegis::pg::pending.size();
    aegis::pg::pending.push_back({key, metric_length, {}});
    aegis::pg::pending_index.emplace(std::move(key), index);
  }
  aegis::pg::pending[index].points.push_back(ts, DatumGetFloat8(values[3]));
  if (++aegis::pg::pending_points >= aegis::pg::kMaxPendingPoints) aegis::pg::FlushPending();
  return PointerGetDatum(row);
}

// AFTER INSERT statement trigger on aegis.points: writes the rows the
// statement buffered.
AEGIS_PG_FUNCTION(aegis_points_flush) {
  if (!CALLED_AS_TRIGGER(fcinfo))
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                    errmsg("aegis_points_flush() must be called as a trigger")));
  aegis::pg::FlushPending();
  return PointerGetDatum(nullptr);
}
