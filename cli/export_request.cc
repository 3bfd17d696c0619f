#include "cli/export_request.h"

#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cli/format.h"

namespace sslab::cli {

std::string ExportRequestToJson(const ExportRequest& r) {
  return nlohmann::json{
      {"run_id", r.run_id},
      {"checkpoint", nlohmann::json::parse(ToJson(r.checkpoint))},
      {"artifacts", r.artifacts.string()},
      {"to", r.to.string()},
      {"layers", r.layers},
      {"splits", r.splits},
      {"model", r.model},
      {"features", r.features},
      {"json_output", r.json_output}}
      .dump();
}

absl::StatusOr<ExportRequest> ExportRequestFromJson(absl::string_view text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) {
    return absl::InvalidArgumentError("export request: not a JSON object");
  }
  for (const char* key : {"run_id", "checkpoint", "artifacts", "to"}) {
    if (!j.contains(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("export request: missing '", key, "'"));
    }
  }
  ExportRequest r;
  try {
    r.run_id = j.at("run_id").get<int64_t>();
    r.artifacts = j.at("artifacts").get<std::string>();
    r.to = j.at("to").get<std::string>();
    r.layers = j.value("layers", std::vector<std::string>{});
    r.splits = j.value("splits", std::vector<std::string>{});
    r.model = j.value("model", true);
    r.features = j.value("features", true);
    r.json_output = j.value("json_output", false);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("export request: ", e.what()));
  }
  const std::string checkpoint = j.at("checkpoint").dump();
  const auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(checkpoint.data(), checkpoint.size()),
      &r.checkpoint);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "export request: checkpoint: ", parsed.message().ToString()));
  }
  return r;
}

}  // namespace sslab::cli
