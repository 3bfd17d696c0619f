#include "storage/internal/columns.h"

#include <nlohmann/json.hpp>

namespace sslab::storage::internal {
namespace {

using json = nlohmann::json;

// Parses `text` as JSON of `type` (array or object), or DATA_LOSS.
absl::StatusOr<json> ParseJson(absl::string_view text, json::value_t type,
                               absl::string_view what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.type() != type) return Corrupt(what, text);
  return j;
}

// Converts `j` to T, or DATA_LOSS.
template <typename T>
absl::StatusOr<T> Get(const json& j, absl::string_view what) {
  try {
    return j.get<T>();
  } catch (const json::exception&) {
    return Corrupt(what, j.dump());
  }
}

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

absl::Status Corrupt(absl::string_view what, absl::string_view value) {
  return absl::DataLossError(absl::StrCat("database holds an unknown ", what,
                                          " '", value.substr(0, 200), "'"));
}

std::string DeviceText(const std::optional<experiment::DeviceId>& device) {
  return device ? device->ToString() : "";
}

absl::StatusOr<std::optional<experiment::DeviceId>> ParseDeviceText(
    absl::string_view text, absl::string_view what) {
  if (text.empty()) return std::nullopt;
  absl::StatusOr<experiment::DeviceId> device = experiment::ParseDeviceId(text);
  if (!device.ok()) return Corrupt(what, text);
  return *device;
}

std::string EncodeDevices(const std::vector<experiment::DeviceInfo>& devices) {
  json out = json::array();
  for (const experiment::DeviceInfo& d : devices) {
    out.push_back({{"id", d.id.ToString()},
                   {"key", d.key},
                   {"name", d.name},
                   {"memory_bytes", d.memory_bytes}});
  }
  return Dump(out);
}

absl::StatusOr<std::vector<experiment::DeviceInfo>> DecodeDevices(
    absl::string_view text, absl::string_view what) {
  absl::StatusOr<json> j = ParseJson(text, json::value_t::array, what);
  if (!j.ok()) return j.status();
  std::vector<experiment::DeviceInfo> out;
  for (const json& d : *j) {
    if (!d.is_object() || !d.contains("id")) return Corrupt(what, d.dump());
    absl::StatusOr<std::string> id = Get<std::string>(d["id"], what);
    if (!id.ok()) return id.status();
    absl::StatusOr<experiment::DeviceId> device =
        experiment::ParseDeviceId(*id);
    if (!device.ok()) return Corrupt(what, *id);
    experiment::DeviceInfo info;
    info.id = *device;
    info.key = d.value("key", "");
    info.name = d.value("name", "");
    info.memory_bytes = d.value("memory_bytes", int64_t{0});
    out.push_back(std::move(info));
  }
  return out;
}

std::string EncodeList(const std::vector<std::string>& values) {
  return Dump(json(values));
}
std::string EncodeList(const std::vector<double>& values) {
  return Dump(json(values));
}

absl::StatusOr<std::vector<std::string>> DecodeStrings(absl::string_view text,
                                                       absl::string_view what) {
  absl::StatusOr<json> j = ParseJson(text, json::value_t::array, what);
  if (!j.ok()) return j.status();
  return Get<std::vector<std::string>>(*j, what);
}

absl::StatusOr<std::vector<double>> DecodeNumbers(absl::string_view text,
                                                  absl::string_view what) {
  absl::StatusOr<json> j = ParseJson(text, json::value_t::array, what);
  if (!j.ok()) return j.status();
  return Get<std::vector<double>>(*j, what);
}

std::string EncodeMap(const std::map<std::string, double>& values) {
  return Dump(json(values));
}
std::string EncodeMap(const std::map<std::string, std::string>& values) {
  return Dump(json(values));
}

absl::StatusOr<std::map<std::string, double>> DecodeNumberMap(
    absl::string_view text, absl::string_view what) {
  absl::StatusOr<json> j = ParseJson(text, json::value_t::object, what);
  if (!j.ok()) return j.status();
  std::map<std::string, double> out;
  for (const auto& [key, value] : j->items()) {
    if (value.is_number()) out[key] = value.get<double>();
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> DecodeStringMap(
    absl::string_view text, absl::string_view what) {
  absl::StatusOr<json> j = ParseJson(text, json::value_t::object, what);
  if (!j.ok()) return j.status();
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : j->items()) {
    out[key] = value.is_string() ? value.get<std::string>() : Dump(value);
  }
  return out;
}

std::string EncodeGrid(const experiment::SweepGrid& grid) {
  json j = json::object();
  auto names = [](const auto& values) {
    json out = json::array();
    for (auto v : values) out.push_back(std::string(experiment::Name(v)));
    return out;
  };
  if (!grid.methods.empty()) j["methods"] = names(grid.methods);
  if (!grid.architectures.empty()) {
    j["architectures"] = names(grid.architectures);
  }
  if (!grid.widths.empty()) j["widths"] = grid.widths;
  if (!grid.last_relu_values.empty()) j["last_relu"] = grid.last_relu_values;
  if (!grid.seeds.empty()) j["seeds"] = grid.seeds;
  if (!grid.epochs_values.empty()) j["epochs"] = grid.epochs_values;
  if (!grid.axes.empty()) {
    json axes = json::array();
    for (const experiment::SweepAxis& axis : grid.axes) {
      axes.push_back({{"field", axis.field}, {"values", axis.values}});
    }
    j["axes"] = std::move(axes);
  }
  if (!grid.zip.empty()) j["zip"] = grid.zip;
  return Dump(j);
}

absl::StatusOr<experiment::SweepGrid> DecodeGrid(absl::string_view text,
                                                 absl::string_view what) {
  absl::StatusOr<json> j = ParseJson(text, json::value_t::object, what);
  if (!j.ok()) return j.status();
  experiment::SweepGrid grid;
  try {
    for (const auto& name : j->value("methods", json::array())) {
      auto method =
          experiment::Parse<experiment::Method>(name.get<std::string>());
      if (!method) return Corrupt(what, text);
      grid.methods.push_back(*method);
    }
    for (const auto& name : j->value("architectures", json::array())) {
      auto architecture =
          experiment::Parse<experiment::Architecture>(name.get<std::string>());
      if (!architecture) return Corrupt(what, text);
      grid.architectures.push_back(*architecture);
    }
    grid.widths = j->value("widths", std::vector<int>{});
    grid.last_relu_values = j->value("last_relu", std::vector<bool>{});
    grid.seeds = j->value("seeds", std::vector<int64_t>{});
    grid.epochs_values = j->value("epochs", std::vector<int>{});
    for (const auto& axis : j->value("axes", json::array())) {
      grid.axes.push_back({axis.at("field").get<std::string>(),
                           axis.at("values").get<std::vector<std::string>>()});
    }
    grid.zip = j->value("zip", std::vector<std::vector<std::string>>{});
  } catch (const json::exception&) {
    return Corrupt(what, text);
  }
  return grid;
}

}  // namespace sslab::storage::internal
