// Multinomial logistic regression fitted by full-batch L-BFGS with a
// strong-Wolfe line search: the study's default linear probe, minus the
// protocol around it (standardisation, grid search, scoring: see probe.h).
//
// Objective, for features X [n, d] (already standardised), labels y [n] in
// [0, k), weights W [d, k] and bias b [k]:
//   f(W, b) = (1/n) sum_i CE(softmax(X_i W + b), y_i) + (l2 / 2) ||W||^2
// The bias is not regularised. scikit-learn's LogisticRegression minimises
// C * sum_i CE + ||W||^2 / 2, i.e. the same problem for C = 1 / (n * l2).
//
// The line search runs in logit space: along a direction D the logits are
// Z + t * (X D), so after one product X D every trial step costs O(n k)
// instead of a pass over X. Each iteration therefore reads X exactly twice
// (X D and X^T G), however many trial steps the line search needs.
//
// Correlated features (neighbouring pixels, pooled activations) make the
// problem ill-conditioned, and plain L-BFGS then runs to its iteration cap
// on most of the probe's L2 grid. The fits therefore precondition with the
// features' second moments (SecondMoments): a one-off cost of a few passes
// over X that cuts the iterations 3-6x.
//
// Thread-compatible: functions share no state; tensors stay on X's device.
#ifndef SSLAB_EVALUATOR_LOGISTIC_REGRESSION_H_
#define SSLAB_EVALUATOR_LOGISTIC_REGRESSION_H_

#include <ATen/core/Tensor.h>

#include <limits>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"

namespace sslab::evaluator {

struct LbfgsOptions {
  // Stop after this many L-BFGS iterations (each: one X D and one X^T G).
  int max_iterations = 500;
  // Stop when max |gradient| <= this, on the mean-loss scale above. 1e-4
  // picks the same L2 weight and reaches the same test accuracy as
  // scikit-learn's defaults (whose tol applies to the n-times larger
  // gradient of its sum-scaled loss, so it mostly stops at max_iter) in
  // about half the iterations of 1e-5 (docs/benchmarks.md).
  double gradient_tolerance = 1e-4;
  // Stop when the relative loss decrease of an iteration is below this.
  double loss_tolerance = 1e-9;
  // Number of (s, y) correction pairs kept.
  int history = 10;
  // Precondition with the features' second moments (SecondMoments below)
  // kept to this rank; 0: plain L-BFGS. L-BFGS's initial inverse Hessian
  // becomes (X^T X / (n k) + l2 I)^-1 instead of a multiple of I, which
  // undoes the correlation between features that makes the fit
  // ill-conditioned: 3-6x fewer iterations on Fashion-MNIST pixels and on
  // pooled CNN features (docs/benchmarks.md).
  int64_t preconditioner_rank = 256;
  // Stop as soon as the loss is <= this; for "time to the same loss"
  // comparisons. Disabled by default.
  double target_loss = -std::numeric_limits<double>::infinity();
};

struct LinearModel {
  at::Tensor weight;  // [d, k]
  at::Tensor bias;    // [k]
};

struct LinearFit {
  LinearModel model;
  double loss = 0;          // final objective value f(W, b)
  double gradient_max = 0;  // final max |gradient|
  int iterations = 0;
  int function_evaluations = 0;  // line-search trials (logit space)
};

// Value and gradient of the objective at (W, b). For tests and diagnostics.
struct LossAndGradient {
  double loss = 0;
  at::Tensor weight_grad;  // [d, k]
  at::Tensor bias_grad;    // [k]
};
LossAndGradient LogisticLossAndGradient(const at::Tensor& features,
                                        const at::Tensor& labels,
                                        const LinearModel& model, double l2);

// The features' second moments X^T X / n as eigenpairs: all of them when
// d <= 4 * rank (an exact eigendecomposition is cheap there), else the
// leading `rank` from a randomized range finder (five products of X with
// rank columns), the rest of the spectrum taken as flat at its mean.
struct SecondMoments {
  at::Tensor basis;        // [d, r] orthonormal, in the features' type
  at::Tensor eigenvalues;  // [r] float64, >= 0
  double rest = 0;         // mean eigenvalue outside the basis; 0 if r = d
};

// Estimates them for `features` [n, d]; `rank` >= 1. Deterministic (the
// range finder's sketch has a fixed seed). Throws c10::Error like ATen.
SecondMoments EstimateSecondMoments(const at::Tensor& features, int64_t rank);

// Fits one model per weight of `l2_grid` (the regularisation path), each
// as FitLogisticRegression would alone (the same iterates up to the
// rounding of the wider products), but in lockstep: every iteration's X D
// and X^T R serve all unfinished fits in one product, so the path costs
// about one pass over X per iteration instead of one per weight. `init`:
// empty, or one warm start per weight. `second_moments`: the preconditioner
// to use, e.g. of similar features (the probe's refit on train + val uses
// train's); null estimates it from `features` when
// options.preconditioner_rank > 0. Errors as FitLogisticRegression, and
// INVALID_ARGUMENT for an empty grid.
absl::StatusOr<std::vector<LinearFit>> FitLogisticRegressionPath(
    const at::Tensor& features, const at::Tensor& labels, int num_classes,
    const std::vector<double>& l2_grid, const LbfgsOptions& options,
    const std::vector<LinearModel>& init = {},
    const SecondMoments* second_moments = nullptr);

// Fits the model. `features` float32 [n, d], `labels` int64 [n] with values in
// [0, num_classes); both on the same device. `init` (optional) warm-starts.
// Returns INVALID_ARGUMENT for mismatched shapes, an empty matrix, labels
// out of range, l2 < 0 or non-finite, or bad options; RESOURCE_EXHAUSTED when
// memory runs out. Inputs are not checked for NaN here (probe.h does it once).
absl::StatusOr<LinearFit> FitLogisticRegression(
    const at::Tensor& features, const at::Tensor& labels, int num_classes,
    double l2, const LbfgsOptions& options,
    const std::optional<LinearModel>& init = std::nullopt,
    const SecondMoments* second_moments = nullptr);

}  // namespace sslab::evaluator

#endif  // SSLAB_EVALUATOR_LOGISTIC_REGRESSION_H_
