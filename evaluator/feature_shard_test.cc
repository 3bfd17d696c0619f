#include "evaluator/feature_shard.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/testing/status_matchers.h"

namespace sslab::evaluator {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::HasSubstr;

class FeatureShardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sslab_shard_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Files under dir_ (recursively), to catch leftovers.
  int CountFiles() const {
    if (!std::filesystem::exists(dir_)) return 0;
    int n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_)) {
      n += e.is_regular_file();
    }
    return n;
  }

  void FlipByte(const std::filesystem::path& p, int64_t offset) {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(offset);
    char c;
    f.read(&c, 1);
    c ^= 0x40;
    f.seekp(offset);
    f.write(&c, 1);
  }

  std::filesystem::path dir_;
};

TEST_F(FeatureShardTest, RoundTripsStreamedFloatAndIntShards) {
  at::Tensor a = at::randn({5, 7}), b = at::randn({3, 7});
  ASSERT_OK_AND_ASSIGN(
      auto w, ShardWriter::Create(dir_ / "train/block1.feat", "block1", 7,
                                  ShardDtype::kFloat32));
  ASSERT_OK(w->Append(a));
  ASSERT_OK(w->Append(b.to(at::kDouble)));  // converted
  ASSERT_OK_AND_ASSIGN(ShardInfo info, w->Finish());
  EXPECT_EQ(info.rows, 8);
  EXPECT_EQ(info.dims, 7);
  EXPECT_EQ(info.payload_sha256.size(), 64u);
  ASSERT_OK_AND_ASSIGN(Shard s, ReadShard(dir_ / "train/block1.feat"));
  EXPECT_EQ(s.info.name, "block1");
  EXPECT_EQ(s.info.payload_sha256, info.payload_sha256);
  EXPECT_EQ(s.info.file_bytes, info.file_bytes);
  EXPECT_EQ(static_cast<int64_t>(
                std::filesystem::file_size(dir_ / "train/block1.feat")),
            info.file_bytes);
  EXPECT_TRUE(at::equal(s.data, at::cat({a, b})));

  at::Tensor h = at::randn({4, 3});
  ASSERT_OK(WriteShard(dir_ / "h.feat", "pre_logits", h, ShardDtype::kFloat16)
                .status());
  ASSERT_OK_AND_ASSIGN(Shard hs, ReadShard(dir_ / "h.feat"));
  EXPECT_EQ(hs.data.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::allclose(hs.data, h, 1e-3, 1e-3));

  at::Tensor labels = at::arange(6, at::kLong).unsqueeze(1);
  ASSERT_OK(WriteShard(dir_ / "l.feat", "labels", labels, ShardDtype::kInt64)
                .status());
  ASSERT_OK_AND_ASSIGN(Shard ls, ReadShard(dir_ / "l.feat"));
  EXPECT_TRUE(at::equal(ls.data, labels));
  ASSERT_OK_AND_ASSIGN(ShardInfo li, ReadShardInfo(dir_ / "l.feat"));
  EXPECT_EQ(li.rows, 6);
  EXPECT_EQ(li.dtype, ShardDtype::kInt64);
  EXPECT_EQ(CountFiles(), 3);  // no temporary files left
}

