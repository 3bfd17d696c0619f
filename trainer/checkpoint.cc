#include "trainer/checkpoint.h"

#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <torch/csrc/jit/serialization/import_read.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/torch_util/runtime.h"
#include "common/torch_util/torch_compat.h"
#include "trainer/internal/checkpoint_io.h"
#include "trainer/options.h"
#include "trainer/pretext.h"

namespace sslab::trainer {
namespace internal {
namespace {

c10::Dict<std::string, at::Tensor> ToDict(
    const std::map<std::string, at::Tensor>& tensors) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, t] : tensors) {
    dict.insert(name, t.detach().to(at::kCPU).contiguous());
  }
  return dict;
}

// Reads a {string: tensor} dict entry; false when absent or of another type.
bool FromDict(const c10::impl::GenericDict& dict, const std::string& key,
              std::map<std::string, at::Tensor>* out) {
  auto it = dict.find(key);
  if (it == dict.end() || !it->value().isGenericDict()) return false;
  for (const auto& entry : it->value().toGenericDict()) {
    if (!entry.key().isString() || !entry.value().isTensor()) return false;
    (*out)[entry.key().toStringRef()] = entry.value().toTensor();
  }
  return true;
}

// The file's bytes for the zip reader under torch::pickle_load. LibTorch
// 1.13's own adapter (pickle_load's VectorReader) copies whatever range the
// zip reader asks for, and a truncated or corrupt archive makes it ask past
// the end: a heap overread on every truncated checkpoint (found by
// fuzz/checkpoint_fuzzer). This one answers with a short read, which the zip
// reader reports as an error.
class BoundedReader final : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BoundedReader(const std::string* bytes) : bytes_(bytes) {}
  size_t size() const override { return bytes_->size(); }
  size_t read(uint64_t pos, void* buf, size_t n,
              const char* /*what*/) const override {
    if (pos >= bytes_->size()) return 0;
    n = static_cast<size_t>(std::min<uint64_t>(n, bytes_->size() - pos));
    std::memcpy(buf, bytes_->data() + pos, n);
    return n;
  }

 private:
  const std::string* bytes_;  // not owned
};

// torch::pickle_load(bytes) through BoundedReader. Throws what it throws.
c10::IValue PickleLoad(const std::string& bytes) {
  caffe2::serialize::PyTorchStreamReader reader(
      std::make_shared<BoundedReader>(&bytes));
  return torch::jit::readArchiveAndTensors(
      "data", /*pickle_prefix=*/"", /*tensor_prefix=*/"",
      /*type_resolver=*/c10::nullopt, /*obj_loader=*/c10::nullopt,
      /*device=*/c10::nullopt, reader);
}

}  // namespace

absl::StatusOr<std::string> SerializeCheckpoint(const CheckpointContents& c) {
  try {
    c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
    dict.insert("format", std::string(kCheckpointFormat));
    dict.insert("config", c.config_json);
    dict.insert("torch_version", std::string(torch_compat::kTorchVersion));
    dict.insert("epoch", c.epoch);
    dict.insert("step", c.step);
    dict.insert("model", ToDict(c.model));
    dict.insert("momentum", ToDict(c.momentum));
    if (c.rng_cpu.defined()) dict.insert("rng_cpu", c.rng_cpu);
    if (c.rng_trainer.defined()) dict.insert("rng_trainer", c.rng_trainer);
    if (c.permutations.defined()) {
      dict.insert("permutations", c.permutations.to(at::kCPU).contiguous());
    }
    std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
    return std::string(bytes.begin(), bytes.end());
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("serializing a checkpoint: ", e.what()));
  }
}

