// PostgreSQL intervals as the core's Interval.
#pragma once

#include "core/time_bucket.h"
#include "pg/postgres_headers.h"

namespace aegis::pg {

// The fields of a PostgreSQL interval, unchanged.
core::Interval ToCoreInterval(const Interval* interval);

}  // namespace aegis::pg
