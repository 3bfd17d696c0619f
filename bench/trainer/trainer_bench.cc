// Trains one pretext method for a fixed number of steps on random tensors
// and prints images/s as one JSON line; trainer_bench.py is the Python
// PyTorch eager peer with the same network, loss, optimizer and shapes.
//
//   trainer_bench --method=rotation --arch=resnet50_v2 --batch=32 --image=32
//       --width=1 --steps=5 --warmup=2 --threads=2
//       [--device=cuda --bf16 --channels_last]
//       [--world_size=2 --rank=R --rendezvous=127.0.0.1:PORT]
//       [--backend=auto|gloo|nccl]
//
// With --world_size=N, N processes (one per --rank) train together with
// c10d (NCCL on GPUs where built, else Gloo; --backend picks, and at world
// size 1 makes a group of one): --batch is the global batch, each rank
// reads its shard, and images/s counts the global batch (rank 0's line is
// the figure).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "bench/flags.h"
#include "data/batch_source.h"
#include "trainer/options.h"
#include "trainer/trainer.h"

int main(int argc, char** argv) {
  using namespace sslab::trainer;
  auto get = [&](std::string_view key, std::string_view fallback) {
    return sslab::bench::Flag(argc, argv, key, fallback);
  };
  auto method = sslab::experiment::ParseName<Method>(get("method", "rotation"),
                                                     "--method");
  if (!method.ok()) {
    std::cerr << method.status() << "\n";
    return 2;
  }
  auto arch = sslab::experiment::ParseName<sslab::models::Architecture>(
      get("arch", "resnet50_v2"), "--arch");
  if (!arch.ok()) {
    std::cerr << arch.status() << "\n";
    return 2;
  }
  const int64_t batch = std::stoll(get("batch", "32"));
  const int image = std::stoi(get("image", "32"));
  const int steps = std::stoi(get("steps", "5"));
  const int warmup = std::stoi(get("warmup", "2"));
  const int views = std::stoi(get("views", "8"));
  const int channels = std::stoi(get("channels", "3"));

  TrainerOptions o;
  o.method = *method;
  o.model.architecture = *arch;
  o.model.width = std::stoi(get("width", "1"));
  o.model.in_channels = channels;
  o.model.small_input = !sslab::experiment::IsPatchMethod(*method);
  o.batch_size = batch;
  // Patch methods: the smallest grid whose patches are `image` px (ViewSize).
  o.image_size = sslab::experiment::IsPatchMethod(*method)
                     ? 3 * static_cast<int>(std::lround(image * 85.0 / 64.0))
                     : image;
  o.num_classes = 10;
  o.embedding_dim = std::stoi(get("embedding", "1000"));
  o.head_hidden = std::stoi(get("head_hidden", "1024"));
  o.epochs = 1;
  o.warmup_epochs = 0;
  o.decay_epochs = {};
  o.base_learning_rate = 0.01 * 256 / static_cast<double>(batch);
  o.threads = std::stoi(get("threads", "2"));
  o.device = get("device", "cpu");
  o.bf16_autocast = get("bf16", "false") == "true";
  o.channels_last = get("channels_last", "false") == "true";
  o.progress_every_steps = 1;
  o.data_parallel.world_size = std::stoi(get("world_size", "1"));
  o.data_parallel.rank = std::stoi(get("rank", "0"));
  o.data_parallel.rendezvous = get("rendezvous", "");
  o.data_parallel.backend = get("backend", "auto");
  if (ViewSize(o) != image) {
    std::cerr << "no grid gives " << image << " px patches\n";
    return 2;
  }
  PrepareDataParallelProcess();
  auto trainer = Trainer::Create(o);
  if (!trainer.ok()) {
    std::cerr << trainer.status() << "\n";
    return 1;
  }
  int64_t v = 1;
  if (*method == Method::kExemplar) v = views;
  if (sslab::experiment::IsPatchMethod(*method)) v = 9;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(0);
  const int64_t n = batch * (steps + warmup);
  at::Tensor data = at::randn({n, v, channels, image, image}, gen);
  at::Tensor classes = at::randint(10, {n}, gen);
  const int world = o.data_parallel.world_size;
  sslab::data::TensorBatchSource source(
      data, classes, batch / world, /*shuffle=*/false, /*seed=*/0,
      /*drop_last=*/true, {o.data_parallel.rank, world});

  using Clock = std::chrono::steady_clock;
  Clock::time_point measured_start;
  Clock::time_point last;
  double last_loss = 0;
  TrainHooks hooks;
  // Progress syncs the device every step, as the Python peer's loss.item().
  hooks.on_progress = [&](const Progress& p) {
    last = Clock::now();
    last_loss = p.loss;
    if (p.step == warmup) measured_start = last;
  };
  if (warmup == 0) measured_start = Clock::now();
  auto summary = (*trainer)->Train(source, hooks);
  if (!summary.ok()) {
    std::cerr << summary.status() << "\n";
    return 1;
  }
  const double seconds =
      std::chrono::duration<double>(last - measured_start).count();
  const std::string backend =
      (*trainer)->collectives().empty() ? "none" : (*trainer)->collectives();
  std::printf(
      "{\"impl\": \"cpp\", \"method\": \"%s\", \"arch\": \"%s\", "
      "\"device\": \"%s\", \"batch\": %lld, \"world_size\": %d, "
      "\"backend\": \"%s\", \"threads\": %d, "
      "\"images_per_second\": %.3f, \"seconds_per_step\": %.4f, "
      "\"last_loss\": %.4f}\n",
      std::string(sslab::experiment::Name(*method)).c_str(),
      std::string(sslab::experiment::Name(*arch)).c_str(), o.device.c_str(),
      static_cast<long long>(batch), world, backend.c_str(), o.threads,
      static_cast<double>(batch * steps) / seconds, seconds / steps, last_loss);
  return 0;
}
