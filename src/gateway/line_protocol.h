// aegis-gateway: InfluxDB line protocol (1.x and 2.x writes).
//
//   measurement[,tag=value...] field=value[,field=value...] [timestamp]
//
// with InfluxDB's escaping: a backslash before ',' or ' ' in the measurement,
// before ',', '=' or ' ' in tag keys, tag values and field keys, and before
// '"' or '\' inside a string field, stands for that character; a backslash
// before anything else is itself. Each numeric or boolean field becomes a
// point of metric <measurement>_<field> (MetricName) with the line's tags;
// integers (1i), unsigned integers (1u) and booleans (t/T/true/True/TRUE and
// the f forms, as 1 and 0) become doubles. A string field is dropped (the
// line's other fields are kept); a line that does not parse is dropped whole.
// Either way the caller answers with InfluxDB's partial-write error and keeps
// the rest (docs/gateway.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/batch.h"

namespace aegis::gateway {

// Units of a line's timestamp; the value is the unit in nanoseconds.
enum class Precision : int64_t {
    kNanoseconds = 1,
    kMicroseconds = 1000,
    kMilliseconds = 1000000,
    kSeconds = 1000000000LL,
    kMinutes = 60000000000LL,
    kHours = 3600000000000LL,
};

// `precision` of InfluxDB 1.x (/write: n, ns, u, us, µ, ms, s, m, h) or 2.x
// (/api/v2/write: ns, us, ms, s); false when unknown. Empty is nanoseconds.
bool ParsePrecision(std::string_view text, bool v2, Precision *out);

struct LineProtocolOptions {
    Precision precision = Precision::kNanoseconds;
    int64_t now_unix_ns = 0;  // the time of a line without a timestamp
    // Added to every point's tags (replacing a tag of the same key) unless
    // the key is empty: the database or bucket the request names.
    std::string extra_tag_key;
    std::string extra_tag_value;
};

struct LineProtocolResult {
    struct Error {
        size_t line = 0;  // 1-based
        std::string text;
        std::string reason;
    };
    size_t lines = 0;           // lines that are neither empty nor comments
    size_t points = 0;          // points added to the batch
    size_t dropped_lines = 0;   // lines that did not parse
    size_t dropped_fields = 0;  // string fields (their lines' other fields are kept)
    std::vector<Error> errors;  // the first kMaxErrors problems

    static constexpr size_t kMaxErrors = 20;
    size_t Dropped() const { return dropped_lines + dropped_fields; }
    // InfluxDB's partial-write message: "partial write: unable to parse
    // '<line>': <reason>" per problem, then " dropped=<n>".
    std::string PartialWriteMessage() const;
};

// Where the line starting at `pos` ends (the index of its newline, or the
// body's size), as InfluxDB's scanner decides: a newline inside a string
// field value does not end a line, so an unterminated string runs to the end
// of the body.
size_t LineEnd(std::string_view body, size_t pos);

// The length of the longest prefix of `body` made of whole lines, each
// closed by its newline: where a reader of a stream may cut it.
size_t CompleteLines(std::string_view body);

// Parses every line of `body` into `out` (appending).
void ParseLineProtocol(std::string_view body, const LineProtocolOptions &options, Batch *out,
                       LineProtocolResult *result);

}  // namespace aegis::gateway
