#include "evaluator/feature_shard.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <new>
#include <system_error>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace sslab::evaluator {
namespace {

constexpr char kMagic[8] = {'S', 'S', 'L', 'F', 'E', 'A', 'T', '\0'};
constexpr uint32_t kVersion = 1;
constexpr size_t kFixedHeaderBytes = 8 + 4 + 4 + 8 + 8 + 4 + 4 + 32;
constexpr size_t kMaxNameBytes = 4096;
constexpr size_t kDigestBytes = 32;

size_t ElementBytes(ShardDtype dtype) {
  switch (dtype) {
    case ShardDtype::kFloat16:
      return 2;
    case ShardDtype::kFloat32:
      return 4;
    case ShardDtype::kInt64:
      return 8;
  }
  return 0;
}

at::ScalarType TorchType(ShardDtype dtype) {
  switch (dtype) {
    case ShardDtype::kFloat16:
      return at::kHalf;
    case ShardDtype::kFloat32:
      return at::kFloat;
    case ShardDtype::kInt64:
      return at::kLong;
  }
  return at::kFloat;
}

template <typename T>
void Put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));  // LE host
}

template <typename T>
T Get(const std::string& in, size_t offset) {
  T value;
  std::memcpy(&value, in.data() + offset, sizeof(T));
  return value;
}

std::string HeaderBytes(const ShardInfo& info, const std::string& payload_raw) {
  std::string h;
  h.append(kMagic, sizeof(kMagic));
  Put<uint32_t>(h, kVersion);
  Put<uint32_t>(h, static_cast<uint32_t>(info.dtype));
  Put<uint64_t>(h, static_cast<uint64_t>(info.rows));
  Put<uint64_t>(h, static_cast<uint64_t>(info.dims));
  Put<uint32_t>(h, static_cast<uint32_t>(info.name.size()));
  Put<uint32_t>(h, 0);
  h.append(payload_raw);
  h.append(info.name);
  h.append(absl::HexStringToBytes(Sha256Hex(h)));
  return h;
}

absl::Status DataLoss(const std::filesystem::path& path,
                      absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat("feature shard ", path.string(), ": ", what));
}

absl::Status IoError(const std::filesystem::path& path, absl::string_view op) {
  return absl::InternalError(
      absl::StrCat(op, " ", path.string(), ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<ShardDtype> ParseShardDtype(absl::string_view name) {
  if (name == "float32") return ShardDtype::kFloat32;
  if (name == "float16") return ShardDtype::kFloat16;
  return absl::InvalidArgumentError(
      absl::StrCat("dtype: '", name, "' is not one of float32, float16"));
}

absl::StatusOr<std::unique_ptr<ShardWriter>> ShardWriter::Create(
    const std::filesystem::path& path, absl::string_view name, int64_t dims,
    ShardDtype dtype) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError("shard name: must be 1..4096 bytes");
  }
  if (dims < 1) return absl::InvalidArgumentError("shard dims: must be >= 1");
  if (ElementBytes(dtype) == 0) {
    return absl::InvalidArgumentError("shard dtype: unknown");
  }
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      return absl::InternalError(absl::StrCat("create directory ",
                                              path.parent_path().string(), ": ",
                                              ec.message()));
    }
  }
  std::unique_ptr<ShardWriter> w(new ShardWriter());
  w->path_ = path;
  w->tmp_path_ = TemporarySibling(path);
  w->name_ = std::string(name);
  w->dims_ = dims;
  w->dtype_ = dtype;
  w->sha_ = std::make_unique<Sha256>();
  w->fd_ = ::open(w->tmp_path_.c_str(),
                  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->fd_ < 0) return IoError(w->tmp_path_, "open");
  // Placeholder header; the real one (rows, checksum) is written by Finish.
  ShardInfo placeholder{w->name_, 0, dims, dtype, "", 0};
  std::string header =
      HeaderBytes(placeholder, std::string(kDigestBytes, '\0'));
  SSLAB_RETURN_IF_ERROR(w->WriteAll(header.data(), header.size()));
  return w;
}

ShardWriter::~ShardWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!finished_) {
    std::error_code ec;
    std::filesystem::remove(tmp_path_, ec);
  }
}

