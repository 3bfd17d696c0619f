#include "cli/run_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace sslab::cli {
namespace {

// Keys that are options but not settings a file may carry.
bool Reserved(const std::string& flag) {
  return flag == "--help" || flag == "--file";
}

}  // namespace

absl::StatusOr<std::vector<std::string>> RunFileArguments(
    const std::string& path, const CLI::App& command) {
  if (!std::ifstream(path)) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot read the file"));
  }
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ":", e.mark.line + 1, ": not YAML or JSON: ", e.msg));
  }
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": expected a map of flag names to values at the top"));
  }
  std::vector<std::string> args;
  for (const auto& entry : root) {
    const std::string key = entry.first.as<std::string>();
    std::string flag = "--" + key;
    std::replace(flag.begin() + 2, flag.end(), '_', '-');
    auto bad = [&](const std::string& why) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": ", key, ": ", why));
    };
    const CLI::Option* option = command.get_option_no_throw(flag);
    if (option == nullptr || Reserved(flag)) {
      return bad(absl::StrCat("not a flag of `sslab ", command.get_name(),
                              "` (keys are its flags without the dashes)"));
    }
    if (option->count() > 0) continue;  // the command line overrides it
    const YAML::Node& value = entry.second;
    std::string text;
    if (value.IsScalar()) {
      text = value.Scalar();
    } else if (value.IsSequence()) {
      std::vector<std::string> items;
      for (const YAML::Node& item : value) {
        if (!item.IsScalar()) return bad("list items must be plain values");
        items.push_back(item.Scalar());
      }
      text = absl::StrJoin(items, ",");
    } else {
      return bad("expected a value or a list of values");
    }
    if (text.empty()) return bad("empty value");
    // A flag (no value) is on when the file says true.
    if (option->get_items_expected_max() == 0) {
      if (text == "true") args.push_back(flag);
      continue;
    }
    args.push_back(absl::StrCat(flag, "=", text));
  }
  return args;
}

}  // namespace sslab::cli
