// Process-wide LibTorch settings every torch-using binary applies at start.
#ifndef SSLAB_COMMON_TORCH_UTIL_RUNTIME_H_
#define SSLAB_COMMON_TORCH_UTIL_RUNTIME_H_

#include <string>

#include <c10/core/Device.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sslab {

// Sets LibTorch's intra-op thread count. Debian's LibTorch starts with one
// thread; `threads <= 0` means "all hardware threads". Returns the count set.
int ConfigureTorchThreads(int threads);

// Parses "cpu", "cuda", "cuda:N" or "auto" (CUDA when available, else CPU).
// Returns INVALID_ARGUMENT for anything else and FAILED_PRECONDITION for a
// CUDA device that this build or machine does not have.
absl::StatusOr<c10::Device> ResolveDevice(absl::string_view name);

// True when LibTorch was built with CUDA and sees at least one GPU.
bool CudaAvailable();

}  // namespace sslab

#endif  // SSLAB_COMMON_TORCH_UTIL_RUNTIME_H_
