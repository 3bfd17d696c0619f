#include "experiment/sweep.h"

#include <functional>
#include <optional>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "experiment/run_spec_fields.h"

namespace sslab::experiment {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

template <typename T>
absl::Status CheckAxis(const std::vector<T>& values, absl::string_view field,
                       T low, T high) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] < low || values[i] > high) {
      return Invalid(
          absl::StrCat(field, "[", i, "]"),
          absl::StrCat("must be in [", low, ", ", high, "], got ", values[i]));
    }
  }
  return absl::OkStatus();
}

// The settings that have their own axis in SweepGrid, in its order.
constexpr absl::string_view kStudyAxisFields[] = {
    "method", "arch", "width", "last-relu", "seed", "epochs"};

bool IsStudyAxisField(absl::string_view field) {
  return absl::c_linear_search(kStudyAxisFields, field);
}

// One swept field: its values' count, how the i-th applies to a spec, and
// what it adds to a run's name.
struct Axis {
  std::string field;
  size_t size;
  std::function<absl::Status(size_t, RunSpec&)> apply;
  std::function<std::string(size_t)> suffix;
  std::function<std::string(size_t)> text;
};

template <typename T, typename Apply, typename Suffix>
void AddAxis(std::vector<Axis>& axes, const char* field,
             const std::vector<T>& values, Apply apply, Suffix suffix) {
  if (values.empty()) return;
  axes.push_back({field, values.size(),
                  [&values, apply](size_t i, RunSpec& s) {
                    apply(s, values[i]);
                    return absl::OkStatus();
                  },
                  [&values, suffix](size_t i) { return suffix(values[i]); },
                  [&values](size_t i) {
                    if constexpr (std::is_enum_v<T>) {
                      return std::string(Name(values[i]));
                    } else {
                      return absl::StrCat(values[i]);
                    }
                  }});
}

// The grid's non-empty axes in order; they refer to `g`.
std::vector<Axis> Axes(const SweepGrid& g) {
  std::vector<Axis> axes;
  auto none = [](const auto&) { return std::string(); };
  AddAxis(
      axes, "method", g.methods, [](RunSpec& s, Method v) { s.method = v; },
      none);
  AddAxis(
      axes, "arch", g.architectures,
      [](RunSpec& s, Architecture v) { s.architecture = v; }, none);
  AddAxis(
      axes, "width", g.widths, [](RunSpec& s, int v) { s.width = v; }, none);
  AddAxis(
      axes, "last-relu", g.last_relu_values,
      [](RunSpec& s, bool v) { s.last_relu = v; }, none);
  AddAxis(
      axes, "seed", g.seeds, [](RunSpec& s, int64_t v) { s.seed = v; },
      [](int64_t v) { return absl::StrCat("-seed", v); });
  AddAxis(
      axes, "epochs", g.epochs_values, [](RunSpec& s, int v) { s.epochs = v; },
      [](int v) { return absl::StrCat("-e", v); });
  for (size_t a = 0; a < g.axes.size(); ++a) {
    const SweepAxis& axis = g.axes[a];
    if (axis.values.empty()) continue;
    axes.push_back(
        {axis.field, axis.values.size(),
         [&axis, a](size_t i, RunSpec& s) {
           return SetField(s, axis.field, axis.values[i],
                           absl::StrCat("axes[", a, "].values[", i, "]"));
         },
         [&axis](size_t i) {
           return absl::StrCat("-", axis.field,
                               absl::StripAsciiWhitespace(axis.values[i]));
         },
         [&axis](size_t i) { return axis.values[i]; }});
  }
  return axes;
}

// The grid's dimensions, slowest first, each the indices in `axes` of the
// axes advancing together (one, or a zip group).
absl::StatusOr<std::vector<std::vector<size_t>>> Dimensions(
    const SweepGrid& g, const std::vector<Axis>& axes) {
  std::vector<int> group_of(axes.size(), -1);
  for (size_t z = 0; z < g.zip.size(); ++z) {
    const std::string where = absl::StrCat("zip[", z, "]");
    if (g.zip[z].size() < 2) {
      return Invalid(where, "needs at least two fields");
    }
    const Axis* first = nullptr;
    for (const std::string& field : g.zip[z]) {
      size_t a = 0;
      while (a < axes.size() && axes[a].field != field) ++a;
      if (a == axes.size()) {
        return Invalid(
            where,
            absl::StrCat("no axis sweeps \"", field,
                         "\" (zip names settings: method, arch, width, "
                         "last-relu, seed, epochs, or a field of axes)"));
      }
      if (group_of[a] != -1) {
        return Invalid(
            where, absl::StrCat("\"", field, "\" is zipped more than once"));
      }
      group_of[a] = static_cast<int>(z);
      if (first == nullptr) {
        first = &axes[a];
      } else if (axes[a].size != first->size) {
        return Invalid(
            where, absl::StrCat(first->field, " has ", first->size,
                                " values but ", field, " has ", axes[a].size));
      }
    }
  }
  std::vector<std::vector<size_t>> dims;
  std::vector<int> dim_of_group(g.zip.size(), -1);
  for (size_t a = 0; a < axes.size(); ++a) {
    const int z = group_of[a];
    if (z >= 0 && dim_of_group[z] >= 0) {
      dims[dim_of_group[z]].push_back(a);
      continue;
    }
    if (z >= 0) dim_of_group[z] = static_cast<int>(dims.size());
    dims.push_back({a});
  }
  return dims;
}

