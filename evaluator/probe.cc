#include "evaluator/probe.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <cmath>
#include <new>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace sslab::evaluator {
namespace {

bool Present(const FeatureSplit& split) {
  return split.features.defined() && split.features.numel() > 0;
}

absl::Status CheckSplit(const FeatureSplit& split, const std::string& name) {
  if (!split.features.defined() || split.features.dim() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ".features: expected a [n, d] matrix"));
  }
  if (split.features.size(0) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": empty split"));
  }
  if (split.features.size(1) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ".features: zero feature dimensions"));
  }
  if (!at::isFloatingType(split.features.scalar_type())) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ".features: expected a floating-point type"));
  }
  if (!split.labels.defined() || split.labels.dim() != 1 ||
      split.labels.scalar_type() != at::kLong) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ".labels: expected an int64 vector"));
  }
  if (split.labels.size(0) != split.features.size(0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ".labels: ", split.labels.size(0), " labels for ",
                     split.features.size(0), " feature rows"));
  }
  if (split.labels.min().item<int64_t>() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ".labels: negative label"));
  }
  if (!at::isfinite(split.features).all().item<bool>()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ".features: contains NaN or Inf"));
  }
  return absl::OkStatus();
}

// Validated, standardised, on-device copies of the splits.
struct PreparedData {
  at::Tensor train_x, train_y, val_x, val_y, test_x, test_y;
  int num_classes = 0;
  bool has_val = false;
};

absl::StatusOr<PreparedData> Prepare(const ProbeData& data, bool need_val,
                                     c10::Device device) {
  SSLAB_RETURN_IF_ERROR(CheckSplit(data.train, "train"));
  SSLAB_RETURN_IF_ERROR(CheckSplit(data.test, "test"));
  const bool has_val = Present(data.val);
  if (need_val && !has_val) {
    return absl::InvalidArgumentError(
        "val: empty split (needed to choose the regularisation)");
  }
  if (has_val) SSLAB_RETURN_IF_ERROR(CheckSplit(data.val, "val"));
  const int64_t d = data.train.features.size(1);
  for (const auto& [split, name] :
       {std::pair{&data.val, "val"}, std::pair{&data.test, "test"}}) {
    if (Present(*split) && split->features.size(1) != d) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ".features: ", split->features.size(1),
                       " dimensions but train has ", d));
    }
  }
  int64_t max_label = std::max(data.train.labels.max().item<int64_t>(),
                               data.test.labels.max().item<int64_t>());
  if (has_val) {
    max_label = std::max(max_label, data.val.labels.max().item<int64_t>());
  }
  int num_classes = data.num_classes;
  if (num_classes == 0) num_classes = static_cast<int>(max_label + 1);
  if (num_classes < 2 || max_label >= num_classes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_classes: ", data.num_classes, " but labels go up to ", max_label));
  }
  if (std::get<0>(at::_unique(data.train.labels)).size(0) < 2) {
    return absl::InvalidArgumentError(
        "train.labels: only one class present; a classifier needs two");
  }

  PreparedData out;
  out.num_classes = num_classes;
  out.has_val = has_val;
  auto to_device = [&](const at::Tensor& x) {
    return x.to(device,
                x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat);
  };
  at::Tensor train = to_device(data.train.features);
  // Torch's reductions use cascade summation, accurate enough in float32;
  // the only temporary is one centred copy of the train matrix.
  at::Tensor mean = train.mean(0, /*keepdim=*/true);
  at::Tensor stddev = (train - mean).square_().mean(0, true).sqrt_();
  stddev = at::where(stddev > 1e-12, stddev, at::ones_like(stddev));
  at::Tensor inv_std = stddev.reciprocal();
  auto standardise = [&](const at::Tensor& x) {
    return (to_device(x) - mean).mul_(inv_std);
  };
  out.train_x = (train - mean).mul_(inv_std);
  train = at::Tensor();
  out.train_y = data.train.labels.to(device);
  out.test_x = standardise(data.test.features);
  out.test_y = data.test.labels.to(device);
  if (has_val) {
    out.val_x = standardise(data.val.features);
    out.val_y = data.val.labels.to(device);
  }
  return out;
}

// (top-1, top-k) accuracy of logits against labels.
std::pair<double, double> Accuracy(const at::Tensor& logits,
                                   const at::Tensor& labels, int top) {
  const int k = std::min<int>(top, logits.size(1));
  at::Tensor pred = std::get<1>(logits.topk(k, 1));
  at::Tensor hits = pred.eq(labels.unsqueeze(1));
  const double n = static_cast<double>(labels.size(0));
  const double top1 = hits.select(1, 0).sum().item<double>() / n;
  const double topk = hits.any(1).sum().item<double>() / n;
  return {top1, topk};
}

