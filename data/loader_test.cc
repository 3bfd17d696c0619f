#include "data/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "data/internal/test_files.h"

namespace sslab::data {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::HasSubstr;

std::shared_ptr<const Dataset> SmallIdx(int n) {
  const std::string dir = testing::MakeTempDir("loader_idx");
  std::vector<uint8_t> labels(n);
  for (int i = 0; i < n; ++i) labels[i] = i % 5;
  testing::WriteIdx(dir, "train", n, 12, 12, labels, false);
  DatasetSpec spec;
  spec.kind = DatasetKind::kIdx;
  spec.path = dir;
  spec.val_fraction = 0;
  auto d = OpenDataset(spec, Split::kTrain);
  EXPECT_TRUE(d.ok()) << d.status();
  return *d;
}

std::shared_ptr<const Transform> Rotation(int size) {
  TransformOptions o;
  o.kind = "rotation";
  o.image_size = size;
  o.channels = 1;
  return *MakeTransform(o);
}

std::vector<Batch> Epoch(Loader& loader, int64_t epoch) {
  std::vector<Batch> out;
  EXPECT_OK(loader.StartEpoch(epoch));
  while (true) {
    auto next = loader.Next();
    EXPECT_TRUE(next.ok()) << next.status();
    if (!next.ok() || !next->has_value()) break;
    out.push_back(std::move(**next));
  }
  return out;
}

TEST(LoaderTest, BatchesDoNotDependOnTheThreadCount) {
  auto dataset = SmallIdx(37);
  auto transform = Rotation(8);
  std::vector<std::vector<Batch>> runs;
  for (int threads : {0, 1, 3}) {
    LoaderOptions o;
    o.batch_size = 8;
    o.threads = threads;
    o.prefetch_batches = 1;
    o.seed = 42;
    o.drop_last = false;
    Loader loader(dataset, transform, o);
    std::vector<Batch> both = Epoch(loader, 0);
    std::vector<Batch> second = Epoch(loader, 1);
    both.insert(both.end(), second.begin(), second.end());
    runs.push_back(std::move(both));
  }
  ASSERT_EQ(runs[0].size(), 10u);
  for (size_t r = 1; r < runs.size(); ++r) {
    ASSERT_EQ(runs[r].size(), runs[0].size());
    for (size_t b = 0; b < runs[0].size(); ++b) {
      EXPECT_TRUE(torch::equal(runs[r][b].views, runs[0][b].views))
          << r << " " << b;
      EXPECT_TRUE(torch::equal(runs[r][b].indices, runs[0][b].indices));
      EXPECT_TRUE(torch::equal(runs[r][b].labels, runs[0][b].labels));
    }
  }
  // Epochs are reshuffled.
  EXPECT_FALSE(torch::equal(runs[0][0].indices, runs[0][5].indices));
}

TEST(LoaderTest, AnEpochVisitsEveryExampleOnceWithItsTransform) {
  auto dataset = SmallIdx(23);
  auto transform = Rotation(8);
  LoaderOptions o;
  o.batch_size = 5;
  o.threads = 2;
  o.seed = 1;
  o.drop_last = false;
  Loader loader(dataset, transform, o);
  EXPECT_EQ(loader.batches_per_epoch(), 5);
  const std::vector<Batch> batches = Epoch(loader, 3);
  ASSERT_EQ(batches.size(), 5u);
  EXPECT_EQ(batches.back().views.size(0), 3);
  std::multiset<int64_t> seen;
  for (const Batch& b : batches) {
    EXPECT_EQ(b.views.sizes().slice(1), (std::vector<int64_t>{4, 1, 8, 8}));
    EXPECT_TRUE(torch::equal(b.labels[0], torch::arange(4, torch::kLong)));
    for (int64_t i = 0; i < b.indices.size(0); ++i) {
      const int64_t index = b.indices[i].item<int64_t>();
      seen.insert(index);
      EXPECT_EQ(b.classes[i].item<int64_t>(), dataset->label(index));
      auto expected =
          transform->Apply(*dataset->Get(index), ExampleSeed(1, 3, index));
      ASSERT_TRUE(expected.ok());
      EXPECT_TRUE(torch::equal(b.views[i], expected->views));
    }
  }
  EXPECT_EQ(seen.size(), 23u);
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 23u);
  const EpochStats stats = loader.stats();
  EXPECT_EQ(stats.epoch, 3);
  EXPECT_EQ(stats.batches, 5);
  EXPECT_EQ(stats.examples, 23);
  EXPECT_EQ(stats.skipped_corrupt, 0);

  o.drop_last = true;
  o.shuffle = false;
  Loader ordered(dataset, transform, o);
  EXPECT_EQ(ordered.batches_per_epoch(), 4);
  const std::vector<Batch> in_order = Epoch(ordered, 0);
  ASSERT_EQ(in_order.size(), 4u);
  EXPECT_TRUE(
      torch::equal(in_order[1].indices, torch::arange(5, 10, torch::kLong)));
}

