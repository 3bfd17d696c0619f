// End to end with the real binaries on loopback: sslab-scheduler,
// sslab-trainer, sslab-extractor, sslab-evaluator and the sslab CLI, on a
// small Fashion-MNIST subset with ResNet50 v2 k=1. A run goes from submit to
// per-layer accuracies; a run is cancelled mid-training; a trainer killed
// with SIGKILL is replaced and the run resumes from its last checkpoint; the
// scheduler killed with SIGKILL restarts on the same database and loses
// nothing; two trainers share the queue without running a job twice; a
// data-parallel run trains as a gang of two ranks and resumes as one. And
// the study's first finding at CI scale (ScienceTest): a short Rotation run
// with the default schedule and augmentation learns its pretext task, and
// its block3 features beat the same network at random initialisation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "tests/cluster.h"
#include "tests/process.h"

namespace sslab::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kDataset[] = "idx:/usr/share/datasets/fashion-mnist";
const std::vector<std::string> kResNetLayers = {
    "after_root", "block1", "block2", "block3", "block4", "pre_logits"};

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<Cluster>(
        ClusterBinaries{SSLAB_SCHEDULER_BIN, SSLAB_CLI_BIN, SSLAB_TRAINER_BIN,
                        SSLAB_EXTRACTOR_BIN, SSLAB_EVALUATOR_BIN},
        std::filesystem::path(::testing::TempDir()) /
            absl::StrCat("sslab_e2e_", getpid(), "_",
                         ::testing::UnitTest::GetInstance()
                             ->current_test_info()
                             ->name()));
  }
  void TearDown() override {
    const auto dir = cluster_->dir();
    cluster_.reset();
    std::filesystem::remove_all(dir);
  }

  // Submits a small Rotation run; returns its id.
  int64_t Submit(std::vector<std::string> extra) {
    std::vector<std::string> args = {
        "submit",  "-q", "--method",  "rotation", "--arch",       "resnet50_v2",
        "--width", "1",  "--dataset", kDataset,   "--batch-size", "16",
        "--seed",  "7",  "--threads", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    const CommandResult r = cluster_->Cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    int64_t id = 0;
    EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r.out), &id))
        << r.out;
    return id;
  }

  // Blocks until the run ends (server stream); returns the CLI's exit code.
  int Watch(int64_t run) {
    return cluster_->Cli({"watch", std::to_string(run), "--max-seconds", "600"})
        .exit_code;
  }

  nlohmann::json CliJson(std::vector<std::string> args) {
    return cluster_->CliJson(std::move(args));
  }

  // The run's TRAIN job (as JSON) from `sslab show`.
  nlohmann::json TrainJob(int64_t run) {
    const nlohmann::json shown = CliJson({"show", std::to_string(run)});
    for (const auto& job : shown.value("jobs", nlohmann::json::array())) {
      if (job.value("kind", "") == "JOB_KIND_TRAIN") return job;
    }
    ADD_FAILURE() << "run " << run << " has no TRAIN job: " << shown.dump();
    return {};
  }

  void StartAll(int trainers = 1) {
    ASSERT_NO_FATAL_FAILURE(cluster_->StartScheduler(0, {"--lease-seconds=6"}));
    for (int i = 0; i < trainers; ++i) {
      ASSERT_NO_FATAL_FAILURE(
          cluster_->StartWorker("trainer", absl::StrCat("trainer-", i)));
    }
    ASSERT_NO_FATAL_FAILURE(cluster_->StartWorker("extractor", "extractor-0"));
    ASSERT_NO_FATAL_FAILURE(cluster_->StartWorker("evaluator", "evaluator-0"));
  }

  std::unique_ptr<Cluster> cluster_;
};

