// File helpers shared by every component that writes artifacts: atomic
// writes (temporary name, fsync, rename, fsync of the directory) and SHA-256.
//
// All functions are thread-compatible and report errors as absl::Status:
// NOT_FOUND for a missing file, DATA_LOSS for a short read, INTERNAL for
// other I/O failures; messages name the path.
#ifndef SSLAB_COMMON_FILES_H_
#define SSLAB_COMMON_FILES_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sslab {

// Writes `contents` to `path` so that readers see either the old file or the
// whole new one, never a prefix: the bytes go to `path.tmp-<pid>-<n>`, are
// fsynced, renamed over `path`, and the directory is fsynced. Creates missing
// parent directories.
absl::Status WriteFileAtomically(const std::filesystem::path& path,
                                 absl::string_view contents);

// Where a writer of `path` stages its bytes before renaming them over it:
// "<path>.tmp-<pid>-<n>", unique within this process. Every writer of
// artifacts uses it, so RemoveStaleTemporaries recognises what dead ones
// left.
std::filesystem::path TemporarySibling(const std::filesystem::path& path);

// Reads the whole file.
absl::StatusOr<std::string> ReadFileToString(const std::filesystem::path& path);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

// Lower-case hex SHA-256 of a file's contents, streamed.
absl::StatusOr<std::string> Sha256OfFile(const std::filesystem::path& path);

// Incremental SHA-256, for data written in pieces (feature shards, streams).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  // Returns the lower-case hex digest; the object must not be used after.
  std::string FinalHex();

 private:
  void* ctx_;  // EVP_MD_CTX*, kept opaque so OpenSSL stays out of this header.
};

// fsyncs the directory `dir` so a rename inside it is durable.
absl::Status SyncDirectory(const std::filesystem::path& dir);

// Removes, under `dir` (recursively), the temporary files of writers that
// died mid-write: TemporarySibling names not modified for `min_age` (a
// live writer keeps its file fresh). Returns how many it removed; files it
// cannot remove are skipped.
absl::StatusOr<int> RemoveStaleTemporaries(const std::filesystem::path& dir,
                                           std::chrono::seconds min_age);

}  // namespace sslab

#endif  // SSLAB_COMMON_FILES_H_
