// aegis._write_request(request bytea): the samples of one aegis-gateway
// request (core/write_request.h), written through WriteSeries as one
// statement: each series' metric and tags come once, however many samples
// it has, and a tag set's text is parsed once per backend (the gateway
// sends the same text for a series every time). A request of many series
// becomes one packed batch (src/pg/packed.h). The caller needs INSERT on
// aegis.points, as for COPY into it.
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

// The series of gateway requests by their metric and tag text: the parsed
// tags (a copy in tag_context) and the series id ResolveSeries gave under a
// SeriesCacheGeneration(). Emptied (between requests) past kMaxSeries
// entries or kMaxTagBytes of tags.
struct KnownSeries {
  Jsonb* tags;
  int64_t series_id = -1;
  uint64_t generation = 0;
};
constexpr size_t kMaxSeries = 200000;
constexpr size_t kMaxTagBytes = 64 << 20;
MemoryContext tag_context = nullptr;
std::unordered_map<std::string, KnownSeries>* known = nullptr;
size_t known_tag_bytes = 0;

void PrepareKnownSeries() {
  if (known == nullptr) known = new std::unordered_map<std::string, KnownSeries>();
  if (known->size() < kMaxSeries && known_tag_bytes < kMaxTagBytes) return;
  known->clear();
  known_tag_bytes = 0;
  PgCall([] { MemoryContextReset(tag_context); });
}

// The entry of (metric, tags text), its tags checked and parsed on first
// sight: valid in the server encoding (22021), no longer than a series key
// may be (54000), JSON (22P02), a tag set (22023).
KnownSeries* Lookup(std::string_view metric, std::string_view text) {
  std::string key;
  key.reserve(metric.size() + 1 + text.size());
  key.append(metric).push_back('\0');
  key.append(text);
  const auto found = known->find(key);
  if (found != known->end()) return &found->second;
  if (metric.size() + text.size() > kMaxSeriesKeyBytes)
    throw core::Error(core::ErrorCategory::LimitExceeded,
                      "tag set of metric " + core::QuoteForMessage(std::string(metric)) + " is too large",
                      "The metric name and tags of a series take " + std::to_string(metric.size() + text.size()) +
                          " bytes as text; at most " + std::to_string(kMaxSeriesKeyBytes) + " are allowed.",
                      "Keep large values out of tags.");
  Jsonb* tags = PgCall([&] {
    (void)pg_verifymbstr(text.data(), static_cast<int>(text.size()), false);
    char* cstring = pnstrdup(text.data(), text.size());
    Jsonb* parsed = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(cstring)));
    CheckTags(parsed);
    if (tag_context == nullptr)
      tag_context = AllocSetContextCreate(TopMemoryContext, "aegis gateway series", ALLOCSET_DEFAULT_SIZES);
    auto* copy = static_cast<Jsonb*>(MemoryContextAlloc(tag_context, VARSIZE(parsed)));
    memcpy(copy, parsed, VARSIZE(parsed));
    pfree(cstring);
    return copy;
  });
  known_tag_bytes += VARSIZE(tags) + key.size();
  return &known->emplace(std::move(key), KnownSeries{tags}).first->second;
}

SPIPlanPtr lookup_plan = nullptr;

// The series of writes that have no id yet and exist (the latest snapshot),
// looked up in one statement by their key, as ResolveSeries would find
// each: a connection that has not seen a request's series yet would
// otherwise look them up one statement each. The rest are created by
// WriteSeries.
void LookUpMissing(std::vector<SeriesWrite>* writes) {
  std::vector<size_t> missing;
  for (size_t i = 0; i < writes->size(); ++i)
    if ((*writes)[i].series_id < 0 && !(*writes)[i].points.empty()) missing.push_back(i);
  if (missing.size() < 2) return;
  std::vector<std::string> keys(missing.size());
  for (size_t k = 0; k < missing.size(); ++k) {
    const SeriesWrite& write = (*writes)[missing[k]];
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
    if (hit != found.end()) (*writes)[missing[k]].series_id = hit->second;
  }
}

}  // namespace

}  // namespace aegis::pg

// aegis._write_request(request): writes the request's samples; returns how
// many were written (duplicates of a series and timestamp count once, the
// last one winning).
AEGIS_PG_FUNCTION(aegis_write_request) {
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
  aegis::pg::PrepareKnownSeries();
  const uint64_t generation = aegis::pg::SeriesCacheGeneration();
  std::vector<aegis::pg::SeriesWrite> writes(request.series.size());
  std::vector<aegis::pg::KnownSeries*> entries(request.series.size());
  for (size_t i = 0; i < request.series.size(); ++i) {
    writes[i].metric.assign(request.series[i].metric);
    aegis::core::ValidateMetricName(writes[i].metric);
    entries[i] = aegis::pg::Lookup(request.series[i].metric, request.series[i].tags);
    writes[i].tags = entries[i]->tags;
    if (entries[i]->generation == generation) writes[i].series_id = entries[i]->series_id;
  }
  for (const aegis::core::WriteRequest::Sample& s : request.samples) {
    if (!IS_VALID_TIMESTAMP(s.ts))
      throw aegis::core::Error(aegis::core::ErrorCategory::DatetimeOverflow, "sample timestamp out of range",
                               std::to_string(s.ts) + " microseconds from 2000-01-01 is outside timestamptz's range.");
    writes[s.series].points.push_back(s.ts, s.value);
  }
  int64 written = 0;
  for (aegis::pg::SeriesWrite& write : writes) {
    aegis::core::SortAndDeduplicate(&write.points);
    written += static_cast<int64>(write.points.size());
  }
  aegis::pg::LookUpMissing(&writes);
  aegis::pg::WriteSeries(&writes, generation);
  // The ids, for the next request, while the cache they came from stands.
  if (aegis::pg::SeriesCacheGeneration() == generation) {
    for (size_t i = 0; i < writes.size(); ++i) {
      if (writes[i].series_id < 0) continue;
      entries[i]->series_id = writes[i].series_id;
      entries[i]->generation = generation;
    }
  }
  PG_RETURN_INT64(written);
}
