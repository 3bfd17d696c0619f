// What a worker's --devices flag names on this machine, checked at startup:
// every CUDA ordinal must exist, and each device is described (name,
// memory, and the physical key the scheduler uses to keep two workers off
// one GPU).
//
// GPU descriptions come from nvidia-smi, whose order matches CUDA's when
// CUDA_DEVICE_ORDER=PCI_BUS_ID (the worker sets it before CUDA starts) and
// which CUDA_VISIBLE_DEVICES maps (indices or UUIDs). Without nvidia-smi a
// GPU is still usable, only unnamed and keyed per worker.
//
// Thread-safe (pure functions, except ProbeDeviceEnvironment which reads
// the machine).
#ifndef SSLAB_SERVICES_WORKER_DEVICES_H_
#define SSLAB_SERVICES_WORKER_DEVICES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "experiment/device.h"

namespace sslab::services {

// What the machine offers a worker.
struct DeviceEnvironment {
  std::string host;
  std::string cpu_name;
  int64_t ram_bytes = 0;
  // CUDA devices LibTorch sees (0 for a CPU-only build).
  int cuda_device_count = 0;
  // `nvidia-smi --query-gpu=index,uuid,name,memory.total
  // --format=csv,noheader,nounits`; "" when it is unavailable.
  std::string nvidia_smi_csv;
  // $CUDA_VISIBLE_DEVICES; "" when unset.
  std::string cuda_visible_devices;
};

// Reads this machine: host name, /proc/cpuinfo, RAM, nvidia-smi and the
// environment; `cuda_device_count` comes from LibTorch.
DeviceEnvironment ProbeDeviceEnvironment(int cuda_device_count);

// The devices `text` names: "cpu", "all" (every CUDA device, else the CPU)
// or a comma-separated list of "cpu" and "cuda:N". INVALID_ARGUMENT naming
// "--devices" for bad syntax, duplicates or a CUDA device that is not
// there.
absl::StatusOr<std::vector<experiment::DeviceInfo>> ResolveDevices(
    absl::string_view text, const DeviceEnvironment& env);

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_WORKER_DEVICES_H_
