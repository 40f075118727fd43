#include "core/write_request.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"

namespace aegis::core {
namespace {

std::string Sample() {
  std::string r;
  AppendWriteRequestHeader(&r, 2, 3);
  AppendWriteRequestSeries(&r, "up", "{\"job\": \"a\"}");
  AppendWriteRequestSeries(&r, "cpu_seconds_total", "{}");
  AppendWriteRequestSample(&r, 0, 10, 1.0);
  AppendWriteRequestSample(&r, 1, -5, -0.0);
  AppendWriteRequestSample(&r, 0, 20, 2.5);
  return r;
}

void Parse(const std::string& r, WriteRequest* out) {
  ParseWriteRequest(reinterpret_cast<const uint8_t*>(r.data()), r.size(), out);
}

TEST(WriteRequest, RoundTrips) {
  const std::string r = Sample();
  WriteRequest req;
  Parse(r, &req);
  ASSERT_EQ(req.series.size(), 2u);
  EXPECT_EQ(req.series[0].metric, "up");
  EXPECT_EQ(req.series[0].tags, "{\"job\": \"a\"}");
  EXPECT_EQ(req.series[1].metric, "cpu_seconds_total");
  EXPECT_EQ(req.series[1].tags, "{}");
  ASSERT_EQ(req.samples.size(), 3u);
  EXPECT_EQ(req.samples[1].series, 1u);
  EXPECT_EQ(req.samples[1].ts, -5);
  EXPECT_TRUE(std::signbit(req.samples[1].value));
  EXPECT_EQ(req.samples[2].value, 2.5);
}

TEST(WriteRequest, EmptyRequest) {
  std::string r;
  AppendWriteRequestHeader(&r, 0, 0);
  WriteRequest req;
  Parse(r, &req);
  EXPECT_TRUE(req.series.empty());
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
        for (const WriteRequest::Sample& s : req.samples) EXPECT_LT(s.series, req.series.size());
      } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::InvalidParameter);
      }
    }
  }
}

TEST(WriteRequest, HugeCountsAreRefusedBeforeReserving) {
  std::string r;
  AppendWriteRequestHeader(&r, 0xffffffffu, 0xffffffffu);
  WriteRequest req;
  EXPECT_THROW(Parse(r, &req), Error);
  std::string bad_index;
  AppendWriteRequestHeader(&bad_index, 1, 1);
  AppendWriteRequestSeries(&bad_index, "m", "{}");
  AppendWriteRequestSample(&bad_index, 1, 0, 0);
  EXPECT_THROW(Parse(bad_index, &req), Error);
}

}  // namespace
}  // namespace aegis::core
