// libFuzzer target for aegis-gateway's parsers (src/gateway): InfluxDB line
// protocol, OpenMetrics text, the tag JSON reader and the batch cutter of
// `load`. The first byte picks the parser (and, for line protocol, the
// precision); the rest is its input. Whatever the input, every parser must
// return, and what it returns must hold: every point names a series of the
// batch, every metric is a name the extension accepts, every tag set is a
// JSON object that reads back to sorted, unique keys, every timestamp is in
// PostgreSQL's range, and the line counts add up. Anything else aborts.
//
// Built with -DAEGIS_FUZZ_SEED_MAIN instead of -fsanitize=fuzzer, the file is
// a small program that writes seeds (valid and broken examples of each).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/batch.h"
#include "gateway/line_protocol.h"
#include "gateway/openmetrics.h"

using namespace aegis::gateway;

namespace {

void Require(bool ok, const char *what) {
  if (!ok) {
    std::fprintf(stderr, "gateway_parsers_fuzz: %s\n", what);
    std::abort();
  }
}

bool ValidMetric(const std::string &m) {
  if (m.empty() || m.size() > 200) return false;
  char c0 = m[0];
  if (!((c0 >= 'A' && c0 <= 'Z') || (c0 >= 'a' && c0 <= 'z') || c0 == '_')) return false;
  for (char c : m) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void CheckBatch(const Batch &b, const LineProtocolResult &r) {
  Require(r.points == b.points.size(), "points counted and points in the batch differ");
  Require(r.dropped_lines <= r.lines, "more lines dropped than read");
  for (const Batch::Point &p : b.points) {
    Require(p.series < b.series.size(), "a point names no series");
    Require(p.ts >= kMinPgUs && p.ts < kEndPgUs, "a timestamp outside PostgreSQL's range");
  }
  for (const Batch::Series &s : b.series) {
    Require(ValidMetric(s.metric), "an invalid metric name");
    Tags tags;
    Require(ParseTagsJson(s.tags_json, &tags), "tags that do not read back");
    for (size_t i = 1; i < tags.size(); i++) Require(tags[i - 1].first < tags[i].first, "tags not sorted and unique");
    for (const auto &[k, v] : tags) Require(IsUtf8(k) && IsUtf8(v), "a tag that is not UTF-8");
  }
}

}  // namespace

#ifndef AEGIS_FUZZ_SEED_MAIN

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  std::string_view text(reinterpret_cast<const char *>(data + 1), size - 1);
  const uint8_t mode = data[0];
  Batch batch;
  LineProtocolResult result;
  switch (mode % 4) {
    case 0: {
      static const Precision kPrecisions[] = {Precision::kNanoseconds, Precision::kMicroseconds,
                                              Precision::kMilliseconds, Precision::kSeconds, Precision::kMinutes,
                                              Precision::kHours};
      LineProtocolOptions o;
      o.precision = kPrecisions[(mode / 4) % 6];
      o.now_unix_ns = 1700000000123456789LL;
      if (mode & 0x80) {
        o.extra_tag_key = "db";
        o.extra_tag_value = "fuzz";
      }
      ParseLineProtocol(text, o, &batch, &result);
      CheckBatch(batch, result);
      break;
    }
    case 1: {
      std::vector<MetricMetadata> metadata;
      ParseOpenMetrics(text, 1700000000123456LL, &batch, &metadata, &result);
      CheckBatch(batch, result);
      for (const MetricMetadata &m : metadata) Require(ValidMetric(m.metric), "metadata of an invalid metric");
      break;
    }
    case 2: {
      Tags tags;
      if (ParseTagsJson(text, &tags)) {
        Tags copy = tags;
        if (SortTagsUnique(&copy)) {
          Tags again;
          Require(ParseTagsJson(TagsJson(copy), &again) && again == copy, "TagsJson does not read back");
        }
      }
      break;
    }
    default: {
      size_t whole = CompleteLines(text);
      Require(whole <= text.size(), "CompleteLines past the end");
      Require(whole == 0 || text[whole - 1] == '\n', "CompleteLines not after a newline");
      Require(LineEnd(text, 0) <= text.size(), "LineEnd past the end");
      break;
    }
  }
  return 0;
}

#else

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SEED_DIR\n", argv[0]);
    return 2;
  }
  const std::vector<std::pair<uint8_t, std::string>> seeds = {
      {0x0C, "cpu,host=a\\ b,region=eu usage=1.5,idle=98i,ok=true,s=\"x y\" 1700000000\n"},
      {0x80, "m\\,x,t\\=k=v\\ w f\\ g=1u 1\nbad line\n# c\n\n"},
      {0x00, "m s=\"open\nn v=2 2\n"},
      {0x01, "# TYPE a counter\n# HELP a Help.\na_total{x=\"1\\\"\\\\\\n\"} 1 1700000000.5\nb NaN\n# EOF\n"},
      {0x01, "c{le=\"+Inf\"} +Inf 1 # {id=\"e\"} 1 1\n"},
      {0x02, "{\"a\": \"\\u00e9\\ud83d\\ude00\", \"b\": \"\\n\"}"},
      {0x03, "a v=1 1\nb s=\"x\ny\" 2\nc v=3"},
  };
  for (size_t i = 0; i < seeds.size(); i++) {
    std::string path = std::string(argv[1]) + "/seed" + std::to_string(i);
    FILE *f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return 1;
    std::fputc(seeds[i].first, f);
    std::fwrite(seeds[i].second.data(), 1, seeds[i].second.size(), f);
    std::fclose(f);
  }
  return 0;
}

#endif
