#include "storage/store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sslab::storage {
namespace {

using experiment::DeviceId;
using experiment::DeviceRequest;
using experiment::Method;
using experiment::ProbeKind;
using experiment::ProbeTarget;
using experiment::Split;
using ::sslab::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const absl::Time kT0 = absl::FromUnixSeconds(1767225600);

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           (std::string("storage_test_") + info->name() + "_" +
            std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "sslab.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Store> OpenOrDie() {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path_);
    EXPECT_OK(store.status());
    return store.ok() ? std::move(*store) : nullptr;
  }

  // Reads an integer with the raw SQLite API, bypassing Store.
  int64_t RawQueryInt(const char* sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return v;
  }
  void RawExec(const char* sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

  static storage::Run MakeRun(const std::string& name,
                              Method method = Method::kRotation,
                              std::optional<int64_t> sweep = std::nullopt) {
    storage::Run run;
    run.name = name;
    run.config.method = method;
    run.config.dataset.path = "/data/fmnist";
    run.config.epochs = 1;
    run.config.evaluation.layers = {"block3", "pixels"};
    run.sweep_id = sweep;
    run.created_at = run.updated_at = kT0;
    return run;
  }
  static Sweep MakeSweep(const std::string& name) {
    Sweep sweep;
    sweep.name = name;
    sweep.created_at = kT0;
    return sweep;
  }
  static Job MakeJob(int64_t run_id, int priority,
                     JobKind kind = JobKind::kTrain) {
    Job job;
    job.run_id = run_id;
    job.kind = kind;
    job.state = JobState::kRunnable;
    job.priority = priority;
    job.created_at = job.updated_at = kT0;
    return job;
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(StoreTest, MigratesFreshFileToCurrentVersionInWalMode) {
  auto store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->schema_version(), Store::kSchemaVersion);
  EXPECT_EQ(RawQueryInt("PRAGMA user_version"), Store::kSchemaVersion);
  EXPECT_EQ(RawQueryInt("SELECT count(*) FROM sqlite_master WHERE type = "
                        "'table' AND name IN ('runs','jobs','checkpoints',"
                        "'features','results','metrics','workers','sweeps')"),
            8);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)),
               "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(StoreTest, ReopenKeepsData) {
  int64_t run_id = 0;
  {
    auto store = OpenOrDie();
    ASSERT_OK_AND_ASSIGN(run_id, store->CreateRun(MakeRun("first")));
    ASSERT_OK(store->CreateJob(MakeJob(run_id, 3)).status());
  }
  auto store = OpenOrDie();
  ASSERT_OK_AND_ASSIGN(storage::Run run, store->GetRun(run_id));
  EXPECT_EQ(run.name, "first");
  EXPECT_EQ(run.config, MakeRun("first").config);
  EXPECT_EQ(run.created_at, kT0);
  ASSERT_OK_AND_ASSIGN(std::vector<Job> jobs, store->ListJobs(run_id));
  ASSERT_THAT(jobs, SizeIs(1));
  EXPECT_EQ(jobs[0].priority, 3);
  EXPECT_EQ(jobs[0].state, JobState::kRunnable);
}

TEST_F(StoreTest, SetRunProbesWritesOnlyTheProbePlan) {
  auto store = OpenOrDie();
  ASSERT_OK_AND_ASSIGN(int64_t run_id, store->CreateRun(MakeRun("widen")));
  ASSERT_OK(store->SetRunProbes(run_id, {ProbeKind::kLbfgs, ProbeKind::kMlp},
                                {1.0, 0.1}));
  ASSERT_OK_AND_ASSIGN(storage::Run run, store->GetRun(run_id));
  EXPECT_THAT(run.config.evaluation.probe_kinds,
              ElementsAre(ProbeKind::kLbfgs, ProbeKind::kMlp));
  EXPECT_THAT(run.config.evaluation.label_fractions, ElementsAre(1.0, 0.1));
  storage::Run expected = MakeRun("widen");
  expected.config.evaluation.probe_kinds = {ProbeKind::kLbfgs, ProbeKind::kMlp};
  expected.config.evaluation.label_fractions = {1.0, 0.1};
  EXPECT_EQ(run.config, expected.config);
  EXPECT_THAT(store->SetRunProbes(run_id + 1, {ProbeKind::kSgd}, {1.0}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("run")));
}

TEST_F(StoreTest, RefusesDatabaseFromNewerCode) {
  { OpenOrDie(); }
  RawExec("PRAGMA user_version = 99");
  EXPECT_THAT(Store::Open(path_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("schema version 99")));
}

TEST_F(StoreTest, OnlyOneStoreMayHoldTheFile) {
  auto first = OpenOrDie();
  ASSERT_NE(first, nullptr);
  EXPECT_THAT(Store::Open(path_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("already open")));
  first.reset();
  EXPECT_OK(Store::Open(path_).status());
}

TEST_F(StoreTest, ReportsUnopenablePath) {
  EXPECT_THAT(Store::Open((dir_ / "missing" / "x.db").string()),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("missing")));
}

TEST_F(StoreTest, RefusesFileThatIsNotADatabase) {
  std::ofstream(path_) << std::string(4096, 'x');
  EXPECT_THAT(Store::Open(path_),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(path_)));
}

TEST_F(StoreTest, EnforcesForeignKeysAndChecks) {
  auto store = OpenOrDie();
  EXPECT_THAT(store->CreateJob(MakeJob(/*run_id=*/12345, 0)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("FOREIGN KEY")));
  storage::Run bad = MakeRun("bad");
  bad.config.width = 0;
  EXPECT_THAT(store->CreateRun(bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("run_width_positive")));
  ASSERT_OK_AND_ASSIGN(int64_t run_id, store->CreateRun(MakeRun("ok")));
  Result result;
  result.checkpoint_id = 999;  // no such checkpoint
  result.target = {"block4", ProbeKind::kLbfgs, 1.0};
  EXPECT_THAT(store->UpsertResult(result),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(store->GetRun(run_id + 1),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("run")));
}

