// libFuzzer target for the two formats the server reads from outside a
// block: a gateway write request (core/write_request.h, the argument of
// aegis._write_request) and a packed batch (core/packed_batch.h, a row of
// aegis.packed_points). The first byte picks the reader; the rest is its
// input. Whatever the input, the reader returns or throws core::Error, and
// what it accepts holds: every sample names a series of the request, every
// batch's series ascend and its points are in order within each series.
//
// Built with -DAEGIS_FUZZ_SEED_MAIN instead of -fsanitize=fuzzer, the file is
// a small program that writes seeds (valid examples of each).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/packed_batch.h"
#include "core/write_request.h"

using namespace aegis::core;

namespace {

void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "packed_fuzz: %s\n", what);
    std::abort();
  }
}

void CheckRequest(const uint8_t* data, size_t size) {
  WriteRequest request;
  try {
    ParseWriteRequest(data, size, &request);
  } catch (const Error&) {
    return;
  }
  for (const WriteRequest::Sample& s : request.samples)
    Require(s.slot < request.first_slot + request.definitions.size(), "sample slot");
  for (const WriteRequest::Series& s : request.definitions) {
    Require(s.metric.data() >= reinterpret_cast<const char*>(data) &&
                s.metric.data() + s.metric.size() <= reinterpret_cast<const char*>(data) + size,
            "metric outside the input");
    Require(s.tags.data() >= reinterpret_cast<const char*>(data) &&
                s.tags.data() + s.tags.size() <= reinterpret_cast<const char*>(data) + size,
            "tags outside the input");
  }
}

void CheckBatch(const uint8_t* data, size_t size) {
  try {
    PackedBatchView view(data, size);
    size_t total = 0;
    for (size_t i = 0; i < view.series(); ++i) {
      if (i > 0) Require(view.series_id(i) > view.series_id(i - 1), "series out of order");
      Require(view.begin(i) < view.end(i) && view.end(i) <= view.points(), "series range");
      for (size_t p = view.begin(i) + 1; p < view.end(i); ++p) Require(view.ts(p) > view.ts(p - 1), "time order");
      Require(view.Find(view.series_id(i)) == i, "find");
      SeriesPoints all;
      view.AppendRange(i, kTimestampMinusInfinity, kTimestampInfinity, &all);
      total += all.size();
    }
    Require(total == view.points(), "point count");
  } catch (const Error&) {
  }
}

}  // namespace

#ifdef AEGIS_FUZZ_SEED_MAIN
int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto write = [&](const std::string& name, char kind, const std::string& body) {
    std::string path = std::string(argv[1]) + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) std::abort();
    std::fputc(kind, f);
    std::fwrite(body.data(), 1, body.size(), f);
    std::fclose(f);
  };
  std::string request(kWriteRequestHeaderBytes, '\0');
  AppendWriteRequestDefinition(&request, "up", "{\"job\":\"a\"}");
  AppendWriteRequestDefinition(&request, "cpu", "{}");
  AppendWriteRequestSample(&request, 0, 10, 1.0);
  AppendWriteRequestSample(&request, 1, 20, 2.0);
  AppendWriteRequestSample(&request, 0, 30, 3.0);
  PutWriteRequestHeader(&request[0], 1, true, 0, 2, 3);
  write("request", 'r', request);
  SeriesPoints a, b;
  a.push_back(1, 1.5);
  a.push_back(2, 2.5);
  b.push_back(-7, 0.0);
  const int64_t ids[] = {3, 9};
  const SeriesPoints* points[] = {&a, &b};
  std::string batch(PackedBatchSize(2, 3), '\0');
  EncodePackedBatch(ids, points, 2, reinterpret_cast<uint8_t*>(&batch[0]));
  write("batch", 'b', batch);
  return 0;
}
#else
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] & 1)
    CheckRequest(data + 1, size - 1);
  else
    CheckBatch(data + 1, size - 1);
  return 0;
}
#endif
