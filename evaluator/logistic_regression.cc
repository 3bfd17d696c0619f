#include "evaluator/logistic_regression.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
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
// The randomized range finder's sketch is seeded, so a probe's result does
// not depend on anything but its inputs.
constexpr uint64_t kSketchSeed = 20190125;

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
  if (options.max_iterations < 0 || options.history < 1 ||
      options.preconditioner_rank < 0) {
    return absl::InvalidArgumentError(
        "lbfgs options: max_iterations and preconditioner_rank must be >= 0 "
        "and history >= 1");
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

namespace {

// One L2 weight's optimiser state: the iterate, its logits, loss and
// gradient, and the L-BFGS history.
struct Problem {
  double l2 = 0;
  at::Tensor theta;   // [d + 1, k]: W over b
  at::Tensor logits;  // [n, k], float64
  double loss = 0;
  at::Tensor grad;  // like theta
  double grad_max = 0;
  std::deque<std::pair<at::Tensor, at::Tensor>> history;  // (s, y)
  std::deque<double> rho;
  double gamma = 1.0;  // initial inverse-Hessian scale
  // The preconditioner's scales: 1 / (tau lambda + l2) for the rest of the
  // spectrum, and its excess over that for each eigenvector of the basis
  // (an [r, 1] column); undefined without a preconditioner.
  double inverse_curvature_rest = 0;
  at::Tensor inverse_curvature;
  int iterations = 0;
  int evaluations = 0;
  bool done = false;
  // The loss before the last step.
  double previous_loss = 0;
  // This iteration's search direction and its slope.
  at::Tensor direction;
  double slope = 0;
};

// The fits of every problem, advanced in lockstep so that each pass over
// X serves all of them: X D and X^T R are single products with the
// problems' matrices side by side ([d, G k]), which reads X once instead
// of G times and gives OpenBLAS wider, more efficient products.
class LockstepLbfgs {
 public:
  // `moments`: null for plain L-BFGS.
  LockstepLbfgs(const at::Tensor& features, const at::Tensor& labels,
                int num_classes, const LbfgsOptions& options,
                const SecondMoments* moments)
      : x_(features),
        label_column_(labels.unsqueeze(1)),
        k_(num_classes),
        d_(features.size(1)),
        n_(static_cast<double>(features.size(0))),
        tau_(1.0 / num_classes),
        options_(options),
        moments_(moments) {}

  at::Tensor WeightOf(const at::Tensor& v) const { return v.narrow(0, 0, d_); }
  at::Tensor BiasOf(const at::Tensor& v) const { return v[d_]; }

  // Logits of every theta in `thetas`, in float64, from one product.
  std::vector<at::Tensor> Logits(const std::vector<at::Tensor>& thetas) const {
    std::vector<at::Tensor> weights, biases;
    for (const at::Tensor& t : thetas) {
      weights.push_back(WeightOf(t));
      biases.push_back(BiasOf(t));
    }
    // Logit-space work (O(n k) per trial step) runs in float64 whatever the
    // features' type: near the optimum the loss changes by less than float32
    // resolves, and the line search must still see the decrease. The O(n d k)
    // products X D and X^T R stay in the features' type.
    at::Tensor all =
        at::addmm(at::cat(biases), x_, at::cat(weights, 1)).to(at::kDouble);
    return all.split(k_, 1);
  }

  // Sets each problem's gradient (and its max) at its current logits, from
  // one product X^T [R_1 .. R_G].
  void Gradients(const std::vector<Problem*>& problems) const {
    std::vector<at::Tensor> residuals;
    for (const Problem* p : problems) {
      residuals.push_back(
          ResidualFromLogits(p->logits, label_column_, x_.scalar_type()));
    }
    at::Tensor all = at::cat(residuals, 1);
    at::Tensor xt_r = at::mm(x_.t(), all);
    for (size_t j = 0; j < problems.size(); ++j) {
      Problem& p = *problems[j];
      at::Tensor grad = at::empty_like(p.theta);
      WeightOf(grad).copy_(xt_r.narrow(1, j * k_, k_));
      WeightOf(grad).add_(WeightOf(p.theta), p.l2);
      BiasOf(grad).copy_(residuals[j].sum(0));
      p.grad = std::move(grad);
      p.grad_max = p.grad.abs().max().item<double>();
    }
  }

  double Loss(const at::Tensor& logits, const at::Tensor& theta,
              double l2) const {
    const double lse = at::logsumexp(logits, 1).sum(at::kDouble).item<double>();
    const double zy =
        logits.gather(1, label_column_).sum(at::kDouble).item<double>();
    const at::Tensor w = WeightOf(theta);
    return (lse - zy) / n_ + 0.5 * l2 * Dot(w, w);
  }

  // Runs every problem to its own stopping point.
  void Run(std::vector<Problem>& problems) {
    SetPreconditioners(problems);
    {
      std::vector<at::Tensor> thetas;
      for (const Problem& p : problems) thetas.push_back(p.theta);
      std::vector<at::Tensor> logits = Logits(thetas);
      std::vector<Problem*> all;
      for (size_t j = 0; j < problems.size(); ++j) {
        problems[j].logits = logits[j];
        problems[j].loss = Loss(logits[j], problems[j].theta, problems[j].l2);
        all.push_back(&problems[j]);
      }
      Gradients(all);
    }
    while (true) {
      std::vector<Problem*> active;
      for (Problem& p : problems) {
        if (!p.done && (p.iterations >= options_.max_iterations ||
                        p.grad_max <= options_.gradient_tolerance ||
                        p.loss <= options_.target_loss)) {
          p.done = true;
        }
        if (!p.done) active.push_back(&p);
      }
      if (active.empty()) return;
      std::vector<at::Tensor> directions;
      for (Problem* p : active) {
        SetDirection(*p);
        directions.push_back(p->direction);
      }
      const std::vector<at::Tensor> direction_logits = Logits(directions);
      std::vector<Problem*> moved;
      for (size_t j = 0; j < active.size(); ++j) {
        if (Step(*active[j], direction_logits[j])) moved.push_back(active[j]);
      }
      if (moved.empty()) continue;
      // Each moved problem's new gradient, then its history and stop test.
      std::vector<at::Tensor> old_grads;
      for (Problem* p : moved) old_grads.push_back(p->grad);
      Gradients(moved);
      for (size_t j = 0; j < moved.size(); ++j) {
        Remember(*moved[j], old_grads[j]);
      }
    }
  }

 private:
  // Each problem's preconditioner for its L2 weight: M = tau X^T X / n +
  // l2 I (the data term's Hessian at W = 0 is tau X^T X / n per class), so
  // every weight of the grid shares the eigenvectors.
  void SetPreconditioners(std::vector<Problem>& problems) const {
    if (moments_ == nullptr) return;
    // A small floor keeps M positive definite for l2 = 0 and constant
    // features (its directions get no gradient, so their scale is moot).
    const double floor = 1e-8 * tau_ *
                         std::max({moments_->eigenvalues.max().item<double>(),
                                   moments_->rest, 1.0});
    const bool exact = moments_->basis.size(1) == d_;
    for (Problem& p : problems) {
      p.inverse_curvature_rest =
          exact ? 0 : 1.0 / (tau_ * moments_->rest + p.l2 + floor);
      p.inverse_curvature = ((moments_->eigenvalues * tau_ + (p.l2 + floor))
                                 .reciprocal()
                                 .sub_(p.inverse_curvature_rest))
                                .to(x_.scalar_type())
                                .unsqueeze(1);
    }
  }

  // M^-1 v (a new tensor): each eigen-direction of the weights scaled by
  // 1 / (tau lambda + l2), as rest * v + V (excess * V^T v); the bias by
  // 1 / tau (the curvature of an unregularised always-on feature at the
  // start). v itself without a preconditioner.
  at::Tensor Precondition(const Problem& p, const at::Tensor& v) const {
    if (!p.inverse_curvature.defined()) return v.clone();
    const at::Tensor& basis = moments_->basis;
    at::Tensor rotated = at::mm(basis.t(), WeightOf(v));
    rotated.mul_(p.inverse_curvature);
    at::Tensor out = v.mul(p.inverse_curvature_rest);
    WeightOf(out).addmm_(basis, rotated);
    BiasOf(out).copy_(BiasOf(v)).div_(tau_);
    return out;
  }

  // Two-loop recursion: direction = -H grad with H0 = gamma M^-1;
  // (preconditioned) steepest descent when that is not a descent direction.
  void SetDirection(Problem& p) const {
    at::Tensor q = p.grad.neg();
    std::vector<double> alpha(p.history.size());
    for (int i = static_cast<int>(p.history.size()) - 1; i >= 0; --i) {
      alpha[i] = p.rho[i] * Dot(p.history[i].first, q);
      q.add_(p.history[i].second, -alpha[i]);
    }
    q = Precondition(p, q).mul_(p.gamma);
    for (size_t i = 0; i < p.history.size(); ++i) {
      const double beta = p.rho[i] * Dot(p.history[i].second, q);
      q.add_(p.history[i].first, alpha[i] - beta);
    }
    p.direction = q;
    p.slope = Dot(p.grad, p.direction);
    if (!(p.slope < 0)) {  // Not a descent direction: restart.
      p.history.clear();
      p.rho.clear();
      p.direction = Precondition(p, p.grad).neg_();
      p.slope = Dot(p.grad, p.direction);
    }
  }

  // Line search along the direction; moves the iterate. False (and the
  // problem is done) when no step makes progress.
  bool Step(Problem& p, const at::Tensor& direction_logits) const {
    const at::Tensor w = WeightOf(p.theta), dw = WeightOf(p.direction);
    LineFunction phi(p.logits, direction_logits, label_column_, p.l2, Dot(w, w),
                     Dot(w, dw), Dot(dw, dw));
    // The first step without a preconditioner is plain steepest descent,
    // whose natural length is unknown; M^-1 approximates the start's
    // inverse Hessian, so its step is Newton-like.
    const double t_init =
        p.iterations == 0 && p.history.empty() && !p.inverse_curvature.defined()
            ? std::min(1.0, 1.0 / p.grad.abs().sum().item<double>())
            : 1.0;
    const LineSearchResult step = StrongWolfe(phi, p.loss, p.slope, t_init);
    p.evaluations += phi.evaluations();
    if (!step.found || step.f >= p.loss) {
      p.done = true;
      return false;
    }
    p.direction.mul_(step.t);  // now the step s
    p.theta.add_(p.direction);
    p.logits = p.logits.add(direction_logits, step.t);
    p.previous_loss = p.loss;
    p.loss = step.f;
    return true;
  }

  // After a step: the (s, y) pair, the iteration count and the loss test.
  void Remember(Problem& p, const at::Tensor& old_grad) const {
    const at::Tensor& s = p.direction;
    at::Tensor y = p.grad - old_grad;
    // Keep the pair only with clear positive curvature, judged relative to
    // |y| |s| so that the test means the same at every loss scale (an
    // absolute threshold starves the history as the loss gets small).
    const double ys = Dot(y, s), yy = Dot(y, y);
    if (ys > 1e-10 * std::sqrt(yy * Dot(s, s))) {
      if (static_cast<int>(p.history.size()) == options_.history) {
        p.history.pop_front();
        p.rho.pop_front();
      }
      p.history.emplace_back(s, y);
      p.rho.push_back(1.0 / ys);
      p.gamma = ys / Dot(y, Precondition(p, y));
    }
    ++p.iterations;
    if (p.previous_loss - p.loss <=
        options_.loss_tolerance *
            std::max({std::abs(p.loss), std::abs(p.previous_loss), 1.0})) {
      p.done = true;
    }
  }

  const at::Tensor& x_;
  const at::Tensor label_column_;
  const int64_t k_;
  const int64_t d_;
  const double n_;
  const double tau_;
  const LbfgsOptions& options_;
  const SecondMoments* moments_;
};

absl::Status OutOfMemoryOr(const c10::Error& e) {
  if (absl::string_view(e.what()).find("out of memory") !=
      absl::string_view::npos) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "out of memory in L-BFGS fit: ", e.what_without_backtrace()));
  }
  return absl::InternalError(
      absl::StrCat("L-BFGS fit: ", e.what_without_backtrace()));
}

}  // namespace

