// Tests of metric name and kind validation and the message text helpers.
#include "core/names.h"

#include <gtest/gtest.h>

#include <string>

#include "core/error.h"

namespace aegis::core {
namespace {

const std::string kPattern = "metric names must match ^[A-Za-z_][A-Za-z0-9_.:-]*$.";

// Expects ValidateMetricName(name) to fail with exactly this message and detail.
void ExpectInvalidName(std::string_view name, const std::string& message, const std::string& detail) {
  EXPECT_FALSE(IsValidMetricName(name));
  EXPECT_EQ(DescribeMetricNameProblem(name), detail);
  try {
    ValidateMetricName(name);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::InvalidParameter);
    EXPECT_EQ(std::string(e.what()), message);
    EXPECT_EQ(e.detail(), detail);
  }
}

#define EXPECT_INVALID_NAME(name, message, detail) \
  do {                                             \
    SCOPED_TRACE(name);                            \
    ExpectInvalidName(name, message, detail);      \
  } while (false)

TEST(NamesTest, AcceptsValidMetricNames) {
  for (const char* name : {"cpu", "_", "A", "a.b:c-d_1", "node_cpu_seconds_total", "http.server.duration",
                           "job:rate5m", "x--y..z::", "_9"}) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(IsValidMetricName(name));
    EXPECT_NO_THROW(ValidateMetricName(name));
    EXPECT_EQ(DescribeMetricNameProblem(name), "");
  }
}

TEST(NamesTest, AcceptsNameOfExactlyMaxBytes) {
  const std::string name(kMaxMetricNameBytes, 'a');
  EXPECT_TRUE(IsValidMetricName(name));
  EXPECT_NO_THROW(ValidateMetricName(name));
}

TEST(NamesTest, RejectsEmptyName) {
  EXPECT_INVALID_NAME("", "invalid metric name \"\"", "Metric names cannot be empty.");
}

TEST(NamesTest, RejectsBadFirstCharacter) {
  EXPECT_INVALID_NAME("9cpu", "invalid metric name \"9cpu\"",
                      "Character \"9\" cannot start a metric name; " + kPattern);
  EXPECT_INVALID_NAME("-cpu", "invalid metric name \"-cpu\"",
                      "Character \"-\" cannot start a metric name; " + kPattern);
  EXPECT_INVALID_NAME(".cpu", "invalid metric name \".cpu\"",
                      "Character \".\" cannot start a metric name; " + kPattern);
  EXPECT_INVALID_NAME(":cpu", "invalid metric name \":cpu\"",
                      "Character \":\" cannot start a metric name; " + kPattern);
}

TEST(NamesTest, RejectsBadLaterCharacterWithPosition) {
  EXPECT_INVALID_NAME("cpu usage", "invalid metric name \"cpu usage\"",
                      "Character \" \" at position 4 of the name is not allowed; " + kPattern);
  EXPECT_INVALID_NAME("cpu/x", "invalid metric name \"cpu/x\"",
                      "Character \"/\" at position 4 of the name is not allowed; " + kPattern);
  EXPECT_INVALID_NAME("cpu\"x", "invalid metric name \"cpu\"x\"",
                      "Character '\"' at position 4 of the name is not allowed; " + kPattern);
}

TEST(NamesTest, RejectsNonAsciiAndControlCharacters) {
  EXPECT_INVALID_NAME("\xC3\xA9t\xC3\xA9", "invalid metric name \"\xC3\xA9t\xC3\xA9\"",
                      "Character \"\xC3\xA9\" cannot start a metric name; " + kPattern);
  // Positions count characters, not bytes: "é" is one character of two bytes.
  EXPECT_INVALID_NAME("t\xC3\xA9t\xC3\xA9", "invalid metric name \"t\xC3\xA9t\xC3\xA9\"",
                      "Character \"\xC3\xA9\" at position 2 of the name is not allowed; " + kPattern);
  EXPECT_INVALID_NAME("cpu\n", "invalid metric name \"cpu\n\"",
                      "Character U+000A at position 4 of the name is not allowed; " + kPattern);
  EXPECT_INVALID_NAME("cpu\xFF", "invalid metric name \"cpu\xFF\"",
                      "Byte 0xFF at position 4 of the name is not allowed; " + kPattern);
  // (what() stops at the NUL, so only the detail is checked here.)
  EXPECT_THROW(ValidateMetricName(std::string_view("ab\0c", 4)), Error);
  EXPECT_EQ(DescribeMetricNameProblem(std::string_view("ab\0c", 4)),
            "Character U+0000 at position 3 of the name is not allowed; " + kPattern);
}

TEST(NamesTest, RejectsNameOverMaxBytes) {
  const std::string name(kMaxMetricNameBytes + 1, 'a');
  EXPECT_INVALID_NAME(name, "invalid metric name \"" + std::string(200, 'a') + "...\"",
                      "Metric names are at most 200 bytes long; this one is 201 bytes.");
}

TEST(NamesTest, ReportsBadCharacterBeforeLength) {
  const std::string name = std::string(250, 'a') + " ";
  EXPECT_EQ(DescribeMetricNameProblem(name),
            "Character \" \" at position 251 of the name is not allowed; " + kPattern);
}

