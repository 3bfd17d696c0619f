// Feature shards: one file per (layer, split) holding a row-major matrix
// [rows, dims] of float32, float16 or int64 (labels), written as it is
// computed and verified when read back.
//
// File layout (little-endian):
//   "SSLFEAT\0"  u32 version (1)  u32 dtype  u64 rows  u64 dims
//   u32 name length  u32 reserved (0)  32-byte SHA-256 of the payload
//   name bytes  32-byte SHA-256 of everything above (the header)
//   payload: rows * dims elements
//
// Writes are atomic: bytes go to "<path>.tmp-<pid>-<n>", are fsynced, renamed
// over `path` and the directory is fsynced; a writer destroyed before
// Finish() (or after an error) removes its temporary file, so a shard is
// either complete or absent.
//
// ShardWriter is thread-compatible (one writer per thread); the free
// functions are thread-safe.
#ifndef SSLAB_EVALUATOR_FEATURE_SHARD_H_
#define SSLAB_EVALUATOR_FEATURE_SHARD_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sslab {
class Sha256;
}  // namespace sslab

namespace sslab::evaluator {

enum class ShardDtype : uint32_t { kFloat32 = 1, kFloat16 = 2, kInt64 = 3 };

// Parses "float32" / "float16" (the feature dtypes). INVALID_ARGUMENT naming
// "dtype" otherwise.
absl::StatusOr<ShardDtype> ParseShardDtype(absl::string_view name);

struct ShardInfo {
  std::string name;  // layer name, or "labels"
  int64_t rows = 0;
  int64_t dims = 0;
  ShardDtype dtype = ShardDtype::kFloat32;
  std::string payload_sha256;  // lower-case hex
  int64_t file_bytes = 0;
};

struct Shard {
  ShardInfo info;
  // float32 [rows, dims] for float shards (float16 is widened), int64 for
  // kInt64 shards.
  at::Tensor data;
};

class ShardWriter {
 public:
  // Opens the temporary file for a shard of `dims` columns. Creates missing
  // parent directories. INVALID_ARGUMENT for an empty/oversized name or
  // dims < 1; INTERNAL for I/O failures (naming the path).
  static absl::StatusOr<std::unique_ptr<ShardWriter>> Create(
      const std::filesystem::path& path, absl::string_view name, int64_t dims,
      ShardDtype dtype);

  ~ShardWriter();  // Removes the temporary file unless Finish() succeeded.
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Appends rows [r, dims] (any device, converted to the shard's dtype).
  // INVALID_ARGUMENT for a wrong shape or a float/int mismatch.
  absl::Status Append(const at::Tensor& rows);

  // Writes the header, fsyncs and renames into place. After an error the
  // shard does not exist. FAILED_PRECONDITION when called twice.
  absl::StatusOr<ShardInfo> Finish();

  int64_t rows() const { return rows_; }

 private:
  ShardWriter() = default;
  absl::Status WriteAll(const void* data, size_t size);

  std::filesystem::path path_, tmp_path_;
  std::string name_;
  int64_t dims_ = 0;
  ShardDtype dtype_ = ShardDtype::kFloat32;
  int64_t rows_ = 0;
  int fd_ = -1;
  bool finished_ = false;
  std::unique_ptr<::sslab::Sha256> sha_;
};

// Writes a whole matrix as one shard.
absl::StatusOr<ShardInfo> WriteShard(const std::filesystem::path& path,
                                     absl::string_view name,
                                     const at::Tensor& data, ShardDtype dtype);

// Reads and checks the header only (magic, version, header checksum, and that
// the file size matches rows x dims). NOT_FOUND for a missing file; DATA_LOSS
// naming the file for anything inconsistent.
absl::StatusOr<ShardInfo> ReadShardInfo(const std::filesystem::path& path);

// Reads a shard and verifies the payload checksum. Errors as ReadShardInfo,
// plus DATA_LOSS for a checksum mismatch; RESOURCE_EXHAUSTED when the matrix
// does not fit in memory.
absl::StatusOr<Shard> ReadShard(const std::filesystem::path& path);

// Streams a shard's payload (raw little-endian row-major elements of
// info.dtype, float16 not widened) to `sink` in chunks of at most 8 MiB, so
// a shard larger than memory can be copied, and verifies the payload
// checksum at the end. Errors as ReadShard; an error from `sink` stops the
// read and is returned. `on_header`, called once before the first chunk,
// sees the checked header.
absl::StatusOr<ShardInfo> StreamShardPayload(
    const std::filesystem::path& path,
    absl::FunctionRef<absl::Status(const ShardInfo&)> on_header,
    absl::FunctionRef<absl::Status(const char* data, size_t size)> sink);

}  // namespace sslab::evaluator

#endif  // SSLAB_EVALUATOR_FEATURE_SHARD_H_
