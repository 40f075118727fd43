// Reading the stored data of many series for the engine's read paths
// (aegis.aggregate, aegis.rolling): recent rows of a run of series fetched
// with one query, blocks read through one cursor, rolled-up steps with one
// query, and each series folded into a sink in time order.
//
// A Sink has BeginSeries(), AddSeriesPoints(ts, values, n) (points of the
// current series, ascending), TryAddBlockSummary(summary) (true when the
// summary answered the block, else the block is decoded) and AddStep(step),
// as core::BucketAggregator does.
#pragma once

#include <algorithm>
#include <optional>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rollup.h"
#include "core/segments.h"
#include "core/series_points.h"
#include "core/time_bucket.h"

#include "pg/boundary.h"
#include "pg/engine_stats.h"
#include "pg/rollup.h"
#include "pg/store.h"

namespace aegis::pg {

// What a read did, for EXPLAIN ANALYZE: blocks the cursor returned, how
// each was used, and the recent rows fetched.
struct ReadStats {
  uint64_t blocks = 0;              // block rows read
  uint64_t blocks_summarized = 0;   // answered from the block's summary
  uint64_t blocks_segmented = 0;    // answered through its segment summaries
  uint64_t blocks_decoded = 0;      // decoded (their points in the range)
  uint64_t recent_rows = 0;         // recent rows fetched
};

// The block data the reads of an aggregator may leave out: with summaries
// (uses_summaries: its functions take them), blocks one bucket
// holds whole (no step) or whose segments no bucket edge cuts (fixed steps
// that are whole multiples of the segment span, with edges on its slots).
inline LeanRead LeanReadFor(bool uses_summaries, const std::optional<core::TimeBucketer>& bucketer) {
  LeanRead lean;
  if (!uses_summaries) return lean;
  if (!bucketer) {
    lean.whole_blocks = true;
    return lean;
  }
  if (!bucketer->IsRegular() || bucketer->IsMonthly()) return lean;
  const int64_t period = bucketer->PeriodMicros();
  const core::Timestamp edge = bucketer->BucketStart(0);
  for (size_t i = 0; i < core::kSegmentSpanCount; ++i) {
    const core::Timestamp span = core::kSegmentSpans[i];
    if (period % span == 0 && edge % span == 0) lean.max_span_index = static_cast<int>(i);
  }
  return lean;
}

// Series whose recent rows are fetched with one query, and whose blocks are
// read through one cursor.
constexpr size_t kSeriesPerFetch = 256;

// Folds one series' points in [since, until) into an aggregator, in time
// order: summaries for blocks that allow it, decoded points otherwise, and
// the series' recent rows between and over them (newer wins).
template <typename Sink>
class SeriesFolder {
 public:
  SeriesFolder(int64_t series_id, const core::SeriesPoints& recent, core::Timestamp since, core::Timestamp until,
               Sink* aggregator, ReadStats* stats = nullptr)
      : series_id_(series_id), recent_(recent), since_(since), until_(until), aggregator_(aggregator),
        stats_(stats != nullptr ? stats : &ignored_) {
    aggregator_->BeginSeries();
  }

  // Adds the series' rolled-up steps (before its blocks: they are older).
  void AddSteps(const std::vector<core::StepSummary>& steps) {
    for (const core::StepSummary& step : steps) aggregator_->AddStep(step);
  }

  // Adds the series' next block (blocks arrive in time order).
  void AddBlock(const BlockRef& block) {
    const core::BlockSummary& s = block.summary;
    ++stats_->blocks;
    FeedRecent(core::LowerBound(recent_, s.ts_min));
    // A recent row inside the block's range replaces or adds a point, so the
    // stored summary no longer describes the series there.
    const size_t recent_end =
        s.ts_max == core::kTimestampInfinity ? recent_.size() : core::LowerBound(recent_, s.ts_max + 1);
    if (recent_end == next_recent_ && aggregator_->TryAddBlockSummary(s)) {
      ++stats_->blocks_summarized;
      CountStat(Stat::kBlocksFromSummaries, 1);
      CountStat(Stat::kPointsFromSummaries, s.count);
      return;
    }
    if (recent_end == next_recent_ && block.has_segments && AddSegments(block)) {
      ++stats_->blocks_segmented;
      CountStat(Stat::kBlocksFromSummaries, 1);
      return;
    }
    ++stats_->blocks_decoded;
    decoded_.clear();
    const std::optional<core::ValueAnchor> anchor = AnchorFor(block);
    DecodeStoredBlock(series_id_, block, &decoded_, until_, since_, anchor ? &*anchor : nullptr);
    // Usually no recent row lies inside and the decoded points are used as
    // they are.
    core::SeriesPoints merged;
    if (recent_end != next_recent_) {
      core::SeriesPoints overlay;
      overlay.Append(recent_, next_recent_, recent_end);
      next_recent_ = recent_end;
      merged = core::MergeNewerWins(decoded_, overlay);
    }
    const core::SeriesPoints& points = merged.empty() ? decoded_ : merged;
    const size_t begin = core::LowerBound(points, since_);
    const size_t end = core::LowerBound(points, until_);
    if (end > begin) aggregator_->AddSeriesPoints(points.ts.data() + begin, points.values.data() + begin, end - begin);
    CheckForInterrupts();
  }

