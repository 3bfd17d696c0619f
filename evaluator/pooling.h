// Spatial pooling of large representation endpoints, as in the study: an
// endpoint with more than `cap` values per image is max- or average-pooled
// with kernel = stride = ceil(sqrt(h * w * c / cap)), so a probe sees about
// `cap` dimensions at most. Windows that run past the edge are kept (ceil
// mode, like TensorFlow's SAME padding): average pooling divides by the
// in-bounds count, so no value is dropped and none is diluted by padding.
// Flattening is channel-major (NCHW order).
//
// Thread-safe: pure functions.
#ifndef SSLAB_EVALUATOR_POOLING_H_
#define SSLAB_EVALUATOR_POOLING_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sslab::evaluator {

enum class PoolingMode { kAverage, kMax };

// Parses "avg" / "average" and "max". INVALID_ARGUMENT naming "pooling".
absl::StatusOr<PoolingMode> ParsePoolingMode(absl::string_view name);

// Kernel (= stride) for a c x h x w endpoint: 1 when c * h * w <= cap.
int64_t PoolingKernel(int64_t channels, int64_t height, int64_t width,
                      int64_t cap);

// Number of features per image after pooling an endpoint of `shape`
// ([C, H, W], or [D] for a vector endpoint, which is never pooled).
// INVALID_ARGUMENT for other ranks, non-positive sizes or cap < 1.
absl::StatusOr<int64_t> PooledDims(const std::vector<int64_t>& shape,
                                   int64_t cap);

// Pools a batch of endpoint values [N, C, H, W] (or passes [N, D] through)
// and flattens it to [N, PooledDims]. Throws c10::Error on bad shapes
// (callers validate with PooledDims first).
at::Tensor PoolAndFlatten(const at::Tensor& endpoint, int64_t cap,
                          PoolingMode mode);

}  // namespace sslab::evaluator

#endif  // SSLAB_EVALUATOR_POOLING_H_
