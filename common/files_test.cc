#include "common/files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/testing/status_matchers.h"

namespace sslab {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::HasSubstr;

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(FilesTest, AtomicWriteCreatesParentsAndLeavesNoTemporaries) {
  const auto path = dir_ / "a" / "b" / "blob.bin";
  ASSERT_OK(WriteFileAtomically(path, "first"));
  ASSERT_OK(WriteFileAtomically(path, std::string("sec\0ond", 7)));
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(path));
  EXPECT_EQ(contents, std::string("sec\0ond", 7));
  int entries = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator(path.parent_path())) {
    ++entries;
  }
  EXPECT_EQ(entries, 1) << "a temporary file was left behind";
}

TEST_F(FilesTest, StaleTemporariesOfDeadWritersAreRemoved) {
  namespace fs = std::filesystem;
  const fs::path root = dir_ / "artifacts";
  fs::create_directories(root / "runs/1/checkpoints");
  const fs::path dead = root / "runs/1/checkpoints/epoch-0003.ckpt.tmp-4242-0";
  const fs::path live = root / "runs/1/checkpoints/epoch-0004.ckpt.tmp-4243-1";
  const fs::path kept = root / "runs/1/notes.tmp-draft";  // not a writer's
  const fs::path ckpt = root / "runs/1/checkpoints/epoch-0002.ckpt";
  // What every writer stages under (the feature shards' writer too).
  const fs::path staged = TemporarySibling(root / "runs/1/block3.feat");
  for (const fs::path& p : {dead, live, kept, ckpt, staged}) {
    ASSERT_TRUE(WriteFileAtomically(p, "x").ok());
  }
  const auto old = fs::file_time_type::clock::now() - std::chrono::hours(2);
  for (const fs::path& p : {dead, kept, ckpt, staged}) {
    fs::last_write_time(p, old);
  }
  ASSERT_OK_AND_ASSIGN(int removed,
                       RemoveStaleTemporaries(root, std::chrono::hours(1)));
  EXPECT_EQ(removed, 2);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_FALSE(fs::exists(staged));
  EXPECT_TRUE(fs::exists(live));  // its writer may still be at it
  EXPECT_TRUE(fs::exists(kept));
  EXPECT_TRUE(fs::exists(ckpt));
  ASSERT_OK_AND_ASSIGN(
      removed, RemoveStaleTemporaries(dir_ / "none", std::chrono::hours(1)));
  EXPECT_EQ(removed, 0);
}

TEST_F(FilesTest, ReadMissingFileIsNotFoundAndNamesThePath) {
  EXPECT_THAT(ReadFileToString(dir_ / "missing.bin"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.bin")));
  EXPECT_THAT(Sha256OfFile(dir_ / "missing.bin"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.bin")));
}

TEST_F(FilesTest, Sha256MatchesKnownVectors) {
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 pieces;
  pieces.Update("a", 1);
  pieces.Update("bc", 2);
  EXPECT_EQ(pieces.FinalHex(), Sha256Hex("abc"));
}

TEST_F(FilesTest, Sha256OfFileMatchesInMemoryHash) {
  std::string big(3 << 20, 'x');  // spans several read buffers
  big[12345] = 'y';
  ASSERT_OK(WriteFileAtomically(dir_ / "big.bin", big));
  ASSERT_OK_AND_ASSIGN(std::string digest, Sha256OfFile(dir_ / "big.bin"));
  EXPECT_EQ(digest, Sha256Hex(big));
}

}  // namespace
}  // namespace sslab
