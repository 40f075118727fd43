// aegis-gateway: OpenMetrics text (openmetrics.h).
#include "gateway/openmetrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace aegis::gateway {

namespace {

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

// A float as OpenMetrics writes it: decimal or exponent forms, NaN, +Inf, -Inf.
bool ParseValue(std::string_view t, double *v) {
    if (t == "NaN") {
        *v = std::numeric_limits<double>::quiet_NaN();
        return true;
    }
    if (t == "+Inf" || t == "Inf") {
        *v = std::numeric_limits<double>::infinity();
        return true;
    }
    if (t == "-Inf") {
        *v = -std::numeric_limits<double>::infinity();
        return true;
    }
    if (!t.empty() && t[0] == '+') {
        t.remove_prefix(1);
        if (!t.empty() && (t[0] == '-' || t[0] == '+')) return false;
    }
    if (t.empty()) return false;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), *v);
    return ec == std::errc() && p == t.data() + t.size() && std::isfinite(*v);
}

// Seconds with an optional fraction, to microseconds since the Unix epoch.
bool ParseSeconds(std::string_view t, int64_t *unix_us) {
    bool negative = !t.empty() && t[0] == '-';
    if (negative) t.remove_prefix(1);
    if (t.empty() || t[0] < '0' || t[0] > '9') return false;
    size_t dot = t.find('.');
    std::string_view whole = t.substr(0, dot), frac = dot == std::string_view::npos ? "" : t.substr(dot + 1);
    int64_t s = 0;
    auto [p, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), s);
    if (ec != std::errc() || p != whole.data() + whole.size() || whole.empty()) return false;
    int64_t us = 0;
    for (size_t i = 0; i < frac.size(); i++) {
        if (frac[i] < '0' || frac[i] > '9') return false;
        if (i < 6) us = us * 10 + (frac[i] - '0');
    }
    for (size_t i = frac.size(); i < 6; i++) us *= 10;
    int64_t total = 0;
    if (__builtin_mul_overflow(s, int64_t{1000000}, &total) || __builtin_add_overflow(total, us, &total)) return false;
    *unix_us = negative ? -total : total;
    return true;
}

// One sample line; false with `reason`.
bool ParseSample(std::string_view line, int64_t now_unix_us, std::string *name, Tags *tags, double *value,
                 int64_t *ts_pg, std::string *reason) {
    size_t i = 0;
    while (i < line.size() && IsNameChar(line[i])) i++;
    if (i == 0 || !IsNameStart(line[0])) {
        *reason = "missing or invalid metric name";
        return false;
    }
    *name = std::string(line.substr(0, i));
    if (MetricName(*name).empty()) {
        *reason = "metric name longer than 200 bytes";
        return false;
    }
    tags->clear();
    if (i < line.size() && line[i] == '{') {
        i++;
        while (i < line.size() && line[i] != '}') {
            size_t k = i;
            while (i < line.size() && IsNameChar(line[i])) i++;
            std::string key(line.substr(k, i - k));
            if (key.empty() || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') {
                *reason = "invalid label";
                return false;
            }
            i += 2;
            std::string val;
            bool closed = false;
            while (i < line.size()) {
                char c = line[i++];
                if (c == '"') {
                    closed = true;
                    break;
                }
                if (c == '\\' && i < line.size()) {
                    char e = line[i++];
                    val += e == 'n' ? '\n' : e;
                    if (e != 'n' && e != '\\' && e != '"') {
                        *reason = "invalid escape in a label value";
                        return false;
                    }
                    continue;
                }
                val += c;
            }
            if (!closed) {
                *reason = "unterminated label value";
                return false;
            }
            if (!IsUtf8(val) || !IsUtf8(key)) {
                *reason = "label is not valid UTF-8";
                return false;
            }
            if (key != "__name__" && !val.empty()) tags->emplace_back(std::move(key), std::move(val));
            if (i < line.size() && line[i] == ',') {
                i++;
            } else if (i < line.size() && line[i] != '}') {
                *reason = "expected ',' or '}' after a label";
                return false;
            }
        }
        if (i >= line.size()) {
            *reason = "unterminated label set";
            return false;
        }
        i++;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') {
        *reason = "missing value";
        return false;
    }
    std::string_view rest = line.substr(i + 1);
    // An exemplar (" # {...} value [ts]") is not stored.
    size_t ex = rest.find(" # ");
    if (ex != std::string_view::npos) rest = rest.substr(0, ex);
    size_t sp = rest.find(' ');
    std::string_view value_text = rest.substr(0, sp);
    if (!ParseValue(value_text, value)) {
        *reason = "invalid value";
        return false;
    }
    int64_t unix_us = now_unix_us;
    if (sp != std::string_view::npos) {
        std::string_view ts = rest.substr(sp + 1);
        if (!ts.empty() && !ParseSeconds(ts, &unix_us)) {
            *reason = "invalid timestamp";
            return false;
        }
    }
    int64_t pg = 0;
    if (__builtin_sub_overflow(unix_us, kPgEpochUnixUs, &pg) || pg < kMinPgUs || pg >= kEndPgUs) {
        *reason = "timestamp out of range";
        return false;
    }
    *ts_pg = pg;
    if (!SortTagsUnique(tags)) {
        *reason = "duplicate label";
        return false;
    }
    return true;
}

