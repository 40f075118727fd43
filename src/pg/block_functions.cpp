// Pure functions of one block row, for queries over aegis.blocks: they read
// nothing but their arguments, so they run wherever the row is (a parallel
// worker, a Citus worker; DESIGN-NOTES 2 and 8).
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/aggregate.h"
#include "core/block_codec.h"
#include "core/block_cut.h"
#include "core/bucket_parts.h"
#include "core/error.h"
#include "core/float8.h"
#include "core/rollup.h"
#include "core/series_points.h"
#include "core/time_bucket.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/interval.h"
#include "pg/store.h"

// aegis._block_point_matches(series_id, data, ts[]): how many of the
// timestamps the block holds.
AEGIS_PG_FUNCTION(aegis_block_point_matches) {
  const int64 series_id = PG_GETARG_INT64(0);
  Datum data = PG_GETARG_DATUM(1);
  ArrayType* ts_array = PG_GETARG_ARRAYTYPE_P(2);
  if (ARR_NDIM(ts_array) > 1)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("ts must be a one-dimensional array")));
  Datum* ts_datums = nullptr;
  bool* ts_nulls = nullptr;
  int n = 0;
  deconstruct_array(ts_array, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &ts_datums, &ts_nulls, &n);
  std::vector<int64_t> wanted;
  wanted.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    if (!ts_nulls[i]) wanted.push_back(DatumGetTimestampTz(ts_datums[i]));
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  aegis::core::SeriesPoints points;
  try {
    aegis::pg::DecodeBlockData(series_id, data, &points);
  } catch (const aegis::core::Error& e) {
    if (e.category() != aegis::core::ErrorCategory::DataCorrupted) throw;
    // A count must not fail for one bad block (aegis.stats covers every
    // metric; drop_metric is how a corrupt series is removed): the block's
    // own count stands, possibly counting a replaced point twice.
    const std::string message = e.what();
    aegis::pg::PgCall([&] {
      ereport(WARNING, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("%s", message.c_str()),
                        errdetail("Points are counted from the block's summary.")));
    });
    PG_RETURN_INT32(0);
  }
  int32 matches = 0;
  for (int64_t ts : wanted)
    if (std::binary_search(points.ts.begin(), points.ts.end(), ts)) ++matches;
  PG_RETURN_INT32(matches);
}