  // Adds the recent rows after the last block.
  void Finish() { FeedRecent(recent_.size()); }

 private:
  // Feeds recent rows [next_recent_, end) and moves past them.
  void FeedRecent(size_t end) {
    if (end > next_recent_)
      aggregator_->AddSeriesPoints(recent_.ts.data() + next_recent_, recent_.values.data() + next_recent_,
                                   end - next_recent_);
    next_recent_ = std::max(next_recent_, end);
  }

  // Adds a block with no recent row in its range through its segment
  // summaries, in time order: each segment the sink takes whole, and the
  // points of the others. Each run of segments whose points are needed
  // (neighbours, or apart by less than a quarter of the block) is decoded
  // once, from its first segment's first value (core::ValueAnchor) on: a
  // block that since_ and until_ both cut decodes its two ends, not what
  // lies between.
  // Segments outside [since_, until_) are neither added nor decoded. False,
  // having added nothing, when the segments span longer than the sink can
  // take whole.
  bool AddSegments(const BlockRef& block) {
    const std::vector<core::BlockSummary> segments =
        DecodeStoredSegments(series_id_, block, aggregator_->WidestSummary());
    if (segments.empty()) return false;
    const auto asked = [&](const core::BlockSummary& s) { return s.ts_max >= since_ && s.ts_min < until_; };
    const auto needs_points = [&](const core::BlockSummary& s) {
      return asked(s) && !aggregator_->TakesBlockSummary(s);
    };
    core::Timestamp decoded_until = core::kTimestampMinusInfinity;  // the end of the run decoded_ holds
    for (size_t i = 0; i < segments.size(); ++i) {
      const core::BlockSummary& segment = segments[i];
      if (!asked(segment)) continue;
      if (aggregator_->TryAddBlockSummary(segment)) {
        CountStat(Stat::kPointsFromSummaries, segment.count);
        continue;
      }
      // The first segment of a run: decode the run's points.
      if (segment.ts_min >= decoded_until) {
        // A run goes on over segments taken from their summaries while they
        // hold fewer points than a quarter of the block: a decode of its own
        // costs the block's checksum and timestamps again.
        size_t last_of_run = i;
        uint64_t gap = 0;
        for (size_t j = i + 1; j < segments.size() && asked(segments[j]); ++j) {
          if (needs_points(segments[j])) {
            last_of_run = j;
            gap = 0;
          } else if ((gap += segments[j].count) * 4 >= block.summary.count) {
            break;
          }
        }
        decoded_until = std::min(until_, segments[last_of_run].ts_max + 1);
        const core::ValueAnchor anchor = AnchorAt(block, segment);
        decoded_.clear();
        DecodeStoredBlock(series_id_, block, &decoded_, decoded_until, segment.ts_min, &anchor);
      }
      const size_t first = core::LowerBound(decoded_, segment.ts_min);
      const size_t last = core::LowerBound(decoded_, segment.ts_max + 1);
      // decoded_ ends before until_: a segment reaching past it is cut there.
      const size_t held = last - first;
      if (segment.ts_max < until_ ? held != segment.count : held > segment.count) ThrowSegmentMismatch(block, segment);
      const size_t begin = core::LowerBound(decoded_, std::max(segment.ts_min, since_));
      const size_t end = std::min(core::LowerBound(decoded_, until_), last);
      if (end > begin) aggregator_->AddSeriesPoints(decoded_.ts.data() + begin, decoded_.values.data() + begin, end - begin);
    }
    CheckForInterrupts();
    return true;
  }

  // The segment of a block that since_ falls in (or the last one before it),
  // as the anchor a decode of the block from since_ starts at; none when
  // since_ is in the block's first segment or the block has no segments.
  std::optional<core::ValueAnchor> AnchorFor(const BlockRef& block) const {
    if (!block.has_segments || since_ <= block.summary.ts_min) return std::nullopt;
    // The anchor's check runs to the block's end, so it saves work only
    // where until_ lies near it: at points spread evenly, where the points
    // after until_ are fewer than half those before since_ (the block
    // decode's own rule, core::DecodeBlockBetween). Elsewhere the segments
    // are not decoded for it.
    if (2 * (static_cast<__int128>(block.summary.ts_max) - until_) >=
        static_cast<__int128>(since_) - block.summary.ts_min)
      return std::nullopt;
    const std::vector<core::BlockSummary> segments = DecodeStoredSegments(series_id_, block);
    const auto after = std::upper_bound(segments.begin(), segments.end(), since_,
                                        [](core::Timestamp t, const core::BlockSummary& s) { return t < s.ts_min; });
    if (after == segments.begin() || std::prev(after) == segments.begin()) return std::nullopt;
    return AnchorAt(block, *std::prev(after));
  }

