// Feature-extraction throughput: the C++ side of extraction_vs_pytorch.py.
//
//   evaluator_extract_bench --width=1 --size=224 [--small_input=1]
//       --images=64 --batch=16 --threads=2 [--device=cuda] [--out=/tmp/dir]
//
// Extracts every endpoint of a freshly initialised ResNet50 v2 (pooled to
// 9000 values, float32 shards streamed to disk) from random images and prints
// images/s as JSON. One warm-up batch is excluded.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "bench/flags.h"
#include "evaluator/extractor.h"
#include "models/model.h"

using sslab::bench::Flag;

int main(int argc, char** argv) {
  using namespace sslab;
  const int width = std::stoi(Flag(argc, argv, "width", "1"));
  const int size = std::stoi(Flag(argc, argv, "size", "224"));
  const bool small = Flag(argc, argv, "small_input", "0") == "1";
  const int64_t images = std::stoll(Flag(argc, argv, "images", "64"));
  const int64_t batch = std::stoll(Flag(argc, argv, "batch", "16"));
  const int threads = std::stoi(Flag(argc, argv, "threads", "2"));
  const std::filesystem::path out =
      Flag(argc, argv, "out",
           (std::filesystem::temp_directory_path() /
            ("sslab_extract_bench_" + std::to_string(getpid())))
               .string());
  at::set_num_threads(threads);

  models::ModelOptions o;
  o.architecture = models::Architecture::kResNet50V2;
  o.width = width;
  o.small_input = small;
  o.num_outputs = 0;
  auto model = models::CreateModel(o);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    return 1;
  }
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(0);
  at::Tensor x = at::randn({images + batch, 1, 3, size, size}, gen);
  at::Tensor y = at::zeros({images + batch}, at::kLong);
  evaluator::ExtractionOptions options;
  options.fold_batch_norm = Flag(argc, argv, "fold", "1") == "1";
  const std::string device = Flag(argc, argv, "device", "cpu");
  options.device = c10::Device(device);

  // Warm-up (allocator, oneDNN primitive caches).
  {
    data::TensorBatchSource warm(x.narrow(0, 0, batch), y.narrow(0, 0, batch),
                                 batch, /*shuffle=*/false, 0,
                                 /*drop_last=*/false);
    auto r = evaluator::ExtractFeatures(**model, warm, options, out, "warmup");
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
      return 1;
    }
  }
  data::TensorBatchSource source(x.narrow(0, batch, images),
                                 y.narrow(0, batch, images), batch,
                                 /*shuffle=*/false, 0, /*drop_last=*/false);
  const auto start = std::chrono::steady_clock::now();
  auto shards =
      evaluator::ExtractFeatures(**model, source, options, out, "bench");
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (!shards.ok()) {
    std::fprintf(stderr, "%s\n", shards.status().ToString().c_str());
    return 1;
  }
  int64_t dims = 0;
  for (const auto& sh : *shards)
    dims += sh.layer == "labels" ? 0 : sh.info.dims;
  std::filesystem::remove_all(out);
  std::printf(
      "{\"impl\": \"sslab\", \"device\": \"%s\", \"width\": %d, "
      "\"size\": %d, \"images\": %lld, "
      "\"batch\": %lld, \"threads\": %d, \"fold_batch_norm\": %s, "
      "\"feature_dims\": %lld, "
      "\"seconds\": %.3f, \"images_per_s\": %.2f}\n",
      device.c_str(), width, size, static_cast<long long>(images),
      static_cast<long long>(batch), at::get_num_threads(),
      options.fold_batch_norm ? "true" : "false", static_cast<long long>(dims),
      s, images / s);
  return 0;
}