namespace {

// One bucket's summary of a block's (or given) points (SummarizeInput).
struct BucketSummary {
  aegis::core::Timestamp bucket;
  aegis::core::BlockSummary summary;
  double sxx = 0;                    // the parts mode's Sxx of the points
  aegis::core::CounterRun counters;  // the parts mode's counter state of the points
  bool stored = false;               // a stored (block or segment) summary, not points
  bool overflowed = false;           // points: their sum overflowed (core::PointsSumOverflows)
  bool moments_overflowed = false;   // points: avg's float8_accum overflowed (core::PointsMomentsOverflow)
};

// Whether any of the sorted timestamps lies in [lo, hi].
bool AnyWithin(const std::vector<int64_t>& sorted, int64_t lo, int64_t hi) {
  const auto it = std::lower_bound(sorted.begin(), sorted.end(), lo);
  return it != sorted.end() && *it <= hi;
}

// What one block (or the given points) brings to the summaries per bucket:
// the arguments (series_id, data, block summary..., segments, ts[], vals[],
// excluded[], since, until, step) from argument `first` on, checked.
struct SummaryInput {
  int64 series_id = 0;
  bool has_block = false;
  Datum data = 0;
  aegis::core::BlockSummary block;
  bool has_segments = false;
  Datum segments = 0;
  aegis::core::Timestamp since = 0;
  aegis::core::Timestamp until = 0;
  const Interval* step = nullptr;
  std::optional<aegis::core::Timestamp> origin;  // the buckets' origin (nullopt: time_bucket's default)
  int given = 0;  // the given points (no block)
  Datum* ts_datums = nullptr;
  Datum* value_datums = nullptr;
  int n_excluded = 0;
  Datum* excluded_datums = nullptr;
};

// PostgreSQL code: reads and checks the arguments (ereport on bad ones).
SummaryInput SummaryArguments(FunctionCallInfo fcinfo, int first) {
  SummaryInput in;
  const auto arg = [&](int i) { return first + i; };
  in.series_id = PG_ARGISNULL(arg(0)) ? 0 : PG_GETARG_INT64(arg(0));
  in.has_block = !PG_ARGISNULL(arg(1));
  in.data = in.has_block ? PG_GETARG_DATUM(arg(1)) : 0;
  if (in.has_block) {
    for (int i = 2; i <= 9; ++i)
      if (PG_ARGISNULL(arg(i)))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("block summary must not be NULL")));
    in.block.ts_min = PG_GETARG_TIMESTAMPTZ(arg(2));
    in.block.ts_max = PG_GETARG_TIMESTAMPTZ(arg(3));
    in.block.count = static_cast<uint32_t>(PG_GETARG_INT32(arg(4)));
    in.block.min = PG_GETARG_FLOAT8(arg(5));
    in.block.max = PG_GETARG_FLOAT8(arg(6));
    in.block.sum = PG_GETARG_FLOAT8(arg(7));
    in.block.first = PG_GETARG_FLOAT8(arg(8));
    in.block.last = PG_GETARG_FLOAT8(arg(9));
  }
  in.has_segments = in.has_block && !PG_ARGISNULL(arg(10));
  in.segments = in.has_segments ? PG_GETARG_DATUM(arg(10)) : 0;
  if (PG_ARGISNULL(arg(14)) || PG_ARGISNULL(arg(15)))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("since and until must not be NULL")));
  in.since = PG_GETARG_TIMESTAMPTZ(arg(14));
  in.until = PG_GETARG_TIMESTAMPTZ(arg(15));
  in.step = PG_ARGISNULL(arg(16)) ? nullptr : PG_GETARG_INTERVAL_P(arg(16));
  // The given points (no block): two arrays of one length, ascending times.
  int n_values = 0;
  if (!in.has_block) {
    in.ts_datums = aegis::pg::Array8Elements(fcinfo, arg(11), TIMESTAMPTZOID, "ts", &in.given);
    in.value_datums = aegis::pg::Array8Elements(fcinfo, arg(12), FLOAT8OID, "vals", &n_values);
  }
  if (n_values != in.given)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("ts and vals must have the same length")));
  for (int i = 1; i < in.given; ++i)
    if (DatumGetTimestampTz(in.ts_datums[i]) <= DatumGetTimestampTz(in.ts_datums[i - 1]))
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("ts must be strictly ascending")));
  in.excluded_datums = aegis::pg::Array8Elements(fcinfo, arg(13), TIMESTAMPTZOID, "excluded", &in.n_excluded);
  return in;
}

