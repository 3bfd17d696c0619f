// The real sslab-scheduler process on 127.0.0.1 port 0, driven by the real
// `sslab` CLI binary and a fake worker (a gRPC client in this test) that
// plays TRAIN -> EXTRACT -> PROBE without any model.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "sslab/v1/experiment_service.grpc.pb.h"
#include "sslab/v1/worker_service.grpc.pb.h"
#include "tests/cluster.h"
#include "tests/fake_worker.h"
#include "tests/process.h"

namespace sslab::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kDataset[] = "idx:/usr/share/datasets/fashion-mnist";

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(20));
  return ctx;
}

class SchedulerIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat(
               "sslab_it_", getpid(), "_",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    cluster_ = std::make_unique<Cluster>(
        ClusterBinaries{.scheduler = SSLAB_SCHEDULER_BIN, .cli = SSLAB_CLI_BIN},
        dir_);
    ASSERT_NO_FATAL_FAILURE(StartScheduler());
  }

  void TearDown() override {
    // Clean shutdown on SIGTERM.
    EXPECT_EQ(cluster_->StopScheduler(SIGTERM), 0)
        << cluster_->scheduler().Stderr();
    EXPECT_THAT(cluster_->scheduler().Stderr(), HasSubstr("stopped"));
    cluster_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Starts sslab-scheduler on port 0 (a fresh port after a restart) and
  // checks that it logs the port its port file names.
  void StartScheduler() {
    ASSERT_NO_FATAL_FAILURE(cluster_->StartScheduler());
    EXPECT_THAT(cluster_->scheduler().Stderr(), HasSubstr(cluster_->address()));
    channel_ = grpc::CreateChannel(cluster_->address(),
                                   grpc::InsecureChannelCredentials());
    experiments_ = v1::ExperimentService::NewStub(channel_);
  }

  CommandResult Cli(std::vector<std::string> args) {
    return cluster_->Cli(std::move(args));
  }

  // Submits the small default experiment with the CLI; returns its run id.
  int64_t SubmitSmall(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "submit",      "-q",      "--method", "rotation",         "--arch",
        "resnet50_v2", "--width", "1",        "--dataset",        kDataset,
        "--epochs",    "2",       "--layers", "block3,pre_logits"};
    args.insert(args.end(), extra.begin(), extra.end());
    const CommandResult r = Cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    int64_t id = 0;
    EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r.out), &id))
        << r.out;
    return id;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Cluster> cluster_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ExperimentService::Stub> experiments_;
};

