#include "evaluator/extractor.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>
#include <unistd.h>

#include <filesystem>
#include <limits>
#include <string>

#include "common/testing/status_matchers.h"
#include "models/model.h"

namespace sslab::evaluator {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::HasSubstr;

constexpr int64_t kCap = 600;

class ExtractorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    at::set_num_threads(2);
    dir_ = std::filesystem::temp_directory_path() /
           ("sslab_extract_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    models::ModelOptions o;
    o.architecture = models::Architecture::kResNet50V2;
    o.width = 1;
    o.small_input = true;
    o.num_outputs = 4;
    auto model = models::CreateModel(o);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *model;
    // Non-trivial BatchNorm statistics so eval mode matters.
    model_->train();
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(5);
    {
      at::NoGradGuard no_grad;
      model_->ForwardEndpoints(at::randn({8, 3, 16, 16}, gen) * 2 + 1);
    }
    images_ = at::randn({10, 3, 16, 16}, gen);
    labels_ = at::arange(10, at::kLong) % 3;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  int CountFiles() const {
    if (!std::filesystem::exists(dir_)) return 0;
    int n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_)) {
      n += e.is_regular_file();
    }
    return n;
  }

  // `images` [N, C, H, W] as one view each, in order, all of them.
  static data::TensorBatchSource Source(const at::Tensor& images,
                                        const at::Tensor& labels,
                                        int64_t batch) {
    return data::TensorBatchSource(images.unsqueeze(1), labels, batch,
                                   /*shuffle=*/false, 0, /*drop_last=*/false);
  }

  // The reference: all images at once, eval mode, pooled.
  at::Tensor Expected(const at::Tensor& images, const std::string& layer) {
    model_->eval();
    c10::InferenceMode guard;
    auto eps = model_->ForwardEndpoints(images, {layer});
    return PoolAndFlatten(eps.at(layer), kCap, PoolingMode::kAverage).clone();
  }

  std::filesystem::path dir_;
  std::shared_ptr<models::BackboneImpl> model_;
  at::Tensor images_, labels_;
};

TEST_F(ExtractorTest, StreamsEveryLayerInBatchesAndMatchesOnePass) {
  data::TensorBatchSource source = Source(images_, labels_, 4);  // 4, 4, 2
  ExtractionOptions options;
  options.pool_cap = kCap;
  ASSERT_OK_AND_ASSIGN(
      auto shards, ExtractFeatures(*model_, source, options, dir_, "train"));
  const auto names = model_->EndpointNames();
  ASSERT_EQ(shards.size(), names.size() + 1);
  EXPECT_FALSE(model_->is_training());
  for (size_t i = 0; i < names.size(); ++i) {
    SCOPED_TRACE(names[i]);
    EXPECT_EQ(shards[i].layer, names[i]);
    ASSERT_OK_AND_ASSIGN(Shard s, ReadShard(shards[i].path));
    EXPECT_EQ(s.info.rows, 10);
    EXPECT_LE(s.info.dims, 4 * kCap);
    EXPECT_EQ(s.info.payload_sha256, shards[i].info.payload_sha256);
    EXPECT_TRUE(at::allclose(s.data, Expected(images_, names[i]), 1e-4, 1e-5));
  }
  EXPECT_EQ(shards.back().layer, "labels");
  ASSERT_OK_AND_ASSIGN(Shard l, ReadShard(ShardPath(dir_, "train", "labels")));
  EXPECT_TRUE(at::equal(l.data.squeeze(1), labels_));
  EXPECT_EQ(CountFiles(), static_cast<int>(names.size()) + 1);
}

