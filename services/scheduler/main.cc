// sslab-scheduler: owns the SQLite database and the job queue, serves
// ExperimentService (CLI, dashboards) and WorkerService (workers) over gRPC,
// with health checking and reflection. Logs to stderr; SIGTERM/SIGINT shut
// it down cleanly.
//
// Flags (environment fallback in parentheses):
//   --listen (SSLAB_LISTEN)  host:port, default 127.0.0.1:50051; port 0 picks
//                            a free port, logged and written to --port-file
//   --db (SSLAB_DB)          database file, default ./var/sslab.db
//   --data-dir (SSLAB_DATA_DIR) artifact directory, created if missing
//   --lease-seconds (SSLAB_LEASE_SECONDS) lease duration, default 30
//   --max-attempts (SSLAB_MAX_ATTEMPTS) leases a job of a run submitted from
//                            now on gets before it fails for good, default 3
//   --port-file              write the bound port here once serving
//   --http-listen (SSLAB_HTTP_LISTEN) host:port of the JSON API, /metrics and
//                            the dashboard, default 127.0.0.1:8080; "" = off
//   --http-port-file         write the bound HTTP port here once serving
//   --max-page-size (SSLAB_MAX_PAGE_SIZE) rows per page of any list at most,
//                            default 1000
// Artifact lifecycle (needs --data-dir; scheduler/internal/retention.h):
//   --keep-checkpoints (SSLAB_KEEP_CHECKPOINTS) keep the last N checkpoints
//                            besides evaluated and final ones, default 1; 0 all
//   --keep-features (SSLAB_KEEP_FEATURES) keep feature shards after probes
//   --auto-gc (SSLAB_AUTO_GC) apply retention as jobs complete, default true
// Security (services/common/security.h; README "Security"):
//   --client-tokens-file (SSLAB_CLIENT_TOKENS_FILE)  tokens of the CLI and
//                            dashboards, one per line
//   --worker-tokens-file (SSLAB_WORKER_TOKENS_FILE)  tokens of the workers
//   --tls-cert, --tls-key (SSLAB_TLS_CERT, SSLAB_TLS_KEY)  serve gRPC over TLS
//                            and the HTTP side over HTTPS
//   --worker-listen (SSLAB_WORKER_LISTEN)  the worker API's own host:port
//   --worker-tls-client-ca (SSLAB_WORKER_TLS_CLIENT_CA)  workers must present
//                            a certificate signed by this CA (mutual TLS;
//                            needs --worker-listen and --tls-cert)
//   --allow-unauthenticated  serve a non-loopback address without tokens
// Logs (services/common/log_flags.h): --log-format text|json, --log-level.
//
// `sslab-scheduler backup --db FILE --to COPY` writes a consistent copy of
// the database, also while a scheduler serves it, and checks the copy.
#include <pthread.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "common/build_info.h"
#include "common/files.h"
#include "common/log.h"
#include "common/shutdown_signals.h"
#include "scheduler/clock.h"
#include "scheduler/scheduler.h"
#include "services/common/log_flags.h"
#include "services/common/security.h"
#include "services/http/http_server.h"
#include "services/scheduler/scheduler_server.h"
#include "storage/store.h"

#ifndef SSLAB_VERSION
#define SSLAB_VERSION "unknown"
#endif