// The product of the dimensions' sizes, bounded by kMaxSweepRuns.
absl::StatusOr<int> Size(const std::vector<std::vector<size_t>>& dims,
                         const std::vector<Axis>& axes) {
  int64_t total = 1;
  for (const std::vector<size_t>& dim : dims) {
    const size_t n = axes[dim.front()].size;
    // Each factor is checked before multiplying, so `total` stays small.
    if (n > static_cast<size_t>(kMaxSweepRuns) ||
        total * static_cast<int64_t>(n) > kMaxSweepRuns) {
      return Invalid("grid",
                     absl::StrCat("has more than ", kMaxSweepRuns, " points"));
    }
    total *= static_cast<int64_t>(n);
  }
  return static_cast<int>(total);
}

// The further axes name known fields, each once, none with its own axis,
// and every value has the field's form.
absl::Status CheckFurtherAxes(const std::vector<SweepAxis>& axes) {
  for (size_t a = 0; a < axes.size(); ++a) {
    const std::string where = absl::StrCat("axes[", a, "]");
    const std::string& field = axes[a].field;
    if (!IsField(field)) {
      return Invalid(absl::StrCat(where, ".field"),
                     absl::StrCat("unknown setting \"", field, "\"; one of ",
                                  FieldNames()));
    }
    if (IsStudyAxisField(field)) {
      return Invalid(absl::StrCat(where, ".field"),
                     absl::StrCat("\"", field,
                                  "\" has its own axis (methods, archs, "
                                  "widths, last-relus, seeds, epochs-values)"));
    }
    for (size_t b = 0; b < a; ++b) {
      if (axes[b].field == field) {
        return Invalid(absl::StrCat(where, ".field"),
                       absl::StrCat("\"", field, "\" is swept twice"));
      }
    }
    if (axes[a].values.empty()) {
      return Invalid(absl::StrCat(where, ".values"), "must not be empty");
    }
    for (size_t i = 0; i < axes[a].values.size(); ++i) {
      RunSpec scratch;
      SSLAB_RETURN_IF_ERROR(SetField(scratch, field, axes[a].values[i],
                                     absl::StrCat(where, ".values[", i, "]")));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string FurtherAxisFieldNames() {
  std::vector<absl::string_view> names;
  for (absl::string_view name : absl::StrSplit(FieldNames(), '|')) {
    if (!IsStudyAxisField(name)) names.push_back(name);
  }
  return absl::StrJoin(names, "|");
}

absl::StatusOr<int> GridSize(const SweepGrid& grid) {
  const std::vector<Axis> axes = Axes(grid);
  SSLAB_ASSIGN_OR_RETURN(const auto dims, Dimensions(grid, axes));
  return Size(dims, axes);
}

absl::StatusOr<std::vector<SweepRun>> ExpandSweep(const SweepSpec& spec) {
  if (spec.name.empty()) return Invalid("name", "must not be empty");
  if (spec.name.size() > kMaxNameLength) {
    return Invalid("name",
                   absl::StrCat("longer than ", kMaxNameLength, " characters"));
  }
  const SweepGrid& g = spec.grid;
  SSLAB_RETURN_IF_ERROR(CheckFurtherAxes(g.axes));
  const std::vector<Axis> axes = Axes(g);
  SSLAB_ASSIGN_OR_RETURN(const auto dims, Dimensions(g, axes));
  SSLAB_ASSIGN_OR_RETURN(const int size, Size(dims, axes));
  SSLAB_RETURN_IF_ERROR(CheckAxis(g.widths, "widths", 1, kMaxWidth));
  SSLAB_RETURN_IF_ERROR(
      CheckAxis(g.epochs_values, "epochs_values", 0, kMaxEpochs));

  std::vector<SweepRun> runs;
  runs.reserve(size);
  // An odometer over the dimensions, the last one fastest.
  std::vector<size_t> index(dims.size(), 0);
  for (int n = 0; n < size; ++n) {
    std::vector<size_t> value_of(axes.size());
    for (size_t d = 0; d < dims.size(); ++d) {
      for (size_t a : dims[d]) value_of[a] = index[d];
    }
    RunSpec point = spec.base;
    std::string suffix;
    std::vector<std::string> settings;
    for (size_t a = 0; a < axes.size(); ++a) {
      SSLAB_RETURN_IF_ERROR(axes[a].apply(value_of[a], point));
      absl::StrAppend(&suffix, axes[a].suffix(value_of[a]));
      settings.push_back(
          absl::StrCat(axes[a].field, "=", axes[a].text(value_of[a])));
    }
    // With further axes, a bad setting may come from one of them rather
    // than from base, so errors name the setting and the point.
    absl::StatusOr<RunConfig> config =
        ExpandRunSpec(point, g.axes.empty() ? "base." : "");
    const std::string point_text = absl::StrCat(
        " (in the sweep's point ", absl::StrJoin(settings, " "), ")");
    if (!config.ok()) {
      if (settings.empty()) return config.status();
      return absl::InvalidArgumentError(
          absl::StrCat(config.status().message(), point_text));
    }
    std::string name = absl::StrCat(
        spec.name, "/", Name(config->method), "-", Name(config->architecture),
        "-k", config->width, config->last_relu ? "" : "(-)", suffix);
    if (name.size() > kMaxNameLength) {
      return Invalid("name",
                     absl::StrCat("the run name \"", name, "\" is longer than ",
                                  kMaxNameLength, " characters", point_text));
    }
    runs.push_back({std::move(name), *std::move(config)});
    for (size_t d = dims.size(); d-- > 0;) {
      if (++index[d] < axes[dims[d].front()].size) break;
      index[d] = 0;
    }
  }
  return runs;
}

}  // namespace sslab::experiment
