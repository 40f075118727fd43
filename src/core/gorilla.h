// The Gorilla XOR value coder of codec 1 (docs/block-format.md, section 5.3),
// shared with codec 2's XOR scheme (section 6.7).
#pragma once
#include "cpp_only.h"

#include <cstddef>

#include "bit_stream.h"

namespace aegis::core {

// Writes n >= 1 values: the first raw, then one XOR record per value.
void EncodeGorillaValues(BitWriter* w, const double* values, size_t n);

// Reads n >= 1 values written by EncodeGorillaValues into out[0, n). Throws
// DataCorrupted when the stream ends early or a record is malformed.
void DecodeGorillaValues(BitReader* r, double* out, size_t n);

}  // namespace aegis::core
