#include "data/internal/test_files.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "data/internal/image_codec.h"

namespace sslab::data::testing {

namespace fs = std::filesystem;

std::string MakeTempDir(const std::string& name) {
  static std::atomic<int> counter{0};
  const fs::path dir =
      fs::path(::testing::TempDir()) /
      absl::StrCat("sslab_data_", ::getpid(), "_", counter++, "_", name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

void WriteBytes(const std::string& path, const std::string& bytes, bool gzip) {
  fs::create_directories(fs::path(path).parent_path());
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, bytes.data(), bytes.size()),
              static_cast<int>(bytes.size()));
    gzclose(f);
    return;
  }
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), bytes.size());
}

namespace {
void PutU32(std::string* s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    s->push_back(static_cast<char>(v >> shift));
}
}  // namespace

std::string IdxImagesBytes(int n, int h, int w) {
  std::string s = {0, 0, 8, 3};
  PutU32(&s, n);
  PutU32(&s, h);
  PutU32(&s, w);
  for (int i = 0; i < n; ++i) {
    for (int p = 0; p < h * w; ++p)
      s.push_back(static_cast<char>((i * 7 + p) % 256));
  }
  return s;
}

std::string IdxLabelsBytes(const std::vector<uint8_t>& labels) {
  std::string s = {0, 0, 8, 1};
  PutU32(&s, labels.size());
  for (uint8_t l : labels) s.push_back(static_cast<char>(l));
  return s;
}

void WriteIdx(const std::string& dir, const std::string& prefix, int n, int h,
              int w, const std::vector<uint8_t>& labels, bool gzip) {
  const std::string gz = gzip ? ".gz" : "";
  WriteBytes(absl::StrCat(dir, "/", prefix, "-images-idx3-ubyte", gz),
             IdxImagesBytes(n, h, w), gzip);
  WriteBytes(absl::StrCat(dir, "/", prefix, "-labels-idx1-ubyte", gz),
             IdxLabelsBytes(labels), gzip);
}

std::string CifarBytes(const std::vector<uint8_t>& labels, bool cifar100) {
  std::string s;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (cifar100) s.push_back(static_cast<char>(labels[i] / 5));  // coarse
    s.push_back(static_cast<char>(labels[i]));
    for (int p = 0; p < 3072; ++p) {
      s.push_back(static_cast<char>(p < 1024 ? (i + p) % 256 : 0));
    }
  }
  return s;
}

std::vector<uint8_t> TestPicture(int h, int w, int channels, int variant) {
  std::vector<uint8_t> px(static_cast<size_t>(h) * w * channels);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < channels; ++c) {
        const int v = (x * 255 / std::max(1, w - 1)) * (c == 0) +
                      (y * 255 / std::max(1, h - 1)) * (c == 1) +
                      ((x + y + 40 * variant) % 256) * (c == 2);
        px[(static_cast<size_t>(y) * w + x) * channels + c] =
            static_cast<uint8_t>(channels == 1 ? (x + y + 30 * variant) % 256
                                               : v);
      }
    }
  }
  return px;
}

void WriteImageTree(const std::string& root,
                    const std::vector<std::string>& classes, int per_class,
                    int h, int w, int channels, const std::string& ext) {
  int variant = 0;
  for (const std::string& c : classes) {
    for (int k = 0; k < per_class; ++k) {
      const std::vector<uint8_t> px = TestPicture(h, w, channels, variant++);
      std::string bytes;
      const absl::Status status =
          ext == "png"
              ? internal::EncodePng(px.data(), h, w, channels, &bytes)
              : internal::EncodeJpeg(px.data(), h, w, channels, 90, &bytes);
      ASSERT_TRUE(status.ok()) << status;
      WriteBytes(absl::StrCat(root, "/", c, "/img", k, ".", ext), bytes);
    }
  }
}

}  // namespace sslab::data::testing
