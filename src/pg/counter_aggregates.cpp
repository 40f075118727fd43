// The SQL aggregates aegis.rate, aegis.increase and aegis.delta (value, ts)
// and their windowed overloads (value, ts, since, until).
//
// The result depends on the samples in time order, which SQL does not give
// an aggregate, so the state keeps the samples (16 bytes each) and the final
// function sorts them: the result is then independent of the input order and
// of how partial states were combined. The state is a concrete type (bytea of
// a versioned layout, like aegis.first/last) rather than `internal`, so the
// aggregates are parallel-safe and a distributed planner can move partial
// states as text (DESIGN-NOTES 2; bytea's text form round-trips exactly).
//
// Layout after the varlena header (native byte order, as every state of one
// cluster): magic 'A' 'C', version 1, flags (bit 0: a window was given),
// uint32 count, int64 since, int64 until, then `count` (int64 ts, float8
// value) pairs, then zeroed room for more (the transition appends in place
// and doubles the room when it runs out).
//
// Without a window the final functions give the change across the samples
// (core kSampleIncrease, kSampleRate, kSampleDelta: counter resets handled,
// as TimescaleDB Toolkit's counter_agg delta does); with one, Prometheus's
// extrapolated value over [since, until) (kIncrease, kRate, kDelta).
#include <algorithm>
#include <cstring>
#include <optional>

#include "core/aggregate.h"
#include "pg/boundary.h"

namespace aegis::pg {

namespace {

constexpr uint8 kVersion = 1;
constexpr uint8 kHasWindow = 1;

struct CounterHeader {
  char magic[2];
  uint8 version;
  uint8 flags;
  uint32 count;
  int64 since;
  int64 until;
};
static_assert(sizeof(CounterHeader) == 24, "the state header is 24 bytes");

struct Sample {
  int64 ts;
  double value;
};
static_assert(sizeof(Sample) == 16, "a sample is 16 bytes");

constexpr Size kHeaderSize = VARHDRSZ + sizeof(CounterHeader);
constexpr uint32 kFirstRoom = 8;
// A state never exceeds 1 GB (MaxAllocSize) with its room doubled.
constexpr uint32 kMaxSamples = (MaxAllocSize - kHeaderSize) / sizeof(Sample) / 2;

[[noreturn]] void InvalidState(const char* detail) {
  ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("invalid counter aggregate state"),
                  errdetail("%s", detail)));
}

// The header of a state, checked: a malformed state is an error, never a
// crash. Samples of a valid state lie inside it.
CounterHeader* Header(bytea* state) {
  if (VARATT_IS_EXTENDED(state)) InvalidState("The state is compressed or out of line.");
  const Size size = VARSIZE(state);
  if (size < kHeaderSize) InvalidState("The state is shorter than its header.");
  auto* header = reinterpret_cast<CounterHeader*>(VARDATA(state));
  if (header->magic[0] != 'A' || header->magic[1] != 'C' || header->version != kVersion)
    InvalidState("The state does not start with the counter state's magic and version 1.");
  if ((size - kHeaderSize) % sizeof(Sample) != 0 || header->count > (size - kHeaderSize) / sizeof(Sample))
    InvalidState("The state's sample count does not match its size.");
  if (header->flags & ~kHasWindow) InvalidState("The state has unknown flags.");
  return header;
}

Sample* Samples(bytea* state) { return reinterpret_cast<Sample*>(VARDATA(state) + sizeof(CounterHeader)); }

uint32 Room(bytea* state) { return static_cast<uint32>((VARSIZE(state) - kHeaderSize) / sizeof(Sample)); }

