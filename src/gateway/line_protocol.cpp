// aegis-gateway: InfluxDB line protocol parser (line_protocol.h).
#include "gateway/line_protocol.h"

#include "core/names.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace aegis::gateway {

bool ParsePrecision(std::string_view text, bool v2, Precision *out) {
    struct Name {
        std::string_view name;
        Precision precision;
        bool v1, v2;
    };
    static constexpr Name kNames[] = {
        {"", Precision::kNanoseconds, true, true},     {"ns", Precision::kNanoseconds, true, true},
        {"n", Precision::kNanoseconds, true, false},   {"us", Precision::kMicroseconds, true, true},
        {"u", Precision::kMicroseconds, true, false},  {"\xC2\xB5", Precision::kMicroseconds, true, false},
        {"ms", Precision::kMilliseconds, true, true},  {"s", Precision::kSeconds, true, true},
        {"m", Precision::kMinutes, true, false},       {"h", Precision::kHours, true, false},
    };
    for (const Name &n : kNames) {
        if (n.name == text && (v2 ? n.v2 : n.v1)) {
            *out = n.precision;
            return true;
        }
    }
    return false;
}

std::string LineProtocolResult::PartialWriteMessage() const {
    std::string msg = "partial write:";
    for (size_t i = 0; i < errors.size(); i++) {
        msg += i == 0 ? " " : "\n";
        msg += "unable to parse '" + errors[i].text + "': " + errors[i].reason;
    }
    if (Dropped() > errors.size()) msg += "\n(" + std::to_string(Dropped() - errors.size()) + " more)";
    msg += " dropped=" + std::to_string(Dropped());
    return msg;
}

// Where the line starting at `pos` ends, as InfluxDB's scanner decides: at a
// newline, except one inside a string field value (after the first unescaped
// space, a '"' opens or closes a string when the fields so far have more '='
// than ','), and a backslash takes the byte after it whatever it is. So an
// unterminated string runs to the end of the body, as in InfluxDB.
size_t LineEnd(std::string_view body, size_t pos) {
    bool fields = false, quoted = false;
    size_t equals = 0, commas = 0;
    size_t i = pos;
    while (i < body.size()) {
        char c = body[i];
        if (c == '\\' && i + 2 < body.size()) {
            i += 2;
            continue;
        }
        if (c == ' ') fields = true;
        if (fields) {
            if (!quoted && c == '=') {
                equals++;
            } else if (!quoted && c == ',') {
                commas++;
            } else if (c == '"' && equals > commas) {
                quoted = !quoted;
            }
        }
        if (c == '\n' && !quoted) break;
        i++;
    }
    return i;
}

size_t CompleteLines(std::string_view body) {
    size_t pos = 0, complete = 0;
    while (pos < body.size()) {
        size_t end = LineEnd(body, pos);
        if (end >= body.size()) break;  // no newline closes it (yet)
        complete = end + 1;
        pos = end + 1;
    }
    return complete;
}

namespace {

// One line, scanned left to right. Every Read* leaves `pos` on the byte that
// ended the token (or at the end).
class LineScanner {
public:
    explicit LineScanner(std::string_view line) : line_(line) {}

    bool AtEnd() const { return pos_ >= line_.size(); }
    size_t Position() const { return pos_; }
    char Peek() const { return line_[pos_]; }
    void Skip() { pos_++; }
    void SkipSpaces() {
        while (!AtEnd() && (Peek() == ' ' || Peek() == '\t')) pos_++;
    }

    // A measurement, tag key, tag value or field key: up to the first
    // unescaped byte of `stops`; `escapable` are the bytes a backslash
    // escapes. Returns the unescaped text.
    std::string ReadName(std::string_view stops, std::string_view escapable) {
        std::string out;
        while (!AtEnd()) {
            char c = Peek();
            if (c == '\\' && pos_ + 1 < line_.size() && escapable.find(line_[pos_ + 1]) != std::string_view::npos) {
                out += line_[pos_ + 1];
                pos_ += 2;
                continue;
            }
            if (stops.find(c) != std::string_view::npos) break;
            out += c;
            pos_++;
        }
        return out;
    }