absl::Status ShardWriter::WriteAll(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError(tmp_path_, "write");
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status ShardWriter::Append(const at::Tensor& rows) {
  if (finished_ || fd_ < 0) {
    return absl::FailedPreconditionError("shard writer: already finished");
  }
  if (!rows.defined() || rows.dim() != 2 || rows.size(1) != dims_) {
    return absl::InvalidArgumentError(
        absl::StrCat("shard ", name_, ": expected rows of ", dims_, " values"));
  }
  const bool want_int = dtype_ == ShardDtype::kInt64;
  if (want_int == at::isFloatingType(rows.scalar_type())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shard ", name_, ": element type does not match the shard dtype"));
  }
  if (rows.size(0) == 0) return absl::OkStatus();
  at::Tensor host;
  try {
    host = rows.to(at::kCPU, TorchType(dtype_)).contiguous();
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("shard ", name_, ": ", e.what_without_backtrace()));
  }
  const size_t bytes = host.numel() * ElementBytes(dtype_);
  sha_->Update(host.data_ptr(), bytes);
  SSLAB_RETURN_IF_ERROR(WriteAll(host.data_ptr(), bytes));
  rows_ += rows.size(0);
  return absl::OkStatus();
}

absl::StatusOr<ShardInfo> ShardWriter::Finish() {
  if (finished_ || fd_ < 0) {
    return absl::FailedPreconditionError("shard writer: already finished");
  }
  ShardInfo info{name_, rows_, dims_, dtype_, sha_->FinalHex(), 0};
  std::string header =
      HeaderBytes(info, absl::HexStringToBytes(info.payload_sha256));
  info.file_bytes = static_cast<int64_t>(header.size()) +
                    rows_ * dims_ * static_cast<int64_t>(ElementBytes(dtype_));
  if (::pwrite(fd_, header.data(), header.size(), 0) !=
      static_cast<ssize_t>(header.size())) {
    return IoError(tmp_path_, "write header");
  }
  if (::fsync(fd_) != 0) return IoError(tmp_path_, "fsync");
  if (::close(fd_) != 0) {
    fd_ = -1;
    return IoError(tmp_path_, "close");
  }
  fd_ = -1;
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    return IoError(path_, "rename");
  }
  finished_ = true;
  SSLAB_RETURN_IF_ERROR(SyncDirectory(path_.has_parent_path()
                                          ? path_.parent_path()
                                          : std::filesystem::path(".")));
  return info;
}

absl::StatusOr<ShardInfo> WriteShard(const std::filesystem::path& path,
                                     absl::string_view name,
                                     const at::Tensor& data, ShardDtype dtype) {
  if (!data.defined() || data.dim() != 2) {
    return absl::InvalidArgumentError(
        "shard data: expected a [rows, dims] matrix");
  }
  SSLAB_ASSIGN_OR_RETURN(auto writer,
                         ShardWriter::Create(path, name, data.size(1), dtype));
  SSLAB_RETURN_IF_ERROR(writer->Append(data));
  return writer->Finish();
}

namespace {

// Opens `path` and parses + checks its header; leaves `in` at the payload.
absl::StatusOr<ShardInfo> ReadHeader(const std::filesystem::path& path,
                                     std::ifstream& in,
                                     std::string* payload_digest) {
  std::error_code ec;
  const auto file_size = std::filesystem::file_size(path, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) {
      return absl::NotFoundError(
          absl::StrCat("feature shard ", path.string(), ": no such file"));
    }
    return absl::InternalError(
        absl::StrCat("stat ", path.string(), ": ", ec.message()));
  }
  in.open(path, std::ios::binary);
  if (!in) return IoError(path, "open");
  std::string fixed(kFixedHeaderBytes, '\0');
  if (!in.read(fixed.data(), fixed.size())) {
    return DataLoss(path, "truncated header");
  }
  if (std::memcmp(fixed.data(), kMagic, sizeof(kMagic)) != 0) {
    return DataLoss(path, "not a feature shard (bad magic)");
  }
  if (Get<uint32_t>(fixed, 8) != kVersion) {
    return DataLoss(
        path, absl::StrCat("unsupported version ", Get<uint32_t>(fixed, 8)));
  }
  const uint32_t name_len = Get<uint32_t>(fixed, 32);
  if (name_len == 0 || name_len > kMaxNameBytes) {
    return DataLoss(path, "corrupt header (name length)");
  }
  std::string rest(name_len + kDigestBytes, '\0');
  if (!in.read(rest.data(), rest.size())) {
    return DataLoss(path, "truncated header");
  }
  const std::string header = fixed + rest.substr(0, name_len);
  if (absl::HexStringToBytes(Sha256Hex(header)) != rest.substr(name_len)) {
    return DataLoss(path, "header checksum mismatch");
  }
  ShardInfo info;
  const uint32_t dtype = Get<uint32_t>(fixed, 12);
  if (dtype < 1 || dtype > 3) return DataLoss(path, "unknown dtype");
  info.dtype = static_cast<ShardDtype>(dtype);
  const uint64_t rows = Get<uint64_t>(fixed, 16);
  const uint64_t dims = Get<uint64_t>(fixed, 24);
  // Checked before any use: rows or dims of 2^63 and more read as negative
  // sizes, and a product that wraps around 2^64 would pass the file size
  // check below and ask for exabytes (found by fuzz/feature_shard_fuzzer).
  uint64_t payload_bytes = 0;
  if (rows > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
      dims < 1 ||
      dims > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
      __builtin_mul_overflow(rows, dims, &payload_bytes) ||
      __builtin_mul_overflow(payload_bytes, ElementBytes(info.dtype),
                             &payload_bytes) ||
      payload_bytes > file_size) {
    return DataLoss(path, absl::StrCat("corrupt header (", rows, " x ", dims,
                                       " elements in ", file_size, " bytes)"));
  }
  info.rows = static_cast<int64_t>(rows);
  info.dims = static_cast<int64_t>(dims);
  info.name = rest.substr(0, name_len);
  *payload_digest = fixed.substr(40, kDigestBytes);
  info.payload_sha256 = absl::BytesToHexString(*payload_digest);
  const uint64_t expected = header.size() + kDigestBytes + payload_bytes;
  if (file_size != expected) {
    return DataLoss(
        path,
        absl::StrCat(file_size < expected ? "truncated: " : "trailing bytes: ",
                     file_size, " bytes, expected ", expected));
  }
  info.file_bytes = static_cast<int64_t>(file_size);
  return info;
}

}  // namespace