at::Tensor LinearLogits(const LinearModel& m, const at::Tensor& x) {
  return at::addmm(m.bias, x, m.weight);
}

at::Generator MakeGenerator(uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

// Runs `body` converting torch/allocation failures into statuses.
template <typename F>
absl::StatusOr<ProbeResult> Guarded(const char* what, F&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": out of memory"));
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    if (msg.find("out of memory") != std::string::npos) {
      return absl::ResourceExhaustedError(absl::StrCat(what, ": ", msg));
    }
    return absl::InternalError(absl::StrCat(what, ": ", msg));
  }
}

absl::Status CheckEpochOptions(int epochs, int batch_size, double lr,
                               double weight_decay) {
  if (epochs < 1) return absl::InvalidArgumentError("epochs: must be >= 1");
  if (batch_size < 1) {
    return absl::InvalidArgumentError("batch_size: must be >= 1");
  }
  if (!(lr > 0) || !std::isfinite(lr)) {
    return absl::InvalidArgumentError("learning_rate: must be > 0");
  }
  if (!(weight_decay >= 0) || !std::isfinite(weight_decay)) {
    return absl::InvalidArgumentError("weight_decay: must be >= 0");
  }
  return absl::OkStatus();
}

double ScheduledRate(double base, const std::vector<int>& decay_epochs,
                     double factor, int epoch) {
  double lr = base;
  for (int e : decay_epochs) {
    if (epoch >= e) lr *= factor;
  }
  return lr;
}

void TrainSet(const PreparedData& p, bool with_val, at::Tensor* x,
              at::Tensor* y) {
  if (with_val && p.has_val) {
    *x = at::cat({p.train_x, p.val_x});
    *y = at::cat({p.train_y, p.val_y});
  } else {
    *x = p.train_x;
    *y = p.train_y;
  }
}

}  // namespace

absl::StatusOr<ProbeResult> RunLbfgsProbe(const ProbeData& data,
                                          const LbfgsProbeOptions& options) {
  if (options.l2_grid.empty()) {
    return absl::InvalidArgumentError("l2_grid: must not be empty");
  }
  for (double l2 : options.l2_grid) {
    if (!(l2 >= 0) || !std::isfinite(l2)) {
      return absl::InvalidArgumentError("l2_grid: weights must be >= 0");
    }
  }
  return Guarded("lbfgs probe", [&]() -> absl::StatusOr<ProbeResult> {
    at::NoGradGuard no_grad;
    const bool need_val = options.l2_grid.size() > 1;
    SSLAB_ASSIGN_OR_RETURN(PreparedData p,
                           Prepare(data, need_val, options.device));
    ProbeResult result;
    // One preconditioner for the grid and the refit (train + val are alike).
    std::optional<SecondMoments> moments;
    if (options.lbfgs.preconditioner_rank > 0) {
      moments =
          EstimateSecondMoments(p.train_x, options.lbfgs.preconditioner_rank);
    }
    const SecondMoments* preconditioner = moments ? &*moments : nullptr;
    // Every grid weight at once (one pass over X per iteration serves all).
    SSLAB_ASSIGN_OR_RETURN(
        std::vector<LinearFit> fits,
        FitLogisticRegressionPath(p.train_x, p.train_y, p.num_classes,
                                  options.l2_grid, options.lbfgs, {},
                                  preconditioner));
    std::vector<double> val_top1(fits.size(),
                                 std::numeric_limits<double>::quiet_NaN());
    size_t best = 0;
    for (size_t i = 0; i < fits.size(); ++i) {
      if (p.has_val) {
        val_top1[i] =
            Accuracy(LinearLogits(fits[i].model, p.val_x), p.val_y, 1).first;
      }
      // Ties go to the stronger regularisation.
      const bool better = val_top1[i] > val_top1[best] ||
                          (val_top1[i] == val_top1[best] &&
                           options.l2_grid[i] > options.l2_grid[best]);
      if (i > 0 && better) best = i;
    }
    for (size_t i = 0; i < options.l2_grid.size(); ++i) {
      result.l2_val_top1.emplace_back(options.l2_grid[i], val_top1[i]);
    }
    result.chosen_l2 = options.l2_grid[best];
    result.val_top1 = val_top1[best];
    LinearFit final_fit = std::move(fits[best]);
    if (options.train_on_train_and_val && p.has_val) {
      at::Tensor x, y;
      TrainSet(p, true, &x, &y);
      SSLAB_ASSIGN_OR_RETURN(
          final_fit, FitLogisticRegression(x, y, p.num_classes,
                                           result.chosen_l2, options.lbfgs,
                                           final_fit.model, preconditioner));
    }
    auto [top1, top5] =
        Accuracy(LinearLogits(final_fit.model, p.test_x), p.test_y, 5);
    result.test_top1 = top1;
    result.test_top5 = top5;
    result.train_loss = final_fit.loss;
    result.iterations = final_fit.iterations;
    return result;
  });
}

