#include "services/common/security.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/client_interceptor.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace sslab::services {
namespace {

// Compares without an early exit, so the time taken does not tell an
// attacker how much of a guess was right.
bool SameSecret(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

bool Contains(const std::vector<std::string>& tokens, absl::string_view token) {
  bool found = false;
  for (const std::string& t : tokens) found |= SameSecret(t, token);
  return found;
}

absl::StatusOr<std::string> ReadPem(const std::string& path,
                                    absl::string_view what) {
  absl::StatusOr<std::string> pem = ReadFileToString(path);
  if (!pem.ok()) return pem.status();
  if (!absl::StrContains(*pem, "-----BEGIN ")) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a PEM file (", what, ")"));
  }
  return pem;
}

// Adds the bearer token to every call's initial metadata.
class BearerToken final : public grpc::experimental::Interceptor {
 public:
  explicit BearerToken(const std::string* header) : header_(header) {}
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", *header_);
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

class BearerTokenFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenFactory(const std::string& token)
      : header_(absl::StrCat("Bearer ", token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerToken(&header_);
  }

 private:
  const std::string header_;
};

}  // namespace

absl::StatusOr<std::vector<std::string>> ReadTokenFile(
    const std::string& path) {
  SSLAB_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  std::vector<std::string> tokens;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.size() < kMinTokenLength) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": a token is ", line.size(), " characters; at least ",
          kMinTokenLength, " are required (e.g. `openssl rand -hex 32`)"));
    }
    tokens.emplace_back(line);
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": holds no token"));
  }
  return tokens;
}

absl::StatusOr<Authenticator> Authenticator::FromFiles(
    const std::string& client_tokens_file,
    const std::string& worker_tokens_file) {
  if (client_tokens_file.empty() || worker_tokens_file.empty()) {
    return absl::InvalidArgumentError(
        "token files: give both the client and the worker tokens file (one "
        "alone would leave the other API open)");
  }
  Authenticator auth;
  SSLAB_ASSIGN_OR_RETURN(auth.tokens_[0], ReadTokenFile(client_tokens_file));
  SSLAB_ASSIGN_OR_RETURN(auth.tokens_[1], ReadTokenFile(worker_tokens_file));
  for (const std::string& token : auth.tokens_[0]) {
    if (Contains(auth.tokens_[1], token)) {
      return absl::InvalidArgumentError(absl::StrCat(
          worker_tokens_file, ": a worker token is also in ",
          client_tokens_file, "; clients and workers need different tokens"));
    }
  }
  return auth;
}

absl::Status Authenticator::Check(absl::string_view authorization,
                                  Role role) const {
  if (!enabled()) return absl::OkStatus();
  constexpr absl::string_view kScheme = "Bearer ";
  if (authorization.empty()) {
    return absl::UnauthenticatedError(
        "this server requires a token (authorization: Bearer ...)");
  }
  if (!absl::StartsWithIgnoreCase(authorization, kScheme)) {
    return absl::UnauthenticatedError(
        "authorization: expected \"Bearer <token>\"");
  }
  const absl::string_view token =
      absl::StripAsciiWhitespace(authorization.substr(kScheme.size()));
  const int wanted = role == Role::kClient ? 0 : 1;
  if (Contains(tokens_[wanted], token)) return absl::OkStatus();
  if (Contains(tokens_[1 - wanted], token)) {
    return absl::PermissionDeniedError(
        role == Role::kClient ? "a worker token cannot call the experiment API"
                              : "a client token cannot call the worker API");
  }
  return absl::UnauthenticatedError("unknown token");
}

absl::Status Authenticator::Check(const grpc::ServerContext* context,
                                  Role role) const {
  if (context == nullptr || !enabled()) return absl::OkStatus();
  const auto& metadata = context->client_metadata();
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) return Check(absl::string_view(), role);
  return Check(absl::string_view(it->second.data(), it->second.size()), role);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const TlsFiles& tls) {
  if (tls.cert.empty()) {
    if (!tls.key.empty() || !tls.ca.empty()) {
      return absl::InvalidArgumentError(
          "TLS: a key or client CA was given without a certificate");
    }
    return grpc::InsecureServerCredentials();
  }
  if (tls.key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS: ", tls.cert, " needs its private key file"));
  }
  grpc::SslServerCredentialsOptions options;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  SSLAB_ASSIGN_OR_RETURN(pair.cert_chain, ReadPem(tls.cert, "certificate"));
  SSLAB_ASSIGN_OR_RETURN(pair.private_key, ReadPem(tls.key, "private key"));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!tls.ca.empty()) {
    SSLAB_ASSIGN_OR_RETURN(options.pem_root_certs,
                           ReadPem(tls.ca, "client CA"));
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<ChannelSecurity> ChannelSecurityFrom(
    const std::string& token_file, const TlsFiles& tls) {
  ChannelSecurity security;
  if (!token_file.empty()) {
    SSLAB_ASSIGN_OR_RETURN(std::vector<std::string> tokens,
                           ReadTokenFile(token_file));
    security.token = tokens.front();
  }
  security.use_tls = !tls.ca.empty() || !tls.cert.empty();
  if (tls.cert.empty() != tls.key.empty()) {
    return absl::InvalidArgumentError(
        "TLS: a client certificate needs its key, and a key its certificate");
  }
  if (!tls.ca.empty()) {
    SSLAB_ASSIGN_OR_RETURN(security.tls_roots, ReadPem(tls.ca, "server CA"));
  }
  if (!tls.cert.empty()) {
    SSLAB_ASSIGN_OR_RETURN(security.tls_cert_chain,
                           ReadPem(tls.cert, "client certificate"));
    SSLAB_ASSIGN_OR_RETURN(security.tls_private_key,
                           ReadPem(tls.key, "client key"));
  }
  return security;
}

std::shared_ptr<grpc::Channel> OpenChannel(const std::string& address,
                                           const ChannelSecurity& security) {
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  grpc::ChannelArguments args;
  if (security.use_tls) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = security.tls_roots;
    options.pem_cert_chain = security.tls_cert_chain;
    options.pem_private_key = security.tls_private_key;
    credentials = grpc::SslCredentials(options);
    if (!security.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(security.tls_server_name);
    }
  }
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  if (!security.token.empty()) {
    interceptors.push_back(
        std::make_unique<BearerTokenFactory>(security.token));
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      address, credentials, args, std::move(interceptors));
}

}  // namespace sslab::services
