// Metric names and kinds (API.md section 1), and the small text helpers that
// error details use to show names and characters the same way everywhere.
#pragma once
#include "cpp_only.h"

#include <cstddef>
#include <string>
#include <string_view>

namespace aegis::core {

// Longest metric name, in bytes.
constexpr size_t kMaxMetricNameBytes = 200;

// The largest metric name plus tags of a series: a new series' jsonb tags
// with their header (src/pg/catalog.cpp), or the tags' text as a gateway
// request defines them (src/pg/write_request.cpp); the gateway drops a line
// past it as text (src/gateway/line_protocol.cpp).
constexpr size_t kMaxSeriesKeyBytes = 2600;

// Checks ^[A-Za-z_][A-Za-z0-9_.:-]*$ and at most 200 bytes; throws
// Error(InvalidParameter, "invalid metric name \"...\"", detail saying which
// character at which position, or the length).
void ValidateMetricName(std::string_view name);

// True when ValidateMetricName would accept `name`.
bool IsValidMetricName(std::string_view name);

// Why `name` is not a valid metric name, as a detail sentence; empty when it is
// valid. Positions are 1-based characters of the name.
std::string DescribeMetricNameProblem(std::string_view name);

// What a metric measures; stored and shown as MetricKindName().
enum class MetricKind { kGauge, kCounter, kHistogram, kSummary };

// Parses "gauge" | "counter" | "histogram" | "summary" (exact, lower case);
// else Error(InvalidParameter, "invalid metric kind \"x\"", "Valid kinds are
// gauge, counter, histogram and summary.").
MetricKind ParseMetricKind(std::string_view text);

// The SQL spelling of a kind: "gauge", "counter", "histogram" or "summary".
const char* MetricKindName(MetricKind kind);

// `text` in double quotes for a message; over 200 bytes it is cut on a UTF-8
// character boundary and "..." is appended inside the quotes.
std::string QuoteForMessage(std::string_view text);

// How an error detail shows the character starting at byte `offset` of
// `text`: "x" for a printable character (a whole UTF-8 sequence; '"' for the
// double quote itself), U+000A for a control character or one that prints as
// blank or nothing (no-break space, zero-width space, ...), byte 0xFF for a byte
// that does not start valid UTF-8. Sets *length (if given) to the bytes it
// spans. `offset` must be < text.size().
std::string DescribeCharacter(std::string_view text, size_t offset, size_t* length = nullptr);

// The 1-based character position of byte `offset` in `text`: each well-formed
// UTF-8 sequence counts as one character and every other byte as one.
// offset == text.size() gives the position just past the end.
size_t CharacterPosition(std::string_view text, size_t offset);

}  // namespace aegis::core
