#include "common/files.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace sslab {
namespace {

absl::Status ErrnoError(absl::string_view what,
                        const std::filesystem::path& path) {
  const int err = errno;
  std::string message =
      absl::StrCat(what, " ", path.string(), ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == ENOSPC || err == EDQUOT) {
    return absl::ResourceExhaustedError(message);
  }
  return absl::InternalError(message);
}

std::string ToHex(const unsigned char* digest, unsigned int size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(size * 2, '0');
  for (unsigned int i = 0; i < size; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return hex;
}

}  // namespace

absl::Status SyncDirectory(const std::filesystem::path& dir) {
  const int fd =
      ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return ErrnoError("cannot open directory", dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return ErrnoError("cannot fsync directory", dir);
  return absl::OkStatus();
}

std::filesystem::path TemporarySibling(const std::filesystem::path& path) {
  static std::atomic<uint64_t> counter{0};
  return absl::StrCat(path.string(), ".tmp-", ::getpid(), "-",
                      counter.fetch_add(1));
}

absl::Status WriteFileAtomically(const std::filesystem::path& path,
                                 absl::string_view contents) {
  const std::filesystem::path dir = path.parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat(
          "cannot create directory ", dir.string(), ": ", ec.message()));
    }
  }
  const std::filesystem::path tmp = TemporarySibling(path);
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  const char* data = contents.data();
  size_t left = contents.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status status = ErrnoError("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return status;
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    absl::Status status = ErrnoError("cannot fsync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return status;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status status = ErrnoError("cannot rename onto", path);
    ::unlink(tmp.c_str());
    return status;
  }
  return SyncDirectory(dir);
}

absl::StatusOr<std::string> ReadFileToString(
    const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) {
      return absl::NotFoundError(absl::StrCat("no such file: ", path.string()));
    }
    return absl::InternalError(absl::StrCat("cannot open ", path.string()));
  }
  std::string contents((std::istreambuf_iterator<char>(in)),
                       std::istreambuf_iterator<char>());
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat("cannot read ", path.string()));
  }
  return contents;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::Update(const void* data, size_t size) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, size);
}

std::string Sha256::FinalHex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), digest, &size);
  return ToHex(digest, size);
}

std::string Sha256Hex(absl::string_view data) {
  Sha256 hash;
  hash.Update(data.data(), data.size());
  return hash.FinalHex();
}

absl::StatusOr<std::string> Sha256OfFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) {
      return absl::NotFoundError(absl::StrCat("no such file: ", path.string()));
    }
    return absl::InternalError(absl::StrCat("cannot open ", path.string()));
  }
  Sha256 hash;
  std::string buffer(1 << 20, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    hash.Update(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat("cannot read ", path.string()));
  }
  return hash.FinalHex();
}

namespace {

// "<name>.tmp-<digits>-<digits>"
bool IsTemporaryName(const std::string& name) {
  const size_t tmp = name.rfind(".tmp-");
  if (tmp == std::string::npos || tmp == 0) return false;
  const std::string rest = name.substr(tmp + 5);
  const size_t dash = rest.find('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == rest.size()) {
    return false;
  }
  for (size_t i = 0; i < rest.size(); ++i) {
    if (i != dash && (rest[i] < '0' || rest[i] > '9')) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<int> RemoveStaleTemporaries(const std::filesystem::path& dir,
                                           std::chrono::seconds min_age) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  fs::recursive_directory_iterator it(
      dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot list ", dir.string(), ": ", ec.message()));
  }
  const auto cutoff = fs::file_time_type::clock::now() - min_age;
  int removed = 0;
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const fs::directory_entry& entry = *it;
    std::error_code entry_ec;
    if (!entry.is_regular_file(entry_ec) ||
        !IsTemporaryName(entry.path().filename().string())) {
      continue;
    }
    const auto mtime = entry.last_write_time(entry_ec);
    if (entry_ec || mtime > cutoff) continue;
    if (fs::remove(entry.path(), entry_ec)) ++removed;
  }
  return removed;
}

}  // namespace sslab
