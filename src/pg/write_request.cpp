// aegis._write_request(request bytea): the samples of one aegis-gateway
// request (core/write_request.h), written through WriteSeries as one
// statement. The gateway connection and this backend share a series
// dictionary: a series' metric and tags travel once per connection, are
// checked and parsed then, and every later sample names the series by its
// slot. A request of many series becomes one packed batch
// (src/pg/packed.h). The caller needs INSERT on aegis.points, as for COPY
// into it.
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/names.h"
#include "core/series_points.h"
#include "core/write_request.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/catalog.h"
#include "pg/privileges.h"
#include "pg/spi.h"
#include "pg/write.h"

extern "C" {
#include "utils/acl.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
}

namespace aegis::pg {

namespace {

// One series of the dictionary: its metric and parsed tags (in
// dictionary_context), the id found for it under `generation` (a
// SeriesCacheGeneration(): an id of an older one is looked up again), and
// the points the request being written gives it.
struct Slot {
  SeriesWrite write;
  uint64_t generation = 0;
};

// The connection's dictionary (core/write_request.h). `usable` is false
// until a request resets it, and while a request is applied: a request that
// failed half-way may have defined some of its series, so the next one must
// start the dictionary again (the gateway does after any failure).
struct Dictionary {
  uint64_t id = 0;
  bool usable = false;
  std::vector<Slot> slots;
  size_t bytes = 0;                // of metrics and tags
  bool busy = false;               // a request is being applied
  std::vector<Slot*> used;  // the slots the last request wrote
};

// Past these a request that defines more is refused (55000, the gateway
// starts a new dictionary, whose own limits are lower; 54000 for a request
// that starts one and still does not fit). A slot takes about 200 bytes
// besides its metric and tags.
constexpr size_t kMaxSlots = 1000000;
constexpr size_t kMaxBytes = 256 << 20;
// A slot's points keep their memory between requests up to this many.
constexpr size_t kKeptCapacity = 4;

Dictionary* dictionary = nullptr;

// Marks the dictionary busy for one call (errors unwind through it: a
// PostgreSQL ERROR reaches C++ code only as an exception, src/pg/boundary.h).
class Busy {
 public:
  explicit Busy(Dictionary* d) : d_(d) { d_->busy = true; }
  ~Busy() { d_->busy = false; }
  Busy(const Busy&) = delete;
  Busy& operator=(const Busy&) = delete;

 private:
  Dictionary* d_;
};
MemoryContext dictionary_context = nullptr;

[[noreturn]] void Refuse(const char* message, const char* detail) {
  PgCall([&] {
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg("%s", message),
                    errdetail("%s", detail), errhint("The gateway starts the dictionary again and resends.")));
  });
  throw core::Error(core::ErrorCategory::Internal, "unreachable");
}

// Empties the points the last request left (also one that failed).
void ForgetPoints(Dictionary* d) {
  for (Slot* slot : d->used) {
    if (slot->write.points.ts.capacity() > kKeptCapacity) {
      slot->write.points = core::SeriesPoints();
    } else {
      slot->write.points.clear();
    }
  }
  d->used.clear();
}

void Reset(Dictionary* d, uint64_t id) {
  d->usable = false;
  d->used.clear();
  d->slots.clear();
  d->bytes = 0;
  d->id = id;
  PgCall([] {
    if (dictionary_context == nullptr)
      dictionary_context =
          AllocSetContextCreate(TopMemoryContext, "aegis gateway series dictionary", ALLOCSET_DEFAULT_SIZES);
    MemoryContextReset(dictionary_context);
  });
}