namespace sslab {
namespace {

using services::AddLogFlags;
using services::Authenticator;
using services::LogFlags;
using services::TlsFiles;

// `sslab-scheduler backup`: a second, non-exclusive connection copies the
// database with SQLite's online backup API while the scheduler goes on.
int Backup(const std::string& db, const std::string& to) {
  if (!std::filesystem::exists(db)) {
    std::cerr << "sslab-scheduler backup: no database at " << db << "\n";
    return 1;
  }
  storage::StoreOptions options;
  options.exclusive = false;
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::Store::Open(db, options);
  absl::Status status = store.ok() ? (*store)->Backup(to) : store.status();
  if (!status.ok()) {
    std::cerr << "sslab-scheduler backup: " << status << "\n";
    return 1;
  }
  std::cout << "backed up " << db << " to " << to << " ("
            << std::filesystem::file_size(to) << " bytes, integrity ok)\n";
  return 0;
}

// Whether host:port names this machine only.
bool IsLoopback(const std::string& address) {
  const std::string host = address.substr(0, address.rfind(':'));
  return host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

int Main(int argc, char** argv) {
  absl::StatusOr<ShutdownSignals*> signals = ShutdownSignals::Install();
  if (!signals.ok()) {
    std::cerr << "sslab-scheduler: " << signals.status() << "\n";
    return 1;
  }

  CLI::App app{"sslab-scheduler: sslab's scheduler and API server"};
  std::string listen = "127.0.0.1:50051";
  std::string db = "./var/sslab.db";
  std::string data_dir;
  std::string port_file;
  std::string http_listen = "127.0.0.1:8080";
  std::string http_port_file;
  double lease_seconds = 30;
  double expire_seconds = 2;
  int max_attempts = scheduler::SchedulerOptions().max_attempts;
  std::string client_tokens_file;
  std::string worker_tokens_file;
  TlsFiles tls;
  std::string worker_listen;
  std::string worker_client_ca;
  bool allow_unauthenticated = false;
  app.add_option("--listen", listen, "host:port (port 0: any free port)")
      ->envname("SSLAB_LISTEN")
      ->capture_default_str();
  app.add_option("--db", db, "SQLite database file")
      ->envname("SSLAB_DB")
      ->capture_default_str();
  app.add_option("--data-dir", data_dir, "artifact directory")
      ->envname("SSLAB_DATA_DIR");
  app.add_option("--lease-seconds", lease_seconds, "job lease duration")
      ->envname("SSLAB_LEASE_SECONDS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-attempts", max_attempts,
                 "leases a job gets before it fails for good (lost workers "
                 "and retryable failures count); applies to runs submitted "
                 "from now on")
      ->envname("SSLAB_MAX_ATTEMPTS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--expire-interval-seconds", expire_seconds,
                 "how often expired leases are requeued")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--port-file", port_file,
                 "write the bound port to this file once serving");
  app.add_option("--http-listen", http_listen,
                 "host:port of the JSON API, /metrics and the dashboard, "
                 "default 127.0.0.1:8080 (port 0: any free port; empty: no "
                 "HTTP)")
      // "--http-listen=" is empty, not the next argument. (No captured
      // default: CLI11 would give it to an empty value.)
      ->expected(0, 1)
      ->envname("SSLAB_HTTP_LISTEN");
  app.add_option("--http-port-file", http_port_file,
                 "write the bound HTTP port to this file once serving");
  app.add_option("--client-tokens-file", client_tokens_file,
                 "tokens the CLI and dashboards must present, one per line")
      ->envname("SSLAB_CLIENT_TOKENS_FILE");
  app.add_option("--worker-tokens-file", worker_tokens_file,
                 "tokens the workers must present, one per line")
      ->envname("SSLAB_WORKER_TOKENS_FILE");
  app.add_option("--tls-cert", tls.cert, "serve gRPC over TLS: certificate")
      ->envname("SSLAB_TLS_CERT");
  app.add_option("--tls-key", tls.key, "the certificate's private key")
      ->envname("SSLAB_TLS_KEY");
  app.add_option("--worker-listen", worker_listen,
                 "serve the worker API on this host:port instead")
      ->expected(0, 1)
      ->envname("SSLAB_WORKER_LISTEN");
  app.add_option("--worker-tls-client-ca", worker_client_ca,
                 "workers must present a certificate signed by this CA")
      ->envname("SSLAB_WORKER_TLS_CLIENT_CA");
  app.add_flag("--allow-unauthenticated", allow_unauthenticated,
               "serve a non-loopback address without tokens");
  scheduler::RetentionOptions retention;
  bool auto_gc = true;
  app.add_option("--keep-checkpoints", retention.keep_last_checkpoints,
                 "checkpoints retention keeps besides the evaluated and final "
                 "ones: the last N (0: every checkpoint)")
      ->envname("SSLAB_KEEP_CHECKPOINTS")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--keep-features", retention.keep_features,
               "keep feature shards after their probes succeeded (default: "
               "deleted unless the run is pinned)")
      ->envname("SSLAB_KEEP_FEATURES");
  app.add_option("--auto-gc", auto_gc,
                 "apply retention to the artifact directory as jobs complete "
                 "(false: only `sslab gc` deletes)")
      ->envname("SSLAB_AUTO_GC")
      ->capture_default_str();
  int max_page_size = scheduler::SchedulerOptions().max_page_size;
  app.add_option("--max-page-size", max_page_size,
                 "rows per page of any list at most (bounds each answer)")
      ->envname("SSLAB_MAX_PAGE_SIZE")
      ->check(CLI::Range(1, max_page_size))
      ->capture_default_str();
  LogFlags log_flags;
  AddLogFlags(app, &log_flags);
  std::string backup_to;
  app.fallthrough();  // --db also after "backup"
  CLI::App* backup = app.add_subcommand(
      "backup",
      "write a consistent copy of --db (also while a scheduler serves it)");
  backup->add_option("--to", backup_to, "the copy's path")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  log_flags.Apply();