// C++: the summary of the input's points in each bucket of [since, until)
// that holds some, leaving out the excluded times. A bucket may come in
// several rows (a segment, then decoded points); they combine as any
// summaries do. Whole blocks and segments in one bucket are answered from
// their stored summaries, without decoding, unless parts are asked for:
// then every point is decoded and each bucket's part comes with its Sxx
// (moments: stddev, variance) and its counter state (counters).
std::vector<BucketSummary> SummarizeInput(const SummaryInput& in, bool moments, bool counters) {
  const bool parts = moments || counters;
  using aegis::core::BlockSummary;
  using aegis::core::Timestamp;
  const Timestamp since = in.since;
  const Timestamp until = in.until;
  std::vector<int64_t> excluded(static_cast<size_t>(in.n_excluded));
  for (int i = 0; i < in.n_excluded; ++i) excluded[static_cast<size_t>(i)] = DatumGetTimestampTz(in.excluded_datums[i]);
  std::sort(excluded.begin(), excluded.end());
  std::optional<aegis::core::TimeBucketer> bucketer;
  if (in.step != nullptr) bucketer.emplace(aegis::pg::ToCoreInterval(in.step), in.origin);
  // The bucket of a time in [since, until): without a step, one bucket.
  const auto bucket_of = [&](Timestamp ts) { return bucketer ? bucketer->BucketStart(ts) : since; };
  // A stored summary stands for its points when they all count and lie in
  // one bucket.
  const auto whole = [&](const BlockSummary& s) {
    return !parts && s.ts_min >= since && s.ts_max < until && !AnyWithin(excluded, s.ts_min, s.ts_max) &&
           bucket_of(s.ts_min) == bucket_of(s.ts_max);
  };
  std::vector<BucketSummary> out;
  // Time ranges answered from stored summaries; the other points are decoded.
  std::vector<std::pair<Timestamp, Timestamp>> answered;
  aegis::core::SeriesPoints points;
  bool decode = false;
  if (in.has_block) {
    const BlockSummary& block = in.block;
    if (block.ts_max < since || block.ts_min >= until) {
      // Nothing in range.
    } else if (whole(block)) {
      out.push_back({bucket_of(block.ts_min), block, 0, {}, true});
    } else {
      if (in.has_segments && bucketer && !parts) {
        aegis::pg::BlockRef ref;
        ref.summary = block;
        ref.data = in.data;
        ref.series_id = in.series_id;
        ref.segments = in.segments;
        ref.has_segments = true;
        for (const BlockSummary& s : aegis::pg::DecodeStoredSegments(in.series_id, ref)) {
          if (s.count == 0 || s.ts_max < since || s.ts_min >= until) continue;
          if (whole(s)) {
            out.push_back({bucket_of(s.ts_min), s, 0, {}, true});
            answered.emplace_back(s.ts_min, s.ts_max);
          } else {
            decode = true;
          }
        }
      } else {
        decode = true;
      }
      if (decode) aegis::pg::DecodeBlockData(in.series_id, in.data, &points, {}, block.count, until, since);
    }
  } else {
    for (int i = 0; i < in.given; ++i)
      points.push_back(DatumGetTimestampTz(in.ts_datums[i]), DatumGetFloat8(in.value_datums[i]));
  }
  // The decoded or given points in range, not excluded, not answered: one
  // summary per bucket, in time order. Without exclusions or answered
  // ranges they are the points between since and until, as they are.
  aegis::core::SeriesPoints kept;
  const Timestamp* ts = nullptr;
  const double* values = nullptr;
  size_t n = 0;
  if (excluded.empty() && answered.empty()) {
    const size_t lo = aegis::core::LowerBound(points, since);
    const size_t hi = std::max(lo, aegis::core::LowerBound(points, until));
    ts = points.ts.data() + lo;
    values = points.values.data() + lo;
    n = hi - lo;
  } else {
    size_t next_answered = 0;
    for (size_t i = 0; i < points.size(); ++i) {
      const Timestamp t = points.ts[i];
      if (t < since || t >= until || std::binary_search(excluded.begin(), excluded.end(), t)) continue;
      while (next_answered < answered.size() && answered[next_answered].second < t) ++next_answered;
      if (next_answered < answered.size() && answered[next_answered].first <= t) continue;
      kept.push_back(t, points.values[i]);
    }
    ts = kept.ts.data();
    values = kept.values.data();
    n = kept.size();
  }
  for (size_t begin = 0; begin < n;) {
    const Timestamp bucket = bucket_of(ts[begin]);
    // The bucket's points run up to the next bucket's start.
    const Timestamp next = bucketer ? bucketer->NextBucketStart(bucket) : aegis::core::kTimestampInfinity;
    size_t end = begin + 1;
    while (end < n && ts[end] < next) ++end;
    if (moments) {
      // One pass gives the summary and Sxx: the same left-to-right sum,
      // float8smaller/float8larger and ends as SummarizePoints.
      const aegis::core::StepSummary run = aegis::core::SummarizeRun(ts + begin, values + begin, end - begin);
      out.push_back({bucket, aegis::core::SummaryOfStep(run), run.sxx, {}});
    } else {
      out.push_back({bucket, aegis::core::SummarizePoints(ts + begin, values + begin, end - begin), 0, {}});
    }
    if (counters) out.back().counters.Add(ts + begin, values + begin, end - begin);
    out.back().overflowed = aegis::core::PointsSumOverflows(values + begin, end - begin, out.back().summary.sum);
    // (With moments, an infinite Sxx says so.) The run's extremes show at no
    // cost whether its values are modest, which they nearly always are, and
    // then nothing overflows: the values are not walked again.
    const aegis::core::BlockSummary& run = out.back().summary;
    const bool modest = std::fabs(run.min) <= aegis::core::kModestMagnitude &&
                        std::fabs(run.max) <= aegis::core::kModestMagnitude;  // false for NaN
    if (!moments && !modest)
      out.back().moments_overflowed = aegis::core::PointsMomentsOverflow(values + begin, end - begin);
    begin = end;
  }
  return out;
}

