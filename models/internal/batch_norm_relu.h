// relu(bn(x)) as one op where it pays. Internal to models/.
//
// Nearly every BatchNorm of the study's networks feeds a ReLU (not ResNet
// v1's last one in a unit, before the residual sum, nor the final one of the
// (-) variants). Apart, a training step makes about 13 passes over the
// activation for the pair (statistics, normalize, ReLU in place; ReLU's
// backward, then BatchNorm's backward reductions and input gradient); fused, 7
// (sums; one normalize-and-clip; masked gradient sums; input gradient), with no
// BatchNorm output kept for the ReLU. Same function to float rounding:
// outputs, gradients, running statistics and num_batches_tracked.
#ifndef SSLAB_MODELS_INTERNAL_BATCH_NORM_RELU_H_
#define SSLAB_MODELS_INTERNAL_BATCH_NORM_RELU_H_

#include <torch/nn/modules/batchnorm.h>

namespace sslab::models::internal {

// relu(bn(x)) in bn's mode. Fused for a 4-D float32 channels-last CPU x (in
// eval mode only when no gradient is wanted); any other x (bf16 under
// autocast, NCHW, CUDA) runs bn(x).relu_(). SSLAB_UNFUSED_BATCH_NORM_RELU=1
// in the environment turns fusing off (for side-by-side benchmarks).
torch::Tensor BatchNormRelu(torch::nn::BatchNorm2dImpl& bn,
                            const torch::Tensor& x);

// Whether BatchNormRelu(bn, x) takes the fused kernels.
bool FusesBatchNormRelu(const torch::nn::BatchNorm2dImpl& bn,
                        const torch::Tensor& x);

}  // namespace sslab::models::internal

#endif  // SSLAB_MODELS_INTERNAL_BATCH_NORM_RELU_H_
