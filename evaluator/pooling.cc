#include "evaluator/pooling.h"

#include <ATen/ATen.h>

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sslab::evaluator {
namespace {

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

absl::StatusOr<PoolingMode> ParsePoolingMode(absl::string_view name) {
  if (name == "avg" || name == "average") return PoolingMode::kAverage;
  if (name == "max") return PoolingMode::kMax;
  return absl::InvalidArgumentError(
      absl::StrCat("pooling: '", name, "' is not one of avg, max"));
}

int64_t PoolingKernel(int64_t channels, int64_t height, int64_t width,
                      int64_t cap) {
  const int64_t values = channels * height * width;
  if (values <= cap) return 1;
  // Exact integer ceil(sqrt(values / cap)): smallest k with k^2 * cap >=
  // values.
  int64_t k = static_cast<int64_t>(std::ceil(
      std::sqrt(static_cast<double>(values) / static_cast<double>(cap))));
  while (k > 1 && (k - 1) * (k - 1) * cap >= values) --k;
  while (k * k * cap < values) ++k;
  return k;
}

absl::StatusOr<int64_t> PooledDims(const std::vector<int64_t>& shape,
                                   int64_t cap) {
  if (cap < 1) return absl::InvalidArgumentError("pool_cap: must be >= 1");
  for (int64_t s : shape) {
    if (s < 1) {
      return absl::InvalidArgumentError("endpoint shape: sizes must be >= 1");
    }
  }
  if (shape.size() == 1) return shape[0];
  if (shape.size() != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "endpoint shape: expected [C, H, W] or [D], got rank ", shape.size()));
  }
  const int64_t k = PoolingKernel(shape[0], shape[1], shape[2], cap);
  return shape[0] * CeilDiv(shape[1], k) * CeilDiv(shape[2], k);
}

at::Tensor PoolAndFlatten(const at::Tensor& endpoint, int64_t cap,
                          PoolingMode mode) {
  if (endpoint.dim() == 2) return endpoint;
  TORCH_CHECK(endpoint.dim() == 4, "endpoint must be [N, D] or [N, C, H, W]");
  const int64_t k =
      PoolingKernel(endpoint.size(1), endpoint.size(2), endpoint.size(3), cap);
  at::Tensor pooled = endpoint;
  if (k > 1) {
    pooled = mode == PoolingMode::kMax
                 ? at::max_pool2d(endpoint, {k, k}, {k, k}, {0, 0}, {1, 1},
                                  /*ceil_mode=*/true)
                 : at::avg_pool2d(endpoint, {k, k}, {k, k}, {0, 0},
                                  /*ceil_mode=*/true,
                                  /*count_include_pad=*/false);
  }
  return pooled.reshape({endpoint.size(0), -1});
}

}  // namespace sslab::evaluator
