// Tests of the Prometheus-style selector parser: every grammar form, every
// escape, every error with its exact text and position, and randomized
// round trips and garbage input.
#include "core/selector.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "core/names.h"

namespace aegis::core {
namespace {

using M = std::tuple<std::string, MatchOp, std::string, size_t>;
using Ms = std::vector<M>;

constexpr MatchOp kEq = MatchOp::kEqual;
constexpr MatchOp kNe = MatchOp::kNotEqual;
constexpr MatchOp kRe = MatchOp::kRegexMatch;
constexpr MatchOp kNre = MatchOp::kRegexNoMatch;

const std::string kOps = "\"=\", \"!=\", \"=~\" or \"!~\"";
const std::string kOpsOrEnd = "\"=\", \"!=\", \"=~\", \"!~\", \",\" or \"}\"";
const std::string kNamePattern = "metric names must match ^[A-Za-z_][A-Za-z0-9_.:-]*$.";
const std::string kEscapeHint =
    "Valid escapes are \\\\, \\\", \\', \\a, \\b, \\f, \\n, \\r, \\t, \\v, \\xHH, \\NNN (octal), \\uHHHH and "
    "\\UHHHHHHHH; backtick strings take none. In the value of =~ and !~, a backslash before punctuation "
    "is kept for the regular expression (Grafana's ${var:regex}).";

// The matchers of a parsed selector as comparable tuples.
Ms Parsed(std::string_view text) {
  Ms out;
  for (const Matcher& m : ParseSelector(text).matchers) out.emplace_back(m.label, m.op, m.value, m.position);
  return out;
}

// The matchers without positions, for round trips.
std::vector<std::tuple<std::string, MatchOp, std::string>> WithoutPositions(const Selector& selector) {
  std::vector<std::tuple<std::string, MatchOp, std::string>> out;
  for (const Matcher& m : selector.matchers) out.emplace_back(m.label, m.op, m.value);
  return out;
}

// Expects ParseSelector(text) to fail with a syntax error at `character` with
// exactly this detail and hint.
void ExpectSyntaxError(std::string_view text, size_t character, const std::string& detail,
                       const std::string& hint) {
  try {
    ParseSelector(text);
    ADD_FAILURE() << "parsed without error";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::Syntax);
    EXPECT_EQ(std::string(e.what()), "syntax error in selector at character " + std::to_string(character));
    EXPECT_EQ(e.detail(), detail);
    EXPECT_EQ(e.hint(), hint);
  }
}

#define EXPECT_SYNTAX_ERROR(text, character, detail) \
  do {                                               \
    SCOPED_TRACE(text);                              \
    ExpectSyntaxError(text, character, detail, "");  \
  } while (false)

#define EXPECT_SYNTAX_ERROR_HINT(text, character, detail, hint) \
  do {                                                          \
    SCOPED_TRACE(text);                                         \
    ExpectSyntaxError(text, character, detail, hint);           \
  } while (false)

// ---------------------------------------------------------------- grammar forms

TEST(SelectorParseTest, BareMetricName) { EXPECT_EQ(Parsed("cpu"), (Ms{{"__name__", kEq, "cpu", 1}})); }

TEST(SelectorParseTest, BareMetricNameWithEmptyBraces) {
  EXPECT_EQ(Parsed("cpu{}"), (Ms{{"__name__", kEq, "cpu", 1}}));
  EXPECT_EQ(Parsed("cpu { }"), (Ms{{"__name__", kEq, "cpu", 1}}));
}

TEST(SelectorParseTest, MetricNameCharset) {
  EXPECT_EQ(Parsed("_a.b:c-d_9"), (Ms{{"__name__", kEq, "_a.b:c-d_9", 1}}));
  EXPECT_EQ(Parsed("http.server.duration{}"), (Ms{{"__name__", kEq, "http.server.duration", 1}}));
  EXPECT_EQ(Parsed("job:rate5m-x"), (Ms{{"__name__", kEq, "job:rate5m-x", 1}}));
}

TEST(SelectorParseTest, MetricNameOfMaxBytes) {
  const std::string name(kMaxMetricNameBytes, 'm');
  EXPECT_EQ(Parsed(name), (Ms{{"__name__", kEq, name, 1}}));
}

TEST(SelectorParseTest, EqualityMatcher) {
  EXPECT_EQ(Parsed("cpu{host=\"web-1\"}"), (Ms{{"__name__", kEq, "cpu", 1}, {"host", kEq, "web-1", 5}}));
}

TEST(SelectorParseTest, AllFourOperators) {
  EXPECT_EQ(Parsed("cpu{a=\"1\",b!=\"2\",c=~\"3\",d!~\"4\"}"),
            (Ms{{"__name__", kEq, "cpu", 1},
                {"a", kEq, "1", 5},
                {"b", kNe, "2", 11},
                {"c", kRe, "3", 18},
                {"d", kNre, "4", 25}}));
}

TEST(SelectorParseTest, MatchersWithoutMetricName) {
  EXPECT_EQ(Parsed("{host=\"a\"}"), (Ms{{"host", kEq, "a", 2}}));
  EXPECT_EQ(Parsed("{host!=\"a\", dc=~\"eu.*\"}"), (Ms{{"host", kNe, "a", 2}, {"dc", kRe, "eu.*", 13}}));
}

TEST(SelectorParseTest, NameRegexMatcher) {
  EXPECT_EQ(Parsed("{__name__=~\"cpu_.*\"}"), (Ms{{"__name__", kRe, "cpu_.*", 2}}));
}

TEST(SelectorParseTest, NameEqualityMatcherStaysInPlace) {
  EXPECT_EQ(Parsed("{host=\"a\", __name__=\"cpu\"}"), (Ms{{"host", kEq, "a", 2}, {"__name__", kEq, "cpu", 12}}));
}

TEST(SelectorParseTest, SeveralNameMatchers) {
  EXPECT_EQ(Parsed("{__name__=~\"cpu.*\", __name__!=\"cpu_idle\"}"),
            (Ms{{"__name__", kRe, "cpu.*", 2}, {"__name__", kNe, "cpu_idle", 21}}));
}

TEST(SelectorParseTest, QuotedMetricNameInBraces) {
  EXPECT_EQ(Parsed("{\"my.metric\"}"), (Ms{{"__name__", kEq, "my.metric", 2}}));
  EXPECT_EQ(Parsed("{'my.metric'}"), (Ms{{"__name__", kEq, "my.metric", 2}}));
  EXPECT_EQ(Parsed("{`my.metric`}"), (Ms{{"__name__", kEq, "my.metric", 2}}));
}

TEST(SelectorParseTest, QuotedMetricNameMovesFirst) {
  EXPECT_EQ(Parsed("{host=\"a\", \"my.metric\", dc=\"b\"}"),
            (Ms{{"__name__", kEq, "my.metric", 12}, {"host", kEq, "a", 2}, {"dc", kEq, "b", 25}}));
}

TEST(SelectorParseTest, QuotedLabelNames) {
  EXPECT_EQ(Parsed("{\"my.metric\", \"my.key\"=\"v\", 'k-2'!=\"w\", `k 3`=~\"x\"}"),
            (Ms{{"__name__", kEq, "my.metric", 2},
                {"my.key", kEq, "v", 15},
                {"k-2", kNe, "w", 29},
                {"k 3", kRe, "x", 41}}));
}

TEST(SelectorParseTest, QuotedPlainLabelIsTheSameLabel) {
  EXPECT_EQ(Parsed("cpu{\"host\"=\"a\"}"), (Ms{{"__name__", kEq, "cpu", 1}, {"host", kEq, "a", 5}}));
  EXPECT_EQ(Parsed("{\"__name__\"=\"cpu\"}"), (Ms{{"__name__", kEq, "cpu", 2}}));
}

TEST(SelectorParseTest, QuotedLabelWithEscapes) {
  EXPECT_EQ(Parsed("{\"a\\\"b\\u00e9\"=\"v\"}"), (Ms{{"a\"b\xC3\xA9", kEq, "v", 2}}));
}

TEST(SelectorParseTest, SingleQuotedValues) {
  EXPECT_EQ(Parsed("cpu{host='web \"1\"'}"), (Ms{{"__name__", kEq, "cpu", 1}, {"host", kEq, "web \"1\"", 5}}));
}

TEST(SelectorParseTest, BacktickValuesAreRaw) {
  EXPECT_EQ(Parsed("cpu{re=~`\\d+\\.\\w \"x\" 'y'`}"),
            (Ms{{"__name__", kEq, "cpu", 1}, {"re", kRe, "\\d+\\.\\w \"x\" 'y'", 5}}));
  EXPECT_EQ(Parsed("{a=`line1\nline2`}"), (Ms{{"a", kEq, "line1\nline2", 2}}));
  EXPECT_EQ(Parsed("{a=`\\`}"), (Ms{{"a", kEq, "\\", 2}}));
}

TEST(SelectorParseTest, EmptyValues) {
  EXPECT_EQ(Parsed("{a=\"\", b!='', c=~``}"), (Ms{{"a", kEq, "", 2}, {"b", kNe, "", 8}, {"c", kRe, "", 15}}));
}

TEST(SelectorParseTest, RawNewlineAndUtf8InsideStrings) {
  EXPECT_EQ(Parsed("{a=\"x\ny\", b=\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"}"),
            (Ms{{"a", kEq, "x\ny", 2}, {"b", kEq, "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 11}}));
}

TEST(SelectorParseTest, TrailingComma) {
  EXPECT_EQ(Parsed("cpu{host=\"a\",}"), (Ms{{"__name__", kEq, "cpu", 1}, {"host", kEq, "a", 5}}));
  EXPECT_EQ(Parsed("{host=\"a\" , }"), (Ms{{"host", kEq, "a", 2}}));
  EXPECT_EQ(Parsed("{\"my.metric\",}"), (Ms{{"__name__", kEq, "my.metric", 2}}));
}

TEST(SelectorParseTest, WhitespaceEverywhere) {
  EXPECT_EQ(Parsed(" \t\n\r\f\vcpu \t{ \n host \r= \f\"a\" \v, dc\n!=\n'b'\t,\t} \n"),
            (Ms{{"__name__", kEq, "cpu", 7}, {"host", kEq, "a", 16}, {"dc", kNe, "b", 32}}));
}

TEST(SelectorParseTest, NoWhitespace) {
  EXPECT_EQ(Parsed("cpu{a=\"1\",b!~\"2\"}"),
            (Ms{{"__name__", kEq, "cpu", 1}, {"a", kEq, "1", 5}, {"b", kNre, "2", 11}}));
}

TEST(SelectorParseTest, WhitespaceAroundOperators) {
  EXPECT_EQ(Parsed("{a =~ \"1\", b\t!~\t\"2\"}"), (Ms{{"a", kRe, "1", 2}, {"b", kNre, "2", 12}}));
}

TEST(SelectorParseTest, PositionsCountCharactersNotBytes) {
  // "é" is two bytes but one character; "😀" four bytes, one character.
  EXPECT_EQ(Parsed("{\"\xC3\xA9\"=\"\xF0\x9F\x98\x80\", host=\"a\"}"),
            (Ms{{"\xC3\xA9", kEq, "\xF0\x9F\x98\x80", 2}, {"host", kEq, "a", 11}}));
}

TEST(SelectorParseTest, ManyMatchers) {
  std::string text = "cpu{";
  Ms expected{{"__name__", kEq, "cpu", 1}};
  for (int i = 0; i < static_cast<int>(kMaxSelectorMatchers); ++i) {
    const std::string label = "k" + std::to_string(i);
    expected.emplace_back(label, kNe, std::to_string(i), text.size() + 1);
    text += label + "!=\"" + std::to_string(i) + "\",";
  }
  text += "}";
  EXPECT_EQ(Parsed(text), expected);
}

TEST(SelectorParseTest, MatchOpText) {
  EXPECT_STREQ(MatchOpText(kEq), "=");
  EXPECT_STREQ(MatchOpText(kNe), "!=");
  EXPECT_STREQ(MatchOpText(kRe), "=~");
  EXPECT_STREQ(MatchOpText(kNre), "!~");
}

// ---------------------------------------------------------------- escapes

TEST(SelectorEscapeTest, NamedEscapesInDoubleQuotes) {
  EXPECT_EQ(Parsed("{a=\"\\\\ \\\" \\' \\n \\t \\r \\a \\b \\f \\v\"}"),
            (Ms{{"a", kEq, "\\ \" ' \n \t \r \a \b \f \v", 2}}));
}

TEST(SelectorEscapeTest, NamedEscapesInSingleQuotes) {
  EXPECT_EQ(Parsed("{a='\\\\ \\\" \\' \\n \\t \\r \\a \\b \\f \\v'}"),
            (Ms{{"a", kEq, "\\ \" ' \n \t \r \a \b \f \v", 2}}));
}

TEST(SelectorEscapeTest, HexEscapes) {
  EXPECT_EQ(Parsed("{a=\"\\x41\\x7a\\x7A\\xff\\xFF\"}"), (Ms{{"a", kEq, "Azz\xFF\xFF", 2}}));
}

TEST(SelectorEscapeTest, OctalEscapes) {
  EXPECT_EQ(Parsed("{a=\"\\101\\012\\377\\001\"}"), (Ms{{"a", kEq, "A\n\xFF\x01", 2}}));
}

TEST(SelectorEscapeTest, UnicodeEscapesEncodeUtf8) {
  EXPECT_EQ(Parsed("{a=\"\\u0041\\u00e9\\u20AC\\uFFFF\"}"), (Ms{{"a", kEq, "A\xC3\xA9\xE2\x82\xAC\xEF\xBF\xBF", 2}}));
  EXPECT_EQ(Parsed("{a='\\U0001F600\\U0010FFFF\\U00000041'}"),
            (Ms{{"a", kEq, "\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF" "A", 2}}));
}

TEST(SelectorEscapeTest, EscapesFollowedByDigits) {
  // Each escape takes exactly its number of digits.
  EXPECT_EQ(Parsed("{a=\"\\x411\\1011\\u00411\"}"), (Ms{{"a", kEq, "A1A1A1", 2}}));
}

TEST(SelectorEscapeTest, EscapesInMetricNameAndLabel) {
  EXPECT_EQ(Parsed("{\"my\\x2emetric\", \"k\\u002Ey\"=\"v\"}"),
            (Ms{{"__name__", kEq, "my.metric", 2}, {"k.y", kEq, "v", 18}}));
}

// ---------------------------------------------------------------- errors

TEST(SelectorErrorTest, EmptyText) {
  EXPECT_SYNTAX_ERROR("", 1, "Expected a metric name or \"{\", found end of input.");
}

TEST(SelectorErrorTest, WhitespaceOnlyText) {
  EXPECT_SYNTAX_ERROR("  \t\n", 5, "Expected a metric name or \"{\", found end of input.");
}

TEST(SelectorErrorTest, EmptyBracesWithoutMetric) {
  EXPECT_SYNTAX_ERROR("{}", 2, "Expected a metric name or a matcher inside the braces, found \"}\".");
  EXPECT_SYNTAX_ERROR(" { \n } ", 6, "Expected a metric name or a matcher inside the braces, found \"}\".");
}

TEST(SelectorErrorTest, MetricNameAndNameMatcher) {
  EXPECT_SYNTAX_ERROR("foo{__name__=\"bar\"}", 5,
                      "Expected the metric name only once, found a \"__name__\" matcher after \"foo\".");
  EXPECT_SYNTAX_ERROR("foo{host=\"a\", __name__=~\"b.*\"}", 15,
                      "Expected the metric name only once, found a \"__name__\" matcher after \"foo\".");
  EXPECT_SYNTAX_ERROR("{\"foo\", \"__name__\"!=\"x\"}", 9,
                      "Expected the metric name only once, found a \"__name__\" matcher after \"foo\".");
}

TEST(SelectorErrorTest, MetricNameGivenTwice) {
  EXPECT_SYNTAX_ERROR("foo{\"bar\"}", 5, "Expected the metric name only once, found \"bar\" after \"foo\".");
  EXPECT_SYNTAX_ERROR("{\"a\", \"b\"}", 7, "Expected the metric name only once, found \"b\" after \"a\".");
  EXPECT_SYNTAX_ERROR("{\"a\", \"a\"}", 7, "Expected the metric name only once, found \"a\" after \"a\".");
  EXPECT_SYNTAX_ERROR("{__name__=\"x\", \"foo\"}", 16,
                      "Expected the metric name only once, found \"foo\" after a \"__name__\" matcher.");
}

TEST(SelectorErrorTest, UnterminatedStrings) {
  EXPECT_SYNTAX_ERROR("cpu{h=\"abc", 7, "Expected a closing '\"' for the string, found end of input.");
  EXPECT_SYNTAX_ERROR("cpu{h='abc}", 7, "Expected a closing \"'\" for the string, found end of input.");
  EXPECT_SYNTAX_ERROR("cpu{h=`abc\\}", 7, "Expected a closing \"`\" for the string, found end of input.");
  EXPECT_SYNTAX_ERROR("{\"my.metric", 2, "Expected a closing '\"' for the string, found end of input.");
}

TEST(SelectorErrorTest, UnterminatedInsideEscape) {
  EXPECT_SYNTAX_ERROR("{a=\"x\\", 4, "Expected a closing '\"' for the string, found end of input.");
  EXPECT_SYNTAX_ERROR("{a=\"\\x4", 4, "Expected a closing '\"' for the string, found end of input.");
  EXPECT_SYNTAX_ERROR("{a='\\U0001", 4, "Expected a closing \"'\" for the string, found end of input.");
}

TEST(SelectorErrorTest, QuoteClosedByOtherKindIsNotClosed) {
  EXPECT_SYNTAX_ERROR("{a=\"x'}", 4, "Expected a closing '\"' for the string, found end of input.");
}

TEST(SelectorErrorTest, UnknownEscapes) {
  EXPECT_SYNTAX_ERROR_HINT("cpu{h=\"a\\q\"}", 9, "Expected an escape sequence after \"\\\", found \"q\".", kEscapeHint);
  EXPECT_SYNTAX_ERROR_HINT("{h='\\`'}", 5, "Expected an escape sequence after \"\\\", found \"`\".", kEscapeHint);
  EXPECT_SYNTAX_ERROR_HINT("{h=\"\\8\"}", 5, "Expected an escape sequence after \"\\\", found \"8\".", kEscapeHint);
  EXPECT_SYNTAX_ERROR_HINT("{h=\"\\ \"}", 5, "Expected an escape sequence after \"\\\", found \" \".", kEscapeHint);
  EXPECT_SYNTAX_ERROR_HINT("{h=\"\\\xC3\xA9\"}", 5, "Expected an escape sequence after \"\\\", found \"\xC3\xA9\".",
                           kEscapeHint);
}

TEST(SelectorParseTest, RegexValuesKeepBackslashBeforePunctuation) {
  // Grafana's ${var:regex} of app-001 and app.002: (app\-001|app\.002).
  EXPECT_EQ(Parsed("{h=~\"(app\\-001|app\\.002)\"}"), (Ms{{"h", kRe, "(app\\-001|app\\.002)", 2}}));
  EXPECT_EQ(Parsed("{h!~'a\\(b\\)'}"), (Ms{{"h", kNre, "a\\(b\\)", 2}}));
  // The string's own escapes still apply; letters and other matchers are not kept.
  EXPECT_EQ(Parsed("{h=~\"a\\\\b\\tc\"}"), (Ms{{"h", kRe, "a\\b\tc", 2}}));
  EXPECT_SYNTAX_ERROR_HINT("{h=\"a\\-b\"}", 6, "Expected an escape sequence after \"\\\", found \"-\".", kEscapeHint);
  EXPECT_SYNTAX_ERROR_HINT("{h=~\"a\\qb\"}", 7, "Expected an escape sequence after \"\\\", found \"q\".", kEscapeHint);
}

TEST(SelectorErrorTest, BadHexDigits) {
  EXPECT_SYNTAX_ERROR("cpu{h=\"\\x4g\"}", 8, "Expected 2 hexadecimal digits after \"\\x\", found \"g\".");
  EXPECT_SYNTAX_ERROR("{h=\"\\x\"}", 5, "Expected 2 hexadecimal digits after \"\\x\", found '\"'.");
  EXPECT_SYNTAX_ERROR("{h=\"\\u12\"}", 5, "Expected 4 hexadecimal digits after \"\\u\", found '\"'.");
  EXPECT_SYNTAX_ERROR("{h=\"\\U0001F60\"}", 5, "Expected 8 hexadecimal digits after \"\\U\", found '\"'.");
  EXPECT_SYNTAX_ERROR("{h=\"\\u+041\"}", 5, "Expected 4 hexadecimal digits after \"\\u\", found \"+\".");
}

TEST(SelectorErrorTest, BadOctalEscapes) {
  EXPECT_SYNTAX_ERROR("{h=\"\\19\"}", 5, "Expected 3 octal digits after \"\\\", found \"9\".");
  EXPECT_SYNTAX_ERROR("{h=\"\\1\"}", 5, "Expected 3 octal digits after \"\\\", found '\"'.");
  EXPECT_SYNTAX_ERROR("{h=\"\\400\"}", 5, "Expected an octal escape no greater than \\377, found \"\\400\".");
  EXPECT_SYNTAX_ERROR("{h=\"ab\\777\"}", 7, "Expected an octal escape no greater than \\377, found \"\\777\".");
}

TEST(SelectorErrorTest, BadUnicodeCodePoints) {
  const std::string detail = "Expected a Unicode code point up to U+10FFFF and outside U+D800 to U+DFFF, found ";
  EXPECT_SYNTAX_ERROR("cpu{h=\"\\uD800\"}", 8, detail + "\"\\uD800\".");
  EXPECT_SYNTAX_ERROR("{h=\"\\udfff\"}", 5, detail + "\"\\udfff\".");
  EXPECT_SYNTAX_ERROR("{h=\"\\U00110000\"}", 5, detail + "\"\\U00110000\".");
  EXPECT_SYNTAX_ERROR("{h=\"\\UFFFFFFFF\"}", 5, detail + "\"\\UFFFFFFFF\".");
}

TEST(SelectorErrorTest, EscapedNulBytes) {
  EXPECT_SYNTAX_ERROR("cpu{h=\"\\x00\"}", 8, "Expected a string without NUL bytes, found \"\\x00\".");
  EXPECT_SYNTAX_ERROR("{h='\\000'}", 5, "Expected a string without NUL bytes, found \"\\000\".");
  EXPECT_SYNTAX_ERROR("{h=\"\\u0000\"}", 5, "Expected a string without NUL bytes, found \"\\u0000\".");
  EXPECT_SYNTAX_ERROR("{\"\\U00000000\"=\"x\"}", 3, "Expected a string without NUL bytes, found \"\\U00000000\".");
}

TEST(SelectorErrorTest, RawNulBytes) {
  EXPECT_SYNTAX_ERROR(std::string_view("{h=\"a\0\"}", 8), 6, "Expected a string without NUL bytes, found U+0000.");
  EXPECT_SYNTAX_ERROR(std::string_view("{h=`\0`}", 7), 5, "Expected a string without NUL bytes, found U+0000.");
  EXPECT_SYNTAX_ERROR(std::string_view("cpu\0", 4), 4,
                      "Expected \"{\" or end of input after metric name \"cpu\", found U+0000.");
}

TEST(SelectorErrorTest, MissingOperator) {
  EXPECT_SYNTAX_ERROR("cpu{host~\"a\"}", 9, "Expected " + kOps + " after label \"host\", found \"~\".");
  EXPECT_SYNTAX_ERROR("cpu{host \"a\"}", 10, "Expected " + kOps + " after label \"host\", found '\"'.");
  EXPECT_SYNTAX_ERROR("cpu{host! =\"a\"}", 9, "Expected " + kOps + " after label \"host\", found \"!\".");
  EXPECT_SYNTAX_ERROR("cpu{host", 9, "Expected " + kOps + " after label \"host\", found end of input.");
}

TEST(SelectorErrorTest, UnquotedMetricNameInBraces) {
  EXPECT_SYNTAX_ERROR_HINT("{cpu}", 5, "Expected " + kOps + " after label \"cpu\", found \"}\".",
                           "A metric name inside the braces must be quoted, as in {\"cpu\"}.");
  EXPECT_SYNTAX_ERROR_HINT("{cpu, host=\"a\"}", 5, "Expected " + kOps + " after label \"cpu\", found \",\".",
                           "A metric name inside the braces must be quoted, as in {\"cpu\"}.");
}

TEST(SelectorErrorTest, UnquotedLabelWithMetricNameCharacters) {
  const std::string hint =
      "Label names other than [A-Za-z_][A-Za-z0-9_]* must be quoted, as in {\"my.key\"=\"value\"}.";
  EXPECT_SYNTAX_ERROR_HINT("cpu{my.key=\"v\"}", 7, "Expected " + kOps + " after label \"my\", found \".\".", hint);
  EXPECT_SYNTAX_ERROR_HINT("{a:b=\"v\"}", 3, "Expected " + kOps + " after label \"a\", found \":\".", hint);
  EXPECT_SYNTAX_ERROR_HINT("{a-b=\"v\"}", 3, "Expected " + kOps + " after label \"a\", found \"-\".", hint);
  EXPECT_SYNTAX_ERROR_HINT("{h\xC3\xA9=\"v\"}", 3, "Expected " + kOps + " after label \"h\", found \"\xC3\xA9\".",
                           hint);
}

TEST(SelectorErrorTest, QuotedLabelWithoutOperator) {
  EXPECT_SYNTAX_ERROR("cpu{\"k\" \"v\"}", 9,
                      "Expected " + kOpsOrEnd + " after the quoted name \"k\", found '\"'.");
  EXPECT_SYNTAX_ERROR("{\"k\"", 5,
                      "Expected " + kOpsOrEnd + " after the quoted name \"k\", found end of input.");
}

TEST(SelectorErrorTest, MissingOrUnquotedValue) {
  EXPECT_SYNTAX_ERROR("cpu{h=a}", 7, "Expected a quoted string as the value of label \"h\", found \"a\".");
  EXPECT_SYNTAX_ERROR("cpu{h=}", 7, "Expected a quoted string as the value of label \"h\", found \"}\".");
  EXPECT_SYNTAX_ERROR("cpu{h==\"a\"}", 7, "Expected a quoted string as the value of label \"h\", found \"=\".");
  EXPECT_SYNTAX_ERROR("cpu{h!=", 8, "Expected a quoted string as the value of label \"h\", found end of input.");
  EXPECT_SYNTAX_ERROR("{\"my.key\"=~ 5}", 13,
                      "Expected a quoted string as the value of label \"my.key\", found \"5\".");
}

TEST(SelectorErrorTest, MissingComma) {
  EXPECT_SYNTAX_ERROR("cpu{h=\"a\" g=\"b\"}", 11,
                      "Expected \",\" or \"}\" after the value of label \"h\", found \"g\".");
  EXPECT_SYNTAX_ERROR("cpu{h=\"a\" \"b\"}", 11,
                      "Expected \",\" or \"}\" after the value of label \"h\", found '\"'.");
}

TEST(SelectorErrorTest, UnclosedBraces) {
  EXPECT_SYNTAX_ERROR("cpu{", 5, "Expected a label name, a quoted metric name or \"}\", found end of input.");
  EXPECT_SYNTAX_ERROR("cpu{h=\"a\"", 10, "Expected \",\" or \"}\" after the value of label \"h\", found end of input.");
  EXPECT_SYNTAX_ERROR("cpu{h=\"a\",", 11, "Expected a label name, a quoted metric name or \"}\", found end of input.");
  EXPECT_SYNTAX_ERROR("{\"m\"", 5,
                      "Expected " + kOpsOrEnd + " after the quoted name \"m\", found end of input.");
  EXPECT_SYNTAX_ERROR("{\"m\",", 6, "Expected a label name, a quoted metric name or \"}\", found end of input.");
}

TEST(SelectorErrorTest, StrayCommas) {
  EXPECT_SYNTAX_ERROR("cpu{,}", 5, "Expected a label name, a quoted metric name or \"}\", found \",\".");
  EXPECT_SYNTAX_ERROR("cpu{a=\"b\",,}", 11, "Expected a label name, a quoted metric name or \"}\", found \",\".");
  EXPECT_SYNTAX_ERROR("{,}", 2, "Expected a label name, a quoted metric name or \"}\", found \",\".");
}

TEST(SelectorErrorTest, BadLabelStart) {
  EXPECT_SYNTAX_ERROR("cpu{9a=\"b\"}", 5, "Expected a label name, a quoted metric name or \"}\", found \"9\".");
  EXPECT_SYNTAX_ERROR("{\xC3\xA9=\"x\"}", 2,
                      "Expected a label name, a quoted metric name or \"}\", found \"\xC3\xA9\".");
  EXPECT_SYNTAX_ERROR("{{}", 2, "Expected a label name, a quoted metric name or \"}\", found \"{\".");
}

TEST(SelectorErrorTest, EmptyLabelName) {
  EXPECT_SYNTAX_ERROR("cpu{\"\"=\"x\"}", 5, "Expected a label name, found an empty string.");
  EXPECT_SYNTAX_ERROR("{``!~\"x\"}", 2, "Expected a label name, found an empty string.");
}

TEST(SelectorErrorTest, JunkAfterClosingBrace) {
  EXPECT_SYNTAX_ERROR("cpu{}x", 6, "Expected end of input after \"}\", found \"x\".");
  EXPECT_SYNTAX_ERROR("cpu{} {}", 7, "Expected end of input after \"}\", found \"{\".");
  EXPECT_SYNTAX_ERROR("{h=\"a\"}}", 8, "Expected end of input after \"}\", found \"}\".");
  EXPECT_SYNTAX_ERROR("{h=\"a\"} \x01", 9, "Expected end of input after \"}\", found U+0001.");
}

TEST(SelectorErrorTest, JunkAfterMetricName) {
  EXPECT_SYNTAX_ERROR("cpu usage", 5, "Expected \"{\" or end of input after metric name \"cpu\", found \"u\".");
  EXPECT_SYNTAX_ERROR("cpu$", 4, "Expected \"{\" or end of input after metric name \"cpu\", found \"$\".");
  EXPECT_SYNTAX_ERROR("cpu\xFF", 4, "Expected \"{\" or end of input after metric name \"cpu\", found byte 0xFF.");
  // A no-break space pasted from a web page is not whitespace, and says so.
  EXPECT_SYNTAX_ERROR("cpu\xC2\xA0{}", 4,
                      "Expected \"{\" or end of input after metric name \"cpu\", found U+00A0.");
  EXPECT_SYNTAX_ERROR("cpu}", 4, "Expected \"{\" or end of input after metric name \"cpu\", found \"}\".");
}

TEST(SelectorErrorTest, BadMetricNameStart) {
  EXPECT_SYNTAX_ERROR("9cpu", 1, "Expected a metric name or \"{\", found \"9\".");
  EXPECT_SYNTAX_ERROR(" .cpu", 2, "Expected a metric name or \"{\", found \".\".");
  EXPECT_SYNTAX_ERROR("\xC3\xA9t\xC3\xA9", 1, "Expected a metric name or \"{\", found \"\xC3\xA9\".");
  EXPECT_SYNTAX_ERROR("}", 1, "Expected a metric name or \"{\", found \"}\".");
}

TEST(SelectorErrorTest, QuotedMetricNameOutsideBraces) {
  const std::string hint = "A quoted metric name goes inside the braces, as in {\"my.metric\"}.";
  EXPECT_SYNTAX_ERROR_HINT("\"cpu\"", 1, "Expected a metric name or \"{\", found '\"'.", hint);
  EXPECT_SYNTAX_ERROR_HINT("'cpu'", 1, "Expected a metric name or \"{\", found \"'\".", hint);
}

TEST(SelectorErrorTest, InvalidQuotedMetricName) {
  EXPECT_SYNTAX_ERROR("{\"a b\"}", 2,
                      "Expected a valid metric name, found \"a b\". Character \" \" at position 2 of the name is not "
                      "allowed; " + kNamePattern);
  EXPECT_SYNTAX_ERROR("{host=\"x\", \"9x\"}", 12,
                      "Expected a valid metric name, found \"9x\". Character \"9\" cannot start a metric name; " +
                          kNamePattern);
  EXPECT_SYNTAX_ERROR("{\"\"}", 2, "Expected a valid metric name, found \"\". Metric names cannot be empty.");
}

TEST(SelectorErrorTest, InvalidNameEqualityValue) {
  EXPECT_SYNTAX_ERROR("{__name__=\"9x\"}", 11,
                      "Expected a valid metric name, found \"9x\". Character \"9\" cannot start a metric name; " +
                          kNamePattern);
  EXPECT_SYNTAX_ERROR("{__name__ = 'a\\tb'}", 13,
                      "Expected a valid metric name, found \"a\tb\". Character U+0009 at position 2 of the name is "
                      "not allowed; " + kNamePattern);
  // Other operators take any value: a regex, or a name that cannot exist.
  EXPECT_EQ(Parsed("{__name__!=\"a b\"}"), (Ms{{"__name__", kNe, "a b", 2}}));
}

TEST(SelectorErrorTest, MetricNameTooLong) {
  const std::string name(kMaxMetricNameBytes + 1, 'm');
  const std::string detail = "Expected a valid metric name, found \"" + std::string(200, 'm') +
                             "...\". Metric names are at most 200 bytes long; this one is 201 bytes.";
  EXPECT_SYNTAX_ERROR(name, 1, detail);
  EXPECT_SYNTAX_ERROR("  " + name + "{}", 3, detail);
  EXPECT_SYNTAX_ERROR("{\"" + name + "\"}", 2, detail);
  EXPECT_SYNTAX_ERROR("{__name__=\"" + name + "\"}", 11, detail);
}

TEST(SelectorErrorTest, PositionsCountCharacters) {
  // Byte offset 13, character 10: two 2-byte characters and one 3-byte one come before.
  EXPECT_SYNTAX_ERROR("{\"\xC3\xA9\xC3\xA9\"=\"\xE2\x82\xAC\", h~}", 13,
                      "Expected " + kOps + " after label \"h\", found \"~\".");
  EXPECT_SYNTAX_ERROR("{\"\xC3\xA9\"=\"\xC3\xBC\"", 9,
                      "Expected \",\" or \"}\" after the value of label \"\xC3\xA9\", found end of input.");
  // Bytes that are not UTF-8 count one each.
  EXPECT_SYNTAX_ERROR("{a=\"\xFF\xFE\" b}", 9, "Expected \",\" or \"}\" after the value of label \"a\", found \"b\".");
}

TEST(SelectorErrorTest, LongLabelsAreCutInDetails) {
  const std::string label(300, 'k');
  EXPECT_SYNTAX_ERROR("{" + label + "~\"x\"}", 302,
                      "Expected " + kOps + " after label \"" + std::string(200, 'k') + "...\", found \"~\".");
}

// ---------------------------------------------------------------- formatting

TEST(SelectorFormatTest, CanonicalText) {
  EXPECT_EQ(FormatSelector(ParseSelector(" cpu { host = 'a' , dc!~`e\\u` , } ")), "cpu{host=\"a\", dc!~\"e\\\\u\"}");
  EXPECT_EQ(FormatSelector(ParseSelector("cpu{}")), "cpu");
  EXPECT_EQ(FormatSelector(ParseSelector("{\"my.metric\", \"my.key\"='v\\n\"\\x01\\x7f\xC3\xA9'}")),
            "my.metric{\"my.key\"=\"v\\n\\\"\\x01\\x7f\xC3\xA9\"}");
  EXPECT_EQ(FormatSelector(ParseSelector("{__name__=~\"c.*\", h=\"\"}")), "{__name__=~\"c.*\", h=\"\"}");
  EXPECT_EQ(FormatSelector(ParseSelector("{__name__=\"a\", __name__=\"b\"}")), "{__name__=\"a\", __name__=\"b\"}");
  EXPECT_EQ(FormatSelector(ParseSelector("{h=\"x\", __name__=\"cpu\"}")), "{h=\"x\", __name__=\"cpu\"}");
}

// ---------------------------------------------------------------- randomized

// Random selectors drawn from the grammar, rendered with random quoting,
// escaping and whitespace, together with the matchers they must parse to.
class RandomSelectorWriter {
 public:
  struct Case {
    std::string text;
    Ms expected;
  };

  explicit RandomSelectorWriter(uint32_t seed) : rng_(seed) {}

  // Draws one selector.
  Case Next() {
    struct Item {
      size_t offset;
      std::string label;
      MatchOp op;
      std::string value;
      bool is_metric_name;
    };
    const size_t form = Pick(4);  // 0 no metric name, 1 bare, 2 quoted in braces, 3 __name__ matchers
    size_t count = Pick(5);
    if (form != 1 && count == 0) count = 1;
    std::string text = Space();
    std::vector<Item> items;
    Ms expected;
    if (form == 1) {
      const std::string name = MetricName();
      items.push_back({text.size(), "__name__", kEq, name, true});
      text += name;
    }
    const size_t quoted_name_at = form == 2 ? Pick(count + 1) : count + 1;
    const size_t name_matcher_at = form == 3 ? Pick(count) : count + 1;
    const bool braces = form != 1 || count > 0 || Chance(50);
    if (braces) {
      text += Space() + "{";
      const size_t total = count + (form == 2 ? 1 : 0);
      for (size_t i = 0, matcher = 0; i < total; ++i) {
        text += Space();
        if (i == quoted_name_at) {
          const std::string name = MetricName();
          items.push_back({text.size(), "__name__", kEq, name, true});
          text += Render(Units(name));
        } else {
          const bool name_label = form == 3 && (matcher == name_matcher_at || Chance(20));
          const MatchOp op = static_cast<MatchOp>(Pick(4));
          const std::string label = name_label ? "__name__" : Label();
          std::vector<Unit> value = name_label && op == kEq ? Units(MetricName()) : RandomUnits(0);
          items.push_back({text.size(), label, op, Bytes(value), false});
          text += RenderLabel(label) + Space() + MatchOpText(op) + Space() + Render(value);
          ++matcher;
        }
        text += Space();
        if (i + 1 < total || Chance(30)) text += "," + Space();
      }
      text += "}";
    }
    text += Space();
    for (const Item& item : items) {
      if (item.is_metric_name) {
        expected.emplace_back(item.label, item.op, item.value, CharacterPosition(text, item.offset));
      }
    }
    for (const Item& item : items) {
      if (!item.is_metric_name) {
        expected.emplace_back(item.label, item.op, item.value, CharacterPosition(text, item.offset));
      }
    }
    return {text, expected};
  }

  // A random index below n.
  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

 private:
  // A piece of a string: a code point, or a lone byte written as itself or an escape.
  struct Unit {
    uint32_t code;
    bool raw_byte;
  };

  bool Chance(size_t percent) { return Pick(100) < percent; }

  // Usually nothing, sometimes a little whitespace of every kind.
  std::string Space() {
    static const char kSpaces[] = " \t\n\r\f\v";
    std::string out;
    if (Chance(60)) return out;
    for (size_t n = 1 + Pick(3); n > 0; --n) out.push_back(kSpaces[Pick(6)]);
    return out;
  }

  // A valid metric name.
  std::string MetricName() {
    static const std::string kStart = "ABCXYZabcxyz_";
    static const std::string kRest = "ABCXYZabcxyz_0189.:-";
    std::string out(1, kStart[Pick(kStart.size())]);
    for (size_t n = Pick(12); n > 0; --n) out.push_back(kRest[Pick(kRest.size())]);
    return out;
  }

  // A label name other than __name__: plain, or any text that must be quoted.
  std::string Label() {
    while (true) {
      std::string label;
      if (Chance(60)) {
        static const std::string kStart = "ABCXYZabcxyz_";
        static const std::string kRest = "ABCXYZabcxyz_0189";
        label.push_back(kStart[Pick(kStart.size())]);
        for (size_t n = Pick(10); n > 0; --n) label.push_back(kRest[Pick(kRest.size())]);
      } else {
        label = Bytes(RandomUnits(1));
      }
      if (label != "__name__") return label;
    }
  }

  // Writes a label plain when it can be and sometimes quoted anyway.
  std::string RenderLabel(const std::string& label) {
    bool plain = !label.empty() && !(label[0] >= '0' && label[0] <= '9');
    for (char c : label) {
      plain = plain && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
    }
    if (plain && Chance(70)) return label;
    std::vector<Unit> units;
    for (char c : label) {
      const auto byte = static_cast<unsigned char>(c);
      units.push_back({byte, byte >= 0x80});
    }
    return Render(units);
  }

  // The units of an ASCII text.
  static std::vector<Unit> Units(const std::string& text) {
    std::vector<Unit> units;
    for (char c : text) units.push_back({static_cast<unsigned char>(c), false});
    return units;
  }

  // Random string contents without NUL: ASCII, controls, quotes, backslashes,
  // all planes of Unicode and stray bytes.
  std::vector<Unit> RandomUnits(size_t min_length) {
    std::vector<Unit> units;
    for (size_t n = min_length + Pick(8); n > 0; --n) {
      switch (Pick(6)) {
        case 0:
          units.push_back({static_cast<uint32_t>(std::string("\"'`\\ ,{}=!~")[Pick(11)]), false});
          break;
        case 1:
          units.push_back({static_cast<uint32_t>(1 + Pick(0x7F)), false});
          break;
        case 2:
          units.push_back({static_cast<uint32_t>(0x80 + Pick(0x780)), false});
          break;
        case 3: {
          uint32_t code = static_cast<uint32_t>(0x800 + Pick(0x10000 - 0x800 - 0x800));
          if (code >= 0xD800) code += 0x800;  // skip surrogates
          units.push_back({code, false});
          break;
        }
        case 4:
          units.push_back({static_cast<uint32_t>(0x10000 + Pick(0x100000)), false});
          break;
        default:
          units.push_back({static_cast<uint32_t>(0x80 + Pick(0x80)), true});
      }
    }
    return units;
  }

  // The bytes the units stand for.
  static std::string Bytes(const std::vector<Unit>& units) {
    std::string out;
    for (const Unit& unit : units) {
      if (unit.raw_byte) {
        out.push_back(static_cast<char>(unit.code));
      } else {
        AppendUtf8(unit.code, &out);
      }
    }
    return out;
  }

  // UTF-8 for a code point.
  static void AppendUtf8(uint32_t code, std::string* out) {
    if (code < 0x80) {
      out->push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (code >> 6)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (code >> 12)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (code >> 18)));
      out->push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

  // Hex digits of `value`, `digits` wide, in a random case.
  std::string Hex(uint32_t value, int digits) {
    char buffer[16];
    std::snprintf(buffer, sizeof(buffer), Chance(50) ? "%0*X" : "%0*x", digits, static_cast<unsigned>(value));
    return buffer;
  }

  // Writes the units as a string with a random quote and random escapes.
  std::string Render(const std::vector<Unit>& units) {
    bool has_backtick = false;
    for (const Unit& unit : units) has_backtick = has_backtick || (!unit.raw_byte && unit.code == '`');
    const char quote = "\"'`"[Pick(has_backtick ? 2 : 3)];
    std::string out(1, quote);
    for (const Unit& unit : units) {
      if (quote == '`') {
        out += Bytes({unit});
        continue;
      }
      std::vector<std::string> choices;
      const uint32_t code = unit.code;
      if (unit.raw_byte || code < 0x80) {
        choices.push_back("\\x" + Hex(code, 2));
        char octal[8];
        std::snprintf(octal, sizeof(octal), "\\%03o", static_cast<unsigned>(code));
        choices.push_back(octal);
      }
      if (unit.raw_byte) {
        choices.push_back(Bytes({unit}));
      } else {
        if (code != static_cast<unsigned char>(quote) && code != '\\') choices.push_back(Bytes({unit}));
        if (code <= 0xFFFF) choices.push_back("\\u" + Hex(code, 4));
        choices.push_back("\\U" + Hex(code, 8));
        static const std::string kNamed = "\\\"'\a\b\f\n\r\t\v";
        static const std::string kLetters = "\\\"'abfnrtv";
        const size_t named = code < 0x80 ? kNamed.find(static_cast<char>(code)) : std::string::npos;
        if (named != std::string::npos) choices.push_back(std::string("\\") + kLetters[named]);
      }
      out += choices[Pick(choices.size())];
    }
    out.push_back(quote);
    return out;
  }

  std::mt19937 rng_;
};

// Parses `text` and expects success with a round-tripping canonical form, or
// a syntax error whose message is well formed; anything else is a failure.
// Returns false after the first failure so a loop can stop; counts the texts
// that parsed in *parsed.
bool ParsesOrFailsWithSyntaxError(const std::string& text, int* parsed) {
  try {
    Selector selector = ParseSelector(text);
    ++*parsed;
    if (selector.matchers.empty()) {
      ADD_FAILURE() << "no matchers for: " << ::testing::PrintToString(text);
      return false;
    }
    const std::string canonical = FormatSelector(selector);
    if (WithoutPositions(ParseSelector(canonical)) != WithoutPositions(selector)) {
      ADD_FAILURE() << "canonical form " << ::testing::PrintToString(canonical) << " differs for "
                    << ::testing::PrintToString(text);
      return false;
    }
  } catch (const Error& e) {
    const std::string prefix = "syntax error in selector at character ";
    const std::string message = e.what();
    if (e.category() != ErrorCategory::Syntax || message.compare(0, prefix.size(), prefix) != 0) {
      ADD_FAILURE() << "unexpected error " << message << " for: " << ::testing::PrintToString(text);
      return false;
    }
    const size_t character = std::stoul(message.substr(prefix.size()));
    if (character < 1 || character > CharacterPosition(text, text.size()) || e.detail().empty()) {
      ADD_FAILURE() << "bad position or detail in " << message << " for: " << ::testing::PrintToString(text);
      return false;
    }
  } catch (...) {
    ADD_FAILURE() << "non-Error exception for: " << ::testing::PrintToString(text);
    return false;
  }
  return true;
}

TEST(SelectorRandomTest, RenderedSelectorsParseBack) {
  RandomSelectorWriter writer(20240611);
  for (int i = 0; i < 3000; ++i) {
    const RandomSelectorWriter::Case c = writer.Next();
    SCOPED_TRACE(::testing::PrintToString(c.text));
    Ms parsed;
    ASSERT_NO_THROW(parsed = Parsed(c.text));
    ASSERT_EQ(parsed, c.expected);
    const Selector selector = ParseSelector(c.text);
    ASSERT_EQ(WithoutPositions(ParseSelector(FormatSelector(selector))), WithoutPositions(selector));
  }
}

TEST(SelectorRandomTest, RandomBytesParseOrFailWithSyntaxError) {
  static const std::vector<std::string> kPieces = {
      "{", "}", "=", "!", "~", "\"", "'", "`", "\\", ",", "_", "a", "Z", "0", "7", "9", ".", ":", "-", " ",
      "\t", "\n", "x", "u", "U", "__name__", "cpu", "\xC3\xA9", "\xF0\x9F\x98\x80", "=~", "!=", "\\x4", "\\u00"};
  std::mt19937 rng(7);
  int parsed = 0;
  const auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    for (size_t n = pick(40); n > 0; --n) {
      if (pick(5) == 0) {
        text.push_back(static_cast<char>(pick(256)));
      } else {
        text += kPieces[pick(kPieces.size())];
      }
    }
    ASSERT_TRUE(ParsesOrFailsWithSyntaxError(text, &parsed));
  }
  // Mostly garbage, but some texts must get through for the check to mean anything.
  EXPECT_GT(parsed, 20);
}

TEST(SelectorRandomTest, MutatedSelectorsParseOrFailWithSyntaxError) {
  RandomSelectorWriter writer(99);
  std::mt19937 rng(13);
  int parsed = 0;
  const auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  for (int i = 0; i < 10000; ++i) {
    std::string text = writer.Next().text;
    for (size_t n = 1 + pick(3); n > 0; --n) {
      const size_t at = pick(text.size() + 1);
      switch (pick(4)) {
        case 0:
          if (at < text.size()) text.erase(at, 1 + pick(3));
          break;
        case 1:
          text.insert(at, 1, "{}=!~\"'`\\,"[pick(10)]);
          break;
        case 2:
          if (at < text.size()) text[at] = static_cast<char>(pick(256));
          break;
        default:
          text.insert(at, text.substr(pick(text.size() + 1), pick(6)));
      }
    }
    ASSERT_TRUE(ParsesOrFailsWithSyntaxError(text, &parsed));
  }
  // Many mutations (inside strings, extra whitespace) leave a valid selector.
  EXPECT_GT(parsed, 1000);
  EXPECT_LT(parsed, 9000);
}

TEST(SelectorLimitTest, AtMostAThousandMatchers) {
  std::string selector = "m{";
  for (size_t i = 0; i < kMaxSelectorMatchers; ++i) selector += (i ? ",k=\"" : "k=\"") + std::to_string(i) + "\"";
  EXPECT_EQ(ParseSelector(selector + "}").matchers.size(), kMaxSelectorMatchers + 1);  // with __name__
  try {
    ParseSelector(selector + ",k=\"x\"}");
    FAIL() << "1,001 matchers parsed";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::LimitExceeded);
    EXPECT_NE(std::string(e.what()).find("too many matchers in selector"), std::string::npos);
  }
}

}  // namespace
}  // namespace aegis::core

namespace aegis::core {
namespace {

TEST(LiteralAlternativesTest, BarsBetweenLiteralTexts) {
  std::vector<std::string> texts;
  ASSERT_TRUE(LiteralAlternatives("web-1|web-2|db_3", &texts));
  EXPECT_EQ(texts, (std::vector<std::string>{"web-1", "web-2", "db_3"}));
  ASSERT_TRUE(LiteralAlternatives("host", &texts));
  EXPECT_EQ(texts, std::vector<std::string>{"host"});
  // Empty alternatives match the empty text (a missing label).
  ASSERT_TRUE(LiteralAlternatives("", &texts));
  EXPECT_EQ(texts, std::vector<std::string>{""});
  ASSERT_TRUE(LiteralAlternatives("a||b|", &texts));
  EXPECT_EQ(texts, (std::vector<std::string>{"a", "", "b", ""}));
  // Characters that are plain in a regex stay plain: space, comma, slash,
  // colon, non-ASCII, '-', '#', '=' and quotes.
  ASSERT_TRUE(LiteralAlternatives("a b,c/d:e-é#=\"'", &texts));
  EXPECT_EQ(texts, std::vector<std::string>{"a b,c/d:e-é#=\"'"});
}

TEST(LiteralPrefixTest, ATextFollowedByDotStar) {
  std::string prefix;
  ASSERT_TRUE(LiteralPrefix("cpu_.*", &prefix));
  EXPECT_EQ(prefix, "cpu_");
  ASSERT_TRUE(LiteralPrefix(".*", &prefix));
  EXPECT_EQ(prefix, "");
  ASSERT_TRUE(LiteralPrefix("a b-é.*", &prefix));
  EXPECT_EQ(prefix, "a b-é");
  for (const char* re : {"cpu_", "cpu.", "cpu_.+", "a|b.*", "a.*b", "a\\.*", "(a).*", "a.**", "a?.*", "[a].*", "^a.*",
                         "a.*$", ".", "*"})
    EXPECT_FALSE(LiteralPrefix(re, &prefix)) << re;
}

TEST(LiteralAlternativesTest, AnySpecialCharacterIsARealRegex) {
  std::vector<std::string> texts;
  for (const char* re : {"web-.*", "a.b", "a\\|b", "^a", "a$", "[ab]", "(a|b)", "a{2}", "a*", "a+", "a?",
                         "(?i)a", "***=a"})
    EXPECT_FALSE(LiteralAlternatives(re, &texts)) << re;
}

}  // namespace
}  // namespace aegis::core
