// Argument checks shared by the SQL-callable functions.
#include "pg/arguments.h"

namespace aegis::pg {

void RequireNotNull(FunctionCallInfo fcinfo, int index, const char* name) {
  if (PG_ARGISNULL(index))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not be NULL", name)));
}

std::string TextArgument(FunctionCallInfo fcinfo, int index, const char* name) {
  RequireNotNull(fcinfo, index, name);
  return TextDatum(PG_GETARG_DATUM(index));
}

std::string TextDatum(Datum value) {
  text* t = DatumGetTextPP(value);
  return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

TriggerData* PointsRowTrigger(FunctionCallInfo fcinfo, const char* function, TriggerEvent event) {
  if (!CALLED_AS_TRIGGER(fcinfo))
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                    errmsg("%s() must be called as a trigger", function)));
  auto* trigger_data = reinterpret_cast<TriggerData*>(fcinfo->context);
  TupleDesc desc = trigger_data->tg_relation->rd_att;
  static const Oid column_types[] = {TEXTOID, JSONBOID, TIMESTAMPTZOID, FLOAT8OID};
  bool shape_ok = TRIGGER_FIRED_FOR_ROW(trigger_data->tg_event) && TRIGGER_FIRED_INSTEAD(trigger_data->tg_event) &&
                  (trigger_data->tg_event & TRIGGER_EVENT_OPMASK) == event && desc->natts == 4;
  for (int i = 0; shape_ok && i < 4; ++i)
    shape_ok = !TupleDescAttr(desc, i)->attisdropped && TupleDescAttr(desc, i)->atttypid == column_types[i];
  if (!shape_ok)
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                    errmsg("%s() must be an INSTEAD OF %s row trigger on aegis.points", function,
                           event == TRIGGER_EVENT_DELETE ? "DELETE" : "INSERT")));
  return trigger_data;
}

void CheckPointTimestamp(TimestampTz ts) {
  if (TIMESTAMP_NOT_FINITE(ts))
    ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("point timestamp must be finite"),
                    errdetail("Got %s.", TIMESTAMP_IS_NOBEGIN(ts) ? "-infinity" : "infinity")));
}

namespace {

// The elements of a one-dimensional array argument of `type` (length and
// alignment as deconstruct_array takes them), NULLs refused.
Datum* ArrayElements(FunctionCallInfo fcinfo, int arg, Oid type, int length, bool by_value, char align,
                     const char* name, int* n) {
  *n = 0;
  if (PG_ARGISNULL(arg)) return nullptr;
  ArrayType* array = PG_GETARG_ARRAYTYPE_P(arg);
  if (ARR_NDIM(array) > 1)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("%s must be a one-dimensional array", name)));
  Datum* datums = nullptr;
  bool* nulls = nullptr;
  deconstruct_array(array, type, length, by_value, align, &datums, &nulls, n);
  for (int i = 0; i < *n; ++i)
    if (nulls[i]) ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not contain NULL", name)));
  return datums;
}

}  // namespace

Datum* Array8Elements(FunctionCallInfo fcinfo, int arg, Oid type, const char* name, int* n) {
  return ArrayElements(fcinfo, arg, type, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, name, n);
}

Datum* Int4ArrayElements(FunctionCallInfo fcinfo, int arg, const char* name, int* n) {
  return ArrayElements(fcinfo, arg, INT4OID, 4, true, TYPALIGN_INT, name, n);
}

Datum* ByteaArrayElements(FunctionCallInfo fcinfo, int arg, const char* name, int* n) {
  return ArrayElements(fcinfo, arg, BYTEAOID, -1, false, TYPALIGN_INT, name, n);
}

BlockArrays BlockArrayArguments(FunctionCallInfo fcinfo, int blocks_arg) {
  BlockArrays rows;
  int n_counts = 0;
  rows.blocks = ByteaArrayElements(fcinfo, blocks_arg, "blocks", &rows.n);
  rows.counts = Int4ArrayElements(fcinfo, blocks_arg + 1, "counts", &n_counts);
  if (n_counts != rows.n)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("blocks and counts must have the same length")));
  return rows;
}

PointArrays PointArrayArguments(FunctionCallInfo fcinfo, int ts_arg) {
  PointArrays points;
  int n_values = 0;
  points.ts = Array8Elements(fcinfo, ts_arg, TIMESTAMPTZOID, "ts", &points.n);
  points.values = Array8Elements(fcinfo, ts_arg + 1, FLOAT8OID, "vals", &n_values);
  if (points.n != n_values)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("ts and vals must have the same length")));
  for (int i = 1; i < points.n; ++i)
    if (DatumGetTimestampTz(points.ts[i]) <= DatumGetTimestampTz(points.ts[i - 1]))
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("ts must be strictly ascending")));
  return points;
}

}  // namespace aegis::pg
