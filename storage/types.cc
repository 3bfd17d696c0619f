#include "storage/types.h"

#include <array>
#include <utility>

#include "absl/strings/match.h"

namespace sslab::storage {
namespace {

template <typename E, size_t N>
std::optional<E> ParseName(
    const std::array<std::pair<E, absl::string_view>, N>& names,
    absl::string_view name) {
  for (const auto& [value, text] : names) {
    if (absl::EqualsIgnoreCase(text, name)) return value;
  }
  return std::nullopt;
}

template <typename E, size_t N>
absl::string_view NameOf(
    const std::array<std::pair<E, absl::string_view>, N>& names, E value) {
  for (const auto& [v, text] : names) {
    if (v == value) return text;
  }
  return "UNKNOWN";
}

constexpr std::array<std::pair<RunState, absl::string_view>, 5> kRunStates{{
    {RunState::kPending, "PENDING"},
    {RunState::kRunning, "RUNNING"},
    {RunState::kSucceeded, "SUCCEEDED"},
    {RunState::kFailed, "FAILED"},
    {RunState::kCancelled, "CANCELLED"},
}};
constexpr std::array<std::pair<JobKind, absl::string_view>, 3> kJobKinds{{
    {JobKind::kTrain, "TRAIN"},
    {JobKind::kExtract, "EXTRACT"},
    {JobKind::kProbe, "PROBE"},
}};
constexpr std::array<std::pair<JobState, absl::string_view>, 6> kJobStates{{
    {JobState::kPending, "PENDING"},
    {JobState::kRunnable, "RUNNABLE"},
    {JobState::kRunning, "RUNNING"},
    {JobState::kSucceeded, "SUCCEEDED"},
    {JobState::kFailed, "FAILED"},
    {JobState::kCancelled, "CANCELLED"},
}};
constexpr std::array<std::pair<DeviceKind, absl::string_view>, 2> kDevices{{
    {DeviceKind::kCpu, "CPU"},
    {DeviceKind::kGpu, "GPU"},
}};

}  // namespace

absl::string_view RunStateName(RunState state) {
  return NameOf(kRunStates, state);
}
absl::string_view JobKindName(JobKind kind) { return NameOf(kJobKinds, kind); }
absl::string_view JobStateName(JobState state) {
  return NameOf(kJobStates, state);
}
absl::string_view DeviceKindName(DeviceKind kind) {
  return NameOf(kDevices, kind);
}
std::optional<RunState> ParseRunState(absl::string_view name) {
  return ParseName(kRunStates, name);
}
std::optional<JobKind> ParseJobKind(absl::string_view name) {
  return ParseName(kJobKinds, name);
}
std::optional<JobState> ParseJobState(absl::string_view name) {
  return ParseName(kJobStates, name);
}
std::optional<DeviceKind> ParseDeviceKind(absl::string_view name) {
  return ParseName(kDevices, name);
}

bool IsFinal(RunState state) {
  return state == RunState::kSucceeded || state == RunState::kFailed ||
         state == RunState::kCancelled;
}

bool IsFinal(JobState state) {
  return state == JobState::kSucceeded || state == JobState::kFailed ||
         state == JobState::kCancelled;
}

}  // namespace sslab::storage
