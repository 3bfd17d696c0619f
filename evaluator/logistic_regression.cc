#include "evaluator/logistic_regression.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <new>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sslab::evaluator {
namespace {

constexpr double kArmijo = 1e-4;    // c1
constexpr double kCurvature = 0.9;  // c2
constexpr int kMaxLineSearchEvals = 25;

double Dot(const at::Tensor& a, const at::Tensor& b) {
  return at::dot(a.reshape(-1), b.reshape(-1)).item<double>();
}

// Minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to
// [lo, hi]; the midpoint when the cubic has no minimum.
double CubicInterpolate(double x1, double f1, double g1, double x2, double f2,
                        double g2, double lo, double hi) {
  const double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
  const double d2_square = d1 * d1 - g1 * g2;
  if (d2_square >= 0 && std::isfinite(d2_square)) {
    const double d2 = std::sqrt(d2_square);
    double min_pos;
    if (x1 <= x2) {
      min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2));
    } else {
      min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    }
    if (std::isfinite(min_pos)) return std::min(std::max(min_pos, lo), hi);
  }
  return (lo + hi) / 2;
}

// The objective restricted to the line Theta + t * D, evaluated in logit
// space: logits(t) = Z + t * U with U = X D_W + D_b computed once.
class LineFunction {
 public:
  LineFunction(const at::Tensor& logits, const at::Tensor& direction_logits,
               const at::Tensor& label_column, double l2, double ww, double wd,
               double dd)
      : z_(logits), u_(direction_logits), l2_(l2), ww_(ww), wd_(wd), dd_(dd) {
    n_ = static_cast<double>(z_.size(0));
    zy_mean_ = z_.gather(1, label_column).sum().item<double>() / n_;
    uy_mean_ = u_.gather(1, label_column).sum().item<double>() / n_;
  }

  // Returns (phi(t), phi'(t)).
  std::pair<double, double> operator()(double t) {
    ++evaluations_;
    at::Tensor zt = t == 0 ? z_ : at::add(z_, u_, t);
    at::Tensor lse = at::logsumexp(zt, 1, /*keepdim=*/true);
    at::Tensor p = at::exp(zt - lse);
    const double lse_mean = lse.sum(at::kDouble).item<double>() / n_;
    const double pu_mean = (p * u_).sum(at::kDouble).item<double>() / n_;
    const double f = lse_mean - (zy_mean_ + t * uy_mean_) +
                     0.5 * l2_ * (ww_ + 2 * t * wd_ + t * t * dd_);
    const double g = pu_mean - uy_mean_ + l2_ * (wd_ + t * dd_);
    return {f, g};
  }

  int evaluations() const { return evaluations_; }

 private:
  at::Tensor z_, u_;
  double l2_, ww_, wd_, dd_;
  double n_ = 0, zy_mean_ = 0, uy_mean_ = 0;
  int evaluations_ = 0;
};

struct LineSearchResult {
  double t = 0;
  double f = 0;
  bool found = false;
};

