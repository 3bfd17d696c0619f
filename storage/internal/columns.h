// How typed values are written into the database's columns, private to
// storage/. The file format is a contract (it outlives a build, and SQL
// reads it), so each encoding is fixed here once:
//   - enums: run and job states and job kinds in upper case
//     (the schema's CHECKs), every other vocabulary by its name;
//   - device ids: their "cpu" / "cuda:N" text, '' for none;
//   - lists and maps (a run's decay epochs and evaluation plan, sweep axes,
//     checkpoint metrics, hyper-parameters, versions, worker kinds):
//     JSON arrays and objects, which SQLite's json functions read;
//   - a worker's devices: a JSON array of {"id", "key", "name",
//     "memory_bytes"} objects.
// Decoders return DATA_LOSS naming `what` for text this code did not write.
//
// Thread-safe (pure functions).
#ifndef SSLAB_STORAGE_INTERNAL_COLUMNS_H_
#define SSLAB_STORAGE_INTERNAL_COLUMNS_H_

#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "experiment/device.h"
#include "experiment/sweep.h"
#include "experiment/vocabulary.h"

namespace sslab::storage::internal {

absl::Status Corrupt(absl::string_view what, absl::string_view value);

template <typename Enum>
constexpr bool kUpperCaseColumn = std::is_same_v<Enum, experiment::RunState> ||
                                  std::is_same_v<Enum, experiment::JobState> ||
                                  std::is_same_v<Enum, experiment::JobKind>;

template <typename Enum>
std::string EnumText(Enum value) {
  const absl::string_view name = experiment::Name(value);
  return kUpperCaseColumn<Enum> ? absl::AsciiStrToUpper(name)
                                : std::string(name);
}

template <typename Enum>
absl::StatusOr<Enum> ParseEnumText(absl::string_view text,
                                   absl::string_view what) {
  if (auto value = experiment::Parse<Enum>(text)) return *value;
  return Corrupt(what, text);
}

std::string DeviceText(const std::optional<experiment::DeviceId>& device);
absl::StatusOr<std::optional<experiment::DeviceId>> ParseDeviceText(
    absl::string_view text, absl::string_view what);

std::string EncodeDevices(const std::vector<experiment::DeviceInfo>& devices);
absl::StatusOr<std::vector<experiment::DeviceInfo>> DecodeDevices(
    absl::string_view text, absl::string_view what);

std::string EncodeList(const std::vector<std::string>& values);
std::string EncodeList(const std::vector<double>& values);
absl::StatusOr<std::vector<std::string>> DecodeStrings(absl::string_view text,
                                                       absl::string_view what);
absl::StatusOr<std::vector<double>> DecodeNumbers(absl::string_view text,
                                                  absl::string_view what);

// Enum lists by name.
template <typename Enum>
std::string EncodeEnums(const std::vector<Enum>& values) {
  std::vector<std::string> names;
  for (Enum v : values) names.push_back(EnumText(v));
  return EncodeList(names);
}
template <typename Enum>
absl::StatusOr<std::vector<Enum>> DecodeEnums(absl::string_view text,
                                              absl::string_view what) {
  absl::StatusOr<std::vector<std::string>> names = DecodeStrings(text, what);
  if (!names.ok()) return names.status();
  std::vector<Enum> out;
  for (const std::string& name : *names) {
    absl::StatusOr<Enum> value = ParseEnumText<Enum>(name, what);
    if (!value.ok()) return value.status();
    out.push_back(*value);
  }
  return out;
}

std::string EncodeMap(const std::map<std::string, double>& values);
std::string EncodeMap(const std::map<std::string, std::string>& values);
absl::StatusOr<std::map<std::string, double>> DecodeNumberMap(
    absl::string_view text, absl::string_view what);
// Non-string values (as older rows may hold) come back as their JSON text.
absl::StatusOr<std::map<std::string, std::string>> DecodeStringMap(
    absl::string_view text, absl::string_view what);

std::string EncodeGrid(const experiment::SweepGrid& grid);
absl::StatusOr<experiment::SweepGrid> DecodeGrid(absl::string_view text,
                                                 absl::string_view what);

}  // namespace sslab::storage::internal

#endif  // SSLAB_STORAGE_INTERNAL_COLUMNS_H_
