#include "services/worker/devices.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace sslab::services {
namespace {

using experiment::DeviceId;
using experiment::DeviceInfo;

absl::Status Invalid(absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--devices: ", problem));
}

// One row of nvidia-smi's CSV.
struct SmiGpu {
  std::string index;
  std::string uuid;
  std::string name;
  int64_t memory_mib = 0;
};

std::vector<SmiGpu> ParseSmi(absl::string_view csv) {
  std::vector<SmiGpu> out;
  for (absl::string_view line : absl::StrSplit(csv, '\n')) {
    std::vector<std::string> fields = absl::StrSplit(line, ',');
    if (fields.size() != 4) continue;
    for (std::string& f : fields) absl::StripAsciiWhitespace(&f);
    SmiGpu gpu{fields[0], fields[1], fields[2], 0};
    if (!absl::SimpleAtoi(fields[3], &gpu.memory_mib)) gpu.memory_mib = 0;
    out.push_back(std::move(gpu));
  }
  return out;
}

// The nvidia-smi row of CUDA ordinal `ordinal`, or nullptr: the ordinal-th
// entry of CUDA_VISIBLE_DEVICES (an index or a UUID prefix) when it is set,
// else the ordinal-th row.
const SmiGpu* RowOf(const std::vector<SmiGpu>& rows, absl::string_view visible,
                    int ordinal) {
  if (visible.empty()) {
    return ordinal < static_cast<int>(rows.size()) ? &rows[ordinal] : nullptr;
  }
  std::vector<std::string> entries = absl::StrSplit(visible, ',');
  if (ordinal >= static_cast<int>(entries.size())) return nullptr;
  std::string entry = entries[ordinal];
  absl::StripAsciiWhitespace(&entry);
  for (const SmiGpu& row : rows) {
    const bool match = absl::StartsWith(entry, "GPU-")
                           ? absl::StartsWith(row.uuid, entry)
                           : row.index == entry;
    if (match) return &row;
  }
  return nullptr;
}

std::string ReadCpuName() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, "model name")) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    return std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return "CPU";
}

std::string RunNvidiaSmi() {
  FILE* pipe = ::popen(
      "nvidia-smi --query-gpu=index,uuid,name,memory.total "
      "--format=csv,noheader,nounits 2>/dev/null",
      "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    out.append(buffer, n);
  return ::pclose(pipe) == 0 ? out : "";
}

}  // namespace

DeviceEnvironment ProbeDeviceEnvironment(int cuda_device_count) {
  DeviceEnvironment env;
  char host[256] = "localhost";
  ::gethostname(host, sizeof(host) - 1);
  env.host = host;
  env.cpu_name = ReadCpuName();
  env.ram_bytes =
      static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
  env.cuda_device_count = cuda_device_count;
  if (cuda_device_count > 0) env.nvidia_smi_csv = RunNvidiaSmi();
  if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES")) {
    env.cuda_visible_devices = visible;
  }
  return env;
}

absl::StatusOr<std::vector<DeviceInfo>> ResolveDevices(
    absl::string_view text, const DeviceEnvironment& env) {
  std::vector<DeviceId> ids;
  if (absl::StripAsciiWhitespace(text) == "all") {
    for (int i = 0; i < env.cuda_device_count; ++i) {
      ids.push_back(DeviceId::Cuda(i));
    }
    if (ids.empty()) ids.push_back(DeviceId::Cpu());
  } else {
    for (absl::string_view part : absl::StrSplit(text, ',')) {
      absl::StatusOr<DeviceId> id = experiment::ParseDeviceId(
          absl::StripAsciiWhitespace(part), "--devices");
      if (!id.ok()) return id.status();
      ids.push_back(*id);
    }
  }
  const std::vector<SmiGpu> rows = ParseSmi(env.nvidia_smi_csv);
  std::set<DeviceId> seen;
  std::vector<DeviceInfo> out;
  for (const DeviceId& id : ids) {
    if (!seen.insert(id).second) {
      return Invalid(absl::StrCat("'", id.ToString(), "' appears twice"));
    }
    DeviceInfo info;
    info.id = id;
    if (!id.is_cuda()) {
      info.key = absl::StrCat(env.host, "/cpu");
      info.name = env.cpu_name;
      info.memory_bytes = env.ram_bytes;
      out.push_back(std::move(info));
      continue;
    }
    if (id.index >= env.cuda_device_count) {
      return Invalid(absl::StrCat(
          id.ToString(), " is not there: ",
          env.cuda_device_count == 0
              ? "LibTorch sees no CUDA device (a CPU-only build, or no GPU "
                "visible to this process)"
              : absl::StrCat("LibTorch sees ", env.cuda_device_count,
                             " CUDA device(s), cuda:0 to cuda:",
                             env.cuda_device_count - 1)));
    }
    if (const SmiGpu* row = RowOf(rows, env.cuda_visible_devices, id.index)) {
      info.key = row->uuid;
      info.name = row->name;
      info.memory_bytes = row->memory_mib << 20;
    } else {
      info.name = absl::StrCat("CUDA device ", id.index);
    }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace sslab::services
