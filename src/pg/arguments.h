// Checks and conversions of SQL function arguments, shared by every
// SQL-callable function. Plain PostgreSQL code: call them before C++ objects
// exist (they raise directly).
#pragma once

#include <string>

#include "pg/postgres_headers.h"

namespace aegis::pg {

// Raises 22004 "<name> must not be NULL" when argument `index` is NULL.
void RequireNotNull(FunctionCallInfo fcinfo, int index, const char* name);

// Argument `index` (text, not NULL: checked with `name`) as a std::string.
std::string TextArgument(FunctionCallInfo fcinfo, int index, const char* name);

// Raises 22008 unless ts is a finite timestamp (a point's time).
void CheckPointTimestamp(TimestampTz ts);

}  // namespace aegis::pg
