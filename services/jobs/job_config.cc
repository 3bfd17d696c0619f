#include "services/jobs/job_config.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "services/common/run_config.h"

namespace sslab::services {

data::DatasetSpec DatasetSpecFor(const v1::RunConfig& config) {
  data::DatasetSpec spec;
  spec.kind = std::string(DatasetKindName(config.dataset().kind()));
  spec.path = config.dataset().path();
  spec.val_fraction = config.dataset().val_fraction();
  spec.seed = static_cast<uint64_t>(config.seed());
  spec.max_examples = config.dataset().max_examples();
  return spec;
}

absl::StatusOr<trainer::TrainerOptions> TrainerOptionsFor(
    const v1::RunConfig& config, int channels, const std::string& device,
    int threads) {
  trainer::TrainerOptions options;
  auto method = trainer::ParseMethod(MethodName(config.method()));
  if (!method.ok()) return method.status();
  options.method = *method;
  auto architecture =
      models::ParseArchitecture(ArchitectureName(config.architecture()));
  if (!architecture.ok()) return architecture.status();
  options.model.architecture = *architecture;
  options.model.width = config.width();
  options.model.last_relu = config.last_relu();
  options.model.in_channels = channels;
  // Small images (Fashion-MNIST, CIFAR) get the small-input stem; patch
  // methods set their own strides.
  options.model.small_input =
      !trainer::IsPatchMethod(*method) && config.dataset().image_size() <= 64;
  options.batch_size = config.batch_size();
  options.image_size = config.dataset().image_size();
  options.base_learning_rate = config.lr_schedule().base_lr();
  options.epochs = config.epochs();
  options.warmup_epochs = config.lr_schedule().warmup_epochs();
  options.decay_epochs.assign(config.lr_schedule().decay_epochs().begin(),
                              config.lr_schedule().decay_epochs().end());
  options.decay_factor = config.lr_schedule().decay_factor();
  options.seed = static_cast<uint64_t>(config.seed());
  options.threads = threads;
  options.device = device;
  // A checkpoint every epoch bounds what a killed worker loses; the
  // scheduler evaluates only the final one and every `every_epochs`-th.
  options.checkpoint_every_epochs = 1;
  if (config.width() < 4 || config.dataset().image_size() <= 64) {
    // Small networks and images: the 4096-unit patch head would dominate.
    options.head_hidden = 512;
    options.embedding_dim = 128;
  }
  return options;
}

data::TransformOptions EvalTransformFor(const v1::RunConfig& config,
                                        int channels) {
  data::TransformOptions options;
  options.image_size = config.dataset().image_size();
  options.channels = channels;
  const bool patches = config.method() == v1::METHOD_JIGSAW ||
                       config.method() == v1::METHOD_RELATIVE_PATCH_LOCATION;
  options.kind = patches ? "eval_patches" : "eval";
  return options;
}

std::string DeviceName(const v1::Device& device) {
  if (device.kind() == v1::DEVICE_KIND_CUDA) {
    return absl::StrCat("cuda:", device.index());
  }
  return "cpu";
}

int ThreadsFor(const v1::RunConfig& config, const WorkerOptions& worker) {
  if (config.threads() > 0) return config.threads();
  if (worker.threads > 0) return worker.threads;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::filesystem::path ResolveArtifact(const WorkerOptions& worker,
                                      const std::string& path) {
  const std::filesystem::path p(path);
  return p.is_absolute() ? p : worker.artifact_dir / p;
}

std::string RelativeArtifact(const WorkerOptions& worker,
                             const std::filesystem::path& path) {
  return path.lexically_relative(worker.artifact_dir).string();
}

}  // namespace sslab::services