absl::StatusOr<ProbeResult> RunSgdProbe(const ProbeData& data,
                                        const SgdProbeOptions& options) {
  SSLAB_RETURN_IF_ERROR(CheckEpochOptions(options.epochs, options.batch_size,
                                          options.learning_rate,
                                          options.weight_decay));
  return Guarded("sgd probe", [&]() -> absl::StatusOr<ProbeResult> {
    at::NoGradGuard no_grad;
    SSLAB_ASSIGN_OR_RETURN(PreparedData p,
                           Prepare(data, false, options.device));
    at::Tensor x, y;
    TrainSet(p, options.train_on_train_and_val, &x, &y);
    const int64_t n = x.size(0), d = x.size(1), k = p.num_classes;
    at::Generator gen = MakeGenerator(options.seed);
    LinearModel m{at::zeros({d, k}, x.options()), at::zeros({k}, x.options())};
    at::Tensor vel_w = at::zeros_like(m.weight), vel_b = at::zeros_like(m.bias);
    const int64_t bs = std::min<int64_t>(options.batch_size, n);
    double epoch_loss = 0;
    for (int epoch = 0; epoch < options.epochs; ++epoch) {
      const double lr =
          ScheduledRate(options.learning_rate, options.decay_epochs,
                        options.decay_factor, epoch);
      at::Tensor perm = at::randperm(n, gen, at::kLong).to(x.device());
      // One gather per epoch; batches are then contiguous views.
      at::Tensor xs = x.index_select(0, perm), ys = y.index_select(0, perm);
      at::Tensor loss_sum = at::zeros({}, x.options().dtype(at::kDouble));
      for (int64_t start = 0; start < n; start += bs) {
        const int64_t len = std::min(bs, n - start);
        at::Tensor xb = xs.narrow(0, start, len);
        at::Tensor yb = ys.narrow(0, start, len).unsqueeze(1);
        at::Tensor logits = at::addmm(m.bias, xb, m.weight);
        at::Tensor lse = at::logsumexp(logits, 1, true);
        loss_sum += (lse - logits.gather(1, yb)).sum(at::kDouble);
        at::Tensor r = at::exp(logits - lse);
        r.scatter_add_(1, yb, at::full({len, 1}, -1.0, r.options()));
        r.div_(static_cast<double>(len));
        // v = momentum * v + grad; w -= lr * v (PyTorch's SGD convention).
        vel_w.mul_(options.momentum)
            .addmm_(xb.t(), r)
            .add_(m.weight, options.weight_decay);
        vel_b.mul_(options.momentum).add_(r.sum(0));
        m.weight.add_(vel_w, -lr);
        m.bias.add_(vel_b, -lr);
      }
      epoch_loss = loss_sum.item<double>() / static_cast<double>(n);
      if (!std::isfinite(epoch_loss)) {
        return absl::InvalidArgumentError(
            absl::StrCat("learning_rate: training diverged at epoch ", epoch));
      }
    }
    ProbeResult result;
    result.chosen_l2 = options.weight_decay;
    result.train_loss = epoch_loss;
    result.iterations = options.epochs;
    if (p.has_val) {
      result.val_top1 = Accuracy(LinearLogits(m, p.val_x), p.val_y, 1).first;
    }
    auto [top1, top5] = Accuracy(LinearLogits(m, p.test_x), p.test_y, 5);
    result.test_top1 = top1;
    result.test_top5 = top5;
    return result;
  });
}

