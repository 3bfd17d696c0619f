// --name=value command-line flags for the benchmark binaries, which take a
// handful each and print JSON for their Python drivers.
#ifndef SSLAB_BENCH_FLAGS_H_
#define SSLAB_BENCH_FLAGS_H_

#include <string>
#include <string_view>

namespace sslab::bench {

// The value of --name=value in argv, "true" for a bare --name, else
// `fallback`.
inline std::string Flag(int argc, char** argv, std::string_view name,
                        std::string_view fallback) {
  const std::string prefix = "--" + std::string(name);
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == prefix) return "true";
    if (arg.size() > prefix.size() && arg.substr(0, prefix.size()) == prefix &&
        arg[prefix.size()] == '=') {
      return std::string(arg.substr(prefix.size() + 1));
    }
  }
  return std::string(fallback);
}

}  // namespace sslab::bench

#endif  // SSLAB_BENCH_FLAGS_H_