TEST_F(PipelineTest, TinyRunGoesFromSubmitToPerLayerResults) {
  ASSERT_NO_FATAL_FAILURE(StartAll());
  const int64_t run =
      Submit({"--max-examples", "64", "--epochs", "1", "--probes", "lbfgs,sgd",
              "--feature-dtype", "float16"});
  // Pinned: its feature shards outlive its probes, for the export below.
  ASSERT_EQ(cluster_->Cli({"pin", std::to_string(run)}).exit_code, 0);
  ASSERT_EQ(Watch(run), 0) << cluster_->worker("trainer-0").Stderr();

  // Every ResNet layer x both probe kinds has a test accuracy; the best layer
  // beats chance (10 classes) by a margin even on 64 images.
  const nlohmann::json results = CliJson({"results", std::to_string(run)});
  std::set<std::pair<std::string, std::string>> seen;
  double best = 0;
  for (const auto& r : results.value("results", nlohmann::json::array())) {
    if (r.value("split", "") != "test") continue;
    seen.insert({r.value("layer", ""), r.value("probe_kind", "")});
    const double top1 = r.value("top1", -1.0);
    EXPECT_GE(top1, 0.0);
    EXPECT_LE(top1, 1.0);
    best = std::max(best, top1);
  }
  for (const std::string& layer : kResNetLayers) {
    if (layer == "after_root") continue;  // not a representation layer
    EXPECT_TRUE(seen.count({layer, "PROBE_KIND_LBFGS"})) << layer;
    EXPECT_TRUE(seen.count({layer, "PROBE_KIND_SGD"})) << layer;
  }
  EXPECT_GT(best, 0.2) << results.dump();

  // CSV keeps every field of every result, top-5 and the L2 weight included.
  const CommandResult csv =
      cluster_->Cli({"-o", "csv", "results", std::to_string(run)});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  const std::vector<std::string> lines =
      absl::StrSplit(csv.out, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0],
            "RUN,NAME,METHOD,ARCH,K,EPOCH,LAYER,PROBE,LABEL_FRACTION,SPLIT,"
            "TOP1,TOP5,L2,HYPERPARAMETERS");
  EXPECT_EQ(lines.size(), results["results"].size() + 1);

  // The trainer's own status port tells what it did.
  std::ifstream port_file(cluster_->dir() / "trainer-0.port");
  int trainer_port = 0;
  port_file >> trainer_port;
  const nlohmann::json status =
      CliJson({"worker", absl::StrCat("127.0.0.1:", trainer_port)});
  EXPECT_EQ(status.value("name", ""), "trainer-0") << status.dump();
  EXPECT_EQ(status.value("jobs_succeeded", "0"), "1") << status.dump();
  const CommandResult text =
      cluster_->Cli({"worker", absl::StrCat("127.0.0.1:", trainer_port)});
  EXPECT_THAT(text.out, HasSubstr("phase:      idle")) << text.out;

  // Lineage: every job records the worker, device and build that ran it.
  const nlohmann::json shown = CliJson({"show", std::to_string(run)});
  for (const auto& job : shown["jobs"]) {
    const nlohmann::json& lineage = job["lineage"];
    EXPECT_FALSE(lineage.value("git", "").empty()) << job.dump();
    EXPECT_THAT(lineage.value("libtorch", ""), HasSubstr("1.")) << job.dump();
    EXPECT_THAT(lineage.value("device", ""), HasSubstr("cpu")) << job.dump();
    EXPECT_FALSE(lineage.value("host", "").empty()) << job.dump();
  }
  EXPECT_EQ(shown["jobs"][0]["lineage"].value("worker", ""), "trainer-0");
  // The TRAIN job also says which data it read.
  EXPECT_THAT(shown["jobs"][0]["lineage"].value("dataset", ""),
              ::testing::MatchesRegex("4 files, [0-9]+ bytes, "
                                      "sha256:[0-9a-f]{16}"))
      << shown["jobs"][0].dump();
  const CommandResult details = cluster_->Cli({"show", std::to_string(run)});
  EXPECT_THAT(details.out, HasSubstr("ran on:        trainer-0 on cpu"))
      << details.out;

  // The checkpoint registered is on disk with the registered checksum.
  const nlohmann::json checkpoints =
      CliJson({"checkpoints", std::to_string(run)});
  ASSERT_FALSE(
      checkpoints.value("checkpoints", nlohmann::json::array()).empty())
      << checkpoints.dump();
  const auto& final_checkpoint = checkpoints["checkpoints"].back();
  auto sha =
      Sha256OfFile(cluster_->artifacts() / final_checkpoint.value("path", ""));
  ASSERT_TRUE(sha.ok()) << sha.status();
  EXPECT_EQ(*sha, final_checkpoint.value("sha256", ""));

  // Export: the backbone loads in Debian's python3-torch through the
  // sslab_models.py written next to it, and its pre_logits width is the
  // exported features'; numpy maps the features without reading them.
  const std::filesystem::path out = cluster_->dir() / "export";
  const CommandResult exported = cluster_->Cli(
      {"export", std::to_string(run), "--to", out.string(), "--artifacts",
       cluster_->artifacts().string(), "--split", "test"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_THAT(exported.out, HasSubstr("model.pt  resnet50_v2 (rotation"));
  EXPECT_THAT(exported.out, HasSubstr("features/test/block3.npy"));
  const nlohmann::json manifest = nlohmann::json::parse(
      ReadFileToString(out / "manifest.json").value_or("{}"));
  const nlohmann::json& test_split = manifest["features"]["test"];
  ASSERT_TRUE(test_split.contains("pre_logits")) << manifest.dump();
  EXPECT_EQ(test_split["labels"]["shape"][0],
            test_split["pre_logits"]["shape"][0]);
  EXPECT_EQ(test_split["pre_logits"]["dtype"], "<f2");  // --feature-dtype
  EXPECT_EQ(test_split["labels"]["dtype"], "<i8");
  EXPECT_FALSE(manifest["features"].contains("train")) << manifest.dump();
  const std::string python = absl::StrCat(
      "cd ", out.string(),
      " && /usr/bin/python3 -c '"
      "import numpy, torch, sslab_models\n"
      "m = sslab_models.load(\"model.pt\")\n"
      "f = numpy.load(\"features/test/pre_logits.npy\", mmap_mode=\"r\")\n"
      "y = numpy.load(\"features/test/labels.npy\", mmap_mode=\"r\")\n"
      "e = m.forward_endpoints(torch.zeros(1, 1, 28, 28))\n"
      "assert e[\"pre_logits\"].shape[1] == f.shape[1], "
      "(e[\"pre_logits\"].shape, f.shape)\n"
      "assert y.shape == (f.shape[0], 1) and 0 <= y.min() and y.max() < 10\n"
      "'");
  EXPECT_EQ(std::system(python.c_str()), 0) << python;
  const CommandResult missing = cluster_->Cli(
      {"export", std::to_string(run), "--to", (out / "x").string(),
       "--artifacts", cluster_->artifacts().string(), "--layer", "block9"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("NOT_FOUND: --layer block9"));
  // `sslab` without sslab-export, its torch half, beside it or on PATH says
  // what it lacks instead of exporting.
  const std::filesystem::path lone = cluster_->dir() / "lone";
  std::filesystem::create_directories(lone);
  std::filesystem::copy_file(SSLAB_CLI_BIN, lone / "sslab");
  const CommandResult alone = RunCommand(
      {"/usr/bin/env", "PATH=" + lone.string(), (lone / "sslab").string(),
       "--addr=" + cluster_->address(), "export", std::to_string(run), "--to",
       (out / "y").string(), "--artifacts", cluster_->artifacts().string()},
      cluster_->dir().string());
  EXPECT_EQ(alone.exit_code, 1);
  EXPECT_THAT(alone.err, HasSubstr("FAILED_PRECONDITION: sslab export runs "
                                   "sslab-export"));
  EXPECT_FALSE(std::filesystem::exists(out / "y"));
}

// Retention while a sweep runs, with `sslab gc` called over and over on top
// of the scheduler's own passes: every run still succeeds with every result
// (nothing a job needed was deleted); then only what retention keeps is on
// disk. A pinned run keeps everything; `sslab rm` removes a run.
TEST_F(PipelineTest, RetentionDuringASweepDeletesNothingNeeded) {
  ASSERT_NO_FATAL_FAILURE(StartAll());
  const nlohmann::json sweep = CliJson({"sweep",
                                        "--name",
                                        "retention",
                                        "--methods",
                                        "rotation",
                                        "--archs",
                                        "resnet50_v2",
                                        "--widths",
                                        "1",
                                        "--seeds",
                                        "1,2,3",
                                        "--dataset",
                                        kDataset,
                                        "--batch-size",
                                        "16",
                                        "--threads",
                                        "2",
                                        "--max-examples",
                                        "64",
                                        "--epochs",
                                        "5",
                                        "--eval-every",
                                        "2",
                                        "--layers",
                                        "block4,pre_logits",
                                        "--probes",
                                        "lbfgs"});
  std::vector<std::string> runs;
  for (const auto& r : sweep.value("runs", nlohmann::json::array())) {
    runs.push_back(r.value("run_id", "0"));
  }
  ASSERT_EQ(runs.size(), 3u) << sweep.dump();
  const std::string pinned = runs.back();
  ASSERT_EQ(cluster_->Cli({"pin", pinned}).exit_code, 0);
  const CommandResult busy = cluster_->Cli({"rm", runs[0]});
  EXPECT_EQ(busy.exit_code, 1);
  EXPECT_THAT(busy.err, HasSubstr("cancel it first"));

  // gc as fast as the CLI goes until every run has ended.
  int passes = 0;
  for (bool all_done = false; !all_done; ++passes) {
    ASSERT_EQ(cluster_->Cli({"gc"}).exit_code, 0);
    all_done = true;
    for (const std::string& run : runs) {
      const std::string state = CliJson({"show", run}).value("state", "");
      if (state == "RUN_STATE_SUCCEEDED") continue;
      ASSERT_NE(state, "RUN_STATE_FAILED")
          << run << ": " << CliJson({"show", run}).value("error", "");
      all_done = false;
    }
    ASSERT_LT(passes, 2000);
  }
  EXPECT_GT(passes, 3);
  // What the last probes let go since the last pass.
  ASSERT_EQ(cluster_->Cli({"gc"}).exit_code, 0);

  for (const std::string& run : runs) {
    // Epochs 2, 4 and 5 evaluated: 2 layers x (val, test) x 3 checkpoints.
    EXPECT_EQ(CliJson({"results", run})["results"].size(), 12u) << run;
    const std::filesystem::path dir = cluster_->artifacts() / "runs" / run;
    int shards = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
      shards += e.path().extension() == ".feat";
    }
    const nlohmann::json checkpoints = CliJson({"checkpoints", run});
    std::set<int> deleted, on_disk;
    for (const auto& c : checkpoints["checkpoints"]) {
      const int epoch = std::stoi(c.value("epoch", "0"));
      if (c.contains("delete_time") && !c["delete_time"].is_null()) {
        deleted.insert(epoch);
      }
      if (std::filesystem::exists(cluster_->artifacts() /
                                  c.value("path", ""))) {
        on_disk.insert(epoch);
      }
    }
    const nlohmann::json shown = CliJson({"show", run});
    if (run == pinned) {
      // (block4, pre_logits, labels) x (train, val, test) x 3 checkpoints.
      EXPECT_EQ(shards, 27) << run;
      EXPECT_EQ(on_disk, (std::set<int>{1, 2, 3, 4, 5})) << checkpoints.dump();
      EXPECT_EQ(shown["disk"].value("feature_shards", 0), 18) << shown.dump();
    } else {
      EXPECT_EQ(shards, 0) << run;
      // Epochs 1 and 3 were neither evaluated nor the last (while training
      // they were among the three a restart falls back on).
      EXPECT_EQ(deleted, (std::set<int>{1, 3})) << checkpoints.dump();
      EXPECT_EQ(on_disk, (std::set<int>{2, 4, 5})) << checkpoints.dump();
      EXPECT_EQ(shown["disk"].value("checkpoints", 0), 3) << shown.dump();
      EXPECT_FALSE(shown["disk"].contains("feature_shards") &&
                   shown["disk"].value("feature_shards", 0) != 0)
          << shown.dump();
    }
  }
  const nlohmann::json left = CliJson({"gc", "--dry-run"});
  EXPECT_TRUE(left.value("artifacts", nlohmann::json::array()).empty())
      << left.dump();

  const CommandResult removed = cluster_->Cli({"rm", pinned});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_THAT(removed.out, HasSubstr("deleted run " + pinned + ": 32 file(s)"));
  EXPECT_FALSE(
      std::filesystem::exists(cluster_->artifacts() / "runs" / pinned));
  EXPECT_EQ(cluster_->Cli({"show", pinned}).exit_code, 1);
  EXPECT_EQ(CliJson({"show", runs[0]}).value("state", ""),
            "RUN_STATE_SUCCEEDED");
}

// `sslab probe` on a run that succeeded and whose feature shards retention
// deleted: the final checkpoint is extracted again, only the missing probes
// run, and the run is not trained again.
TEST_F(PipelineTest, ProbingAFinishedRunAgainAddsOnlyTheMissingProbes) {
  ASSERT_NO_FATAL_FAILURE(StartAll());
  const int64_t run = Submit({"--max-examples", "64", "--epochs", "1",
                              "--layers", "block3", "--probes", "lbfgs"});
  const std::string id = std::to_string(run);
  ASSERT_EQ(Watch(run), 0) << cluster_->worker("trainer-0").Stderr();
  ASSERT_EQ(cluster_->Cli({"gc", id}).exit_code, 0);
  ASSERT_EQ(CliJson({"show", id})["disk"].value("feature_shards", 0), 0);

  // MLP on half the labels: the plan is every kind x fraction, so L-BFGS on
  // half and MLP on all of them come too.
  const CommandResult added = cluster_->Cli(
      {"probe", id, "--probes", "mlp", "--label-fractions", "0.5"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  EXPECT_THAT(added.out,
              HasSubstr("run " + id +
                        ": 3 probe job(s) added, after extracting its "
                        "features again"));
  const CommandResult busy = cluster_->Cli({"probe", id, "--probes", "sgd"});
  EXPECT_EQ(busy.exit_code, 1);
  EXPECT_THAT(busy.err, HasSubstr("probes can be added to a run that"));
  ASSERT_EQ(Watch(run), 0) << cluster_->worker("evaluator-0").Stderr();

  const nlohmann::json results = CliJson({"results", id});
  std::multiset<std::string> probed;
  for (const auto& r : results.value("results", nlohmann::json::array())) {
    if (r.value("split", "") != "test") continue;
    EXPECT_EQ(r.value("layer", ""), "block3");
    probed.insert(absl::StrCat(r.value("probe_kind", ""), "@",
                               r.value("label_fraction", 0.0)));
  }
  EXPECT_EQ(probed, (std::multiset<std::string>{
                        "PROBE_KIND_LBFGS@1", "PROBE_KIND_LBFGS@0.5",
                        "PROBE_KIND_MLP@1", "PROBE_KIND_MLP@0.5"}))
      << results.dump();
  const nlohmann::json shown = CliJson({"show", id});
  std::map<std::string, int> kinds;
  for (const auto& job : shown["jobs"]) ++kinds[job.value("kind", "")];
  EXPECT_EQ(kinds["JOB_KIND_TRAIN"], 1) << shown.dump();
  EXPECT_EQ(kinds["JOB_KIND_EXTRACT"], 2) << shown.dump();
  EXPECT_EQ(kinds["JOB_KIND_PROBE"], 4) << shown.dump();
  EXPECT_EQ(TrainJob(run).value("attempts", 0), 1);

  const CommandResult again = cluster_->Cli(
      {"probe", id, "--probes", "lbfgs,mlp", "--label-fractions", "1"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("has these probes already"));
  EXPECT_EQ(cluster_->Cli({"probe", id}).exit_code, 2);  // nothing to add

  // --again runs what the run has once more (after an evaluator change),
  // replacing the result: L-BFGS on half the labels, of train and of val.
  const CommandResult redo =
      cluster_->Cli({"probe", id, "--again", "--probes", "lbfgs",
                     "--label-fractions", "0.5"});
  ASSERT_EQ(redo.exit_code, 0) << redo.err;
  EXPECT_THAT(redo.out, HasSubstr("run " + id + ": 1 probe job(s) added"));
  ASSERT_EQ(Watch(run), 0) << cluster_->worker("evaluator-0").Stderr();
  int rows = 0;
  const nlohmann::json reprobed = CliJson({"results", id});
  for (const auto& r : reprobed["results"]) {
    ++rows;
    if (r.value("probe_kind", "") == "PROBE_KIND_LBFGS" &&
        r.value("label_fraction", 0.0) == 0.5 &&
        r.value("split", "") == "test") {
      // --max-examples 64 caps train and val alike: 32 rows of each.
      const auto& hp = r["hyperparameters"];
      EXPECT_NEAR(std::stoi(hp.value("train_rows", "0")), 32, 10) << r.dump();
      EXPECT_NEAR(std::stoi(hp.value("val_rows", "0")), 32, 10) << r.dump();
    }
  }
  EXPECT_EQ(rows, 8);  // 4 targets x test and val: replaced, not added
}

TEST_F(PipelineTest, CancelStopsTrainingBetweenSteps) {
  ASSERT_NO_FATAL_FAILURE(StartAll());
  const int64_t run = Submit({"--max-examples", "512", "--epochs", "50"});
  ASSERT_TRUE(
      cluster_->worker("trainer-0").WaitForStderr([](const std::string& err) {
        return err.find("leased") != std::string::npos;
      }));
  const CommandResult cancel = cluster_->Cli({"cancel", std::to_string(run)});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.err;
  // The trainer learns it at its next heartbeat and stops between steps.
  ASSERT_TRUE(
      cluster_->worker("trainer-0").WaitForStderr([](const std::string& err) {
        return err.find("run cancelled, stopping") != std::string::npos;
      }));
  EXPECT_NE(Watch(run), 0);
  EXPECT_EQ(TrainJob(run).value("state", ""), "JOB_STATE_CANCELLED");
  const nlohmann::json shown = CliJson({"show", std::to_string(run)});
  EXPECT_EQ(shown.value("state", ""), "RUN_STATE_CANCELLED");
}

TEST_F(PipelineTest, KilledTrainerIsResumedFromItsLastCheckpoint) {
  ASSERT_NO_FATAL_FAILURE(StartAll());
  const int64_t run = Submit(
      {"--max-examples", "256", "--epochs", "3", "--layers", "pre_logits"});
  // Kill the trainer as soon as epoch 1's checkpoint is registered: it is
  // then in the middle of epoch 2.
  ASSERT_TRUE(
      cluster_->worker("trainer-0").WaitForStderr([](const std::string& err) {
        return err.find("checkpoint epoch 1 registered") != std::string::npos;
      }))
      << cluster_->worker("trainer-0").Stderr();
  EXPECT_EQ(cluster_->StopWorker("trainer-0", SIGKILL), 128 + SIGKILL);

  // A new trainer gets the job once the lease expires and resumes it.
  ASSERT_NO_FATAL_FAILURE(cluster_->StartWorker("trainer", "trainer-1"));
  ASSERT_EQ(Watch(run), 0) << cluster_->worker("trainer-1").Stderr();
  EXPECT_THAT(cluster_->worker("trainer-1").Stderr(),
              HasSubstr("resuming from"));
  EXPECT_THAT(cluster_->worker("trainer-1").Stderr(),
              HasSubstr("checkpoint epoch 3 registered"));
  EXPECT_EQ(TrainJob(run).value("attempts", 0), 2);
}

// A data-parallel run (--devices-per-run 2) on a CPU worker: its TRAIN job
// is leased as one gang and trains as two c10d ranks sharing the CPU. The
// trainer killed mid-run takes both ranks with it; the next attempt resumes
// the gang from rank 0's last checkpoint and the run ends with results.
TEST_F(PipelineTest, ADataParallelRunTrainsAsTwoRanksAndResumesAsAGang) {
  ASSERT_NO_FATAL_FAILURE(StartAll());
  const int64_t run =
      Submit({"--max-examples", "256", "--epochs", "3", "--layers",
              "pre_logits", "--devices-per-run", "2"});
  ASSERT_TRUE(
      cluster_->worker("trainer-0").WaitForStderr([](const std::string& err) {
        return err.find("checkpoint epoch 1 registered") != std::string::npos;
      }))
      << cluster_->worker("trainer-0").Stderr();
  EXPECT_THAT(cluster_->worker("trainer-0").Stderr(),
              HasSubstr("2 data-parallel ranks meet at 127.0.0.1:"));
  EXPECT_THAT(cluster_->worker("trainer-0").Stderr(),
              HasSubstr("the ranks reduce with c10d gloo"));
  EXPECT_EQ(cluster_->StopWorker("trainer-0", SIGKILL), 128 + SIGKILL);

  ASSERT_NO_FATAL_FAILURE(cluster_->StartWorker("trainer", "trainer-1"));
  ASSERT_EQ(Watch(run), 0) << cluster_->worker("trainer-1").Stderr();
  const std::string resumed = cluster_->worker("trainer-1").Stderr();
  EXPECT_THAT(resumed, HasSubstr("2 data-parallel ranks meet at"));
  EXPECT_THAT(resumed, HasSubstr("resuming from"));
  EXPECT_THAT(resumed, HasSubstr("checkpoint epoch 3 registered"));
  const nlohmann::json train = TrainJob(run);
  EXPECT_EQ(train.value("attempts", 0), 2);
  EXPECT_EQ(train["lineage"].value("data_parallel", ""), "2 ranks: cpu cpu")
      << train.dump();
  EXPECT_EQ(train["lineage"].value("collectives", ""), "gloo") << train.dump();
  // The final checkpoint (rank 0 writes them), and the results.
  const nlohmann::json checkpoints =
      CliJson({"checkpoints", std::to_string(run)});
  ASSERT_FALSE(
      checkpoints.value("checkpoints", nlohmann::json::array()).empty());
  EXPECT_EQ(checkpoints["checkpoints"].back().value("epoch", ""), "3")
      << checkpoints.dump();
  const nlohmann::json results = CliJson({"results", std::to_string(run)});
  EXPECT_EQ(results.value("results", nlohmann::json::array()).size(), 2u)
      << results.dump();  // pre_logits x (val, test)
  const CommandResult shown = cluster_->Cli({"show", std::to_string(run)});
  EXPECT_THAT(shown.out, HasSubstr("2 data-parallel ranks")) << shown.out;
}

TEST_F(PipelineTest, SchedulerKilledAndRestartedLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartAll());
  const int64_t run = Submit({"--max-examples", "128", "--epochs", "2",
                              "--layers", "block4,pre_logits"});
  ASSERT_TRUE(
      cluster_->worker("trainer-0").WaitForStderr([](const std::string& err) {
        return err.find("leased") != std::string::npos;
      }));
  const int port = cluster_->port();
  EXPECT_EQ(cluster_->StopScheduler(SIGKILL), 128 + SIGKILL);
  ASSERT_NO_FATAL_FAILURE(
      cluster_->StartScheduler(port, {"--lease-seconds=6"}));
  // The workers reconnect on their own; the run completes.
  ASSERT_EQ(Watch(run), 0) << cluster_->worker("trainer-0").Stderr();
  const nlohmann::json results = CliJson({"results", std::to_string(run)});
  EXPECT_EQ(results.value("results", nlohmann::json::array()).size(), 4u)
      << results.dump();  // 2 layers x (val, test)
}

TEST_F(PipelineTest, TwoTrainersNeverRunTheSameJob) {
  ASSERT_NO_FATAL_FAILURE(StartAll(/*trainers=*/2));
  const int64_t first = Submit(
      {"--max-examples", "64", "--epochs", "1", "--layers", "pre_logits"});
  const int64_t second = Submit(
      {"--max-examples", "64", "--epochs", "1", "--layers", "pre_logits"});
  ASSERT_EQ(Watch(first), 0);
  ASSERT_EQ(Watch(second), 0);
  EXPECT_EQ(TrainJob(first).value("attempts", 0), 1);
  EXPECT_EQ(TrainJob(second).value("attempts", 0), 1);
  // Each TRAIN job was leased by exactly one trainer, once.
  int leases = 0;
  for (const char* name : {"trainer-0", "trainer-1"}) {
    const std::string err = cluster_->worker(name).Stderr();
    for (size_t at = err.find(") leased"); at != std::string::npos;
         at = err.find(") leased", at + 1)) {
      ++leases;
    }
  }
  EXPECT_EQ(leases, 2);
}

// Small enough for CI (16 px, 2000 images, 6 epochs: a couple of minutes on
// 2 cores), large enough that chance and a random network are far below.
TEST_F(PipelineTest, ScienceShortRotationRunLearnsAndBeatsRandomInit) {
  ASSERT_NO_FATAL_FAILURE(StartAll());
  const std::vector<std::string> common = {
      "--max-examples", "2000",     "--image-size", "16",     "--layers",
      "block3",         "--probes", "lbfgs",        "--seed", "0"};
  // The defaults under test: batch, lr schedule and augmentation.
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.end(), common.begin(), common.end());
    return extra;
  };
  const std::vector<std::string> defaults = {
      "submit",  "-q", "--method",  "rotation", "--arch",    "resnet50_v2",
      "--width", "1",  "--dataset", kDataset,   "--threads", "2"};
  auto submit = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = defaults;
    for (auto& a : with(std::move(extra))) args.push_back(a);
    const CommandResult r = cluster_->Cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "") << "the defaults should not warn";
    int64_t id = 0;
    EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r.out), &id));
    return id;
  };
  const int64_t trained = submit({"--epochs", "6"});
  const int64_t random_init = submit({"--epochs", "0"});
  ASSERT_EQ(Watch(trained), 0) << cluster_->worker("trainer-0").Stderr();
  ASSERT_EQ(Watch(random_init), 0);

  // Pretext: 4 rotations, chance 0.25.
  const nlohmann::json checkpoints =
      CliJson({"checkpoints", std::to_string(trained)});
  ASSERT_FALSE(
      checkpoints.value("checkpoints", nlohmann::json::array()).empty());
  const double pretext = checkpoints["checkpoints"]
                             .back()
                             .value("metrics", nlohmann::json::object())
                             .value("pretext_top1", 0.0);
  EXPECT_GT(pretext, 0.6) << checkpoints.dump();

  auto block3_test_top1 = [&](int64_t run) {
    const nlohmann::json results = CliJson({"results", std::to_string(run)});
    for (const auto& r : results.value("results", nlohmann::json::array())) {
      if (r.value("split", "") == "test" && r.value("layer", "") == "block3") {
        return r.value("top1", -1.0);
      }
    }
    ADD_FAILURE() << "no block3 test result: " << results.dump();
    return -1.0;
  };
  const double trained_top1 = block3_test_top1(trained);
  const double random_top1 = block3_test_top1(random_init);
  EXPECT_GT(trained_top1, random_top1 + 0.01)
      << "trained " << trained_top1 << ", random init " << random_top1;
}

}  // namespace
}  // namespace sslab::testing
