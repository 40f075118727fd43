// Argument checks shared by the SQL-callable functions.
#include "pg/arguments.h"

namespace aegis::pg {

void RequireNotNull(FunctionCallInfo fcinfo, int index, const char* name) {
  if (PG_ARGISNULL(index))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not be NULL", name)));
}

std::string TextArgument(FunctionCallInfo fcinfo, int index, const char* name) {
  RequireNotNull(fcinfo, index, name);
  text* t = PG_GETARG_TEXT_PP(index);
  return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

void CheckPointTimestamp(TimestampTz ts) {
  if (TIMESTAMP_NOT_FINITE(ts))
    ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("point timestamp must be finite"),
                    errdetail("Got %s.", TIMESTAMP_IS_NOBEGIN(ts) ? "-infinity" : "infinity")));
}

}  // namespace aegis::pg
