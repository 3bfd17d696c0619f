// RevNet's reversible backward: inversion, gradient agreement with ordinary
// autograd, BatchNorm statistics, and activation memory that does not grow
// with depth (measured with a counting CPU allocator).
#include "models/internal/revnet.h"

#include <c10/core/CPUAllocator.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <mutex>
#include <unordered_map>

#include "common/torch_util/runtime.h"
#include "common/torch_util/torch_compat.h"
#include "models/internal/resnet.h"
#include "models/model.h"

namespace sslab::models::internal {
namespace {

// Wraps the CPU allocator and tracks live and peak bytes of every CPU
// tensor allocated while installed. Data pointer == context, as
// Allocator::raw_allocate requires.
class CountingCpuAllocator final : public c10::Allocator {
 public:
  static CountingCpuAllocator& Get() {
    static auto* allocator = new CountingCpuAllocator();  // outlives tensors
    return *allocator;
  }

  c10::DataPtr allocate(size_t bytes) const override {
    void* data = inner_->raw_allocate(bytes);
    if (data != nullptr) {
      std::lock_guard<std::mutex> lock(mutex_);
      sizes_[data] = bytes;
      live_ += static_cast<int64_t>(bytes);
      peak_ = std::max(peak_, live_);
    }
    return {data, data, &Delete, c10::Device(c10::kCPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &Delete; }
  // Pure virtual in newer LibTorch; harmless here.
  void copy_data(void* dest, const void* src, std::size_t count) const {
    std::memcpy(dest, src, count);
  }

  int64_t live() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return live_;
  }
  int64_t peak() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return peak_;
  }
  void ResetPeak() {
    std::lock_guard<std::mutex> lock(mutex_);
    peak_ = live_;
  }

  // Installs the counter as the CPU allocator for its lifetime.
  class Installed {
   public:
    Installed() {
      Get().inner_ = c10::GetCPUAllocator();
      c10::SetCPUAllocator(&Get(), kPriority);
    }
    ~Installed() { c10::SetCPUAllocator(Get().inner_, kPriority); }
  };

 private:
  static constexpr uint8_t kPriority = 200;
  static void Delete(void* data) {
    if (data == nullptr) return;
    CountingCpuAllocator& self = Get();
    {
      std::lock_guard<std::mutex> lock(self.mutex_);
      auto it = self.sizes_.find(data);
      self.live_ -= static_cast<int64_t>(it->second);
      self.sizes_.erase(it);
    }
    self.inner_->raw_deleter()(data);
  }

  c10::Allocator* inner_ = nullptr;
  mutable std::mutex mutex_;
  mutable std::unordered_map<void*, size_t> sizes_;
  mutable int64_t live_ = 0;
  mutable int64_t peak_ = 0;
};

class RevNetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One thread: on a loaded CI box OpenMP workers spin-wait and burn CPU.
    ConfigureTorchThreads(1);
    torch::manual_seed(0);
  }
};

NetworkConfig SmallConfig(Architecture architecture, std::array<int, 4> units) {
  NetworkConfig config;
  config.options.architecture = architecture;
  config.options.width = 1;
  config.options.num_outputs = 10;
  config.options.small_input = true;
  config.units = units;
  return config;
}

TEST_F(RevNetTest, InversionReconstructsTheInput) {
  RevStage stage(RevStageOptions(32, 3));
  torch::Tensor x = torch::randn({4, 32, 8, 8});
  torch::Tensor stats = stage->named_buffers()["0.bn1.running_mean"].clone();
  torch::Tensor y;
  {
    torch::NoGradGuard no_grad;
    y = stage->ForwardUnits(x);
  }
  stats = stage->named_buffers()["0.bn1.running_mean"].clone();
  torch::Tensor reconstructed = stage->Invert(y);
  EXPECT_FALSE(torch::allclose(y, x));
  EXPECT_TRUE(torch::allclose(reconstructed, x, /*rtol=*/1e-4, /*atol=*/1e-4))
      << (reconstructed - x).abs().max().item<float>();
  // Inverting does not move the BatchNorm statistics.
  EXPECT_TRUE(
      torch::equal(stats, stage->named_buffers()["0.bn1.running_mean"]));
}

