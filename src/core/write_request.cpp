#include "core/write_request.h"

#include <cstring>

#include "core/error.h"

namespace aegis::core {

namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "write requests are read as little-endian");

template <typename T>
void Put(std::string* out, T v) {
  char bytes[sizeof v];
  std::memcpy(bytes, &v, sizeof v);
  out->append(bytes, sizeof v);
}

[[noreturn]] void Bad(const std::string& detail) {
  throw Error(ErrorCategory::InvalidParameter, "malformed write request", detail);
}

// Reads from [p, end), checking every length.
struct Reader {
  const uint8_t* p;
  const uint8_t* end;

  template <typename T>
  T Take(const char* what) {
    if (static_cast<size_t>(end - p) < sizeof(T)) Bad(std::string("it ends inside ") + what);
    T v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }
  std::string_view Bytes(uint32_t n, const char* what) {
    if (static_cast<size_t>(end - p) < n) Bad(std::string("it ends inside ") + what);
    std::string_view s(reinterpret_cast<const char*>(p), n);
    p += n;
    return s;
  }
};

}  // namespace

void AppendWriteRequestHeader(std::string* out, uint32_t series, uint32_t samples) {
  Put<uint32_t>(out, kWriteRequestMagic);
  Put<uint32_t>(out, kWriteRequestVersion);
  Put<uint32_t>(out, series);
  Put<uint32_t>(out, samples);
}

void AppendWriteRequestSeries(std::string* out, std::string_view metric, std::string_view tags) {
  Put<uint32_t>(out, static_cast<uint32_t>(metric.size()));
  out->append(metric);
  Put<uint32_t>(out, static_cast<uint32_t>(tags.size()));
  out->append(tags);
}

void AppendWriteRequestSample(std::string* out, uint32_t series, Timestamp ts, double value) {
  Put<uint32_t>(out, series);
  Put<int64_t>(out, ts);
  Put<double>(out, value);
}

void ParseWriteRequest(const uint8_t* data, size_t size, WriteRequest* out) {
  Reader r{data, data + size};
  if (r.Take<uint32_t>("the header") != kWriteRequestMagic) Bad("it does not start with AEWR");
  const uint32_t version = r.Take<uint32_t>("the header");
  if (version != kWriteRequestVersion) Bad("version " + std::to_string(version) + ", this server reads 1");
  const uint32_t series = r.Take<uint32_t>("the header");
  const uint32_t samples = r.Take<uint32_t>("the header");
  // Each series takes at least 8 bytes, each sample 20: counts the bytes
  // cannot hold are refused before anything is reserved. More series than
  // samples is refused too, so what a reader allocates per series stays
  // within a small multiple of the request's size.
  const size_t left = static_cast<size_t>(r.end - r.p);
  if (series > left / 8 || samples > left / 20)
    Bad(std::to_string(series) + " series and " + std::to_string(samples) + " samples do not fit in " +
        std::to_string(size) + " bytes");
  if (series > samples) Bad(std::to_string(series) + " series for " + std::to_string(samples) + " samples");
  out->series.clear();
  out->samples.clear();
  out->series.reserve(series);
  for (uint32_t i = 0; i < series; ++i) {
    WriteRequest::Series s;
    s.metric = r.Bytes(r.Take<uint32_t>("a series"), "a metric name");
    s.tags = r.Bytes(r.Take<uint32_t>("a series"), "a tag set");
    out->series.push_back(s);
  }
  if (static_cast<size_t>(r.end - r.p) != static_cast<size_t>(samples) * 20)
    Bad(std::to_string(r.end - r.p) + " bytes follow the series, not " + std::to_string(samples) + " samples of 20");
  out->samples.resize(samples);
  for (uint32_t i = 0; i < samples; ++i) {
    WriteRequest::Sample& s = out->samples[i];
    s.series = r.Take<uint32_t>("a sample");
    if (s.series >= series)
      Bad("sample " + std::to_string(i) + " names series " + std::to_string(s.series) + " of " +
          std::to_string(series));
    s.ts = r.Take<int64_t>("a sample");
    s.value = r.Take<double>("a sample");
  }
}

}  // namespace aegis::core