TEST(LoaderTest, CorruptImagesAreSkippedAndCountedUnlessStrict) {
  const std::string root = testing::MakeTempDir("loader_corrupt");
  testing::WriteImageTree(root, {"a", "b"}, 5, 20, 20, 3, "jpg");
  testing::WriteBytes(root + "/a/img2.jpg", "");
  testing::WriteBytes(root + "/b/img4.jpg", "\xff\xd8\xff garbage");
  DatasetSpec spec;
  spec.kind = DatasetKind::kImageFolder;
  spec.path = root;
  spec.val_fraction = 0;
  TransformOptions to;
  to.kind = "eval";
  to.image_size = 16;
  auto transform = *MakeTransform(to);
  LoaderOptions o;
  o.batch_size = 4;
  o.threads = 2;
  o.drop_last = false;
  {
    Loader loader(*OpenDataset(spec, Split::kTrain), transform, o);
    const std::vector<Batch> batches = Epoch(loader, 0);
    int64_t examples = 0;
    for (const Batch& b : batches) examples += b.views.size(0);
    EXPECT_EQ(examples, 8);
    const EpochStats stats = loader.stats();
    EXPECT_EQ(stats.examples, 8);
    EXPECT_EQ(stats.skipped_corrupt, 2);
    ASSERT_EQ(stats.skipped_messages.size(), 2u);
    std::string all = stats.skipped_messages[0] + stats.skipped_messages[1];
    EXPECT_THAT(all, HasSubstr("a/img2.jpg"));
    EXPECT_THAT(all, HasSubstr("b/img4.jpg"));
  }
  spec.strict = true;
  Loader strict(*OpenDataset(spec, Split::kTrain), transform, o);
  ASSERT_OK(strict.StartEpoch(0));
  absl::Status error;
  while (true) {
    auto next = strict.Next();
    if (!next.ok()) {
      error = next.status();
      break;
    }
    if (!next->has_value()) break;
  }
  EXPECT_THAT(error, StatusIs(absl::StatusCode::kDataLoss, HasSubstr(".jpg")));
  // The error sticks until the next epoch.
  EXPECT_THAT(strict.Next(), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(LoaderTest, StopsCleanlyMidEpochAndRestarts) {
  auto dataset = SmallIdx(200);
  LoaderOptions o;
  o.batch_size = 2;
  o.threads = 3;
  o.prefetch_batches = 2;
  {
    Loader loader(dataset, Rotation(8), o);
    ASSERT_OK(loader.StartEpoch(0));
    ASSERT_OK_AND_ASSIGN(auto first, loader.Next());
    ASSERT_TRUE(first.has_value());
    ASSERT_OK(loader.StartEpoch(1));  // abandons epoch 0
    ASSERT_OK_AND_ASSIGN(auto again, loader.Next());
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(loader.stats().epoch, 1);
    EXPECT_EQ(loader.stats().batches, 1);
  }  // destroyed with workers mid-epoch
  Loader never_started(dataset, Rotation(8), o);
  EXPECT_THAT(never_started.Next(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

// Two ranks of a data-parallel run read, batch for batch, the two halves of
// what one process with the global batch reads: same examples, same views.
TEST(LoaderTest, ShardsSplitEachGlobalBatchBetweenTheRanks) {
  auto dataset = SmallIdx(37);
  auto transform = Rotation(8);
  LoaderOptions o;
  o.batch_size = 8;
  o.threads = 2;
  o.seed = 7;
  Loader whole(dataset, transform, o);
  const std::vector<Batch> global = Epoch(whole, 3);
  ASSERT_EQ(global.size(), 4u);  // 37 / 8, the last 5 dropped
  o.batch_size = 4;
  std::vector<std::vector<Batch>> ranks;
  for (int rank : {0, 1}) {
    o.shard = {rank, 2};
    Loader loader(dataset, transform, o);
    EXPECT_EQ(loader.batches_per_epoch(), 4);
    ranks.push_back(Epoch(loader, 3));
    ASSERT_EQ(ranks.back().size(), 4u);
  }
  for (size_t b = 0; b < global.size(); ++b) {
    EXPECT_TRUE(
        torch::equal(torch::cat({ranks[0][b].indices, ranks[1][b].indices}),
                     global[b].indices))
        << b;
    EXPECT_TRUE(torch::equal(torch::cat({ranks[0][b].views, ranks[1][b].views}),
                             global[b].views))
        << b;
  }
  o.shard = {2, 2};
  Loader bad(dataset, transform, o);
  EXPECT_THAT(bad.StartEpoch(0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("loader.shard: rank 2 of 2")));
}

TEST(LoaderTest, RejectsBadOptionsByName) {
  auto dataset = SmallIdx(4);
  LoaderOptions o;
  o.batch_size = 0;
  Loader loader(dataset, Rotation(8), o);
  EXPECT_THAT(loader.StartEpoch(0), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("loader.batch_size")));
  o.batch_size = 2;
  o.threads = -1;
  Loader loader2(dataset, Rotation(8), o);
  EXPECT_THAT(loader2.StartEpoch(0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("loader.threads")));
}

}  // namespace
}  // namespace sslab::data
