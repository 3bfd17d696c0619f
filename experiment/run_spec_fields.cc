#include "experiment/run_spec_fields.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "experiment/vocabulary.h"

namespace sslab::experiment {
namespace {

// The value of one item, or an error message without the field's name.
absl::Status Bad(absl::string_view text, absl::string_view expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("expected ", expected, ", got \"", text, "\""));
}

absl::Status ParseItem(absl::string_view text, int& out) {
  return absl::SimpleAtoi(text, &out) ? absl::OkStatus()
                                      : Bad(text, "an integer");
}
absl::Status ParseItem(absl::string_view text, int64_t& out) {
  return absl::SimpleAtoi(text, &out) ? absl::OkStatus()
                                      : Bad(text, "an integer");
}
absl::Status ParseItem(absl::string_view text, double& out) {
  return absl::SimpleAtod(text, &out) ? absl::OkStatus()
                                      : Bad(text, "a number");
}
absl::Status ParseItem(absl::string_view text, bool& out) {
  if (text == "true" || text == "1") {
    out = true;
  } else if (text == "false" || text == "0") {
    out = false;
  } else {
    return Bad(text, "true|false");
  }
  return absl::OkStatus();
}
absl::Status ParseItem(absl::string_view text, std::string& out) {
  if (text.empty()) return Bad(text, "a name");
  out = std::string(text);
  return absl::OkStatus();
}
template <typename Enum>
requires std::is_enum_v<Enum> absl::Status ParseItem(absl::string_view text,
                                                     Enum& out) {
  std::optional<Enum> value = experiment::Parse<Enum>(text);
  if (!value) return Bad(text, Choices<Enum>());
  out = *value;
  return absl::OkStatus();
}

template <typename T>
absl::Status Set(std::optional<T>& out, absl::string_view text) {
  T value{};
  if (absl::Status s = ParseItem(absl::StripAsciiWhitespace(text), value);
      !s.ok()) {
    return s;
  }
  out = value;
  return absl::OkStatus();
}

template <typename T>
absl::Status Set(std::vector<T>& out, absl::string_view text) {
  std::vector<T> values;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    T value{};
    if (absl::Status s = ParseItem(absl::StripAsciiWhitespace(item), value);
        !s.ok()) {
      return s;
    }
    values.push_back(std::move(value));
  }
  out = std::move(values);
  return absl::OkStatus();
}

absl::Status SetDataset(RunSpec::Dataset& d, absl::string_view text) {
  const size_t colon = text.find(':');
  if (colon == absl::string_view::npos) {
    return Bad(text, "KIND:PATH, e.g. idx:/data/mnist");
  }
  if (absl::Status s = Set(d.kind, text.substr(0, colon)); !s.ok()) return s;
  d.path = std::string(text.substr(colon + 1));
  return absl::OkStatus();
}

struct Field {
  absl::string_view name;
  bool list;
  absl::Status (*set)(RunSpec&, absl::string_view);
};

