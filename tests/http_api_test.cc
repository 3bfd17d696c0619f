// The scheduler's HTTP side against the real sslab-scheduler process: every
// JSON endpoint (filled by a fake worker over gRPC), bad ids, unknown paths
// and parameters, pagination, other methods than GET, and /metrics checked
// by Prometheus' promtool.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tests/cluster.h"
#include "tests/fake_worker.h"

namespace sslab::testing {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kDataset[] = "idx:/usr/share/datasets/fashion-mnist";

class HttpApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat(
               "sslab_http_", getpid(), "_",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    cluster_ = std::make_unique<Cluster>(
        ClusterBinaries{.scheduler = SSLAB_SCHEDULER_BIN, .cli = SSLAB_CLI_BIN},
        dir_);
    ASSERT_NO_FATAL_FAILURE(cluster_->StartScheduler());
    http_ =
        std::make_unique<httplib::Client>("127.0.0.1", cluster_->http_port());
    http_->set_read_timeout(20, 0);
  }

  void TearDown() override {
    http_.reset();
    EXPECT_EQ(cluster_->StopScheduler(SIGTERM), 0)
        << cluster_->scheduler().Stderr();
    cluster_.reset();
    std::filesystem::remove_all(dir_);
  }

  // GETs `path`; expects `status` and a JSON body, which it returns.
  json Get(const std::string& path, int status = 200) {
    const httplib::Result r = http_->Get(path.c_str());
    EXPECT_TRUE(r) << path << ": " << httplib::to_string(r.error());
    if (!r) return json();
    EXPECT_EQ(r->status, status) << path << ": " << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << path;
    return json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  }