// The transition state of aegis._bucket_parts: the parts so far, in the
// aggregate's memory context (plain data: PostgreSQL frees it with the
// context).
struct BucketPartsState {
  aegis::core::BucketPart* parts;
  size_t n;
  size_t capacity;
  int32 mode;  // aegis._bucket_parts's mode (kPartSums, kPartMoments, kPartCounters)
};

// The bits of aegis._bucket_parts's mode.
constexpr int32 kPartSums = 1;      // combine the sums (sum, avg; else left 0)
constexpr int32 kPartMoments = 2;   // parts with their Sxx (stddev, variance)
constexpr int32 kPartCounters = 4;  // parts with their counter state

}  // namespace

// aegis._bucket_parts(series_id, data, block summary..., segments, ts[],
// vals[], excluded[], since, until, step, mode, origin), an aggregate: the summary
// (count, first and last time, min, max, sum, first and last value) of the
// points of each of its rows (a series' blocks, or its recent rows given as
// ts and vals) in each bucket of [since, until) that holds some, leaving out
// the excluded times (a recent row replaces them) (SummarizeInput), the
// buckets time_bucket(step, ts, origin)'s (origin NULL: its default), packed
// into one bytea (core/bucket_parts.h): combined per bucket, or with
// kPartMoments or kPartCounters in mode, every part kept with its Sxx or
// counter state. Its transition is a pure function of each row, so Citus runs
// it on the workers, where the rows are; the coordinator's statement groups
// it by series, so each shard sends one row per series (docs/scale-out.md).
AEGIS_PG_FUNCTION(aegis_bucket_parts_transfn) {
  MemoryContext aggregate_context;
  if (!AggCheckCallContext(fcinfo, &aggregate_context))
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("aegis._bucket_parts_transfn can only be called as the transition of aegis._bucket_parts")));
  auto* state = PG_ARGISNULL(0) ? nullptr : reinterpret_cast<BucketPartsState*>(PG_GETARG_POINTER(0));
  if (state == nullptr) {
    state = static_cast<BucketPartsState*>(MemoryContextAllocZero(aggregate_context, sizeof(BucketPartsState)));
    state->mode = PG_ARGISNULL(18) ? 0 : PG_GETARG_INT32(18);
    if (state->mode < 0 || state->mode > (kPartSums | kPartMoments | kPartCounters))
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("mode must be between 0 and 7")));
  }
  SummaryInput in = SummaryArguments(fcinfo, 1);
  if (!PG_ARGISNULL(19)) in.origin = PG_GETARG_TIMESTAMPTZ(19);

  // C++ from here on: no PostgreSQL call outside PgCall.
  const std::vector<BucketSummary> rows =
      SummarizeInput(in, (state->mode & kPartMoments) != 0, (state->mode & kPartCounters) != 0);
  if (state->n + rows.size() > state->capacity) {
    const size_t capacity = std::max<size_t>(64, std::max(state->n + rows.size(), 2 * state->capacity));
    aegis::pg::PgCall([&] {
      const Size bytes = capacity * sizeof(aegis::core::BucketPart);
      state->parts = static_cast<aegis::core::BucketPart*>(
          state->parts == nullptr ? MemoryContextAllocHuge(aggregate_context, bytes) : repalloc_huge(state->parts, bytes));
    });
    state->capacity = capacity;
  }
  for (const BucketSummary& row : rows) {
    const aegis::core::BlockSummary& s = row.summary;
    aegis::core::BucketPart& part = state->parts[state->n++];
    part = {row.bucket, s.ts_min, s.ts_max, s.count, s.min, s.max, s.sum, s.first, s.last};
    part.sxx = row.sxx;
    part.resets = row.counters.resets;
    part.reset_count = row.counters.reset_count;
    part.changes = row.counters.changes;
    part.previous_ts = row.counters.previous_ts;
    part.previous = row.counters.previous;
    part.stored = row.stored;
    part.overflowed = row.overflowed;
    part.moments_overflowed = row.moments_overflowed;
  }
  PG_RETURN_POINTER(state);
}

