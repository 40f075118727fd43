// The aegis.* settings.
#pragma once

#include "pg/postgres_headers.h"

namespace aegis::pg {

extern int guc_block_max_points;
extern char* guc_compress_after;
extern int guc_max_series_per_metric;

// Registers every aegis.* setting; called from _PG_init.
void DefineSettings();

// aegis.compress_after as an interval (validated when it was set).
Interval* CompressAfter();

}  // namespace aegis::pg