SecondMoments EstimateSecondMoments(const at::Tensor& features, int64_t rank) {
  at::NoGradGuard no_grad;
  const int64_t d = features.size(1);
  const double n = static_cast<double>(features.size(0));
  SecondMoments out;
  if ((d + 3) / 4 <= rank) {  // d <= 4 rank, without overflow
    at::Tensor moments = at::mm(features.t(), features).to(at::kDouble).div_(n);
    auto [eigenvalues, eigenvectors] = at::linalg_eigh(moments);
    out.eigenvalues = eigenvalues.clamp_min(0);
    out.basis = eigenvectors.to(features.scalar_type());
    return out;
  }
  // Randomized range finder with one power iteration (Halko, Martinsson
  // and Tropp 2011, algorithm 4.4): the leading eigenvectors of X^T X are
  // those of the small matrix (X Q)^T (X Q) rotated back by Q.
  at::Generator generator =
      at::make_generator<at::CPUGeneratorImpl>(kSketchSeed);
  at::Tensor sketch =
      at::randn({d, rank}, generator, features.options().device(at::kCPU))
          .to(features.device());
  at::Tensor q = std::get<0>(
      at::linalg_qr(at::mm(features.t(), at::mm(features, sketch))));
  q = std::get<0>(at::linalg_qr(at::mm(features.t(), at::mm(features, q))));
  at::Tensor xq = at::mm(features, q);
  auto [eigenvalues, eigenvectors] =
      at::linalg_eigh(at::mm(xq.t(), xq).to(at::kDouble).div_(n));
  out.eigenvalues = eigenvalues.clamp_min(0);
  out.basis = at::mm(q, eigenvectors.to(q.scalar_type()));
  const at::Tensor flat = features.reshape(-1);
  const double trace = at::dot(flat, flat).item<double>() / n;
  out.rest = std::max(
      0.0, (trace - out.eigenvalues.sum().item<double>()) / (d - rank));
  return out;
}

