// The one translation unit that includes httplib.h (Debian's cpp-httplib is
// a shared library whose header pulls in OpenSSL, zlib and brotli).
#include "services/http/http_server.h"

#include <google/protobuf/util/json_util.h>
#include <httplib.h>

#include <chrono>
#include <functional>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "experiment/vocabulary.h"
#include "services/common/experiment_proto.h"
#include "services/common/grpc_status.h"
#include "services/http/metrics_page.h"
#include "services/http/web_assets.h"

namespace sslab::services {
namespace {

constexpr char kJson[] = "application/json";

// The HTTP status of a canonical code (as grpc-gateway maps them).
int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppend(&out, "\\u00", absl::Hex(c, absl::kZeroPad2));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

void WriteError(const absl::Status& status, httplib::Response& res) {
  res.status = HttpStatusOf(status.code());
  res.set_content(
      absl::StrCat("{\"error\": {\"code\": ",
                   JsonString(absl::StatusCodeToString(status.code())),
                   ", \"message\": ", JsonString(status.message()), "}}\n"),
      kJson);
}

void WriteMessage(const google::protobuf::Message& message,
                  httplib::Response& res) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  res.status = 200;
  res.set_content(json + "\n", kJson);
}

// Query parameters of one request, each named in its errors; a parameter the
// route does not know is an error (a typo should not silently match all).
class Query {
 public:
  Query(const httplib::Request& req, std::set<std::string> allowed)
      : req_(req), allowed_(std::move(allowed)) {}

  absl::Status CheckNames() const {
    for (const auto& [name, value] : req_.params) {
      if (!allowed_.count(name)) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, ": unknown parameter; one of ",
                         absl::StrJoin(allowed_, ", ")));
      }
    }
    return absl::OkStatus();
  }

  std::string Text(const std::string& name) const {
    return req_.has_param(name.c_str()) ? req_.get_param_value(name.c_str())
                                        : std::string();
  }

  std::vector<std::string> All(const std::string& name) const {
    std::vector<std::string> out;
    const size_t n = req_.get_param_value_count(name.c_str());
    for (size_t i = 0; i < n; ++i) {
      out.push_back(req_.get_param_value(name.c_str(), i));
    }
    return out;
  }

  // page_size= and page_token= of a paged list.
  template <typename Request>
  absl::Status PageInto(Request* r) const {
    SSLAB_ASSIGN_OR_RETURN(int64_t page_size, Number("page_size"));
    r->set_page_size(
        static_cast<int32_t>(std::min<int64_t>(page_size, 1 << 20)));
    r->set_page_token(Text("page_token"));
    return absl::OkStatus();
  }

  // A non-negative integer, 0 when absent.
  absl::StatusOr<int64_t> Number(const std::string& name) const {
    const std::string text = Text(name);
    if (text.empty()) return 0;
    int64_t value = 0;
    if (!absl::SimpleAtoi(text, &value) || value < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": \"", text, "\" is not a non-negative integer"));
    }
    return value;
  }

  // A vocabulary name as its proto value; UNSPECIFIED when absent.
  template <typename Domain, typename Proto>
  absl::StatusOr<Proto> Enum(const std::string& name) const {
    const std::string text = Text(name);
    if (text.empty()) return static_cast<Proto>(0);
    SSLAB_ASSIGN_OR_RETURN(Domain value,
                           experiment::ParseName<Domain>(text, name));
    return ToProto<Proto>(value);
  }

 private:
  const httplib::Request& req_;
  const std::set<std::string> allowed_;
};

