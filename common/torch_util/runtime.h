// Process-wide LibTorch settings every torch-using binary applies at start.
#ifndef SSLAB_COMMON_TORCH_UTIL_RUNTIME_H_
#define SSLAB_COMMON_TORCH_UTIL_RUNTIME_H_

#include <c10/core/Device.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sslab {

// Sets LibTorch's intra-op thread count. Debian's LibTorch starts with one
// thread; `threads <= 0` means "all hardware threads". Returns the count set.
// The first call also calls KeepFreedTensorMemoryInHeap().
int ConfigureTorchThreads(int threads);

// For work that is mostly BLAS products and small element-wise ops (the
// L-BFGS probe): OpenBLAS runs the products on `threads` threads of its own
// (<= 0: all hardware threads) and LibTorch's intra-op pool is cut to one
// thread. Otherwise torch's idle OpenMP workers spin-wait against
// OpenBLAS's threads for the same cores: the probe's grid on 2 cores took
// 1.5-2.3x longer (docs/benchmarks.md). Returns the BLAS thread count, or
// 0 when the BLAS in use cannot be told (then only torch's pool changes).
int ConfigureThreadsForBlasWork(int threads);

// Tunes glibc malloc for tensor workloads: blocks up to 32 MiB come from the
// heap instead of fresh mmaps, and up to 1 GiB of freed heap is kept rather
// than returned to the OS. By default glibc unmaps or trims freed activation
// buffers and the next step page-faults them in again; measured 1.3-2x
// slower CPU training steps (docs/benchmarks.md). Idempotent; costs that much
// resident memory held after a peak.
void KeepFreedTensorMemoryInHeap();

// Parses "cpu", "cuda", "cuda:N" or "auto" (CUDA when available, else CPU).
// Returns INVALID_ARGUMENT for anything else and FAILED_PRECONDITION for a
// CUDA device that this build or machine does not have.
absl::StatusOr<c10::Device> ResolveDevice(absl::string_view name);

// True when LibTorch was built with CUDA and sees at least one GPU.
bool CudaAvailable();

}  // namespace sslab

#endif  // SSLAB_COMMON_TORCH_UTIL_RUNTIME_H_
