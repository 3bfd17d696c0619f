#include "exporter/export.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "evaluator/feature_shard.h"
#include "experiment/vocabulary.h"
#include "models/model.h"
#include "trainer/checkpoint.h"

namespace sslab::exporter {
namespace {

absl::Status IoError(const std::filesystem::path& path, const char* what) {
  return absl::InternalError(
      absl::StrCat(what, " ", path.string(), ": ", std::strerror(errno)));
}

absl::StatusOr<std::string> Descr(at::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return std::string("<f4");
    case at::kHalf:
      return std::string("<f2");
    case at::kLong:
      return std::string("<i8");
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("npy export: unsupported dtype ", c10::toString(type),
                       " (float32, float16 or int64)"));
  }
}

std::string Descr(evaluator::ShardDtype dtype) {
  switch (dtype) {
    case evaluator::ShardDtype::kFloat16:
      return "<f2";
    case evaluator::ShardDtype::kInt64:
      return "<i8";
    case evaluator::ShardDtype::kFloat32:
      break;
  }
  return "<f4";
}

// The .npy 1.0 preamble: magic, version, header length, then the header dict
// padded with spaces so the data starts 64-byte aligned (what numpy writes,
// and what lets mmap_mode hand out aligned arrays).
std::string NpyPreamble(const std::string& descr,
                        const std::vector<int64_t>& shape) {
  std::string dims = absl::StrJoin(shape, ", ");
  if (shape.size() == 1) dims += ",";
  std::string dict =
      absl::StrCat("{'descr': '", descr,
                   "', 'fortran_order': False, 'shape': (", dims, "), }");
  const size_t fixed = 6 + 2 + 2;
  const size_t unpadded = fixed + dict.size() + 1;  // + '\n'
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(dict.size());
  out.push_back(static_cast<char>(len & 0xff));
  out.push_back(static_cast<char>(len >> 8));
  return out + dict;
}

// A file written under TemporarySibling(path) and renamed over `path` by
// Commit(); removed if never committed.
class StagedFile {
 public:
  explicit StagedFile(std::filesystem::path path)
      : path_(std::move(path)), tmp_(TemporarySibling(path_)) {}
  ~StagedFile() {
    if (file_ != nullptr) std::fclose(file_);
    if (!committed_) std::filesystem::remove(tmp_, ignored_);
  }

  absl::Status Open() {
    if (path_.has_parent_path()) {
      std::filesystem::create_directories(path_.parent_path(), ignored_);
    }
    file_ = std::fopen(tmp_.c_str(), "wb");
    if (file_ == nullptr) return IoError(path_, "create");
    return absl::OkStatus();
  }
  absl::Status Write(const char* data, size_t size) {
    if (std::fwrite(data, 1, size, file_) != size) {
      return IoError(path_, "write");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<int64_t> Commit() {
    const bool flushed = std::fflush(file_) == 0 && fsync(fileno(file_)) == 0;
    const absl::Status write_error = IoError(path_, "write");  // errno now
    std::fclose(file_);
    file_ = nullptr;
    if (!flushed) return write_error;
    std::error_code ec;
    std::filesystem::rename(tmp_, path_, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("rename into ", path_.string(), ": ", ec.message()));
    }
    committed_ = true;
    if (path_.has_parent_path()) {
      SSLAB_RETURN_IF_ERROR(SyncDirectory(path_.parent_path()));
    }
    const std::uintmax_t size = std::filesystem::file_size(path_, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("stat ", path_.string(), ": ", ec.message()));
    }
    return static_cast<int64_t>(size);
  }

 private:
  std::filesystem::path path_, tmp_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
  std::error_code ignored_;
};