// The id in a route's first capture group.
absl::StatusOr<int64_t> PathId(const httplib::Request& req,
                               absl::string_view what) {
  int64_t id = 0;
  const std::string text = req.matches[1];
  if (!absl::SimpleAtoi(text, &id) || id <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": \"", text, "\" is not an id (a positive integer)"));
  }
  return id;
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(ExperimentServiceImpl* experiments, scheduler::Scheduler* scheduler,
       const RpcStats* rpc_stats, const HttpServerOptions& options)
      : experiments_(experiments),
        scheduler_(scheduler),
        rpc_stats_(rpc_stats),
        options_(options) {}

  absl::Status Start() {
    const size_t colon = options_.listen.rfind(':');
    int port = -1;
    if (colon == std::string::npos ||
        !absl::SimpleAtoi(options_.listen.substr(colon + 1), &port) ||
        port < 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          "http listen: \"", options_.listen, "\" is not host:port"));
    }
    std::string host = options_.listen.substr(0, colon);
    if (host.size() > 1 && host.front() == '[')
      host = host.substr(1, host.size() - 2);
    if (options_.tls.cert.empty()) {
      server_ = std::make_unique<httplib::Server>();
    } else {
      auto https = std::make_unique<httplib::SSLServer>(
          options_.tls.cert.c_str(), options_.tls.key.c_str());
      if (!https->is_valid()) {
        return absl::InvalidArgumentError(
            absl::StrCat("http: cannot serve TLS with certificate ",
                         options_.tls.cert, " and key ", options_.tls.key,
                         " (missing, unreadable or not a matching PEM pair)"));
      }
      server_ = std::move(https);
    }
    const int threads = std::max(1, options_.threads);
    server_->new_task_queue = [threads] {
      return new httplib::ThreadPool(threads);
    };
    // Headers and body go out as separate writes: without TCP_NODELAY,
    // Nagle's algorithm and the client's delayed ACK add 40 ms to some.
    server_->set_tcp_nodelay(true);
    Routes();
    port_ = port == 0 ? server_->bind_to_any_port(host)
                      : (server_->bind_to_port(host, port) ? port : -1);
    if (port_ <= 0) {
      return absl::UnavailableError(
          absl::StrCat("http: cannot listen on ", options_.listen));
    }
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    // stop() is a no-op until the listener runs: wait for it.
    while (!server_->is_running()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return absl::OkStatus();
  }

  int port() const { return port_; }

  void Shutdown() {
    std::call_once(stopped_, [this] {
      if (server_) server_->stop();
      if (thread_.joinable()) thread_.join();
    });
  }

 private:
  using Call =
      std::function<absl::Status(const httplib::Request&, httplib::Response&)>;

  // A GET route whose handler may fail with a status; `open` routes need no
  // token.
  void Get(const std::string& pattern, Call call, bool open = false) {
    const Authenticator* auth = open ? nullptr : options_.auth;
    server_->Get(
        pattern, [call = std::move(call), auth](const httplib::Request& req,
                                                httplib::Response& res) {
          absl::Status status;
          try {
            if (auth != nullptr) {
              status = auth->Check(req.get_header_value("Authorization"),
                                   Role::kClient);
            }
            if (status.ok()) status = call(req, res);
          } catch (const std::exception& e) {
            SSLAB_LOG(ERROR) << "http " << req.path << ": " << e.what();
            status = absl::InternalError("internal error in the scheduler");
          }
          if (!status.ok()) WriteError(status, res);
        });
  }

  // Runs an ExperimentService handler in process and writes its answer.
  template <typename Request, typename Response, typename Method>
  absl::Status Serve(Method method, const Request& request,
                     httplib::Response& res) {
    Response response;
    const grpc::Status status =
        (experiments_->*method)(nullptr, &request, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    WriteMessage(response, res);
    return absl::OkStatus();
  }

  void Routes() {
    using Svc = ExperimentServiceImpl;
    Get("/api/v1/version", [this](const auto&, auto& res) {
      return Serve<v1::GetVersionRequest, v1::GetVersionResponse>(
          &Svc::GetVersion, {}, res);
    });
    Get(
        "/api/v1/health",
        [](const auto&, auto& res) {
          res.set_content("{\"status\": \"SERVING\"}\n", kJson);
          return absl::OkStatus();
        },
        /*open=*/true);
    Get("/api/v1/runs", [this](const auto& req, auto& res) -> absl::Status {
      Query q(req, {"state", "method", "architecture", "sweep_id", "page_size",
                    "page_token"});
      SSLAB_RETURN_IF_ERROR(q.CheckNames());
      v1::ListRunsRequest r;
      SSLAB_ASSIGN_OR_RETURN(
          auto state, (q.Enum<experiment::RunState, v1::RunState>("state")));
      r.set_state(state);
      SSLAB_ASSIGN_OR_RETURN(
          auto method, (q.Enum<experiment::Method, v1::Method>("method")));
      r.set_method(method);
      SSLAB_ASSIGN_OR_RETURN(
          auto architecture,
          (q.Enum<experiment::Architecture, v1::Architecture>("architecture")));
      r.set_architecture(architecture);
      SSLAB_ASSIGN_OR_RETURN(int64_t sweep, q.Number("sweep_id"));
      r.set_sweep_id(sweep);
      SSLAB_RETURN_IF_ERROR(q.PageInto(&r));
      return Serve<v1::ListRunsRequest, v1::ListRunsResponse>(&Svc::ListRuns, r,
                                                              res);
    });
    Get(R"(/api/v1/runs/([^/]+))",
        [this](const auto& req, auto& res) -> absl::Status {
          SSLAB_RETURN_IF_ERROR(Query(req, {}).CheckNames());
          v1::GetRunRequest r;
          SSLAB_ASSIGN_OR_RETURN(int64_t id, PathId(req, "run_id"));
          r.set_run_id(id);
          return Serve<v1::GetRunRequest, v1::GetRunResponse>(&Svc::GetRun, r,
                                                              res);
        });
    Get(R"(/api/v1/runs/([^/]+)/results)",
        [this](const auto& req, auto& res) -> absl::Status {
          v1::QueryResultsRequest r;
          SSLAB_ASSIGN_OR_RETURN(int64_t id, PathId(req, "run_id"));
          r.set_run_id(id);
          SSLAB_RETURN_IF_ERROR(ResultFilters(req, &r));
          return Serve<v1::QueryResultsRequest, v1::QueryResultsResponse>(
              &Svc::QueryResults, r, res);
        });
    Get(R"(/api/v1/runs/([^/]+)/metrics)",
        [this](const auto& req, auto& res) -> absl::Status {
          Query q(req, {"name", "max_points"});
          SSLAB_RETURN_IF_ERROR(q.CheckNames());
          v1::GetMetricHistoryRequest r;
          SSLAB_ASSIGN_OR_RETURN(int64_t id, PathId(req, "run_id"));
          r.set_run_id(id);
          for (const std::string& name : q.All("name")) r.add_names(name);
          SSLAB_ASSIGN_OR_RETURN(int64_t max_points, q.Number("max_points"));
          r.set_max_points(
              static_cast<int32_t>(std::min<int64_t>(max_points, 1 << 20)));
          return Serve<v1::GetMetricHistoryRequest,
                       v1::GetMetricHistoryResponse>(&Svc::GetMetricHistory, r,
                                                     res);
        });
    Get(R"(/api/v1/runs/([^/]+)/checkpoints)",
        [this](const auto& req, auto& res) -> absl::Status {
          Query q(req, {"page_size", "page_token"});
          SSLAB_RETURN_IF_ERROR(q.CheckNames());
          v1::ListCheckpointsRequest r;
          SSLAB_ASSIGN_OR_RETURN(int64_t id, PathId(req, "run_id"));
          r.set_run_id(id);
          SSLAB_RETURN_IF_ERROR(q.PageInto(&r));
          return Serve<v1::ListCheckpointsRequest, v1::ListCheckpointsResponse>(
              &Svc::ListCheckpoints, r, res);
        });
    Get("/api/v1/sweeps", [this](const auto& req, auto& res) -> absl::Status {
      Query q(req, {"page_size", "page_token"});
      SSLAB_RETURN_IF_ERROR(q.CheckNames());
      v1::ListSweepsRequest r;
      SSLAB_RETURN_IF_ERROR(q.PageInto(&r));
      return Serve<v1::ListSweepsRequest, v1::ListSweepsResponse>(
          &Svc::ListSweeps, r, res);
    });
    Get(R"(/api/v1/sweeps/([^/]+))",
        [this](const auto& req, auto& res) -> absl::Status {
          SSLAB_RETURN_IF_ERROR(Query(req, {}).CheckNames());
          v1::GetSweepRequest r;
          SSLAB_ASSIGN_OR_RETURN(int64_t id, PathId(req, "sweep_id"));
          r.set_sweep_id(id);
          return Serve<v1::GetSweepRequest, v1::GetSweepResponse>(
              &Svc::GetSweep, r, res);
        });
    Get(R"(/api/v1/sweeps/([^/]+)/results)",
        [this](const auto& req, auto& res) -> absl::Status {
          v1::QueryResultsRequest r;
          SSLAB_ASSIGN_OR_RETURN(int64_t id, PathId(req, "sweep_id"));
          r.set_sweep_id(id);
          SSLAB_RETURN_IF_ERROR(ResultFilters(req, &r));
          return Serve<v1::QueryResultsRequest, v1::QueryResultsResponse>(
              &Svc::QueryResults, r, res);
        });
    Get("/api/v1/workers", [this](const auto& req, auto& res) -> absl::Status {
      Query q(req, {"page_size", "page_token"});
      SSLAB_RETURN_IF_ERROR(q.CheckNames());
      v1::ListWorkersRequest r;
      SSLAB_RETURN_IF_ERROR(q.PageInto(&r));
      return Serve<v1::ListWorkersRequest, v1::ListWorkersResponse>(
          &Svc::ListWorkers, r, res);
    });
    Get("/metrics", [this](const auto&, auto& res) -> absl::Status {
      SSLAB_ASSIGN_OR_RETURN(scheduler::Census census,
                             scheduler_->TakeCensus());
      res.set_content(
          RenderMetricsPage(census, scheduler_->Stats(),
                            rpc_stats_ ? rpc_stats_->Latencies()
                                       : std::map<std::string, Histogram>()),
          "text/plain; version=0.0.4; charset=utf-8");
      return absl::OkStatus();
    });
    for (const WebAsset& asset : WebAssets()) {
      const WebAsset* a = &asset;
      auto serve = [a](const httplib::Request&, httplib::Response& res) {
        res.set_content(reinterpret_cast<const char*>(a->data), a->size,
                        a->content_type);
      };
      server_->Get(a->path, serve);
      if (std::string(a->path) == "/index.html") server_->Get("/", serve);
    }
    // Anything else: a JSON 404 (or 405 for other methods than GET).
    // httplib calls this for every status >= 400; routes write their own
    // bodies, so only unrouted requests (no body yet) are answered here.
    server_->set_error_handler([](const httplib::Request& req,
                                  httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 404 && req.method != "GET" && req.method != "HEAD") {
        res.status = 405;
      }
      if (res.status == 404) {
        WriteError(
            absl::NotFoundError(absl::StrCat("no such path: ", req.path)), res);
      } else if (res.status == 405) {
        WriteError(absl::Status(absl::StatusCode::kUnimplemented,
                                absl::StrCat(req.method,
                                             " is not served; "
                                             "the API is read-only")),
                   res);
        res.status = 405;
      }
    });
  }

  // layer=, probe_kind= and the page of the results routes.
  static absl::Status ResultFilters(const httplib::Request& req,
                                    v1::QueryResultsRequest* r) {
    Query q(req, {"layer", "probe_kind", "page_size", "page_token"});
    SSLAB_RETURN_IF_ERROR(q.CheckNames());
    SSLAB_RETURN_IF_ERROR(q.PageInto(r));
    r->set_layer(q.Text("layer"));
    SSLAB_ASSIGN_OR_RETURN(
        auto kind,
        (q.Enum<experiment::ProbeKind, v1::ProbeKind>("probe_kind")));
    r->set_probe_kind(kind);
    return absl::OkStatus();
  }

  ExperimentServiceImpl* const experiments_;
  scheduler::Scheduler* const scheduler_;
  const RpcStats* const rpc_stats_;
  const HttpServerOptions options_;
  // An httplib::SSLServer with options_.tls.
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
  std::once_flag stopped_;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    ExperimentServiceImpl* experiments, scheduler::Scheduler* scheduler,
    const RpcStats* rpc_stats, const HttpServerOptions& options) {
  auto impl =
      std::make_unique<Impl>(experiments, scheduler, rpc_stats, options);
  SSLAB_RETURN_IF_ERROR(impl->Start());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { impl_->Shutdown(); }
int HttpServer::port() const { return impl_->port(); }
void HttpServer::Shutdown() { impl_->Shutdown(); }

}  // namespace sslab::services
