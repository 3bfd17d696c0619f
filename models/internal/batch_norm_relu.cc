#include "models/internal/batch_norm_relu.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "models/internal/batch_norm_relu_kernels.h"

namespace sslab::models::internal {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

ChannelsLastView View(const torch::Tensor& x) {
  return {x.size(0) * x.size(2) * x.size(3), x.size(1)};
}

torch::Tensor Floats(const std::vector<double>& values) {
  torch::Tensor t = torch::empty({static_cast<int64_t>(values.size())});
  float* out = t.data_ptr<float>();
  for (size_t i = 0; i < values.size(); ++i) out[i] = values[i];
  return t;
}

// Training-mode relu(bn(x)) with batch statistics; updates the running
// statistics as torch::nn::BatchNorm2d does.
struct TrainingBatchNormRelu
    : public torch::autograd::Function<TrainingBatchNormRelu> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight,
                               const torch::Tensor& bias,
                               torch::Tensor running_mean,
                               torch::Tensor running_var, double momentum,
                               double eps) {
    const ChannelsLastView v = View(x);
    const int64_t C = v.channels;
    // Sums of x minus one of its own rows (the first pixel's channels):
    // near the mean, so the variance does not cancel, and a function of x
    // alone, so a recomputation (RevNet's backward) repeats the forward bit
    // for bit whatever the running statistics hold by then.
    const float* guess_c = x.data_ptr<float>();
    std::vector<double> sum(C), sum_sq(C);
    ChannelSums(v, x.data_ptr<float>(), guess_c, sum.data(), sum_sq.data());

    const double n = static_cast<double>(v.rows);
    std::vector<double> mean(C), var(C), unbiased(C), invstd(C);
    for (int64_t c = 0; c < C; ++c) {
      const double offset = sum[c] / n;
      mean[c] = guess_c[c] + offset;
      var[c] = std::max(0.0, sum_sq[c] / n - offset * offset);
      unbiased[c] = v.rows > 1 ? var[c] * n / (n - 1) : var[c];
      invstd[c] = 1.0 / std::sqrt(var[c] + eps);
    }
    const torch::Tensor mean_t = Floats(mean);
    const torch::Tensor invstd_t = Floats(invstd);
    const torch::Tensor scale = (weight.detach() * invstd_t).contiguous();
    const torch::Tensor shift = bias.detach().contiguous();

    torch::Tensor z = torch::empty_like(x, at::MemoryFormat::ChannelsLast);
    ShiftScaleRelu(v, x.data_ptr<float>(), mean_t.data_ptr<float>(),
                   scale.data_ptr<float>(), shift.data_ptr<float>(),
                   z.data_ptr<float>());

    running_mean.mul_(1.0 - momentum).add_(mean_t, momentum);
    running_var.mul_(1.0 - momentum).add_(Floats(unbiased), momentum);

    ctx->save_for_backward({x});
    ctx->saved_data["mean"] = mean_t;
    ctx->saved_data["invstd"] = invstd_t;
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["shift"] = shift;
    return z;
  }

  static variable_list backward(AutogradContext* ctx,
                                variable_list grad_outputs) {
    const torch::Tensor x = ctx->get_saved_variables()[0];
    const torch::Tensor gz =
        grad_outputs[0].contiguous(at::MemoryFormat::ChannelsLast);
    const torch::Tensor mean = ctx->saved_data["mean"].toTensor();
    const torch::Tensor invstd = ctx->saved_data["invstd"].toTensor();
    const torch::Tensor scale = ctx->saved_data["scale"].toTensor();
    const torch::Tensor shift = ctx->saved_data["shift"].toTensor();

    const ChannelsLastView v = View(x);
    const int64_t C = v.channels;
    std::vector<double> sum_g(C), sum_g_centered(C);
    MaskedGradSums(v, x.data_ptr<float>(), gz.data_ptr<float>(),
                   mean.data_ptr<float>(), scale.data_ptr<float>(),
                   shift.data_ptr<float>(), sum_g.data(),
                   sum_g_centered.data());

    // d/dx of scale * (x - mean) + b over the batch (scale = w * invstd),
    // with g the ReLU-masked gradient: scale * g - scale * mean(g)
    //   - (x - mean) * scale * invstd^2 * mean(g * (x - mean)).
    const double n = static_cast<double>(v.rows);
    const float* sc = scale.data_ptr<float>();
    const float* is = invstd.data_ptr<float>();
    std::vector<double> grad_weight(C), k_centered(C), k_const(C);
    for (int64_t c = 0; c < C; ++c) {
      const double invstd_c = is[c];
      grad_weight[c] = sum_g_centered[c] * invstd_c;
      k_centered[c] = -sc[c] * invstd_c * invstd_c * sum_g_centered[c] / n;
      k_const[c] = -sc[c] * sum_g[c] / n;
    }
    const torch::Tensor k_centered_t = Floats(k_centered);
    const torch::Tensor k_const_t = Floats(k_const);
    torch::Tensor gx = torch::empty_like(x, at::MemoryFormat::ChannelsLast);
    MaskedGradInput(v, x.data_ptr<float>(), gz.data_ptr<float>(),
                    mean.data_ptr<float>(), scale.data_ptr<float>(),
                    shift.data_ptr<float>(), k_centered_t.data_ptr<float>(),
                    k_const_t.data_ptr<float>(), gx.data_ptr<float>());
    return {gx,
            Floats(grad_weight),
            Floats(sum_g),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

// Eval-mode relu(bn(x)) with the running statistics, no autograd.
torch::Tensor InferenceBatchNormRelu(const torch::nn::BatchNorm2dImpl& bn,
                                     const torch::Tensor& x) {
  const torch::Tensor mean = bn.running_mean.contiguous();
  const torch::Tensor scale =
      (bn.weight / (bn.running_var + bn.options.eps()).sqrt()).contiguous();
  const torch::Tensor shift = bn.bias.contiguous();
  torch::Tensor z = torch::empty_like(x, at::MemoryFormat::ChannelsLast);
  ShiftScaleRelu(View(x), x.data_ptr<float>(), mean.data_ptr<float>(),
                 scale.data_ptr<float>(), shift.data_ptr<float>(),
                 z.data_ptr<float>());
  return z;
}

bool FusingDisabled() {
  static const bool disabled = [] {
    const char* value = std::getenv("SSLAB_UNFUSED_BATCH_NORM_RELU");
    return value != nullptr && std::strcmp(value, "1") == 0;
  }();
  return disabled;
}

}  // namespace

bool FusesBatchNormRelu(const torch::nn::BatchNorm2dImpl& bn,
                        const torch::Tensor& x) {
  const auto& o = bn.options;
  if (FusingDisabled() || !o.affine() || !o.track_running_stats() ||
      !o.momentum().has_value()) {
    return false;
  }
  if (x.dim() != 4 || !x.device().is_cpu() || x.scalar_type() != at::kFloat ||
      !x.is_contiguous(at::MemoryFormat::ChannelsLast) || x.numel() == 0 ||
      x.size(1) != o.num_features() ||
      x.numel() / x.size(1) < 2) {  // bn's own error for one value
    return false;
  }
  for (const torch::Tensor* t :
       {&bn.weight, &bn.bias, &bn.running_mean, &bn.running_var}) {
    if (!t->device().is_cpu() || t->scalar_type() != at::kFloat) return false;
  }
  if (bn.is_training()) return true;
  // Eval mode fuses only the forward pass.
  return !(torch::GradMode::is_enabled() &&
           (x.requires_grad() || bn.weight.requires_grad() ||
            bn.bias.requires_grad()));
}

torch::Tensor BatchNormRelu(torch::nn::BatchNorm2dImpl& bn,
                            const torch::Tensor& x) {
  if (!FusesBatchNormRelu(bn, x)) return bn.forward(x).relu_();
  if (!bn.is_training()) {
    torch::NoGradGuard no_grad;
    return InferenceBatchNormRelu(bn, x);
  }
  {
    torch::NoGradGuard no_grad;
    bn.num_batches_tracked += 1;
  }
  return TrainingBatchNormRelu::apply(
      x, bn.weight, bn.bias, bn.running_mean, bn.running_var,
      bn.options.momentum().value(), bn.options.eps());
}

}  // namespace sslab::models::internal