// In RunConfig's order, named as the CLI's flags (cli/main.cc) and run files.
constexpr Field kFields[] = {
    {"method", false, [](RunSpec& s, auto t) { return Set(s.method, t); }},
    {"arch", false, [](RunSpec& s, auto t) { return Set(s.architecture, t); }},
    {"width", false, [](RunSpec& s, auto t) { return Set(s.width, t); }},
    {"last-relu", false,
     [](RunSpec& s, auto t) { return Set(s.last_relu, t); }},
    {"dataset", false,
     [](RunSpec& s, auto t) { return SetDataset(s.dataset, t); }},
    {"val-fraction", false,
     [](RunSpec& s, auto t) { return Set(s.dataset.val_fraction, t); }},
    {"max-examples", false,
     [](RunSpec& s, auto t) { return Set(s.dataset.max_examples, t); }},
    {"image-size", false,
     [](RunSpec& s, auto t) { return Set(s.dataset.image_size, t); }},
    {"epochs", false, [](RunSpec& s, auto t) { return Set(s.epochs, t); }},
    {"batch-size", false,
     [](RunSpec& s, auto t) { return Set(s.batch_size, t); }},
    {"lr", false,
     [](RunSpec& s, auto t) { return Set(s.lr_schedule.base_lr, t); }},
    {"warmup-epochs", false,
     [](RunSpec& s, auto t) { return Set(s.lr_schedule.warmup_epochs, t); }},
    {"decay-epochs", true,
     [](RunSpec& s, auto t) { return Set(s.lr_schedule.decay_epochs, t); }},
    {"decay-factor", false,
     [](RunSpec& s, auto t) { return Set(s.lr_schedule.decay_factor, t); }},
    {"layers", true,
     [](RunSpec& s, auto t) { return Set(s.evaluation.layers, t); }},
    {"probes", true,
     [](RunSpec& s, auto t) { return Set(s.evaluation.probe_kinds, t); }},
    {"label-fractions", true,
     [](RunSpec& s, auto t) { return Set(s.evaluation.label_fractions, t); }},
    {"eval-every", false,
     [](RunSpec& s, auto t) { return Set(s.evaluation.every_epochs, t); }},
    {"feature-dtype", false,
     [](RunSpec& s, auto t) { return Set(s.evaluation.feature_dtype, t); }},
    {"l2-grid", true,
     [](RunSpec& s, auto t) { return Set(s.evaluation.probe.l2_grid, t); }},
    {"sgd-epochs", false,
     [](RunSpec& s, auto t) { return Set(s.evaluation.probe.sgd_epochs, t); }},
    {"sgd-lr", false,
     [](RunSpec& s, auto t) {
       return Set(s.evaluation.probe.sgd_learning_rate, t);
     }},
    {"sgd-batch-size", false,
     [](RunSpec& s, auto t) {
       return Set(s.evaluation.probe.sgd_batch_size, t);
     }},
    {"mlp-hidden", false,
     [](RunSpec& s, auto t) {
       return Set(s.evaluation.probe.mlp_hidden_units, t);
     }},
    {"mlp-epochs", false,
     [](RunSpec& s, auto t) { return Set(s.evaluation.probe.mlp_epochs, t); }},
    {"augmentation", false,
     [](RunSpec& s, auto t) { return Set(s.augmentation, t); }},
    {"seed", false, [](RunSpec& s, auto t) { return Set(s.seed, t); }},
    {"device", false, [](RunSpec& s, auto t) { return Set(s.device, t); }},
    {"probe-device", false,
     [](RunSpec& s, auto t) { return Set(s.probe_device, t); }},
    {"precision", false,
     [](RunSpec& s, auto t) { return Set(s.precision, t); }},
    {"memory-format", false,
     [](RunSpec& s, auto t) { return Set(s.memory_format, t); }},
    {"threads", false, [](RunSpec& s, auto t) { return Set(s.threads, t); }},
    {"devices-per-run", false,
     [](RunSpec& s, auto t) { return Set(s.devices_per_run, t); }},
};

const Field* Find(absl::string_view name) {
  for (const Field& f : kFields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace

absl::Status SetField(RunSpec& spec, absl::string_view field,
                      absl::string_view text, absl::string_view where) {
  const Field* f = Find(field);
  if (f == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": unknown setting \"", field, "\"; one of ", FieldNames()));
  }
  absl::Status s = f->set(spec, text);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", field, ": ", s.message()));
  }
  return absl::OkStatus();
}

bool IsField(absl::string_view field) { return Find(field) != nullptr; }

bool IsListField(absl::string_view field) {
  const Field* f = Find(field);
  return f != nullptr && f->list;
}

std::string FieldNames() {
  return absl::StrJoin(kFields, "|", [](std::string* out, const Field& f) {
    absl::StrAppend(out, f.name);
  });
}

}  // namespace sslab::experiment