// Adds the series of the next slot, checked as aegis.write checks a new
// one: a valid metric name (22023), tags valid in the server encoding
// (22021), no longer than a series key may be (54000), JSON (22P02), a tag
// set (22023).
void Define(Dictionary* d, std::string_view metric, std::string_view text, bool reset) {
  if (d->slots.size() >= kMaxSlots || d->bytes + metric.size() + text.size() > kMaxBytes) {
    const std::string held =
        "It holds " + std::to_string(d->slots.size()) + " series in " + std::to_string(d->bytes) + " bytes.";
    if (reset)
      throw core::Error(core::ErrorCategory::LimitExceeded, "the request defines too many series", held,
                        "Send fewer series in one request.");
    Refuse("the series dictionary of this connection is full", held.c_str());
  }
  std::string name(metric);
  core::ValidateMetricName(name);
  if (metric.size() + text.size() > kMaxSeriesKeyBytes)
    throw core::Error(core::ErrorCategory::LimitExceeded,
                      "tag set of metric " + core::QuoteForMessage(name) + " is too large",
                      "The metric name and tags of a series take " + std::to_string(metric.size() + text.size()) +
                          " bytes as text; at most " + std::to_string(kMaxSeriesKeyBytes) + " are allowed.",
                      "Keep large values out of tags.");
  Jsonb* tags = PgCall([&] {
    (void)pg_verifymbstr(text.data(), static_cast<int>(text.size()), false);
    char* cstring = pnstrdup(text.data(), text.size());
    Jsonb* parsed = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(cstring)));
    CheckTags(parsed);
    auto* copy = static_cast<Jsonb*>(MemoryContextAlloc(dictionary_context, VARSIZE(parsed)));
    memcpy(copy, parsed, VARSIZE(parsed));
    pfree(cstring);
    pfree(parsed);
    return copy;
  });
  d->bytes += metric.size() + VARSIZE(tags);
  Slot& slot = d->slots.emplace_back();
  slot.write.metric = std::move(name);
  slot.write.tags = tags;
}

SPIPlanPtr lookup_plan = nullptr;

// The series of writes that have no id yet and exist (the latest snapshot),
// looked up in one statement by their key, as ResolveSeries would find
// each: a connection that has not seen a request's series yet would
// otherwise look them up one statement each. The rest are created by
// WriteSeries.
void LookUpMissing(const std::vector<SeriesWrite*>& writes) {
  std::vector<SeriesWrite*> missing;
  for (SeriesWrite* write : writes)
    if (write->series_id < 0) missing.push_back(write);
  if (missing.size() < 2) return;
  std::vector<std::string> keys(missing.size());
  for (size_t k = 0; k < missing.size(); ++k) {
    const SeriesWrite& write = *missing[k];
    char* text = PgCall([&] { return JsonbToCString(nullptr, &write.tags->root, VARSIZE(write.tags)); });
    keys[k] = write.metric + " " + text;
    PgCall([&] { pfree(text); });
  }
  std::unordered_map<std::string, int64_t> found;
  SpiConnect();
  {
    AsTableOwner owner;
    PgCall([&] {
      Datum* elements = static_cast<Datum*>(palloc(sizeof(Datum) * keys.size()));
      for (size_t k = 0; k < keys.size(); ++k)
        elements[k] = PointerGetDatum(cstring_to_text_with_len(keys[k].data(), static_cast<int>(keys[k].size())));
      static const Oid types[] = {TEXTARRAYOID};
      Datum values[] = {PointerGetDatum(
          construct_array(elements, static_cast<int>(keys.size()), TEXTOID, -1, false, TYPALIGN_INT))};
      // A probe of the key's hash index per key (a join would hash the
      // whole catalog).
      RunPlan(&lookup_plan,
              "SELECT (SELECT s.series_id FROM aegis.series s WHERE (s.metric || ' ' || s.tags::text) = u.k), u.k"
              " FROM unnest($1::text[]) AS u (k)",
              1, types, values, Snap::kLatest);
    });
    for (uint64 row = 0; row < SPI_processed; ++row) {
      bool isnull = false;
      const int64_t id = DatumGetInt64(ResultValue(row, 1, &isnull));
      if (isnull) continue;  // not there yet: WriteSeries creates it
      text* key = PgCall([&] { return DatumGetTextPP(ResultValue(row, 2, &isnull)); });
      found.emplace(std::string(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key)), id);
    }
    PgCall([] { SPI_freetuptable(SPI_tuptable); });
  }
  SpiFinish();
  for (size_t k = 0; k < missing.size(); ++k) {
    const auto hit = found.find(keys[k]);
    if (hit != found.end()) missing[k]->series_id = hit->second;
  }
}

}  // namespace

}  // namespace aegis::pg