    // A field value that is not a string: up to ',' or ' '.
    std::string_view ReadToken() {
        size_t start = pos_;
        while (!AtEnd() && Peek() != ',' && Peek() != ' ' && Peek() != '\t') pos_++;
        return line_.substr(start, pos_ - start);
    }

    // A string field value after its opening quote, up to the closing one.
    bool ReadQuoted() {
        while (!AtEnd()) {
            char c = Peek();
            if (c == '\\' && pos_ + 1 < line_.size() && (line_[pos_ + 1] == '"' || line_[pos_ + 1] == '\\')) {
                pos_ += 2;
                continue;
            }
            pos_++;
            if (c == '"') return true;
        }
        return false;
    }

private:
    std::string_view line_;
    size_t pos_ = 0;
};

enum class FieldKind { kNumber, kString, kBad };

// An integer field (1i, or 1u for unsigned) without its suffix, as a double.
template <typename Int>
FieldKind ParseInteger(const char *first, const char *last, const char *what, double *value, std::string *reason) {
    Int v = 0;
    auto [p, ec] = std::from_chars(first, last, v);
    if (ec == std::errc() && p == last && last > first) {
        *value = static_cast<double>(v);
        return FieldKind::kNumber;
    }
    *reason = std::string(ec == std::errc::result_out_of_range ? "" : "invalid ") + what +
              (ec == std::errc::result_out_of_range ? " out of range" : "");
    return FieldKind::kBad;
}

FieldKind ParseFieldValue(std::string_view token, double *value, std::string *reason) {
    static constexpr std::string_view kTrue[] = {"t", "T", "true", "True", "TRUE"};
    static constexpr std::string_view kFalse[] = {"f", "F", "false", "False", "FALSE"};
    if (std::find(std::begin(kTrue), std::end(kTrue), token) != std::end(kTrue)) {
        *value = 1;
        return FieldKind::kNumber;
    }
    if (std::find(std::begin(kFalse), std::end(kFalse), token) != std::end(kFalse)) {
        *value = 0;
        return FieldKind::kNumber;
    }
    if (token.empty()) {
        *reason = "missing field value";
        return FieldKind::kBad;
    }
    const char *first = token.data(), *last = token.data() + token.size();
    char suffix = token.back();
    if (suffix == 'i') return ParseInteger<int64_t>(first, last - 1, "integer", value, reason);
    if (suffix == 'u') return ParseInteger<uint64_t>(first, last - 1, "unsigned integer", value, reason);
    // A float: digits, '.', an exponent, an optional leading '-' (InfluxDB
    // refuses NaN and infinities, and so does this).
    bool plausible = true;
    for (char c : token) {
        if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) plausible = false;
    }
    if (plausible && token[0] != '+') {
        double v = 0;
        auto [p, ec] = std::from_chars(first, last, v);
        if (ec == std::errc() && p == last && std::isfinite(v)) {
            *value = v;
            return FieldKind::kNumber;
        }
    }
    *reason = "invalid number";
    return FieldKind::kBad;
}

bool ParseTimestamp(std::string_view token, Precision precision, int64_t *ts_pg_us, std::string *reason) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
    if (ec != std::errc() || p != token.data() + token.size()) {
        *reason = ec == std::errc::result_out_of_range ? "timestamp out of range" : "bad timestamp";
        return false;
    }
    int64_t unix_us = 0;
    int64_t unit = static_cast<int64_t>(precision);
    if (unit < 1000) {
        // Nanoseconds, to microseconds rounding down (toward the past).
        unix_us = v / 1000 - (v % 1000 < 0 ? 1 : 0);
    } else if (__builtin_mul_overflow(v, unit / 1000, &unix_us)) {
        *reason = "timestamp out of range";
        return false;
    }
    int64_t pg_us = 0;
    if (__builtin_sub_overflow(unix_us, kPgEpochUnixUs, &pg_us) || pg_us < kMinPgUs || pg_us >= kEndPgUs) {
        *reason = "timestamp out of range";
        return false;
    }
    *ts_pg_us = pg_us;
    return true;
}