  // A finished run (run 1) and a finished 2x2 sweep (runs 2-5).
  void FillWithWork() {
    CommandResult run = cluster_->Cli(
        {"submit", "-q", "--method", "rotation", "--arch", "resnet50_v2",
         "--width", "1", "--dataset", kDataset, "--epochs", "2", "--layers",
         "block3,pre_logits,pixels", "--probes", "lbfgs,mlp"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    CommandResult sweep = cluster_->Cli(
        {"sweep", "-q", "--name", "grid", "--methods", "rotation,jigsaw",
         "--widths", "1,2", "--archs", "revnet50", "--dataset", kDataset,
         "--epochs", "1", "--layers", "block2,pre_logits"});
    ASSERT_EQ(sweep.exit_code, 0) << sweep.err;
    FakeWorker worker(grpc::CreateChannel(cluster_->address(),
                                          grpc::InsecureChannelCredentials()));
    ASSERT_TRUE(worker.Register("fake-http").ok());
    EXPECT_GT(worker.Drain(), 0);
  }

  std::filesystem::path dir_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<httplib::Client> http_;
};

TEST_F(HttpApiTest, EveryEndpointAnswersJsonFromTheServiceCode) {
  ASSERT_NO_FATAL_FAILURE(FillWithWork());

  json version = Get("/api/v1/version");
  EXPECT_EQ(version["api"], "sslab.v1");
  EXPECT_EQ(Get("/api/v1/health")["status"], "SERVING");

  json runs = Get("/api/v1/runs");
  ASSERT_THAT(runs["runs"], SizeIs(5));
  EXPECT_EQ(runs["runs"][0]["run_id"], "5");  // newest first
  EXPECT_EQ(runs["runs"][4]["state"], "RUN_STATE_SUCCEEDED");
  EXPECT_EQ(runs["runs"][4]["progress"]["jobs_total"], 8);
  json filtered = Get("/api/v1/runs?method=jigsaw&sweep_id=1");
  EXPECT_THAT(filtered["runs"], SizeIs(2));
  EXPECT_THAT(Get("/api/v1/runs?state=failed")["runs"], SizeIs(0));

  json run = Get("/api/v1/runs/1");
  EXPECT_EQ(run["run"]["name"], "rotation-resnet50_v2-k1");
  EXPECT_EQ(run["run"]["config"]["method"], "METHOD_ROTATION");
  EXPECT_THAT(run["run"]["jobs"], SizeIs(1 + 1 + 3 * 2));

  json results = Get("/api/v1/runs/1/results");
  EXPECT_THAT(results["results"], SizeIs(3 * 2 * 2));  // layers x probes x 2
  json mlp = Get("/api/v1/runs/1/results?probe_kind=mlp&layer=pixels");
  ASSERT_THAT(mlp["results"], SizeIs(2));
  EXPECT_EQ(mlp["results"][0]["probe_kind"], "PROBE_KIND_MLP");

  json metrics = Get("/api/v1/runs/1/metrics?name=loss&name=pretext_top1");
  ASSERT_THAT(metrics["series"], SizeIs(2));
  EXPECT_EQ(metrics["series"][0]["name"], "loss");
  EXPECT_THAT(metrics["series"][0]["points"], SizeIs(4));
  EXPECT_EQ(metrics["series"][0]["total_points"], "4");
  json two = Get("/api/v1/runs/1/metrics?name=loss&max_points=2");
  EXPECT_THAT(two["series"][0]["points"], SizeIs(2));

  json checkpoints = Get("/api/v1/runs/1/checkpoints");
  ASSERT_THAT(checkpoints["checkpoints"], SizeIs(1));
  EXPECT_TRUE(checkpoints["checkpoints"][0]["is_final"].get<bool>());

  json sweeps = Get("/api/v1/sweeps");
  ASSERT_THAT(sweeps["sweeps"], SizeIs(1));
  EXPECT_EQ(sweeps["sweeps"][0]["runs_total"], 4);
  EXPECT_EQ(sweeps["sweeps"][0]["runs_succeeded"], 4);
  json sweep = Get("/api/v1/sweeps/1");
  EXPECT_EQ(sweep["sweep"]["name"], "grid");
  EXPECT_EQ(sweep["sweep"]["grid"]["widths"], json({1, 2}));
  ASSERT_THAT(sweep["runs"], SizeIs(4));
  EXPECT_EQ(sweep["runs"][0]["name"], "grid/rotation-revnet50-k1");
  json sweep_results = Get("/api/v1/sweeps/1/results?layer=pre_logits");
  EXPECT_THAT(sweep_results["results"], SizeIs(4 * 2));

  json workers = Get("/api/v1/workers");
  ASSERT_THAT(workers["workers"], SizeIs(1));
  EXPECT_EQ(workers["workers"][0]["name"], "fake-http");
  EXPECT_TRUE(workers["workers"][0]["alive"].get<bool>());
}

TEST_F(HttpApiTest, BadRequestsGetJsonErrorsWithTheRightStatus) {
  auto expect_error = [&](const std::string& path, int status,
                          const std::string& code, const std::string& text) {
    json body = Get(path, status);
    EXPECT_EQ(body["error"]["code"], code) << path;
    EXPECT_THAT(body["error"]["message"].get<std::string>(), HasSubstr(text))
        << path;
  };
  expect_error("/api/v1/runs/42", 404, "NOT_FOUND", "run 42");
  expect_error("/api/v1/runs/abc", 400, "INVALID_ARGUMENT", "run_id");
  expect_error("/api/v1/runs/0", 400, "INVALID_ARGUMENT", "run_id");
  expect_error("/api/v1/runs/99999999999999999999", 400, "INVALID_ARGUMENT",
               "run_id");
  expect_error("/api/v1/runs/-3/results", 400, "INVALID_ARGUMENT", "run_id");
  expect_error("/api/v1/sweeps/7", 404, "NOT_FOUND", "sweep 7");
  expect_error("/api/v1/runs/9/metrics", 404, "NOT_FOUND", "run 9");
  expect_error("/api/v1/runs?state=finished", 400, "INVALID_ARGUMENT",
               "state: unknown run state \"finished\"");
  expect_error("/api/v1/runs?page_size=-1", 400, "INVALID_ARGUMENT",
               "page_size");
  expect_error("/api/v1/runs?page_token=nope", 400, "INVALID_ARGUMENT",
               "page_token");
  expect_error("/api/v1/runs?stat=running", 400, "INVALID_ARGUMENT",
               "stat: unknown parameter");
  expect_error("/api/v1/nothing/here", 404, "NOT_FOUND", "/api/v1/nothing");
  expect_error("/api/v1/runs/1/2/3", 404, "NOT_FOUND", "no such path");
  const httplib::Result post = http_->Post("/api/v1/runs", "{}", "text/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_THAT(post->body, HasSubstr("read-only"));
}

TEST_F(HttpApiTest, ListsPageAndCapTheirPageSize) {
  for (int i = 0; i < 5; ++i) {
    CommandResult r =
        cluster_->Cli({"submit", "-q", "--method", "exemplar", "--arch",
                       "vgg19_bn", "--dataset", kDataset});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    json page = Get("/api/v1/runs?page_size=2" +
                    (token.empty() ? "" : "&page_token=" + token));
    for (const auto& r : page["runs"]) seen.push_back(r["run_id"]);
    token = page["next_page_token"].get<std::string>();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"5", "4", "3", "2", "1"}));
  // Sizes above the cap are clamped, not refused.
  EXPECT_THAT(Get("/api/v1/runs?page_size=1000000")["runs"], SizeIs(5));
}

// With pages of three rows every list takes several pages; the CLI and a
// client following next_page_token get every row, in the unpaged order.
TEST_F(HttpApiTest, ListsAreReadToTheEndAcrossPages) {
  ASSERT_NO_FATAL_FAILURE(FillWithWork());
  for (const char* name : {"w-a", "w-b", "w-c"}) {
    FakeWorker worker(grpc::CreateChannel(cluster_->address(),
                                          grpc::InsecureChannelCredentials()));
    ASSERT_TRUE(worker.Register(name).ok());
  }
  const json sweep_results = Get("/api/v1/sweeps/1/results?page_size=1000");
  ASSERT_THAT(sweep_results["results"], SizeIs(4 * 2 * 2));
  EXPECT_FALSE(sweep_results.contains("next_page_token") &&
               !sweep_results["next_page_token"].get<std::string>().empty());
  const json run_results = Get("/api/v1/runs/1/results?page_size=1000");
  ASSERT_THAT(run_results["results"], SizeIs(3 * 2 * 2));

  ASSERT_EQ(cluster_->StopScheduler(SIGTERM), 0);
  ASSERT_NO_FATAL_FAILURE(cluster_->StartScheduler(0, {"--max-page-size=3"}));
  http_ = std::make_unique<httplib::Client>("127.0.0.1", cluster_->http_port());

  // Over HTTP: the page size is capped, the token leads on.
  json rows = json::array();
  std::string token;
  int pages = 0;
  do {
    const json page = Get("/api/v1/sweeps/1/results?page_size=1000" +
                          (token.empty() ? "" : "&page_token=" + token));
    ASSERT_LE(page["results"].size(), 3u);
    for (const json& r : page["results"]) rows.push_back(r);
    token = page.value("next_page_token", "");
  } while (!token.empty() && ++pages < 100);
  EXPECT_EQ(rows, sweep_results["results"]);

  // Through the CLI, which reads every page.
  auto cli_json = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "--format=json");
    const CommandResult r = cluster_->Cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  };
  EXPECT_EQ(cli_json({"results", "--sweep", "1"})["results"],
            sweep_results["results"]);
  EXPECT_EQ(cli_json({"results", "1"})["results"], run_results["results"]);
  EXPECT_THAT(cli_json({"workers"})["workers"], SizeIs(4));
  const CommandResult table = cluster_->Cli({"results", "--sweep", "1"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("pre_logits"));
}

