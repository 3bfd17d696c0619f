// What the fuzz targets share: a scratch directory for readers that take a
// path, the framing of multi-part inputs, and the contract checks that turn a
// wrong status code into a crash libFuzzer reports.
//
// Header-only; every fuzz target is single-threaded, as libFuzzer runs them.
#ifndef SSLAB_FUZZ_FUZZ_UTIL_H_
#define SSLAB_FUZZ_FUZZ_UTIL_H_

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sslab::fuzz {

// A directory of this process's own under $TMPDIR (default /tmp), created on
// first use and removed at exit.
inline const std::filesystem::path& ScratchDir() {
  static const std::filesystem::path* dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    auto* path = new std::filesystem::path(
        std::filesystem::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
        ("sslab-fuzz-" + std::to_string(getpid())));
    std::filesystem::remove_all(*path);
    std::filesystem::create_directories(*path);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(*dir, ec);
    });
    return path;
  }();
  return *dir;
}

inline void WriteFile(const std::filesystem::path& path,
                      absl::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

// Reads the input as consecutive parts: a flags byte, then parts each
// prefixed by a little-endian u32 length (clamped to what is left); the last
// part takes the rest. Missing bytes read as zeros / empty parts.
class InputReader {
 public:
  InputReader(const uint8_t* data, size_t size)
      : data_(reinterpret_cast<const char*>(data)), size_(size) {}

  uint8_t Byte() {
    return pos_ < size_ ? static_cast<uint8_t>(data_[pos_++]) : 0;
  }

  absl::string_view Part() {
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= uint32_t{Byte()} << (8 * i);
    const size_t len = std::min<size_t>(n, size_ - pos_);
    absl::string_view part(data_ + pos_, len);
    pos_ += len;
    return part;
  }

  bool Done() const { return pos_ >= size_; }

  absl::string_view Rest() {
    absl::string_view rest(data_ + pos_, size_ - pos_);
    pos_ = size_;
    return rest;
  }

 private:
  const char* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Writes the framing InputReader reads (for the seed generator).
inline std::string LengthPrefixed(absl::string_view part) {
  std::string out;
  const auto n = static_cast<uint32_t>(part.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(n >> (8 * i)));
  out.append(part.data(), part.size());
  return out;
}

// Aborts (a finding) with `what` and the status.
[[noreturn]] inline void Fail(absl::string_view what,
                              const absl::Status& status) {
  std::fprintf(stderr, "fuzz: %.*s: %s\n", static_cast<int>(what.size()),
               what.data(), status.ToString().c_str());
  std::abort();
}

[[noreturn]] inline void Fail(absl::string_view what) {
  Fail(what, absl::OkStatus());
}

// Aborts unless `status` is OK or has one of `allowed` codes: a reader or
// handler that answers INTERNAL or UNKNOWN for bad input breaks its contract.
inline void CheckCode(const absl::Status& status, absl::string_view what,
                      std::initializer_list<absl::StatusCode> allowed) {
  if (status.ok()) return;
  for (absl::StatusCode code : allowed) {
    if (status.code() == code) return;
  }
  Fail(what, status);
}

}  // namespace sslab::fuzz

#endif  // SSLAB_FUZZ_FUZZ_UTIL_H_