// Strong-Wolfe line search (Nocedal & Wright, algorithms 3.5 and 3.6, with
// the cubic interpolation PyTorch's LBFGS uses).
LineSearchResult StrongWolfe(LineFunction& phi, double f0, double g0,
                             double t_init) {
  double t_prev = 0, f_prev = f0, g_prev = g0;
  double t = t_init;
  double lo = 0, hi = 0, f_lo = f0, f_hi = 0, g_lo = g0, g_hi = 0;
  bool bracketed = false;
  int evals = 0;
  while (evals < kMaxLineSearchEvals) {
    auto [f, g] = phi(t);
    ++evals;
    if (!std::isfinite(f) || f > f0 + kArmijo * t * g0 ||
        (evals > 1 && f >= f_prev)) {
      lo = t_prev, f_lo = f_prev, g_lo = g_prev;
      hi = t, f_hi = f, g_hi = g;
      bracketed = true;
      break;
    }
    if (std::abs(g) <= -kCurvature * g0) return {t, f, true};
    if (g >= 0) {
      lo = t, f_lo = f, g_lo = g;
      hi = t_prev, f_hi = f_prev, g_hi = g_prev;
      bracketed = true;
      break;
    }
    const double t_next = CubicInterpolate(t_prev, f_prev, g_prev, t, f, g,
                                           t + 0.01 * (t - t_prev), t * 10);
    t_prev = t, f_prev = f, g_prev = g;
    t = t_next;
  }
  if (!bracketed) {
    return {t_prev, f_prev, t_prev > 0};
  }
  // Zoom: lo always satisfies sufficient decrease and has the lowest f seen.
  while (evals < kMaxLineSearchEvals) {
    if (!std::isfinite(f_hi)) {
      t = (lo + hi) / 2;
    } else {
      const double a = std::min(lo, hi), b = std::max(lo, hi);
      t = CubicInterpolate(lo, f_lo, g_lo, hi, f_hi, g_hi, a, b);
      // Keep away from the ends so the bracket keeps shrinking.
      const double margin = 0.1 * (b - a);
      if (t - a < margin || b - t < margin) t = (a + b) / 2;
    }
    if (std::abs(hi - lo) < 1e-12 * std::max(1.0, std::abs(lo))) break;
    auto [f, g] = phi(t);
    ++evals;
    if (!std::isfinite(f) || f > f0 + kArmijo * t * g0 || f >= f_lo) {
      hi = t, f_hi = f, g_hi = g;
    } else {
      if (std::abs(g) <= -kCurvature * g0) return {t, f, true};
      if (g * (hi - lo) >= 0) hi = lo, f_hi = f_lo, g_hi = g_lo;
      lo = t, f_lo = f, g_lo = g;
    }
  }
  return {lo, f_lo, lo > 0};
}

// Gradient of the data term from the class probabilities: (P - Y) / n, in
// `type` (the features' type, for the X^T R product).
at::Tensor ResidualFromLogits(const at::Tensor& logits,
                              const at::Tensor& label_column,
                              at::ScalarType type) {
  at::Tensor p = at::softmax(logits, 1);
  p.scatter_add_(1, label_column,
                 at::full({logits.size(0), 1}, -1.0, p.options()));
  p.div_(static_cast<double>(logits.size(0)));
  return p.to(type);
}

absl::Status CheckInputs(const at::Tensor& features, const at::Tensor& labels,
                         int num_classes, double l2,
                         const LbfgsOptions& options) {
  if (!features.defined() || features.dim() != 2 || features.size(0) == 0 ||
      features.size(1) == 0) {
    return absl::InvalidArgumentError(
        "features: expected a non-empty [n, d] matrix");
  }
  if (!at::isFloatingType(features.scalar_type())) {
    return absl::InvalidArgumentError("features: expected a floating type");
  }
  if (!labels.defined() || labels.dim() != 1 ||
      labels.size(0) != features.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "labels: expected [", features.size(0), "] labels to match features"));
  }
  if (labels.scalar_type() != at::kLong) {
    return absl::InvalidArgumentError("labels: expected int64");
  }
  if (num_classes < 2) {
    return absl::InvalidArgumentError("num_classes: must be >= 2");
  }
  if (labels.min().item<int64_t>() < 0 ||
      labels.max().item<int64_t>() >= num_classes) {
    return absl::InvalidArgumentError(
        absl::StrCat("labels: values must be in [0, ", num_classes, ")"));
  }
  if (!(l2 >= 0) || !std::isfinite(l2)) {
    return absl::InvalidArgumentError("l2: must be finite and >= 0");
  }
  if (options.max_iterations < 0 || options.history < 1) {
    return absl::InvalidArgumentError(
        "lbfgs options: max_iterations must be >= 0 and history >= 1");
  }
  return absl::OkStatus();
}

}  // namespace

