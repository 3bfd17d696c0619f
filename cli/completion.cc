#include "cli/completion.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace sslab::cli {
namespace {

// The option's names as typed: --long and -s.
std::vector<std::string> Spellings(const CLI::Option& o) {
  std::vector<std::string> out;
  for (const std::string& n : o.get_lnames()) out.push_back("--" + n);
  for (const std::string& n : o.get_snames()) out.push_back("-" + n);
  return out;
}

// The option spellings of `app` (then of `also`), each once.
std::vector<std::string> OptionWords(const CLI::App& app,
                                     const CLI::App* also = nullptr) {
  std::vector<std::string> out;
  for (const CLI::App* a : {&app, also}) {
    if (a == nullptr) continue;
    for (const CLI::Option* o : a->get_options()) {
      for (std::string& s : Spellings(*o)) {
        if (std::find(out.begin(), out.end(), s) == out.end()) {
          out.push_back(std::move(s));
        }
      }
    }
  }
  return out;
}

// What to complete after an option: its choices ("a b c"), "<file>", or
// nothing (free text).
std::string ValuesOf(const CLI::Option& o) {
  static const std::regex kChoices("^([a-z0-9_]+(\\|[a-z0-9_]+)+)([ ;,].*)?$");
  const std::string& help = o.get_description();
  std::smatch m;
  if (std::regex_match(help, m, kChoices)) {
    return absl::StrReplaceAll(m[1].str(), {{"|", " "}});
  }
  if (help.find("file") != std::string::npos ||
      help.find("PEM") != std::string::npos) {
    return "<file>";
  }
  return "";
}

// Values by option spelling over the whole tree (the first option of a
// spelling that has values wins); "" for options that take free text.
void CollectValues(const CLI::App& app,
                   std::map<std::string, std::string>* values) {
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_items_expected_max() == 0) continue;  // a flag
    const std::string v = ValuesOf(*o);
    for (const std::string& s : Spellings(*o)) {
      auto [it, added] = values->try_emplace(s, v);
      if (!added && it->second.empty()) it->second = v;
    }
  }
  for (const CLI::App* sub : app.get_subcommands({})) {
    CollectValues(*sub, values);
  }
}

std::string Function(const std::string& program) {
  std::string f = "_";
  for (char c : program)
    f += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return f;
}

}  // namespace

std::string BashCompletion(const CLI::App& app, const std::string& program) {
  const std::vector<const CLI::App*> subs = app.get_subcommands({});
  std::vector<std::string> sub_names;
  for (const CLI::App* s : subs) sub_names.push_back(s->get_name());
  const std::vector<std::string> global = OptionWords(app);
  std::map<std::string, std::string> values;
  CollectValues(app, &values);

  const std::string fn = Function(program);
  std::string out = absl::StrCat(
      "# ", program, " completion for bash, made by `", program,
      " completion bash`.\n", fn, "() {\n",
      "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}"
      " sub= w words\n",
      "  for w in \"${COMP_WORDS[@]:1:COMP_CWORD-1}\"; do\n", "    case $w in ",
      absl::StrJoin(sub_names, "|"), ") sub=$w; break ;; esac\n", "  done\n",
      "  case $prev in\n");
  std::map<std::string, std::vector<std::string>> by_values;
  for (const auto& [spelling, v] : values) by_values[v].push_back(spelling);
  for (const auto& [v, spellings] : by_values) {
    absl::StrAppend(&out, "    ", absl::StrJoin(spellings, "|"), ")\n");
    if (v.empty()) {  // free text: nothing to suggest
      absl::StrAppend(&out, "      COMPREPLY=(); return ;;\n");
    } else if (v == "<file>") {
      absl::StrAppend(
          &out, "      COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n");
    } else {
      absl::StrAppend(&out, "      COMPREPLY=($(compgen -W \"", v,
                      "\" -- \"$cur\")); return ;;\n");
    }
  }
  absl::StrAppend(&out, "  esac\n", "  case $sub in\n");
  for (const CLI::App* s : subs) {
    absl::StrAppend(&out, "    ", s->get_name(), ") words=\"",
                    absl::StrJoin(OptionWords(*s, &app), " "), "\" ;;\n");
  }
  std::vector<std::string> top = sub_names;
  top.insert(top.end(), global.begin(), global.end());
  absl::StrAppend(&out, "    *) words=\"", absl::StrJoin(top, " "), "\" ;;\n",
                  "  esac\n",
                  "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n", "}\n",
                  "complete -F ", fn, " ", program, "\n");
  return out;
}

std::string ZshCompletion(const CLI::App& app, const std::string& program) {
  return absl::StrCat("# ", program, " completion for zsh, made by `", program,
                      " completion zsh`.\n",
                      "autoload -U +X compinit && compinit\n",
                      "autoload -U +X bashcompinit && bashcompinit\n",
                      BashCompletion(app, program));
}

}  // namespace sslab::cli