AEGIS_PG_FUNCTION(aegis_bucket_parts_finalfn) {
  if (PG_ARGISNULL(0)) PG_RETURN_NULL();
  const auto* state = reinterpret_cast<const BucketPartsState*>(PG_GETARG_POINTER(0));

  // C++ from here on: no PostgreSQL call outside PgCall.
  std::vector<aegis::core::BucketPart> entries(state->parts, state->parts + state->n);
  const bool parts = (state->mode & (kPartMoments | kPartCounters)) != 0;
  if (!parts) entries = aegis::core::CombineBucketParts(std::move(entries), (state->mode & kPartSums) != 0);
  // Past a bytea's 1 GB the pack says so instead, and the coordinator reads
  // that series' points itself, as one node does.
  const size_t bytes = aegis::core::kBucketPartsHeader +
                       entries.size() * (parts ? aegis::core::kBucketPartFullBytes : aegis::core::kBucketPartBytes);
  const std::vector<uint8_t> packed = bytes > MaxAllocSize - VARHDRSZ ? aegis::core::PackTooLarge()
                                                                     : aegis::core::PackBucketParts(entries, parts);
  bytea* out = aegis::pg::PgCall([&] { return static_cast<bytea*>(palloc(VARHDRSZ + packed.size())); });
  SET_VARSIZE(out, VARHDRSZ + packed.size());
  memcpy(VARDATA(out), packed.data(), packed.size());
  PG_RETURN_BYTEA_P(out);
}

