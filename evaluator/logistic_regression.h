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
  // Precondition with the features' second moments when they have at most
  // this many dimensions (0: never): L-BFGS's initial inverse Hessian
  // becomes (X^T X / (n k) + l2 I)^-1 instead of a multiple of I, which
  // undoes the correlation between features that makes the fit
  // ill-conditioned (5x fewer iterations on Fashion-MNIST pixels).
  int64_t max_preconditioned_features = 1024;
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

// Fits one model per weight of `l2_grid` (the regularisation path), each
// as FitLogisticRegression would alone (the same iterates up to the
// rounding of the wider products), but in lockstep: every iteration's X D
// and X^T R serve all unfinished fits in one product, so the path costs
// about one pass over X per iteration instead of one per weight. `init`:
// empty, or one warm start per weight. Errors as FitLogisticRegression, and
// INVALID_ARGUMENT for an empty grid.
absl::StatusOr<std::vector<LinearFit>> FitLogisticRegressionPath(
    const at::Tensor& features, const at::Tensor& labels, int num_classes,
    const std::vector<double>& l2_grid, const LbfgsOptions& options,
    const std::vector<LinearModel>& init = {});

// Fits the model. `features` float32 [n, d], `labels` int64 [n] with values in
// [0, num_classes); both on the same device. `init` (optional) warm-starts.
// Returns INVALID_ARGUMENT for mismatched shapes, an empty matrix, labels
// out of range, l2 < 0 or non-finite, or bad options; RESOURCE_EXHAUSTED when
// memory runs out. Inputs are not checked for NaN here (probe.h does it once).
absl::StatusOr<LinearFit> FitLogisticRegression(
    const at::Tensor& features, const at::Tensor& labels, int num_classes,
    double l2, const LbfgsOptions& options,
    const std::optional<LinearModel>& init = std::nullopt);

}  // namespace sslab::evaluator

#endif  // SSLAB_EVALUATOR_LOGISTIC_REGRESSION_H_