  // A decode of the block from `segment` on: its first value, checked by
  // the block's last (its catalog row's), which the segments do not supply.
  static core::ValueAnchor AnchorAt(const BlockRef& block, const core::BlockSummary& segment) {
    return core::ValueAnchor{segment.ts_min, segment.first, block.summary.ts_max, block.summary.last};
  }

  // A segment that does not hold the points the decoded block has in its
  // range: the segments column was damaged (it is not covered by the
  // block's checksum).
  [[noreturn]] void ThrowSegmentMismatch(const BlockRef& block, const core::BlockSummary& segment) const {
    throw core::Error(core::ErrorCategory::DataCorrupted,
                      "corrupt segment summaries in series " + std::to_string(series_id_),
                      "A segment of the block starting " + TimestampText(block.summary.ts_min) + " says " +
                          std::to_string(segment.count) + " points from " + TimestampText(segment.ts_min) + " to " +
                          TimestampText(segment.ts_max) + "; the block holds another number there.",
                      kSegmentsHint);
  }

  int64_t series_id_;
  const core::SeriesPoints& recent_;
  core::Timestamp since_;
  core::Timestamp until_;
  Sink* aggregator_;
  ReadStats ignored_;
  ReadStats* stats_;
  size_t next_recent_ = 0;
  core::SeriesPoints decoded_;
};

// The stored data of a run of series: their recent rows in the range, fetched
// at once, and their blocks, read through a cursor in the order the series
// are aggregated, so that only a few blocks are in memory at a time.
class SeriesData {
 public:
  // ids in the order Fold will be called for them; with_steps false reads
  // no rolled-up steps (a reader of points); with_segments reads the
  // blocks' segment summaries (for a sink that may take them).
  // lean: which blocks' data may be left out (LeanRead), when none of the
  // series has recent rows in the range (blocks under them are decoded).
  // stats, when given, counts what the read does.
  SeriesData(const std::vector<int64_t>& ids, core::Timestamp since, core::Timestamp until, uint16_t step_columns,
             bool with_steps, bool with_segments, const LeanRead& lean = {}, ReadStats* stats = nullptr)
      : stats_(stats),
        recent_(FetchRecentOfSeries(SortedIds(ids), since, until)),
        steps_(ids, since, with_steps ? until : since, step_columns),
        blocks_(ids, since, until,
                std::is_sorted(ids.begin(), ids.end()) ? BlockCursor::Order::kById : BlockCursor::Order::kAsGiven,
                with_segments, recent_.points.empty() ? lean : LeanRead{}),
        next_block_(blocks_.Next()) {}

  // Folds the next series (in the order given) into the sink.
  template <typename Sink>
  void Fold(int64_t series_id, core::Timestamp since, core::Timestamp until, Sink* aggregator) {
    FoldUntil(series_id, since, until, aggregator, [] { return false; });
  }

  // Fold, stopping after a block when stop() says so and the series has
  // points left before until: returns where they start (the block's ts_max
  // plus one: blocks of a series do not overlap, and every recent row up to
  // there went in with the block), nullopt once the series is folded whole.
  // After a stop this object is done with (its cursor is inside the series);
  // the caller reads the rest with a new one from the returned time.
  template <typename Sink, typename Stop>
  std::optional<core::Timestamp> FoldUntil(int64_t series_id, core::Timestamp since, core::Timestamp until,
                                           Sink* aggregator, Stop stop) {
    const auto recent_begin = std::lower_bound(recent_.series_ids.begin(), recent_.series_ids.end(), series_id);
    const auto recent_end = std::upper_bound(recent_begin, recent_.series_ids.end(), series_id);
    core::SeriesPoints recent;
    recent.Append(recent_.points, static_cast<size_t>(recent_begin - recent_.series_ids.begin()),
                  static_cast<size_t>(recent_end - recent_.series_ids.begin()));
    SeriesFolder<Sink> folder(series_id, recent, since, until, aggregator, stats_);
    folder.AddSteps(steps_.Steps(series_id));
    for (; next_block_ != nullptr && next_block_->series_id == series_id; next_block_ = blocks_.Next()) {
      folder.AddBlock(*next_block_);
      const core::Timestamp last = next_block_->summary.ts_max;
      if (last < until - 1 && stop()) {  // (until - 1: until may be infinity, never the minimum)
        // The recent rows after the block are read again from there.
        CountRecent(core::LowerBound(recent, last + 1));
        return last + 1;
      }
    }
    folder.Finish();
    CountRecent(recent.size());
    return std::nullopt;
  }

 private:
  // Counts n recent rows as read (those a fold used: a series left for a
  // later read is counted there).
  void CountRecent(size_t n) {
    if (stats_ != nullptr) stats_->recent_rows += n;
    CountStat(Stat::kRecentRowsRead, n);
  }

  static std::vector<int64_t> SortedIds(std::vector<int64_t> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  ReadStats* stats_;
  RecentOfSeries recent_;
  RolledUpSteps steps_;
  BlockCursor blocks_;
  const BlockRef* next_block_;
};

}  // namespace aegis::pg