TEST_F(ExtractorTest, AveragesPatchFeaturesAndWritesFloat16) {
  at::Tensor patches = images_.narrow(0, 0, 9)
                           .view({1, 9, 3, 16, 16})
                           .repeat({2, 1, 1, 1, 1});  // 2 examples x 9 patches
  data::TensorBatchSource source(patches, at::tensor({0, 1}, at::kLong), 1);
  ExtractionOptions options;
  options.pool_cap = kCap;
  options.layers = {"block2", "after_root"};
  options.pooling = PoolingMode::kMax;
  options.dtype = ShardDtype::kFloat16;
  ASSERT_OK_AND_ASSIGN(auto shards,
                       ExtractFeatures(*model_, source, options, dir_, "val"));
  ASSERT_EQ(shards.size(), 3u);
  EXPECT_EQ(shards[0].layer, "after_root");  // network order
  EXPECT_EQ(shards[1].layer, "block2");
  ASSERT_OK_AND_ASSIGN(Shard s, ReadShard(shards[1].path));
  model_->eval();
  at::Tensor per_patch;
  {
    c10::InferenceMode guard;
    per_patch =
        PoolAndFlatten(
            model_->ForwardEndpoints(images_.narrow(0, 0, 9), {"block2"})
                .at("block2"),
            kCap, PoolingMode::kMax)
            .mean(0)
            .clone();
  }
  ASSERT_EQ(s.data.sizes(), (std::vector<int64_t>{2, per_patch.size(0)}));
  EXPECT_TRUE(at::allclose(s.data[0], per_patch, 1e-2, 1e-2));
  EXPECT_TRUE(at::equal(s.data[0], s.data[1]));
}

// Serves one good batch, then fails.
class FailingSource : public data::BatchSource {
 public:
  explicit FailingSource(at::Tensor images) : images_(std::move(images)) {}
  absl::Status StartEpoch(int64_t) override { return absl::OkStatus(); }
  absl::StatusOr<std::optional<data::Batch>> Next() override {
    if (calls_++ == 0) {
      data::Batch batch;
      batch.views = images_.unsqueeze(1);
      batch.classes = at::zeros({images_.size(0)}, at::kLong);
      return batch;
    }
    return absl::DataLossError("image 7: corrupt JPEG");
  }
  int64_t batches_per_epoch() const override { return 2; }

 private:
  at::Tensor images_;
  int calls_ = 0;
};

TEST_F(ExtractorTest, BadInputFailsCleanlyAndWritesNothing) {
  ExtractionOptions options;
  options.pool_cap = kCap;
  {
    options.layers = {"block3", "fc6"};
    data::TensorBatchSource source = Source(images_, labels_, 4);
    EXPECT_THAT(ExtractFeatures(*model_, source, options, dir_, "train"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr("layers"), HasSubstr("fc6"))));
    options.layers = {};
  }
  {
    FailingSource source(images_.narrow(0, 0, 2));
    EXPECT_THAT(ExtractFeatures(*model_, source, options, dir_, "train"),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("image 7")));
  }
  {
    data::TensorBatchSource source =
        Source(images_.narrow(0, 0, 0), labels_, 4);
    EXPECT_THAT(
        ExtractFeatures(*model_, source, options, dir_, "test"),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no examples")));
  }
  {
    data::TensorBatchSource source =
        Source(images_, labels_.narrow(0, 0, 3), 4);
    EXPECT_THAT(
        ExtractFeatures(*model_, source, options, dir_, "test"),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("classes")));
  }
  {
    data::TensorBatchSource source =
        Source(images_.view({10, 3, 256}), labels_, 4);
    EXPECT_THAT(
        ExtractFeatures(*model_, source, options, dir_, "test"),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("views")));
  }
  {
    data::TensorBatchSource source = Source(images_, labels_, 4);
    EXPECT_THAT(
        ExtractFeatures(*model_, source, options, dir_, "../x"),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("split")));
  }
  {
    // A diverged model.
    for (auto& p : model_->parameters()) {
      at::NoGradGuard no_grad;
      p.fill_(std::numeric_limits<float>::quiet_NaN());
      break;
    }
    data::TensorBatchSource source = Source(images_, labels_, 4);
    EXPECT_THAT(
        ExtractFeatures(*model_, source, options, dir_, "test"),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("NaN or Inf")));
  }
  EXPECT_EQ(CountFiles(), 0);
}

}  // namespace
}  // namespace sslab::evaluator