// A new state with room for `room` samples, in the current memory context
// (inside an aggregate, the executor copies a new transition value into its
// own context and frees the old one).
bytea* NewState(uint32 room, const CounterHeader& header) {
  if (room > kMaxSamples)
    ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED), errmsg("too many samples in one counter aggregate"),
                    errdetail("A group of aegis.rate, aegis.increase or aegis.delta keeps every sample (16 bytes) "
                              "and may hold at most %u.",
                              kMaxSamples),
                    errhint("Group by series and a time bucket, or use aegis.aggregate.")));
  const Size size = kHeaderSize + static_cast<Size>(room) * sizeof(Sample);
  auto* state = static_cast<bytea*>(palloc0(size));
  SET_VARSIZE(state, size);
  std::memcpy(VARDATA(state), &header, sizeof header);
  return state;
}

// The state to append to: the argument itself when it has room inside an
// aggregate (whose memory the aggregate owns), else a larger copy.
bytea* StateWithRoom(FunctionCallInfo fcinfo, bytea* state, uint32 more) {
  CounterHeader* header = Header(state);
  const uint64 needed = static_cast<uint64>(header->count) + more;
  if (AggCheckCallContext(fcinfo, nullptr) && needed <= Room(state)) return state;
  uint64 room = std::max<uint64>(kFirstRoom, Room(state));
  while (room < needed) room *= 2;
  // Up to the limit exactly; past it NewState refuses.
  if (room > kMaxSamples) room = std::max<uint64>(needed, kMaxSamples);
  bytea* grown = NewState(static_cast<uint32>(std::min<uint64>(room, static_cast<uint64>(kMaxSamples) + 1)), *header);
  std::memcpy(Samples(grown), Samples(state), header->count * sizeof(Sample));
  return grown;
}

CounterHeader EmptyHeader() {
  CounterHeader header{};
  header.magic[0] = 'A';
  header.magic[1] = 'C';
  header.version = kVersion;
  header.since = DT_NOBEGIN;
  header.until = DT_NOEND;
  return header;
}

// Shared transition: (state, value, ts [, since, until]) -> state. Rows with
// a NULL value or time are skipped, as are, with a window, rows outside it.
Datum Transition(FunctionCallInfo fcinfo, bool windowed) {
  bytea* state = PG_ARGISNULL(0) ? nullptr : PG_GETARG_BYTEA_P(0);
  CounterHeader window = EmptyHeader();
  if (windowed) {
    if (PG_ARGISNULL(3) || PG_ARGISNULL(4))
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("since and until must not be NULL"),
                      errhint("Use '-infinity' or 'infinity' for an open end.")));
    window.flags = kHasWindow;
    window.since = PG_GETARG_TIMESTAMPTZ(3);
    window.until = PG_GETARG_TIMESTAMPTZ(4);
    if (window.since >= window.until)
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("since must be earlier than until"),
                      errdetail("The window [since, until) is empty.")));
    if (state != nullptr) {
      const CounterHeader* header = Header(state);
      if (header->since != window.since || header->until != window.until)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("every row of a group must give the same since and until"),
                        errhint("Pass the window bounds as constants or per-group expressions.")));
    }
  }
  if (PG_ARGISNULL(1) || PG_ARGISNULL(2)) {
    if (state == nullptr) PG_RETURN_NULL();
    PG_RETURN_BYTEA_P(state);
  }
  const Sample sample{PG_GETARG_TIMESTAMPTZ(2), PG_GETARG_FLOAT8(1)};
  if (TIMESTAMP_NOT_FINITE(sample.ts))
    ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("timestamp out of range"),
                    errdetail("aegis.rate, aegis.increase and aegis.delta need finite sample times.")));
  if (windowed && (sample.ts < window.since || sample.ts >= window.until)) {
    if (state == nullptr) PG_RETURN_NULL();
    PG_RETURN_BYTEA_P(state);
  }
  if (state == nullptr) {
    if (!AggCheckCallContext(fcinfo, nullptr))
      ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                      errmsg("counter aggregate transition called outside an aggregate")));
    state = NewState(kFirstRoom, window);
  } else {
    state = StateWithRoom(fcinfo, state, 1);
  }
  CounterHeader* header = Header(state);
  Samples(state)[header->count++] = sample;
  PG_RETURN_BYTEA_P(state);
}