absl::StatusOr<CheckpointContents> ReadCheckpoint(
    const std::filesystem::path& path) {
  SSLAB_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  auto corrupt = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("checkpoint ", path.string(),
                                            " is truncated or corrupt: ", why));
  };
  c10::IValue root;
  try {
    root = PickleLoad(bytes);
  } catch (const c10::Error& e) {
    return corrupt(e.what_without_backtrace());
  } catch (const std::exception& e) {
    return corrupt(e.what());
  }
  if (!root.isGenericDict()) return corrupt("not a dict");
  const c10::impl::GenericDict dict = root.toGenericDict();
  auto get = [&](const char* key) -> const c10::IValue* {
    auto it = dict.find(key);
    return it == dict.end() ? nullptr : &it->value();
  };
  const c10::IValue* format = get("format");
  if (format == nullptr || !format->isString() ||
      format->toStringRef() != kCheckpointFormat) {
    return corrupt(absl::StrCat("not an ", kCheckpointFormat, " file"));
  }
  CheckpointContents c;
  const c10::IValue* config = get("config");
  const c10::IValue* epoch = get("epoch");
  const c10::IValue* step = get("step");
  if (config == nullptr || !config->isString() || epoch == nullptr ||
      !epoch->isInt() || step == nullptr || !step->isInt()) {
    return corrupt("missing config, epoch or step");
  }
  c.config_json = config->toStringRef();
  c.epoch = epoch->toInt();
  c.step = step->toInt();
  if (!FromDict(dict, "model", &c.model) ||
      !FromDict(dict, "momentum", &c.momentum)) {
    return corrupt("missing model or optimizer state");
  }
  if (const c10::IValue* v = get("rng_cpu"); v != nullptr && v->isTensor()) {
    c.rng_cpu = v->toTensor();
  }
  if (const c10::IValue* v = get("rng_trainer");
      v != nullptr && v->isTensor()) {
    c.rng_trainer = v->toTensor();
  }
  if (const c10::IValue* v = get("permutations");
      v != nullptr && v->isTensor()) {
    c.permutations = v->toTensor();
  }
  return c;
}

std::map<std::string, at::Tensor> ModuleState(const torch::nn::Module& module) {
  std::map<std::string, at::Tensor> state;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    state[item.key()] = item.value().detach().to(at::kCPU);
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    state[item.key()] = item.value().detach().to(at::kCPU);
  }
  return state;
}

absl::Status LoadModuleState(torch::nn::Module& module,
                             const std::map<std::string, at::Tensor>& state,
                             const std::string& prefix,
                             const std::string& source) {
  std::map<std::string, at::Tensor> targets;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    targets[item.key()] = item.value();
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    targets[item.key()] = item.value();
  }
  size_t matched = 0;
  for (const auto& [key, stored] : state) {
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string name = key.substr(prefix.size());
    auto it = targets.find(name);
    if (it == targets.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint ", source, " has tensor '", key,
          "' that the network does not have (another architecture?)"));
    }
    if (!it->second.sizes().equals(stored.sizes())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint ", source, ": tensor '", key, "' has shape ",
          c10::str(stored.sizes()), ", the network expects ",
          c10::str(it->second.sizes()), " (another architecture or width?)"));
    }
    ++matched;
  }
  if (matched != targets.size()) {
    for (const auto& [name, t] : targets) {
      if (state.count(prefix + name) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("checkpoint ", source, " lacks tensor '", prefix, name,
                         "' (another architecture?)"));
      }
    }
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : targets) {
    target.copy_(state.at(prefix + name));
  }
  return absl::OkStatus();
}

}  // namespace internal

std::string CheckpointFileName(int64_t epoch) {
  return absl::StrFormat("epoch-%04d.ckpt", epoch);
}

absl::StatusOr<LoadedModel> LoadModelFromCheckpoint(
    const std::filesystem::path& path, c10::Device device) {
  if (device.is_cuda() && !CudaAvailable()) {
    return absl::FailedPreconditionError(
        absl::StrCat("device ", device.str(), " is not available"));
  }
  SSLAB_ASSIGN_OR_RETURN(internal::CheckpointContents contents,
                         internal::ReadCheckpoint(path));
  absl::StatusOr<TrainerOptions> options =
      TrainerOptionsFromJson(contents.config_json);
  if (!options.ok()) {
    return absl::DataLossError(absl::StrCat(
        "checkpoint ", path.string(),
        " has an unreadable config: ", options.status().message()));
  }
  LoadedModel loaded;
  loaded.model_options = PretextModelImpl::BackboneOptions(*options);
  loaded.method = options->method;
  loaded.epoch = contents.epoch;
  loaded.step = contents.step;
  loaded.config_json = contents.config_json;
  SSLAB_ASSIGN_OR_RETURN(loaded.backbone,
                         models::CreateModel(loaded.model_options));
  SSLAB_RETURN_IF_ERROR(internal::LoadModuleState(
      *loaded.backbone, contents.model, "backbone.", path.string()));
  try {
    loaded.backbone->to(device);
  } catch (const c10::Error& e) {
    return absl::FailedPreconditionError(
        absl::StrCat("moving the model to ", device.str(), ": ",
                     e.what_without_backtrace()));
  }
  loaded.backbone->eval();
  return loaded;
}

}  // namespace sslab::trainer
