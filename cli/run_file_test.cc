#include "cli/run_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"

namespace sslab::cli {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

class RunFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    submit_ = app_.add_subcommand("submit");
    submit_->add_option("--file,-f", file_);
    submit_->add_option("--method", text_);
    submit_->add_option("--epochs", number_);
    submit_->add_option("--batch-size", number_);
    submit_->add_option("--layers", list_)->delimiter(',');
    submit_->add_flag("--quiet", flag_);
    submit_->add_option("--axis,--axes", axes_);
    submit_->add_option("--zip", zips_);
    path_ = (std::filesystem::path(::testing::TempDir()) /
             absl::StrCat("run_file_", getpid(), ".yaml"))
                .string();
  }
  void TearDown() override { std::filesystem::remove(path_); }

  absl::StatusOr<std::vector<std::string>> Arguments(
      const std::string& yaml, std::vector<std::string> command_line = {}) {
    std::ofstream(path_) << yaml;
    command_line.insert(command_line.begin(), "submit");
    std::reverse(command_line.begin(), command_line.end());
    app_.clear();
    app_.parse(command_line);
    return RunFileArguments(path_, *submit_);
  }

  CLI::App app_;
  CLI::App* submit_ = nullptr;
  std::string file_, text_;
  int number_ = 0;
  std::vector<std::string> list_, axes_, zips_;
  bool flag_ = false;
  std::string path_;
};

TEST_F(RunFileTest, KeysBecomeTheFlagsTheCommandLineLeftOut) {
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> args,
                       Arguments("method: rotation\nepochs: 4\nbatch_size: 32\n"
                                 "layers: [block3, pre_logits]\nquiet: true\n",
                                 {"--epochs", "2"}));
  // --epochs came from the command line, which wins; batch_size is
  // spelled as in JSON and still finds --batch-size.
  EXPECT_THAT(args, ElementsAre("--method=rotation", "--batch-size=32",
                                "--layers=block3,pre_logits", "--quiet"));
}

TEST_F(RunFileTest, JsonFilesWorkToo) {
  ASSERT_OK_AND_ASSIGN(
      std::vector<std::string> args,
      Arguments(R"({"method": "jigsaw", "layers": ["block4"]})"));
  EXPECT_THAT(args, ElementsAre("--method=jigsaw", "--layers=block4"));
}