TEST_F(HttpApiTest, MetricsPagePassesPromtoolAfterARun) {
  ASSERT_NO_FATAL_FAILURE(FillWithWork());
  const httplib::Result r = http_->Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->get_header_value("Content-Type"), HasSubstr("text/plain"));
  const std::string& page = r->body;
  EXPECT_THAT(page, HasSubstr("sslab_runs{state=\"succeeded\"} 5\n"));
  EXPECT_THAT(page,
              HasSubstr("sslab_jobs{kind=\"probe\",state=\"succeeded\"}"));
  EXPECT_THAT(page,
              HasSubstr("sslab_job_duration_seconds_count{kind=\"train\"} 5"));
  EXPECT_THAT(page, HasSubstr("sslab_workers_alive 1\n"));
  EXPECT_THAT(
      page, HasSubstr("sslab_rpc_duration_seconds_count{method=\"LeaseJob\"}"));
  const std::filesystem::path file = dir_ / "metrics.prom";
  std::ofstream(file) << page;
  const std::string command = "promtool check metrics < " + file.string() +
                              " > " + (dir_ / "promtool.txt").string() +
                              " 2>&1";
  const int rc = std::system(command.c_str());
  std::stringstream out;
  out << std::ifstream(dir_ / "promtool.txt").rdbuf();
  EXPECT_EQ(rc, 0) << out.str();
}

TEST_F(HttpApiTest, ServesTheDashboard) {
  const httplib::Result index = http_->Get("/");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);
  EXPECT_THAT(index->get_header_value("Content-Type"), HasSubstr("text/html"));
  EXPECT_THAT(index->body, HasSubstr("/vendor/chart.min.js"));
  for (const char* asset : {"/app.js", "/style.css", "/vendor/chart.min.js"}) {
    const httplib::Result r = http_->Get(asset);
    ASSERT_TRUE(r) << asset;
    EXPECT_EQ(r->status, 200) << asset;
    EXPECT_GT(r->body.size(), 1000u) << asset;
  }
}

}  // namespace
}  // namespace sslab::testing