const char *KindWord(std::string_view type) {
    if (type == "counter") return "counter";
    if (type == "gauge") return "gauge";
    if (type == "histogram" || type == "gaugehistogram") return "histogram";
    if (type == "summary") return "summary";
    return "";
}

}  // namespace

void ParseOpenMetrics(std::string_view text, int64_t now_unix_us, Batch *out, std::vector<MetricMetadata> *metadata,
                      LineProtocolResult *result) {
    std::string name, reason, last_key;
    Tags tags;
    size_t pos = 0, line_no = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        std::string_view line = text.substr(pos, eol - pos);
        pos = eol + 1;
        line_no++;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        if (line == "# EOF") break;  // nothing after it belongs to the exposition
        if (line[0] == '#') {
            // # TYPE name type, # HELP name text, # UNIT name unit
            std::string_view rest = line.substr(1);
            while (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
            size_t sp = rest.find(' ');
            std::string_view word = rest.substr(0, sp);
            if (sp == std::string_view::npos || (word != "TYPE" && word != "HELP" && word != "UNIT")) continue;
            rest = rest.substr(sp + 1);
            sp = rest.find(' ');
            std::string family = MetricName(rest.substr(0, sp));
            std::string arg = sp == std::string_view::npos ? "" : std::string(rest.substr(sp + 1));
            if (family.empty()) continue;
            if (metadata->empty() || metadata->back().metric != family) metadata->push_back({family, "", "", ""});
            MetricMetadata &m = metadata->back();
            if (word == "TYPE") m.kind = KindWord(arg);
            if (word == "HELP") m.help = arg;
            if (word == "UNIT") m.unit = arg;
            continue;
        }
        result->lines++;
        double value = 0;
        int64_t ts = 0;
        if (!ParseSample(line, now_unix_us, &name, &tags, &value, &ts, &reason)) {
            result->dropped_lines++;
            if (result->errors.size() < LineProtocolResult::kMaxErrors) {
                result->errors.push_back({line_no, std::string(line.substr(0, 200)), reason});
            }
            continue;
        }
        std::string metric = MetricName(name);
        std::string tags_json = TagsJson(tags);
        std::string key = metric + '\0' + tags_json;
        if (out->series.empty() || key != last_key) {
            out->series.push_back({std::move(metric), std::move(tags_json)});
            last_key = std::move(key);
        }
        out->points.push_back({static_cast<uint32_t>(out->series.size() - 1), ts, value});
        result->points++;
    }
}

}  // namespace aegis::gateway
