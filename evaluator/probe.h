// The study's probes on frozen features: multinomial logistic regression by
// L-BFGS (the default), by mini-batch SGD, and a one-hidden-layer MLP.
//
// Every probe standardises features with the train split's per-dimension
// mean and standard deviation (constant dimensions are left unscaled),
// trains on train (optionally train + val), and reports top-1 / top-5 on test
// (and on val when present). Features stay in memory as one tensor per split
// on the chosen device; mini-batches are contiguous slices of one per-epoch
// shuffled copy, so hundreds of epochs on cached features stay cheap.
//
// Deterministic for a seed on a given device and thread count: randomness
// comes from a private generator, never from torch's global one.
//
// Thread-compatible: probes share no state. Failure contract for every Run*:
//   INVALID_ARGUMENT (message names the split and field) for a feature/label
//     count mismatch, a non-2-D or non-float feature matrix, NaN/Inf
//     features, negative or out-of-range labels, an empty train or test split
//     (or an empty val split where the probe needs one), differing feature
//     dimensions across splits, fewer than two classes in train, bad options;
//   RESOURCE_EXHAUSTED when memory runs out; INTERNAL for torch failures.
#ifndef SSLAB_EVALUATOR_PROBE_H_
#define SSLAB_EVALUATOR_PROBE_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "evaluator/logistic_regression.h"

namespace sslab::evaluator {

// One split of one layer: features float32/float16/float64 [n, d] and
// labels int64 [n] (any device; moved to the probe's device).
struct FeatureSplit {
  at::Tensor features;
  at::Tensor labels;
};

struct ProbeData {
  FeatureSplit train;
  FeatureSplit val;  // may be left undefined/empty where noted
  FeatureSplit test;
  // 0: inferred as 1 + the largest label in any split.
  int num_classes = 0;
};

struct ProbeResult {
  double test_top1 = 0;  // fractions in [0, 1]
  double test_top5 = 0;  // top-min(5, classes)
  // Of the reported model on val before any train+val refit; NaN without val.
  double val_top1 = std::numeric_limits<double>::quiet_NaN();
  // L-BFGS: the chosen L2 weight; SGD/MLP: the weight decay used.
  double chosen_l2 = 0;
  // L-BFGS grid search: (l2, val top-1) for every grid point, in grid order.
  std::vector<std::pair<double, double>> l2_val_top1;
  double train_loss =
      0;               // final training objective (L-BFGS) or last epoch mean
  int iterations = 0;  // L-BFGS iterations of the final fit, or epochs
};

struct LbfgsProbeOptions {
  // L2 weights (mean-loss scale, see logistic_regression.h; scikit-learn's
  // C = 1 / (n * l2)). The grid point with the best val top-1 wins; ties go to
  // the stronger regularisation. Needs a val split when it has > 1 entry.
  std::vector<double> l2_grid = {1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6};
  // Refit on train + val with the chosen weight before scoring test.
  bool train_on_train_and_val = true;
  LbfgsOptions lbfgs;
  c10::Device device = c10::kCPU;
};

absl::StatusOr<ProbeResult> RunLbfgsProbe(const ProbeData& data,
                                          const LbfgsProbeOptions& options);

struct SgdProbeOptions {
  int epochs = 100;
  int batch_size = 2048;
  double learning_rate = 0.1;
  double momentum = 0.9;
  double weight_decay = 0;
  // The learning rate is multiplied by decay_factor at each of these epochs.
  std::vector<int> decay_epochs;
  double decay_factor = 0.1;
  bool train_on_train_and_val = false;
  uint64_t seed = 0;
  c10::Device device = c10::kCPU;
};

// Linear softmax classifier trained by mini-batch SGD with momentum.
absl::StatusOr<ProbeResult> RunSgdProbe(const ProbeData& data,
                                        const SgdProbeOptions& options);

enum class MlpOptimizer { kSgd, kAdam };

struct MlpProbeOptions {
  int hidden_units = 1000;
  MlpOptimizer optimizer = MlpOptimizer::kSgd;
  int epochs = 30;
  int batch_size = 256;
  double learning_rate = 0.01;  // a typical Adam value is 1e-3
  double momentum = 0.9;        // SGD only
  double weight_decay = 0;
  std::vector<int> decay_epochs;
  double decay_factor = 0.1;
  bool train_on_train_and_val = false;
  uint64_t seed = 0;
  c10::Device device = c10::kCPU;
};

// features -> Linear(hidden) -> ReLU -> Linear(classes), cross-entropy.
absl::StatusOr<ProbeResult> RunMlpProbe(const ProbeData& data,
                                        const MlpProbeOptions& options);

// A class-balanced subset: the same number of rows from every class present,
// round(fraction * n / classes) (at least 1, at most the class's count),
// chosen by a seeded shuffle and returned in original row order.
// INVALID_ARGUMENT for fraction outside (0, 1] or a malformed split.
absl::StatusOr<FeatureSplit> BalancedSubset(const FeatureSplit& split,
                                            double fraction, uint64_t seed);

// The low-data setting: a BalancedSubset of `fraction` of every split the
// probe learns from, train and (when present) val, so that neither the L2
// choice nor the train + val refit sees more labels than the fraction
// allows; test stays whole. Fraction 1 returns `data` as it is.
absl::StatusOr<ProbeData> WithLabelFraction(ProbeData data, double fraction,
                                            uint64_t seed);

}  // namespace sslab::evaluator

#endif  // SSLAB_EVALUATOR_PROBE_H_
