// What a job may open: artifacts confined to the artifact directory and
// checked before they are parsed, data sets confined to the worker's roots.
#include "services/jobs/artifacts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/files.h"
#include "common/testing/status_matchers.h"

namespace sslab::services {
namespace {

namespace fs = std::filesystem;
using ::sslab::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

class ArtifactsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           absl::StrCat("sslab_artifacts_test_", getpid());
    fs::remove_all(dir_);
    root_ = dir_ / "artifacts";
    fs::create_directories(root_ / "runs/1/checkpoints/attempt-1");
    fs::create_directories(dir_ / "outside");
    std::ofstream(root_ / "runs/1/checkpoints/attempt-1/epoch-0001.ckpt")
        << "checkpoint bytes";
    std::ofstream(dir_ / "outside/secret.ckpt") << "not yours";
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_, root_;
};

TEST_F(ArtifactsTest, OpensARegularFileInsideTheArtifactDirectory) {
  ASSERT_OK_AND_ASSIGN(
      fs::path file,
      OpenArtifact(root_, "runs/1/checkpoints/attempt-1/epoch-0001.ckpt",
                   "checkpoint.path"));
  EXPECT_EQ(file, fs::canonical(
                      root_ / "runs/1/checkpoints/attempt-1/epoch-0001.ckpt"));
  EXPECT_THAT(OpenArtifact(root_, "runs/1/none.ckpt", "checkpoint.path"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("none.ckpt")));
}

TEST_F(ArtifactsTest, RefusesPathsThatLeaveTheArtifactDirectory) {
  for (const char* path : {"/dev/zero", "/etc/passwd", "../outside/secret.ckpt",
                           "runs/../../outside/secret.ckpt"}) {
    EXPECT_THAT(OpenArtifact(root_, path, "checkpoint.path"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("checkpoint.path")))
        << path;
  }
  // A symlink inside that points out: refused, and the message does not
  // say where it led.
  fs::create_symlink(dir_ / "outside/secret.ckpt", root_ / "runs/1/link.ckpt");
  const absl::Status escaped =
      OpenArtifact(root_, "runs/1/link.ckpt", "checkpoint.path").status();
  EXPECT_THAT(escaped, StatusIs(absl::StatusCode::kInvalidArgument,
                                HasSubstr("leads out of the artifact")));
  EXPECT_THAT(escaped.message(), Not(HasSubstr("outside")));
  // Inside, but not a regular file: a FIFO or a link to /dev/zero would
  // block or read forever.
  ASSERT_EQ(::mkfifo((root_ / "runs/1/fifo").c_str(), 0600), 0);
  EXPECT_THAT(OpenArtifact(root_, "runs/1/fifo", "features.path"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a regular file")));
  EXPECT_THAT(OpenArtifact(root_, "runs/1", "features.path"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a regular file")));
}

TEST_F(ArtifactsTest, AChangedCheckpointIsRefusedBeforeItIsParsed) {
  const std::string path = "runs/1/checkpoints/attempt-1/epoch-0001.ckpt";
  ASSERT_OK_AND_ASSIGN(std::string sha, Sha256OfFile(root_ / path));
  EXPECT_OK(OpenVerifiedArtifact(root_, path, sha, "checkpoint.path").status());
  std::ofstream(root_ / path, std::ios::app) << "tampered";
  EXPECT_THAT(OpenVerifiedArtifact(root_, path, sha, "checkpoint.path"),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("differs from the one registered")));
}

TEST_F(ArtifactsTest, DatasetsMustLieInsideTheWorkersRoots) {
  fs::create_directories(dir_ / "datasets/fmnist");
  fs::create_symlink(dir_ / "outside", dir_ / "datasets/escape");
  const std::vector<fs::path> roots = {dir_ / "datasets"};
  EXPECT_OK(CheckDatasetPath((dir_ / "datasets/fmnist").string(), roots));
  EXPECT_OK(CheckDatasetPath((dir_ / "datasets/fmnist").string(), {}));
  // Outside, through a symlink, or by "..": one answer, whether or not the
  // path exists.
  const absl::Status missing =
      CheckDatasetPath((dir_ / "outside/none").string(), roots);
  const absl::Status present =
      CheckDatasetPath((dir_ / "outside").string(), roots);
  EXPECT_THAT(missing, StatusIs(absl::StatusCode::kFailedPrecondition,
                                HasSubstr("dataset roots")));
  EXPECT_EQ(missing.code(), present.code());
  EXPECT_THAT(CheckDatasetPath((dir_ / "datasets/escape").string(), roots),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(CheckDatasetPath((dir_ / "datasets/../outside").string(), roots),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(CheckDatasetPath("/etc", roots),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace sslab::services
