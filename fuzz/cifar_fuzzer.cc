// CIFAR-10 / CIFAR-100 binary batches: the input is a flags byte (bit 7:
// CIFAR-100; the others: split, channels, subsets as fuzz/dataset_check.h
// reads them), the class names file (length-prefixed) and the batch file
// (the rest), which stands for every batch of the dataset directory.
#include <cstddef>
#include <cstdint>

#include "fuzz/dataset_check.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sslab::fuzz;
  namespace fs = std::filesystem;
  InputReader in(data, size);
  const uint8_t flags = in.Byte();
  const absl::string_view names = in.Part();
  const absl::string_view batch = in.Rest();
  const bool cifar100 = (flags & 128) != 0;
  const fs::path dir = ScratchDir() / (cifar100 ? "cifar100" : "cifar10");
  if (!fs::exists(dir)) {
    fs::create_directories(dir);
    // Every batch file is a link to the one the input writes.
    if (cifar100) {
      fs::create_symlink("train.bin", dir / "test.bin");
    } else {
      for (const char* name :
           {"data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
            "data_batch_5.bin", "test_batch.bin"}) {
        fs::create_symlink("data_batch_1.bin", dir / name);
      }
    }
  }
  WriteFile(dir / (cifar100 ? "train.bin" : "data_batch_1.bin"), batch);
  WriteFile(dir / (cifar100 ? "fine_label_names.txt" : "batches.meta.txt"),
            names);
  OpenAndCheckDataset(sslab::data::DatasetKind::kCifar, dir, flags);
  return 0;
}
