#include "trainer/options.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace sslab::trainer {
namespace {

// Smallest patch side a patch-task backbone (total stride 4) accepts.
constexpr int kMinPatchSize = 8;

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

}  // namespace

int ViewSize(const TrainerOptions& options) {
  return IsPatchMethod(options.method)
             ? experiment::PatchSide(options.image_size)
             : options.image_size;
}

absl::Status ValidateTrainerOptions(const TrainerOptions& o) {
  if (o.model.width < 1) return Invalid("model.width", "must be >= 1");
  if (o.model.in_channels < 1) {
    return Invalid("model.in_channels", "must be >= 1");
  }
  if (o.batch_size < 1) return Invalid("batch_size", "must be >= 1");
  if (o.micro_batches < 1) return Invalid("micro_batches", "must be >= 1");
  DataParallelOptions group = o.data_parallel;
  group.device = o.device;  // the Trainer's device is the ranks'
  SSLAB_RETURN_IF_ERROR(ValidateDataParallelOptions(group, "data_parallel"));
  if (const int64_t parts =
          int64_t{o.data_parallel.world_size} * o.micro_batches;
      o.batch_size % parts != 0) {
    return Invalid("batch_size",
                   absl::StrCat("must be a multiple of data_parallel."
                                "world_size x micro_batches = ",
                                parts, ", got ", o.batch_size));
  }
  if (o.epochs < 0) return Invalid("epochs", "must be >= 0");
  if (o.image_size < 1) return Invalid("image_size", "must be >= 1");
  if (IsPatchMethod(o.method) && o.image_size < 3 * kMinPatchSize) {
    return Invalid("image_size",
                   absl::StrCat(o.image_size,
                                " is too small for a 3x3 patch grid (needs >= ",
                                3 * kMinPatchSize, ")"));
  }
  if (o.method == Method::kSupervised && o.num_classes < 1) {
    return Invalid("num_classes", "must be >= 1");
  }
  if (o.embedding_dim < 1) return Invalid("embedding_dim", "must be >= 1");
  if (o.head_hidden < 1) return Invalid("head_hidden", "must be >= 1");
  if (!(o.head_dropout >= 0 && o.head_dropout < 1)) {
    return Invalid("head_dropout", "must be in [0, 1)");
  }
  if (!(o.triplet_margin >= 0)) {
    return Invalid("triplet_margin", "must be >= 0");
  }
  if (o.num_permutations < 2 || o.num_permutations > 1000) {
    return Invalid("num_permutations", "must be in [2, 1000]");
  }
  if (!(o.base_learning_rate > 0)) {
    return Invalid("base_learning_rate", "must be > 0");
  }
  if (!(o.momentum >= 0 && o.momentum < 1)) {
    return Invalid("momentum", "must be in [0, 1)");
  }
  if (!(o.weight_decay >= 0)) return Invalid("weight_decay", "must be >= 0");
  if (!(o.warmup_epochs >= 0)) return Invalid("warmup_epochs", "must be >= 0");
  for (double e : o.decay_epochs) {
    if (!(e >= 0)) return Invalid("decay_epochs", "must be >= 0");
  }
  if (!(o.decay_factor > 0)) return Invalid("decay_factor", "must be > 0");
  if (o.checkpoint_every_epochs < 0) {
    return Invalid("checkpoint_every_epochs", "must be >= 0");
  }
  if (o.progress_every_steps < 1) {
    return Invalid("progress_every_steps", "must be >= 1");
  }
  return absl::OkStatus();
}

std::string TrainerOptionsToJson(const TrainerOptions& o) {
  nlohmann::json model = {
      {"architecture", std::string(experiment::Name(o.model.architecture))},
      {"width", o.model.width},
      {"last_relu", o.model.last_relu},
      {"in_channels", o.model.in_channels},
      {"num_outputs", o.model.num_outputs},
      {"small_input", o.model.small_input},
      {"patch_strides", o.model.patch_strides},
      {"batch_norm_momentum", o.model.batch_norm_momentum},
      {"image_size", o.model.image_size},
  };
  nlohmann::json j = {
      {"method", std::string(experiment::Name(o.method))},
      {"model", model},
      {"batch_size", o.batch_size},
      {"micro_batches", o.micro_batches},
      // Lineage only: a checkpoint resumes at any world size.
      {"world_size", o.data_parallel.world_size},
      {"image_size", o.image_size},
      {"augmentation", std::string(experiment::Name(o.augmentation))},
      {"num_classes", o.num_classes},
      {"embedding_dim", o.embedding_dim},
      {"head_hidden", o.head_hidden},
      {"head_dropout", o.head_dropout},
      {"triplet_margin", o.triplet_margin},
      {"num_permutations", o.num_permutations},
      {"base_learning_rate", o.base_learning_rate},
      {"momentum", o.momentum},
      {"weight_decay", o.weight_decay},
      {"epochs", o.epochs},
      {"warmup_epochs", o.warmup_epochs},
      {"decay_epochs", o.decay_epochs},
      {"decay_factor", o.decay_factor},
      {"checkpoint_dir", o.checkpoint_dir},
      {"checkpoint_every_epochs", o.checkpoint_every_epochs},
      {"seed", o.seed},
      {"threads", o.threads},
      {"device", o.device},
      {"channels_last", o.channels_last},
      {"bf16_autocast", o.bf16_autocast},
      {"progress_every_steps", o.progress_every_steps},
  };
  return j.dump();
}

