// Codec 2 ("adaptive"): the payload of a block whose codec id is 2. Timestamps
// are deltas bit-packed around a frame of reference with exceptions; values
// take whichever of eight schemes is smallest for the block (constant, raw,
// decimal, decimal with Rice-coded differences, dictionary, run-length,
// split, XOR). docs/block-format.md, section
// 6, is the specification this implements.
#pragma once
#include "cpp_only.h"

#include <cstddef>
#include <cstdint>
#include <vector>

#include "block_codec.h"
#include "types.h"

namespace aegis::core {

// Appends the codec 2 payload of n >= 1 points to `out`. The value scheme is
// chosen per block unless `forced` names one (tests and benchmarks; throws
// InvalidParameter if that scheme cannot hold the values, e.g. kConstant for
// values that differ).
void EncodePayloadV2(const Timestamp* ts, const double* values, size_t n, std::vector<uint8_t>* out,
                     const ValueScheme* forced = nullptr);

// Decodes a codec 2 payload of exactly `size` bytes holding n >= 1 points into
// ts[0, n) and values[0, n), and reports the size of each section. Throws
// DataCorrupted on anything malformed, including bytes left over; never reads
// outside [payload, payload + size).
BlockBitUsage DecodePayloadV2(const uint8_t* payload, size_t size, size_t n, Timestamp* ts, double* values);

// DecodePayloadV2 for a reader that needs only the points in [since, until)
// (timestamps rise within a block): fills ts[0, n) and, of the values, only
// values[*first, *kept), where *first and *kept count the points before
// since and before until. The payload is read and checked whole (its
// structure, not the values it does not compute), and the values outside are
// not computed, which is most of the cost of decoding them (the decimal
// schemes still sum the digit differences before since, unless an anchor at
// or before since lets decimal-rice start there: ValueAnchor).
BlockBitUsage DecodePayloadV2Between(const uint8_t* payload, size_t size, size_t n, Timestamp since,
                                     Timestamp until, Timestamp* ts, double* values, size_t* first, size_t* kept,
                                     const ValueAnchor* anchor = nullptr);

}  // namespace aegis::core
