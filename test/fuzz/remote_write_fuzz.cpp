// libFuzzer target for aegis-gateway's remote-write decoding
// (src/gateway/prom.h), which reads protobuf's wire format with
// CodedInputStream, and the write requests it makes through a connection's
// series dictionary (src/gateway/request.h). The input is a WriteRequest's
// bytes (snappy-compressed here, as a client sends them). Whatever they are,
// decoding must return; what it returns must hold: every series' samples
// lie within the samples, every timestamp in PostgreSQL's range; a series
// whose labels read gives a valid metric and a tag JSON that reads back;
// the request made of it parses (core/write_request.h) with every slot
// defined, and a second request through the same dictionary defines
// nothing. Anything else aborts.
//
// Built with -DAEGIS_FUZZ_SEED_MAIN instead of -fsanitize=fuzzer, the file is
// a small program that writes seeds (requests built with protobuf's
// generated classes).
#include <snappy.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/write_request.h"
#include "gateway/batch.h"
#include "gateway/prom.h"
#include "gateway/request.h"
#include "remote.pb.h"

using namespace aegis::gateway;

namespace {

void Require(bool ok, const char *what) {
  if (!ok) {
    std::fprintf(stderr, "remote_write_fuzz: %s\n", what);
    std::abort();
  }
}

// The request `builder` made parses, and names only slots it defined or
// the dictionary had.
void CheckRequest(RequestBuilder *builder, size_t samples, size_t *definitions) {
  const std::string bytes = builder->Finish();
  aegis::core::WriteRequest request;
  try {
    aegis::core::ParseWriteRequest(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size(), &request);
  } catch (const aegis::core::Error &) {
    Require(false, "the gateway's request does not parse");
  }
  Require(request.samples.size() == samples, "samples lost in the request");
  *definitions = request.definitions.size();
}

}  // namespace

#ifndef AEGIS_FUZZ_SEED_MAIN

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string body;
  snappy::Compress(reinterpret_cast<const char *>(data), size, &body);
  RemoteWrite decoded;
  std::vector<MetricMetadata> metadata;
  RemoteWriteStats stats;
  std::string error;
  if (!DecodeRemoteWrite(body, 1 << 20, &decoded, &metadata, &stats, &error)) return 0;
  Require(stats.samples == decoded.samples.size(), "samples counted and decoded differ");
  for (const RemoteWrite::Series &s : decoded.series) {
    Require(s.begin < s.end && s.end <= decoded.samples.size(), "a series' samples out of bounds");
  }
  for (const auto &[ts, value] : decoded.samples) {
    (void)value;
    Require(ts >= kMinPgUs && ts < kEndPgUs, "a timestamp outside PostgreSQL's range");
  }
  bool readable = true;
  for (const RemoteWrite::Series &s : decoded.series) {
    std::string metric, tags_json;
    if (!SeriesOfLabels(s.labels, &metric, &tags_json, &error)) {
      readable = false;
      continue;
    }
    Tags tags;
    Require(ParseTagsJson(tags_json, &tags), "tags that do not read back");
    for (const auto &[k, v] : tags) Require(IsUtf8(k) && IsUtf8(v), "a tag that is not UTF-8");
  }
  SeriesDictionary dictionary;
  std::vector<std::string> metrics;
  size_t definitions = 0;
  {
    RequestBuilder builder(&dictionary);
    const bool encoded = EncodeRemoteWrite(decoded, &builder, &metrics, &error);
    Require(encoded == readable, "encoding and reading the labels disagree");
    if (!encoded) return 0;
    CheckRequest(&builder, decoded.samples.size(), &definitions);
    Require(definitions == metrics.size(), "definitions and new metrics differ");
    Require(definitions <= decoded.series.size(), "more definitions than series");
  }
  dictionary.Confirmed();
  RequestBuilder again(&dictionary);
  Require(EncodeRemoteWrite(decoded, &again, &metrics, &error), "a second encoding failed");
  CheckRequest(&again, decoded.samples.size(), &definitions);
  Require(definitions == 0, "a known series defined again");
  return 0;
}

#else

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SEED_DIR\n", argv[0]);
    return 2;
  }
  std::vector<std::string> seeds;
  aegis::prompb::WriteRequest req;
  for (int i = 0; i < 3; i++) {
    auto *ts = req.add_timeseries();
    auto *l = ts->add_labels();
    l->set_name("__name__");
    l->set_value(i == 2 ? "up" : "node_cpu_seconds_total");
    l = ts->add_labels();
    l->set_name(i == 1 ? "mode" : "instance");
    l->set_value(i == 1 ? "idle \"q\"" : "a:9100");
    auto *s = ts->add_samples();
    s->set_timestamp(1700000000000 + i);
    s->set_value(i * 1.5);
    if (i == 1) ts->add_exemplars("e");
  }
  auto *m = req.add_metadata();
  m->set_type(aegis::prompb::MetricMetadata::COUNTER);
  m->set_metric_family_name("node_cpu_seconds");
  m->set_help("Seconds.");
  seeds.push_back(req.SerializeAsString());
  aegis::prompb::WriteRequest empty_labels;
  empty_labels.add_timeseries()->add_samples()->set_value(1);
  seeds.push_back(empty_labels.SerializeAsString());
  for (size_t i = 0; i < seeds.size(); i++) {
    std::string path = std::string(argv[1]) + "/seed" + std::to_string(i);
    FILE *f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return 1;
    std::fwrite(seeds[i].data(), 1, seeds[i].size(), f);
    std::fclose(f);
  }
  return 0;
}

#endif