LossAndGradient LogisticLossAndGradient(const at::Tensor& features,
                                        const at::Tensor& labels,
                                        const LinearModel& model, double l2) {
  at::NoGradGuard no_grad;
  const at::Tensor label_column = labels.unsqueeze(1);
  at::Tensor logits = at::addmm(model.bias, features, model.weight);
  at::Tensor lse = at::logsumexp(logits, 1);
  const double n = static_cast<double>(features.size(0));
  const double data_loss =
      (lse.sum(at::kDouble) - logits.gather(1, label_column).sum(at::kDouble))
          .item<double>() /
      n;
  const double ww = Dot(model.weight, model.weight);
  at::Tensor residual =
      ResidualFromLogits(logits, label_column, features.scalar_type());
  LossAndGradient out;
  out.loss = data_loss + 0.5 * l2 * ww;
  out.weight_grad = at::addmm(model.weight, features.t(), residual,
                              /*beta=*/l2, /*alpha=*/1.0);
  out.bias_grad = residual.sum(0);
  return out;
}

absl::StatusOr<LinearFit> FitLogisticRegression(
    const at::Tensor& features, const at::Tensor& labels, int num_classes,
    double l2, const LbfgsOptions& options,
    const std::optional<LinearModel>& init) {
  if (absl::Status s = CheckInputs(features, labels, num_classes, l2, options);
      !s.ok()) {
    return s;
  }
  try {
    at::NoGradGuard no_grad;
    const int64_t d = features.size(1);
    const at::TensorOptions topts = features.options();
    // Theta = [W; b] as one [d + 1, k] matrix so the L-BFGS vectors are
    // single tensors.
    at::Tensor theta = at::zeros({d + 1, num_classes}, topts);
    if (init.has_value()) {
      if (init->weight.sizes() != at::IntArrayRef({d, num_classes}) ||
          init->bias.sizes() != at::IntArrayRef({num_classes})) {
        return absl::InvalidArgumentError("init: wrong weight/bias shape");
      }
      theta.narrow(0, 0, d).copy_(init->weight);
      theta[d].copy_(init->bias);
    }
    auto weight_of = [d](const at::Tensor& v) { return v.narrow(0, 0, d); };
    auto bias_of = [d](const at::Tensor& v) { return v[d]; };

    const at::Tensor label_column = labels.unsqueeze(1);
    const double n = static_cast<double>(features.size(0));
    // Logit-space work (O(n k) per trial step) runs in float64 whatever the
    // features' type: near the optimum the loss changes by less than float32
    // resolves, and the line search must still see the decrease. The O(n d k)
    // products X D and X^T R stay in the features' type.
    auto to_logit_type = [](const at::Tensor& z) { return z.to(at::kDouble); };
    at::Tensor logits =
        to_logit_type(at::addmm(bias_of(theta), features, weight_of(theta)));

    auto loss_from_logits = [&](const at::Tensor& z, const at::Tensor& th) {
      const double lse = at::logsumexp(z, 1).sum(at::kDouble).item<double>();
      const double zy =
          z.gather(1, label_column).sum(at::kDouble).item<double>();
      const double ww = Dot(weight_of(th), weight_of(th));
      return (lse - zy) / n + 0.5 * l2 * ww;
    };
    auto gradient_from_logits = [&](const at::Tensor& z, const at::Tensor& th) {
      at::Tensor residual =
          ResidualFromLogits(z, label_column, features.scalar_type());
      at::Tensor grad = at::empty_like(th);
      at::Tensor grad_weight = weight_of(grad);
      at::addmm_out(grad_weight, weight_of(th), features.t(), residual,
                    /*beta=*/l2, /*alpha=*/1.0);
      bias_of(grad).copy_(residual.sum(0));
      return grad;
    };

    LinearFit fit;
    double loss = loss_from_logits(logits, theta);
    at::Tensor grad = gradient_from_logits(logits, theta);
    double grad_max = grad.abs().max().item<double>();
    std::deque<std::pair<at::Tensor, at::Tensor>> history;  // (s, y)
    std::deque<double> rho;
    double gamma = 1.0;  // initial inverse-Hessian scale
    int evaluations = 0;

    int iter = 0;
    for (; iter < options.max_iterations; ++iter) {
      if (grad_max <= options.gradient_tolerance ||
          loss <= options.target_loss) {
        break;
      }
      // Two-loop recursion: direction = -H grad.
      at::Tensor q = grad.neg();
      std::vector<double> alpha(history.size());
      for (int i = static_cast<int>(history.size()) - 1; i >= 0; --i) {
        alpha[i] = rho[i] * Dot(history[i].first, q);
        q.add_(history[i].second, -alpha[i]);
      }
      q.mul_(gamma);
      for (size_t i = 0; i < history.size(); ++i) {
        const double beta = rho[i] * Dot(history[i].second, q);
        q.add_(history[i].first, alpha[i] - beta);
      }
      at::Tensor direction = q;
      double slope = Dot(grad, direction);
      if (!(slope < 0)) {  // Not a descent direction: restart.
        history.clear();
        rho.clear();
        direction = grad.neg();
        slope = -Dot(grad, grad);
      }

      at::Tensor direction_logits = to_logit_type(
          at::addmm(bias_of(direction), features, weight_of(direction)));
      const at::Tensor w = weight_of(theta), dw = weight_of(direction);
      LineFunction phi(logits, direction_logits, label_column, l2, Dot(w, w),
                       Dot(w, dw), Dot(dw, dw));
      const double t_init =
          iter == 0 && history.empty()
              ? std::min(1.0, 1.0 / grad.abs().sum().item<double>())
              : 1.0;
      LineSearchResult step = StrongWolfe(phi, loss, slope, t_init);
      evaluations += phi.evaluations();
      if (!step.found || step.f >= loss) break;  // No progress possible.

      at::Tensor s = direction.mul_(step.t);
      theta.add_(s);
      logits.add_(direction_logits, step.t);
      at::Tensor new_grad = gradient_from_logits(logits, theta);
      at::Tensor y = new_grad - grad;
      // Keep the pair only with clear positive curvature, judged relative to
      // |y| |s| so that the test means the same at every loss scale (an
      // absolute threshold starves the history as the loss gets small).
      const double ys = Dot(y, s), yy = Dot(y, y);
      if (ys > 1e-10 * std::sqrt(yy * Dot(s, s))) {
        if (static_cast<int>(history.size()) == options.history) {
          history.pop_front();
          rho.pop_front();
        }
        history.emplace_back(s, y);
        rho.push_back(1.0 / ys);
        gamma = ys / yy;
      }
      const double previous_loss = loss;
      loss = step.f;
      grad = std::move(new_grad);
      grad_max = grad.abs().max().item<double>();
      if (previous_loss - loss <=
          options.loss_tolerance *
              std::max({std::abs(loss), std::abs(previous_loss), 1.0})) {
        ++iter;
        break;
      }
    }
    // Exact loss at the final point (the running one accumulates logits).
    logits =
        to_logit_type(at::addmm(bias_of(theta), features, weight_of(theta)));
    fit.loss = loss_from_logits(logits, theta);
    fit.gradient_max = grad_max;
    fit.iterations = iter;
    fit.function_evaluations = evaluations;
    fit.model.weight = weight_of(theta).clone();
    fit.model.bias = bias_of(theta).clone();
    return fit;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory in L-BFGS fit");
  } catch (const c10::Error& e) {
    if (absl::string_view(e.what()).find("out of memory") !=
        absl::string_view::npos) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "out of memory in L-BFGS fit: ", e.what_without_backtrace()));
    }
    return absl::InternalError(
        absl::StrCat("L-BFGS fit: ", e.what_without_backtrace()));
  }
}

}  // namespace sslab::evaluator
