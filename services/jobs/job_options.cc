#include "services/jobs/job_options.h"

#include <algorithm>
#include <thread>

namespace sslab::services {

data::DatasetSpec DatasetSpecFor(const experiment::RunConfig& config) {
  data::DatasetSpec spec;
  spec.kind = config.dataset.kind;
  spec.path = config.dataset.path;
  spec.val_fraction = config.dataset.val_fraction;
  spec.seed = static_cast<uint64_t>(config.seed);
  spec.max_examples = config.dataset.max_examples;
  return spec;
}

bool UsesBf16(const experiment::RunConfig& config,
              const experiment::DeviceId& device) {
  switch (config.precision) {
    case experiment::Precision::kBf16:
      return true;
    case experiment::Precision::kAuto:
      return device.is_cuda();
    case experiment::Precision::kFp32:
      break;
  }
  return false;
}

int ThreadsFor(const experiment::RunConfig& config, int worker_threads) {
  const int cores =
      static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // More threads than cores only oversubscribe the worker (a run may ask
  // for up to experiment::kMaxThreads).
  if (config.threads > 0) return std::min(config.threads, cores);
  if (worker_threads > 0) return std::min(worker_threads, cores);
  return cores;
}

trainer::TrainerOptions TrainerOptionsFor(const experiment::RunConfig& config,
                                          int channels, int num_classes,
                                          const experiment::DeviceId& device,
                                          int threads) {
  trainer::TrainerOptions options;
  options.method = config.method;
  options.model.architecture = config.architecture;
  options.model.width = config.width;
  options.model.last_relu = config.last_relu;
  options.model.in_channels = channels;
  // Small images (Fashion-MNIST, CIFAR) get the small-input stem; patch
  // methods set their own strides.
  options.model.small_input = experiment::UsesSmallInputStem(config);
  options.num_classes = num_classes;
  options.batch_size = config.batch_size;
  options.image_size = config.dataset.image_size;
  options.augmentation = config.augmentation;
  options.base_learning_rate = config.lr_schedule.base_lr;
  options.epochs = config.epochs;
  options.warmup_epochs = config.lr_schedule.warmup_epochs;
  options.decay_epochs = config.lr_schedule.decay_epochs;
  options.decay_factor = config.lr_schedule.decay_factor;
  options.seed = static_cast<uint64_t>(config.seed);
  options.threads = threads;
  options.device = device.ToString();
  options.bf16_autocast = UsesBf16(config, device);
  options.channels_last =
      config.memory_format == experiment::MemoryFormat::kChannelsLast;
  // A checkpoint every epoch bounds what a killed worker loses; the
  // scheduler evaluates only the final one and every `every_epochs`-th.
  options.checkpoint_every_epochs = 1;
  if (config.width < 4 || config.dataset.image_size <= 64) {
    // Small networks and images: the 4096-unit patch head would dominate.
    options.head_hidden = 512;
    options.embedding_dim = 128;
  }
  return options;
}

data::LoaderOptions TrainLoaderOptionsFor(const experiment::RunConfig& config,
                                          const experiment::DeviceId& device,
                                          int threads) {
  data::LoaderOptions options;
  options.threads = threads;
  options.seed = static_cast<uint64_t>(config.seed);
  options.pin_memory = device.is_cuda();
  return options;
}

data::TransformOptions EvalTransformFor(const experiment::RunConfig& config,
                                        int channels) {
  data::TransformOptions options;
  options.image_size = config.dataset.image_size;
  options.channels = channels;
  options.kind =
      experiment::IsPatchMethod(config.method) ? "eval_patches" : "eval";
  return options;
}

data::LoaderOptions ExtractLoaderOptionsFor(const c10::Device& device,
                                            int threads) {
  data::LoaderOptions options;
  options.batch_size = 256;
  options.threads = threads;
  options.shuffle = false;
  options.drop_last = false;
  options.pin_memory = device.is_cuda();
  return options;
}

evaluator::LbfgsProbeOptions LbfgsOptionsFor(
    const experiment::RunConfig& config, const c10::Device& device,
    bool has_val) {
  evaluator::LbfgsProbeOptions options;
  options.device = device;
  options.l2_grid = config.evaluation.probe.l2_grid;
  if (!has_val) options.l2_grid = {1e-4};
  return options;
}

evaluator::SgdProbeOptions SgdOptionsFor(const experiment::RunConfig& config,
                                         const c10::Device& device) {
  const experiment::ProbeSettings& p = config.evaluation.probe;
  evaluator::SgdProbeOptions options;
  options.device = device;
  options.seed = static_cast<uint64_t>(config.seed);
  options.epochs = p.sgd_epochs;
  options.learning_rate = p.sgd_learning_rate;
  options.batch_size = p.sgd_batch_size;
  options.decay_epochs = {options.epochs / 2, options.epochs * 3 / 4};
  return options;
}

evaluator::MlpProbeOptions MlpOptionsFor(const experiment::RunConfig& config,
                                         const c10::Device& device) {
  const experiment::ProbeSettings& p = config.evaluation.probe;
  evaluator::MlpProbeOptions options;
  options.device = device;
  options.seed = static_cast<uint64_t>(config.seed);
  options.hidden_units = p.mlp_hidden_units;
  options.epochs = p.mlp_epochs;
  return options;
}

}  // namespace sslab::services
