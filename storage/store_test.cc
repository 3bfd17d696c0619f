#include "storage/store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sslab::storage {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
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
                              const std::string& method = "rotation",
                              std::optional<int64_t> sweep = std::nullopt) {
    storage::Run run;
    run.name = name;
    run.method = method;
    run.architecture = "resnet50_v2";
    run.width = 4;
    run.sweep_id = sweep;
    run.config_json = R"({"epochs":1})";
    run.created_at = run.updated_at = kT0;
    return run;
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
  EXPECT_EQ(run.config_json, R"({"epochs":1})");
  EXPECT_EQ(run.created_at, kT0);
  ASSERT_OK_AND_ASSIGN(std::vector<Job> jobs, store->ListJobs(run_id));
  ASSERT_THAT(jobs, SizeIs(1));
  EXPECT_EQ(jobs[0].priority, 3);
  EXPECT_EQ(jobs[0].state, JobState::kRunnable);
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
  bad.width = 0;
  EXPECT_THAT(store->CreateRun(bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("run_width_positive")));
  ASSERT_OK_AND_ASSIGN(int64_t run_id, store->CreateRun(MakeRun("ok")));
  Result result;
  result.checkpoint_id = 999;  // no such checkpoint
  result.layer = "block4";
  result.probe_kind = "linear";
  result.split = "test";
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
  Sweep sweep;
  sweep.name = "grid";
  sweep.created_at = kT0;
  ASSERT_OK_AND_ASSIGN(int64_t sweep_id, store->CreateSweep(sweep));
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(
        int64_t id,
        store->CreateRun(
            MakeRun("r" + std::to_string(i), i % 2 == 0 ? "rotation" : "jigsaw",
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
  filter.method = "rotation";
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

TEST_F(StoreTest, RunnableJobsComeInPriorityThenFifoOrder) {
  auto store = OpenOrDie();
  ASSERT_OK_AND_ASSIGN(int64_t run_id, store->CreateRun(MakeRun("r")));
  ASSERT_OK_AND_ASSIGN(int64_t low, store->CreateJob(MakeJob(run_id, 0)));
  ASSERT_OK_AND_ASSIGN(int64_t high1, store->CreateJob(MakeJob(run_id, 5)));
  ASSERT_OK_AND_ASSIGN(int64_t high2, store->CreateJob(MakeJob(run_id, 5)));
  Job gpu = MakeJob(run_id, 9, JobKind::kExtract);
  gpu.device = DeviceKind::kGpu;
  ASSERT_OK_AND_ASSIGN(int64_t gpu_id, store->CreateJob(gpu));

  ASSERT_OK_AND_ASSIGN(auto cpu_jobs, store->ListRunnableJobs(
                                          {JobKind::kTrain, JobKind::kExtract},
                                          {DeviceKind::kCpu}, 10));
  std::vector<int64_t> order;
  for (const Job& j : cpu_jobs) order.push_back(j.id);
  EXPECT_THAT(order, ElementsAre(high1, high2, low));

  ASSERT_OK_AND_ASSIGN(auto all, store->ListRunnableJobs(
                                     {JobKind::kTrain, JobKind::kExtract},
                                     {DeviceKind::kCpu, DeviceKind::kGpu}, 1));
  ASSERT_THAT(all, SizeIs(1));
  EXPECT_EQ(all[0].id, gpu_id);
  ASSERT_OK_AND_ASSIGN(
      auto probes,
      store->ListRunnableJobs({JobKind::kProbe},
                              {DeviceKind::kCpu, DeviceKind::kGpu}, 10));
  EXPECT_THAT(probes, SizeIs(0));

  Job leased = cpu_jobs[0];
  leased.state = JobState::kRunning;
  leased.lease_expiry = kT0 + absl::Seconds(30);
  leased.lease_device = "cpu";
  ASSERT_OK(store->UpdateJob(leased));
  ASSERT_OK_AND_ASSIGN(auto held, store->ListLeasedJobs());
  ASSERT_THAT(held, SizeIs(1));
  EXPECT_EQ(held[0].id, high1);
  EXPECT_EQ(held[0].lease_expiry, kT0 + absl::Seconds(30));
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

  Feature f;
  f.checkpoint_id = ckpt;
  f.layer = "block4";
  f.split = "train";
  f.path = "/a/f";
  f.rows = 5;
  f.dims = 7;
  ASSERT_OK_AND_ASSIGN(int64_t f1, store->UpsertFeature(f));
  ASSERT_OK_AND_ASSIGN(int64_t f2, store->UpsertFeature(f));
  EXPECT_EQ(f1, f2);
  ASSERT_OK_AND_ASSIGN(auto features, store->ListFeatures(ckpt));
  EXPECT_THAT(features, SizeIs(1));

  Result r;
  r.checkpoint_id = ckpt;
  r.layer = "block4";
  r.probe_kind = "linear";
  r.label_fraction = 0.1;
  r.split = "test";
  r.top1 = 0.5;
  ASSERT_OK(store->UpsertResult(r).status());
  r.top1 = 0.6;
  ASSERT_OK(store->UpsertResult(r).status());
  r.layer = "pre_logits";
  ASSERT_OK(store->UpsertResult(r).status());

  ResultFilter filter;
  filter.run_id = run_id;
  ASSERT_OK_AND_ASSIGN(auto rows, store->QueryResults(filter));
  ASSERT_THAT(rows, SizeIs(2));
  EXPECT_EQ(rows[0].result.layer, "block4");
  EXPECT_DOUBLE_EQ(rows[0].result.top1, 0.6);
  EXPECT_EQ(rows[0].method, "rotation");
  EXPECT_EQ(rows[0].epoch, 3);
  filter.layer = "pre_logits";
  ASSERT_OK_AND_ASSIGN(rows, store->QueryResults(filter));
  ASSERT_THAT(rows, SizeIs(1));

  ASSERT_OK(
      store->AppendMetrics(run_id, {{1, "loss", 2.0}, {2, "loss", 1.5}}, kT0));
  ASSERT_OK_AND_ASSIGN(auto metrics, store->ListMetrics(run_id, "loss"));
  ASSERT_THAT(metrics, SizeIs(2));
  EXPECT_DOUBLE_EQ(metrics[1].value, 1.5);
}

TEST_F(StoreTest, WorkerUpsertKeepsIdByName) {
  auto store = OpenOrDie();
  Worker w;
  w.name = "trainer-1";
  w.kinds = {JobKind::kTrain};
  w.devices = {"cpu"};
  w.registered_at = w.last_heartbeat = kT0;
  ASSERT_OK_AND_ASSIGN(Worker first, store->UpsertWorker(w));
  w.devices = {"cpu", "cuda:0"};
  w.registered_at = w.last_heartbeat = kT0 + absl::Minutes(1);
  ASSERT_OK_AND_ASSIGN(Worker second, store->UpsertWorker(w));
  EXPECT_EQ(second.id, first.id);
  EXPECT_EQ(second.registered_at, kT0);
  ASSERT_OK_AND_ASSIGN(Worker read, store->GetWorker(first.id));
  EXPECT_THAT(read.devices, ElementsAre("cpu", "cuda:0"));
  EXPECT_THAT(read.kinds, ElementsAre(JobKind::kTrain));
  EXPECT_THAT(store->GetWorker(first.id + 7),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("worker")));
}

}  // namespace
}  // namespace sslab::storage