absl::StatusOr<ProbeResult> RunMlpProbe(const ProbeData& data,
                                        const MlpProbeOptions& options) {
  SSLAB_RETURN_IF_ERROR(CheckEpochOptions(options.epochs, options.batch_size,
                                          options.learning_rate,
                                          options.weight_decay));
  if (options.hidden_units < 1) {
    return absl::InvalidArgumentError("hidden_units: must be >= 1");
  }
  return Guarded("mlp probe", [&]() -> absl::StatusOr<ProbeResult> {
    PreparedData p;
    {
      at::NoGradGuard no_grad;
      SSLAB_ASSIGN_OR_RETURN(p, Prepare(data, false, options.device));
    }
    at::Tensor x, y;
    TrainSet(p, options.train_on_train_and_val, &x, &y);
    const int64_t n = x.size(0), d = x.size(1), k = p.num_classes;
    const int64_t h = options.hidden_units;
    at::Generator gen = MakeGenerator(options.seed);
    // PyTorch's nn.Linear initialisation, from the private generator.
    auto uniform = [&](std::vector<int64_t> shape, int64_t fan_in) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
      return at::empty(shape, at::kFloat)
          .uniform_(-bound, bound, gen)
          .to(x.device(), x.scalar_type())
          .requires_grad_(true);
    };
    std::vector<at::Tensor> params = {uniform({d, h}, d), uniform({h}, d),
                                      uniform({h, k}, h), uniform({k}, h)};
    std::unique_ptr<torch::optim::Optimizer> opt;
    if (options.optimizer == MlpOptimizer::kAdam) {
      opt = std::make_unique<torch::optim::Adam>(
          params, torch::optim::AdamOptions(options.learning_rate)
                      .weight_decay(options.weight_decay));
    } else {
      opt = std::make_unique<torch::optim::SGD>(
          params, torch::optim::SGDOptions(options.learning_rate)
                      .momentum(options.momentum)
                      .weight_decay(options.weight_decay));
    }
    auto forward = [&](const at::Tensor& xb) {
      at::Tensor hidden = at::relu(at::addmm(params[1], xb, params[0]));
      return at::addmm(params[3], hidden, params[2]);
    };
    const int64_t bs = std::min<int64_t>(options.batch_size, n);
    double epoch_loss = 0;
    for (int epoch = 0; epoch < options.epochs; ++epoch) {
      const double lr =
          ScheduledRate(options.learning_rate, options.decay_epochs,
                        options.decay_factor, epoch);
      for (auto& group : opt->param_groups()) group.options().set_lr(lr);
      at::Tensor perm = at::randperm(n, gen, at::kLong).to(x.device());
      at::Tensor xs = x.index_select(0, perm), ys = y.index_select(0, perm);
      double loss_sum = 0;
      for (int64_t start = 0; start < n; start += bs) {
        const int64_t len = std::min(bs, n - start);
        opt->zero_grad();
        at::Tensor loss = at::cross_entropy_loss(
            forward(xs.narrow(0, start, len)), ys.narrow(0, start, len));
        loss.backward();
        opt->step();
        loss_sum += loss.item<double>() * static_cast<double>(len);
      }
      epoch_loss = loss_sum / static_cast<double>(n);
      if (!std::isfinite(epoch_loss)) {
        return absl::InvalidArgumentError(
            absl::StrCat("learning_rate: training diverged at epoch ", epoch));
      }
    }
    at::NoGradGuard no_grad;
    ProbeResult result;
    result.chosen_l2 = options.weight_decay;
    result.train_loss = epoch_loss;
    result.iterations = options.epochs;
    if (p.has_val)
      result.val_top1 = Accuracy(forward(p.val_x), p.val_y, 1).first;
    auto [top1, top5] = Accuracy(forward(p.test_x), p.test_y, 5);
    result.test_top1 = top1;
    result.test_top5 = top5;
    return result;
  });
}

absl::StatusOr<FeatureSplit> BalancedSubset(const FeatureSplit& split,
                                            double fraction, uint64_t seed) {
  if (!(fraction > 0 && fraction <= 1)) {
    return absl::InvalidArgumentError("fraction: must be in (0, 1]");
  }
  SSLAB_RETURN_IF_ERROR(CheckSplit(split, "split"));
  try {
    at::NoGradGuard no_grad;
    at::Tensor labels = split.labels.cpu();
    at::Tensor classes = std::get<0>(at::_unique(labels, /*sorted=*/true));
    const int64_t n = labels.size(0), num_classes = classes.size(0);
    const int64_t per_class =
        std::max<int64_t>(1, std::llround(fraction * static_cast<double>(n) /
                                          static_cast<double>(num_classes)));
    at::Generator gen = MakeGenerator(seed);
    std::vector<at::Tensor> picked;
    for (int64_t c = 0; c < num_classes; ++c) {
      at::Tensor rows = labels.eq(classes[c]).nonzero().squeeze(1);
      at::Tensor order = at::randperm(rows.size(0), gen, at::kLong);
      picked.push_back(rows.index_select(
          0, order.narrow(0, 0, std::min(per_class, rows.size(0)))));
    }
    at::Tensor rows = std::get<0>(at::sort(at::cat(picked)));
    at::Tensor device_rows = rows.to(split.features.device());
    return FeatureSplit{
        split.features.index_select(0, device_rows),
        split.labels.index_select(0, rows.to(split.labels.device()))};
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("balanced subset: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<ProbeData> WithLabelFraction(ProbeData data, double fraction,
                                            uint64_t seed) {
  if (fraction == 1) return data;
  SSLAB_ASSIGN_OR_RETURN(data.train,
                         BalancedSubset(data.train, fraction, seed));
  if (data.val.features.defined() && data.val.features.size(0) > 0) {
    SSLAB_ASSIGN_OR_RETURN(data.val, BalancedSubset(data.val, fraction, seed));
  }
  return data;
}

}  // namespace sslab::evaluator