TEST_F(StoreTest, TransactionRollsBackEveryWriteOnFailure) {
  auto store = OpenOrDie();
  int64_t run_id = 0;
  absl::Status status = store->InTransaction([&]() -> absl::Status {
    auto id = store->CreateRun(MakeRun("doomed"));
    if (!id.ok()) return id.status();
    run_id = *id;
    auto job = store->CreateJob(MakeJob(run_id, 0));
    if (!job.ok()) return job.status();
    return absl::AbortedError("changed my mind");
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kAborted));
  ASSERT_GT(run_id, 0);
  EXPECT_THAT(store->GetRun(run_id), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(auto runs, store->ListRuns({}, std::nullopt, 10));
  EXPECT_THAT(runs, SizeIs(0));

  // A failing nested body undoes only itself.
  ASSERT_OK(store->InTransaction([&]() -> absl::Status {
    auto kept = store->CreateRun(MakeRun("kept"));
    if (!kept.ok()) return kept.status();
    absl::Status inner = store->InTransaction([&]() -> absl::Status {
      auto id = store->CreateRun(MakeRun("inner"));
      if (!id.ok()) return id.status();
      return absl::AbortedError("inner fails");
    });
    EXPECT_THAT(inner, StatusIs(absl::StatusCode::kAborted));
    return absl::OkStatus();
  }));
  ASSERT_OK_AND_ASSIGN(runs, store->ListRuns({}, std::nullopt, 10));
  ASSERT_THAT(runs, SizeIs(1));
  EXPECT_EQ(runs[0].name, "kept");
}

TEST_F(StoreTest, ListRunsFiltersAndPagesNewestFirst) {
  auto store = OpenOrDie();
  ASSERT_OK_AND_ASSIGN(int64_t sweep_id, store->CreateSweep(MakeSweep("grid")));
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(
        int64_t id,
        store->CreateRun(
            MakeRun("r" + std::to_string(i),
                    i % 2 == 0 ? Method::kRotation : Method::kJigsaw,
                    i < 3 ? std::optional<int64_t>(sweep_id) : std::nullopt)));
    ids.push_back(id);
  }
  ASSERT_OK_AND_ASSIGN(auto page1, store->ListRuns({}, std::nullopt, 2));
  ASSERT_THAT(page1, SizeIs(2));
  EXPECT_EQ(page1[0].id, ids[4]);
  EXPECT_EQ(page1[1].id, ids[3]);
  ASSERT_OK_AND_ASSIGN(auto page2, store->ListRuns({}, page1[1].id, 2));
  ASSERT_THAT(page2, SizeIs(2));
  EXPECT_EQ(page2[0].id, ids[2]);

  RunFilter filter;
  filter.method = Method::kRotation;
  filter.sweep_id = sweep_id;
  ASSERT_OK_AND_ASSIGN(auto filtered,
                       store->ListRuns(filter, std::nullopt, 10));
  ASSERT_THAT(filtered, SizeIs(2));  // r2, r0
  EXPECT_EQ(filtered[0].id, ids[2]);
  EXPECT_EQ(filtered[1].id, ids[0]);

  storage::Run update = filtered[0];
  update.state = RunState::kRunning;
  ASSERT_OK(store->UpdateRun(update));
  RunFilter running;
  running.state = RunState::kRunning;
  ASSERT_OK_AND_ASSIGN(auto active, store->ListRuns(running, std::nullopt, 10));
  ASSERT_THAT(active, SizeIs(1));
  EXPECT_EQ(active[0].id, ids[2]);
}

