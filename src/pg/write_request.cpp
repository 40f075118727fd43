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
#include "pg/write.h"

extern "C" {
#include "utils/acl.h"
}

namespace aegis::pg {

namespace {

// Parsed tag sets by their text, in tag_context; emptied (between requests)
// past kMaxTagSets.
constexpr size_t kMaxTagSets = 200000;
MemoryContext tag_context = nullptr;
std::unordered_map<std::string, Jsonb*>* tag_sets = nullptr;

void PrepareTagSets() {
  if (tag_sets == nullptr) tag_sets = new std::unordered_map<std::string, Jsonb*>();
  if (tag_sets->size() < kMaxTagSets) return;
  tag_sets->clear();
  PgCall([] { MemoryContextReset(tag_context); });
}

// The checked jsonb of a tag set's text (22P02 for text that is not JSON,
// 22023 for JSON that is not a tag set).
Jsonb* TagsOfText(std::string_view text) {
  std::string key(text);
  const auto found = tag_sets->find(key);
  if (found != tag_sets->end()) return found->second;
  Jsonb* tags = PgCall([&] {
    if (tag_context == nullptr)
      tag_context = AllocSetContextCreate(TopMemoryContext, "aegis gateway tag sets", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(tag_context);
    char* cstring = pnstrdup(text.data(), text.size());
    Jsonb* parsed = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(cstring)));
    pfree(cstring);
    MemoryContextSwitchTo(old);
    CheckTags(parsed);
    return parsed;
  });
  tag_sets->emplace(std::move(key), tags);
  return tags;
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
  aegis::pg::PrepareTagSets();
  std::vector<aegis::pg::SeriesWrite> writes(request.series.size());
  for (size_t i = 0; i < request.series.size(); ++i) {
    writes[i].metric.assign(request.series[i].metric);
    aegis::core::ValidateMetricName(writes[i].metric);
    writes[i].tags = aegis::pg::TagsOfText(request.series[i].tags);
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
  aegis::pg::WriteSeries(&writes);
  PG_RETURN_INT64(written);
}
