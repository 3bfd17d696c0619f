// docker-compose.yml runs the binaries this build produces: every service's
// command (or entrypoint) names an installed sslab program, and each of those
// is built. No Docker engine runs here; scripts/test validates the file's
// syntax with `docker-compose config -q`.
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

std::string ReadCompose() {
  std::ifstream in(std::filesystem::path(SSLAB_SOURCE_ROOT) /
                   "docker-compose.yml");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ComposeTest, EveryServiceRunsABinaryOfThisBuild) {
  const std::map<std::string, std::string> built = {
      {"sslab-scheduler", SSLAB_SCHEDULER_BIN},
      {"sslab-trainer", SSLAB_TRAINER_BIN},
      {"sslab-extractor", SSLAB_EXTRACTOR_BIN},
      {"sslab-evaluator", SSLAB_EVALUATOR_BIN},
      {"sslab", SSLAB_CLI_BIN},
  };
  const std::string compose = ReadCompose();
  ASSERT_FALSE(compose.empty()) << "docker-compose.yml not found";
  // command: ["prog", ...] and entrypoint: ["prog"]; healthchecks run `sslab`.
  const std::regex program(
      R"re((?:command|entrypoint|test):\s*\[\s*"(?:CMD"\s*,\s*")?([^"]+)")re");
  std::set<std::string> used;
  for (std::sregex_iterator it(compose.begin(), compose.end(), program), end;
       it != end; ++it) {
    used.insert((*it)[1].str());
  }
  used.erase("--help");  // the cli service's default arguments
  EXPECT_THAT(used, ::testing::IsSupersetOf({"sslab-scheduler", "sslab-trainer",
                                             "sslab-extractor",
                                             "sslab-evaluator", "sslab"}));
  for (const std::string& name : used) {
    const auto found = built.find(name);
    ASSERT_NE(found, built.end())
        << "docker-compose.yml runs '" << name << "', which this build lacks";
    EXPECT_TRUE(std::filesystem::exists(found->second)) << found->second;
  }
}

}  // namespace
}  // namespace sslab::testing
