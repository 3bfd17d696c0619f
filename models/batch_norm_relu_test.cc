// The fused BatchNorm + ReLU computes what bn(x).relu_() computes: outputs,
// gradients, running statistics and the batch count, in both modes; its
// result does not depend on the thread count; other inputs fall back.
#include "models/internal/batch_norm_relu.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "models/internal/layers.h"

namespace sslab::models::internal {
namespace {

struct Result {
  torch::Tensor out, grad_x, grad_weight, grad_bias;
};

// A BatchNorm with random affine parameters and running statistics.
torch::nn::BatchNorm2d RandomBatchNorm(int64_t channels, uint64_t seed) {
  torch::manual_seed(seed);
  torch::nn::BatchNorm2d bn = MakeBatchNorm(channels, 0.1);
  torch::NoGradGuard no_grad;
  bn->weight.uniform_(0.5, 1.5);
  bn->bias.uniform_(-0.5, 0.5);
  bn->running_mean.uniform_(-1, 1);
  bn->running_var.uniform_(0.5, 2);
  return bn;
}

// Channels-last input away from zero mean, as activations are.
torch::Tensor RandomInput(std::vector<int64_t> shape, uint64_t seed) {
  torch::manual_seed(seed);
  return (torch::randn(shape) * 3 + 2)
      .contiguous(at::MemoryFormat::ChannelsLast);
}

Result TrainStep(torch::nn::BatchNorm2d& bn, const torch::Tensor& input,
                 bool fused) {
  torch::Tensor x = input.clone().requires_grad_();
  torch::Tensor out = fused ? BatchNormRelu(*bn, x) : bn(x).relu_();
  torch::manual_seed(7);
  (out * torch::randn_like(out)).sum().backward();
  Result r{out.detach(), x.grad(), bn->weight.grad().clone(),
           bn->bias.grad().clone()};
  bn->weight.mutable_grad().reset();
  bn->bias.mutable_grad().reset();
  return r;
}

void ExpectClose(const torch::Tensor& a, const torch::Tensor& b,
                 const char* what) {
  EXPECT_TRUE(torch::allclose(a, b, 1e-4, 1e-5))
      << what << ": max difference " << (a - b).abs().max().item<float>();
}

TEST(BatchNormReluTest, TrainingMatchesUnfusedOutputsGradientsAndStatistics) {
  const std::vector<std::vector<int64_t>> shapes = {
      {8, 16, 7, 7}, {4, 64, 5, 3}, {3, 5, 2, 2}, {64, 33, 1, 1}};
  for (const auto& shape : shapes) {
    SCOPED_TRACE(torch::IntArrayRef(shape));
    torch::nn::BatchNorm2d fused = RandomBatchNorm(shape[1], 1);
    torch::nn::BatchNorm2d plain = RandomBatchNorm(shape[1], 1);
    const torch::Tensor x = RandomInput(shape, 2);
    ASSERT_TRUE(FusesBatchNormRelu(*fused, x));
    for (int step = 0; step < 2; ++step) {
      const Result a = TrainStep(fused, x + step, /*fused=*/true);
      const Result b = TrainStep(plain, x + step, /*fused=*/false);
      EXPECT_TRUE(a.out.is_contiguous(at::MemoryFormat::ChannelsLast));
      ExpectClose(a.out, b.out, "output");
      ExpectClose(a.grad_x, b.grad_x, "input gradient");
      ExpectClose(a.grad_weight, b.grad_weight, "weight gradient");
      ExpectClose(a.grad_bias, b.grad_bias, "bias gradient");
      // Some outputs are clipped, some pass: the mask is exercised.
      EXPECT_GT((a.out == 0).sum().item<int64_t>(), 0);
      EXPECT_GT((a.out > 0).sum().item<int64_t>(), 0);
    }
    ExpectClose(fused->running_mean, plain->running_mean, "running mean");
    ExpectClose(fused->running_var, plain->running_var, "running variance");
    EXPECT_EQ(fused->num_batches_tracked.item<int64_t>(), 2);
    EXPECT_EQ(plain->num_batches_tracked.item<int64_t>(), 2);
  }
}

TEST(BatchNormReluTest, EvalModeUsesRunningStatistics) {
  torch::nn::BatchNorm2d fused = RandomBatchNorm(24, 3);
  fused->eval();
  const torch::Tensor x = RandomInput({6, 24, 5, 5}, 4);
  torch::NoGradGuard no_grad;
  ASSERT_TRUE(FusesBatchNormRelu(*fused, x));
  const torch::Tensor mean_before = fused->running_mean.clone();
  ExpectClose(BatchNormRelu(*fused, x), fused(x).relu(), "output");
  EXPECT_TRUE(torch::equal(fused->running_mean, mean_before));
}

TEST(BatchNormReluTest, ResultDoesNotDependOnThreadCount) {
  const int threads = at::get_num_threads();
  const torch::Tensor x = RandomInput({32, 48, 9, 9}, 5);
  std::vector<Result> results;
  for (int n : {1, 2, 3}) {
    at::set_num_threads(n);
    torch::nn::BatchNorm2d bn = RandomBatchNorm(48, 6);
    results.push_back(TrainStep(bn, x, /*fused=*/true));
  }
  at::set_num_threads(threads);
  for (size_t i = 1; i < results.size(); ++i) {
    EXPECT_TRUE(torch::equal(results[i].out, results[0].out));
    EXPECT_TRUE(torch::equal(results[i].grad_x, results[0].grad_x));
    EXPECT_TRUE(torch::equal(results[i].grad_weight, results[0].grad_weight));
  }
}

// A recomputation (RevNet's backward) must repeat the forward bit for bit,
// though the first pass has moved the running statistics by then.
TEST(BatchNormReluTest, TrainingOutputIsAFunctionOfTheInputAlone) {
  torch::nn::BatchNorm2d bn = RandomBatchNorm(12, 10);
  const torch::Tensor x = RandomInput({8, 12, 6, 6}, 11);
  torch::NoGradGuard no_grad;
  const torch::Tensor first = BatchNormRelu(*bn, x);
  bn->running_mean.uniform_(-5, 5);
  bn->running_var.uniform_(1, 9);
  EXPECT_TRUE(torch::equal(BatchNormRelu(*bn, x), first));
}

TEST(BatchNormReluTest, OtherInputsFallBackToTheUnfusedOps) {
  torch::nn::BatchNorm2d bn = RandomBatchNorm(8, 8);
  const torch::Tensor x = RandomInput({4, 8, 3, 3}, 9);
  EXPECT_FALSE(FusesBatchNormRelu(*bn, x.contiguous()));  // NCHW
  EXPECT_FALSE(FusesBatchNormRelu(*bn, x.to(torch::kDouble)));
  EXPECT_FALSE(FusesBatchNormRelu(
      *bn, x.index({torch::indexing::Slice(0, 1), torch::indexing::Slice(),
                    torch::indexing::Slice(0, 1), torch::indexing::Slice(0, 1)})
               .contiguous(at::MemoryFormat::ChannelsLast)))
      << "one value per channel: BatchNorm's own error";
  bn->eval();
  EXPECT_FALSE(FusesBatchNormRelu(*bn, x.clone().requires_grad_()))
      << "eval mode with a gradient wanted";

  // The fallback is bn(x).relu_() itself.
  bn->train();
  torch::nn::BatchNorm2d twin = RandomBatchNorm(8, 8);
  const torch::Tensor nchw = x.contiguous();
  ExpectClose(BatchNormRelu(*bn, nchw), twin(nchw).relu(), "NCHW output");
}

}  // namespace
}  // namespace sslab::models::internal