TEST_F(RunFileTest, AxesMapToOneFlagEachAndNestedListsToSemicolons) {
  ASSERT_OK_AND_ASSIGN(
      std::vector<std::string> args,
      Arguments("axes:\n"
                "  lr: [0.1, 0.4]\n"
                "  batch-size: [64, 256]\n"
                "  decay-epochs: [[3], [1.5, 3]]\n"
                "zip: [[lr, batch-size], [epochs, decay-epochs]]\n",
                {"--axis", "batch-size=32,128"}));
  // The command line's batch-size axis replaces the file's in its place (the
  // last one wins); the others stay.
  EXPECT_THAT(args, ElementsAre("--axes=lr=0.1,0.4", "--axes=batch-size=32,128",
                                "--axes=decay-epochs=3;1.5,3",
                                "--zip=lr,batch-size;epochs,decay-epochs"));
  ASSERT_OK_AND_ASSIGN(args, Arguments("zip: [lr, batch-size]\n"));
  EXPECT_THAT(args, ElementsAre("--zip=lr,batch-size"));
  // A flat list under a list setting is one single-item value per item.
  ASSERT_OK_AND_ASSIGN(args, Arguments("axes: {decay-epochs: [3, 6]}\n"));
  EXPECT_THAT(args, ElementsAre("--axes=decay-epochs=3;6"));
  // An axis twice on the command line: its last value takes the file's place.
  ASSERT_OK_AND_ASSIGN(args, Arguments("axes: {lr: [0.1], sgd-lr: [1]}\n",
                                       {"--axis", "lr=1", "--axis", "lr=2"}));
  EXPECT_THAT(args, ElementsAre("--axes=lr=2", "--axes=sgd-lr=1"));
  EXPECT_THAT(Arguments("layers: [[block3], [block4]]\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers: lists nest only in zip")));
  EXPECT_THAT(Arguments("zip: {lr: batch-size}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("zip: expected a value or a list of values")));
  EXPECT_THAT(
      Arguments("axes: {decay-epochs: [[[1]]]}\n"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("axes: decay-epochs: lists nest one level at most")));
  EXPECT_THAT(Arguments("axes: {lr: [[1], [2]]}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("axes: lr: lists nest only in zip")));
}

TEST_F(RunFileTest, MistakesNameTheFileAndTheKey) {
  EXPECT_THAT(Arguments("metod: rotation\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("metod: not a flag of `sslab submit`")));
  EXPECT_THAT(Arguments("layers: {a: 1}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers: expected a value or a list")));
  EXPECT_THAT(Arguments("file: other.yaml\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("file: not a flag")));
  EXPECT_THAT(Arguments("layers: [block1, {a: 1}]\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("list items must be plain values")));
  EXPECT_THAT(Arguments(""),  // an empty file is no map either
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("a map of flag names")));
  EXPECT_THAT(Arguments("- a\n- b\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("a map of flag names")));
  EXPECT_THAT(Arguments("method: [rotation\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not YAML or JSON")));
  // Lists and maps as keys are YAML too; they used to throw out of
  // RunFileArguments and end the CLI (found by fuzz/run_file_fuzzer).
  EXPECT_THAT(Arguments("[method]: rotation\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("a key is a list or a map")));
  EXPECT_THAT(Arguments("? {a: b}\n: 1\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("a key is a list or a map")));
  EXPECT_THAT(Arguments("axes: {[lr]: [0.1, 0.4]}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("axes: a key is a list or a map")));
  std::filesystem::remove(path_);
  EXPECT_THAT(RunFileArguments(path_, *submit_),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(path_)));
}

}  // namespace
}  // namespace sslab::cli

namespace sslab::cli {
namespace {

TEST(RunFileFromConfigTest, WritesEverySettingUnderItsFlagExactly) {
  v1::RunConfig c;
  c.set_method(v1::METHOD_JIGSAW);
  c.set_architecture(v1::ARCHITECTURE_REVNET50);
  c.set_width(4);
  c.set_last_relu(false);
  c.mutable_dataset()->set_kind(v1::DATASET_KIND_IMAGEFOLDER);
  c.mutable_dataset()->set_path("/data/my \"net\"");
  c.mutable_dataset()->set_val_fraction(0.1);
  c.mutable_lr_schedule()->set_base_lr(0.1 * 3);  // 0.30000000000000004
  c.mutable_lr_schedule()->add_decay_epochs(15);
  c.mutable_lr_schedule()->add_decay_epochs(25.5);
  c.mutable_evaluation()->add_layers("block3");
  c.mutable_evaluation()->add_probe_kinds(v1::PROBE_KIND_MLP);
  c.mutable_evaluation()->set_feature_dtype(v1::FEATURE_DTYPE_FLOAT16);
  c.set_precision(v1::PRECISION_BF16);
  const std::string file = RunFileFromConfig(c);
  EXPECT_THAT(file, HasSubstr("method: jigsaw\narch: revnet50\nwidth: 4\n"
                              "last-relu: false\n"
                              "dataset: \"imagefolder:/data/my \\\"net\\\"\"\n"
                              "val-fraction: 0.1\n"));
  // The shortest text that reads back as the same double.
  EXPECT_THAT(file, HasSubstr("lr: 0.30000000000000004\n"));
  EXPECT_THAT(file, HasSubstr("decay-epochs: [15, 25.5]\n"));
  EXPECT_THAT(file, HasSubstr("layers: [\"block3\"]\nprobes: [mlp]\n"));
  EXPECT_THAT(file, HasSubstr("feature-dtype: float16\n"));
  EXPECT_THAT(file, HasSubstr("precision: bf16\n"));
  // No seed given: none written (the scheduler draws one at submit).
  EXPECT_THAT(file, Not(HasSubstr("seed:")));
  c.set_seed(0);
  EXPECT_THAT(RunFileFromConfig(c), HasSubstr("\nseed: 0\n"));
}

}  // namespace
}  // namespace sslab::cli
