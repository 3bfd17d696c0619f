// The one place where differences between LibTorch versions are absorbed:
// Debian's LibTorch 1.13 (CPU, CI) and a current LibTorch 2.x with CUDA (the
// GPU box). Code elsewhere uses these names instead of version checks.
#ifndef SSLAB_COMMON_TORCH_UTIL_TORCH_COMPAT_H_
#define SSLAB_COMMON_TORCH_UTIL_TORCH_COMPAT_H_

#include <torch/version.h>

#define SSLAB_TORCH_VERSION_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||                \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace sslab::torch_compat {

// "1.13.0" etc.: recorded with every run and checkpoint.
inline constexpr const char* kTorchVersion = TORCH_VERSION;

}  // namespace sslab::torch_compat

#endif  // SSLAB_COMMON_TORCH_UTIL_TORCH_COMPAT_H_
