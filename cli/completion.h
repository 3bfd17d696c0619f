// Shell completion generated from the CLI11 command tree, so that it never
// drifts from the flags: subcommands, each one's options (with the program's
// global options, which are valid after a subcommand too), the values of an
// option whose help starts with its choices ("rotation|jigsaw|..."), and
// file names for options whose help mentions a file or PEM.
//
//   source <(sslab completion bash)        # in ~/.bashrc
//   source <(sslab completion zsh)         # in ~/.zshrc (bashcompinit)
#ifndef SSLAB_CLI_COMPLETION_H_
#define SSLAB_CLI_COMPLETION_H_

#include <CLI/CLI.hpp>
#include <string>

namespace sslab::cli {

// A bash script defining and registering the completion of `program`.
std::string BashCompletion(const CLI::App& app, const std::string& program);
// The same for zsh, through its bash compatibility (bashcompinit).
std::string ZshCompletion(const CLI::App& app, const std::string& program);

}  // namespace sslab::cli

#endif  // SSLAB_CLI_COMPLETION_H_
