// docker-compose.yml and its GPU override docker-compose.gpu.yml run the
// binaries this build produces: every service's command (or entrypoint)
// names an installed sslab program, and each of those is built. No Docker
// engine runs here; scripts/test validates the files' syntax with
// `docker-compose config -q`, and scripts/compose-test brings them up on a
// real engine.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace sslab::testing {
namespace {

std::string ReadSource(const std::string& name) {
  std::ifstream in(std::filesystem::path(SSLAB_SOURCE_ROOT) / name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The programs a compose file runs: command: ["prog", ...] and
// entrypoint: ["prog"]; healthchecks run `sslab`.
std::set<std::string> Programs(const std::string& compose) {
  const std::regex program(
      R"re((?:command|entrypoint|test):\s*\[\s*"(?:CMD"\s*,\s*")?([^"]+)")re");
  std::set<std::string> used;
  for (std::sregex_iterator it(compose.begin(), compose.end(), program), end;
       it != end; ++it) {
    used.insert((*it)[1].str());
  }
  used.erase("--help");  // the cli service's default arguments
  return used;
}

TEST(ComposeTest, EveryServiceRunsABinaryOfThisBuild) {
  const std::map<std::string, std::string> built = {
      {"sslab-scheduler", SSLAB_SCHEDULER_BIN},
      {"sslab-trainer", SSLAB_TRAINER_BIN},
      {"sslab-extractor", SSLAB_EXTRACTOR_BIN},
      {"sslab-evaluator", SSLAB_EVALUATOR_BIN},
      {"sslab", SSLAB_CLI_BIN},
  };
  const std::string compose = ReadSource("docker-compose.yml");
  ASSERT_FALSE(compose.empty()) << "docker-compose.yml not found";
  const std::string gpu = ReadSource("docker-compose.gpu.yml");
  ASSERT_FALSE(gpu.empty()) << "docker-compose.gpu.yml not found";
  const std::set<std::string> used = Programs(compose);
  EXPECT_THAT(used, ::testing::IsSupersetOf({"sslab-scheduler", "sslab-trainer",
                                             "sslab-extractor",
                                             "sslab-evaluator", "sslab"}));
  for (const auto& [file, programs] :
       {std::pair{"docker-compose.yml", used},
        std::pair{"docker-compose.gpu.yml", Programs(gpu)}}) {
    for (const std::string& name : programs) {
      const auto found = built.find(name);
      ASSERT_NE(found, built.end())
          << file << " runs '" << name << "', which this build lacks";
      EXPECT_TRUE(std::filesystem::exists(found->second)) << found->second;
    }
  }
}

}  // namespace
}  // namespace sslab::testing