TEST_F(StoreTest, ResultsAndCheckpointsPageByTheirPlaceInTheOrder) {
  auto store = OpenOrDie();
  ASSERT_OK_AND_ASSIGN(int64_t sweep_id, store->CreateSweep(MakeSweep("grid")));
  std::vector<int64_t> runs;
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(
        int64_t id, store->CreateRun(MakeRun(absl::StrCat("r", i),
                                             Method::kRotation, sweep_id)));
    runs.push_back(id);
  }
  // Written against the order (last run, last epoch, last layer first), so
  // that result ids and list order disagree: a page must resume from the
  // place of its last row, not from its id.
  for (auto run = runs.rbegin(); run != runs.rend(); ++run) {
    for (int epoch : {4, 2}) {
      Checkpoint c;
      c.run_id = *run;
      c.epoch = epoch;
      c.path = absl::StrCat("runs/", *run, "/epoch-", epoch);
      c.sha256 = "aa";
      c.created_at = kT0;
      ASSERT_OK_AND_ASSIGN(int64_t ckpt, store->UpsertCheckpoint(c));
      for (const char* layer : {"pre_logits", "block4", "block1"}) {
        for (double fraction : {1.0, 0.1}) {
          Result r;
          r.checkpoint_id = ckpt;
          r.target = {layer, ProbeKind::kLbfgs, fraction};
          r.split = Split::kTest;
          r.top1 = 0.5;
          ASSERT_OK(store->UpsertResult(r).status());
        }
      }
    }
  }
  ResultFilter filter;
  filter.sweep_id = sweep_id;
  ASSERT_OK_AND_ASSIGN(std::vector<ResultRow> all, store->QueryResults(filter));
  ASSERT_THAT(all, SizeIs(3 * 2 * 3 * 2));
  EXPECT_EQ(all.front().run_id, runs[0]);
  EXPECT_EQ(all.front().epoch, 2);
  EXPECT_EQ(all.front().result.target.layer, "block1");
  EXPECT_EQ(all.front().result.target.label_fraction, 0.1);
  EXPECT_GT(all.front().result.id, all.back().result.id);

  std::vector<int64_t> paged;
  std::optional<int64_t> after;
  for (int page = 0; page < 100; ++page) {
    ASSERT_OK_AND_ASSIGN(std::vector<ResultRow> rows,
                         store->QueryResults(filter, after, 5));
    ASSERT_LE(rows.size(), 5);
    for (const ResultRow& row : rows) paged.push_back(row.result.id);
    if (rows.size() < 5) break;
    after = rows.back().result.id;
  }
  std::vector<int64_t> expected;
  for (const ResultRow& row : all) expected.push_back(row.result.id);
  EXPECT_EQ(paged, expected);
  // A filter applies after the place as well.
  filter.layer = "block4";
  ASSERT_OK_AND_ASSIGN(std::vector<ResultRow> block4,
                       store->QueryResults(filter, all[0].result.id, 100));
  EXPECT_THAT(block4, SizeIs(3 * 2 * 2));
  EXPECT_THAT(store->QueryResults(filter, 999999, 5),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("result")));

  ASSERT_OK_AND_ASSIGN(std::vector<Checkpoint> ckpts,
                       store->ListCheckpoints(runs[1], std::nullopt, 1));
  ASSERT_THAT(ckpts, SizeIs(1));
  EXPECT_EQ(ckpts[0].epoch, 2);
  ASSERT_OK_AND_ASSIGN(ckpts, store->ListCheckpoints(runs[1], ckpts[0].id, 1));
  ASSERT_THAT(ckpts, SizeIs(1));
  EXPECT_EQ(ckpts[0].epoch, 4);
  ASSERT_OK_AND_ASSIGN(ckpts, store->ListCheckpoints(runs[1], ckpts[0].id, 1));
  EXPECT_THAT(ckpts, SizeIs(0));
  EXPECT_THAT(store->ListCheckpoints(runs[1], 999999, 1),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(StoreTest, RunnableJobsComeInPriorityThenFifoOrder) {
  auto store = OpenOrDie();
  ASSERT_OK_AND_ASSIGN(int64_t run_id, store->CreateRun(MakeRun("r")));
  ASSERT_OK_AND_ASSIGN(int64_t low, store->CreateJob(MakeJob(run_id, 0)));
  ASSERT_OK_AND_ASSIGN(int64_t high1, store->CreateJob(MakeJob(run_id, 5)));
  ASSERT_OK_AND_ASSIGN(int64_t high2, store->CreateJob(MakeJob(run_id, 5)));
  Job gpu = MakeJob(run_id, 9, JobKind::kExtract);
  gpu.device = DeviceRequest::kCuda;
  ASSERT_OK_AND_ASSIGN(int64_t gpu_id, store->CreateJob(gpu));
  Job any = MakeJob(run_id, 7, JobKind::kTrain);
  any.device = DeviceRequest::kAuto;
  ASSERT_OK_AND_ASSIGN(int64_t auto_id, store->CreateJob(any));

  using F = JobFit;
  ASSERT_OK_AND_ASSIGN(
      auto cpu_jobs,
      store->ListRunnableJobs({F{JobKind::kTrain, DeviceRequest::kCpu},
                               F{JobKind::kExtract, DeviceRequest::kCpu}},
                              10));
  std::vector<int64_t> order;
  for (const Job& j : cpu_jobs) order.push_back(j.id);
  EXPECT_THAT(order, ElementsAre(high1, high2, low));

  // Each (kind, device) pair selects on its own: an auto TRAIN job does not
  // make auto EXTRACT jobs fit.
  ASSERT_OK_AND_ASSIGN(
      auto all,
      store->ListRunnableJobs({F{JobKind::kTrain, DeviceRequest::kAuto},
                               F{JobKind::kExtract, DeviceRequest::kCuda},
                               F{JobKind::kTrain, DeviceRequest::kCpu}},
                              10));
  order.clear();
  for (const Job& j : all) order.push_back(j.id);
  EXPECT_THAT(order, ElementsAre(gpu_id, auto_id, high1, high2, low));
  ASSERT_OK_AND_ASSIGN(
      auto cuda_train,
      store->ListRunnableJobs({F{JobKind::kTrain, DeviceRequest::kCuda},
                               F{JobKind::kExtract, DeviceRequest::kAuto}},
                              10));
  EXPECT_THAT(cuda_train, SizeIs(0));
  ASSERT_OK_AND_ASSIGN(
      auto probes,
      store->ListRunnableJobs({F{JobKind::kProbe, DeviceRequest::kCpu},
                               F{JobKind::kProbe, DeviceRequest::kCuda},
                               F{JobKind::kProbe, DeviceRequest::kAuto}},
                              10));
  EXPECT_THAT(probes, SizeIs(0));

  Job leased = cpu_jobs[0];
  leased.state = JobState::kRunning;
  leased.lease_expiry = kT0 + absl::Seconds(30);
  leased.lease_device = DeviceId::Cpu();
  leased.lease_token_sha256 = std::string(64, 'a');
  ASSERT_OK(store->UpdateJob(leased));
  ASSERT_OK_AND_ASSIGN(auto held, store->ListLeasedJobs());
  ASSERT_THAT(held, SizeIs(1));
  EXPECT_EQ(held[0].id, high1);
  EXPECT_EQ(held[0].lease_expiry, kT0 + absl::Seconds(30));
  EXPECT_EQ(held[0].lease_device, DeviceId::Cpu());
  EXPECT_EQ(held[0].lease_token_sha256, std::string(64, 'a'));
  EXPECT_THAT(held[0].lease_gang, SizeIs(0));

  // A gang lease keeps every rank's device, in rank order.
  leased.lease_device = DeviceId::Cuda(1);
  leased.lease_gang = {DeviceId::Cuda(1), DeviceId::Cuda(0)};
  ASSERT_OK(store->UpdateJob(leased));
  ASSERT_OK_AND_ASSIGN(held, store->ListLeasedJobs());
  ASSERT_THAT(held, SizeIs(1));
  EXPECT_THAT(held[0].lease_gang,
              ElementsAre(DeviceId::Cuda(1), DeviceId::Cuda(0)));
}

TEST_F(StoreTest, ArtifactUpsertsAreIdempotentAndResultsJoinRuns) {
  auto store = OpenOrDie();
  ASSERT_OK_AND_ASSIGN(int64_t run_id, store->CreateRun(MakeRun("r")));
  Checkpoint c;
  c.run_id = run_id;
  c.epoch = 3;
  c.step = 300;
  c.path = "/a/ckpt-3";
  c.sha256 = "aa";
  c.bytes = 10;
  c.metrics = {{"loss", 0.25}, {"pretext_top1", 0.9}};
  c.created_at = kT0;
  ASSERT_OK_AND_ASSIGN(int64_t ckpt, store->UpsertCheckpoint(c));
  c.sha256 = "bb";
  c.is_final = true;
  ASSERT_OK_AND_ASSIGN(int64_t again, store->UpsertCheckpoint(c));
  EXPECT_EQ(again, ckpt);
  ASSERT_OK_AND_ASSIGN(auto ckpts, store->ListCheckpoints(run_id));
  ASSERT_THAT(ckpts, SizeIs(1));
  EXPECT_EQ(ckpts[0].sha256, "bb");
  EXPECT_TRUE(ckpts[0].is_final);
  EXPECT_EQ(ckpts[0].metrics, c.metrics);

  Feature f;
  f.checkpoint_id = ckpt;
  f.layer = "block4";
  f.split = Split::kTrain;
  f.path = "/a/f";
  f.rows = 5;
  f.dims = 7;
  ASSERT_OK_AND_ASSIGN(int64_t f1, store->UpsertFeature(f));
  ASSERT_OK_AND_ASSIGN(int64_t f2, store->UpsertFeature(f));
  EXPECT_EQ(f1, f2);
  ASSERT_OK_AND_ASSIGN(auto features, store->ListFeatures(ckpt));
  ASSERT_THAT(features, SizeIs(1));
  EXPECT_EQ(features[0].split, Split::kTrain);

  Result r;
  r.checkpoint_id = ckpt;
  r.target = {"block4", ProbeKind::kMlp, 0.1};
  r.split = Split::kTest;
  r.top1 = 0.5;
  r.hyperparameters = {{"l2", "0.001"}};
  ASSERT_OK(store->UpsertResult(r).status());
  r.top1 = 0.6;
  ASSERT_OK(store->UpsertResult(r).status());
  r.target.layer = "pre_logits";
  ASSERT_OK(store->UpsertResult(r).status());

  ResultFilter filter;
  filter.run_id = run_id;
  ASSERT_OK_AND_ASSIGN(auto rows, store->QueryResults(filter));
  ASSERT_THAT(rows, SizeIs(2));
  EXPECT_EQ(rows[0].result.target,
            (ProbeTarget{"block4", ProbeKind::kMlp, 0.1}));
  EXPECT_EQ(rows[0].result.split, Split::kTest);
  EXPECT_DOUBLE_EQ(rows[0].result.top1, 0.6);
  EXPECT_EQ(rows[0].result.hyperparameters.at("l2"), "0.001");
  EXPECT_EQ(rows[0].method, Method::kRotation);
  EXPECT_EQ(rows[0].epoch, 3);
  filter.layer = "pre_logits";
  ASSERT_OK_AND_ASSIGN(rows, store->QueryResults(filter));
  ASSERT_THAT(rows, SizeIs(1));
  filter.probe_kind = ProbeKind::kLbfgs;
  ASSERT_OK_AND_ASSIGN(rows, store->QueryResults(filter));
  EXPECT_THAT(rows, SizeIs(0));

  ASSERT_OK(
      store->AppendMetrics(run_id, {{1, "loss", 2.0}, {2, "loss", 1.5}}, kT0));
  ASSERT_OK_AND_ASSIGN(auto metrics, store->ListMetrics(run_id, "loss"));
  ASSERT_THAT(metrics, SizeIs(2));
  EXPECT_DOUBLE_EQ(metrics[1].value, 1.5);
}

TEST_F(StoreTest, KeepsEveryFieldOfARunsConfigInTypedColumns) {
  auto store = OpenOrDie();
  storage::Run run = MakeRun("full");
  experiment::RunConfig& c = run.config;
  c.method = Method::kRelativePatchLocation;
  c.architecture = experiment::Architecture::kVgg19Bn;
  c.width = 3;
  c.last_relu = false;
  c.dataset = {experiment::DatasetKind::kCifar, "/data/cifar", 0.25, 5000, 32};
  c.epochs = 9;
  c.batch_size = 96;
  c.lr_schedule = {0.4, 1.5, {4.5, 7.25}, 0.5};
  c.evaluation.layers = {"fc6", "pixels"};
  c.evaluation.probe_kinds = {ProbeKind::kMlp, ProbeKind::kLbfgs};
  c.evaluation.label_fractions = {1.0, 0.1};
  c.evaluation.every_epochs = 3;
  c.evaluation.feature_dtype = experiment::FeatureDtype::kFloat16;
  c.seed = int64_t{1} << 40;
  c.device = experiment::DeviceRequest::kCuda;
  c.threads = 7;
  run.max_attempts = 5;
  run.versions = {{"sslab", "0.1.0"}, {"api", "sslab.v1"}};
  ASSERT_OK_AND_ASSIGN(int64_t id, store->CreateRun(run));
  ASSERT_OK_AND_ASSIGN(storage::Run read, store->GetRun(id));
  EXPECT_EQ(read.config, c);
  EXPECT_EQ(read.max_attempts, 5);
  EXPECT_EQ(read.versions, run.versions);
  // The columns are plain SQL: a dashboard can filter on them.
  EXPECT_EQ(RawQueryInt("SELECT count(*) FROM runs WHERE dataset_kind = "
                        "'cifar' AND epochs = 9 AND device = 'cuda' AND "
                        "json_array_length(eval_probe_kinds) = 2"),
            1);

  Sweep sweep;
  sweep.name = "grid";
  sweep.grid.methods = {Method::kJigsaw};
  sweep.grid.widths = {1, 2};
  sweep.grid.last_relu_values = {false, true};
  sweep.created_at = kT0;
  ASSERT_OK_AND_ASSIGN(int64_t sweep_id, store->CreateSweep(sweep));
  ASSERT_OK_AND_ASSIGN(Sweep read_sweep, store->GetSweep(sweep_id));
  EXPECT_EQ(read_sweep.grid, sweep.grid);
}

TEST_F(StoreTest, ProbeJobsKeepTheirTargetAndOnlyThem) {
  auto store = OpenOrDie();
  ASSERT_OK_AND_ASSIGN(int64_t run_id, store->CreateRun(MakeRun("r")));
  Job probe = MakeJob(run_id, 0, JobKind::kProbe);
  probe.probe = ProbeTarget{"pixels", ProbeKind::kSgd, 0.05};
  ASSERT_OK_AND_ASSIGN(int64_t id, store->CreateJob(probe));
  ASSERT_OK_AND_ASSIGN(Job read, store->GetJob(id));
  EXPECT_EQ(read.probe, probe.probe);
  EXPECT_EQ(read.lease_device, std::nullopt);

  Job untargeted = MakeJob(run_id, 0, JobKind::kProbe);
  EXPECT_THAT(store->CreateJob(untargeted),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("job_probe_target")));
  Job targeted_train = MakeJob(run_id, 0, JobKind::kTrain);
  targeted_train.probe = probe.probe;
  EXPECT_THAT(store->CreateJob(targeted_train),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(StoreTest, ValuesThisCodeDidNotWriteAreDataLoss) {
  int64_t run_id = 0;
  {
    auto store = OpenOrDie();
    ASSERT_OK_AND_ASSIGN(run_id, store->CreateRun(MakeRun("r")));
  }
  RawExec("UPDATE runs SET method = 'dancing'");
  auto store = OpenOrDie();
  EXPECT_THAT(store->GetRun(run_id),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("'dancing'")));
  store.reset();
  RawExec("UPDATE runs SET method = 'rotation', eval_probe_kinds = '[\"x\"]'");
  store = OpenOrDie();
  EXPECT_THAT(store->GetRun(run_id),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("probe kind")));
}