struct Field {
    std::string key;
    double value;
};

// Parses one line; false (with `reason`) when it does not parse. String
// fields are counted in `strings`, not returned.
bool ParseLine(std::string_view line, const LineProtocolOptions &options, std::string *measurement, Tags *tags,
               std::string_view *series_text, std::vector<Field> *fields, size_t *strings, int64_t *ts,
               std::string *reason) {
    LineScanner s(line);
    *measurement = s.ReadName(", \t", ", ");
    if (measurement->empty()) {
        *reason = "missing measurement";
        return false;
    }
    tags->clear();
    while (!s.AtEnd() && s.Peek() == ',') {
        s.Skip();
        std::string key = s.ReadName("=, \t", ",= ");
        if (s.AtEnd() || s.Peek() != '=') {
            *reason = "missing tag value";
            return false;
        }
        s.Skip();
        std::string value = s.ReadName(", \t=", ",= ");
        if (key.empty()) {
            *reason = "missing tag key";
            return false;
        }
        if (value.empty()) {
            *reason = "missing tag value";
            return false;
        }
        tags->emplace_back(std::move(key), std::move(value));
    }
    if (s.AtEnd()) {
        *reason = "missing fields";
        return false;
    }
    *series_text = line.substr(0, s.Position());
    s.SkipSpaces();
    fields->clear();
    *strings = 0;
    size_t nfields = 0;
    while (true) {
        std::string key = s.ReadName("=, \t", ",= ");
        if (key.empty()) {
            *reason = "missing field key";
            return false;
        }
        if (s.AtEnd() || s.Peek() != '=') {
            *reason = "missing field value";
            return false;
        }
        s.Skip();
        nfields++;
        if (!s.AtEnd() && s.Peek() == '"') {
            s.Skip();
            if (!s.ReadQuoted()) {
                *reason = "unbalanced quotes";
                return false;
            }
            (*strings)++;
        } else {
            double v = 0;
            if (ParseFieldValue(s.ReadToken(), &v, reason) != FieldKind::kNumber) return false;
            if (!IsUtf8(key)) {
                *reason = "field key is not valid UTF-8";
                return false;
            }
            fields->push_back({std::move(key), v});
        }
        if (s.AtEnd() || s.Peek() != ',') break;
        s.Skip();
    }
    s.SkipSpaces();
    if (s.AtEnd()) {
        int64_t unit = static_cast<int64_t>(options.precision);
        int64_t now = options.now_unix_ns - ((options.now_unix_ns % unit) + unit) % unit;
        *ts = now / 1000 - kPgEpochUnixUs;
    } else {
        if (!ParseTimestamp(s.ReadToken(), options.precision, ts, reason)) return false;
        s.SkipSpaces();
        if (!s.AtEnd()) {
            *reason = "unexpected text after the timestamp";
            return false;
        }
    }
    if (!IsUtf8(*measurement)) {
        *reason = "measurement is not valid UTF-8";
        return false;
    }
    for (const auto &[k, v] : *tags) {
        if (!IsUtf8(k) || !IsUtf8(v)) {
            *reason = "tag is not valid UTF-8";
            return false;
        }
    }
    if (!SortTagsUnique(tags)) {
        *reason = "duplicate tags";
        return false;
    }
    return true;
}

}  // namespace