absl::StatusOr<std::vector<LinearFit>> FitLogisticRegressionPath(
    const at::Tensor& features, const at::Tensor& labels, int num_classes,
    const std::vector<double>& l2_grid, const LbfgsOptions& options,
    const std::vector<LinearModel>& init, const SecondMoments* second_moments) {
  if (l2_grid.empty()) {
    return absl::InvalidArgumentError("l2_grid: must not be empty");
  }
  for (double l2 : l2_grid) {
    if (absl::Status s =
            CheckInputs(features, labels, num_classes, l2, options);
        !s.ok()) {
      return s;
    }
  }
  if (!init.empty() && init.size() != l2_grid.size()) {
    return absl::InvalidArgumentError("init: one model per L2 weight, or none");
  }
  try {
    at::NoGradGuard no_grad;
    const int64_t d = features.size(1);
    std::vector<Problem> problems(l2_grid.size());
    for (size_t j = 0; j < problems.size(); ++j) {
      Problem& p = problems[j];
      p.l2 = l2_grid[j];
      p.theta = at::zeros({d + 1, num_classes}, features.options());
      if (!init.empty()) {
        const LinearModel& m = init[j];
        if (m.weight.sizes() != at::IntArrayRef({d, num_classes}) ||
            m.bias.sizes() != at::IntArrayRef({num_classes})) {
          return absl::InvalidArgumentError("init: wrong weight/bias shape");
        }
        p.theta.narrow(0, 0, d).copy_(m.weight);
        p.theta[d].copy_(m.bias);
      }
    }
    std::optional<SecondMoments> estimated;
    if (second_moments == nullptr && options.preconditioner_rank > 0) {
      estimated = EstimateSecondMoments(features, options.preconditioner_rank);
      second_moments = &*estimated;
    }
    if (second_moments != nullptr && (!second_moments->basis.defined() ||
                                      second_moments->basis.size(0) != d)) {
      return absl::InvalidArgumentError(
          absl::StrCat("second_moments: expected a basis with ", d,
                       " rows, one per feature"));
    }
    LockstepLbfgs lbfgs(features, labels, num_classes, options, second_moments);
    lbfgs.Run(problems);
    // Exact losses at the final points (the running logits accumulate).
    std::vector<at::Tensor> thetas;
    for (const Problem& p : problems) thetas.push_back(p.theta);
    const std::vector<at::Tensor> logits = lbfgs.Logits(thetas);
    std::vector<LinearFit> fits;
    for (size_t j = 0; j < problems.size(); ++j) {
      const Problem& p = problems[j];
      LinearFit fit;
      fit.loss = lbfgs.Loss(logits[j], p.theta, p.l2);
      fit.gradient_max = p.grad_max;
      fit.iterations = p.iterations;
      fit.function_evaluations = p.evaluations;
      fit.model.weight = lbfgs.WeightOf(p.theta).clone();
      fit.model.bias = lbfgs.BiasOf(p.theta).clone();
      fits.push_back(std::move(fit));
    }
    return fits;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory in L-BFGS fit");
  } catch (const c10::Error& e) {
    return OutOfMemoryOr(e);
  }
}

absl::StatusOr<LinearFit> FitLogisticRegression(
    const at::Tensor& features, const at::Tensor& labels, int num_classes,
    double l2, const LbfgsOptions& options,
    const std::optional<LinearModel>& init,
    const SecondMoments* second_moments) {
  std::vector<LinearModel> inits;
  if (init.has_value()) inits.push_back(*init);
  absl::StatusOr<std::vector<LinearFit>> fits = FitLogisticRegressionPath(
      features, labels, num_classes, {l2}, options, inits, second_moments);
  if (!fits.ok()) return fits.status();
  return std::move(fits->front());
}

}  // namespace sslab::evaluator
