// Storage of one series' points: recent rows (aegis.recent_points) and
// compressed blocks (aegis.blocks). Every function here needs an open SPI
// connection and is called from C++; PostgreSQL errors arrive as PgError.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/block_codec.h"
#include "core/block_cut.h"
#include "core/series_points.h"
#include "core/types.h"
#include "pg/postgres_headers.h"

namespace aegis::pg {

// One stored block: its summary and its (possibly toasted) data, which stays
// valid until the FetchedBlocks it came from is released.
struct BlockRef {
  core::BlockSummary summary;
  Datum data;
  int64_t series_id = 0;
  // The segment summaries (core/segments.h), when the query read them and
  // the block has them.
  Datum segments = 0;
  bool has_segments = false;
  // False when the cursor left the data out (LeanRead); DecodeStoredBlock
  // then reads it by the block's key.
  bool has_data = true;
};

// Blocks fetched by one query, in time order.
struct FetchedBlocks {
  std::vector<BlockRef> blocks;
  SPITupleTable* table = nullptr;
};

// Blocks of the series that overlap [lo, hi] (both inclusive), in time order.
// With latest, read with a fresh snapshot (after a lock) instead of the
// statement's.
FetchedBlocks FetchBlocks(int64_t series_id, core::Timestamp lo, core::Timestamp hi, bool latest = false);

// Recent points of several series with lo <= ts < hi, ordered by series id,
// then time: series_ids[i] is the series of points.ts[i].
struct RecentOfSeries {
  std::vector<int64_t> series_ids;
  core::SeriesPoints points;
};
RecentOfSeries FetchRecentOfSeries(const std::vector<int64_t>& series_ids, core::Timestamp lo, core::Timestamp hi);

// Which blocks' data a BlockCursor may leave out, for a reader that answers
// them from summaries: blocks inside [since, until) that one bucket holds
// whole (whole_blocks: there is one bucket, [since, until)), or whose
// segments span at most kSegmentSpans[max_span_index] (spans the buckets
// never cut). A block the reader must decode after all (recent rows in its
// range, a damaged segment) has its data read by its key.
struct LeanRead {
  bool whole_blocks = false;
  int max_span_index = -1;
  bool enabled() const { return whole_blocks || max_span_index >= 0; }
};

// Where a BlockCursor's batch of rows comes in from the executor (store.cpp).
struct BlockBatchReceiver {
  DestReceiver pub;  // first: the executor sees a DestReceiver
  BlockRef* rows;
  uint64 n;
  uint64 capacity;
  uint64 bytes;          // of the data and segments copied
  MemoryContext memory;  // the batch's data and segments
};

struct DirectBlockScan;  // store.cpp

// The blocks of a set of series that hold points in [since, until), in
// (series id, time) order, read through a cursor a few rows at a time, so
// memory stays bounded however many blocks there are.
class BlockCursor {
 public:
  // kById: blocks in (series id, time) order; kAsGiven: the series in the
  // order of series_ids, each in time order. with_segments: read the blocks'
  // segment summaries too (BlockRef::segments).
  enum class Order { kById, kAsGiven };
  // lean: see LeanRead (kById only; ignored otherwise). Where it can, the
  // cursor reads the one partition of aegis.blocks that holds the range's
  // blocks rather than aegis.blocks (ChooseSource in store.cpp).
  BlockCursor(const std::vector<int64_t>& series_ids, core::Timestamp since, core::Timestamp until,
              Order order = Order::kById, bool with_segments = false, const LeanRead& lean = {});
  ~BlockCursor();
  BlockCursor(const BlockCursor&) = delete;
  BlockCursor& operator=(const BlockCursor&) = delete;

  // The next block, or nullptr at the end. Valid until the next call (its
  // data and segments until the cursor fetches the next batch).
  const BlockRef* Next();

 private:
  void PrepareBatch();

