// Metric name and kind validation, and the text helpers error details share.
#include "core/names.h"

#include <cstdint>
#include <cstdio>

#include "core/error.h"

namespace aegis::core {
namespace {

constexpr size_t kMaxQuotedBytes = 200;
constexpr const char* kMetricNamePattern = "^[A-Za-z_][A-Za-z0-9_.:-]*$";

// Decodes the well-formed UTF-8 sequence at `offset` (Unicode table 3-7: no
// overlong forms, no surrogates, nothing above U+10FFFF); returns its length,
// or 0 when the byte there does not start one.
size_t DecodeUtf8(std::string_view text, size_t offset, uint32_t* code_point) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[offset + i]); };
  const size_t available = text.size() - offset;
  const unsigned char lead = byte(0);
  if (lead < 0x80) {
    *code_point = lead;
    return 1;
  }
  size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;
    if (lead == 0xED) second_max = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;
    if (lead == 0xF4) second_max = 0x8F;
  } else {
    return 0;
  }
  if (available < length) return 0;
  if (byte(1) < second_min || byte(1) > second_max) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  uint32_t value = lead & (0xFF >> (length + 1));
  for (size_t i = 1; i < length; ++i) value = (value << 6) | (byte(i) & 0x3F);
  *code_point = value;
  return length;
}

// True for code points an error detail spells as U+XXXX because printed they
// are invisible or look like a plain space: controls, the no-break and other
// Unicode spaces, zero-width and direction marks, the byte order mark.
bool IsShownAsCodePoint(uint32_t code_point) {
  return code_point < 0x20 || (code_point >= 0x7F && code_point <= 0xA0) || code_point == 0xAD ||
         (code_point >= 0x2000 && code_point <= 0x200F) || (code_point >= 0x2028 && code_point <= 0x202F) ||
         (code_point >= 0x205F && code_point <= 0x206F) || code_point == 0x3000 || code_point == 0xFEFF;
}

// True for the characters a metric name may start with: [A-Za-z_].
bool IsMetricNameStart(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

// True for the characters a metric name may continue with: [A-Za-z0-9_.:-].
bool IsMetricNameChar(char c) {
  return IsMetricNameStart(c) || (c >= '0' && c <= '9') || c == '.' || c == ':' || c == '-';
}

}  // namespace

void ValidateMetricName(std::string_view name) {
  std::string problem = DescribeMetricNameProblem(name);
  if (!problem.empty()) {
    throw Error(ErrorCategory::InvalidParameter, "invalid metric name " + QuoteForMessage(name),
                std::move(problem));
  }
}

bool IsValidMetricName(std::string_view name) {
  if (name.empty() || name.size() > kMaxMetricNameBytes || !IsMetricNameStart(name[0])) return false;
  for (char c : name) {
    if (!IsMetricNameChar(c)) return false;
  }
  return true;
}

std::string DescribeMetricNameProblem(std::string_view name) {
  if (name.empty()) return "Metric names cannot be empty.";
  // The character check comes first: it points at the mistake even in a name
  // that is also too long.
  for (size_t i = 0; i < name.size(); ++i) {
    if (i == 0 ? IsMetricNameStart(name[i]) : IsMetricNameChar(name[i])) continue;
    std::string shown = DescribeCharacter(name, i);
    std::string subject = shown.compare(0, 5, "byte ") == 0 ? "Byte " + shown.substr(5) : "Character " + shown;
    std::string where = i == 0 ? " cannot start a metric name"
                               : " at position " + std::to_string(CharacterPosition(name, i)) +
                                     " of the name is not allowed";
    return subject + where + "; metric names must match " + kMetricNamePattern + ".";
  }
  if (name.size() > kMaxMetricNameBytes) {
    return "Metric names are at most " + std::to_string(kMaxMetricNameBytes) + " bytes long; this one is " +
           std::to_string(name.size()) + " bytes.";
  }
  return {};
}

MetricKind ParseMetricKind(std::string_view text) {
  if (text == "gauge") return MetricKind::kGauge;
  if (text == "counter") return MetricKind::kCounter;
  if (text == "histogram") return MetricKind::kHistogram;
  if (text == "summary") return MetricKind::kSummary;
  throw Error(ErrorCategory::InvalidParameter, "invalid metric kind " + QuoteForMessage(text),
              "Valid kinds are gauge, counter, histogram and summary.");
}

const char* MetricKindName(MetricKind kind) {
  switch (kind) {
    case MetricKind::kGauge:
      return "gauge";
    case MetricKind::kCounter:
      return "counter";
    case MetricKind::kHistogram:
      return "histogram";
    case MetricKind::kSummary:
      return "summary";
  }
  return "unknown";
}

std::string QuoteForMessage(std::string_view text) {
  if (text.size() <= kMaxQuotedBytes) return "\"" + std::string(text) + "\"";
  // Cut before the last character that would not fit whole.
  size_t cut = 0;
  while (cut < text.size()) {
    uint32_t code_point = 0;
    size_t length = DecodeUtf8(text, cut, &code_point);
    if (length == 0) length = 1;
    if (cut + length > kMaxQuotedBytes) break;
    cut += length;
  }
  return "\"" + std::string(text.substr(0, cut)) + "...\"";
}

std::string DescribeCharacter(std::string_view text, size_t offset, size_t* length) {
  uint32_t code_point = 0;
  size_t sequence = DecodeUtf8(text, offset, &code_point);
  char buffer[16];
  std::string shown;
  if (sequence == 0) {
    sequence = 1;
    std::snprintf(buffer, sizeof(buffer), "byte 0x%02X", static_cast<unsigned char>(text[offset]));
    shown = buffer;
  } else if (IsShownAsCodePoint(code_point)) {
    std::snprintf(buffer, sizeof(buffer), "U+%04X", static_cast<unsigned>(code_point));
    shown = buffer;
  } else if (code_point == '"') {
    shown = "'\"'";
  } else {
    shown = "\"" + std::string(text.substr(offset, sequence)) + "\"";
  }
  if (length != nullptr) *length = sequence;
  return shown;
}

size_t CharacterPosition(std::string_view text, size_t offset) {
  size_t position = 1;
  size_t i = 0;
  while (i < offset && i < text.size()) {
    uint32_t code_point = 0;
    size_t length = DecodeUtf8(text, i, &code_point);
    i += length == 0 ? 1 : length;
    ++position;
  }
  return position;
}

}  // namespace aegis::core
