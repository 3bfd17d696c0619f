// A RunSpec's settings by the names the command line gives them ("lr",
// "batch-size", "decay-epochs", ...), set from text: what lets a sweep make
// any setting an axis, and the one list of those names.
//
//   RunSpec spec;
//   SetField(spec, "lr", "0.4", "axes[0].values[1]");  // lr_schedule.base_lr
//   SetField(spec, "decay-epochs", "3,6", "...");       // a list,
//   comma-separated
//
// Values are checked for form here (a number, a known name); ranges are
// ExpandRunSpec's. Thread-safe (pure functions).
#ifndef SSLAB_EXPERIMENT_RUN_SPEC_FIELDS_H_
#define SSLAB_EXPERIMENT_RUN_SPEC_FIELDS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "experiment/run_config.h"

namespace sslab::experiment {

// Sets `field` of `spec` from `text` (a list field's items comma-separated;
// enum values by their vocabulary names; last-relu true|false). Errors are
// INVALID_ARGUMENT naming `where`: an unknown field (listing the names) or a
// value of the wrong form.
absl::Status SetField(RunSpec& spec, absl::string_view field,
                      absl::string_view text, absl::string_view where);

// True for a known field.
bool IsField(absl::string_view field);

// True for a field that holds a list (decay-epochs, layers, probes,
// label-fractions, l2-grid).
bool IsListField(absl::string_view field);

// Every field name, "|"-separated, for messages and help text.
std::string FieldNames();

}  // namespace sslab::experiment

#endif  // SSLAB_EXPERIMENT_RUN_SPEC_FIELDS_H_
