// Test/benchmark helper: reads gzipped IDX files (Fashion-MNIST) into
// tensors. Not part of the sslab_evaluator library; the data/ library owns
// real dataset reading. Needs zlib.
#ifndef SSLAB_EVALUATOR_TESTING_FASHION_MNIST_H_
#define SSLAB_EVALUATOR_TESTING_FASHION_MNIST_H_

#include <ATen/ATen.h>
#include <zlib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sslab::evaluator::fmnist {

inline constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

// The whole decompressed file, or nullopt when it cannot be read.
inline std::optional<std::string> ReadGzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return std::nullopt;
  std::string out;
  std::vector<char> buf(1 << 20);
  int got;
  while ((got = gzread(f, buf.data(), static_cast<unsigned>(buf.size()))) > 0) {
    out.append(buf.data(), got);
  }
  gzclose(f);
  if (got < 0) return std::nullopt;
  return out;
}

// Images as float32 [n, 784] in [0, 1] and labels as int64 [n] for "train"
// or "test"; nullopt when the files are missing or malformed. `limit` > 0
// keeps the first `limit` rows.
struct FashionMnistSplit {
  at::Tensor images;
  at::Tensor labels;
};

inline std::optional<FashionMnistSplit> LoadFashionMnist(
    const std::string& split, int64_t limit = 0,
    const std::string& dir = kFashionMnistDir) {
  const std::string prefix = split == "train" ? "train" : "t10k";
  auto images = ReadGzip(dir + "/" + prefix + "-images-idx3-ubyte.gz");
  auto labels = ReadGzip(dir + "/" + prefix + "-labels-idx1-ubyte.gz");
  if (!images || !labels || images->size() < 16 || labels->size() < 8) {
    return std::nullopt;
  }
  auto be32 = [](const std::string& s, size_t at) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data() + at);
    return (int64_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
  };
  int64_t n = be32(*images, 4);
  const int64_t rows = be32(*images, 8), cols = be32(*images, 12);
  if (be32(*labels, 4) != n ||
      static_cast<int64_t>(images->size()) != 16 + n * rows * cols ||
      static_cast<int64_t>(labels->size()) != 8 + n) {
    return std::nullopt;
  }
  if (limit > 0 && limit < n) n = limit;
  at::Tensor x = at::from_blob(images->data() + 16, {n, rows * cols}, at::kByte)
                     .to(at::kFloat)
                     .div_(255.0);
  at::Tensor y =
      at::from_blob(labels->data() + 8, {n}, at::kByte).to(at::kLong);
  return FashionMnistSplit{x, y};
}

}  // namespace sslab::evaluator::fmnist

#endif  // SSLAB_EVALUATOR_TESTING_FASHION_MNIST_H_
