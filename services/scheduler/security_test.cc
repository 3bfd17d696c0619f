// The scheduler's server with tokens and TLS, in process on loopback port 0,
// called by real gRPC and HTTP clients: who gets in, who does not, and with
// which code.
#include "services/common/security.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/testing/status_matchers.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "scheduler/clock.h"
#include "scheduler/scheduler.h"
#include "services/common/grpc_status.h"
#include "services/http/http_server.h"
#include "services/scheduler/scheduler_server.h"
#include "sslab/v1/experiment_service.grpc.pb.h"
#include "sslab/v1/worker_service.grpc.pb.h"
#include "storage/store.h"

namespace sslab::services {
namespace {

namespace fs = std::filesystem;
using ::sslab::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kClientToken[] = "client-token-0123456789abcdef";
constexpr char kWorkerToken[] = "worker-token-0123456789abcdef";

fs::path TestDir() {
  fs::path dir =
      fs::path(::testing::TempDir()) /
      absl::StrCat(
          "sslab_security_test_", getpid(), "_",
          ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void Write(const fs::path& path, const std::string& text) {
  ASSERT_TRUE(WriteFileAtomically(path, text).ok()) << path;
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(20));
  return ctx;
}

// ---- token files
// --------------------------------------------------------------

// ---- TLS files, refused before anything listens or dials

TEST(TlsFilesTest, UnusableFilesAreRefusedNamingThem) {
  const fs::path dir = TestDir();
  const std::string text = (dir / "cert.txt").string();
  Write(text, "not a certificate\n");
  const std::string missing = (dir / "missing.pem").string();
  auto server = [](TlsFiles tls) { return ServerCredentials(tls).status(); };
  EXPECT_THAT(server({text, text, ""}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cert.txt: not a PEM file (certificate)")));
  EXPECT_THAT(server({text, "", ""}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cert.txt needs its private key file")));
  EXPECT_THAT(server({"", text, ""}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("without a certificate")));
  EXPECT_THAT(server({"", "", text}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("without a certificate")));
  EXPECT_THAT(server({missing, text, ""}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.pem")));
  auto client = [](TlsFiles tls) {
    return ChannelSecurityFrom("", tls).status();
  };
  EXPECT_THAT(client({"", "", text}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a PEM file (server CA)")));
  EXPECT_THAT(client({text, "", ""}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("a client certificate needs its key")));
  EXPECT_THAT(client({"", text, ""}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("a key its certificate")));
}

TEST(TokenFileTest, ReadsOneTokenPerLineSkippingCommentsAndBlanks) {
  const fs::path dir = TestDir();
  Write(dir / "t", absl::StrCat("# team tokens\n\n  ", kClientToken, "  \n",
                                kWorkerToken, "\n"));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> tokens,
                       ReadTokenFile((dir / "t").string()));
  EXPECT_THAT(tokens, ::testing::ElementsAre(kClientToken, kWorkerToken));
}

TEST(TokenFileTest, RefusesShortTokensAndEmptyFilesNamingTheFile) {
  const fs::path dir = TestDir();
  Write(dir / "short", "hunter2\n");
  EXPECT_THAT(ReadTokenFile((dir / "short").string()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr((dir / "short").string())));
  Write(dir / "empty", "# nothing yet\n");
  EXPECT_THAT(ReadTokenFile((dir / "empty").string()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("holds no token")));
  EXPECT_THAT(ReadTokenFile((dir / "missing").string()),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(AuthenticatorTest, NeedsBothFilesAndDistinctTokens) {
  const fs::path dir = TestDir();
  Write(dir / "client", kClientToken);
  Write(dir / "worker", absl::StrCat(kWorkerToken, "\n", kClientToken));
  EXPECT_THAT(Authenticator::FromFiles((dir / "client").string(), ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("both")));
  EXPECT_THAT(Authenticator::FromFiles((dir / "client").string(),
                                       (dir / "worker").string()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("different tokens")));
}

TEST(AuthenticatorTest, ChecksTheBearerHeaderPerRole) {
  const fs::path dir = TestDir();
  Write(dir / "client", kClientToken);
  Write(dir / "worker", kWorkerToken);
  ASSERT_OK_AND_ASSIGN(Authenticator auth,
                       Authenticator::FromFiles((dir / "client").string(),
                                                (dir / "worker").string()));
  EXPECT_TRUE(auth.enabled());
  EXPECT_OK(auth.Check(absl::StrCat("Bearer ", kClientToken), Role::kClient));
  EXPECT_OK(auth.Check(absl::StrCat("bearer ", kWorkerToken), Role::kWorker));
  EXPECT_THAT(auth.Check("", Role::kClient),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(auth.Check(kClientToken, Role::kClient),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // A prefix of a real token is not the token.
  EXPECT_THAT(auth.Check("Bearer client-token-0123456789abcde", Role::kClient),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(auth.Check(absl::StrCat("Bearer ", kClientToken), Role::kWorker),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_FALSE(Authenticator().enabled());
  EXPECT_OK(Authenticator().Check("", Role::kWorker));
}

// ---- a server with tokens (and TLS)
// --------------------------------------------

// Test certificates made by the openssl command line: a CA, a server
// certificate for 127.0.0.1/localhost, a worker client certificate, and an
// unrelated CA.
struct Pki {
  fs::path ca, ca_key, server, server_key, worker, worker_key, other_ca;

  static Pki Make(const fs::path& dir) {
    Pki p;
    p.ca = dir / "ca.pem";
    p.ca_key = dir / "ca.key";
    p.server = dir / "server.pem";
    p.server_key = dir / "server.key";
    p.worker = dir / "worker.pem";
    p.worker_key = dir / "worker.key";
    p.other_ca = dir / "other-ca.pem";
    const std::string d = dir.string();
    const std::string script = absl::StrCat(
        "set -e; cd '", d, "'; ",
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca "
        "-keyout ca.key -out ca.pem; ",
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other "
        "-keyout other-ca.key -out other-ca.pem; ",
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext; ",
        "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost "
        "-keyout server.key -out server.csr; ",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
        "-CAcreateserial -days 2 -extfile san.ext -out server.pem; ",
        "openssl req -newkey rsa:2048 -nodes -subj /CN=worker "
        "-keyout worker.key -out worker.csr; ",
        "openssl x509 -req -in worker.csr -CA ca.pem -CAkey ca.key "
        "-CAcreateserial -days 2 -out worker.pem");
    const std::string command =
        absl::StrCat("sh -c \"", script, "\" >'", d, "/openssl.log' 2>&1");
    EXPECT_EQ(std::system(command.c_str()), 0)
        << "openssl failed; see " << d << "/openssl.log";
    return p;
  }
};

class SecureServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir();
    Write(dir_ / "client.tokens", absl::StrCat(kClientToken, "\n"));
    Write(dir_ / "worker.tokens", absl::StrCat(kWorkerToken, "\n"));
    ASSERT_OK_AND_ASSIGN(
        auth_, Authenticator::FromFiles((dir_ / "client.tokens").string(),
                                        (dir_ / "worker.tokens").string()));
    ASSERT_OK_AND_ASSIGN(auto store,
                         storage::Store::Open((dir_ / "db").string()));
    ASSERT_OK_AND_ASSIGN(
        scheduler_, scheduler::Scheduler::Create(std::move(store),
                                                 scheduler::Clock::Real()));
  }

  void Start(SchedulerServerOptions options) {
    options.listen = "127.0.0.1:0";
    options.auth = auth_;
    ASSERT_OK_AND_ASSIGN(server_,
                         SchedulerServer::Start(scheduler_.get(), options));
  }

  void TearDown() override {
    http_.reset();
    server_.reset();
    scheduler_.reset();
    fs::remove_all(dir_);
  }

  std::shared_ptr<grpc::Channel> Channel(const std::string& token, int port,
                                         ChannelSecurity security = {}) {
    security.token = token;
    return OpenChannel(absl::StrCat("127.0.0.1:", port), security);
  }

  // A submit (client side) and a register (worker side) on `channel`.
  absl::Status Submit(const std::shared_ptr<grpc::Channel>& channel) {
    v1::SubmitRunRequest req;
    req.mutable_config()->set_method(v1::METHOD_ROTATION);
    req.mutable_config()->set_architecture(v1::ARCHITECTURE_RESNET50_V2);
    req.mutable_config()->mutable_dataset()->set_kind(v1::DATASET_KIND_IDX);
    req.mutable_config()->mutable_dataset()->set_path("/data/fmnist");
    v1::SubmitRunResponse resp;
    return FromGrpcStatus(v1::ExperimentService::NewStub(channel)->SubmitRun(
        Ctx().get(), req, &resp));
  }
  absl::Status Register(const std::shared_ptr<grpc::Channel>& channel) {
    v1::RegisterWorkerRequest req;
    req.set_name("w");
    req.add_devices()->set_kind(v1::DEVICE_KIND_CPU);
    v1::RegisterWorkerResponse resp;
    return FromGrpcStatus(v1::WorkerService::NewStub(channel)->RegisterWorker(
        Ctx().get(), req, &resp));
  }
  int64_t RunCount() {
    absl::StatusOr<scheduler::Page<scheduler::RunStatus>> page =
        scheduler_->ListRuns({}, 0, "");
    EXPECT_TRUE(page.ok());
    return page.ok() ? static_cast<int64_t>(page->rows.size()) : -1;
  }

  fs::path dir_;
  Authenticator auth_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::unique_ptr<SchedulerServer> server_;
  std::unique_ptr<HttpServer> http_;
};

TEST_F(SecureServerTest, CallsWithoutTheRightTokenAreRefusedBeforeAnyEffect) {
  Start({});
  const int port = server_->port();
  EXPECT_THAT(Submit(Channel("", port)),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("requires a token")));
  EXPECT_THAT(
      Submit(Channel("wrong-token-0123456789abcdef", port)),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("unknown token")));
  EXPECT_THAT(Submit(Channel(kWorkerToken, port)),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(RunCount(), 0);
  EXPECT_OK(Submit(Channel(kClientToken, port)));
  EXPECT_EQ(RunCount(), 1);
}

TEST_F(SecureServerTest, AClientTokenCannotActAsAWorker) {
  Start({});
  const int port = server_->port();
  EXPECT_THAT(Register(Channel(kClientToken, port)),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("client token cannot call the worker API")));
  EXPECT_THAT(Register(Channel("", port)),
              StatusIs(absl::StatusCode::kUnauthenticated));
  ASSERT_OK_AND_ASSIGN(scheduler::Page<scheduler::WorkerInfo> workers,
                       scheduler_->ListWorkers(0, ""));
  EXPECT_TRUE(workers.rows.empty());
  EXPECT_OK(Register(Channel(kWorkerToken, port)));
}

TEST_F(SecureServerTest, HealthChecksNeedNoToken) {
  Start({});
  auto stub = grpc::health::v1::Health::NewStub(Channel("", server_->port()));
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(stub->Check(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(SecureServerTest, HttpApiTakesTheClientTokenAndOnlyIt) {
  Start({});
  HttpServerOptions options;
  options.listen = "127.0.0.1:0";
  options.auth = &auth_;
  ASSERT_OK_AND_ASSIGN(
      http_, HttpServer::Start(server_->experiments(), scheduler_.get(),
                               server_->rpc_stats(), options));
  httplib::Client http("127.0.0.1", http_->port());
  auto get = [&](const std::string& path, const std::string& token) {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto res = http.Get(path.c_str(), headers);
    return res ? res->status : -1;
  };
  EXPECT_EQ(get("/api/v1/runs", ""), 401);
  EXPECT_EQ(get("/metrics", ""), 401);
  EXPECT_EQ(get("/api/v1/runs", kWorkerToken), 403);
  EXPECT_EQ(get("/api/v1/runs", kClientToken), 200);
  EXPECT_EQ(get("/metrics", kClientToken), 200);
  // What a load balancer and the browser need before they have a token.
  EXPECT_EQ(get("/api/v1/health", ""), 200);
  EXPECT_EQ(get("/", ""), 200);
}

TEST_F(SecureServerTest, HttpsServesTheApiToClientsThatTrustItsCa) {
  const Pki pki = Pki::Make(dir_);
  Start({});
  HttpServerOptions options;
  options.listen = "127.0.0.1:0";
  options.auth = &auth_;
  options.tls = {pki.server.string(), pki.server_key.string(), ""};
  ASSERT_OK_AND_ASSIGN(
      http_, HttpServer::Start(server_->experiments(), scheduler_.get(),
                               server_->rpc_stats(), options));
  const httplib::Headers token = {
      {"Authorization", absl::StrCat("Bearer ", kClientToken)}};
  httplib::SSLClient trusting("127.0.0.1", http_->port());
  trusting.set_ca_cert_path(pki.ca.string().c_str());
  trusting.enable_server_certificate_verification(true);
  auto res = trusting.Get("/api/v1/runs", token);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  httplib::SSLClient other("127.0.0.1", http_->port());
  other.set_ca_cert_path(pki.other_ca.string().c_str());
  other.enable_server_certificate_verification(true);
  EXPECT_FALSE(other.Get("/api/v1/runs", token));
  // Plain HTTP gets no answer from the TLS port.
  httplib::Client plain("127.0.0.1", http_->port());
  auto refused = plain.Get("/api/v1/runs", token);
  EXPECT_TRUE(!refused || refused->status != 200);

  options.listen = "127.0.0.1:0";
  options.tls.key = pki.worker_key.string();  // not the certificate's key
  EXPECT_THAT(
      HttpServer::Start(server_->experiments(), scheduler_.get(),
                        server_->rpc_stats(), options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("worker.key")));
}

TEST_F(SecureServerTest, TlsServesClientsThatTrustItsCaAndNoOthers) {
  const Pki pki = Pki::Make(dir_);
  SchedulerServerOptions options;
  options.tls = {pki.server.string(), pki.server_key.string(), ""};
  Start(options);
  const int port = server_->port();
  ASSERT_OK_AND_ASSIGN(ChannelSecurity trusting,
                       ChannelSecurityFrom("", {"", "", pki.ca.string()}));
  EXPECT_OK(Submit(Channel(kClientToken, port, trusting)));
  ASSERT_OK_AND_ASSIGN(
      ChannelSecurity other,
      ChannelSecurityFrom("", {"", "", pki.other_ca.string()}));
  EXPECT_THAT(Submit(Channel(kClientToken, port, other)),
              StatusIs(absl::StatusCode::kUnavailable));
  // Plaintext to a TLS port does not get through either.
  EXPECT_THAT(Submit(Channel(kClientToken, port)),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(RunCount(), 1);
}

TEST_F(SecureServerTest, WorkerApiOnItsOwnPortWithMutualTls) {
  const Pki pki = Pki::Make(dir_);
  SchedulerServerOptions options;
  options.tls = {pki.server.string(), pki.server_key.string(), ""};
  options.worker_listen = "127.0.0.1:0";
  options.worker_tls = options.tls;
  options.worker_tls.ca = pki.ca.string();
  Start(options);
  ASSERT_NE(server_->worker_port(), server_->port());
  ASSERT_OK_AND_ASSIGN(ChannelSecurity no_cert,
                       ChannelSecurityFrom("", {"", "", pki.ca.string()}));
  ASSERT_OK_AND_ASSIGN(
      ChannelSecurity with_cert,
      ChannelSecurityFrom(
          "", {pki.worker.string(), pki.worker_key.string(), pki.ca.string()}));
  // A worker without a client certificate never reaches the API.
  EXPECT_THAT(Register(Channel(kWorkerToken, server_->worker_port(), no_cert)),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_OK(Register(Channel(kWorkerToken, server_->worker_port(), with_cert)));
  // Each port serves its own API only.
  EXPECT_THAT(Register(Channel(kWorkerToken, server_->port(), no_cert)),
              StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_THAT(Submit(Channel(kClientToken, server_->worker_port(), with_cert)),
              StatusIs(absl::StatusCode::kUnimplemented));
}

TEST_F(SecureServerTest, OpenWatchesAndRequestSizesAreBounded) {
  SchedulerServerOptions options;
  options.max_watches = 1;
  options.max_request_bytes = 64 << 10;
  Start(options);
  auto channel = Channel(kClientToken, server_->port());
  ASSERT_OK(Submit(channel));
  auto stub = v1::ExperimentService::NewStub(channel);
  v1::WatchRunRequest watch;
  watch.set_run_id(1);
  grpc::ClientContext first_ctx;
  auto first = stub->WatchRun(&first_ctx, watch);
  v1::WatchRunResponse update;
  ASSERT_TRUE(first->Read(&update));  // open, holding a server thread
  auto second_ctx = Ctx();
  auto second = stub->WatchRun(second_ctx.get(), watch);
  EXPECT_FALSE(second->Read(&update));
  EXPECT_THAT(FromGrpcStatus(second->Finish()),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("too many watches")));
  first_ctx.TryCancel();
  first->Finish();

  v1::SubmitRunRequest big;
  big.set_name(std::string(100 << 10, 'x'));
  v1::SubmitRunResponse resp;
  EXPECT_THAT(FromGrpcStatus(stub->SubmitRun(Ctx().get(), big, &resp)),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(RunCount(), 1);
}

}  // namespace
}  // namespace sslab::services
