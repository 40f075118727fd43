// INSERT and COPY into aegis.points: the rows a statement inserts are
// buffered per series and written, each series as one batch, when the
// statement ends.
//
// The buffer must stay true to subtransactions. A subtransaction (a
// savepoint, or a PL/pgSQL block with an EXCEPTION clause, even one run by a
// function that computes a value of the inserted row) may abort while rows of
// the outer statement are buffered; only the rows buffered inside it may go.
// Rows are numbered in arrival order, and every open subtransaction
// remembers the first number it saw. Everything buffered while a
// subtransaction is open belongs to it or to its children (which, when they
// commit, hand their rows to it), so an abort drops exactly the rows numbered
// from its mark on: a suffix of each series' run. A statement's flush writes
// the rows of the innermost open subtransaction (the suffix from its mark):
// rows of an outer statement are never written from inside a subtransaction
// that could still roll them back.
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/names.h"
#include "core/series_points.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/catalog.h"
#include "pg/write.h"

namespace aegis::pg {

namespace {

// Buffered rows of one series, in arrival order.
struct BufferedSeries {
  std::string key;  // metric name, NUL, the tags' jsonb bytes
  size_t metric_length = 0;
  core::SeriesPoints points;
  std::vector<uint64_t> numbers;  // arrival number of each point
};

// The buffer of this backend: series in order of first arrival.
struct PointsBuffer {
  std::vector<BufferedSeries> series;
  std::unordered_map<std::string, size_t> index;  // key -> position in series
  size_t points = 0;                              // buffered points in all series
  uint64_t next_number = 0;
  // Open subtransactions, innermost last: (id, first arrival number).
  std::vector<std::pair<SubTransactionId, uint64_t>> marks;
  // A flush inside a statement happens when this many points are buffered.
  size_t flush_at = 0;
  size_t last = 0;  // the series of the last row (checked before use)
};
PointsBuffer buffer;

// Points buffered before a flush inside the statement (about 24 MB).
constexpr size_t kMaxBufferedPoints = 1000000;

// Forgets every buffered row.
void Clear() {
  buffer.series.clear();
  buffer.index.clear();
  buffer.points = 0;
  buffer.flush_at = kMaxBufferedPoints;
}

// Drops the rows numbered `first` and later (a suffix of every run).
void DropFrom(uint64_t first) {
  if (first == 0) {
    Clear();
    return;
  }
  for (BufferedSeries& s : buffer.series) {
    size_t keep = s.numbers.size();
    while (keep > 0 && s.numbers[keep - 1] >= first) --keep;
    buffer.points -= s.numbers.size() - keep;
    s.numbers.resize(keep);
    s.points.ts.resize(keep);
    s.points.values.resize(keep);
  }
}

// The first arrival number of the innermost open subtransaction (0 at the
// top level).
uint64_t CurrentMark() { return buffer.marks.empty() ? 0 : buffer.marks.back().second; }

// Transaction callback: nothing buffered outlives its transaction.
void BufferXactCallback(XactEvent event, void* /*arg*/) {
  switch (event) {
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT:
    case XACT_EVENT_PREPARE:
      Clear();
      buffer.marks.clear();
      break;
    default:
      break;
  }
}

// Subtransaction callback: marks where each subtransaction starts; an abort
// drops what it buffered, a commit hands it to the parent.
void BufferSubXactCallback(SubXactEvent event, SubTransactionId sub, SubTransactionId /*parent*/,
                           void* /*arg*/) {
  switch (event) {
    case SUBXACT_EVENT_START_SUB:
      buffer.marks.emplace_back(sub, buffer.next_number);
      break;
    case SUBXACT_EVENT_COMMIT_SUB:
      while (!buffer.marks.empty() && buffer.marks.back().first >= sub) buffer.marks.pop_back();
      break;
    case SUBXACT_EVENT_ABORT_SUB: {
      // Started before this library was loaded: everything buffered since
      // belongs to it.
      uint64_t first = 0;
      for (size_t i = buffer.marks.size(); i-- > 0;) {
        if (buffer.marks[i].first == sub) {
          first = buffer.marks[i].second;
          break;
        }
      }
      DropFrom(first);
      while (!buffer.marks.empty() && buffer.marks.back().first >= sub) buffer.marks.pop_back();
      break;
    }
    default:
      break;
  }
}

// Writes the rows buffered in the innermost open subtransaction.
void Flush() {
  const uint64_t first = CurrentMark();
  std::vector<SeriesWrite> writes;
  std::vector<Jsonb*> tags;
  for (BufferedSeries& s : buffer.series) {
    size_t from = s.numbers.size();
    while (from > 0 && s.numbers[from - 1] >= first) --from;
    if (from == s.numbers.size()) continue;
    SeriesWrite write;
    write.metric.assign(s.key.data(), s.metric_length);
    write.points.Append(s.points, from, s.points.size());
    core::SortAndDeduplicate(&write.points);
    const char* tag_bytes = s.key.data() + s.metric_length + 1;
    const size_t tag_size = s.key.size() - s.metric_length - 1;
    write.tags = PgCall([&] {
      auto* jsonb = static_cast<Jsonb*>(palloc(VARHDRSZ + tag_size));
      SET_VARSIZE(jsonb, VARHDRSZ + tag_size);
      memcpy(VARDATA(jsonb), tag_bytes, tag_size);
      return jsonb;
    });
    writes.push_back(std::move(write));
  }
  // Taken out of the buffer before writing: a write that fails fails the
  // statement, whose abort would drop these rows anyway.
  DropFrom(first);
  if (buffer.points == 0) Clear();
  buffer.flush_at = buffer.points + kMaxBufferedPoints;
  WriteSeries(&writes);
  for (SeriesWrite& write : writes) PgCall([&] { pfree(write.tags); });
}

// Appends a point to the buffered series at `at`.
void AddToSeries(size_t at, TimestampTz ts, double value) {
  BufferedSeries& s = buffer.series[at];
  s.points.push_back(ts, value);
  s.numbers.push_back(buffer.next_number++);
  if (++buffer.points >= buffer.flush_at) Flush();
}

// Whether the buffered series at `at` is (metric, tags).
bool IsSeries(size_t at, std::string_view metric, Jsonb* tags) {
  if (at >= buffer.series.size()) return false;
  const BufferedSeries& s = buffer.series[at];
  const size_t tag_size = VARSIZE_ANY_EXHDR(tags);
  return s.metric_length == metric.size() && s.key.size() == metric.size() + 1 + tag_size &&
         std::memcmp(s.key.data(), metric.data(), metric.size()) == 0 &&
         std::memcmp(s.key.data() + metric.size() + 1, VARDATA_ANY(tags), tag_size) == 0;
}

}  // namespace

void AppendPoint(std::string_view metric, Jsonb* tags, TimestampTz ts, double value) {
  // Rows usually come a series at a time: the series of the last row first.
  if (IsSeries(buffer.last, metric, tags)) {
    AddToSeries(buffer.last, ts, value);
    return;
  }
  std::string key;
  const size_t metric_length = metric.size();
  key.reserve(metric_length + 1 + VARSIZE_ANY_EXHDR(tags));
  key.append(metric.data(), metric_length).push_back('\0');
  key.append(VARDATA_ANY(tags), VARSIZE_ANY_EXHDR(tags));
  auto found = buffer.index.find(key);
  size_t at;
  if (found != buffer.index.end()) {
    at = found->second;
  } else {
    // A series seen for the first time: check its name and tags now, so the
    // error names the row that is wrong.
    PgCall([&] { CheckTags(tags); });
    core::ValidateMetricName(std::string_view(key.data(), metric_length));
    at = buffer.series.size();
    buffer.series.push_back({key, metric_length, {}, {}});
    buffer.index.emplace(std::move(key), at);
  }
  buffer.last = at;
  AddToSeries(at, ts, value);
}

void AppendPointRow(const Datum* values, const bool* nulls) {
  static const char* const names[] = {"metric", "tags", "ts", "value"};
  for (int i = 0; i < 4; ++i)
    if (nulls[i]) throw core::Error(core::ErrorCategory::NullValue, std::string(names[i]) + " must not be NULL");
  text* metric_text = nullptr;
  Jsonb* tags = nullptr;
  const TimestampTz ts = DatumGetTimestampTz(values[2]);
  PgCall([&] {
    metric_text = DatumGetTextPP(values[0]);
    tags = DatumGetJsonbP(values[1]);
    CheckPointTimestamp(ts);
  });
  AppendPoint(std::string_view(VARDATA_ANY(metric_text), VARSIZE_ANY_EXHDR(metric_text)), tags, ts,
              DatumGetFloat8(values[3]));
}

void FlushPoints() { Flush(); }

void InitPointsBuffer() {
  buffer.flush_at = kMaxBufferedPoints;
  RegisterXactCallback(BufferXactCallback, nullptr);
  RegisterSubXactCallback(BufferSubXactCallback, nullptr);
}

}  // namespace aegis::pg

// The 0.1.0 install script's INSTEAD OF INSERT trigger on the aegis.points
// view: each row is one point. (0.2.0 makes aegis.points a foreign table,
// src/pg/points_fdw.cpp; the symbol stays for the released script.)
AEGIS_PG_FUNCTION(aegis_points_insert) {
  TriggerData* trigger_data = aegis::pg::PointsRowTrigger(fcinfo, "aegis_points_insert", TRIGGER_EVENT_INSERT);
  TupleDesc desc = trigger_data->tg_relation->rd_att;
  HeapTuple row = trigger_data->tg_trigtuple;
  bool nulls[4];
  Datum values[4];
  for (int i = 0; i < 4; ++i) values[i] = heap_getattr(row, i + 1, desc, &nulls[i]);
  aegis::pg::AppendPointRow(values, nulls);
  return PointerGetDatum(row);
}

// The 0.1.0 AFTER INSERT statement trigger on the aegis.points view: writes
// the rows the statement buffered.
AEGIS_PG_FUNCTION(aegis_points_flush) {
  if (!CALLED_AS_TRIGGER(fcinfo))
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                    errmsg("aegis_points_flush() must be called as a trigger")));
  aegis::pg::FlushPoints();
  return PointerGetDatum(nullptr);
}
