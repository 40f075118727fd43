// Prometheus-style selector parser: a hand-written scanner over the text with
// one character of lookahead, so every error knows exactly where it is.
#include "core/selector.h"

#include <cctype>
#include <cstdint>
#include <utility>

#include "core/error.h"
#include "core/names.h"

namespace aegis::core {
namespace {

constexpr std::string_view kNameLabel = "__name__";
constexpr const char* kOperators = "\"=\", \"!=\", \"=~\" or \"!~\"";
constexpr const char* kOperatorsOrEnd = "\"=\", \"!=\", \"=~\", \"!~\", \",\" or \"}\"";
constexpr const char* kEscapeHint =
    "Valid escapes are \\\\, \\\", \\', \\a, \\b, \\f, \\n, \\r, \\t, \\v, \\xHH, \\NNN (octal), \\uHHHH and "
    "\\UHHHHHHHH; backtick strings take none. In the value of =~ and !~, a backslash before punctuation "
    "is kept for the regular expression (Grafana's ${var:regex}).";

// True for the whitespace allowed between tokens.
bool IsWhitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// True for [A-Za-z_], the first character of metric and label names.
bool IsNameStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }

// True for [A-Za-z0-9_], the rest of a label name.
bool IsLabelChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

// True for [A-Za-z0-9_.:-], the rest of a metric name.
bool IsMetricNameChar(char c) { return IsLabelChar(c) || c == '.' || c == ':' || c == '-'; }

// True for the characters that open a string.
bool IsQuote(char c) { return c == '"' || c == '\'' || c == '`'; }

// True when `label` can be written without quotes.
bool IsPlainLabel(std::string_view label) {
  if (label.empty() || !IsNameStart(label[0])) return false;
  for (char c : label) {
    if (!IsLabelChar(c)) return false;
  }
  return true;
}

// The value of a hexadecimal digit, or -1.
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Appends the UTF-8 encoding of a valid code point (not a surrogate, at most U+10FFFF).
void AppendUtf8(uint32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    out->push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// Appends `text` as a double-quoted string that ParseSelector reads back.
void AppendQuoted(std::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '\\':
        *out += "\\\\";
        break;
      case '"':
        *out += "\\\"";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\r':
        *out += "\\r";
        break;
      default:
        if (byte < 0x20 || byte == 0x7F) {
          *out += "\\x";
          out->push_back(kHex[byte >> 4]);
          out->push_back(kHex[byte & 0xF]);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

// Reads one selector; each Parse... method starts at its token and leaves
// pos_ just after it.
class SelectorParser {
 public:
  explicit SelectorParser(std::string_view text) : text_(text) {}

  // Parses the whole text.
  Selector Parse() {
    SkipWhitespace();
    if (AtEnd()) FailExpected(pos_, "a metric name or \"{\"");
    if (IsNameStart(Peek())) {
      ParseBareMetricName();
      SkipWhitespace();
      if (AtEnd()) return Finish();
      if (Peek() != '{') FailExpected(pos_, "\"{\" or end of input after metric name " + QuoteForMessage(metric_));
    } else if (Peek() != '{') {
      std::string hint = IsQuote(Peek()) ? "A quoted metric name goes inside the braces, as in {\"my.metric\"}." : "";
      FailExpected(pos_, "a metric name or \"{\"", std::move(hint));
    }
    ++pos_;  // '{'
    ParseMatchers();
    SkipWhitespace();
    if (!AtEnd()) FailExpected(pos_, "end of input after \"}\"");
    return Finish();
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }

  // Moves past whitespace.
  void SkipWhitespace() {
    while (!AtEnd() && IsWhitespace(Peek())) ++pos_;
  }

  // The 1-based character position of byte `offset`; offsets must not
  // decrease between calls, so the whole parse counts each byte once.
  size_t PositionOf(size_t offset) {
    counted_position_ += CharacterPosition(text_.substr(counted_offset_, offset - counted_offset_),
                                           offset - counted_offset_) -
                         1;
    counted_offset_ = offset;
    return counted_position_;
  }

  // What stands at `offset`, for "found ...".
  std::string Found(size_t offset) const {
    return offset >= text_.size() ? "end of input" : DescribeCharacter(text_, offset);
  }

  // Throws the syntax error located at byte `offset`.
  [[noreturn]] void Fail(size_t offset, std::string detail, std::string hint = {}) const {
    throw Error(ErrorCategory::Syntax,
                "syntax error in selector at character " + std::to_string(CharacterPosition(text_, offset)),
                std::move(detail), std::move(hint));
  }

  // Throws "Expected <expected>, found <what is at offset>."
  [[noreturn]] void FailExpected(size_t offset, const std::string& expected, std::string hint = {}) const {
    Fail(offset, "Expected " + expected + ", found " + Found(offset) + ".", std::move(hint));
  }

  // Throws for a metric name that breaks the naming rules.
  [[noreturn]] void FailMetricName(size_t offset, std::string_view name) const {
    Fail(offset, "Expected a valid metric name, found " + QuoteForMessage(name) + ". " +
                     DescribeMetricNameProblem(name));
  }

  // Throws for the string opened at `open` that the text ends inside.
  [[noreturn]] void FailUnterminated(size_t open) const {
    Fail(open, "Expected a closing " + DescribeCharacter(text_, open) + " for the string, found end of input.");
  }

  // Records the metric name given by name (bare or quoted in the braces).
  void SetMetricName(size_t offset, std::string name) {
    if (has_metric_) {
      Fail(offset, "Expected the metric name only once, found " + QuoteForMessage(name) + " after " +
                       QuoteForMessage(metric_) + ".");
    }
    if (name_matchers_ > 0) {
      Fail(offset, "Expected the metric name only once, found " + QuoteForMessage(name) +
                       " after a \"__name__\" matcher.");
    }
    if (!IsValidMetricName(name)) FailMetricName(offset, name);
    has_metric_ = true;
    metric_ = std::move(name);
    metric_position_ = PositionOf(offset);
  }

  // Reads [A-Za-z_][A-Za-z0-9_.:-]* outside the braces.
  void ParseBareMetricName() {
    const size_t start = pos_;
    while (!AtEnd() && IsMetricNameChar(Peek())) ++pos_;
    SetMetricName(start, std::string(text_.substr(start, pos_ - start)));
  }

  // Reads `{ matcher, ... }` after the '{', up to and including the '}'.
  void ParseMatchers() {
    SkipWhitespace();
    if (!AtEnd() && Peek() == '}' && !has_metric_) FailExpected(pos_, "a metric name or a matcher inside the braces");
    while (true) {
      SkipWhitespace();
      if (AtEnd()) FailExpected(pos_, "a label name, a quoted metric name or \"}\"");
      if (Peek() == '}') break;
      ParseMatcher();
      SkipWhitespace();
      if (!AtEnd() && Peek() == ',') {
        ++pos_;
        continue;
      }
      if (!AtEnd() && Peek() == '}') break;
      FailExpected(pos_, "\",\" or \"}\" after " + last_item_);
    }
    ++pos_;  // '}'
  }

  // Reads one item inside the braces: `label op "value"` or a quoted metric name.
  void ParseMatcher() {
    const size_t start = pos_;
    std::string label;
    const bool quoted = IsQuote(Peek());
    if (quoted) {
      label = ParseString();
    } else if (IsNameStart(Peek())) {
      while (!AtEnd() && IsLabelChar(Peek())) ++pos_;
      label = std::string(text_.substr(start, pos_ - start));
    } else {
      FailExpected(pos_, "a label name, a quoted metric name or \"}\"");
    }
    SkipWhitespace();
    if (quoted && !AtEnd() && (Peek() == ',' || Peek() == '}')) {
      SetMetricName(start, label);
      last_item_ = "the metric name " + QuoteForMessage(metric_);
      return;
    }
    if (label.empty()) Fail(start, "Expected a label name, found an empty string.");
    const size_t op_offset = pos_;
    MatchOp op = MatchOp::kEqual;
    if (!ParseOperator(&op)) {
      if (quoted) {
        FailExpected(op_offset, std::string(kOperatorsOrEnd) + " after the quoted name " + QuoteForMessage(label));
      }
      std::string hint;
      if (!AtEnd()) {
        const char c = Peek();
        if (c == '.' || c == ':' || c == '-' || static_cast<unsigned char>(c) >= 0x80) {
          hint = "Label names other than [A-Za-z_][A-Za-z0-9_]* must be quoted, as in {\"my.key\"=\"value\"}.";
        } else if (c == ',' || c == '}') {
          hint = "A metric name inside the braces must be quoted, as in {\"" + label + "\"}.";
        }
      }
      FailExpected(op_offset, std::string(kOperators) + " after label " + QuoteForMessage(label), std::move(hint));
    }
    SkipWhitespace();
    if (AtEnd() || !IsQuote(Peek())) {
      FailExpected(pos_, "a quoted string as the value of label " + QuoteForMessage(label));
    }
    const size_t value_offset = pos_;
    std::string value = ParseString(op == MatchOp::kRegexMatch || op == MatchOp::kRegexNoMatch);
    if (label == kNameLabel) {
      if (has_metric_) {
        Fail(start, "Expected the metric name only once, found a \"__name__\" matcher after " +
                        QuoteForMessage(metric_) + ".");
      }
      if (op == MatchOp::kEqual && !IsValidMetricName(value)) FailMetricName(value_offset, value);
      ++name_matchers_;
    }
    last_item_ = "the value of label " + QuoteForMessage(label);
    if (matchers_.size() >= kMaxSelectorMatchers)
      throw Error(ErrorCategory::LimitExceeded,
                  "too many matchers in selector at character " + std::to_string(PositionOf(start)),
                  "A selector may have at most " + std::to_string(kMaxSelectorMatchers) + " matchers.");
    matchers_.push_back(Matcher{std::move(label), op, std::move(value), PositionOf(start)});
  }

  // Reads "=", "!=", "=~" or "!~"; false (pos_ unchanged) when none is there.
  bool ParseOperator(MatchOp* op) {
    if (AtEnd()) return false;
    const char next = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
    if (Peek() == '=') {
      *op = next == '~' ? MatchOp::kRegexMatch : MatchOp::kEqual;
      pos_ += next == '~' ? 2 : 1;
      return true;
    }
    if (Peek() == '!' && (next == '=' || next == '~')) {
      *op = next == '~' ? MatchOp::kRegexNoMatch : MatchOp::kNotEqual;
      pos_ += 2;
      return true;
    }
    return false;
  }

  // Reads a "double", 'single' or `raw` string and returns its value. In a
  // regular expression (regex), a backslash before punctuation that is no
  // escape of the string (\- \. \( \|, as Grafana's ${var:regex} writes
  // them) is kept for the expression.
  std::string ParseString(bool regex = false) {
    const size_t open = pos_;
    const char quote = Peek();
    ++pos_;
    std::string value;
    while (true) {
      if (AtEnd()) FailUnterminated(open);
      const char c = Peek();
      if (c == quote) {
        ++pos_;
        return value;
      }
      if (c == '\0') FailExpected(pos_, "a string without NUL bytes");
      if (c == '\\' && quote != '`') {
        ParseEscape(open, &value, regex);
      } else {
        value.push_back(c);
        ++pos_;
      }
    }
  }

  // Reads the escape sequence at pos_ (a backslash) of the string opened at `open`.
  void ParseEscape(size_t open, std::string* value, bool regex) {
    const size_t start = pos_;
    if (start + 1 >= text_.size()) FailUnterminated(open);
    const char kind = text_[start + 1];
    char simple = 0;
    switch (kind) {
      case '\\':
      case '"':
      case '\'':
        simple = kind;
        break;
      case 'a':
        simple = '\a';
        break;
      case 'b':
        simple = '\b';
        break;
      case 'f':
        simple = '\f';
        break;
      case 'n':
        simple = '\n';
        break;
      case 'r':
        simple = '\r';
        break;
      case 't':
        simple = '\t';
        break;
      case 'v':
        simple = '\v';
        break;
      default:
        break;
    }
    if (simple != 0) {
      value->push_back(simple);
      pos_ = start + 2;
      return;
    }
    uint32_t code = 0;
    if (kind == 'x' || kind == 'u' || kind == 'U') {
      const size_t digits = kind == 'x' ? 2 : kind == 'u' ? 4 : 8;
      code = ReadDigits(open, start, start + 2, digits, 16,
                        std::to_string(digits) + " hexadecimal digits after \"\\" + std::string(1, kind) + "\"");
      pos_ = start + 2 + digits;
    } else if (kind >= '0' && kind <= '7') {
      code = ReadDigits(open, start, start + 1, 3, 8, "3 octal digits after \"\\\"");
      pos_ = start + 4;
      if (code > 0xFF) {
        Fail(start, "Expected an octal escape no greater than \\377, found " + EscapeText(start) + ".");
      }
    } else if (regex && std::ispunct(static_cast<unsigned char>(kind))) {
      value->push_back('\\');
      value->push_back(kind);
      pos_ = start + 2;
      return;
    } else {
      Fail(start, "Expected an escape sequence after \"\\\", found " + Found(start + 1) + ".", kEscapeHint);
    }
    if (code == 0) Fail(start, "Expected a string without NUL bytes, found " + EscapeText(start) + ".");
    if (kind == 'u' || kind == 'U') {
      if (code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
        Fail(start, "Expected a Unicode code point up to U+10FFFF and outside U+D800 to U+DFFF, found " +
                        EscapeText(start) + ".");
      }
      AppendUtf8(code, value);
    } else {
      value->push_back(static_cast<char>(code));
    }
  }

  // Reads `count` digits in `base` from byte `first` of an escape starting at
  // `start`; an error points at the escape, a missing end at the string.
  uint32_t ReadDigits(size_t open, size_t start, size_t first, size_t count, int base, const std::string& expected) {
    uint32_t code = 0;
    for (size_t i = first; i < first + count; ++i) {
      if (i >= text_.size()) FailUnterminated(open);
      const int digit = base == 16 ? HexValue(text_[i]) : (text_[i] >= '0' && text_[i] <= '7' ? text_[i] - '0' : -1);
      if (digit < 0) Fail(start, "Expected " + expected + ", found " + Found(i) + ".");
      code = code * static_cast<uint32_t>(base) + static_cast<uint32_t>(digit);
    }
    return code;
  }

  // The source text of the escape from `start` to pos_, quoted.
  std::string EscapeText(size_t start) const { return QuoteForMessage(text_.substr(start, pos_ - start)); }

  // Assembles the result: the metric name given by name comes first.
  Selector Finish() {
    Selector selector;
    selector.matchers.reserve(matchers_.size() + 1);
    if (has_metric_) {
      selector.matchers.push_back(Matcher{std::string(kNameLabel), MatchOp::kEqual, metric_, metric_position_});
    }
    for (Matcher& matcher : matchers_) selector.matchers.push_back(std::move(matcher));
    return selector;
  }

  std::string_view text_;
  size_t pos_ = 0;
  size_t counted_offset_ = 0;    // PositionOf has counted characters up to here
  size_t counted_position_ = 1;  // the position of byte counted_offset_
  bool has_metric_ = false;      // the metric name was given by name
  std::string metric_;
  size_t metric_position_ = 0;
  int name_matchers_ = 0;  // __name__ matchers seen
  std::string last_item_;  // the last item in the braces, for "after ..."
  std::vector<Matcher> matchers_;
};

}  // namespace

Selector ParseSelector(std::string_view text) { return SelectorParser(text).Parse(); }

const char* MatchOpText(MatchOp op) {
  switch (op) {
    case MatchOp::kEqual:
      return "=";
    case MatchOp::kNotEqual:
      return "!=";
    case MatchOp::kRegexMatch:
      return "=~";
    case MatchOp::kRegexNoMatch:
      return "!~";
  }
  return "?";
}

std::string FormatSelector(const Selector& selector) {
  const auto& matchers = selector.matchers;
  size_t name_matchers = 0;
  for (const Matcher& matcher : matchers) name_matchers += matcher.label == kNameLabel ? 1 : 0;
  std::string out;
  size_t first = 0;
  if (!matchers.empty() && name_matchers == 1 && matchers[0].label == kNameLabel &&
      matchers[0].op == MatchOp::kEqual && IsValidMetricName(matchers[0].value)) {
    out = matchers[0].value;
    first = 1;
    if (matchers.size() == 1) return out;
  }
  out += '{';
  for (size_t i = first; i < matchers.size(); ++i) {
    if (i > first) out += ", ";
    if (IsPlainLabel(matchers[i].label)) {
      out += matchers[i].label;
    } else {
      AppendQuoted(matchers[i].label, &out);
    }
    out += MatchOpText(matchers[i].op);
    AppendQuoted(matchers[i].value, &out);
  }
  out += '}';
  return out;
}

bool LiteralAlternatives(std::string_view regex, std::vector<std::string>* texts) {
  static constexpr std::string_view kSpecial = "\\^$.[](){}*+?";
  if (regex.find_first_of(kSpecial) != std::string_view::npos) return false;
  texts->clear();
  size_t begin = 0;
  for (;;) {
    const size_t bar = regex.find('|', begin);
    texts->emplace_back(regex.substr(begin, bar == std::string_view::npos ? std::string_view::npos : bar - begin));
    if (bar == std::string_view::npos) return true;
    begin = bar + 1;
  }
}

bool LiteralPrefix(std::string_view regex, std::string* prefix) {
  static constexpr std::string_view kSpecial = "\\^$.[](){}*+?|";
  if (regex.size() < 2 || regex.substr(regex.size() - 2) != ".*") return false;
  const std::string_view head = regex.substr(0, regex.size() - 2);
  if (head.find_first_of(kSpecial) != std::string_view::npos) return false;
  prefix->assign(head);
  return true;
}

}  // namespace aegis::core