absl::StatusOr<ShardInfo> ReadShardInfo(const std::filesystem::path& path) {
  std::ifstream in;
  std::string digest;
  return ReadHeader(path, in, &digest);
}

absl::StatusOr<ShardInfo> StreamShardPayload(
    const std::filesystem::path& path,
    absl::FunctionRef<absl::Status(const ShardInfo&)> on_header,
    absl::FunctionRef<absl::Status(const char* data, size_t size)> sink) {
  std::ifstream in;
  std::string digest;
  SSLAB_ASSIGN_OR_RETURN(ShardInfo info, ReadHeader(path, in, &digest));
  SSLAB_RETURN_IF_ERROR(on_header(info));
  constexpr size_t kChunk = 8 << 20;
  size_t left =
      static_cast<size_t>(info.rows) * info.dims * ElementBytes(info.dtype);
  std::string buffer(std::min(left, kChunk), '\0');
  Sha256 sha;
  while (left > 0) {
    const size_t n = std::min(left, kChunk);
    if (!in.read(buffer.data(), static_cast<std::streamsize>(n))) {
      return DataLoss(path, "truncated payload");
    }
    sha.Update(buffer.data(), n);
    SSLAB_RETURN_IF_ERROR(sink(buffer.data(), n));
    left -= n;
  }
  if (sha.FinalHex() != info.payload_sha256) {
    return DataLoss(path, "payload checksum mismatch");
  }
  return info;
}

absl::StatusOr<Shard> ReadShard(const std::filesystem::path& path) {
  try {
    at::Tensor raw;
    char* p = nullptr;
    SSLAB_ASSIGN_OR_RETURN(ShardInfo info,
                           StreamShardPayload(
                               path,
                               [&](const ShardInfo& header) {
                                 raw = at::empty({header.rows, header.dims},
                                                 TorchType(header.dtype));
                                 p = static_cast<char*>(raw.data_ptr());
                                 return absl::OkStatus();
                               },
                               [&](const char* data, size_t size) {
                                 std::memcpy(p, data, size);
                                 p += size;
                                 return absl::OkStatus();
                               }));
    Shard shard;
    shard.info = std::move(info);
    shard.data = raw.scalar_type() == at::kHalf ? raw.to(at::kFloat) : raw;
    return shard;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("feature shard ", path.string(), ": out of memory"));
  } catch (const c10::Error& e) {
    if (std::string(e.what()).find("alloc") != std::string::npos) {
      return absl::ResourceExhaustedError(
          absl::StrCat("feature shard ", path.string(), ": out of memory"));
    }
    return absl::InternalError(absl::StrCat("feature shard ", path.string(),
                                            ": ", e.what_without_backtrace()));
  }
}

}  // namespace sslab::evaluator
