// Times one training-mode relu(bn(x)), forward and backward, fused
// (models/internal/batch_norm_relu.h) and as bn(x).relu_(), on channels-last
// activations of ResNet50 v2 k=1 at 28 px, batch 64 x 4 Rotation views (the
// shapes of bench/trainer/service_vs_python.sh). Interleaved repeats; prints a
// markdown table of medians.
//
// Usage: batch_norm_relu_bench [--threads=2] [--repeats=15]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/flags.h"
#include "common/torch_util/runtime.h"
#include "models/internal/batch_norm_relu.h"
#include "models/internal/layers.h"

namespace {

using sslab::models::internal::BatchNormRelu;
using sslab::models::internal::MakeBatchNorm;
using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = std::stoi(sslab::bench::Flag(argc, argv, "threads", "2"));
  const int repeats =
      std::stoi(sslab::bench::Flag(argc, argv, "repeats", "15"));
  sslab::ConfigureTorchThreads(threads);

  // {channels, side}: block1's unit input and inner width at 28 px, and the
  // deeper stages' (the stride-2 units halve the side).
  const std::vector<std::pair<int64_t, int64_t>> shapes = {
      {64, 28}, {16, 28}, {128, 14}, {32, 14}, {256, 7}, {512, 4}};
  std::printf(
      "| activation (batch 256) | bn(x).relu_() fwd / bwd, ms | fused fwd / "
      "bwd, ms | speed-up (fwd + bwd) |\n|---|---|---|---|\n");
  for (const auto& [channels, side] : shapes) {
    const torch::Tensor input = torch::randn({256, channels, side, side})
                                    .contiguous(at::MemoryFormat::ChannelsLast);
    const torch::Tensor grad = torch::randn_like(input);
    std::vector<double> times[2][2];  // [fused][forward or backward]
    for (int r = 0; r < repeats + 2; ++r) {
      for (int fused = 0; fused < 2; ++fused) {
        torch::nn::BatchNorm2d bn = MakeBatchNorm(channels, 0.1);
        torch::Tensor x = input.clone().requires_grad_();
        const auto t0 = Clock::now();
        torch::Tensor z = fused ? BatchNormRelu(*bn, x) : bn(x).relu_();
        const auto t1 = Clock::now();
        z.backward(grad);
        const auto t2 = Clock::now();
        if (r < 2) continue;  // warm-up
        times[fused][0].push_back(Ms(t1 - t0));
        times[fused][1].push_back(Ms(t2 - t1));
      }
    }
    const double pf = Median(times[0][0]), pb = Median(times[0][1]);
    const double ff = Median(times[1][0]), fb = Median(times[1][1]);
    std::printf("| %ld x %ld x %ld | %.2f / %.2f | %.2f / %.2f | %.2fx |\n",
                static_cast<long>(channels), static_cast<long>(side),
                static_cast<long>(side), pf, pb, ff, fb, (pf + pb) / (ff + fb));
  }
  return 0;
}
