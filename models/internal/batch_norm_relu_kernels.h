// The loops of the fused BatchNorm + ReLU (batch_norm_relu.h), on a
// channels-last float tensor seen as `rows` x `channels` (rows = N*H*W).
// Internal to models/.
//
// Every function splits the rows into fixed chunks and runs them with
// at::parallel_for; sums are kept per chunk in float (the loops are
// compute-bound: double would halve their speed) and added in double in
// chunk order, so results do not depend on the thread count. The activation
// test (x - mean) * scale + shift > 0 is computed the same way in every loop,
// so the backward's ReLU mask is exactly the forward's.
#ifndef SSLAB_MODELS_INTERNAL_BATCH_NORM_RELU_KERNELS_H_
#define SSLAB_MODELS_INTERNAL_BATCH_NORM_RELU_KERNELS_H_

#include <cstdint>

namespace sslab::models::internal {

struct ChannelsLastView {
  int64_t rows = 0;
  int64_t channels = 0;
};

// sum[c] = sum over rows of x - shift[c], sum_sq[c] = of its square. A
// shift near the mean (e.g. one row of x) keeps the variance
// sum_sq / n - (sum / n)^2 from cancelling.
void ChannelSums(ChannelsLastView v, const float* x, const float* shift,
                 double* sum, double* sum_sq);

// z = max((x - mean[c]) * scale[c] + shift[c], 0). z may alias x.
void ShiftScaleRelu(ChannelsLastView v, const float* x, const float* mean,
                    const float* scale, const float* shift, float* z);

// With g = gz where (x - mean) * scale + shift > 0, else 0:
// sum_g[c] = sum of g, sum_g_centered[c] = sum of g * (x - mean).
void MaskedGradSums(ChannelsLastView v, const float* x, const float* gz,
                    const float* mean, const float* scale, const float* shift,
                    double* sum_g, double* sum_g_centered);

// gx = g * scale[c] + (x - mean[c]) * k_centered[c] + k_const[c], with g as
// in MaskedGradSums.
void MaskedGradInput(ChannelsLastView v, const float* x, const float* gz,
                     const float* mean, const float* scale, const float* shift,
                     const float* k_centered, const float* k_const, float* gx);

}  // namespace sslab::models::internal

#endif  // SSLAB_MODELS_INTERNAL_BATCH_NORM_RELU_KERNELS_H_
