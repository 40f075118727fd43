// The aegis.first(value, ts) and aegis.last(value, ts) aggregates.
//
// The state is a concrete type (bytea of a fixed layout) rather than
// `internal`, so the aggregates are parallel-safe and a distributed planner
// can move partial states as text (docs/architecture.md, partial states).
#include <cstring>

#include "pg/boundary.h"

namespace aegis::pg {

namespace {

// State layout after the varlena header: ts (int64), value (float8),
// flags (bit 0: has a row, bit 1: value is NULL).
struct FirstLastState {
  int64 ts;
  double value;
  uint8 flags;
};
constexpr uint8 kHasRow = 1;
constexpr uint8 kValueNull = 2;
constexpr Size kStateSize = VARHDRSZ + sizeof(int64) + sizeof(double) + 1;

// Reads a state from its bytea; a malformed state is an error, never a crash.
FirstLastState ReadState(bytea* b) {
  if (VARSIZE_ANY_EXHDR(b) != kStateSize - VARHDRSZ)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("invalid first/last aggregate state"),
                    errdetail("The state has %zu bytes, expected %zu.", static_cast<size_t>(VARSIZE_ANY_EXHDR(b)),
                              static_cast<size_t>(kStateSize - VARHDRSZ))));
  FirstLastState s;
  const char* p = VARDATA_ANY(b);
  std::memcpy(&s.ts, p, sizeof s.ts);
  std::memcpy(&s.value, p + 8, sizeof s.value);
  s.flags = static_cast<uint8>(p[16]);
  return s;
}

// Writes a state into bytea b (which has kStateSize bytes).
void WriteState(bytea* b, const FirstLastState& s) {
  SET_VARSIZE(b, kStateSize);
  char* p = VARDATA(b);
  std::memcpy(p, &s.ts, sizeof s.ts);
  std::memcpy(p + 8, &s.value, sizeof s.value);
  p[16] = static_cast<char>(s.flags);
}

// A new state in the aggregate's memory context.
bytea* NewState(FunctionCallInfo fcinfo) {
  MemoryContext aggregate_context;
  if (!AggCheckCallContext(fcinfo, &aggregate_context))
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("first/last transition called outside an aggregate")));
  return static_cast<bytea*>(MemoryContextAllocZero(aggregate_context, kStateSize));
}

// The state to update: the argument itself inside an aggregate (whose
// memory the aggregate owns), a copy when called directly as a function.
bytea* WritableState(FunctionCallInfo fcinfo, bytea* state) {
  if (AggCheckCallContext(fcinfo, nullptr)) return state;
  ReadState(state);  // checks the size before copying
  bytea* copy = static_cast<bytea*>(palloc(kStateSize));
  memcpy(copy, state, kStateSize);
  return copy;
}

// Whether candidate replaces current: earlier for first, later for last.
bool Replaces(bool is_last, int64 candidate, int64 current) {
  return is_last ? candidate > current : candidate < current;
}

// Shared transition: (state, value, ts) -> state.
Datum Transition(FunctionCallInfo fcinfo, bool is_last) {
  if (PG_ARGISNULL(2)) {  // rows without a time are ignored
    if (PG_ARGISNULL(0)) PG_RETURN_NULL();
    PG_RETURN_DATUM(PG_GETARG_DATUM(0));
  }
  bytea* state = PG_ARGISNULL(0) ? NewState(fcinfo) : WritableState(fcinfo, PG_GETARG_BYTEA_P(0));
  FirstLastState s = PG_ARGISNULL(0) ? FirstLastState{0, 0, 0} : ReadState(state);
  int64 ts = PG_GETARG_TIMESTAMPTZ(2);
  if (!(s.flags & kHasRow) || Replaces(is_last, ts, s.ts)) {
    s.ts = ts;
    s.flags = kHasRow;
    if (PG_ARGISNULL(1)) {
      s.flags |= kValueNull;
      s.value = 0;
    } else {
      s.value = PG_GETARG_FLOAT8(1);
    }
    WriteState(state, s);
  }
  PG_RETURN_BYTEA_P(state);
}

// Shared combine: the earlier (first) or later (last) of two states.
Datum Combine(FunctionCallInfo fcinfo, bool is_last) {
  if (PG_ARGISNULL(1)) {
    if (PG_ARGISNULL(0)) PG_RETURN_NULL();
    PG_RETURN_DATUM(PG_GETARG_DATUM(0));
  }
  FirstLastState other = ReadState(PG_GETARG_BYTEA_PP(1));
  if (PG_ARGISNULL(0)) {
    bytea* state = NewState(fcinfo);
    WriteState(state, other);
    PG_RETURN_BYTEA_P(state);
  }
  bytea* state = WritableState(fcinfo, PG_GETARG_BYTEA_P(0));
  FirstLastState s = ReadState(state);
  if ((other.flags & kHasRow) && (!(s.flags & kHasRow) || Replaces(is_last, other.ts, s.ts))) WriteState(state, other);
  PG_RETURN_BYTEA_P(state);
}

// Shared final: the chosen value, or NULL.
Datum Final(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(0)) PG_RETURN_NULL();
  FirstLastState s = ReadState(PG_GETARG_BYTEA_PP(0));
  if (!(s.flags & kHasRow) || (s.flags & kValueNull)) PG_RETURN_NULL();
  PG_RETURN_FLOAT8(s.value);
}

}  // namespace

}  // namespace aegis::pg

AEGIS_PG_FUNCTION(aegis_first_transfn) { return aegis::pg::Transition(fcinfo, false); }
AEGIS_PG_FUNCTION(aegis_last_transfn) { return aegis::pg::Transition(fcinfo, true); }
AEGIS_PG_FUNCTION(aegis_first_combinefn) { return aegis::pg::Combine(fcinfo, false); }
AEGIS_PG_FUNCTION(aegis_last_combinefn) { return aegis::pg::Combine(fcinfo, true); }
AEGIS_PG_FUNCTION(aegis_first_last_finalfn) { return aegis::pg::Final(fcinfo); }
