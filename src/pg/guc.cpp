// All aegis.* settings, sorted by name, in one place.
#include <algorithm>
#include <climits>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "core/block_codec.h"
#include "core/block_cut.h"

#include "pg/guc.h"

namespace aegis::pg {

int guc_block_max_points = 10000;
int guc_block_max_bytes = static_cast<int>(core::kDefaultBlockMaxBytes);
char* guc_compress_after = nullptr;
int guc_max_series_per_metric = 100000;
int guc_maintenance_interval = 60;
int guc_memory_kept = 16384;
bool guc_aggregate_pushdown = true;
int guc_packed_write_series = 256;
bool guc_maintenance_worker = true;
int guc_partition_interval = static_cast<int>(PartitionInterval::kMonth);
char* guc_default_retention = nullptr;

namespace {

// Parses an interval as interval_in does, without raising: a check hook
// runs where an ERROR could not be caught safely (no subtransaction, maybe
// not even a transaction while the configuration file is read). Returns
// false when the text is not an interval or does not fit one.
bool ParseInterval(const char* text, Interval* result) {
  char workbuf[256];
  char* fields[MAXDATEFIELDS];
  int field_types[MAXDATEFIELDS];
  int field_count = 0;
  int dtype = 0;
  pg_itm_in parts{};
  int error = ParseDateTime(text, workbuf, sizeof workbuf, fields, field_types, MAXDATEFIELDS, &field_count);
  if (error == 0) error = DecodeInterval(fields, field_types, field_count, INTERVAL_FULL_RANGE, &dtype, &parts);
  if (error == DTERR_BAD_FORMAT) error = DecodeISO8601Interval(const_cast<char*>(text), &dtype, &parts);
  return error == 0 && dtype == DTK_DELTA && itmin2interval(&parts, result) == 0;
}

// check_hook for aegis.block_max_bytes: 0, or a row size from
// kMinBlockMaxBytes to the largest row a heap page holds.
bool CheckBlockMaxBytes(int* newval, void** /*extra*/, GucSource /*source*/) {
  if (*newval == 0 || (*newval >= static_cast<int>(core::kMinBlockMaxBytes) && *newval <= kMaxBlockRowBytes))
    return true;
  GUC_check_errdetail("aegis.block_max_bytes must be 0 (cut blocks by point count alone) or from %d to %d.",
                      static_cast<int>(core::kMinBlockMaxBytes), kMaxBlockRowBytes);
  return false;
}

// check_hook for aegis.compress_after: a non-negative interval.
bool CheckCompressAfter(char** newval, void** /*extra*/, GucSource /*source*/) {
  Interval interval;
  if (!ParseInterval(*newval, &interval)) {
    GUC_check_errdetail("\"%s\" is not an interval.", *newval);
    return false;
  }
  if (interval.month < 0 || interval.day < 0 || interval.time < 0) {
    GUC_check_errdetail("aegis.compress_after must not be negative.");
    return false;
  }
  return true;
}

// check_hook for aegis.default_retention: empty (keep forever) or a positive
// interval.
bool CheckDefaultRetention(char** newval, void** /*extra*/, GucSource /*source*/) {
  if (*newval == nullptr || **newval == '\0') return true;
  Interval interval;
  if (!ParseInterval(*newval, &interval)) {
    GUC_check_errdetail("\"%s\" is not an interval.", *newval);
    return false;
  }
  if (interval.month < 0 || interval.day < 0 || interval.time < 0 ||
      (interval.month == 0 && interval.day == 0 && interval.time == 0)) {
    GUC_check_errdetail("aegis.default_retention must be a positive interval, or empty to keep points forever.");
    return false;
  }
  return true;
}

const config_enum_entry kPartitionIntervals[] = {
    {"hour", static_cast<int>(PartitionInterval::kHour), false},
    {"day", static_cast<int>(PartitionInterval::kDay), false},
    {"week", static_cast<int>(PartitionInterval::kWeek), false},
    {"month", static_cast<int>(PartitionInterval::kMonth), false},
    {nullptr, 0, false},
};

}  // namespace

Interval* DefaultRetention() {
  if (guc_default_retention == nullptr || *guc_default_retention == '\0') return nullptr;
  return DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(guc_default_retention),
                                               ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

core::BlockLimits BlockCutLimits() {
  core::BlockLimits limits;
  limits.max_points = static_cast<size_t>(guc_block_max_points);
  limits.max_bytes = static_cast<size_t>(guc_block_max_bytes);
  return limits;
}

size_t StraightWritePoints() {
  return std::min<size_t>(static_cast<size_t>(guc_block_max_points), kStraightWritePoints);
}

Interval* CompressAfter() {
  return DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(guc_compress_after),
                                               ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

void KeepFreedMemory() {
#if defined(__GLIBC__)
  // glibc returns freed heap memory above M_TRIM_THRESHOLD to the kernel and
  // serves blocks above M_MMAP_THRESHOLD with fresh mmaps, so every query
  // touches new pages and pays a page fault per 4 kB (measured: half of the
  // time of a 2 ms aggregate). Keeping up to aegis.memory_kept of freed
  // memory lets the next query reuse it.
  if (guc_memory_kept > 0) {
    const int bytes = guc_memory_kept >= INT_MAX / 1024 ? INT_MAX : guc_memory_kept * 1024;
    mallopt(M_TRIM_THRESHOLD, bytes);
    mallopt(M_MMAP_THRESHOLD, std::min(bytes / 4, 32 * 1024 * 1024));
  }
#endif
}

void DefineSettings() {
  DefineCustomIntVariable("aegis.block_max_points", "Largest number of points in one compressed block.",
                          "A batch write of at least 1000 points (or this many, when fewer) for one series "
                          "goes straight into compressed blocks.",
                          &guc_block_max_points, 10000, 1, static_cast<int>(core::kMaxBlockPoints), PGC_USERSET,
                          0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("aegis.block_max_bytes",
                          "Size at which a compressed block's row is cut: its summary, segment summaries and data.",
                          "The default fills a heap page with two block rows; 0 cuts blocks by "
                          "aegis.block_max_points alone.",
                          &guc_block_max_bytes, static_cast<int>(core::kDefaultBlockMaxBytes), 0, kMaxBlockRowBytes,
                          PGC_USERSET, GUC_UNIT_BYTE, CheckBlockMaxBytes, nullptr, nullptr);
  DefineCustomStringVariable("aegis.compress_after",
                             "Age after which aegis.compress() packs recent points into blocks.",
                             "Used when aegis.compress() is called without older_than.",
                             &guc_compress_after, "10 minutes", PGC_USERSET, 0, CheckCompressAfter,
                             nullptr, nullptr);
  DefineCustomStringVariable("aegis.default_retention",
                             "How long points of metrics without their own retention are kept.",
                             "Empty (the default) keeps them forever; aegis.set_retention() sets a metric's own.",
                             &guc_default_retention, "", PGC_SUSET, 0, CheckDefaultRetention, nullptr, nullptr);
  DefineCustomIntVariable("aegis.maintenance_interval", "Time between two rounds of the maintenance worker.",
                          "Takes effect on reload; the worker runs with aegis_timeseries in "
                          "shared_preload_libraries.",
                          &guc_maintenance_interval, 60, 1, INT_MAX / 1000, PGC_SIGHUP, GUC_UNIT_S, nullptr,
                          nullptr, nullptr);
  DefineCustomIntVariable("aegis.memory_kept",
                          "Freed memory each server process keeps for reuse instead of returning it to the system.",
                          "Applies to every process of the server when aegis_timeseries is in "
                          "shared_preload_libraries (else to the processes that load it); 0 leaves the C "
                          "library's defaults. Set at server start.",
                          &guc_memory_kept, 16384, 0, INT_MAX, PGC_POSTMASTER, GUC_UNIT_KB, nullptr, nullptr,
                          nullptr);
  DefineCustomBoolVariable("aegis.maintenance_worker", "Whether the background worker maintains a database.",
                           "Set per database (ALTER DATABASE ... SET aegis.maintenance_worker = off) to keep the "
                           "worker out of it and schedule aegis.run_maintenance() yourself.",
                           &guc_maintenance_worker, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomBoolVariable("aegis.aggregate_pushdown",
                           "Whether aggregates over aegis.points are computed by the engine.",
                           "With it off, PostgreSQL aggregates the points the scan returns (the same result; "
                           "sums and averages may differ in the last bits, as a parallel plan's do).",
                           &guc_aggregate_pushdown, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("aegis.packed_write_series",
                          "Number of series from which a write statement's small writes go into one packed batch.",
                          "A statement writing fewer points than a straight write (1000) to each of at least this "
                          "many series stores them as one row of aegis.packed_points instead of a row per point; "
                          "reads lay the batch over the stored points and maintenance merges it into blocks. "
                          "0 writes every point as a row.",
                          &guc_packed_write_series, 256, 0, INT_MAX, PGC_USERSET, 0, nullptr, nullptr, nullptr);
  DefineCustomEnumVariable("aegis.partition_interval", "Time span of each partition of aegis.blocks.",
                           "Partitions are aligned in UTC (weeks start on Monday); a change applies to partitions "
                           "created afterwards.",
                           &guc_partition_interval, static_cast<int>(PartitionInterval::kMonth), kPartitionIntervals,
                           PGC_SUSET, 0, nullptr, nullptr, nullptr);
  // Superuser-only: it protects the catalog from a writer that floods it with
  // tag sets, so the writer must not be able to lift it.
  DefineCustomIntVariable("aegis.max_series_per_metric", "Largest number of series one metric may have.",
                          "A write that would create one more series fails with SQLSTATE 54000. Only superusers "
                          "may change it.",
                          &guc_max_series_per_metric, 100000, 1, INT_MAX, PGC_SUSET, 0, nullptr,
                          nullptr, nullptr);
  MarkGUCPrefixReserved("aegis");
}

}  // namespace aegis::pg
