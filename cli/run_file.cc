#include "cli/run_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "experiment/run_spec_fields.h"
#include "experiment/vocabulary.h"
#include "services/common/experiment_proto.h"

namespace sslab::cli {
namespace {

// Keys that are options but not settings a file may carry.
bool Reserved(const std::string& flag) {
  return flag == "--help" || flag == "--file";
}

// The shortest text that reads back as exactly `x`.
std::string Number(double x) {
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), x);
  return ec == std::errc() ? std::string(buffer, end) : absl::StrCat(x);
}

std::string Quoted(absl::string_view text) {
  std::string out = "\"";
  for (char ch : text) {
    switch (ch) {
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '"':
      case '\\':
        out.push_back('\\');
        [[fallthrough]];
      default:
        out.push_back(ch);
    }
  }
  return out + "\"";
}

template <typename List, typename Format>
std::string Sequence(const List& items, Format format) {
  std::vector<std::string> parts;
  for (const auto& item : items) parts.push_back(format(item));
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

// How a file's list maps onto the command line: kPlain, a list's items
// comma-separated; kZipGroups, a list of lists is several groups,
// ';'-separated; kListAxis (an axis of a list setting), each item is one
// value, a list or a single item, and values are ';'-separated.
enum class Shape { kPlain, kZipGroups, kListAxis };

// A value as the command line writes it.
absl::StatusOr<std::string> ValueText(const YAML::Node& value, Shape shape) {
  if (value.IsScalar()) return value.Scalar();
  if (!value.IsSequence()) {
    return absl::InvalidArgumentError("expected a value or a list of values");
  }
  std::vector<std::string> items;
  bool nested = false;
  for (const YAML::Node& item : value) {
    if (item.IsScalar()) {
      items.push_back(item.Scalar());
      continue;
    }
    if (!item.IsSequence()) {
      return absl::InvalidArgumentError("list items must be plain values");
    }
    if (shape == Shape::kPlain) {
      return absl::InvalidArgumentError(
          "lists nest only in zip, and under axes for a list setting (one "
          "list per value)");
    }
    std::vector<std::string> inner;
    for (const YAML::Node& x : item) {
      if (!x.IsScalar()) {
        return absl::InvalidArgumentError("lists nest one level at most");
      }
      inner.push_back(x.Scalar());
    }
    items.push_back(absl::StrJoin(inner, ","));
    nested = true;
  }
  const bool semicolons =
      shape == Shape::kListAxis || (shape == Shape::kZipGroups && nested);
  return absl::StrJoin(items, semicolons ? ";" : ",");
}

}  // namespace

std::string RunFileFromConfig(const v1::RunConfig& c) {
  using experiment::Name;
  std::string out;
  auto line = [&](absl::string_view key, const std::string& value) {
    absl::StrAppend(&out, key, ": ", value, "\n");
  };
  auto text = [](auto name) { return std::string(name); };
  line("method", text(services::ShortName(c.method())));
  line("arch", text(services::ShortName(c.architecture())));
  line("width", absl::StrCat(c.width()));
  line("last-relu", c.last_relu() ? "true" : "false");
  const v1::DatasetSpec& d = c.dataset();
  line("dataset",
       Quoted(absl::StrCat(services::ShortName(d.kind()), ":", d.path())));
  line("val-fraction", Number(d.val_fraction()));
  line("max-examples", absl::StrCat(d.max_examples()));
  line("image-size", absl::StrCat(d.image_size()));
  line("epochs", absl::StrCat(c.epochs()));
  line("batch-size", absl::StrCat(c.batch_size()));
  const v1::LrSchedule& lr = c.lr_schedule();
  line("lr", Number(lr.base_lr()));
  line("warmup-epochs", Number(lr.warmup_epochs()));
  line("decay-epochs", Sequence(lr.decay_epochs(), Number));
  line("decay-factor", Number(lr.decay_factor()));
  const v1::EvaluationPlan& e = c.evaluation();
  line("layers", Sequence(e.layers(), Quoted));
  line("probes", Sequence(e.probe_kinds(), [](int k) {
         return std::string(services::ShortName(static_cast<v1::ProbeKind>(k)));
       }));
  line("label-fractions", Sequence(e.label_fractions(), Number));
  line("eval-every", absl::StrCat(e.every_epochs()));
  line("feature-dtype",
       text(services::ShortName<experiment::FeatureDtype>(e.feature_dtype())));
  const v1::ProbeSettings& p = e.probe();
  line("l2-grid", Sequence(p.l2_grid(), Number));
  line("sgd-epochs", absl::StrCat(p.sgd_epochs()));
  line("sgd-lr", Number(p.sgd_learning_rate()));
  line("sgd-batch-size", absl::StrCat(p.sgd_batch_size()));
  line("mlp-hidden", absl::StrCat(p.mlp_hidden_units()));
  line("mlp-epochs", absl::StrCat(p.mlp_epochs()));
  line("augmentation",
       text(services::ShortName<experiment::Augmentation>(c.augmentation())));
  if (c.has_seed()) line("seed", absl::StrCat(c.seed()));
  line("device", text(services::ShortName(c.device())));
  line("probe-device", text(services::ShortName(c.probe_device())));
  line("precision", text(services::ShortName(c.precision())));
  line("memory-format", text(services::ShortName(c.memory_format())));
  line("threads", absl::StrCat(c.threads()));
  line("devices-per-run", absl::StrCat(std::max(1, c.devices_per_run())));
  return out;
}

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
    // YAML allows lists and maps as keys ("[a]: 1", "? {a: b}"), which
    // as<std::string>() throws for.
    if (entry.first.IsSequence() || entry.first.IsMap()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": a key is a list or a map (keys are flag names)"));
    }
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
    const YAML::Node& value = entry.second;
    if (value.IsMap()) {
      // One option per entry, "--axis=lr=0.1,0.4". The command line
      // overrides entries one by one: an overridden entry repeats the
      // command line's last value in the file's place, and the last wins.
      if (!option->check_name("--axis")) {
        return bad(
            "expected a value or a list of values (a map only under "
            "axes)");
      }
      const std::vector<std::string> given = option->results();
      for (const auto& item : value) {
        if (item.first.IsSequence() || item.first.IsMap()) {
          return bad("a key is a list or a map (keys are setting names)");
        }
        const std::string name = item.first.as<std::string>();
        const auto overridden = std::find_if(
            given.rbegin(), given.rend(), [&](const std::string& g) {
              return absl::StartsWith(g, name + "=");
            });
        if (overridden != given.rend()) {
          args.push_back(absl::StrCat(flag, "=", *overridden));
          continue;
        }
        absl::StatusOr<std::string> text = ValueText(
            item.second,
            experiment::IsListField(name) ? Shape::kListAxis : Shape::kPlain);
        if (!text.ok()) {
          return bad(absl::StrCat(name, ": ", text.status().message()));
        }
        args.push_back(absl::StrCat(flag, "=", name, "=", *text));
      }
      continue;
    }
    if (option->count() > 0) continue;  // the command line overrides it
    absl::StatusOr<std::string> value_text = ValueText(
        value, option->check_name("--zip") ? Shape::kZipGroups : Shape::kPlain);
    if (!value_text.ok()) {
      return bad(std::string(value_text.status().message()));
    }
    const std::string& text = *value_text;
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
