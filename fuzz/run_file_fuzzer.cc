// Run and sweep files (cli/run_file.h): the input is the YAML or JSON file
// of `sslab sweep -f FILE`. RunFileArguments must answer its documented
// errors (never throw), and the arguments it returns must parse as the
// command's (CLI11 may still refuse a value, as on the command line).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "cli/run_file.h"
#include "experiment/run_spec_fields.h"
#include "fuzz/fuzz_util.h"

namespace {

// The flags of `sslab sweep` (cli/main.cc), each as text.
struct SweepCommand {
  SweepCommand() {
    sweep = app.add_subcommand("sweep");
    sweep->add_option("--file,-f", file);
    sweep->add_flag("--dry-run", flag);
    sweep->add_flag("--quiet,-q", flag);
    const std::vector<std::string> fields =
        absl::StrSplit(sslab::experiment::FieldNames(), '|');
    for (const std::string& field : fields) {
      CLI::Option* option =
          sweep->add_option("--" + field, lists.emplace_back());
      if (sslab::experiment::IsListField(field)) option->delimiter(',');
    }
    for (const char* name : {"--methods", "--archs", "--widths", "--seeds",
                             "--epochs-values", "--last-relus"}) {
      sweep->add_option(name, lists.emplace_back())->delimiter(',');
    }
    sweep->add_option("--axis,--axes", lists.emplace_back());
    sweep->add_option("--zip", lists.emplace_back());
    sweep->add_option("--name", file);
    sweep->add_option("--priority", file);
  }

  CLI::App app;
  CLI::App* sweep = nullptr;
  std::string file;
  bool flag = false;
  std::deque<std::vector<std::string>> lists;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sslab::fuzz;
  static SweepCommand* command = new SweepCommand;
  const std::filesystem::path path = ScratchDir() / "sweep.yaml";
  WriteFile(path, absl::string_view(reinterpret_cast<const char*>(data), size));
  command->app.clear();
  command->app.parse(std::vector<std::string>{"sweep"});
  absl::StatusOr<std::vector<std::string>> args =
      sslab::cli::RunFileArguments(path.string(), *command->sweep);
  if (!args.ok()) {
    CheckCode(args.status(), "RunFileArguments",
              {absl::StatusCode::kInvalidArgument});
    return 0;
  }
  std::vector<std::string> argv = *args;
  argv.insert(argv.begin(), "sweep");
  std::reverse(argv.begin(), argv.end());  // CLI11 takes them reversed
  command->app.clear();
  try {
    command->app.parse(argv);
  } catch (const CLI::ParseError&) {
    // A value of the wrong form: the command line refuses it the same way.
  }
  return 0;
}
