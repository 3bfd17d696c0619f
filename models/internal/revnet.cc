#include "models/internal/revnet.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/autograd.h>
#include <torch/nn/functional/padding.h>
#include <torch/nn/functional/pooling.h>

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "common/torch_util/torch_compat.h"
#include "models/internal/batch_norm_relu.h"

namespace sslab::models::internal {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Restores a module's BatchNorm statistics on scope exit, so that
// recomputing a unit in the backward pass does not count its batch twice.
class BatchNormStatsGuard {
 public:
  explicit BatchNormStatsGuard(torch::nn::Module& module) {
    if (!module.is_training()) return;
    for (torch::Tensor& buffer : module.buffers()) {
      saved_.emplace_back(buffer, buffer.clone());
    }
  }
  ~BatchNormStatsGuard() {
    torch::NoGradGuard no_grad;
    for (auto& [buffer, value] : saved_) buffer.copy_(value);
  }

 private:
  std::vector<std::pair<torch::Tensor, torch::Tensor>> saved_;
};

// One stage as a single autograd node that saves only its output.
struct RevStageFunction : public torch::autograd::Function<RevStageFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               int64_t stage_address, at::TensorList params) {
    auto* stage = reinterpret_cast<RevStageImpl*>(stage_address);
    torch::Tensor y = stage->ForwardUnits(x);  // grad mode is off here
    ctx->save_for_backward({y});
    ctx->saved_data["stage"] = stage_address;
    ctx->saved_data["bf16"] =
        torch_compat::Bf16AutocastEnabled(x.device().type());
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto* stage =
        reinterpret_cast<RevStageImpl*>(ctx->saved_data["stage"].toInt());
    const torch::Tensor y = ctx->get_saved_variables()[0];
    // The backward pass runs outside the caller's autocast: recompute the
    // units under the forward's, or bf16 activations meet fp32 weights.
    torch_compat::Bf16AutocastScope autocast(ctx->saved_data["bf16"].toBool(),
                                             y.device().type());
    auto [grad_x, param_grads] = stage->Backward(y, grads[0]);
    variable_list result;
    result.reserve(param_grads.size() + 2);
    result.push_back(std::move(grad_x));
    result.emplace_back();  // stage_address
    for (torch::Tensor& g : param_grads) result.push_back(std::move(g));
    return result;
  }
};

}  // namespace

RevStageImpl::RevStageImpl(const RevStageOptions& options_)
    : options(options_) {
  reset();
}

void RevStageImpl::reset() {
  TORCH_CHECK(options.channels() % 2 == 0, "RevNet needs even channels");
  const int64_t half = options.channels() / 2;
  units.clear();
  for (int64_t i = 0; i < options.units(); ++i) {
    BottleneckOptions f(half, half);
    f.shortcut(false).batch_norm_momentum(options.batch_norm_momentum());
    units.push_back(register_module(absl::StrCat(i), BottleneckV2(f)));
  }
}

torch::Tensor RevStageImpl::ForwardUnits(const torch::Tensor& x) {
  const int64_t half = options.channels() / 2;
  torch::Tensor out = x;
  for (auto& f : units) {
    torch::Tensor x1 = out.narrow(1, 0, half);
    torch::Tensor x2 = out.narrow(1, half, half);
    torch::Tensor y1 = f(x2).add_(x1);
    out = torch::cat({x2, y1}, 1);
  }
  return out;
}

torch::Tensor RevStageImpl::forward(const torch::Tensor& x) {
  bool needs_grad = x.requires_grad();
  std::vector<torch::Tensor> params = parameters();
  for (const auto& p : params) needs_grad = needs_grad || p.requires_grad();
  if (!memory_saving_ || !torch::GradMode::is_enabled() || !needs_grad) {
    return ForwardUnits(x);
  }
  return RevStageFunction::apply(x, reinterpret_cast<int64_t>(this),
                                 at::TensorList(params));
}

torch::Tensor RevStageImpl::Invert(const torch::Tensor& y) {
  torch::NoGradGuard no_grad;
  const int64_t half = options.channels() / 2;
  torch::Tensor out = y;
  for (auto it = units.rbegin(); it != units.rend(); ++it) {
    BatchNormStatsGuard keep_stats(**it);
    torch::Tensor x2 = out.narrow(1, 0, half);
    torch::Tensor x1 = out.narrow(1, half, half) - (*it)(x2);
    out = torch::cat({x1, x2}, 1);
  }
  return out;
}