// aegis._merge_into_blocks(series_id, blocks bytea[], counts int[], ts[],
// vals[], bounds[], max_points, max_bytes[, drop_since, drop_until]): the
// block rows that replace a series' blocks (their data, in time order, each
// holding the point count of its row in counts) once the points (ts
// ascending, vals) are merged in, a point replacing a block point at its
// time, and the points in [drop_since, drop_until) are left out; cut as
// ReplaceBlocks cuts (at most max_points points, rows of at most max_bytes,
// with segments), and at every bound (the partitions' edges inside the
// points' range), so that no block crosses a partition. The rewrites of a
// series under Citus, on the node that holds it (src/sql/42_distribute.sql).
AEGIS_PG_FUNCTION(aegis_merge_into_blocks) {
  for (int i : {0, 6, 7})
    if (PG_ARGISNULL(i))
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                      errmsg("series_id, max_points and max_bytes must not be NULL")));
  const int64 series_id = PG_GETARG_INT64(0);
  const int32 max_points = PG_GETARG_INT32(6);
  const int32 max_bytes = PG_GETARG_INT32(7);
  if (max_points < 1 || static_cast<uint32_t>(max_points) > aegis::core::kMaxBlockPoints)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("max_points must be between 1 and %u", aegis::core::kMaxBlockPoints)));
  if (max_bytes != 0 && static_cast<size_t>(max_bytes) < aegis::core::kMinBlockMaxBytes)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("max_bytes must be 0 or at least %zu", aegis::core::kMinBlockMaxBytes)));
  int n_bounds = 0;
  const aegis::pg::BlockArrays block_rows = aegis::pg::BlockArrayArguments(fcinfo, 1);
  const int n_blocks = block_rows.n;
  Datum* blocks = block_rows.blocks;
  Datum* counts = block_rows.counts;
  const aegis::pg::PointArrays newer_rows = aegis::pg::PointArrayArguments(fcinfo, 3);
  const int n_ts = newer_rows.n;
  Datum* ts_datums = newer_rows.ts;
  Datum* value_datums = newer_rows.values;
  Datum* bound_datums = aegis::pg::Array8Elements(fcinfo, 5, TIMESTAMPTZOID, "bounds", &n_bounds);
  for (int i = 0; i < n_ts; ++i) aegis::pg::CheckPointTimestamp(DatumGetTimestampTz(ts_datums[i]));
  for (int i = 1; i < n_bounds; ++i)
    if (DatumGetTimestampTz(bound_datums[i]) <= DatumGetTimestampTz(bound_datums[i - 1]))
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("bounds must be strictly ascending")));
  // The range to leave out (deletes); none when either bound is NULL.
  const bool drop = PG_NARGS() > 9 && !PG_ARGISNULL(8) && !PG_ARGISNULL(9);
  const TimestampTz drop_since = drop ? PG_GETARG_TIMESTAMPTZ(8) : 0;
  const TimestampTz drop_until = drop ? PG_GETARG_TIMESTAMPTZ(9) : 0;
  InitMaterializedSRF(fcinfo, 0);
  auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);

  // C++ from here on: no PostgreSQL call outside PgCall.
  aegis::core::SeriesPoints base;
  for (int i = 0; i < n_blocks; ++i) {
    aegis::pg::DecodeBlockData(series_id, blocks[i], &base, {}, static_cast<uint32_t>(DatumGetInt32(counts[i])));
    aegis::pg::CheckForInterrupts();
  }
  // A series' blocks never overlap; sorting keeps the result right should
  // the caller pass them out of order.
  aegis::core::SortAndDeduplicate(&base);
  aegis::core::SeriesPoints newer;
  for (int i = 0; i < n_ts; ++i) newer.push_back(DatumGetTimestampTz(ts_datums[i]), DatumGetFloat8(value_datums[i]));
  aegis::core::SeriesPoints points = newer.empty() ? std::move(base) : aegis::core::MergeNewerWins(base, newer);
  if (drop) {
    const size_t from = aegis::core::LowerBound(points, drop_since);
    const size_t to = std::max(from, aegis::core::LowerBound(points, drop_until));
    aegis::core::SeriesPoints kept;
    kept.Append(points, 0, from);
    kept.Append(points, to, points.size());
    points = std::move(kept);
  }
  std::vector<aegis::core::Timestamp> bounds;
  for (int i = 0; i < n_bounds; ++i) bounds.push_back(DatumGetTimestampTz(bound_datums[i]));

  aegis::core::BlockLimits limits;
  limits.max_points = static_cast<size_t>(max_points);
  limits.max_bytes = static_cast<size_t>(max_bytes);
  limits.with_segments = true;
  size_t hint = 0;
  for (size_t begin = 0, n = 0; begin < points.size(); begin += n) {
    // The points before the next bound after this one's time.
    const auto bound = std::upper_bound(bounds.begin(), bounds.end(), points.ts[begin]);
    const size_t end = bound == bounds.end()
                           ? points.size()
                           : static_cast<size_t>(std::lower_bound(points.ts.begin() + static_cast<ptrdiff_t>(begin),
                                                                  points.ts.end(), *bound) -
                                                 points.ts.begin());
    const aegis::core::Timestamp* ts = points.ts.data() + begin;
    const double* values = points.values.data() + begin;
    aegis::core::CutBlock block = aegis::core::CutFirstBlock(ts, values, end - begin, limits, &hint);
    n = block.count;
    const aegis::core::BlockSummary s = aegis::core::SummarizePoints(ts, values, n);
    aegis::pg::PgCall([&] {
      bytea* data = aegis::pg::ByteaOf(block.data);
      bytea* segments = block.segments.empty() ? nullptr : aegis::pg::ByteaOf(block.segments);
      Datum row[] = {TimestampTzGetDatum(s.ts_min), TimestampTzGetDatum(s.ts_max),
                     Int32GetDatum(static_cast<int32>(s.count)), Float8GetDatum(s.min), Float8GetDatum(s.max),
                     Float8GetDatum(s.sum), Float8GetDatum(s.first), Float8GetDatum(s.last),
                     PointerGetDatum(data), PointerGetDatum(segments)};
      bool nulls[] = {false, false, false, false, false, false, false, false, false, segments == nullptr};
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
      pfree(data);
      if (segments != nullptr) pfree(segments);
    });
    aegis::pg::CheckForInterrupts();
  }
  return static_cast<Datum>(0);
}

