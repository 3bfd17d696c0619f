#include "common/torch_util/runtime.h"

#include <ATen/Parallel.h>
#include <malloc.h>
#include <torch/cuda.h>

#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "experiment/device.h"

// OpenBLAS's thread control, when the BLAS behind LibTorch is OpenBLAS
// (Debian's libblas.so.3 alternative usually is); weak, so other BLAS
// implementations still link.
extern "C" void openblas_set_num_threads(int) __attribute__((weak));
extern "C" int openblas_get_num_threads() __attribute__((weak));

namespace sslab {

void KeepFreedTensorMemoryInHeap() {
  static std::once_flag once;
  std::call_once(once, [] {
    // 32 MiB is the largest mmap threshold glibc accepts on 64-bit.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  });
}

int ConfigureTorchThreads(int threads) {
  KeepFreedTensorMemoryInHeap();
  if (threads <= 0) {
    threads = static_cast<int>(std::thread::hardware_concurrency());
    if (threads <= 0) threads = 1;
  }
  at::set_num_threads(threads);
  return at::get_num_threads();
}

int ConfigureThreadsForBlasWork(int threads) {
  ConfigureTorchThreads(1);
  if (threads <= 0) {
    threads = static_cast<int>(std::thread::hardware_concurrency());
    if (threads <= 0) threads = 1;
  }
  if (openblas_set_num_threads == nullptr ||
      openblas_get_num_threads == nullptr) {
    return 0;
  }
  openblas_set_num_threads(threads);
  return openblas_get_num_threads();
}

bool CudaAvailable() { return torch::cuda::is_available(); }

absl::StatusOr<c10::Device> ResolveDevice(absl::string_view name) {
  if (name.empty() || name == "auto") {
    return CudaAvailable() ? c10::Device(c10::kCUDA, 0)
                           : c10::Device(c10::kCPU);
  }
  absl::StatusOr<experiment::DeviceId> id =
      experiment::ParseDeviceId(name, "device");
  if (!id.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "device: '", name, "' is not one of auto, cpu, cuda, cuda:N"));
  }
  if (!id->is_cuda()) return c10::Device(c10::kCPU);
  if (!CudaAvailable()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "device: '", name, "' requested but CUDA is not available"));
  }
  if (id->index >= static_cast<int>(torch::cuda::device_count())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "device: '", name, "' but only ", torch::cuda::device_count(),
        " CUDA device(s) are visible"));
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(id->index));
}

}  // namespace sslab