// aegis._write_request(request): writes the request's samples; returns how
// many were written (duplicates of a series and timestamp count once, the
// last one winning).
AEGIS_PG_FUNCTION(aegis_write_request) {
  using aegis::pg::Slot;
  aegis::pg::RequireNotNull(fcinfo, 0, "request");
  bytea* data = PG_GETARG_BYTEA_PP(0);
  aegis::pg::PgCall([] {
    const Oid points = get_relname_relid("points", get_namespace_oid("aegis", false));
    const AclResult acl = pg_class_aclcheck(points, GetUserId(), ACL_INSERT);
    if (acl != ACLCHECK_OK) aclcheck_error(acl, OBJECT_FOREIGN_TABLE, "points");
  });
  aegis::core::WriteRequest request;
  aegis::core::ParseWriteRequest(reinterpret_cast<const uint8_t*>(VARDATA_ANY(data)), VARSIZE_ANY_EXHDR(data),
                                 &request);
  if (aegis::pg::dictionary == nullptr) aegis::pg::dictionary = new aegis::pg::Dictionary();
  aegis::pg::Dictionary* d = aegis::pg::dictionary;
  // Called again from inside itself (a function of a row-level security
  // policy, say), a reset would free the slots the outer call writes.
  if (d->busy)
    throw aegis::core::Error(aegis::core::ErrorCategory::NotSupported,
                             "aegis._write_request cannot be called from inside itself",
                             "It was called while a write request of this connection was being applied.");
  const aegis::pg::Busy busy(d);
  aegis::pg::ForgetPoints(d);
  if (request.reset) {
    aegis::pg::Reset(d, request.dictionary);
  } else if (!d->usable || d->id != request.dictionary) {
    aegis::pg::Refuse("the request names a series dictionary this connection does not have",
                      d->usable ? "The connection keeps another dictionary."
                                : "The connection has no dictionary, or a request failed since it was started.");
  }
  if (request.first_slot != d->slots.size())
    aegis::pg::Refuse("the request's series dictionary is not this connection's",
                      ("The request defines slots from " + std::to_string(request.first_slot) +
                       "; the connection's dictionary has " + std::to_string(d->slots.size()) + ".")
                          .c_str());
  d->usable = false;
  for (const aegis::core::WriteRequest::Series& s : request.definitions)
    aegis::pg::Define(d, s.metric, s.tags, request.reset);
  const uint64_t generation = aegis::pg::SeriesCacheGeneration();
  for (const aegis::core::WriteRequest::Sample& s : request.samples) {
    if (!IS_VALID_TIMESTAMP(s.ts))
      throw aegis::core::Error(aegis::core::ErrorCategory::DatetimeOverflow, "sample timestamp out of range",
                               std::to_string(s.ts) + " microseconds from 2000-01-01 is outside timestamptz's range.");
    Slot& slot = d->slots[s.slot];
    if (slot.write.points.empty()) {
      d->used.push_back(&slot);
      if (slot.generation != generation) slot.write.series_id = -1;
    }
    slot.write.points.push_back(s.ts, s.value);
  }
  int64 written = 0;
  std::vector<aegis::pg::SeriesWrite*> writes;
  writes.reserve(d->used.size());
  for (Slot* slot : d->used) {
    if (slot->write.points.size() > 1) aegis::core::SortAndDeduplicate(&slot->write.points);
    written += static_cast<int64>(slot->write.points.size());
    writes.push_back(&slot->write);
  }
  aegis::pg::LookUpMissing(writes);
  aegis::pg::WriteSeries(writes, generation);
  // The ids, for the next request, while the cache they came from stands.
  if (aegis::pg::SeriesCacheGeneration() == generation) {
    for (Slot* slot : d->used)
      if (slot->write.series_id >= 0) slot->generation = generation;
  }
  d->usable = true;
  PG_RETURN_INT64(written);
}
