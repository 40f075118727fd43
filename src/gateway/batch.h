// aegis-gateway: the samples of one request, as the database receives them.
//
// A request (a remote-write body, a line-protocol body, a chunk of a file) is
// parsed into one Batch and written in one transaction (writer.h): all of it
// is committed or none of it. Pure C++, no libpq or protobuf, so the parsers
// are unit-tested on their own (test/unit/gateway_*_test.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aegis::gateway {

// PostgreSQL's epoch (2000-01-01 00:00 UTC) in microseconds since the Unix
// epoch: timestamps travel to the server as microseconds since the former.
constexpr int64_t kPgEpochUnixUs = 946684800LL * 1000000;
// PostgreSQL's timestamptz range, in microseconds since its epoch: from
// 4713-11-24 BC to just before 294277-01-01 (MIN_TIMESTAMP, END_TIMESTAMP).
constexpr int64_t kMinPgUs = -211813488000000000LL;
constexpr int64_t kEndPgUs = 9223371331200000000LL;

struct Batch {
    struct Series {
        std::string metric;
        std::string tags_json;  // a JSON object of string keys to string values, keys sorted
    };
    struct Point {
        uint32_t series;  // index into `series`
        int64_t ts;       // microseconds since 2000-01-01 00:00 UTC
        double value;
    };
    std::vector<Series> series;
    std::vector<Point> points;

    void Clear() {
        series.clear();
        points.clear();
    }
};

// SipHash-c-d of `data` under the 128-bit key (k0, k1), as Aumasson and
// Bernstein define it (SipHash-2-4 is the reference; test vectors in
// test/unit/gateway_line_protocol_test.cpp).
template <int C, int D>
uint64_t SipHash(uint64_t k0, uint64_t k1, std::string_view data);

// Distinct byte strings, each given the next number (0, 1, ...) when added:
// open addressing over their hashes, the strings one after the other in one
// buffer. A series dictionary's slots (request.h) and a line-protocol
// batch's series are numbered with it. The hash is SipHash-1-3 under a key
// drawn once per process, so a client cannot choose keys that collide.
class KeyIndex {
public:
    KeyIndex() { Clear(); }
    void Clear();
    uint32_t size() const { return static_cast<uint32_t>(hashes_.size()); }
    size_t bytes() const { return keys_.size(); }
    // The number of `key`, or -1.
    int64_t Find(std::string_view key) const;
    // Gives `key` (which Find does not know) the next number.
    uint32_t Add(std::string_view key);

private:
    static uint64_t Hash(std::string_view key);
    std::string_view KeyOf(uint32_t n) const {
        return std::string_view(keys_).substr(offsets_[n], offsets_[n + 1] - offsets_[n]);
    }
    void Grow();

    std::string keys_;               // every key, one after the other
    std::vector<uint32_t> offsets_;  // key n is [offsets_[n], offsets_[n + 1])
    std::vector<uint64_t> hashes_;   // by number
    std::vector<uint32_t> table_;    // number + 1, 0 empty
};

using Tags = std::vector<std::pair<std::string, std::string>>;
// Tags that point into a parsed message (a remote-write request's labels).
using TagViews = std::vector<std::pair<std::string_view, std::string_view>>;

// A metric family's metadata (Prometheus remote write, OpenMetrics TYPE,
// UNIT and HELP lines).
struct MetricMetadata {
    std::string metric;
    std::string kind;  // the extension's: gauge, counter, histogram, summary; empty: none
    std::string unit;
    std::string help;
};

// The metrics one metadata entry describes, with the kind each gets: a
// counter family foo is foo and foo_total; a histogram or summary family foo
// is foo and foo_bucket (its kind) and foo_sum, foo_count (counters); any
// other family is itself.
std::vector<std::pair<std::string, std::string>> MetadataTargets(const MetricMetadata &m);


// Appends `s` as a JSON string (quoted, escaped).
void AppendJsonString(std::string &out, std::string_view s);
// Sorts the tags by key; false when a key appears twice.
bool SortTagsUnique(Tags *tags);
// The tags as a JSON object with the keys in byte order. The caller makes the
// keys unique.
std::string TagsJson(Tags &tags);
std::string TagsJson(TagViews &tags);
// Reads a JSON object of string keys to string values, as PostgreSQL writes
// a jsonb tag set ({"k": "v", ...}; escapes \" \\ \/ \b \f \n \r \t \uXXXX,
// surrogate pairs too) into `tags`, in the text's order; false when it is
// anything else.
bool ParseTagsJson(std::string_view json, Tags *tags);
// Whether `s` is valid UTF-8 (what a PostgreSQL database in UTF8 accepts).
bool IsUtf8(std::string_view s);
// A metric name the extension accepts (^[A-Za-z_][A-Za-z0-9_.:-]*$, at most
// 200 bytes), made from `name` the way Telegraf's Prometheus output names
// metrics: every other byte becomes '_', and a name that does not start with
// a letter or '_' gets a '_' in front. Empty when nothing usable is left.
std::string MetricName(std::string_view name);

}  // namespace aegis::gateway
