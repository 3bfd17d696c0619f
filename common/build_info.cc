#include "common/build_info.h"

#ifndef SSLAB_GIT_COMMIT
#define SSLAB_GIT_COMMIT "unknown"
#endif

namespace sslab {

std::string BuildCommit() { return SSLAB_GIT_COMMIT; }

}  // namespace sslab
