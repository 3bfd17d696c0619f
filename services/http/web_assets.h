// The web dashboard's files (web/ and Debian's Chart.js), compiled into the
// scheduler so that it serves them offline from any directory.
#ifndef SSLAB_SERVICES_HTTP_WEB_ASSETS_H_
#define SSLAB_SERVICES_HTTP_WEB_ASSETS_H_

#include <cstddef>
#include <vector>

namespace sslab::services {

struct WebAsset {
  const char* path;          // as requested, e.g. "/app.js"
  const char* content_type;  // e.g. "text/javascript"
  const unsigned char* data;
  size_t size;
};

// Generated at build time (cmake/EmbedFiles.cmake).
const std::vector<WebAsset>& WebAssets();

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_HTTP_WEB_ASSETS_H_
