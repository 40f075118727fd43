// The aegis.* settings.
#pragma once

#include "pg/postgres_headers.h"

namespace aegis::pg {

extern int guc_block_max_points;
extern char* guc_compress_after;
extern int guc_max_series_per_metric;
extern int guc_maintenance_interval;  // seconds
extern int guc_memory_kept;           // kB
extern bool guc_maintenance_worker;
extern int guc_partition_interval;    // a PartitionInterval
extern char* guc_default_retention;   // NULL or "": keep forever
extern bool guc_aggregate_pushdown;

// aegis.partition_interval's values.
enum class PartitionInterval { kHour, kDay, kWeek, kMonth };

// Registers every aegis.* setting; called from _PG_init.
void DefineSettings();

// Applies aegis.memory_kept to the C library's allocator (once, after
// DefineSettings, in the process that loads the library).
void KeepFreedMemory();

// aegis.compress_after as an interval (validated when it was set).
Interval* CompressAfter();

// aegis.default_retention as an interval, or nullptr when it keeps forever.
Interval* DefaultRetention();

}  // namespace aegis::pg