// The network's options under the names of the run config's "model" object
// (and of sslab_models.build), as a dict torch.load returns as one.
c10::impl::GenericDict ModelOptionsDict(const models::ModelOptions& m) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  dict.insert("architecture", std::string(experiment::Name(m.architecture)));
  dict.insert("width", static_cast<int64_t>(m.width));
  dict.insert("last_relu", m.last_relu);
  dict.insert("in_channels", static_cast<int64_t>(m.in_channels));
  dict.insert("num_outputs", static_cast<int64_t>(m.num_outputs));
  dict.insert("small_input", m.small_input);
  dict.insert("patch_strides", m.patch_strides);
  dict.insert("image_size", static_cast<int64_t>(m.image_size));
  dict.insert("batch_norm_momentum", m.batch_norm_momentum);
  return dict;
}

}  // namespace

absl::StatusOr<NpyFile> WriteNpy(const std::filesystem::path& path,
                                 const at::Tensor& tensor) {
  SSLAB_ASSIGN_OR_RETURN(std::string descr, Descr(tensor.scalar_type()));
  const at::Tensor data = tensor.to(at::kCPU).contiguous();
  NpyFile npy{path, descr, data.sizes().vec(), 0};
  StagedFile file(path);
  SSLAB_RETURN_IF_ERROR(file.Open());
  const std::string preamble = NpyPreamble(descr, npy.shape);
  SSLAB_RETURN_IF_ERROR(file.Write(preamble.data(), preamble.size()));
  SSLAB_RETURN_IF_ERROR(file.Write(static_cast<const char*>(data.data_ptr()),
                                   data.numel() * data.element_size()));
  SSLAB_ASSIGN_OR_RETURN(npy.bytes, file.Commit());
  return npy;
}

absl::StatusOr<NpyFile> ExportFeatureShard(const std::filesystem::path& shard,
                                           const std::filesystem::path& npy) {
  NpyFile out{npy, "", {}, 0};
  StagedFile file(npy);
  SSLAB_RETURN_IF_ERROR(
      evaluator::StreamShardPayload(
          shard,
          [&](const evaluator::ShardInfo& info) {
            out.descr = Descr(info.dtype);
            out.shape = {info.rows, info.dims};
            SSLAB_RETURN_IF_ERROR(file.Open());
            const std::string preamble = NpyPreamble(out.descr, out.shape);
            return file.Write(preamble.data(), preamble.size());
          },
          [&](const char* data, size_t size) { return file.Write(data, size); })
          .status());
  SSLAB_ASSIGN_OR_RETURN(out.bytes, file.Commit());
  return out;
}

absl::StatusOr<BackboneExport> ExportBackbone(
    const std::filesystem::path& checkpoint, const std::filesystem::path& out,
    int64_t run_id) {
  SSLAB_ASSIGN_OR_RETURN(
      trainer::LoadedModel loaded,
      trainer::LoadModelFromCheckpoint(checkpoint, at::kCPU));
  BackboneExport result;
  result.architecture =
      std::string(experiment::Name(loaded.model_options.architecture));
  result.method = std::string(experiment::Name(loaded.method));
  result.epoch = loaded.epoch;

  c10::Dict<std::string, at::Tensor> state;
  for (const auto& item : loaded.backbone->named_parameters(true)) {
    state.insert(item.key(), item.value().detach().contiguous());
  }
  for (const auto& item : loaded.backbone->named_buffers(true)) {
    state.insert(item.key(), item.value().detach().contiguous());
  }
  result.tensors = static_cast<int64_t>(state.size());

  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  dict.insert("format", std::string(kBackboneFormat));
  dict.insert("model_options", ModelOptionsDict(loaded.model_options));
  dict.insert("method", result.method);
  dict.insert("epoch", result.epoch);
  dict.insert("run_id", run_id);
  dict.insert("state_dict", state);
  std::vector<char> bytes;
  try {
    bytes = torch::pickle_save(c10::IValue(dict));
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("serializing the backbone of ",
                                            checkpoint.string(), ": ",
                                            e.what_without_backtrace()));
  }
  SSLAB_RETURN_IF_ERROR(
      WriteFileAtomically(out, absl::string_view(bytes.data(), bytes.size())));
  result.bytes = static_cast<int64_t>(bytes.size());
  return result;
}

}  // namespace sslab::exporter
