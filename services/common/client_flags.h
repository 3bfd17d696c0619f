// The flags (and environment variables) with which every client of the
// scheduler (the CLI, the workers) says how to reach it securely:
//   --token-file (SSLAB_TOKEN_FILE)        bearer token, first line used
//   --tls-ca (SSLAB_TLS_CA)                use TLS; verify the server with
//                                          this CA
//   --tls-client-cert, --tls-client-key (SSLAB_TLS_CLIENT_CERT, ..._KEY)
//                                          present this certificate (mutual
//                                          TLS)
//   --tls-server-name (SSLAB_TLS_SERVER_NAME)  the name the server's
//                                          certificate carries, when it is
//                                          not the address's host
#ifndef SSLAB_SERVICES_COMMON_CLIENT_FLAGS_H_
#define SSLAB_SERVICES_COMMON_CLIENT_FLAGS_H_

#include <CLI/CLI.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "services/common/security.h"

namespace sslab::services {

struct ClientSecurityFlags {
  std::string token_file;
  TlsFiles tls;
  std::string tls_server_name;

  // Reads the files; errors name them.
  absl::StatusOr<ChannelSecurity> Load() const {
    absl::StatusOr<ChannelSecurity> security =
        ChannelSecurityFrom(token_file, tls);
    if (security.ok()) security->tls_server_name = tls_server_name;
    return security;
  }
};

inline void AddClientSecurityFlags(CLI::App& app, ClientSecurityFlags* flags) {
  app.add_option("--token-file", flags->token_file,
                 "file with the bearer token for the scheduler")
      ->envname("SSLAB_TOKEN_FILE");
  app.add_option("--tls-ca", flags->tls.ca,
                 "use TLS; verify the scheduler with this CA (PEM)")
      ->envname("SSLAB_TLS_CA");
  app.add_option("--tls-client-cert", flags->tls.cert,
                 "present this certificate (PEM) for mutual TLS")
      ->envname("SSLAB_TLS_CLIENT_CERT");
  app.add_option("--tls-client-key", flags->tls.key,
                 "the client certificate's private key (PEM)")
      ->envname("SSLAB_TLS_CLIENT_KEY");
  app.add_option("--tls-server-name", flags->tls_server_name,
                 "the name in the scheduler's certificate, if not its host")
      ->envname("SSLAB_TLS_SERVER_NAME");
}

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_COMMON_CLIENT_FLAGS_H_