// The file a schema-1 build wrote (storage/testdata/make_schema_v1_db.sh),
// copied so that the migration runs on a scratch copy.
std::string CopyOfSchemaV1(const std::filesystem::path& dir) {
  const std::filesystem::path from =
      std::filesystem::path(SSLAB_STORAGE_TESTDATA) / "schema_v1.db";
  const std::filesystem::path to = dir / "migrated.db";
  std::filesystem::copy_file(from, to,
                             std::filesystem::copy_options::overwrite_existing);
  return to.string();
}

TEST_F(StoreTest, LatestMetricsFollowTheLargestStep) {
  auto store = OpenOrDie();
  ASSERT_OK_AND_ASSIGN(int64_t run, store->CreateRun(MakeRun("r")));
  ASSERT_OK(
      store->AppendMetrics(run, {{10, "loss", 2.0}, {10, "lr", 0.1}}, kT0));
  ASSERT_OK(store->AppendMetrics(run, {{20, "loss", 1.5}}, kT0));
  // A late report of an earlier step is kept but is not the latest.
  ASSERT_OK(store->AppendMetrics(run, {{15, "loss", 9.0}}, kT0));
  ASSERT_OK_AND_ASSIGN(auto latest, store->LatestMetrics(run));
  ASSERT_THAT(latest, SizeIs(2));
  EXPECT_EQ(latest[0].name, "loss");
  EXPECT_EQ(latest[0].step, 20);
  EXPECT_DOUBLE_EQ(latest[0].value, 1.5);
  EXPECT_EQ(latest[1].name, "lr");

  // A database of schema 3 gets the table filled from its metrics.
  store.reset();
  RawExec(
      "DROP TABLE latest_metrics; ALTER TABLE workers DROP COLUMN build_json; "
      "ALTER TABLE jobs DROP COLUMN lineage_json; "
      "DROP INDEX checkpoints_live; ALTER TABLE runs DROP COLUMN pinned; "
      "ALTER TABLE runs DROP COLUMN eval_feature_dtype; "
      "ALTER TABLE checkpoints DROP COLUMN deleted_ms; "
      "ALTER TABLE features DROP COLUMN bytes; "
      "ALTER TABLE features DROP COLUMN deleted_ms; "
      "ALTER TABLE runs DROP COLUMN devices_per_run; "
      "ALTER TABLE jobs DROP COLUMN lease_gang; PRAGMA user_version = 3;");
  store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  ASSERT_OK_AND_ASSIGN(auto migrated, store->LatestMetrics(run));
  ASSERT_THAT(migrated, SizeIs(2));
  EXPECT_EQ(migrated[0].step, 20);
  EXPECT_DOUBLE_EQ(migrated[0].value, 1.5);
}