  if (backup->parsed()) return Backup(db, backup_to);

  Authenticator auth;
  if (!client_tokens_file.empty() || !worker_tokens_file.empty()) {
    absl::StatusOr<Authenticator> loaded =
        Authenticator::FromFiles(client_tokens_file, worker_tokens_file);
    if (!loaded.ok()) {
      std::cerr << "sslab-scheduler: " << loaded.status().message() << "\n";
      return 2;
    }
    auth = *std::move(loaded);
  }
  if (!worker_client_ca.empty() &&
      (worker_listen.empty() || tls.cert.empty())) {
    std::cerr << "sslab-scheduler: --worker-tls-client-ca needs "
                 "--worker-listen and --tls-cert\n";
    return 2;
  }
  for (const std::string& address : {listen, http_listen, worker_listen}) {
    if (address.empty() || IsLoopback(address) || auth.enabled() ||
        allow_unauthenticated) {
      continue;
    }
    std::cerr << "sslab-scheduler: " << address
              << " is reachable from other machines, and no tokens are set: "
                 "anyone there could submit, cancel and fail runs. Give "
                 "--client-tokens-file and --worker-tokens-file (README, "
                 "\"Security\"), or --allow-unauthenticated on a trusted "
                 "network.\n";
    return 2;
  }

  std::error_code ec;
  const std::filesystem::path db_dir = std::filesystem::path(db).parent_path();
  if (!db_dir.empty()) std::filesystem::create_directories(db_dir, ec);
  if (ec) {
    SSLAB_LOG(ERROR) << "cannot create " << db_dir << ": " << ec.message();
    return 1;
  }
  if (!data_dir.empty()) {
    std::filesystem::create_directories(data_dir, ec);
    if (ec) {
      SSLAB_LOG(ERROR) << "cannot create " << data_dir << ": " << ec.message();
      return 1;
    }
  }

  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::Store::Open(db);
  if (!store.ok()) {
    SSLAB_LOG(ERROR) << "cannot open the database " << db << ": "
                     << store.status();
    return 1;
  }
  scheduler::SchedulerOptions scheduler_options;
  scheduler_options.lease_duration = absl::Seconds(lease_seconds);
  scheduler_options.max_attempts = max_attempts;
  scheduler_options.max_page_size = max_page_size;
  scheduler_options.retention = retention;
  scheduler_options.default_page_size =
      std::min(scheduler_options.default_page_size, max_page_size);
  scheduler_options.versions = {
      {"sslab", SSLAB_VERSION}, {"api", "sslab.v1"}, {"git", BuildCommit()}};
  absl::StatusOr<std::unique_ptr<scheduler::Scheduler>> sched =
      scheduler::Scheduler::Create(*std::move(store), scheduler::Clock::Real(),
                                   scheduler_options);
  if (!sched.ok()) {
    SSLAB_LOG(ERROR) << "cannot start the scheduler: " << sched.status();
    return 1;
  }