TEST_F(SchedulerIntegrationTest, RunFilesSubmitWithFlagsOverridingThem) {
  const std::filesystem::path file = dir_ / "run.yaml";
  std::ofstream(file) << "method: jigsaw\narch: revnet50\nwidth: 2\n"
                         "dataset: "
                      << kDataset
                      << "\nepochs: 6\n"
                         "layers: [block4, pre_logits]\n";
  const CommandResult r =
      Cli({"submit", "-q", "-f", file.string(), "--epochs", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const CommandResult shown = Cli(
      {"-o", "json", "show", std::string(absl::StripAsciiWhitespace(r.out))});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const nlohmann::json config = nlohmann::json::parse(shown.out)["config"];
  EXPECT_EQ(config["method"], "METHOD_JIGSAW");
  EXPECT_EQ(config["architecture"], "ARCHITECTURE_REVNET50");
  EXPECT_EQ(config["width"], 2);
  EXPECT_EQ(config["epochs"], 3);  // the flag, not the file's 6
  EXPECT_EQ(config["evaluation"]["layers"],
            nlohmann::json({"block4", "pre_logits"}));

  std::ofstream(file) << "metod: jigsaw\n";
  const CommandResult typo = Cli({"submit", "-f", file.string()});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_THAT(typo.err, HasSubstr("metod: not a flag of `sslab submit`"));
}

// Any setting as an axis, from a sweep file and the command line: lr and
// batch-size zipped, decay-epochs (a list setting) multiplied; the command
// line replaces one axis of the file and keeps the others.
TEST_F(SchedulerIntegrationTest, SweepFilesSweepAnySettingAndZipAxes) {
  const std::filesystem::path file = dir_ / "lr-batch.yaml";
  std::ofstream(file) << "name: lr-batch\nmethods: [rotation]\n"
                         "archs: [resnet50_v2]\nwidths: [1]\ndataset: "
                      << kDataset
                      << "\nepochs: 4\n"
                         "axes:\n"
                         "  lr: [0.1, 0.4]\n"
                         "  batch-size: [32, 128]\n"
                         "  decay-epochs: [[2, 3], [3]]\n"
                         "zip: [lr, batch-size]\n";
  const CommandResult dry = Cli({"sweep", "-f", file.string(), "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.out,
            "lr-batch/rotation-resnet50_v2-k1-lr0.1-batch-size32-"
            "decay-epochs2,3\n"
            "lr-batch/rotation-resnet50_v2-k1-lr0.1-batch-size32-"
            "decay-epochs3\n"
            "lr-batch/rotation-resnet50_v2-k1-lr0.4-batch-size128-"
            "decay-epochs2,3\n"
            "lr-batch/rotation-resnet50_v2-k1-lr0.4-batch-size128-"
            "decay-epochs3\n");

  const CommandResult sweep = Cli({"-o", "json", "sweep", "-f", file.string(),
                                   "--axis", "batch-size=64,256"});
  ASSERT_EQ(sweep.exit_code, 0) << sweep.err;
  const nlohmann::json runs = nlohmann::json::parse(sweep.out)["runs"];
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[3]["config"]["batch_size"], 256);
  EXPECT_EQ(runs[3]["config"]["lr_schedule"]["base_lr"], 0.4);
  EXPECT_EQ(runs[3]["config"]["lr_schedule"]["decay_epochs"],
            nlohmann::json({3.0}));
  EXPECT_EQ(runs[0]["config"]["lr_schedule"]["decay_epochs"],
            nlohmann::json({2.0, 3.0}));
  const CommandResult sweeps = Cli({"sweeps"});
  ASSERT_EQ(sweeps.exit_code, 0) << sweeps.err;
  EXPECT_THAT(sweeps.out,
              HasSubstr("lr=0.1,0.4 batch-size=64,256 decay-epochs=2,3;3 "
                        "zip=lr+batch-size"));

  // Zipped axes of unequal lengths: the scheduler refuses the sweep (exit 1),
  // naming the group.
  const CommandResult unequal =
      Cli({"sweep", "-f", file.string(), "--axis", "batch-size=64"});
  EXPECT_EQ(unequal.exit_code, 1);
  EXPECT_THAT(unequal.err,
              HasSubstr("zip[0]: lr has 2 values but batch-size has 1"));
}

// Every file in configs/ is a valid run or sweep, as the scheduler would
// check it (--dry-run submits nothing).
TEST_F(SchedulerIntegrationTest, EveryShippedConfigIsValid) {
  int checked = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(
           std::filesystem::path(SSLAB_SOURCE_ROOT) / "configs")) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string text = [&] {
      std::ifstream in(entry.path());
      return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    // A sweep names its grid; a run does not.
    const bool sweep = text.find("\nname:") != std::string::npos ||
                       text.rfind("name:", 0) == 0;
    const CommandResult r = Cli(
        {sweep ? "sweep" : "submit", "-f", entry.path().string(), "--dry-run"});
    EXPECT_EQ(r.exit_code, 0) << entry.path() << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("dry run")) << entry.path();
    ++checked;
  }
  EXPECT_GE(checked, 7);
  // Nothing was submitted.
  const CommandResult ls = Cli({"-o", "json", "ls"});
  EXPECT_THAT(ls.out, Not(HasSubstr("run_id"))) << ls.out;
}