// Combine: the samples of both states (with the same window).
Datum Combine(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(1)) {
    if (PG_ARGISNULL(0)) PG_RETURN_NULL();
    PG_RETURN_DATUM(PG_GETARG_DATUM(0));
  }
  bytea* other = PG_GETARG_BYTEA_P(1);
  const CounterHeader other_header = *Header(other);
  if (PG_ARGISNULL(0)) {
    bytea* copy = NewState(std::max(kFirstRoom, other_header.count), other_header);
    std::memcpy(Samples(copy), Samples(other), other_header.count * sizeof(Sample));
    PG_RETURN_BYTEA_P(copy);
  }
  bytea* state = PG_GETARG_BYTEA_P(0);
  const CounterHeader* header = Header(state);
  if (header->flags != other_header.flags || header->since != other_header.since ||
      header->until != other_header.until)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("cannot combine counter aggregate states of different windows")));
  state = StateWithRoom(fcinfo, state, other_header.count);
  CounterHeader* target = Header(state);
  std::memcpy(Samples(state) + target->count, Samples(other), other_header.count * sizeof(Sample));
  target->count += other_header.count;
  PG_RETURN_BYTEA_P(state);
}

// Time, then float8 order of the value (NaN last), so that equal timestamps
// sort the same whatever order the rows came in.
bool SampleLess(const Sample& a, const Sample& b) {
  if (a.ts != b.ts) return a.ts < b.ts;
  return core::Float8Less(a.value, b.value);
}

// Shared final: the function over the sorted samples.
Datum Final(FunctionCallInfo fcinfo, core::AggregateKind windowed_kind, core::AggregateKind sample_kind) {
  if (PG_ARGISNULL(0)) PG_RETURN_NULL();
  bytea* state = PG_GETARG_BYTEA_P(0);
  const CounterHeader header = *Header(state);
  if (header.count == 0) PG_RETURN_NULL();
  // A sorted copy: the final function leaves the state as it was.
  auto* samples = static_cast<Sample*>(palloc(header.count * sizeof(Sample)));
  std::memcpy(samples, Samples(state), header.count * sizeof(Sample));
  auto* ts = static_cast<int64*>(palloc(header.count * sizeof(int64)));
  auto* values = static_cast<double*>(palloc(header.count * sizeof(double)));
  std::sort(samples, samples + header.count, SampleLess);
  for (uint32 i = 0; i < header.count; ++i) {
    ts[i] = samples[i].ts;
    values[i] = samples[i].value;
  }
  core::CounterRun run;
  run.Add(ts, values, header.count);
  const bool windowed = header.flags & kHasWindow;
  const std::optional<double> value =
      run.Value(windowed ? windowed_kind : sample_kind, header.since, header.until);
  if (!value) PG_RETURN_NULL();
  PG_RETURN_FLOAT8(*value);
}

}  // namespace

}  // namespace aegis::pg

AEGIS_PG_FUNCTION(aegis_counter_transfn) { return aegis::pg::Transition(fcinfo, false); }
AEGIS_PG_FUNCTION(aegis_counter_window_transfn) { return aegis::pg::Transition(fcinfo, true); }
AEGIS_PG_FUNCTION(aegis_counter_combinefn) { return aegis::pg::Combine(fcinfo); }
AEGIS_PG_FUNCTION(aegis_rate_finalfn) {
  return aegis::pg::Final(fcinfo, aegis::core::AggregateKind::kRate, aegis::core::AggregateKind::kSampleRate);
}
AEGIS_PG_FUNCTION(aegis_increase_finalfn) {
  return aegis::pg::Final(fcinfo, aegis::core::AggregateKind::kIncrease,
                          aegis::core::AggregateKind::kSampleIncrease);
}
AEGIS_PG_FUNCTION(aegis_delta_finalfn) {
  return aegis::pg::Final(fcinfo, aegis::core::AggregateKind::kDelta, aegis::core::AggregateKind::kSampleDelta);
}
