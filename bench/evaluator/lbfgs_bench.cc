// L-BFGS probe timing: the C++ side of lbfgs_vs_sklearn.py.
//
//   evaluator_lbfgs_bench --data=fmnist|raw:<prefix> [--n=N --d=D --n_test=M]
//       --l2=1e-4 --threads=2 [--target_loss=F] [--max_iterations=500]
//       [--dtype=float32|float64]
//
// raw:<prefix> reads <prefix>.train.x.f32 [n, d], <prefix>.train.y.i64 [n],
// <prefix>.test.x.f32, <prefix>.test.y.i64 (written by the Python peer).
// Prints one JSON object: time to the target loss (or to convergence),
// iterations, final loss and test accuracy.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>

#include "bench/evaluator/raw_io.h"
#include "bench/flags.h"
#include "evaluator/logistic_regression.h"
#include "evaluator/testing/fashion_mnist.h"

namespace {

using sslab::bench::Flag;
using sslab::bench::ReadRaw;
using sslab::bench::Seconds;
using sslab::evaluator::FitLogisticRegression;
using sslab::evaluator::LbfgsOptions;
using sslab::evaluator::LinearFit;

}  // namespace

int main(int argc, char** argv) {
  const std::string data = Flag(argc, argv, "data", "fmnist");
  const double l2 = std::stod(Flag(argc, argv, "l2", "1e-4"));
  const int threads = std::stoi(Flag(argc, argv, "threads", "2"));
  const double target = std::stod(Flag(argc, argv, "target_loss", "-inf"));
  const int max_iterations =
      std::stoi(Flag(argc, argv, "max_iterations", "500"));
  const bool use_double = Flag(argc, argv, "dtype", "float32") == "float64";
  at::set_num_threads(threads);

  at::Tensor x, y, xt, yt;
  if (data == "fmnist") {
    auto train = sslab::evaluator::fmnist::LoadFashionMnist("train");
    auto test = sslab::evaluator::fmnist::LoadFashionMnist("test");
    if (!train || !test) {
      std::fprintf(stderr, "Fashion-MNIST not found\n");
      return 1;
    }
    x = train->images, y = train->labels, xt = test->images, yt = test->labels;
  } else if (data.rfind("raw:", 0) == 0) {
    const std::string prefix = data.substr(4);
    const int64_t n = std::stoll(Flag(argc, argv, "n", "0"));
    const int64_t d = std::stoll(Flag(argc, argv, "d", "0"));
    const int64_t m = std::stoll(Flag(argc, argv, "n_test", "0"));
    x = ReadRaw(prefix + ".train.x.f32", {n, d}, at::kFloat);
    y = ReadRaw(prefix + ".train.y.i64", {n}, at::kLong);
    xt = ReadRaw(prefix + ".test.x.f32", {m, d}, at::kFloat);
    yt = ReadRaw(prefix + ".test.y.i64", {m}, at::kLong);
  } else {
    std::fprintf(stderr, "unknown --data\n");
    return 2;
  }
  const int classes = static_cast<int>(y.max().item<int64_t>()) + 1;

  // Standardise as the probe does (train statistics, population std).
  auto start = std::chrono::steady_clock::now();
  auto [var, mean] = at::var_mean(x, 0, /*unbiased=*/false, /*keepdim=*/true);
  at::Tensor sd = var.sqrt();
  sd = at::where(sd > 1e-6, sd, at::ones_like(sd));
  const at::ScalarType type = use_double ? at::kDouble : at::kFloat;
  at::Tensor xs = ((x - mean) / sd).to(type);
  at::Tensor xts = ((xt - mean) / sd).to(type);
  const double standardise_s = Seconds(start);

  LbfgsOptions options;
  options.max_iterations = max_iterations;
  options.target_loss = target;
  // With a target, stop only on it (or on no progress): a gradient test on
  // the mean-loss scale can stop first on near-separable data.
  options.gradient_tolerance = std::isinf(target) ? 1e-6 : 0;
  options.loss_tolerance = 0;
  start = std::chrono::steady_clock::now();
  auto fit = FitLogisticRegression(xs, y, classes, l2, options);
  const double fit_s = Seconds(start);
  if (!fit.ok()) {
    std::fprintf(stderr, "%s\n", fit.status().ToString().c_str());
    return 1;
  }
  at::Tensor pred =
      at::addmm(fit->model.bias, xts, fit->model.weight).argmax(1);
  const double top1 = pred.eq(yt).to(at::kDouble).mean().item<double>();
  std::printf(
      "{\"impl\": \"sslab\", \"dtype\": \"%s\", \"threads\": %d, \"n\": %lld, "
      "\"d\": %lld, \"classes\": %d, \"l2\": %g, \"target_loss\": %.10g, "
      "\"loss\": %.10g, \"reached_target\": %s, \"iterations\": %d, "
      "\"line_search_evals\": %d, \"fit_s\": %.3f, \"standardise_s\": %.3f, "
      "\"test_top1\": %.4f}\n",
      use_double ? "float64" : "float32", at::get_num_threads(),
      static_cast<long long>(x.size(0)), static_cast<long long>(x.size(1)),
      classes, l2, target, fit->loss, fit->loss <= target ? "true" : "false",
      fit->iterations, fit->function_evaluations, fit_s, standardise_s, top1);
  return 0;
}
