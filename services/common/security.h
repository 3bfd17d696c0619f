// Who may call sslab's gRPC APIs, and how the bytes travel.
//
// Authentication is by bearer token ("authorization: Bearer <token>"), with
// separate tokens for the two sides of the scheduler: client tokens open the
// ExperimentService (CLI, dashboards), worker tokens the WorkerService, and
// neither opens the other. A server without token files accepts every call:
// the zero-setup default for one user on loopback. Transport security is
// optional TLS (server certificate; a server given a client CA requires and
// verifies client certificates: mutual TLS).
//
// gRPC 1.51 runs no AuthMetadataProcessor on plaintext ports and cannot
// reject a call from a server interceptor, so every handler calls
// Authenticator::Check first (services/scheduler/handler.h does, for each
// RPC); clients attach their token with a channel interceptor
// (OpenChannel), so no call site can forget it.
//
// Thread-safety: an Authenticator is immutable after construction and safe
// to share. Failure contract: INVALID_ARGUMENT naming the file for a token
// file or certificate that cannot be used; NOT_FOUND for a missing one.
#ifndef SSLAB_SERVICES_COMMON_SECURITY_H_
#define SSLAB_SERVICES_COMMON_SECURITY_H_

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_context.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sslab::services {

enum class Role { kClient, kWorker };

// Shorter tokens are refused: a token must not be guessable.
inline constexpr size_t kMinTokenLength = 16;

// The tokens in `path`: one per line; blank lines and lines starting with '#'
// are skipped; surrounding whitespace is trimmed. INVALID_ARGUMENT naming the
// file when it holds none or one shorter than kMinTokenLength.
absl::StatusOr<std::vector<std::string>> ReadTokenFile(const std::string& path);

class Authenticator {
 public:
  // Accepts every call.
  Authenticator() = default;

  // Accepts tokens listed in `client_tokens_file` for Role::kClient and in
  // `worker_tokens_file` for Role::kWorker (several lines: several tokens,
  // e.g. one per person, or an old and a new one while rotating). Both files
  // are required, so that configuring one side never leaves the other open;
  // a token may not appear in both.
  static absl::StatusOr<Authenticator> FromFiles(
      const std::string& client_tokens_file,
      const std::string& worker_tokens_file);

  // Whether tokens are checked at all.
  bool enabled() const { return !tokens_[0].empty(); }

  // `authorization` is the header's value ("Bearer <token>"). OK when
  // checking is off or the token is one of `role`'s; UNAUTHENTICATED when
  // the header is missing, malformed or names no known token;
  // PERMISSION_DENIED for a token of the other role.
  absl::Status Check(absl::string_view authorization, Role role) const;

  // Check() for a gRPC call's "authorization" metadata. A null context is an
  // in-process call (the HTTP API, which checks its own requests) and passes.
  absl::Status Check(const grpc::ServerContext* context, Role role) const;

 private:
  // By role: tokens_[0] client, tokens_[1] worker.
  std::vector<std::string> tokens_[2];
};

// PEM files for TLS. Paths; empty = not used.
struct TlsFiles {
  // This side's certificate chain and private key.
  std::string cert;
  std::string key;
  // Server: clients must present a certificate signed by this CA (mutual
  // TLS). Client: the roots that verify the server (empty with TLS on: the
  // system roots).
  std::string ca;
};

// Plaintext when `tls.cert` is empty, else TLS with that certificate (and
// key, required then). INVALID_ARGUMENT/NOT_FOUND naming an unusable file.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const TlsFiles& tls);

// How a client reaches a server: its token and TLS, loaded and checked
// before any channel is opened.
struct ChannelSecurity {
  // Sent as "authorization: Bearer <token>" on every call; empty: none.
  std::string token;
  // TLS when set: the server is verified against `tls_roots` (PEM; empty:
  // the system roots), and `tls_cert_chain`/`tls_private_key` (PEM) are
  // presented when given (mutual TLS).
  bool use_tls = false;
  std::string tls_roots;
  std::string tls_cert_chain;
  std::string tls_private_key;
  // The name the server's certificate must carry, when it differs from the
  // address's host (e.g. a certificate for "scheduler" reached via an IP).
  std::string tls_server_name;
};

// The security a client gets from its flags/environment: the first token of
// `token_file` (empty path: none); TLS when `tls.ca` or `tls.cert` is given.
absl::StatusOr<ChannelSecurity> ChannelSecurityFrom(
    const std::string& token_file, const TlsFiles& tls);

// A channel to `address` whose every call carries the token.
std::shared_ptr<grpc::Channel> OpenChannel(const std::string& address,
                                           const ChannelSecurity& security);

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_COMMON_SECURITY_H_
