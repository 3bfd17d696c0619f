// The one place where differences between LibTorch versions are absorbed:
// Debian's LibTorch 1.13 (CPU, CI) and a current LibTorch 2.x with CUDA (the
// GPU box). Code elsewhere uses these names instead of version checks.
//
// Known differences: the autocast setters (2.4 replaced the per-device
// functions with device-type arguments).
#ifndef SSLAB_COMMON_TORCH_UTIL_TORCH_COMPAT_H_
#define SSLAB_COMMON_TORCH_UTIL_TORCH_COMPAT_H_

#include <ATen/autocast_mode.h>
#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>
#include <torch/version.h>

#define SSLAB_TORCH_VERSION_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||                \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace sslab::torch_compat {

// "1.13.0" etc.: recorded with every run and checkpoint.
inline constexpr const char* kTorchVersion = TORCH_VERSION;

// Whether ops on `device_type` (CPU or CUDA) run under bf16 autocast now.
inline bool Bf16AutocastEnabled(c10::DeviceType device_type) {
  const bool cuda = device_type == c10::DeviceType::CUDA;
#if SSLAB_TORCH_VERSION_AT_LEAST(2, 4)
  const c10::DeviceType type =
      cuda ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
  return at::autocast::is_autocast_enabled(type) &&
         at::autocast::get_autocast_dtype(type) == at::kBFloat16;
#else
  return cuda ? at::autocast::is_enabled() &&
                    at::autocast::get_autocast_gpu_dtype() == at::kBFloat16
              : at::autocast::is_cpu_enabled() &&
                    at::autocast::get_autocast_cpu_dtype() == at::kBFloat16;
#endif
}

// While alive, ops on `device_type` (CPU or CUDA) run under bf16 autocast;
// restores the previous state and clears the cast cache on destruction.
// Does nothing when !enabled. Thread-local state, as LibTorch's.
class Bf16AutocastScope {
 public:
  Bf16AutocastScope(bool enabled, c10::DeviceType device_type)
      : enabled_(enabled), cuda_(device_type == c10::DeviceType::CUDA) {
    if (!enabled_) return;
#if SSLAB_TORCH_VERSION_AT_LEAST(2, 4)
    const c10::DeviceType type =
        cuda_ ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
    previous_enabled_ = at::autocast::is_autocast_enabled(type);
    previous_dtype_ = at::autocast::get_autocast_dtype(type);
    at::autocast::set_autocast_dtype(type, at::kBFloat16);
    at::autocast::set_autocast_enabled(type, true);
#else
    if (cuda_) {
      previous_enabled_ = at::autocast::is_enabled();
      previous_dtype_ = at::autocast::get_autocast_gpu_dtype();
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    } else {
      previous_enabled_ = at::autocast::is_cpu_enabled();
      previous_dtype_ = at::autocast::get_autocast_cpu_dtype();
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(true);
    }
#endif
  }

  ~Bf16AutocastScope() {
    if (!enabled_) return;
#if SSLAB_TORCH_VERSION_AT_LEAST(2, 4)
    const c10::DeviceType type =
        cuda_ ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
    at::autocast::set_autocast_enabled(type, previous_enabled_);
    at::autocast::set_autocast_dtype(type, previous_dtype_);
#else
    if (cuda_) {
      at::autocast::set_enabled(previous_enabled_);
      at::autocast::set_autocast_gpu_dtype(previous_dtype_);
    } else {
      at::autocast::set_cpu_enabled(previous_enabled_);
      at::autocast::set_autocast_cpu_dtype(previous_dtype_);
    }
#endif
    if (!previous_enabled_) at::autocast::clear_cache();
  }

  Bf16AutocastScope(const Bf16AutocastScope&) = delete;
  Bf16AutocastScope& operator=(const Bf16AutocastScope&) = delete;

 private:
  bool enabled_;
  bool cuda_;
  bool previous_enabled_ = false;
  c10::ScalarType previous_dtype_ = at::kBFloat16;
};

}  // namespace sslab::torch_compat

#endif  // SSLAB_COMMON_TORCH_UTIL_TORCH_COMPAT_H_
