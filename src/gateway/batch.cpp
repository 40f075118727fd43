// aegis-gateway: what the parsers share (batch.h).
#include "gateway/batch.h"

#include <algorithm>

namespace aegis::gateway {

void AppendJsonString(std::string &out, std::string_view s) {
    static const char kHex[] = "0123456789abcdef";
    out += '"';
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else {
            out += ch;
        }
    }
    out += '"';
}

std::string TagsJson(Tags &tags) {
    std::sort(tags.begin(), tags.end());
    std::string out = "{";
    for (size_t i = 0; i < tags.size(); i++) {
        if (i > 0) out += ',';
        AppendJsonString(out, tags[i].first);
        out += ':';
        AppendJsonString(out, tags[i].second);
    }
    out += '}';
    return out;
}

bool IsUtf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            if (c == 0) return false;  // PostgreSQL text holds no NUL
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= s.size()) return false;  // cut short
        for (size_t k = 1; k <= n; k++) {
            auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3F);
        }
        // Overlong forms, surrogates and code points past U+10FFFF.
        static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
        if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

std::string MetricName(std::string_view name) {
    std::string out;
    out.reserve(name.size() + 1);
    if (name.empty()) return out;
    char c0 = name[0];
    if (!((c0 >= 'A' && c0 <= 'Z') || (c0 >= 'a' && c0 <= 'z') || c0 == '_')) out += '_';
    for (char c : name) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '.' || c == ':' || c == '-';
        out += ok ? c : '_';
    }
    if (out.size() > 200) out.clear();
    return out;
}

}  // namespace aegis::gateway
