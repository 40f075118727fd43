// Prometheus-style series selectors (API.md section 3):
//
//   cpu   cpu{}   cpu{host="a", dc!="b", role=~"web.*", env!~"dev|test",}
//   {__name__=~"cpu_.*", host="a"}   {"my.metric", "my.key"="v"}
//
// Whitespace may stand between any two tokens. Metric names are
// [A-Za-z_][A-Za-z0-9_.:-]*; label names are [A-Za-z_][A-Za-z0-9_]* or a quoted
// string (Prometheus 3), and a quoted string alone inside the braces is the
// metric name. Values are "double-quoted", 'single-quoted' (both take the
// escapes \\ \" \' \a \b \f \n \r \t \v \xHH \NNN \uHHHH \UHHHHHHHH) or
// `raw`; in the value of =~ and !~ a backslash before punctuation that is no
// such escape (\- \. \(, as Grafana's ${var:regex} writes them) is kept for
// the regular expression. The metric name may be given only once: by a bare name, by a quoted
// name in the braces, or by __name__ matchers. Regexes are not checked here;
// the PostgreSQL layer compiles them and uses Matcher::position in its errors.
//
// Errors are Error(ErrorCategory::Syntax) with the message
// "syntax error in selector at character N" (N counts characters, 1-based, as
// CharacterPosition does; the end of input is one past the last character) and
// a detail "Expected ..., found ...", sometimes with a hint.
//
// \xHH and \NNN give single bytes, so a value may be invalid UTF-8: the
// PostgreSQL layer must verify values in the server encoding before use.
#pragma once
#include "cpp_only.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace aegis::core {

// How a matcher compares a label's value.
enum class MatchOp { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

// One label condition. label is "__name__" for the metric name; position is
// the 1-based character position of the matcher in the selector text (its
// label, or the metric name itself), for error messages.
struct Matcher {
  std::string label;
  MatchOp op;
  std::string value;
  size_t position;
};

// Most matchers a selector may have (each becomes a condition the planner
// must handle; a few dozen is already unusual). More is
// Error(ErrorCategory::LimitExceeded).
constexpr size_t kMaxSelectorMatchers = 1000;

// All matchers of a selector; a series matches when every matcher does.
struct Selector {
  std::vector<Matcher> matchers;
};

// Parses `metric`, `metric{}`, `metric{k="v", k!="v", k=~"re", k!~"re"}`,
// `{__name__=~"re", ...}`. A metric name given by name (bare or quoted in the
// braces) becomes a __name__ kEqual matcher, first. Throws
// Error(ErrorCategory::Syntax, ...) on malformed input.
Selector ParseSelector(std::string_view text);

// The operator's text: "=", "!=", "=~" or "!~".
const char* MatchOpText(MatchOp op);

// A canonical text of a selector that ParseSelector returned, which
// ParseSelector reads back to the same labels, operators and values (positions
// aside): `name{k="v", ...}` when the only __name__ matcher is a leading
// equality with a valid metric name, else everything inside the braces; label
// names quoted where needed, values double-quoted.
std::string FormatSelector(const Selector& selector);

// The texts a matcher's regex matches when it is an alternation of literal
// texts ("web-1|web-2", "", "a||b"): a value matches it (anchored at both
// ends, as selectors match) exactly when it equals one of them. False when
// the regex has any character with a special meaning (\ ^ $ . [ ] ( ) { } * + ?)
// besides the bars. Such a matcher can be asked as set membership, without
// running the regex engine on every series (Prometheus does the same).
bool LiteralAlternatives(std::string_view regex, std::vector<std::string>* texts);

// The literal text a regex begins with when it is that text followed by
// ".*" ("cpu_.*", "web-.*", ".*"): a value matches it (anchored at both ends,
// where "." matches any character) exactly when it starts with the text.
// False for any other regex.
bool LiteralPrefix(std::string_view regex, std::string* prefix);

}  // namespace aegis::core
