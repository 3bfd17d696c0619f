// Which source this binary was built from, for lineage: the git commit of
// the tree at configure time ("abc1234", with "-dirty" when it had
// uncommitted changes), or "unknown" outside a git checkout. CMake reruns
// the configure step when HEAD moves, so a rebuild after a commit carries
// the new one.
#ifndef SSLAB_COMMON_BUILD_INFO_H_
#define SSLAB_COMMON_BUILD_INFO_H_

#include <string>

namespace sslab {

std::string BuildCommit();

}  // namespace sslab

#endif  // SSLAB_COMMON_BUILD_INFO_H_
