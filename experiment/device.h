// Device ids: the one type, parser and printer for "cpu" and "cuda:N";
// and a device as a worker describes it.
//
// Thread-safe (value type and pure functions).
#ifndef SSLAB_EXPERIMENT_DEVICE_H_
#define SSLAB_EXPERIMENT_DEVICE_H_

#include <compare>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "experiment/vocabulary.h"

namespace sslab::experiment {

// One device of a worker: the CPU, or the CUDA device with ordinal `index`.
struct DeviceId {
  DeviceKind kind = DeviceKind::kCpu;
  // CUDA ordinal (>= 0); always 0 for the CPU.
  int index = 0;

  static DeviceId Cpu() { return {}; }
  static DeviceId Cuda(int index) { return {DeviceKind::kCuda, index}; }
  bool is_cuda() const { return kind == DeviceKind::kCuda; }

  // "cpu" or "cuda:N".
  std::string ToString() const;

  friend auto operator<=>(const DeviceId&, const DeviceId&) = default;
};

// A device as its worker describes it after checking that it exists.
struct DeviceInfo {
  DeviceId id;
  // What identifies the physical device across workers: a CUDA device's
  // UUID ("GPU-..."), "<host>/cpu" for the CPU, "" when unknown. Two
  // workers reporting one GPU key share that GPU: the scheduler never
  // leases it twice at once (CPUs are each worker's own).
  std::string key;
  // e.g. "NVIDIA H200" or the CPU's model name.
  std::string name;
  // Device memory (RAM for the CPU); 0 when unknown.
  int64_t memory_bytes = 0;

  friend bool operator==(const DeviceInfo&, const DeviceInfo&) = default;
};

// Parses "cpu", "cuda" (cuda:0) and "cuda:N" (N a decimal ordinal).
// Returns INVALID_ARGUMENT naming `field` otherwise.
absl::StatusOr<DeviceId> ParseDeviceId(absl::string_view text,
                                       absl::string_view field = "device");

}  // namespace sslab::experiment

#endif  // SSLAB_EXPERIMENT_DEVICE_H_