TEST_F(FeatureShardTest, DetectsCorruptionAndTruncation) {
  const auto path = dir_ / "x.feat";
  ASSERT_OK_AND_ASSIGN(
      ShardInfo info,
      WriteShard(path, "block2", at::randn({10, 4}), ShardDtype::kFloat32));
  const int64_t payload_start = info.file_bytes - 10 * 4 * 4;
  const auto copy = dir_ / "y.feat";

  // A flipped payload byte.
  std::filesystem::copy_file(path, copy);
  FlipByte(copy, payload_start + 17);
  EXPECT_THAT(ReadShard(copy),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("y.feat"), HasSubstr("checksum"))));
  // ReadShardInfo checks the header only.
  EXPECT_OK(ReadShardInfo(copy).status());

  // A flipped header byte (the row count).
  std::filesystem::remove(copy);
  std::filesystem::copy_file(path, copy);
  FlipByte(copy, 16);
  EXPECT_THAT(ReadShard(copy),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("y.feat")));
  // A flipped name byte.
  std::filesystem::remove(copy);
  std::filesystem::copy_file(path, copy);
  FlipByte(copy, 72);
  EXPECT_THAT(ReadShardInfo(copy), StatusIs(absl::StatusCode::kDataLoss,
                                            HasSubstr("header checksum")));
  // Truncated payload and truncated header.
  std::filesystem::resize_file(path, info.file_bytes - 3);
  EXPECT_THAT(ReadShard(path),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("truncated")));
  std::filesystem::resize_file(path, 20);
  EXPECT_THAT(ReadShard(path), StatusIs(absl::StatusCode::kDataLoss,
                                        HasSubstr("truncated header")));
  // Not a shard at all; missing.
  {
    std::ofstream(dir_ / "junk.feat")
        << "hello, this is not a feature shard..."
           "............................................";
  }
  EXPECT_THAT(ReadShard(dir_ / "junk.feat"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("magic")));
  EXPECT_THAT(ReadShard(dir_ / "missing.feat"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.feat")));
}

// A header whose checksums match but whose rows x dims is negative, zero
// wide or wraps around 2^64 (found by fuzz/feature_shard_fuzzer): DATA_LOSS
// before anything is allocated.
TEST_F(FeatureShardTest, ImpossibleShapesInAConsistentHeaderAreRefused) {
  const auto path = dir_ / "empty.feat";
  ASSERT_OK(WriteShard(path, "block1", at::empty({0, 4}), ShardDtype::kFloat32)
                .status());
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  constexpr size_t kHeader = 72 + 6;  // fixed fields + "block1"
  ASSERT_EQ(bytes.size(), kHeader + 32);
  const std::pair<uint64_t, uint64_t> shapes[] = {
      {uint64_t{1} << 63, 0},  // rows reads as INT64_MIN, no columns
      {uint64_t{1} << 62, 4},  // 2^62 x 4 x 4 bytes wraps to 0
      {0, 0},                  // no columns
      {1, uint64_t{1} << 63},  // dims reads as negative
  };
  for (const auto& [rows, dims] : shapes) {
    std::string header = bytes.substr(0, kHeader);
    std::memcpy(header.data() + 16, &rows, 8);
    std::memcpy(header.data() + 24, &dims, 8);
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << header << absl::HexStringToBytes(Sha256Hex(header));
    }
    SCOPED_TRACE(absl::StrCat(rows, " x ", dims));
    EXPECT_THAT(ReadShardInfo(path), StatusIs(absl::StatusCode::kDataLoss,
                                              HasSubstr("corrupt header")));
    EXPECT_THAT(ReadShard(path), StatusIs(absl::StatusCode::kDataLoss,
                                          HasSubstr("corrupt header")));
  }
}

TEST_F(FeatureShardTest, UnfinishedOrFailedWritesLeaveNothing) {
  {
    ASSERT_OK_AND_ASSIGN(auto w, ShardWriter::Create(dir_ / "a.feat", "a", 3,
                                                     ShardDtype::kFloat32));
    ASSERT_OK(w->Append(at::ones({2, 3})));
    EXPECT_THAT(w->Append(at::ones({2, 4})),
                StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(w->Append(at::ones({2, 3}, at::kLong)),
                StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(CountFiles(), 1);  // the temporary file
  }                              // destroyed without Finish
  EXPECT_EQ(CountFiles(), 0);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "a.feat"));
  EXPECT_THAT(ShardWriter::Create(dir_ / "b.feat", "", 3, ShardDtype::kFloat32),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      ShardWriter::Create(dir_ / "b.feat", "b", 0, ShardDtype::kFloat32),
      StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(
      auto w, ShardWriter::Create(dir_ / "c.feat", "c", 1, ShardDtype::kInt64));
  ASSERT_OK(w->Finish().status());
  EXPECT_THAT(w->Finish(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(ParseShardDtype("int8"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dtype")));
}

}  // namespace
}  // namespace sslab::evaluator
