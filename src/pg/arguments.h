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

// A text Datum (not NULL, maybe toasted) as a std::string.
std::string TextDatum(Datum value);

// The trigger data of an INSTEAD OF row trigger on aegis.points (metric
// text, tags jsonb, ts timestamptz, value float8) fired by event
// (TRIGGER_EVENT_INSERT or TRIGGER_EVENT_DELETE); raises 39P01 naming
// function when it is called any other way.
TriggerData* PointsRowTrigger(FunctionCallInfo fcinfo, const char* function, TriggerEvent event);

// Raises 22008 unless ts is a finite timestamp (a point's time).
void CheckPointTimestamp(TimestampTz ts);

// The elements of argument `arg`, a one-dimensional array of an 8-byte
// pass-by-value type (timestamptz[], float8[], int8[]): none when it is
// NULL; NULL elements raise 22004, more dimensions 2202E, naming it `name`.
Datum* Array8Elements(FunctionCallInfo fcinfo, int arg, Oid type, const char* name, int* n);

// Arguments ts_arg and ts_arg + 1 of a pure function over a series' points,
// ts timestamptz[] and vals float8[]: their elements (none when NULL), of
// the same number, the times strictly ascending (22023 otherwise; 2202E for
// lengths that differ).
struct PointArrays {
  Datum* ts = nullptr;
  Datum* values = nullptr;
  int n = 0;
};
PointArrays PointArrayArguments(FunctionCallInfo fcinfo, int ts_arg);

// The elements of argument `arg`, a one-dimensional int4[]: as
// Array8Elements.
Datum* Int4ArrayElements(FunctionCallInfo fcinfo, int arg, const char* name, int* n);

// The elements of argument `arg`, a one-dimensional bytea[] (blocks' data):
// none when it is NULL; NULL elements and more dimensions raise as
// Array8Elements does.
Datum* ByteaArrayElements(FunctionCallInfo fcinfo, int arg, const char* name, int* n);

// Arguments blocks_arg and blocks_arg + 1 of a pure function over a
// series' block rows, data bytea[] and point counts int4[]: their elements
// (none when NULL), of the same number (2202E otherwise).
struct BlockArrays {
  Datum* blocks = nullptr;
  Datum* counts = nullptr;
  int n = 0;
};
BlockArrays BlockArrayArguments(FunctionCallInfo fcinfo, int blocks_arg);

}  // namespace aegis::pg
