// aegis-gateway: what the parsers share (batch.h).
#include "gateway/batch.h"

#include <algorithm>
#include <cstring>
#include <random>

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

namespace {

inline uint64_t Rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

inline void SipRound(uint64_t &v0, uint64_t &v1, uint64_t &v2, uint64_t &v3) {
    v0 += v1;
    v1 = Rotl(v1, 13);
    v1 ^= v0;
    v0 = Rotl(v0, 32);
    v2 += v3;
    v3 = Rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = Rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = Rotl(v1, 17);
    v1 ^= v2;
    v2 = Rotl(v2, 32);
}

}  // namespace

template <int C, int D>
uint64_t SipHash(uint64_t k0, uint64_t k1, std::string_view data) {
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    const size_t whole = data.size() & ~size_t{7};
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m;
        std::memcpy(&m, data.data() + i, 8);  // little-endian, as SipHash reads words
        v3 ^= m;
        for (int r = 0; r < C; r++) SipRound(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t last = static_cast<uint64_t>(data.size()) << 56;
    for (size_t i = whole; i < data.size(); i++) {
        last |= static_cast<uint64_t>(static_cast<uint8_t>(data[i])) << (8 * (i - whole));
    }
    v3 ^= last;
    for (int r = 0; r < C; r++) SipRound(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= 0xff;
    for (int r = 0; r < D; r++) SipRound(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

template uint64_t SipHash<1, 3>(uint64_t, uint64_t, std::string_view);
template uint64_t SipHash<2, 4>(uint64_t, uint64_t, std::string_view);

uint64_t KeyIndex::Hash(std::string_view key) {
    static const std::pair<uint64_t, uint64_t> kKey = [] {
        std::random_device rd;
        const uint64_t a = (static_cast<uint64_t>(rd()) << 32) ^ rd(), b = (static_cast<uint64_t>(rd()) << 32) ^ rd();
        return std::make_pair(a, b);
    }();
    return SipHash<1, 3>(kKey.first, kKey.second, key);
}

void KeyIndex::Clear() {
    keys_.clear();
    offsets_.assign(1, 0);
    hashes_.clear();
    table_.assign(1024, 0);
}

int64_t KeyIndex::Find(std::string_view key) const {
    const uint64_t h = Hash(key);
    const size_t mask = table_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const uint32_t entry = table_[i];
        if (entry == 0) return -1;
        if (hashes_[entry - 1] == h && KeyOf(entry - 1) == key) return entry - 1;
    }
}

void KeyIndex::Grow() {
    std::vector<uint32_t> table(table_.size() * 2, 0);
    const size_t mask = table.size() - 1;
    for (uint32_t n = 0; n < size(); n++) {
        size_t i = hashes_[n] & mask;
        while (table[i] != 0) i = (i + 1) & mask;
        table[i] = n + 1;
    }
    table_.swap(table);
}

uint32_t KeyIndex::Add(std::string_view key) {
    if ((size() + 1) * 2 > table_.size()) Grow();
    const uint32_t n = size();
    const uint64_t h = Hash(key);
    keys_.append(key);
    offsets_.push_back(static_cast<uint32_t>(keys_.size()));
    hashes_.push_back(h);
    const size_t mask = table_.size() - 1;
    size_t i = h & mask;
    while (table_[i] != 0) i = (i + 1) & mask;
    table_[i] = n + 1;
    return n;
}

bool SortTagsUnique(Tags *tags) {
    std::sort(tags->begin(), tags->end());
    for (size_t i = 1; i < tags->size(); i++) {
        if ((*tags)[i].first == (*tags)[i - 1].first) return false;
    }
    return true;
}

namespace {

template <typename Pairs>
std::string SortedTagsJson(Pairs &tags) {
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

}  // namespace

std::string TagsJson(Tags &tags) { return SortedTagsJson(tags); }
std::string TagsJson(TagViews &tags) { return SortedTagsJson(tags); }

namespace {

void AppendUtf8(std::string &out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

class JsonReader {
public:
    explicit JsonReader(std::string_view s) : s_(s) {}
    void Space() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) i_++;
    }
    bool Take(char c) {
        Space();
        if (i_ < s_.size() && s_[i_] == c) {
            i_++;
            return true;
        }
        return false;
    }
    bool AtEnd() {
        Space();
        return i_ == s_.size();
    }
    bool Hex4(uint32_t *v) {
        if (i_ + 4 > s_.size()) return false;
        *v = 0;
        for (int k = 0; k < 4; k++) {
            char c = s_[i_++];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) return false;
            *v = *v * 16 + static_cast<uint32_t>(d);
        }
        return true;
    }
    bool String(std::string *out) {
        out->clear();
        if (!Take('"')) return false;
        while (i_ < s_.size()) {
            char c = s_[i_++];
            if (c == '"') return true;
            if (c != '\\') {
                *out += c;
                continue;
            }
            if (i_ >= s_.size()) return false;
            char e = s_[i_++];
            static constexpr std::string_view kFrom = "\"\\/bfnrt", kTo = "\"\\/\b\f\n\r\t";
            size_t k = kFrom.find(e);
            if (k != std::string_view::npos) {
                *out += kTo[k];
                continue;
            }
            uint32_t cp = 0, low = 0;
            if (e != 'u' || !Hex4(&cp)) return false;
            if (cp >= 0xD800 && cp < 0xDC00) {
                if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u') return false;
                i_ += 2;
                if (!Hex4(&low) || low < 0xDC00 || low > 0xDFFF) return false;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return false;
            }
            AppendUtf8(*out, cp);
        }
        return false;
    }

private:
    std::string_view s_;
    size_t i_ = 0;
};

}  // namespace

bool ParseTagsJson(std::string_view json, Tags *tags) {
    tags->clear();
    JsonReader r(json);
    if (!r.Take('{')) return false;
    if (r.Take('}')) return r.AtEnd();
    std::string k, v;
    do {
        if (!r.String(&k) || !r.Take(':') || !r.String(&v)) return false;
        tags->emplace_back(k, v);
    } while (r.Take(','));
    return r.Take('}') && r.AtEnd();
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

std::vector<std::pair<std::string, std::string>> MetadataTargets(const MetricMetadata &m) {
    const std::string &f = m.metric;
    if (m.kind == "histogram" || m.kind == "summary") {
        return {{f, m.kind}, {f + "_bucket", m.kind}, {f + "_sum", "counter"}, {f + "_count", "counter"}};
    }
    if (m.kind == "counter") return {{f, m.kind}, {f + "_total", m.kind}};
    return {{f, m.kind}};
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