// In both memory formats: channels-last takes the fused BatchNorm + ReLU
// (batch_norm_relu.h), which the recomputation runs again.
TEST_F(RevNetTest, GradientsMatchOrdinaryAutograd) {
  for (auto format :
       {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
    SCOPED_TRACE(format == at::MemoryFormat::ChannelsLast ? "channels-last"
                                                          : "NCHW");
    NetworkConfig config = SmallConfig(Architecture::kRevNet50, {2, 2, 2, 1});
    auto saving = std::make_shared<RevNetImpl>(config);
    for (auto& p : saving->parameters()) {
      if (p.dim() == 4) p.set_data(p.contiguous(format));
    }
    auto stored = std::dynamic_pointer_cast<RevNetImpl>(saving->clone());
    stored->set_memory_saving(false);
    torch::Tensor images = torch::randn({4, 3, 16, 16}).contiguous(format);
    torch::Tensor labels = torch::tensor({0, 1, 2, 3});

    std::map<std::string, torch::Tensor> input_grads;
    for (auto* model : {saving.get(), stored.get()}) {
      torch::Tensor x = images.clone().requires_grad_(true);
      torch::nn::functional::cross_entropy(model->forward(x), labels)
          .backward();
      input_grads[model == saving.get() ? "saving" : "stored"] = x.grad();
    }
    EXPECT_TRUE(torch::allclose(input_grads["saving"], input_grads["stored"],
                                1e-4, 1e-6));
    auto stored_params = stored->named_parameters();
    for (const auto& p : saving->named_parameters()) {
      const torch::Tensor& expected = stored_params[p.key()].grad();
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
      EXPECT_GT(expected.abs().sum().item<double>(), 0.0) << p.key();
      EXPECT_TRUE(torch::allclose(p.value().grad(), expected, 1e-3, 1e-5))
          << p.key() << " max diff "
          << (p.value().grad() - expected).abs().max().item<float>();
    }
    // The recomputation left the statistics as one ordinary step does: each
    // batch counted once.
    auto stored_buffers = stored->named_buffers();
    for (const auto& b : saving->named_buffers()) {
      EXPECT_TRUE(
          torch::allclose(b.value(), stored_buffers[b.key()], 1e-5, 1e-6))
          << b.key();
    }
  }
}

// Autocast is thread-local and off in the backward pass: the recomputation
// must run under the forward's, as torch.utils.checkpoint does.
TEST_F(RevNetTest, TrainsUnderBf16AutocastLikeOrdinaryAutograd) {
  NetworkConfig config = SmallConfig(Architecture::kRevNet50, {2, 1, 1, 1});
  auto saving = std::make_shared<RevNetImpl>(config);
  auto stored = std::dynamic_pointer_cast<RevNetImpl>(saving->clone());
  stored->set_memory_saving(false);
  torch::Tensor images = torch::randn({4, 3, 16, 16});
  torch::Tensor labels = torch::tensor({0, 1, 2, 3});
  for (auto* model : {saving.get(), stored.get()}) {
    torch::Tensor loss;
    {
      torch_compat::Bf16AutocastScope autocast(true, c10::DeviceType::CPU);
      loss = torch::nn::functional::cross_entropy(
          model->forward(images).to(torch::kFloat), labels);
    }
    ASSERT_NO_THROW(loss.backward());
  }
  auto stored_params = stored->named_parameters();
  for (const auto& p : saving->named_parameters()) {
    const torch::Tensor& expected = stored_params[p.key()].grad();
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_EQ(p.value().grad().scalar_type(), torch::kFloat) << p.key();
    // bf16 keeps 8 bits of mantissa, and the reversible backward rebuilds
    // activations by subtraction: agreement to ~10% in norm (a wrong
    // gradient is off by ~100%).
    const double error = (p.value().grad() - expected).norm().item<double>() /
                         expected.norm().item<double>();
    EXPECT_LT(error, 0.15) << p.key();
  }
}

struct MemoryUse {
  int64_t after_forward;  // bytes kept for the backward pass (+ outputs)
  int64_t backward_peak;  // peak above the start, less the parameter grads
};

MemoryUse MeasureTrainingStep(BackboneImpl& model) {
  torch::Tensor images = torch::randn({4, 3, 32, 32});
  torch::Tensor labels = torch::tensor({0, 1, 2, 3});
  auto step = [&] {
    torch::nn::functional::cross_entropy(model.forward(images), labels)
        .backward();
  };
  step();  // warm-up: lazily created kernels and caches
  int64_t grad_bytes = 0;
  for (auto& p : model.parameters()) {
    grad_bytes += p.numel() * p.element_size();
    p.mutable_grad() = torch::Tensor();
  }
  CountingCpuAllocator& counter = CountingCpuAllocator::Get();
  CountingCpuAllocator::Installed installed;
  const int64_t start = counter.live();
  counter.ResetPeak();
  MemoryUse use;
  {
    torch::Tensor loss =
        torch::nn::functional::cross_entropy(model.forward(images), labels);
    use.after_forward = counter.live() - start;
    loss.backward();
  }
  use.backward_peak = counter.peak() - start - grad_bytes;
  return use;
}

TEST_F(RevNetTest, ActivationMemoryStaysFlatWithDepthUnlikeResNet) {
  // Depth added where activations are large and weights small (stages 1-2
  // at 32 px), so that parameter gradients do not blur the comparison. The
  // reversible backward's working set (stage output and its gradient, the
  // current reconstruction and gradient, one unit's graph) is reached with
  // two units per stage, so "shallow" has two.
  const std::array<int, 4> shallow = {2, 2, 1, 1}, deep = {6, 6, 1, 1};
  auto revnet = [&](std::array<int, 4> units, bool saving) {
    RevNetImpl model(SmallConfig(Architecture::kRevNet50, units));
    model.set_memory_saving(saving);
    return MeasureTrainingStep(model);
  };
  auto resnet = [&](std::array<int, 4> units) {
    ResNetImpl model(SmallConfig(Architecture::kResNet50V2, units));
    return MeasureTrainingStep(model);
  };
  const MemoryUse rev_shallow = revnet(shallow, true);
  const MemoryUse rev_deep = revnet(deep, true);
  const MemoryUse stored_shallow = revnet(shallow, false);
  const MemoryUse stored_deep = revnet(deep, false);
  const MemoryUse res_shallow = resnet(shallow);
  const MemoryUse res_deep = resnet(deep);
  auto ratio = [](int64_t deep_bytes, int64_t shallow_bytes) {
    return static_cast<double>(deep_bytes) / static_cast<double>(shallow_bytes);
  };
  std::cout << "after forward (6 -> 14 units): revnet "
            << rev_shallow.after_forward << " -> " << rev_deep.after_forward
            << ", revnet stored " << stored_shallow.after_forward << " -> "
            << stored_deep.after_forward << ", resnet "
            << res_shallow.after_forward << " -> " << res_deep.after_forward
            << "\nbackward peak: revnet " << rev_shallow.backward_peak << " -> "
            << rev_deep.backward_peak << ", revnet stored "
            << stored_shallow.backward_peak << " -> "
            << stored_deep.backward_peak << ", resnet "
            << res_shallow.backward_peak << " -> " << res_deep.backward_peak
            << "\n";
  // Reversible: flat (same stage outputs kept, one unit recomputed at a time).
  EXPECT_LT(ratio(rev_deep.after_forward, rev_shallow.after_forward), 1.05);
  EXPECT_LT(ratio(rev_deep.backward_peak, rev_shallow.backward_peak), 1.15);
  // Ordinary autograd on the same network and ResNet grow with depth.
  EXPECT_GT(ratio(stored_deep.after_forward, stored_shallow.after_forward),
            2.0);
  EXPECT_GT(ratio(res_deep.after_forward, res_shallow.after_forward), 2.0);
  EXPECT_GT(ratio(res_deep.backward_peak, res_shallow.backward_peak), 2.0);
  // And the reversible network keeps far less than the stored one.
  EXPECT_LT(rev_deep.after_forward * 2, stored_deep.after_forward);
}

TEST_F(RevNetTest, NoGradForwardMatchesTheTrainingPath) {
  NetworkConfig config = SmallConfig(Architecture::kRevNet50, {2, 1, 1, 1});
  RevNetImpl model(config);
  model.eval();
  torch::Tensor images = torch::randn({2, 3, 16, 16});
  torch::Tensor with_grad = model.forward(images);
  torch::Tensor without_grad;
  {
    torch::NoGradGuard no_grad;
    without_grad = model.forward(images);
  }
  EXPECT_TRUE(with_grad.requires_grad());
  EXPECT_TRUE(torch::allclose(with_grad, without_grad, 1e-5, 1e-6));
}

}  // namespace
}  // namespace sslab::models::internal