TEST(NamesTest, ParsesEveryMetricKind) {
  EXPECT_EQ(ParseMetricKind("gauge"), MetricKind::kGauge);
  EXPECT_EQ(ParseMetricKind("counter"), MetricKind::kCounter);
  EXPECT_EQ(ParseMetricKind("histogram"), MetricKind::kHistogram);
  EXPECT_EQ(ParseMetricKind("summary"), MetricKind::kSummary);
}

TEST(NamesTest, MetricKindNameRoundTrips) {
  for (MetricKind kind : {MetricKind::kGauge, MetricKind::kCounter, MetricKind::kHistogram, MetricKind::kSummary}) {
    EXPECT_EQ(ParseMetricKind(MetricKindName(kind)), kind);
  }
  EXPECT_STREQ(MetricKindName(MetricKind::kHistogram), "histogram");
}

TEST(NamesTest, RejectsUnknownMetricKinds) {
  for (const char* text : {"Gauge", "GAUGE", "gauges", "", " gauge", "timer"}) {
    SCOPED_TRACE(text);
    try {
      ParseMetricKind(text);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::InvalidParameter);
      EXPECT_EQ(std::string(e.what()), "invalid metric kind \"" + std::string(text) + "\"");
      EXPECT_EQ(e.detail(), "Valid kinds are gauge, counter, histogram and summary.");
    }
  }
}

TEST(NamesTest, QuoteForMessageCutsLongTextOnCharacterBoundary) {
  EXPECT_EQ(QuoteForMessage("abc"), "\"abc\"");
  EXPECT_EQ(QuoteForMessage(std::string(200, 'x')), "\"" + std::string(200, 'x') + "\"");
  EXPECT_EQ(QuoteForMessage(std::string(201, 'x')), "\"" + std::string(200, 'x') + "...\"");
  // 199 bytes + a 2-byte character would end at byte 201: the character goes whole.
  EXPECT_EQ(QuoteForMessage(std::string(199, 'x') + "\xC3\xA9" + "y"), "\"" + std::string(199, 'x') + "...\"");
  EXPECT_EQ(QuoteForMessage(std::string(198, 'x') + "\xC3\xA9" + "y"),
            "\"" + std::string(198, 'x') + "\xC3\xA9...\"");
}

TEST(NamesTest, DescribeCharacterShowsPrintableControlAndBadBytes) {
  size_t length = 0;
  EXPECT_EQ(DescribeCharacter("a", 0, &length), "\"a\"");
  EXPECT_EQ(length, 1u);
  EXPECT_EQ(DescribeCharacter("\"", 0), "'\"'");
  EXPECT_EQ(DescribeCharacter("'", 0), "\"'\"");
  EXPECT_EQ(DescribeCharacter("\n", 0), "U+000A");
  EXPECT_EQ(DescribeCharacter("\x7F", 0), "U+007F");
  EXPECT_EQ(DescribeCharacter("\xC2\x85", 0, &length), "U+0085");
  EXPECT_EQ(length, 2u);
  EXPECT_EQ(DescribeCharacter("x\xC3\xA9", 1, &length), "\"\xC3\xA9\"");
  EXPECT_EQ(length, 2u);
  EXPECT_EQ(DescribeCharacter("\xF0\x9F\x98\x80", 0, &length), "\"\xF0\x9F\x98\x80\"");
  EXPECT_EQ(length, 4u);
  EXPECT_EQ(DescribeCharacter("\xC2\xA0", 0), "U+00A0");          // no-break space
  EXPECT_EQ(DescribeCharacter("\xE2\x80\x8B", 0), "U+200B");      // zero-width space
  EXPECT_EQ(DescribeCharacter("\xEF\xBB\xBF", 0), "U+FEFF");      // byte order mark
  EXPECT_EQ(DescribeCharacter("\xC2\xA1", 0), "\"\xC2\xA1\"");  // inverted exclamation mark
  EXPECT_EQ(DescribeCharacter("\xFF", 0, &length), "byte 0xFF");
  EXPECT_EQ(length, 1u);
  EXPECT_EQ(DescribeCharacter("\xE2\x82", 0), "byte 0xE2");          // truncated sequence
  EXPECT_EQ(DescribeCharacter("\xC0\x80", 0), "byte 0xC0");          // overlong
  EXPECT_EQ(DescribeCharacter("\xED\xA0\x80", 0), "byte 0xED");      // surrogate
  EXPECT_EQ(DescribeCharacter("\xF4\x90\x80\x80", 0), "byte 0xF4");  // above U+10FFFF
  EXPECT_EQ(DescribeCharacter("\x80", 0), "byte 0x80");              // lone continuation
}

TEST(NamesTest, CharacterPositionCountsUtf8Characters) {
  EXPECT_EQ(CharacterPosition("", 0), 1u);
  EXPECT_EQ(CharacterPosition("abc", 0), 1u);
  EXPECT_EQ(CharacterPosition("abc", 2), 3u);
  EXPECT_EQ(CharacterPosition("abc", 3), 4u);
  EXPECT_EQ(CharacterPosition("\xC3\xA9" "b", 2), 2u);
  EXPECT_EQ(CharacterPosition("\xF0\x9F\x98\x80\xC3\xA9" "b", 6), 3u);
  // Bytes that are not valid UTF-8 count one each.
  EXPECT_EQ(CharacterPosition("\xFF\xFE" "b", 2), 3u);
  EXPECT_EQ(CharacterPosition("\xE2\x82" "b", 2), 3u);
}

}  // namespace
}  // namespace aegis::core