  services::SchedulerServerOptions server_options;
  server_options.listen = listen;
  server_options.expire_interval = absl::Seconds(expire_seconds);
  server_options.auth = auth;
  server_options.tls = tls;
  server_options.worker_listen = worker_listen;
  server_options.worker_tls = tls;
  server_options.worker_tls.ca = worker_client_ca;
  server_options.artifact_dir = data_dir;
  server_options.auto_gc = auto_gc;
  absl::StatusOr<std::unique_ptr<services::SchedulerServer>> server =
      services::SchedulerServer::Start(sched->get(), server_options);
  if (!server.ok()) {
    SSLAB_LOG(ERROR) << server.status();
    return 1;
  }
  std::unique_ptr<services::HttpServer> http;
  if (!http_listen.empty()) {
    services::HttpServerOptions http_options;
    http_options.listen = http_listen;
    http_options.auth = &server_options.auth;
    http_options.tls.cert = tls.cert;
    http_options.tls.key = tls.key;
    absl::StatusOr<std::unique_ptr<services::HttpServer>> started =
        services::HttpServer::Start((*server)->experiments(), sched->get(),
                                    (*server)->rpc_stats(), http_options);
    if (!started.ok()) {
      SSLAB_LOG(ERROR) << started.status();
      (*server)->Shutdown();
      return 1;
    }
    http = *std::move(started);
  }
  const int port = (*server)->port();
  // Port files first (the gRPC one last): whoever reads the log line, or
  // sees the --port-file, may then read them all.
  for (const auto& [file, bound] :
       {std::pair<std::string, int>{http_port_file, http ? http->port() : 0},
        {port_file, port}}) {
    if (file.empty()) continue;
    absl::Status written = WriteFileAtomically(file, absl::StrCat(bound, "\n"));
    if (!written.ok()) {
      SSLAB_LOG(ERROR) << "cannot write " << file << ": " << written;
      (*server)->Shutdown();
      return 1;
    }
  }
  SSLAB_LOG(INFO) << "sslab-scheduler " << SSLAB_VERSION << " listening on "
                  << listen.substr(0, listen.rfind(':')) << ":" << port
                  << " (db " << db << "; "
                  << (auth.enabled() ? "tokens required" : "no tokens") << ", "
                  << (tls.cert.empty() ? "plaintext" : "TLS") << ")";
  if (!worker_listen.empty()) {
    SSLAB_LOG(INFO) << "worker API on "
                    << worker_listen.substr(0, worker_listen.rfind(':')) << ":"
                    << (*server)->worker_port()
                    << (worker_client_ca.empty() ? ""
                                                 : " (client certificates)");
  }
  if (http) {
    SSLAB_LOG(INFO) << "dashboard, JSON API and /metrics on "
                    << (tls.cert.empty() ? "http" : "https") << "://"
                    << http_listen.substr(0, http_listen.rfind(':')) << ":"
                    << http->port() << "/";
  }

  const int signal_number = (*signals)->Wait();
  SSLAB_LOG(INFO) << "signal " << signal_number << ": shutting down";
  if (http) http->Shutdown();
  (*server)->Shutdown();
  server->reset();
  sched->reset();  // closes the database
  SSLAB_LOG(INFO) << "stopped";
  return 0;
}

}  // namespace
}  // namespace sslab

int main(int argc, char** argv) { return sslab::Main(argc, argv); }
