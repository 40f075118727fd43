#include "core/write_request.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"

namespace aegis::core {
namespace {

// A request of dictionary 7 that defines slots first, first + 1 and has
// three samples.
std::string Sample(bool reset = false, uint32_t first = 5) {
  std::string r(kWriteRequestHeaderBytes, '\0');
  AppendWriteRequestDefinition(&r, "up", "{\"job\": \"a\"}");
  AppendWriteRequestDefinition(&r, "cpu_seconds_total", "{}");
  AppendWriteRequestSample(&r, first, 10, 1.0);
  AppendWriteRequestSample(&r, first + 1, -5, -0.0);
  AppendWriteRequestSample(&r, 0, 20, 2.5);
  PutWriteRequestHeader(r.data(), 7, reset, first, 2, 3);
  return r;
}

void Parse(const std::string& r, WriteRequest* out) {
  ParseWriteRequest(reinterpret_cast<const uint8_t*>(r.data()), r.size(), out);
}

TEST(WriteRequest, RoundTrips) {
  const std::string r = Sample();
  WriteRequest req;
  Parse(r, &req);
  EXPECT_EQ(req.dictionary, 7u);
  EXPECT_FALSE(req.reset);
  EXPECT_EQ(req.first_slot, 5u);
  ASSERT_EQ(req.definitions.size(), 2u);
  EXPECT_EQ(req.definitions[0].metric, "up");
  EXPECT_EQ(req.definitions[0].tags, "{\"job\": \"a\"}");
  EXPECT_EQ(req.definitions[1].metric, "cpu_seconds_total");
  EXPECT_EQ(req.definitions[1].tags, "{}");
  ASSERT_EQ(req.samples.size(), 3u);
  EXPECT_EQ(req.samples[1].slot, 6u);
  EXPECT_EQ(req.samples[1].ts, -5);
  EXPECT_TRUE(std::signbit(req.samples[1].value));
  EXPECT_EQ(req.samples[2].slot, 0u);
  EXPECT_EQ(req.samples[2].value, 2.5);
}

TEST(WriteRequest, ResetStartsAtSlotZero) {
  WriteRequest req;
  Parse(Sample(true, 0), &req);
  EXPECT_TRUE(req.reset);
  // Slot 0 of a reset request is its own first definition; slot 5 of one
  // that starts at 0 with two definitions does not exist.
  EXPECT_THROW(Parse(Sample(true, 5), &req), Error);
}

TEST(WriteRequest, EmptyRequest) {
  std::string r(kWriteRequestHeaderBytes, '\0');
  PutWriteRequestHeader(r.data(), 1, false, 0, 0, 0);
  WriteRequest req;
  Parse(r, &req);
  EXPECT_TRUE(req.definitions.empty());
  EXPECT_TRUE(req.samples.empty());
}

// Every truncation, and every change of a byte that is not a value or a
// name's contents, is refused (InvalidParameter); nothing reads outside the
// bytes (ASan in make unit).
TEST(WriteRequest, DamageIsRefusedNeverRead) {
  const std::string r = Sample();
  WriteRequest req;
  for (size_t size = 0; size < r.size(); ++size) {
    try {
      Parse(r.substr(0, size), &req);
      ADD_FAILURE() << "cut to " << size << " bytes, accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::InvalidParameter);
    }
  }
  for (size_t at = 0; at < r.size(); ++at) {
    for (uint8_t flip : {0x01, 0x80, 0xff}) {
      std::string bad = r;
      bad[at] = static_cast<char>(bad[at] ^ flip);
      try {
        Parse(bad, &req);
        for (const WriteRequest::Sample& s : req.samples) EXPECT_LT(s.slot, req.first_slot + req.definitions.size());
      } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::InvalidParameter);
      }
    }
  }
}

TEST(WriteRequest, HugeCountsAreRefusedBeforeReserving) {
  std::string r(kWriteRequestHeaderBytes, '\0');
  PutWriteRequestHeader(r.data(), 1, false, 0, 0xffffffffu, 0xffffffffu);
  WriteRequest req;
  EXPECT_THROW(Parse(r, &req), Error);
  std::string bad_slot(kWriteRequestHeaderBytes, '\0');
  AppendWriteRequestDefinition(&bad_slot, "m", "{}");
  AppendWriteRequestSample(&bad_slot, 1, 0, 0);
  PutWriteRequestHeader(bad_slot.data(), 1, false, 0, 1, 1);
  EXPECT_THROW(Parse(bad_slot, &req), Error);
  std::string far(kWriteRequestHeaderBytes, '\0');
  AppendWriteRequestSample(&far, 0, 0, 0);
  PutWriteRequestHeader(far.data(), 1, false, kWriteRequestMaxSlots + 1, 0, 1);
  EXPECT_THROW(Parse(far, &req), Error);
  std::string flags(kWriteRequestHeaderBytes, '\0');
  PutWriteRequestHeader(flags.data(), 1, false, 0, 0, 0);
  flags[16] = 2;
  EXPECT_THROW(Parse(flags, &req), Error);
}

}  // namespace
}  // namespace aegis::core
