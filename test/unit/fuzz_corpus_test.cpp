// Regression test over the checked-in fuzz corpus (test/fuzz/corpus, a
// libFuzzer -merge=1 minimisation of the DecodeBlock fuzzer's corpus and
// seeds): every file goes through exactly the fuzz target's check
// (test/fuzz/block_decode_check.h), so a change to the decoder that would make
// the fuzzer crash on a known input fails here without running the fuzzer.
// A missing or empty corpus directory is a failure, not a skip.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include "../fuzz/block_decode_check.h"

namespace {

namespace fs = std::filesystem;

fs::path CorpusDir() { return fs::path(AEGIS_SOURCE_DIR) / "test" / "fuzz" / "corpus"; }

// Regular files of the corpus, sorted by name.
std::vector<fs::path> CorpusFiles() {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator it(CorpusDir(), ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file()) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Reads the whole file into *bytes; false if it cannot be read.
bool ReadFile(const fs::path& path, std::vector<uint8_t>* bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  bytes->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

TEST(FuzzCorpus, EveryInputPassesTheFuzzCheck) {
  const std::vector<fs::path> files = CorpusFiles();
  ASSERT_TRUE(fs::is_directory(CorpusDir())) << CorpusDir() << " is missing";
  ASSERT_FALSE(files.empty()) << CorpusDir() << " holds no files";
  for (const fs::path& path : files) {
    std::vector<uint8_t> input;
    ASSERT_TRUE(ReadFile(path, &input)) << "cannot read " << path;
    std::string failure;
    try {
      failure = aegis::fuzz::CheckBlockInput(input.data(), input.size());
    } catch (const std::exception& e) {
      failure = std::string("exception other than aegis::core::Error: ") + e.what();
    }
    EXPECT_EQ(failure, "") << path.filename() << " (" << input.size() << " bytes)";
  }
}

}  // namespace
