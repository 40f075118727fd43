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

}  // namespace aegis::pg