TEST_F(StoreTest, MetricSeriesAreThinnedToTheirCap) {
  StoreOptions options;
  options.max_metric_points = 100;
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(path_, options));
  ASSERT_OK_AND_ASSIGN(int64_t run, store->CreateRun(MakeRun("long")));
  for (int step = 0; step < 1000; ++step) {
    ASSERT_OK(store->AppendMetrics(
        run, {{step, "loss", 1.0 / (1 + step)}, {step, "lr", 0.1}}, kT0));
  }
  ASSERT_OK_AND_ASSIGN(auto loss, store->ListMetrics(run, "loss"));
  EXPECT_LE(loss.size(), 100u);
  EXPECT_GE(loss.size(), 50u);
  // The whole run is still covered: the first point, and the most recent
  // ones without gaps.
  EXPECT_EQ(loss.front().step, 0);
  EXPECT_EQ(loss.back().step, 999);
  EXPECT_EQ(loss[loss.size() - 2].step, 998);
  ASSERT_OK_AND_ASSIGN(auto latest, store->LatestMetrics(run));
  ASSERT_THAT(latest, SizeIs(2));
  EXPECT_EQ(latest[0].step, 999);
  ASSERT_OK_AND_ASSIGN(auto lr, store->ListMetrics(run, "lr"));
  EXPECT_LE(lr.size(), 100u);
}

TEST_F(StoreTest, BacksUpALiveDatabaseFromASecondConnection) {
  auto store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 50; ++i) {
    ASSERT_OK(store->CreateRun(MakeRun(absl::StrCat("r", i))).status());
  }
  // The scheduler keeps its exclusive Store; `sslab-scheduler backup` opens
  // a second, non-exclusive one on the same file.
  StoreOptions second;
  second.exclusive = false;
  ASSERT_OK_AND_ASSIGN(auto reader, Store::Open(path_, second));
  const std::string copy = (dir_ / "backup.db").string();
  ASSERT_OK(reader->Backup(copy));
  ASSERT_OK(store->CreateRun(MakeRun("after")).status());
  // Only the copy is left in its directory: no staged temporary.
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().string().find("backup.db.tmp-"), std::string::npos)
        << entry.path();
  }
  ASSERT_OK_AND_ASSIGN(auto restored, Store::Open(copy));
  ASSERT_OK_AND_ASSIGN(auto runs, restored->ListRuns({}, std::nullopt, 100));
  EXPECT_THAT(runs, SizeIs(50));  // as of the backup, not later
  EXPECT_EQ(restored->schema_version(), Store::kSchemaVersion);
}

