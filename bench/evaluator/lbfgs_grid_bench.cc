// The L-BFGS probe as a PROBE job runs it (evaluator::RunLbfgsProbe: the
// whole L2 grid fitted on train, the best on val refit on train + val,
// scored on test): the C++ side of lbfgs_grid_vs_sklearn.py.
//
//   evaluator_lbfgs_grid_bench --data=<prefix> --n=N --n_val=V --n_test=M
//       --d=D --threads=2 [--grid=1e-1,1e-2,...] [--device=cuda]
//       [--preconditioner_rank=R]   (0: plain L-BFGS)
//       [--probe=sgd|mlp]   (the other probes, with the run config's
//                            defaults, on the same split: finding (d))
//       [--label_fraction=F --seed=S]   (learn from a class-balanced F
//                            of train and val, as a PROBE job does)
//       [--epochs=E]   (SGD/MLP epochs instead of the run config's)
//       [--weight_decay=W]   (SGD/MLP weight decay; default 0)
//
// Reads <prefix>.{train,val,test}.{x.f32,y.i64} (written by the Python
// peer). Prints one JSON object; the time covers everything the probe
// does (standardising, for L-BFGS the grid, the choice and the refit,
// scoring).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "bench/evaluator/raw_io.h"
#include "bench/flags.h"
#include "common/torch_util/runtime.h"
#include "evaluator/logistic_regression.h"
#include "evaluator/probe.h"

namespace {

using sslab::bench::Flag;
using sslab::bench::ReadRaw;
using sslab::bench::Seconds;
namespace ev = sslab::evaluator;

ev::FeatureSplit ReadSplit(const std::string& prefix, const char* split,
                           int64_t n, int64_t d) {
  const std::string p = prefix + "." + split;
  return {ReadRaw(p + ".x.f32", {n, d}, at::kFloat),
          ReadRaw(p + ".y.i64", {n}, at::kLong)};
}

}  // namespace

int main(int argc, char** argv) {
  const std::string prefix = Flag(argc, argv, "data", "");
  const int64_t d = std::stoll(Flag(argc, argv, "d", "0"));
  const int threads = std::stoi(Flag(argc, argv, "threads", "2"));
  std::vector<double> grid;
  std::stringstream list(
      Flag(argc, argv, "grid", "1e-1,1e-2,1e-3,1e-4,1e-5,1e-6"));
  for (std::string item; std::getline(list, item, ',');) {
    grid.push_back(std::stod(item));
  }
  const std::string probe = Flag(argc, argv, "probe", "lbfgs");
  if (probe != "lbfgs" && probe != "sgd" && probe != "mlp") {
    std::fprintf(stderr, "--probe: expected lbfgs, sgd or mlp, got %s\n",
                 probe.c_str());
    return 2;
  }
  // As the PROBE job sets them.
  if (probe == "lbfgs") {
    sslab::ConfigureThreadsForBlasWork(threads);
  } else {
    sslab::ConfigureTorchThreads(threads);
  }
  ev::ProbeData data;
  data.train =
      ReadSplit(prefix, "train", std::stoll(Flag(argc, argv, "n", "0")), d);
  data.val =
      ReadSplit(prefix, "val", std::stoll(Flag(argc, argv, "n_val", "0")), d);
  data.test =
      ReadSplit(prefix, "test", std::stoll(Flag(argc, argv, "n_test", "0")), d);
  auto subset = ev::WithLabelFraction(
      std::move(data), std::stod(Flag(argc, argv, "label_fraction", "1")),
      std::stoull(Flag(argc, argv, "seed", "0")));
  if (!subset.ok()) {
    std::fprintf(stderr, "%s\n", subset.status().ToString().c_str());
    return 2;
  }
  data = *std::move(subset);

  ev::LbfgsProbeOptions options;
  options.l2_grid = grid;
  const std::string device = Flag(argc, argv, "device", "cpu");
  options.device = c10::Device(device);
  options.lbfgs.gradient_tolerance =
      std::stod(Flag(argc, argv, "gradient_tolerance",
                     std::to_string(options.lbfgs.gradient_tolerance)));
  options.lbfgs.preconditioner_rank =
      std::stoll(Flag(argc, argv, "preconditioner_rank",
                      std::to_string(options.lbfgs.preconditioner_rank)));
  // The SGD and MLP probes as services/jobs/job_options.cc sets them for
  // the run config's defaults (SGD: 100 epochs, lr 0.1, batch 2048, decays
  // at 1/2 and 3/4; MLP: 1000 hidden units, 30 epochs).
  const std::string epochs = Flag(argc, argv, "epochs", "");
  ev::SgdProbeOptions sgd;
  ev::MlpProbeOptions mlp;
  sgd.device = mlp.device = options.device;
  if (!epochs.empty()) sgd.epochs = mlp.epochs = std::stoi(epochs);
  sgd.decay_epochs = {sgd.epochs / 2, sgd.epochs * 3 / 4};
  sgd.weight_decay = mlp.weight_decay =
      std::stod(Flag(argc, argv, "weight_decay", "0"));
  const auto start = std::chrono::steady_clock::now();
  auto result = probe == "sgd"   ? ev::RunSgdProbe(data, sgd)
                : probe == "mlp" ? ev::RunMlpProbe(data, mlp)
                                 : ev::RunLbfgsProbe(data, options);
  if (!result.ok()) {
    std::fprintf(stderr, "%s\n", result.status().ToString().c_str());
    return 1;
  }
  const double total_s = Seconds(start);
  std::printf(
      "{\"impl\": \"sslab\", \"probe\": \"%s\", \"device\": \"%s\", "
      "\"threads\": %d, "
      "\"grid\": %zu, "
      "\"chosen_l2\": %g, \"val_top1\": %.4f, \"test_top1\": %.4f, "
      "\"iterations_final\": %d, \"train_rows\": %lld, \"val_rows\": %lld, "
      "\"total_s\": %.3f}\n",
      probe.c_str(), device.c_str(), threads, grid.size(), result->chosen_l2,
      result->val_top1, result->test_top1, result->iterations,
      static_cast<long long>(data.train.features.size(0)),
      static_cast<long long>(data.val.features.size(0)), total_s);
  return 0;
}
