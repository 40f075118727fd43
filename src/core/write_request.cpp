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

template <typename T>
char* PutAt(char* at, T v) {
  std::memcpy(at, &v, sizeof v);
  return at + sizeof v;
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

void PutWriteRequestHeader(char* header, uint64_t dictionary, bool reset, uint32_t first_slot, uint32_t definitions,
                           uint32_t samples) {
  char* at = PutAt<uint32_t>(header, kWriteRequestMagic);
  at = PutAt<uint32_t>(at, kWriteRequestVersion);
  at = PutAt<uint64_t>(at, dictionary);
  at = PutAt<uint32_t>(at, reset ? kWriteRequestReset : 0);
  at = PutAt<uint32_t>(at, first_slot);
  at = PutAt<uint32_t>(at, definitions);
  PutAt<uint32_t>(at, samples);
}

void AppendWriteRequestDefinition(std::string* out, std::string_view metric, std::string_view tags) {
  Put<uint32_t>(out, static_cast<uint32_t>(metric.size()));
  out->append(metric);
  Put<uint32_t>(out, static_cast<uint32_t>(tags.size()));
  out->append(tags);
}

void AppendWriteRequestSample(std::string* out, uint32_t slot, Timestamp ts, double value) {
  Put<uint32_t>(out, slot);
  Put<int64_t>(out, ts);
  Put<double>(out, value);
}

void ParseWriteRequest(const uint8_t* data, size_t size, WriteRequest* out) {
  Reader r{data, data + size};
  if (r.Take<uint32_t>("the header") != kWriteRequestMagic) Bad("it does not start with AEWR");
  const uint32_t version = r.Take<uint32_t>("the header");
  if (version != kWriteRequestVersion)
    Bad("version " + std::to_string(version) + ", this server reads " + std::to_string(kWriteRequestVersion));
  out->dictionary = r.Take<uint64_t>("the header");
  const uint32_t flags = r.Take<uint32_t>("the header");
  if ((flags & ~kWriteRequestReset) != 0) Bad("unknown flags " + std::to_string(flags));
  out->reset = (flags & kWriteRequestReset) != 0;
  out->first_slot = r.Take<uint32_t>("the header");
  const uint32_t definitions = r.Take<uint32_t>("the header");
  const uint32_t samples = r.Take<uint32_t>("the header");
  if (out->reset && out->first_slot != 0) Bad("a reset request starts at slot " + std::to_string(out->first_slot));
  // Each definition takes at least 8 bytes, each sample 20: counts the bytes
  // cannot hold are refused before anything is reserved. More definitions
  // than samples is refused too, so what a reader allocates per series stays
  // within a small multiple of the request's size.
  const size_t left = static_cast<size_t>(r.end - r.p);
  if (definitions > left / 8 || samples > left / 20)
    Bad(std::to_string(definitions) + " definitions and " + std::to_string(samples) + " samples do not fit in " +
        std::to_string(size) + " bytes");
  if (definitions > samples)
    Bad(std::to_string(definitions) + " definitions for " + std::to_string(samples) + " samples");
  const uint64_t slots = uint64_t{out->first_slot} + definitions;
  if (slots > kWriteRequestMaxSlots)
    Bad("slots up to " + std::to_string(slots) + ", more than " + std::to_string(kWriteRequestMaxSlots));
  out->definitions.clear();
  out->samples.clear();
  out->definitions.reserve(definitions);
  for (uint32_t i = 0; i < definitions; ++i) {
    WriteRequest::Series s;
    s.metric = r.Bytes(r.Take<uint32_t>("a definition"), "a metric name");
    s.tags = r.Bytes(r.Take<uint32_t>("a definition"), "a tag set");
    out->definitions.push_back(s);
  }
  if (static_cast<size_t>(r.end - r.p) != static_cast<size_t>(samples) * 20)
    Bad(std::to_string(r.end - r.p) + " bytes follow the definitions, not " + std::to_string(samples) +
        " samples of 20");
  out->samples.resize(samples);
  for (uint32_t i = 0; i < samples; ++i) {
    WriteRequest::Sample& s = out->samples[i];
    s.slot = r.Take<uint32_t>("a sample");
    if (s.slot >= slots)
      Bad("sample " + std::to_string(i) + " names slot " + std::to_string(s.slot) + "; the dictionary has " +
          std::to_string(slots));
    s.ts = r.Take<int64_t>("a sample");
    s.value = r.Take<double>("a sample");
  }
}

}  // namespace aegis::core
