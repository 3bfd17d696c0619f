// sslab's side of the loader benchmark: decode + augment an imagefolder tree
// with data::Loader and print images/s. Peer: torchvision_loader.py; both are
// run side by side by run_loader_bench.sh.
//
//   loader_bench --root=DIR [--threads=1] [--kind=supervised] [--batch=64]
//                [--epochs=2] [--size=224] [--dct_scaling=1]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/transforms.h"

namespace {

// User + system CPU seconds of this process (all threads).
double CpuSeconds() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6 +
         usage.ru_stime.tv_sec + usage.ru_stime.tv_usec * 1e-6;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "error: %s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags = {
      {"root", ""},        {"threads", "1"}, {"kind", "supervised"},
      {"batch", "64"},     {"epochs", "2"},  {"size", "224"},
      {"dct_scaling", "1"}};
  for (int i = 1; i < argc; ++i) {
    std::pair<std::string, std::string> kv = absl::StrSplit(
        absl::string_view(argv[i]).substr(2), absl::MaxSplits('=', 1));
    if (!flags.count(kv.first)) {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
    flags[kv.first] = kv.second;
  }
  int threads = 1, batch = 64, epochs = 2, size = 224, dct = 1;
  if (!absl::SimpleAtoi(flags["threads"], &threads) ||
      !absl::SimpleAtoi(flags["batch"], &batch) ||
      !absl::SimpleAtoi(flags["epochs"], &epochs) ||
      !absl::SimpleAtoi(flags["size"], &size) ||
      !absl::SimpleAtoi(flags["dct_scaling"], &dct) || flags["root"].empty()) {
    std::fprintf(stderr, "bad flags\n");
    return 2;
  }
  sslab::data::DatasetSpec spec;
  spec.kind = sslab::data::DatasetKind::kImageFolder;
  spec.path = flags["root"];
  spec.val_fraction = 0;
  auto dataset = sslab::data::OpenDataset(spec, sslab::data::Split::kTrain);
  if (!dataset.ok()) return Fail(dataset.status());
  sslab::data::TransformOptions to;
  to.kind = flags["kind"];
  to.image_size = size;
  to.dct_scaling = dct != 0;
  auto transform = sslab::data::MakeTransform(to);
  if (!transform.ok()) return Fail(transform.status());
  sslab::data::LoaderOptions lo;
  lo.batch_size = batch;
  lo.threads = threads;
  lo.prefetch_batches = 4;
  sslab::data::Loader loader(*dataset, *transform, lo);
  int64_t images = 0;
  double seconds = 0, cpu = 0;
  // Epoch 0 warms up (page cache, allocator); the rest are timed.
  for (int epoch = 0; epoch <= epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = CpuSeconds();
    if (absl::Status s = loader.StartEpoch(epoch); !s.ok()) return Fail(s);
    while (true) {
      auto next = loader.Next();
      if (!next.ok()) return Fail(next.status());
      if (!next->has_value()) break;
      if (epoch > 0) images += (*next)->views.size(0);
    }
    if (epoch > 0) {
      cpu += CpuSeconds() - cpu_start;
      seconds += std::chrono::duration<double>(
                     std::chrono::steady_clock::now() - start)
                     .count();
    }
  }
  std::printf(
      "sslab kind=%s threads=%d dct_scaling=%d images=%lld seconds=%.2f "
      "cpu_seconds=%.2f images_per_s=%.1f images_per_cpu_s=%.1f\n",
      to.kind.c_str(), threads, dct, static_cast<long long>(images), seconds,
      cpu, images / seconds, images / cpu);
  return 0;
}
