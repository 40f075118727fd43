// aegis-gateway load --format openmetrics: the OpenMetrics text format (as
// `promtool tsdb create-blocks-from openmetrics` reads it) into a Batch.
//
//   # TYPE name type / # HELP name text / # UNIT name unit   (metadata, kept)
//   name{label="value",...} value [timestamp]                (a sample)
//   # EOF
//
// Label values take the escapes \\ \" \n; values are floats, NaN, +Inf, -Inf;
// timestamps are seconds since the Unix epoch with an optional fraction
// (kept to the microsecond). A sample without a timestamp gets `now`. Other
// comment lines and empty lines are skipped; a line that does not parse is
// dropped and reported, the rest kept.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gateway/batch.h"
#include "gateway/line_protocol.h"

namespace aegis::gateway {

// Parses `text` (whole lines) into `out`; metadata into `metadata` (kind in
// the extension's words: counter, gauge, histogram, summary; others empty).
// Problems are counted in result->dropped_lines and listed in errors.
void ParseOpenMetrics(std::string_view text, int64_t now_unix_us, Batch *out, std::vector<MetricMetadata> *metadata,
                      LineProtocolResult *result);

}  // namespace aegis::gateway
