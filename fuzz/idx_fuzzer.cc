// IDX reader (MNIST / Fashion-MNIST files, gzipped or not): the input is a
// flags byte (split, channels, subsets; fuzz/dataset_check.h), the images
// file (length-prefixed) and the labels file (the rest), written as
// train-* and t10k-* files of one dataset directory.
#include <cstddef>
#include <cstdint>

#include "fuzz/dataset_check.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sslab::fuzz;
  InputReader in(data, size);
  const uint8_t flags = in.Byte();
  const absl::string_view images = in.Part();
  const absl::string_view labels = in.Rest();
  const std::filesystem::path dir = ScratchDir() / "idx";
  std::filesystem::create_directories(dir);
  for (const char* prefix : {"train", "t10k"}) {
    WriteFile(dir / (std::string(prefix) + "-images-idx3-ubyte"), images);
    WriteFile(dir / (std::string(prefix) + "-labels-idx1-ubyte"), labels);
  }
  OpenAndCheckDataset(sslab::data::DatasetKind::kIdx, dir, flags);
  return 0;
}