std::pair<torch::Tensor, std::vector<torch::Tensor>> RevStageImpl::Backward(
    const torch::Tensor& y, const torch::Tensor& grad_y) {
  torch::AutoGradMode grad_mode(true);
  const int64_t half = options.channels() / 2;
  // Parameter offsets of each unit in parameters() order.
  std::vector<torch::Tensor> param_grads;
  std::vector<size_t> offsets;
  for (auto& f : units) {
    offsets.push_back(param_grads.size());
    param_grads.resize(param_grads.size() + f->parameters().size());
  }

  torch::Tensor out = y.detach();
  torch::Tensor grad = grad_y;
  for (int64_t i = static_cast<int64_t>(units.size()) - 1; i >= 0; --i) {
    BottleneckV2& f = units[i];
    torch::Tensor x2 = out.narrow(1, 0, half).detach().requires_grad_(true);
    // Restored only after the gradient: BatchNorm's backward checks that
    // the statistics it saved were not modified in place.
    BatchNormStatsGuard keep_stats(*f);
    torch::Tensor f_out = f(x2);
    torch::Tensor x1 = out.narrow(1, half, half) - f_out.detach();
    torch::Tensor grad_y2 = grad.narrow(1, 0, half);
    torch::Tensor grad_y1 = grad.narrow(1, half, half);

    std::vector<torch::Tensor> inputs = {x2};
    std::vector<size_t> slots;
    std::vector<torch::Tensor> params = f->parameters();
    for (size_t p = 0; p < params.size(); ++p) {
      if (!params[p].requires_grad()) continue;
      inputs.push_back(params[p]);
      slots.push_back(offsets[i] + p);
    }
    variable_list g = torch::autograd::grad({f_out}, inputs, {grad_y1},
                                            /*retain_graph=*/false,
                                            /*create_graph=*/false,
                                            /*allow_unused=*/true);
    for (size_t s = 0; s < slots.size(); ++s) param_grads[slots[s]] = g[s + 1];
    torch::Tensor grad_x2 = g[0].defined() ? grad_y2 + g[0] : grad_y2;
    grad = torch::cat({grad_y1, grad_x2}, 1);
    out = torch::cat({x1, x2.detach()}, 1);
  }
  return {grad, std::move(param_grads)};
}

RevNetImpl::RevNetImpl(const NetworkConfig& config)
    : BackboneImpl(config.options), config_(config) {
  const ModelOptions& o = config_.options;
  const double m = o.batch_norm_momentum;
  int64_t channels = 64 * static_cast<int64_t>(o.width);
  // The root conv is a fixed-width projection: no BatchNorm, no ReLU.
  if (o.small_input) {
    root_conv_ = register_module("root_conv",
                                 MakeConv(o.in_channels, channels, 3, 1, 1));
  } else {
    root_conv_ = register_module(
        "root_conv",
        MakeConv(o.in_channels, channels, 7, o.patch_strides ? 1 : 2, 3));
  }
  for (int stage = 0; stage < 4; ++stage) {
    RevStageOptions stage_options(channels, config_.units[stage]);
    stage_options.batch_norm_momentum(m);
    stages_.push_back(register_module(absl::StrCat("block", stage + 1),
                                      RevStage(stage_options)));
    if (stage < 3) channels *= 2;
  }
  final_bn_ = register_module("final_bn", MakeBatchNorm(channels, m));
  if (o.num_outputs > 0) {
    logits_ =
        register_module("logits", torch::nn::Linear(channels, o.num_outputs));
  }
  InitializeWeights(*this);
}

std::vector<std::string> RevNetImpl::EndpointNames() const {
  return ResNetEndpointNames();
}

void RevNetImpl::set_memory_saving(bool on) {
  memory_saving_ = on;
  for (auto& stage : stages_) stage->set_memory_saving(on);
}

std::map<std::string, torch::Tensor> RevNetImpl::ForwardEndpoints(
    const torch::Tensor& images, const std::vector<std::string>& wanted) {
  namespace F = torch::nn::functional;
  EndpointCollector endpoints(ResNetEndpointNames(), !logits_.is_empty(),
                              wanted);

  torch::Tensor x = root_conv_(images);
  if (!config_.options.small_input) x = RootMaxPool(x);
  if (endpoints.Emit(x)) return endpoints.Take();

  const std::array<int64_t, 4> strides = StageStrides(config_.options);
  for (int stage = 0; stage < 4; ++stage) {
    if (stage > 0) {
      // 2x2 average pool ("SAME": a partial last window averages what it
      // covers), then zero channels on both sides to double the width.
      if (strides[stage] > 1) {
        x = F::avg_pool2d(x, F::AvgPool2dFuncOptions(strides[stage])
                                 .stride(strides[stage])
                                 .ceil_mode(true)
                                 .count_include_pad(false));
      }
      const int64_t pad = x.size(1) / 2;
      x = F::pad(x, F::PadFuncOptions({0, 0, 0, 0, pad, pad}));
    }
    x = stages_[stage](x);
    if (endpoints.Emit(x)) return endpoints.Take();
  }

  x = config_.options.last_relu ? BatchNormRelu(*final_bn_, x) : final_bn_(x);
  x = x.mean({2, 3});
  if (endpoints.Emit(x)) return endpoints.Take();
  endpoints.Emit(logits_(x));
  return endpoints.Take();
}

std::shared_ptr<torch::nn::Module> RevNetImpl::clone(
    const c10::optional<torch::Device>& device) const {
  auto copy = std::make_shared<RevNetImpl>(config_);
  copy->set_memory_saving(memory_saving_);
  CopyState(*this, *copy, device);
  return copy;
}

}  // namespace sslab::models::internal
