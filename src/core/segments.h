// Segment summaries: the summary of a block's points in each aligned time
// slot, kept beside the block (the `segments` column of aegis.blocks), so
// that a bucketed query whose buckets are whole slots reads them instead of
// decoding the block (DESIGN-NOTES 7, docs/block-format.md section 11).
//
// A block is cut by point count, so it rarely starts or ends on a bucket
// edge; its segments are cut where buckets are cut. The slot length (the
// span) comes from the block's point rate: the shortest of 1 minute,
// 5 minutes, 15 minutes, 1 hour, 6 hours and 1 day in which the block holds
// about kMinSegmentPoints points or more (an hour for a 10-second series,
// 6 hours for a 1-minute one). Every bucket step that is a multiple of the
// span (and aligned to the same epoch, as aegis.time_bucket's default
// origin is) contains whole segments, each answered from its summary.
#pragma once
#include "cpp_only.h"

#include <cstddef>
#include <cstdint>
#include <vector>

#include "types.h"

namespace aegis::core {

// Segment spans, in microseconds, in the order of their index in the
// encoding (section 11 of docs/block-format.md).
constexpr Timestamp kSegmentSpans[] = {60'000'000LL, 300'000'000LL, 900'000'000LL,
                                       3'600'000'000LL, 21'600'000'000LL, 86'400'000'000LL};
constexpr size_t kSegmentSpanCount = sizeof(kSegmentSpans) / sizeof(kSegmentSpans[0]);

// A block's segments hold this many points each on average, or more.
constexpr uint64_t kMinSegmentPoints = 100;

// The encoded segment summaries of a block's n points (ascending, distinct
// timestamps, as blocks hold them). Empty when segments would not help: the
// block lies in one slot of its span, it is too sparse for the longest span,
// or a timestamp lies outside PostgreSQL's timestamp range.
std::vector<uint8_t> EncodeSegments(const Timestamp* ts, const double* values, size_t n);

// The segments of a block whose summary is `block`, in time order; each is
// the summary of the block's points in one slot, as SummarizePoints would
// compute it from them. Throws Error(DataCorrupted) when the bytes are not a
// valid encoding or do not agree with the block's summary (point count,
// first and last timestamp). Never reads outside [data, data + size).
std::vector<BlockSummary> DecodeSegments(const uint8_t* data, size_t size, const BlockSummary& block);

// The span of encoded segments, read from their header without checking the
// rest (DecodeSegments does): 0 when the header is too short or names an
// unknown version or span, which DecodeSegments reports as corrupt.
Timestamp SegmentSpanOf(const uint8_t* data, size_t size);

}  // namespace aegis::core
