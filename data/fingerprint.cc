// DatasetFingerprint (dataset.h).
#include <algorithm>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/files.h"
#include "data/dataset.h"

namespace sslab::data {
namespace {

constexpr size_t kHeaderFiles = 64;
constexpr size_t kHeaderBytes = 4096;

}  // namespace

absl::StatusOr<std::string> DatasetFingerprint(
    const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::exists(path, error)) {
    return absl::NotFoundError(
        absl::StrCat("data set ", path.string(), " not found"));
  }
  // (relative path, size) of every regular file, in path order. A file
  // that vanishes or cannot be read while listing is left out.
  std::vector<std::pair<std::string, uintmax_t>> files;
  auto add = [&](const fs::path& file, std::string name) {
    std::error_code size_error;
    const uintmax_t size = fs::file_size(file, size_error);
    if (!size_error) files.emplace_back(std::move(name), size);
  };
  const bool single_file = fs::is_regular_file(path, error);
  if (single_file) {
    add(path, path.filename().string());
  } else {
    for (fs::recursive_directory_iterator
             it(path, fs::directory_options::skip_permission_denied, error),
         end;
         !error && it != end; it.increment(error)) {
      std::error_code entry_error;
      if (it->is_regular_file(entry_error)) {
        add(it->path(), it->path().lexically_relative(path).string());
      }
    }
    if (error) {
      return absl::UnavailableError(absl::StrCat(
          "cannot list data set ", path.string(), ": ", error.message()));
    }
  }
  std::sort(files.begin(), files.end());
  Sha256 hash;
  uintmax_t bytes = 0;
  std::string header(kHeaderBytes, '\0');
  for (size_t i = 0; i < files.size(); ++i) {
    const auto& [name, size] = files[i];
    bytes += size;
    const std::string line = absl::StrCat(name, "\t", size, "\n");
    hash.Update(line.data(), line.size());
    if (i < kHeaderFiles) {
      std::ifstream in(single_file ? path : path / name, std::ios::binary);
      in.read(header.data(), header.size());
      hash.Update(header.data(), static_cast<size_t>(in.gcount()));
    }
  }
  return absl::StrFormat("%d files, %d bytes, sha256:%s", files.size(), bytes,
                         hash.FinalHex().substr(0, 16));
}

}  // namespace sslab::data
