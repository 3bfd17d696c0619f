// Run settings by name and sweeps (experiment/run_spec_fields.h, sweep.h,
// run_config.h): the input is text, one `key=value` per line. `name` names
// the sweep, `widths` / `seeds` / `epochs-values` are study axes
// (comma-separated), `axis.FIELD` a further axis (values '|'-separated),
// `zip` a zip group (comma-separated fields); any other key is a setting
// (SetField). Checks that every config the spec or the sweep expands to is
// valid and a fixed point of ExpandRunSpec(ToRunSpec(config)).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "experiment/run_config.h"
#include "experiment/run_spec_fields.h"
#include "experiment/sweep.h"
#include "fuzz/fuzz_util.h"

namespace {

using namespace sslab::experiment;

void CheckConfig(const RunConfig& config, absl::string_view what) {
  if (absl::Status valid = ValidateRunConfig(config); !valid.ok()) {
    sslab::fuzz::Fail(absl::StrCat(what, ": expanded config is invalid"),
                      valid);
  }
  absl::StatusOr<RunConfig> again = ExpandRunSpec(ToRunSpec(config));
  if (!again.ok() || !(*again == config)) {
    sslab::fuzz::Fail(
        absl::StrCat(what, ": ExpandRunSpec(ToRunSpec(config)) != config"),
        again.status());
  }
  (void)ShortRunWarning(config);
  if (DefaultRunName(config).empty()) sslab::fuzz::Fail("empty run name");
}

template <typename T>
void ParseInts(absl::string_view text, std::vector<T>* out) {
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    int64_t v = 0;
    if (absl::SimpleAtoi(item, &v)) out->push_back(static_cast<T>(v));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using sslab::fuzz::CheckCode;
  using sslab::fuzz::Fail;
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  SweepSpec sweep;
  bool grid = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    absl::string_view key = line.substr(0, eq);
    const absl::string_view value = line.substr(eq + 1);
    if (key == "name") {
      sweep.name = std::string(value);
    } else if (key == "widths") {
      ParseInts(value, &sweep.grid.widths);
      grid = true;
    } else if (key == "seeds") {
      ParseInts(value, &sweep.grid.seeds);
      grid = true;
    } else if (key == "epochs-values") {
      ParseInts(value, &sweep.grid.epochs_values);
      grid = true;
    } else if (absl::ConsumePrefix(&key, "axis.")) {
      sweep.grid.axes.push_back({std::string(key), absl::StrSplit(value, '|')});
      grid = true;
    } else if (key == "zip") {
      sweep.grid.zip.push_back(absl::StrSplit(value, ','));
      grid = true;
    } else {
      const absl::Status set = SetField(sweep.base, key, value, "line");
      CheckCode(set, "SetField", {absl::StatusCode::kInvalidArgument});
      if (set.ok() && !IsField(key))
        Fail("SetField: accepted an unknown field");
    }
  }
  absl::StatusOr<RunConfig> config = ExpandRunSpec(sweep.base, "config.");
  if (config.ok()) {
    CheckConfig(*config, "ExpandRunSpec");
  } else {
    CheckCode(config.status(), "ExpandRunSpec",
              {absl::StatusCode::kInvalidArgument});
  }
  if (!grid) return 0;
  absl::StatusOr<int> points = GridSize(sweep.grid);
  CheckCode(points.status(), "GridSize", {absl::StatusCode::kInvalidArgument});
  absl::StatusOr<std::vector<SweepRun>> runs = ExpandSweep(sweep);
  if (!runs.ok()) {
    CheckCode(runs.status(), "ExpandSweep",
              {absl::StatusCode::kInvalidArgument});
    return 0;
  }
  if (!points.ok() || static_cast<size_t>(*points) != runs->size() ||
      runs->size() > static_cast<size_t>(kMaxSweepRuns)) {
    sslab::fuzz::Fail("ExpandSweep: run count unlike GridSize");
  }
  for (const SweepRun& run : *runs) {
    if (run.name.empty()) sslab::fuzz::Fail("ExpandSweep: unnamed run");
    CheckConfig(run.config, "ExpandSweep");
  }
  return 0;
}
