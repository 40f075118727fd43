// The aegis.* settings.
#pragma once

#include "pg/postgres_headers.h"

namespace aegis::core {
struct BlockLimits;  // core/block_cut.h, which callers of BlockCutLimits include
}  // namespace aegis::core

namespace aegis::pg {

extern int guc_block_max_points;
extern int guc_block_max_bytes;  // 0: blocks cut by point count alone
extern char* guc_compress_after;
extern int guc_max_series_per_metric;
extern int guc_maintenance_interval;  // seconds
extern int guc_memory_kept;           // kB
extern bool guc_maintenance_worker;
extern int guc_partition_interval;    // a PartitionInterval
extern char* guc_default_retention;   // NULL or "": keep forever
extern bool guc_aggregate_pushdown;
extern int guc_packed_write_series;  // 0: never

// The largest row aegis.block_max_bytes may ask for: a heap page's
// (MaxHeapTupleSize, the block partitions' toast_tuple_target).
constexpr int kMaxBlockRowBytes = 8160;

// The limits blocks are cut at (core/block_cut.h), from the settings.
core::BlockLimits BlockCutLimits();

// A write of this many points of one series goes straight into blocks (or
// of aegis.block_max_points, when that is fewer: StraightWritePoints).
constexpr size_t kStraightWritePoints = 1000;
size_t StraightWritePoints();

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