// File -> config -> file: --dry-run prints the complete config as a run
// file, which asks for the same config again and prints itself; a submitted
// run's file (show --as-file) gives back its stored config, seed included.
TEST_F(SchedulerIntegrationTest, RunFilesRoundTripThroughTheirConfigs) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir());
  auto dry_run = [&](const std::filesystem::path& file, bool json) {
    std::vector<std::string> args = {"submit", "-f", file.string(),
                                     "--dry-run"};
    if (json) args.insert(args.begin(), {"-o", "json"});
    const CommandResult r = Cli(args);
    EXPECT_EQ(r.exit_code, 0) << file << ": " << r.err;
    return r.out;
  };
  // The shipped demo, and a file that sets what defaults leave alone.
  const std::filesystem::path tuned = dir / "tuned.yaml";
  std::ofstream(tuned) << "method: exemplar\narch: vgg19_bn\nwidth: 2\n"
                          "dataset: cifar:/data/cifar\nepochs: 7\n"
                          "lr: 0.3\ndecay-epochs: [2.5, 5]\nseed: 11\n"
                          "probes: [sgd, mlp]\nlabel-fractions: [0.1, 1]\n"
                          "feature-dtype: float16\nprecision: fp32\n";
  int checked = 0;
  for (const std::filesystem::path& original :
       {std::filesystem::path(SSLAB_SOURCE_ROOT) / "configs/cpu/demo.yaml",
        tuned}) {
    const std::string name = original.filename().string();
    const std::filesystem::path first = dir / absl::StrCat("first-", name);
    const std::filesystem::path second = dir / absl::StrCat("second-", name);
    std::ofstream(first) << dry_run(original, false);
    std::ofstream(second) << dry_run(first, false);
    EXPECT_EQ(dry_run(first, true), dry_run(original, true)) << name;
    std::ifstream a(first), b(second);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(a), {}),
              std::string(std::istreambuf_iterator<char>(b), {}))
        << name;
    ++checked;
  }
  EXPECT_EQ(checked, 2);

  const int64_t run = SubmitSmall();
  ASSERT_GT(run, 0);
  const CommandResult as_file = Cli({"show", absl::StrCat(run), "--as-file"});
  ASSERT_EQ(as_file.exit_code, 0) << as_file.err;
  const std::filesystem::path rerun = dir / "rerun.yaml";
  std::ofstream(rerun) << as_file.out;
  const auto stored = nlohmann::json::parse(
      Cli({"show", absl::StrCat(run), "--format", "json"}).out)["config"];
  const auto again = nlohmann::json::parse(dry_run(rerun, true));
  EXPECT_EQ(again, stored) << as_file.out;
  EXPECT_NE(stored.value("seed", "0"), "0");  // drawn fresh, recorded
}