void ParseLineProtocol(std::string_view body, const LineProtocolOptions &options, Batch *out,
                       LineProtocolResult *result) {
    std::string measurement;
    Tags tags;
    std::string_view series_text;
    std::vector<Field> fields;
    // The batch's series by their line's measurement and tags as written,
    // and field key: a series that comes back in later lines (a file of many
    // rounds) is one series of the batch, its tags and name made once. Two
    // spellings of one series (tags in another order) are two, which the
    // server merges.
    KeyIndex texts;  // the lines' measurement and tags as written
    KeyIndex known;  // (number in texts, field key) -> series
    const uint32_t base = static_cast<uint32_t>(out->series.size());
    std::string key;
    std::vector<uint32_t> line_series;
    size_t line_no = 0;   // physical lines so far
    size_t first_no = 0;  // the physical line the current line starts on
    auto fail = [&](std::string_view line, std::string reason, bool whole) {
        (whole ? result->dropped_lines : result->dropped_fields)++;
        if (result->errors.size() < LineProtocolResult::kMaxErrors) {
            result->errors.push_back({first_no, std::string(line.substr(0, 200)), std::move(reason)});
        }
    };
    size_t pos = 0;
    while (pos < body.size()) {
        size_t eol = LineEnd(body, pos);
        std::string_view line = body.substr(pos, eol - pos);
        first_no = line_no + 1;
        line_no += 1 + static_cast<size_t>(std::count(line.begin(), line.end(), '\n'));
        pos = eol + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        size_t start = line.find_first_not_of(" \t");
        if (start == std::string_view::npos || line[start] == '#') continue;
        line.remove_prefix(start);
        result->lines++;

        std::string reason;
        size_t strings = 0;
        int64_t ts = 0;
        if (!ParseLine(line, options, &measurement, &tags, &series_text, &fields, &strings, &ts, &reason)) {
            fail(line, std::move(reason), true);
            continue;
        }
        // The line's series: found by their text, or made (and checked)
        // when new; a line none of whose fields makes a metric name is
        // dropped whole.
        line_series.clear();
        std::string tags_json;
        std::vector<std::pair<std::string, size_t>> made;  // new series: metric, position in the line
        const int64_t text_found = texts.Find(series_text);
        const uint32_t text_no = text_found >= 0 ? static_cast<uint32_t>(text_found) : texts.Add(series_text);
        const auto series_key = [&](const std::string &field) -> const std::string & {
            key.assign(reinterpret_cast<const char *>(&text_no), sizeof text_no).append(field);
            return key;
        };
        for (size_t i = 0; i < fields.size(); i++) {
            series_key(fields[i].key);
            const int64_t n = known.Find(key);
            if (n >= 0) {
                line_series.push_back(base + static_cast<uint32_t>(n));
                continue;
            }
            std::string metric = MetricName(measurement + "_" + fields[i].key);
            if (metric.empty()) {
                reason = "measurement and field name make no metric name of at most 200 bytes";
                break;
            }
            made.emplace_back(std::move(metric), i);
            line_series.push_back(UINT32_MAX);
        }
        if (line_series.size() != fields.size()) {
            fail(line, std::move(reason), true);
            continue;
        }
        if (!made.empty()) {
            if (!options.extra_tag_key.empty()) {
                auto it = std::lower_bound(tags.begin(), tags.end(), options.extra_tag_key,
                                           [](const auto &t, const std::string &k) { return t.first < k; });
                if (it != tags.end() && it->first == options.extra_tag_key) {
                    it->second = options.extra_tag_value;
                } else {
                    tags.insert(it, {options.extra_tag_key, options.extra_tag_value});
                }
            }
            tags_json = TagsJson(tags);
            size_t longest = 0;
            for (const auto &m : made) longest = std::max(longest, m.first.size());
            if (longest + tags_json.size() > core::kMaxSeriesKeyBytes) {
                fail(line, "metric name and tags take more than " + std::to_string(core::kMaxSeriesKeyBytes) + " bytes",
                     true);
                continue;
            }
            for (auto &[metric, i] : made) {
                series_key(fields[i].key);
                // A field key twice in one line: its second value wins, as
                // for a point written twice.
                const int64_t n = known.Find(key);
                if (n >= 0) {
                    line_series[i] = base + static_cast<uint32_t>(n);
                    continue;
                }
                line_series[i] = base + known.Add(key);
                out->series.push_back({std::move(metric), tags_json});
            }
        }
        for (size_t i = 0; i < fields.size(); i++) out->points.push_back({line_series[i], ts, fields[i].value});
        result->points += fields.size();
        for (size_t i = 0; i < strings; i++) fail(line, "string fields are not stored (only numbers and booleans)", false);
    }
}

}  // namespace aegis::gateway