namespace {

// Reads j[key] into *out when present; INVALID_ARGUMENT naming the field on a
// type mismatch.
template <typename T>
absl::Status Get(const nlohmann::json& j, const char* key,
                 absl::string_view prefix, T* out) {
  auto it = j.find(key);
  if (it == j.end()) return absl::OkStatus();
  try {
    *out = it->get<T>();
  } catch (const nlohmann::json::exception& e) {
    return Invalid(absl::StrCat(prefix, key), e.what());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TrainerOptions> TrainerOptionsFromJson(absl::string_view json) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json.begin(), json.end());
  } catch (const nlohmann::json::exception& e) {
    return Invalid("config", e.what());
  }
  if (!j.is_object()) return Invalid("config", "not a JSON object");
  TrainerOptions o;
  std::string method(experiment::Name(o.method));
  SSLAB_RETURN_IF_ERROR(Get(j, "method", "", &method));
  SSLAB_ASSIGN_OR_RETURN(o.method,
                         experiment::ParseName<Method>(method, "method"));
  if (auto it = j.find("model"); it != j.end()) {
    if (!it->is_object()) return Invalid("model", "not a JSON object");
    const nlohmann::json& m = *it;
    std::string arch(experiment::Name(o.model.architecture));
    SSLAB_RETURN_IF_ERROR(Get(m, "architecture", "model.", &arch));
    SSLAB_ASSIGN_OR_RETURN(o.model.architecture,
                           experiment::ParseName<models::Architecture>(
                               arch, "model.architecture"));
    SSLAB_RETURN_IF_ERROR(Get(m, "width", "model.", &o.model.width));
    SSLAB_RETURN_IF_ERROR(Get(m, "last_relu", "model.", &o.model.last_relu));
    SSLAB_RETURN_IF_ERROR(
        Get(m, "in_channels", "model.", &o.model.in_channels));
    SSLAB_RETURN_IF_ERROR(
        Get(m, "num_outputs", "model.", &o.model.num_outputs));
    SSLAB_RETURN_IF_ERROR(
        Get(m, "small_input", "model.", &o.model.small_input));
    SSLAB_RETURN_IF_ERROR(
        Get(m, "patch_strides", "model.", &o.model.patch_strides));
    SSLAB_RETURN_IF_ERROR(
        Get(m, "batch_norm_momentum", "model.", &o.model.batch_norm_momentum));
    SSLAB_RETURN_IF_ERROR(Get(m, "image_size", "model.", &o.model.image_size));
  }
  SSLAB_RETURN_IF_ERROR(Get(j, "batch_size", "", &o.batch_size));
  SSLAB_RETURN_IF_ERROR(Get(j, "micro_batches", "", &o.micro_batches));
  SSLAB_RETURN_IF_ERROR(Get(j, "world_size", "", &o.data_parallel.world_size));
  SSLAB_RETURN_IF_ERROR(Get(j, "image_size", "", &o.image_size));
  std::string augmentation(experiment::Name(o.augmentation));
  SSLAB_RETURN_IF_ERROR(Get(j, "augmentation", "", &augmentation));
  SSLAB_ASSIGN_OR_RETURN(o.augmentation,
                         experiment::ParseName<experiment::Augmentation>(
                             augmentation, "augmentation"));
  SSLAB_RETURN_IF_ERROR(Get(j, "num_classes", "", &o.num_classes));
  SSLAB_RETURN_IF_ERROR(Get(j, "embedding_dim", "", &o.embedding_dim));
  SSLAB_RETURN_IF_ERROR(Get(j, "head_hidden", "", &o.head_hidden));
  SSLAB_RETURN_IF_ERROR(Get(j, "head_dropout", "", &o.head_dropout));
  SSLAB_RETURN_IF_ERROR(Get(j, "triplet_margin", "", &o.triplet_margin));
  SSLAB_RETURN_IF_ERROR(Get(j, "num_permutations", "", &o.num_permutations));
  SSLAB_RETURN_IF_ERROR(
      Get(j, "base_learning_rate", "", &o.base_learning_rate));
  SSLAB_RETURN_IF_ERROR(Get(j, "momentum", "", &o.momentum));
  SSLAB_RETURN_IF_ERROR(Get(j, "weight_decay", "", &o.weight_decay));
  SSLAB_RETURN_IF_ERROR(Get(j, "epochs", "", &o.epochs));
  SSLAB_RETURN_IF_ERROR(Get(j, "warmup_epochs", "", &o.warmup_epochs));
  SSLAB_RETURN_IF_ERROR(Get(j, "decay_epochs", "", &o.decay_epochs));
  SSLAB_RETURN_IF_ERROR(Get(j, "decay_factor", "", &o.decay_factor));
  SSLAB_RETURN_IF_ERROR(Get(j, "checkpoint_dir", "", &o.checkpoint_dir));
  SSLAB_RETURN_IF_ERROR(
      Get(j, "checkpoint_every_epochs", "", &o.checkpoint_every_epochs));
  SSLAB_RETURN_IF_ERROR(Get(j, "seed", "", &o.seed));
  SSLAB_RETURN_IF_ERROR(Get(j, "threads", "", &o.threads));
  SSLAB_RETURN_IF_ERROR(Get(j, "device", "", &o.device));
  SSLAB_RETURN_IF_ERROR(Get(j, "channels_last", "", &o.channels_last));
  SSLAB_RETURN_IF_ERROR(Get(j, "bf16_autocast", "", &o.bf16_autocast));
  SSLAB_RETURN_IF_ERROR(
      Get(j, "progress_every_steps", "", &o.progress_every_steps));
  return o;
}

}  // namespace sslab::trainer