TEST_F(StoreTest, ADamagedFileIsRefusedAtOpenNamingIt) {
  {
    auto store = OpenOrDie();
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 200; ++i) {
      ASSERT_OK(store->CreateRun(MakeRun(absl::StrCat("run ", i))).status());
    }
  }
  const int64_t page_size = RawQueryInt("PRAGMA page_size");
  const int64_t pages = RawQueryInt("PRAGMA page_count");
  ASSERT_GT(pages, 4);
  {  // Scribble over a page in the middle (a disk or a copy gone wrong).
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(page_size * (pages / 2));
    const std::string junk(page_size, '\xA5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  EXPECT_THAT(Store::Open(path_),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(path_)));
  // Without the check the damage would surface only on some later query.
  StoreOptions unchecked;
  unchecked.check_integrity = false;
  EXPECT_OK(Store::Open(path_, unchecked).status());
}

TEST_F(StoreTest, ArtifactLifecycleMarksPinsCountsAndDeletesRuns) {
  auto store = OpenOrDie();
  ASSERT_OK_AND_ASSIGN(int64_t run_id, store->CreateRun(MakeRun("r")));
  ASSERT_OK_AND_ASSIGN(int64_t other, store->CreateRun(MakeRun("other")));
  std::vector<int64_t> ckpts;
  for (int epoch : {1, 2}) {
    Checkpoint c;
    c.run_id = run_id;
    c.epoch = epoch;
    c.path = absl::StrCat("runs/1/epoch-", epoch);
    c.bytes = 1000 * epoch;
    c.created_at = kT0;
    ASSERT_OK_AND_ASSIGN(int64_t id, store->UpsertCheckpoint(c));
    ckpts.push_back(id);
  }
  Feature f;
  f.checkpoint_id = ckpts[1];
  f.layer = "block4";
  f.path = "runs/1/f";
  f.rows = 5;
  f.dims = 7;
  f.bytes = 300;
  ASSERT_OK_AND_ASSIGN(int64_t feature, store->UpsertFeature(f));
  ASSERT_OK(store
                ->UpsertResult({0,
                                ckpts[1],
                                {"block4", ProbeKind::kLbfgs, 1},
                                Split::kTest,
                                0.5,
                                0.9,
                                {},
                                kT0})
                .status());
  ASSERT_OK(store->AppendMetrics(run_id, {{1, "loss", 2.0}}, kT0));

  ASSERT_OK_AND_ASSIGN(DiskUsage usage, store->RunDiskUsage(run_id));
  EXPECT_EQ(usage.checkpoints, 2);
  EXPECT_EQ(usage.checkpoint_bytes, 3000);
  EXPECT_EQ(usage.feature_shards, 1);
  EXPECT_EQ(usage.feature_bytes, 300);
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> with_artifacts,
                       store->ListRunIdsWithArtifacts());
  EXPECT_THAT(with_artifacts, ElementsAre(run_id));

  // Deleted files keep their rows, marked, and stop counting.
  ASSERT_OK(store->MarkCheckpointDeleted(ckpts[0], kT0 + absl::Seconds(1)));
  ASSERT_OK(store->MarkFeatureDeleted(feature, kT0 + absl::Seconds(2)));
  ASSERT_OK_AND_ASSIGN(usage, store->RunDiskUsage(run_id));
  EXPECT_EQ(usage.checkpoints, 1);
  EXPECT_EQ(usage.checkpoint_bytes, 2000);
  EXPECT_EQ(usage.feature_shards, 0);
  EXPECT_EQ(usage.feature_bytes, 0);
  ASSERT_OK_AND_ASSIGN(auto listed, store->ListCheckpoints(run_id));
  EXPECT_EQ(listed[0].deleted_at, kT0 + absl::Seconds(1));
  EXPECT_FALSE(listed[1].deleted_at);
  ASSERT_OK_AND_ASSIGN(auto features, store->ListFeatures(ckpts[1]));
  EXPECT_EQ(features[0].deleted_at, kT0 + absl::Seconds(2));
  // Registered again (a re-extraction): there again.
  ASSERT_OK(store->UpsertFeature(f).status());
  ASSERT_OK_AND_ASSIGN(usage, store->RunDiskUsage(run_id));
  EXPECT_EQ(usage.feature_shards, 1);
  EXPECT_THAT(store->MarkCheckpointDeleted(999, kT0),
              StatusIs(absl::StatusCode::kNotFound));

  ASSERT_OK(store->SetRunPinned(run_id, true));
  ASSERT_OK_AND_ASSIGN(storage::Run pinned, store->GetRun(run_id));
  EXPECT_TRUE(pinned.pinned);
  EXPECT_THAT(store->SetRunPinned(999, true),
              StatusIs(absl::StatusCode::kNotFound));

  // A run goes with every row of it; the other run stays.
  ASSERT_OK(store->DeleteRun(run_id));
  EXPECT_THAT(store->GetRun(run_id), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(listed, store->ListCheckpoints(run_id));
  EXPECT_THAT(listed, SizeIs(0));
  ASSERT_OK_AND_ASSIGN(features, store->ListFeatures(ckpts[1]));
  EXPECT_THAT(features, SizeIs(0));
  ASSERT_OK_AND_ASSIGN(auto metrics, store->ListMetrics(run_id));
  EXPECT_THAT(metrics, SizeIs(0));
  ResultFilter filter;
  filter.run_id = run_id;
  ASSERT_OK_AND_ASSIGN(auto results, store->QueryResults(filter));
  EXPECT_THAT(results, SizeIs(0));
  ASSERT_OK(store->GetRun(other).status());
  EXPECT_THAT(store->DeleteRun(run_id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(RawQueryInt("SELECT count(*) FROM pragma_foreign_key_check"), 0);
}

TEST_F(StoreTest, MigratesADatabaseWrittenBySchemaVersion1) {
  path_ = CopyOfSchemaV1(dir_);
  EXPECT_EQ(RawQueryInt("PRAGMA user_version"), 1);
  auto store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->schema_version(), Store::kSchemaVersion);

  // Every run is kept, its config now in typed columns.
  ASSERT_OK_AND_ASSIGN(auto runs, store->ListRuns({}, std::nullopt, 100));
  ASSERT_THAT(runs, SizeIs(6));
  ASSERT_OK_AND_ASSIGN(storage::Run tiny, store->GetRun(1));
  EXPECT_EQ(tiny.name, "tiny");
  EXPECT_EQ(tiny.state, RunState::kSucceeded);
  const experiment::RunConfig& c = tiny.config;
  EXPECT_EQ(c.method, Method::kRotation);
  EXPECT_EQ(c.architecture, experiment::Architecture::kResNet50V2);
  EXPECT_EQ(c.width, 1);
  EXPECT_TRUE(c.last_relu);
  EXPECT_EQ(c.dataset.kind, experiment::DatasetKind::kIdx);
  EXPECT_EQ(c.dataset.path, "/usr/share/datasets/fashion-mnist");
  EXPECT_DOUBLE_EQ(c.dataset.val_fraction, 0.1);
  EXPECT_EQ(c.dataset.max_examples, 64);
  EXPECT_EQ(c.dataset.image_size, 28);
  EXPECT_EQ(c.epochs, 1);
  EXPECT_EQ(c.batch_size, 64);
  EXPECT_DOUBLE_EQ(c.lr_schedule.base_lr, 0.1);
  EXPECT_DOUBLE_EQ(c.lr_schedule.warmup_epochs, 5.0 / 35);
  EXPECT_THAT(c.lr_schedule.decay_epochs, ElementsAre(15.0 / 35, 25.0 / 35));
  EXPECT_DOUBLE_EQ(c.lr_schedule.decay_factor, 0.1);
  EXPECT_THAT(c.evaluation.layers, ElementsAre("block3", "pixels"));
  EXPECT_THAT(c.evaluation.probe_kinds,
              ElementsAre(ProbeKind::kLbfgs, ProbeKind::kSgd));
  EXPECT_THAT(c.evaluation.label_fractions, ElementsAre(1.0, 0.5));
  EXPECT_EQ(c.evaluation.every_epochs, 0);
  EXPECT_EQ(c.seed, 7);
  EXPECT_EQ(c.device, experiment::DeviceRequest::kAuto);
  // Settings version 1 could not choose: what its runs ran with.
  EXPECT_EQ(c.augmentation, experiment::Augmentation::kInception);
  EXPECT_EQ(c.precision, experiment::Precision::kFp32);
  EXPECT_EQ(c.memory_format, experiment::MemoryFormat::kNchw);
  EXPECT_EQ(c.probe_device, experiment::DeviceRequest::kCpu);
  EXPECT_EQ(c.evaluation.probe, experiment::ProbeSettings{});
  EXPECT_EQ(c.devices_per_run, 1);
  EXPECT_EQ(tiny.max_attempts, 3);
  EXPECT_EQ(tiny.versions.at("api"), "sslab.v1");
  EXPECT_OK(experiment::ValidateRunConfig(c));

  ASSERT_OK_AND_ASSIGN(storage::Run queued, store->GetRun(6));
  EXPECT_EQ(queued.state, RunState::kPending);
  EXPECT_EQ(queued.config.method, Method::kSupervised);
  EXPECT_EQ(queued.config.device, experiment::DeviceRequest::kCuda);
  EXPECT_EQ(queued.config.probe_device, experiment::DeviceRequest::kCuda);
  EXPECT_EQ(queued.config.evaluation.every_epochs, 5);
  EXPECT_EQ(queued.config.batch_size, 256);
  EXPECT_DOUBLE_EQ(queued.config.lr_schedule.base_lr, 0.2);
  EXPECT_THAT(queued.config.lr_schedule.decay_epochs, ElementsAre(10, 20));
  EXPECT_EQ(queued.config.evaluation.layers,
            experiment::RepresentationLayers(queued.config.architecture));
  ASSERT_OK_AND_ASSIGN(storage::Run cancelled, store->GetRun(5));
  EXPECT_EQ(cancelled.state, RunState::kCancelled);
  EXPECT_EQ(cancelled.error, "cancelled: no GPU here");
  EXPECT_EQ(cancelled.priority, 3);
  for (const storage::Run& run : runs) {
    EXPECT_OK(experiment::ValidateRunConfig(run.config)) << run.name;
  }

  // Jobs: PROBE targets typed, GPU jobs need CUDA, leases kept.
  ASSERT_OK_AND_ASSIGN(auto jobs, store->ListJobs(1));
  ASSERT_THAT(jobs, SizeIs(10));
  EXPECT_EQ(jobs[0].kind, JobKind::kTrain);
  EXPECT_EQ(jobs[0].probe, std::nullopt);
  EXPECT_EQ(jobs[0].lease_device, DeviceId::Cpu());
  EXPECT_THAT(jobs[0].lease_gang, SizeIs(0));
  // Leases from before lease tokens have none: no call can act on them.
  EXPECT_EQ(jobs[0].lease_token_sha256, "");
  EXPECT_EQ(jobs[2].probe, (ProbeTarget{"block3", ProbeKind::kLbfgs, 1.0}));
  int probes = 0;
  for (const Job& job : jobs) probes += job.probe.has_value();
  EXPECT_EQ(probes, 8);
  ASSERT_OK_AND_ASSIGN(auto queued_jobs, store->ListJobs(6));
  ASSERT_THAT(queued_jobs, SizeIs(1));
  EXPECT_EQ(queued_jobs[0].device, DeviceRequest::kCuda);
  EXPECT_EQ(jobs[0].device, DeviceRequest::kCpu);
  EXPECT_EQ(queued_jobs[0].state, JobState::kRunnable);
  ASSERT_OK_AND_ASSIGN(
      auto runnable, store->ListRunnableJobs(
                         {JobFit{JobKind::kTrain, DeviceRequest::kCuda}}, 10));
  ASSERT_THAT(runnable, SizeIs(1));
  EXPECT_EQ(runnable[0].run_id, 6);

  // Checkpoints, features and results are all there.
  ASSERT_OK_AND_ASSIGN(auto ckpts, store->ListCheckpoints(1));
  ASSERT_THAT(ckpts, SizeIs(1));
  EXPECT_TRUE(ckpts[0].is_final);
  EXPECT_TRUE(ckpts[0].metrics.count("pretext_top1"));
  ASSERT_OK_AND_ASSIGN(auto features, store->ListFeatures(ckpts[0].id));
  EXPECT_THAT(features, SizeIs(6));
  // Schema 6 estimates the sizes of shards registered before it, and
  // deleted nothing.
  EXPECT_EQ(features[0].bytes, features[0].rows * features[0].dims * 4);
  EXPECT_GT(features[0].bytes, 0);
  EXPECT_FALSE(features[0].deleted_at);
  EXPECT_FALSE(ckpts[0].deleted_at);
  EXPECT_FALSE(tiny.pinned);
  ResultFilter filter;
  filter.run_id = 1;
  ASSERT_OK_AND_ASSIGN(auto results, store->QueryResults(filter));
  EXPECT_THAT(results, SizeIs(16));  // 2 layers x 2 probes x 2 fractions x 2
  ResultFilter sweep_filter;
  sweep_filter.sweep_id = 1;
  ASSERT_OK_AND_ASSIGN(auto sweep_results, store->QueryResults(sweep_filter));
  EXPECT_THAT(sweep_results, SizeIs(4));
  EXPECT_EQ(sweep_results[0].result.target.probe_kind, ProbeKind::kMlp);
  EXPECT_EQ(RawQueryInt("SELECT count(*) FROM results"), 20);
  ASSERT_OK_AND_ASSIGN(Sweep sweep, store->GetSweep(1));
  EXPECT_EQ(sweep.name, "widths");
  EXPECT_THAT(sweep.grid.widths, ElementsAre(1, 2));
  EXPECT_THAT(sweep.grid.architectures,
              ElementsAre(experiment::Architecture::kVgg19Bn));
  EXPECT_EQ(RawQueryInt("SELECT count(*) FROM pragma_foreign_key_check"), 0);

  // Workers keep their devices, now described (nothing was checked then).
  ASSERT_OK_AND_ASSIGN(auto workers, store->ListWorkers());
  ASSERT_THAT(workers, SizeIs(3));
  ASSERT_THAT(workers[0].devices, SizeIs(1));
  EXPECT_EQ(workers[0].devices[0].id, DeviceId::Cpu());
  EXPECT_EQ(workers[0].devices[0].key, "");

  // New rows continue the ids of the old ones.
  ASSERT_OK_AND_ASSIGN(int64_t next, store->CreateRun(MakeRun("after")));
  EXPECT_EQ(next, 7);
  Job job = MakeJob(next, 0);
  ASSERT_OK_AND_ASSIGN(int64_t job_id, store->CreateJob(job));
  EXPECT_EQ(job_id, 20);
}

TEST_F(StoreTest, CountsAndListsForMonitoring) {
  auto store = OpenOrDie();
  Sweep sweep;
  sweep.name = "grid";
  sweep.created_at = kT0;
  ASSERT_OK_AND_ASSIGN(int64_t first, store->CreateSweep(sweep));
  ASSERT_OK_AND_ASSIGN(int64_t second, store->CreateSweep(sweep));
  ASSERT_OK_AND_ASSIGN(
      int64_t a, store->CreateRun(MakeRun("a", Method::kRotation, first)));
  ASSERT_OK(store->CreateRun(MakeRun("b", Method::kRotation, first)).status());
  ASSERT_OK(store->CreateRun(MakeRun("solo")).status());
  storage::Run done = *store->GetRun(a);
  done.state = RunState::kSucceeded;
  ASSERT_OK(store->UpdateRun(done));

  ASSERT_OK_AND_ASSIGN(auto sweeps, store->ListSweeps(std::nullopt, 10));
  ASSERT_THAT(sweeps, SizeIs(2));
  EXPECT_EQ(sweeps[0].sweep.id, second);  // newest first
  EXPECT_EQ(sweeps[0].runs, 0);
  EXPECT_EQ(sweeps[1].runs, 2);
  EXPECT_EQ(sweeps[1].succeeded, 1);
  ASSERT_OK_AND_ASSIGN(auto older, store->ListSweeps(second, 10));
  ASSERT_THAT(older, SizeIs(1));
  EXPECT_EQ(older[0].sweep.id, first);

  ASSERT_OK_AND_ASSIGN(auto runs, store->CountRuns());
  EXPECT_EQ(runs[RunState::kPending], 2);
  EXPECT_EQ(runs[RunState::kSucceeded], 1);
  EXPECT_FALSE(runs.count(RunState::kFailed));

  ASSERT_OK(store->CreateJob(MakeJob(a, 0)).status());
  ASSERT_OK(store->CreateJob(MakeJob(a, 0, JobKind::kExtract)).status());
  ASSERT_OK(store->CreateJob(MakeJob(a, 0, JobKind::kExtract)).status());
  ASSERT_OK_AND_ASSIGN(auto jobs, store->CountJobs());
  EXPECT_EQ((jobs[{JobKind::kTrain, JobState::kRunnable}]), 1);
  EXPECT_EQ((jobs[{JobKind::kExtract, JobState::kRunnable}]), 2);

  Worker w;
  w.name = "w1";
  w.kinds = {JobKind::kProbe};
  w.devices = {{DeviceId::Cpu(), "", "", 0}};
  ASSERT_OK(store->UpsertWorker(w).status());
  w.name = "w2";
  ASSERT_OK(store->UpsertWorker(w).status());
  ASSERT_OK_AND_ASSIGN(auto workers, store->ListWorkers());
  ASSERT_THAT(workers, SizeIs(2));
  EXPECT_EQ(workers[1].name, "w2");
  EXPECT_THAT(workers[1].kinds, ElementsAre(JobKind::kProbe));
  ASSERT_OK_AND_ASSIGN(auto page1, store->ListWorkers(std::nullopt, 1));
  ASSERT_THAT(page1, SizeIs(1));
  ASSERT_OK_AND_ASSIGN(auto rest, store->ListWorkers(page1[0].id, 5));
  ASSERT_THAT(rest, SizeIs(1));
  EXPECT_EQ(rest[0].name, "w2");
}

TEST_F(StoreTest, WorkerUpsertKeepsIdByName) {
  auto store = OpenOrDie();
  Worker w;
  w.name = "trainer-1";
  w.kinds = {JobKind::kTrain};
  w.devices = {{DeviceId::Cpu(), "host/cpu", "Xeon", 1 << 30}};
  w.registered_at = w.last_heartbeat = kT0;
  ASSERT_OK_AND_ASSIGN(Worker first, store->UpsertWorker(w));
  const experiment::DeviceInfo gpu{DeviceId::Cuda(0), "GPU-1234", "NVIDIA H200",
                                   int64_t{141} << 30};
  w.devices = {w.devices[0], gpu};
  w.registered_at = w.last_heartbeat = kT0 + absl::Minutes(1);
  ASSERT_OK_AND_ASSIGN(Worker second, store->UpsertWorker(w));
  EXPECT_EQ(second.id, first.id);
  EXPECT_EQ(second.registered_at, kT0);
  ASSERT_OK_AND_ASSIGN(Worker read, store->GetWorker(first.id));
  EXPECT_THAT(read.devices, ElementsAre(w.devices[0], gpu));
  EXPECT_THAT(read.kinds, ElementsAre(JobKind::kTrain));
  EXPECT_THAT(store->GetWorker(first.id + 7),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("worker")));
}

TEST_F(StoreTest, KeepsWhatEachWorkerAndJobRanWith) {
  auto store = OpenOrDie();
  Worker w;
  w.name = "trainer-1";
  w.kinds = {JobKind::kTrain};
  w.devices = {{DeviceId::Cpu(), "host/cpu", "Xeon", 1 << 30}};
  w.build = {{"sslab", "0.1.0"}, {"git", "abc1234"}, {"libtorch", "1.13.0"}};
  w.registered_at = w.last_heartbeat = kT0;
  ASSERT_OK_AND_ASSIGN(Worker stored, store->UpsertWorker(w));
  w.build["libtorch"] = "2.5.1";  // the same name, upgraded
  ASSERT_OK(store->UpsertWorker(w).status());
  ASSERT_OK_AND_ASSIGN(Worker read, store->GetWorker(stored.id));
  EXPECT_EQ(read.build, w.build);

  ASSERT_OK_AND_ASSIGN(int64_t run, store->CreateRun(MakeRun("r")));
  ASSERT_OK_AND_ASSIGN(int64_t id, store->CreateJob(MakeJob(run, 0)));
  ASSERT_OK_AND_ASSIGN(Job job, store->GetJob(id));
  EXPECT_TRUE(job.lineage.empty());
  job.lineage = w.build;
  job.lineage["worker"] = "trainer-1";
  ASSERT_OK(store->UpdateJob(job));
  ASSERT_OK_AND_ASSIGN(Job again, store->GetJob(id));
  EXPECT_EQ(again.lineage, job.lineage);
}

TEST_F(StoreTest, ReportsTheRunsEachWriteTouched) {
  auto store = OpenOrDie();
  ASSERT_OK_AND_ASSIGN(int64_t a, store->CreateRun(MakeRun("a")));
  ASSERT_OK_AND_ASSIGN(int64_t b, store->CreateRun(MakeRun("b")));
  store->TakeChangedRuns();
  EXPECT_THAT(store->TakeChangedRuns().runs, IsEmpty());

  ASSERT_OK_AND_ASSIGN(int64_t job_id, store->CreateJob(MakeJob(a, 0)));
  ASSERT_OK(store->AppendMetrics(b, {{1, "loss", 2.0}}, kT0));
  Store::ChangedRuns changed = store->TakeChangedRuns();
  EXPECT_THAT(changed.runs, ElementsAre(a, b));
  EXPECT_FALSE(changed.all);
  // Taking empties it; reads report nothing.
  ASSERT_OK(store->GetJob(job_id).status());
  EXPECT_THAT(store->TakeChangedRuns().runs, IsEmpty());

  ASSERT_OK_AND_ASSIGN(Job job, store->GetJob(job_id));
  job.progress = 0.5;
  ASSERT_OK(store->UpdateJob(job));
  EXPECT_THAT(store->TakeChangedRuns().runs, ElementsAre(a));

  // A result names only its checkpoint: every watcher must look.
  Checkpoint c;
  c.run_id = b;
  c.path = "/a/ckpt";
  c.created_at = kT0;
  ASSERT_OK_AND_ASSIGN(int64_t ckpt, store->UpsertCheckpoint(c));
  EXPECT_THAT(store->TakeChangedRuns().runs, ElementsAre(b));
  Result r;
  r.checkpoint_id = ckpt;
  r.target = {"block3", ProbeKind::kLbfgs, 1.0};
  r.split = Split::kTest;
  r.top1 = 0.5;
  r.created_at = kT0;
  ASSERT_OK(store->UpsertResult(r).status());
  EXPECT_TRUE(store->TakeChangedRuns().all);
}

}  // namespace
}  // namespace sslab::storage