TEST_F(SchedulerIntegrationTest, CliAndFakeWorkerRunTheJobGraph) {
  const int64_t run = SubmitSmall();
  ASSERT_GT(run, 0);
  const std::string id = absl::StrCat(run);

  CommandResult ls = Cli({"ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_THAT(ls.out, HasSubstr("rotation-resnet50_v2-k1"));
  EXPECT_THAT(ls.out, HasSubstr("pending"));

  CommandResult show = Cli({"show", id});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("state:         pending"));
  EXPECT_THAT(show.out, HasSubstr("2 epochs, batch 64"));
  EXPECT_THAT(show.out, HasSubstr("train"));

  // The stored config is the expanded one.
  CommandResult json = Cli({"show", id, "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["run_id"], id);
  EXPECT_EQ(j["config"]["epochs"], 2);
  // The short-budget rate: Rotation counts its 4 views (run_config.h).
  EXPECT_EQ(j["config"]["lr_schedule"]["base_lr"], 0.4);

  // The stored config submitted again from a file, with a flag on top.
  const std::string config_file = (dir_ / "config.json").string();
  std::ofstream(config_file) << j["config"].dump();
  CommandResult resubmit =
      Cli({"submit", "--config", config_file, "--width", "2", "--format=json"});
  ASSERT_EQ(resubmit.exit_code, 0) << resubmit.err;
  const auto again = nlohmann::json::parse(resubmit.out);
  EXPECT_EQ(again["config"]["width"], 2);
  EXPECT_EQ(again["config"]["epochs"], 2);
  EXPECT_EQ(again["config"]["evaluation"]["layers"],
            j["config"]["evaluation"]["layers"]);
  CommandResult cancel = Cli({"cancel", again["run_id"].get<std::string>()});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.err;

  FakeWorker worker(channel_);
  ASSERT_TRUE(worker.Register("fake-1").ok());
  ASSERT_EQ(worker.RunOne(), v1::JOB_KIND_TRAIN);
  show = Cli({"show", id});
  EXPECT_THAT(show.out, HasSubstr("state:         running"));
  EXPECT_THAT(show.out, HasSubstr("extract"));  // created by the checkpoint
  ASSERT_EQ(worker.RunOne(), v1::JOB_KIND_EXTRACT);
  show = Cli({"show", id});
  EXPECT_THAT(show.out, HasSubstr("probe"));
  EXPECT_EQ(worker.Drain(), 2);  // one PROBE per layer

  CommandResult results = Cli({"results", id});
  ASSERT_EQ(results.exit_code, 0) << results.err;
  EXPECT_THAT(results.out, HasSubstr("LAYER"));
  EXPECT_THAT(results.out, HasSubstr("LBFGS"));
  EXPECT_THAT(results.out, HasSubstr("block3      57.0"));
  EXPECT_THAT(results.out, HasSubstr("pre_logits  63.0"));
  CommandResult csv = Cli({"results", id, "--format=csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  // CSV: one row per result with every field (top-5 and L2 too).
  EXPECT_THAT(csv.out,
              HasSubstr("1,rotation-resnet50_v2-k1,rotation,resnet50_v2,1,2,"
                        "block3,lbfgs,1,test,0.57,0.9,0.001,\n"));
  EXPECT_THAT(csv.out, HasSubstr("2,pre_logits,lbfgs,1,val,0.64,0.9,0.001,"));

  // The training curves the heartbeats carried.
  CommandResult metrics = Cli({"metrics", id, "--name", "loss"});
  ASSERT_EQ(metrics.exit_code, 0) << metrics.err;
  EXPECT_THAT(metrics.out, HasSubstr("STEP  LOSS\n7     2\n14    1\n"));
  CommandResult workers = Cli({"workers"});
  ASSERT_EQ(workers.exit_code, 0) << workers.err;
  EXPECT_THAT(workers.out, HasSubstr("fake-1"));
  EXPECT_THAT(workers.out, HasSubstr("alive"));

  // watch on a finished run prints its final line and exits 0 (not a TTY).
  CommandResult watch = Cli({"watch", id});
  EXPECT_EQ(watch.exit_code, 0) << watch.err;
  EXPECT_THAT(watch.out, HasSubstr("succeeded"));
  EXPECT_THAT(watch.out, HasSubstr("jobs 4/4"));

  CommandResult checkpoints = Cli({"checkpoints", id});
  ASSERT_EQ(checkpoints.exit_code, 0) << checkpoints.err;
  EXPECT_THAT(checkpoints.out, HasSubstr("runs/" + id + "/checkpoints/final"));

  CommandResult health = Cli({"health"});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_THAT(health.out, HasSubstr("SERVING"));
}

TEST_F(SchedulerIntegrationTest,
       TokensGuardTheSchedulerFromTheCliToTheWorkers) {
  ASSERT_EQ(cluster_->StopScheduler(SIGTERM), 0);
  const std::filesystem::path client = dir_ / "client.tokens";
  const std::filesystem::path worker = dir_ / "worker.tokens";
  std::ofstream(client) << "# the team's CLI token\n"
                        << "cli-token-0123456789abcdef\n";
  std::ofstream(worker) << "worker-token-0123456789abcdef\n";

  // Without tokens the scheduler stays on loopback unless told otherwise.
  const CommandResult open = RunCommand(
      {SSLAB_SCHEDULER_BIN, "--listen=0.0.0.0:0", "--http-listen=127.0.0.1:0",
       "--db=" + (dir_ / "open.db").string()},
      dir_.string());
  EXPECT_EQ(open.exit_code, 2);
  EXPECT_THAT(open.err,
              HasSubstr("0.0.0.0:0 is reachable from other machines"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "open.db"));

  // Token files and TLS flags it cannot use: exit 2 saying why, no database.
  const std::filesystem::path short_tokens = dir_ / "short.tokens";
  std::ofstream(short_tokens) << "secret\n";
  auto refused_start = [&](std::vector<std::string> flags,
                           const std::string& why) {
    std::vector<std::string> argv = {
        SSLAB_SCHEDULER_BIN, "--listen=127.0.0.1:0",
        "--http-listen=127.0.0.1:0", "--db=" + (dir_ / "refused.db").string()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const CommandResult r = RunCommand(argv, dir_.string());
    EXPECT_EQ(r.exit_code, 2) << why;
    EXPECT_THAT(r.err, HasSubstr(why));
    EXPECT_FALSE(std::filesystem::exists(dir_ / "refused.db")) << why;
  };
  refused_start({"--client-tokens-file=" + short_tokens.string(),
                 "--worker-tokens-file=" + worker.string()},
                "short.tokens: a token is 6 characters; at least");
  refused_start({"--client-tokens-file=" + client.string(),
                 "--worker-tokens-file=" + client.string()},
                "clients and workers need different tokens");
  refused_start({"--worker-tls-client-ca=" + client.string()},
                "--worker-tls-client-ca needs --worker-listen and --tls-cert");

  ASSERT_NO_FATAL_FAILURE(
      cluster_->StartScheduler(0, {"--client-tokens-file=" + client.string(),
                                   "--worker-tokens-file=" + worker.string()}));
  EXPECT_THAT(cluster_->scheduler().Stderr(), HasSubstr("tokens required"));
  const CommandResult tokenless = Cli({"ls"});
  EXPECT_EQ(tokenless.exit_code, 1) << tokenless.err;
  EXPECT_THAT(tokenless.err, HasSubstr("UNAUTHENTICATED"));
  const CommandResult as_worker =
      Cli({"--token-file=" + worker.string(), "ls"});
  EXPECT_THAT(as_worker.err, HasSubstr("PERMISSION_DENIED"));
  const CommandResult listed = Cli({"--token-file=" + client.string(), "ls"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;

  // A worker process with its token registers (the cluster waits for it);
  // the same binary with the client's token is refused and says why.
  ::setenv("SSLAB_TOKEN_FILE", client.string().c_str(), 1);
  const CommandResult refused =
      RunCommand({SSLAB_TRAINER_BIN, "--listen=127.0.0.1:0",
                  "--scheduler=" + cluster_->address(), "--devices=cpu",
                  "--artifacts=" + cluster_->artifacts().string()},
                 dir_.string());
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err,
              HasSubstr("client token cannot call the worker API"));
  ::setenv("SSLAB_TOKEN_FILE", worker.string().c_str(), 1);
  ChildProcess trainer;
  ASSERT_TRUE(
      trainer.Start({SSLAB_TRAINER_BIN, "--listen=127.0.0.1:0",
                     "--scheduler=" + cluster_->address(), "--devices=cpu",
                     "--artifacts=" + cluster_->artifacts().string()}));
  ::unsetenv("SSLAB_TOKEN_FILE");
  EXPECT_TRUE(trainer.WaitForStderr([](const std::string& err) {
    return err.find("registered with") != std::string::npos;
  })) << trainer.Stderr();
  EXPECT_EQ(trainer.Stop(SIGTERM), 0) << trainer.Stderr();
}

TEST_F(SchedulerIntegrationTest, BackupCopiesTheDatabaseWhileItServes) {
  const int64_t run = SubmitSmall();
  const std::filesystem::path copy = dir_ / "backup" / "sslab.db";
  std::filesystem::create_directories(copy.parent_path());
  const CommandResult backup = RunCommand(
      {SSLAB_SCHEDULER_BIN, "backup",
       "--db=" + (dir_ / "var/sslab.db").string(), "--to=" + copy.string()},
      dir_.string());
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  EXPECT_THAT(backup.out, HasSubstr("integrity ok"));
  // The scheduler went on serving; a scheduler on the copy has the run.
  EXPECT_EQ(Cli({"show", std::to_string(run)}).exit_code, 0);
  ChildProcess restored;
  // "--http-listen=" turns HTTP off (and takes no further argument).
  ASSERT_TRUE(restored.Start({SSLAB_SCHEDULER_BIN, "--listen=127.0.0.1:0",
                              "--http-listen=", "--db=" + copy.string()}));
  EXPECT_TRUE(restored.WaitForStderr([](const std::string& err) {
    return err.find(" listening on ") != std::string::npos;
  })) << restored.Stderr();
  EXPECT_THAT(restored.Stderr(), HasSubstr("1 unfinished runs"));
  EXPECT_THAT(restored.Stderr(), HasSubstr(copy.string()));
  EXPECT_THAT(restored.Stderr(), Not(HasSubstr("dashboard")));
  EXPECT_EQ(restored.Stop(SIGTERM), 0);
}

TEST_F(SchedulerIntegrationTest, BadInputGetsTheRightCodes) {
  auto expect_error = [&](const std::vector<std::string>& args, int exit_code,
                          const std::string& code, const std::string& field) {
    const CommandResult r = Cli(args);
    EXPECT_EQ(r.exit_code, exit_code) << r.err;
    EXPECT_THAT(r.err, HasSubstr(code));
    EXPECT_THAT(r.err, HasSubstr(field));
    EXPECT_THAT(r.err, Not(HasSubstr("SELECT")));
    EXPECT_THAT(r.err, Not(HasSubstr("INSERT")));
  };
  const std::vector<std::string> base = {"submit", "--method", "rotation",
                                         "--arch", "revnet50", "--dataset",
                                         kDataset};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  expect_error(with({"--width", "0"}), 1, "INVALID_ARGUMENT", "config.width");
  expect_error(with({"--epochs", "-1"}), 1, "INVALID_ARGUMENT",
               "config.epochs");
  expect_error(with({"--dataset", "idx:"}), 1, "INVALID_ARGUMENT",
               "config.dataset.path");
  expect_error(with({"--layers", "fc6"}), 1, "INVALID_ARGUMENT",
               "config.evaluation.layers[0]");
  expect_error({"submit", "--arch", "revnet50", "--dataset", kDataset}, 1,
               "INVALID_ARGUMENT", "config.method");
  // Unknown names are refused by the CLI itself (usage error).
  expect_error(with({"--method", "colorization"}), 2, "--method",
               "colorization");
  expect_error({"show", "987654"}, 1, "NOT_FOUND", "987654");
  expect_error({"cancel", "987654"}, 1, "NOT_FOUND", "987654");
  expect_error({"results"}, 2, "results", "RUN");
  // Global flags and a sweep without a name: usage errors before any call.
  expect_error({"--format", "yaml", "ls"}, 2, "--format",
               "yaml not in {table,json,csv}");
  expect_error({"--timeout", "0", "ls"}, 2, "--timeout", "must be > 0");
  expect_error({"--token-file", "/nonexistent/sslab.token", "ls"}, 2,
               "/nonexistent/sslab.token", "");
  expect_error({"sweep", "--dataset", kDataset}, 2, "sweep: give --name", "");

  // Cancel twice: the second is a wrong-state error.
  const int64_t run = SubmitSmall();
  CommandResult cancel = Cli({"cancel", absl::StrCat(run)});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_THAT(cancel.out, HasSubstr("cancelled"));
  expect_error({"cancel", absl::StrCat(run)}, 1, "FAILED_PRECONDITION", "");
  CommandResult watch = Cli({"watch", absl::StrCat(run)});
  EXPECT_EQ(watch.exit_code, 1);
  EXPECT_THAT(watch.out, HasSubstr("cancelled"));

  // A raw unknown enum value (not expressible with the CLI).
  v1::SubmitRunRequest req;
  req.mutable_config()->set_method(static_cast<v1::Method>(99));
  req.mutable_config()->set_architecture(v1::ARCHITECTURE_REVNET50);
  v1::SubmitRunResponse resp;
  grpc::Status s = experiments_->SubmitRun(Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("config.method"));

  // A lease for an unknown worker.
  FakeWorker worker(channel_);
  v1::LeaseJobResponse lease;
  s = worker.Lease(&lease, /*worker_id=*/4242);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("4242"));

  // The scheduler survived all of it.
  EXPECT_EQ(Cli({"ls"}).exit_code, 0);
}

TEST_F(SchedulerIntegrationTest, RunSurvivesKillAndRestart) {
  const int64_t run = SubmitSmall({"--name", "durable", "--seed", "7"});
  ASSERT_GT(run, 0);
  FakeWorker worker(channel_);
  ASSERT_TRUE(worker.Register("fake-restart").ok());
  ASSERT_EQ(worker.RunOne(), v1::JOB_KIND_TRAIN);

  EXPECT_EQ(cluster_->StopScheduler(SIGKILL), 128 + SIGKILL);
  ASSERT_NO_FATAL_FAILURE(StartScheduler());

  CommandResult show = Cli({"show", absl::StrCat(run), "--format=json"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  const auto j = nlohmann::json::parse(show.out);
  EXPECT_EQ(j["name"], "durable");
  EXPECT_EQ(j["config"]["seed"], "7");
  EXPECT_EQ(j["state"], "RUN_STATE_RUNNING");
  // The work done before the crash is kept and the graph goes on.
  FakeWorker again(channel_);
  ASSERT_TRUE(again.Register("fake-restart-2").ok());
  EXPECT_EQ(again.Drain(), 3);  // EXTRACT + 2 PROBE
  CommandResult results = Cli({"results", absl::StrCat(run)});
  EXPECT_THAT(results.out, HasSubstr("pre_logits  63.0"));
}

TEST_F(SchedulerIntegrationTest, SweepResultsShowThePaperGrid) {
  CommandResult sweep =
      Cli({"sweep", "-q", "--name", "grid", "--methods", "rotation,jigsaw",
           "--archs", "resnet50_v1,revnet50", "--widths", "1", "--dataset",
           kDataset, "--epochs", "1", "--layers", "block3,pre_logits"});
  ASSERT_EQ(sweep.exit_code, 0) << sweep.err;
  const std::string sweep_id(absl::StripAsciiWhitespace(sweep.out));
  CommandResult ls = Cli({"ls", "--sweep", sweep_id, "--format=csv"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_THAT(ls.out, HasSubstr("grid/jigsaw-revnet50-k1"));

  FakeWorker worker(channel_);
  ASSERT_TRUE(worker.Register("fake-sweep").ok());
  EXPECT_EQ(worker.Drain(), 4 * 4);

  CommandResult grid = Cli({"results", "--sweep", sweep_id});
  ASSERT_EQ(grid.exit_code, 0) << grid.err;
  EXPECT_THAT(grid.out, HasSubstr("METHOD    resnet50_v1        revnet50"));
  EXPECT_THAT(grid.out,
              HasSubstr("rotation  63.0 (pre_logits)  63.0 (pre_logits)"));
  EXPECT_THAT(grid.out,
              HasSubstr("jigsaw    43.0 (pre_logits)  43.0 (pre_logits)"));
  CommandResult json =
      Cli({"results", "--sweep", sweep_id, "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  // 4 runs x 2 layers x (val, test).
  EXPECT_EQ(nlohmann::json::parse(json.out)["results"].size(), 16u);

  // The whole sweep probed further: the MLP on both layers of each run.
  CommandResult probe = Cli(
      {"probe", "--sweep", sweep_id, "--probes", "mlp", "--format", "json"});
  ASSERT_EQ(probe.exit_code, 0) << probe.err;
  const auto added = nlohmann::json::parse(probe.out);
  ASSERT_EQ(added.size(), 4u) << probe.out;
  int extractions = 0;
  for (const auto& a : added) {
    EXPECT_EQ(a.value("probe_jobs", 0), 2) << a.dump();
    EXPECT_EQ(a["run"].value("state", ""), "RUN_STATE_RUNNING") << a.dump();
    extractions += a.value("extract_jobs", 0);
  }
  EXPECT_EQ(worker.Drain(), 4 * 2 + extractions);
  json = Cli({"results", "--sweep", sweep_id, "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(nlohmann::json::parse(json.out)["results"].size(), 32u);
  CommandResult sweeps = Cli({"sweeps"});
  ASSERT_EQ(sweeps.exit_code, 0) << sweeps.err;
  EXPECT_THAT(sweeps.out, HasSubstr("grid"));
  EXPECT_THAT(sweeps.out, HasSubstr("methods=rotation,jigsaw"));
}

}  // namespace
}  // namespace sslab::testing
