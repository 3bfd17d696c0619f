#include "cli/completion.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace sslab::cli {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

class CompletionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    app_.add_option("--addr", addr_, "scheduler address host:port");
    app_.add_option("--format,-o", format_, "table|json|csv");
    app_.add_option("--token-file", file_, "file with the bearer token");
    auto* submit = app_.add_subcommand("submit", "submit one run");
    submit->add_option("--method", text_, "rotation|jigsaw; the pretext task");
    submit->add_option("--epochs", number_, "training epochs (default 35)");
    auto* ls = app_.add_subcommand("ls", "list runs");
    ls->add_option("--state", text_, "pending|running|succeeded");
    script_ = (std::filesystem::path(::testing::TempDir()) /
               absl::StrCat("completion_", getpid(), ".bash"))
                  .string();
    std::ofstream(script_) << BashCompletion(app_, "sslab");
  }
  void TearDown() override { std::filesystem::remove(script_); }

  // What real bash completes for the words typed so far (the last one
  // being completed), by running the generated function.
  std::vector<std::string> Complete(const std::string& words) {
    const std::string command =
        absl::StrCat("bash -c 'source ", script_, "; COMP_WORDS=(", words,
                     "); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _sslab; "
                     "printf \"%s\\n\" \"${COMPREPLY[@]}\"'");
    FILE* pipe = popen(command.c_str(), "r");
    EXPECT_NE(pipe, nullptr);
    std::string out;
    std::array<char, 4096> buffer;
    while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) {
      out.append(buffer.data(), n);
    }
    EXPECT_EQ(pclose(pipe), 0) << command;
    std::vector<std::string> lines =
        absl::StrSplit(out, '\n', absl::SkipEmpty());
    return lines;
  }

  CLI::App app_{"test"};
  std::string addr_, format_, file_, text_;
  int number_ = 0;
  std::string script_;
};

TEST_F(CompletionTest, CompletesSubcommandsTheirOptionsAndChoices) {
  EXPECT_THAT(Complete("sslab s"), UnorderedElementsAre("submit"));
  EXPECT_THAT(Complete("sslab submit --e"), UnorderedElementsAre("--epochs"));
  // Global options are valid after the subcommand too.
  EXPECT_THAT(Complete("sslab submit --f"), UnorderedElementsAre("--format"));
  EXPECT_THAT(Complete("sslab ls --"), Not(Contains("--method")));
  EXPECT_THAT(Complete("sslab submit --method \"\""),
              UnorderedElementsAre("rotation", "jigsaw"));
  EXPECT_THAT(Complete("sslab ls --state r"), UnorderedElementsAre("running"));
  EXPECT_THAT(Complete("sslab -o j"), UnorderedElementsAre("json"));
  // Free text has no suggestions; a file option completes file names.
  EXPECT_THAT(Complete("sslab submit --epochs \"\""), IsEmpty());
  EXPECT_THAT(Complete(absl::StrCat("sslab --token-file ", script_)),
              UnorderedElementsAre(script_));
}

TEST_F(CompletionTest, ZshLoadsTheSameFunctionThroughBashcompinit) {
  const std::string zsh = ZshCompletion(app_, "sslab");
  EXPECT_THAT(zsh, ::testing::HasSubstr("bashcompinit"));
  EXPECT_THAT(zsh, ::testing::HasSubstr("complete -F _sslab sslab"));
}

}  // namespace
}  // namespace sslab::cli