// aegis._points_between(series_id, data, point_count, since, until,
// excluded[]): how many of the block's points lie in [since, until), and how
// many of those are not at one of the excluded times (the recent rows a
// delete removes, which shadow block points at their times): what
// aegis.delete counts of a block. A block that does not hold point_count
// points is XX001.
AEGIS_PG_FUNCTION(aegis_points_between) {
  for (int i : {0, 1, 2, 3, 4})
    if (PG_ARGISNULL(i))
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                      errmsg("series_id, data, point_count, since and until must not be NULL")));
  const int64 series_id = PG_GETARG_INT64(0);
  Datum data = PG_GETARG_DATUM(1);
  const int32 point_count = PG_GETARG_INT32(2);
  const TimestampTz since = PG_GETARG_TIMESTAMPTZ(3);
  const TimestampTz until = PG_GETARG_TIMESTAMPTZ(4);
  int n_excluded = 0;
  Datum* excluded_datums = aegis::pg::Array8Elements(fcinfo, 5, TIMESTAMPTZOID, "excluded", &n_excluded);
  TupleDesc desc = nullptr;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("aegis._points_between must return a record")));
  desc = BlessTupleDesc(desc);

  // C++ from here on: no PostgreSQL call outside PgCall.
  std::vector<int64_t> excluded;
  excluded.reserve(static_cast<size_t>(n_excluded));
  for (int i = 0; i < n_excluded; ++i) excluded.push_back(DatumGetTimestampTz(excluded_datums[i]));
  std::sort(excluded.begin(), excluded.end());
  aegis::core::SeriesPoints points;
  aegis::pg::DecodeBlockData(series_id, data, &points, {}, static_cast<uint32_t>(point_count));
  const size_t from = aegis::core::LowerBound(points, since);
  const size_t to = std::max(from, aegis::core::LowerBound(points, until));
  int32 unshadowed = 0;
  for (size_t i = from; i < to; ++i)
    if (!std::binary_search(excluded.begin(), excluded.end(), points.ts[i])) ++unshadowed;
  Datum values[] = {Int32GetDatum(static_cast<int32>(to - from)), Int32GetDatum(unshadowed)};
  bool nulls[] = {false, false};
  return aegis::pg::PgCall([&] { return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)); });
}
