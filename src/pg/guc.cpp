// All aegis.* settings, sorted by name, in one place.
#include "core/block_codec.h"

#include "pg/guc.h"

namespace aegis::pg {

int guc_block_max_points = 1000;
char* guc_compress_after = nullptr;
int guc_max_series_per_metric = 100000;

namespace {

// Parses an interval without raising: NULL when the text is not one.
Interval* ParseIntervalOrNull(const char* text) {
  MemoryContext context = CurrentMemoryContext;
  Interval* result = nullptr;
  PG_TRY();
  {
    result = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(text),
                                                   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(context);
    FlushErrorState();
    result = nullptr;
  }
  PG_END_TRY();
  return result;
}

// check_hook for aegis.compress_after: a non-negative interval.
bool CheckCompressAfter(char** newval, void** /*extra*/, GucSource /*source*/) {
  Interval* interval = ParseIntervalOrNull(*newval);
  if (interval == nullptr) {
    GUC_check_errdetail("\"%s\" is not an interval.", *newval);
    return false;
  }
  bool negative = interval->month < 0 || interval->day < 0 || interval->time < 0;
  pfree(interval);
  if (negative) {
    GUC_check_errdetail("aegis.compress_after must not be negative.");
    return false;
  }
  return true;
}

}  // namespace

Interval* CompressAfter() {
  return DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(guc_compress_after),
                                               ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

void DefineSettings() {
  DefineCustomIntVariable("aegis.block_max_points", "Largest number of points in one compressed block.",
                          "A batch write of at least this many points for one series goes straight "
                          "into compressed blocks.",
                          &guc_block_max_points, 1000, 1, static_cast<int>(core::kMaxBlockPoints),
                          PGC_USERSET, 0, nullptr, nullptr, nullptr);
  DefineCustomStringVariable("aegis.compress_after",
                             "Age after which aegis.compress() packs recent points into blocks.",
                             "Used when aegis.compress() is called without older_than.",
                             &guc_compress_after, "10 minutes", PGC_USERSET, 0, CheckCompressAfter,
                             nullptr, nullptr);
  DefineCustomIntVariable("aegis.max_series_per_metric", "Largest number of series one metric may have.",
                          "A write that would create one more series fails with SQLSTATE 54000.",
                          &guc_max_series_per_metric, 100000, 1, INT_MAX, PGC_USERSET, 0, nullptr,
                          nullptr, nullptr);
  MarkGUCPrefixReserved("aegis");
}

}  // namespace aegis::pg
