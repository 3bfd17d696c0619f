// The scheduler's HTTP side, on its own port: a read-only JSON API for
// dashboards, Prometheus /metrics, and the web dashboard at "/".
//
// Every /api/v1 route calls the ExperimentService handler that answers the
// same gRPC call (in process, no second query layer) and writes its response
// in the proto3 JSON mapping with the .proto field names (as `sslab
// --format json` does). Errors are JSON, {"error": {"code": "NOT_FOUND",
// "message": ...}}, with the HTTP status of the gRPC code; unknown paths are
// 404, other methods than GET 405, malformed ids and parameters 400. Lists
// are paged as in gRPC: follow next_page_token until it is absent.
//
//   GET
//   /api/v1/runs?state=&method=&architecture=&sweep_id=&page_size=&page_token=
//   GET /api/v1/runs/{id}                run with its jobs
//   GET /api/v1/runs/{id}/results?layer=&probe_kind=&page_size=&page_token=
//   GET /api/v1/runs/{id}/metrics?name=&max_points=   training curves
//   GET /api/v1/runs/{id}/checkpoints?page_size=&page_token=
//   GET /api/v1/sweeps?page_size=&page_token=
//   GET /api/v1/sweeps/{id}              sweep, its grid and its runs
//   GET /api/v1/sweeps/{id}/results?layer=&probe_kind=&page_size=&page_token=
//   GET /api/v1/workers?page_size=&page_token=
//   GET /api/v1/version, /api/v1/health
//   GET /metrics                         Prometheus text format
//   GET /, /app.js, /style.css, /vendor/chart.min.js   the dashboard
//
// With client tokens configured (HttpServerOptions::auth) the API and
// /metrics take the same client tokens as the gRPC API; the dashboard asks
// for one and keeps it in the browser's local storage.
//
// Thread-safety: Start() returns a serving server; Shutdown() from any
// thread, once or more.
#ifndef SSLAB_SERVICES_HTTP_HTTP_SERVER_H_
#define SSLAB_SERVICES_HTTP_HTTP_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "scheduler/scheduler.h"
#include "services/common/security.h"
#include "services/scheduler/experiment_service.h"
#include "services/scheduler/rpc_stats.h"

namespace sslab::services {

struct HttpServerOptions {
  // host:port; port 0 picks a free port (see port()). Default: loopback.
  std::string listen = "127.0.0.1:8080";
  // Requests served at once. Default: 8.
  int threads = 8;
  // When set and enabled, every route but the dashboard's static files and
  // /api/v1/health needs "Authorization: Bearer <client token>" (401
  // otherwise, 403 for a worker token). Not owned. Default: none.
  const Authenticator* auth = nullptr;
  // HTTPS with this certificate chain and key (PEM; `ca` unused) when
  // `cert` is set. Default: plain HTTP.
  TlsFiles tls;
};

class HttpServer {
 public:
  // None of the pointers is owned; all must outlive the server. UNAVAILABLE
  // if the address cannot be bound, INVALID_ARGUMENT if it is malformed.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      ExperimentServiceImpl* experiments, scheduler::Scheduler* scheduler,
      const RpcStats* rpc_stats, const HttpServerOptions& options);

  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const;
  // Stops accepting requests and waits for the serving thread. Idempotent.
  void Shutdown();

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_HTTP_HTTP_SERVER_H_