  Portal portal_ = nullptr;
  DirectBlockScan* direct_ = nullptr;  // reading one partition's key directly (store.cpp)
  MemoryContext batch_memory_ = nullptr;
  std::vector<BlockRef> batch_;
  BlockBatchReceiver receiver_{};
  long fetch_count_ = 16;  // rows the next fetch asks for: few at first (store.cpp)
  uint64 rows_ = 0;
  uint64 next_row_ = 0;
  bool done_ = false;
  bool failed_ = false;  // an ERROR inside the cursor's own calls
};

// Frees the rows behind fetched (success path only).
void Release(FetchedBlocks* fetched);

// The hint of every error about a block's damaged segment summaries.
inline constexpr char kSegmentsHint[] =
    "Rewrite the block (aegis.compress after a write into its range), or remove it with aegis.delete_series().";

// Decodes a stored block and appends its points in [since, until) to out (a
// reader that needs no others leaves the values outside uncomputed where the
// codec can, from `anchor` on when one is given: core::ValueAnchor). A
// corrupt block is an ERROR (XX001) naming the series and the block's time
// range.
void DecodeStoredBlock(int64_t series_id, const BlockRef& block, core::SeriesPoints* out,
                       core::Timestamp until = core::kTimestampInfinity,
                       core::Timestamp since = core::kTimestampMinusInfinity,
                       const core::ValueAnchor* anchor = nullptr);

// Decodes block data (a bytea Datum, maybe toasted) of a series and appends
// its points in [since, until) to out. A corrupt block is an ERROR (XX001) naming
// the series and, when range is given, the time range it returns; a non-zero
// expected_count must equal the points the block holds.
void DecodeBlockData(int64_t series_id, Datum data, core::SeriesPoints* out,
                     const std::function<std::string()>& range = {}, uint32_t expected_count = 0,
                     core::Timestamp until = core::kTimestampInfinity,
                     core::Timestamp since = core::kTimestampMinusInfinity,
                     const core::ValueAnchor* anchor = nullptr);

// The segment summaries of a stored block (core/segments.h), in time order;
// none when it has none, or when their span is longer than widest_use (a
// reader that could take none of them whole: they are not decoded). Corrupt
// ones are an ERROR (XX001) naming the series and the block's time range.
std::vector<core::BlockSummary> DecodeStoredSegments(int64_t series_id, const BlockRef& block,
                                                     core::Timestamp widest_use = core::kTimestampInfinity);

// Whether aegis.blocks has the segments column (a 0.1.0 database has not).
bool SegmentsColumnExists();

// The limits blocks are cut at in this database: the settings'
// (BlockCutLimits), or for a 0.1.0 database (one table, no segments, no
// toast_tuple_target) by point count alone, at most 1000, as 0.1.0 cut them.
core::BlockLimits StoredBlockLimits();

// A palloc'd bytea of bytes (a PostgreSQL call: inside PgCall).
bytea* ByteaOf(const std::vector<uint8_t>& bytes);

// Recent points of the series with lo <= ts < hi, in time order.
core::SeriesPoints FetchRecent(int64_t series_id, core::Timestamp lo, core::Timestamp hi);

// Removes and returns the recent points of the series with lo <= ts < hi.
core::SeriesPoints TakeRecent(int64_t series_id, core::Timestamp lo, core::Timestamp hi);

// Inserts or replaces recent points (time-ordered, duplicate-free).
void UpsertRecent(int64_t series_id, const core::SeriesPoints& points);

// UpsertRecent for many series (distinct ids, each one's points
// time-ordered and duplicate-free) in a few statements instead of one per
// series: a remote-write request holds one point of each of thousands of
// series.
void UpsertRecentMany(const std::vector<std::pair<int64_t, const core::SeriesPoints*>>& writes);

// Merges newer (time-ordered, duplicate-free) into the series' blocks: the
// blocks it overlaps (and a preceding block that is not full) are decoded,
// merged with newer winning at equal timestamps, re-cut as ReplaceBlocks cuts
// and written back in place of the old ones. With
// absorb_recent, recent rows inside newer's time range are folded in too (as
// an older layer than newer), so that no recent row is left older than a
// block point. Returns the number of blocks written.
// Under Citus: runs a statement that calls one of the functions Citus
// delegates to the node that holds a series' shards (aegis._compress_on_shard,
// aegis._repack_on_shard, aegis._delete_on_shard: they rewrite the series'
// blocks there) and returns its first column, the points it took; notes the
// spans of the blocks it wrote (its second and third columns, their starts
// and ends) as InsertBlock does. With failure, its fourth column (the error
// that left the series as it was), when not NULL, goes there, and its fifth
// (the error's SQLSTATE) into *failure_state. read_row, when given, is
// called with the result row while it is alive (PostgreSQL code: it may
// copy the other columns it wants).
int64_t RewriteOnShard(SPIPlanPtr* slot, const char* sql, int nargs, const Oid* types, Datum* values,
                       std::string* failure = nullptr, int* failure_state = nullptr,
                       const std::function<void(HeapTuple, TupleDesc)>& read_row = {});

size_t MergeIntoBlocks(int64_t series_id, const core::SeriesPoints& newer, bool absorb_recent);

// Deletes the series' blocks that start at block_starts and writes points
// (time-ordered, duplicate-free) as blocks cut at aegis.block_max_points and
// aegis.block_max_bytes (core/block_cut.h) and at partition boundaries
// instead. The caller holds the rewrite lock. Returns the blocks written.
size_t ReplaceBlocks(int64_t series_id, const std::vector<core::Timestamp>& block_starts,
                     const core::SeriesPoints& points);

// Merges a run of the series' blocks (those starting at block_starts, all in
// one partition, decoded into points): writes points as blocks cut as
// ReplaceBlocks cuts them in place of the run, but only when that takes
// fewer blocks than the run had, so that a run never gets rewritten into as
// many blocks round after round. Returns the blocks written (0: left alone).
// The caller holds the rewrite lock.
size_t RepackBlocks(int64_t series_id, const std::vector<core::Timestamp>& block_starts,
                    const core::SeriesPoints& points);

// Takes the transaction-level lock that serialises rewrites of one series'
// blocks (re-entrant; held to the end of the transaction).
void LockSeriesForRewrite(int64_t series_id);

// Removes the series' points with since <= ts < until, recent and in blocks
// (rewriting the blocks that held some), and returns how many aegis.read
// returned. Takes the series' rewrite lock; the caller holds its row
// (SeriesLock::kRewrite).
int64_t DeletePointsOfSeries(int64_t series_id, core::Timestamp since, core::Timestamp until);

// Deletes the point a row of aegis.points shows (metric text, tags jsonb,
// ts timestamptz: values[0..2]): its recent row and the block point under
// it, as aegis.delete does for a one-microsecond range. False when there was
// no such point (or a column is NULL). Opens its own SPI connection.
bool DeletePointRow(const Datum* values, const bool* nulls);

// The same lock without waiting: false when another transaction holds it.
bool TryLockSeriesForRewrite(int64_t series_id);

// False in a database still at 0.1.0, which has no aegis.last_points.
bool LastPointsExist();

// The newest point a write stored of a series.
struct WrittenNewest {
  int64_t series_id;
  TimestampTz ts;
  double value;
};

// Notes series the transaction wrote, with the newest point written of
// each: just before it commits, their newest points go into
// aegis.last_points (unless a stored one is newer).
void NoteSeriesWritten(const std::vector<WrittenNewest>& written);

// Something other than a write removed points or series in this
// transaction: the commit reads the newest points of every series written
// so far back from storage instead of taking them as written.
void ForgetWrittenValues();

// Registers the commit callback behind NoteSeriesWritten; from _PG_init.
void InitLastPoints();

// The series this transaction wrote so far (ascending, once each): their
// aegis.last_points rows are brought up to date only as it commits.
std::vector<int64_t> SeriesWrittenInTransaction();

// The newest point (ts, value) of each of the series (ids ascending) that
// has one: from aegis.last_points, and for the series this transaction wrote
// from their stored data. C++ code, inside an SPI connection.
std::unordered_map<int64_t, std::pair<TimestampTz, double>> NewestPoints(const std::vector<int64_t>& ids);

// Recomputes aegis.last_points for series whose points were removed.
void RefreshLastPoints(const std::vector<int64_t>& series_ids);

// The same for the series of an int8[] (PostgreSQL code, inside an SPI
// connection).
void RefreshLastPointsOf(Datum ids);

// A statement giving (series_id, ts, value), the newest point of each series
// in $1 (int8[]), ascending: its newest recent row, else its newest block's
// last point (a recent row wins a tie). Under Citus in the form it pushes
// down to the shards.
const char* NewestPointsQuery();

// A palloc'd int8[] or timestamptz[] (element_type) of 64-bit values.
// PostgreSQL code: call inside PgCall.
Datum Int64Array(const int64_t* values, size_t n, Oid element_type);

// Formats a timestamp for messages.
std::string TimestampText(core::Timestamp ts);

}  // namespace aegis::pg
