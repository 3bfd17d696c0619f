#include "common/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace sslab {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::SizeIs;

// The lines `log` writes to stderr, read back from a file stderr points at.
template <typename Fn>
std::vector<std::string> CaptureLines(Fn log) {
  const std::string path = (std::filesystem::path(::testing::TempDir()) /
                            ("log_test_" + std::to_string(getpid())))
                               .string();
  const int saved = dup(STDERR_FILENO);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fd, STDERR_FILENO);
  close(fd);
  log();
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::filesystem::remove(path);
  return lines;
}

class LogTest : public ::testing::Test {
 protected:
  void TearDown() override {
    SetLogFormat(LogFormat::kText);
    SetMinLogSeverity('I');
  }
};

TEST_F(LogTest, TextLinesCarrySeverityTimeAndSource) {
  const std::vector<std::string> lines =
      CaptureLines([] { SSLAB_LOG(WARNING) << "disk " << 93 << "% full"; });
  ASSERT_THAT(lines, SizeIs(1));
  EXPECT_THAT(lines[0], MatchesRegex("W[0-9]{8} [0-9:]{8}\\.[0-9]{3} "
                                     "log_test\\.cc:[0-9]+\\] disk 93% full"));
}

TEST_F(LogTest, JsonLinesAreObjectsEvenForAwkwardMessages) {
  SetLogFormat(LogFormat::kJson);
  const std::vector<std::string> lines = CaptureLines([] {
    SSLAB_LOG(ERROR) << "path \"/tmp/a\\b\"\n\tnext";
    SSLAB_LOG(INFO) << "bad utf-8: \xff";
  });
  ASSERT_THAT(lines, SizeIs(2));
  const nlohmann::json first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["level"], "ERROR");
  EXPECT_EQ(first["message"], "path \"/tmp/a\\b\"\n\tnext");
  EXPECT_THAT(first["source"].get<std::string>(), HasSubstr("log_test.cc:"));
  EXPECT_THAT(first["time"].get<std::string>(),
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z"));
  const nlohmann::json second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(second["level"], "INFO");
  EXPECT_THAT(second["message"].get<std::string>(), HasSubstr("bad utf-8"));
}

TEST_F(LogTest, MessagesBelowTheMinimumSeverityAreDropped) {
  SetMinLogSeverity('W');
  const std::vector<std::string> lines = CaptureLines([] {
    SSLAB_LOG(INFO) << "chatter";
    SSLAB_LOG(WARNING) << "kept";
    SSLAB_LOG(ERROR) << "kept too";
  });
  ASSERT_THAT(lines, SizeIs(2));
  EXPECT_THAT(lines[0], HasSubstr("kept"));
  EXPECT_THAT(lines[1], HasSubstr("kept too"));
}

}  // namespace
}  // namespace sslab
