// Chaos: a small sweep on the real services (sslab-scheduler with a real
// SQLite file, two sslab-trainers, an sslab-extractor and an
// sslab-evaluator, all on loopback) while randomly chosen services, the
// scheduler included, are killed with SIGKILL and restarted with the same
// arguments (the scheduler on its port and database, a worker under its
// name), over and over. Afterwards:
//   - every run succeeded;
//   - every per-layer result exists exactly once;
//   - the database, left as the last SIGKILL left it, passes
//     PRAGMA integrity_check and foreign_key_check, and holds no lease;
//   - no job ever ran on two worker processes at once (from the workers'
//     logs: each attempt from its lease to its outcome, or to the death of
//     its process);
//   - the scheduler never held one job under two workers or one device of a
//     worker under two jobs (its leases sampled all along).
//
// The schedule is random: SSLAB_CHAOS_SEED replays one (every failure names
// the seed) and SSLAB_CHAOS_KILLS sets how many kills. scripts/chaos is the
// long version (docs/chaos.md).
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "sslab/v1/experiment_service.grpc.pb.h"
#include "tests/cluster.h"

namespace sslab::testing {
namespace {

constexpr char kDataset[] = "idx:/usr/share/datasets/fashion-mnist";
// Every job gets enough attempts for the kills that may land on it: the test
// is about what the services lose, not about the retry budget.
const std::vector<std::string> kSchedulerFlags = {"--lease-seconds=6",
                                                  "--max-attempts=50"};

// What the chaos picks from; `kind` is empty for the scheduler.
struct Service {
  std::string name;
  std::string kind;
};
const std::vector<Service> kServices = {{"scheduler", ""},
                                        {"trainer-0", "trainer"},
                                        {"trainer-1", "trainer"},
                                        {"extractor-0", "extractor"},
                                        {"evaluator-0", "evaluator"}};

// The sweep: 3 seeds x 2 evaluated checkpoints x 2 layers x (val, test).
constexpr int kRuns = 3;
constexpr int kResultsPerRun = 2 * 2 * 2;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  uint64_t parsed = 0;
  return value != nullptr && absl::SimpleAtoi(value, &parsed) ? parsed
                                                              : fallback;
}

// One attempt of a job as a worker process ran it: from its log line "job N
// (run R, KIND) leased on DEVICE" to "job N succeeded" / "job N failed: ...",
// or to the process's death.
struct Attempt {
  std::string process;  // "trainer-0#2": the second trainer-0 process
  int64_t job = 0;
  std::string device;
  absl::Time start;
  absl::Time end;
};

// The attempts in the text log of one worker process that died (or was last
// looked at) at `end`.
std::vector<Attempt> AttemptsInLog(const std::string& process,
                                   const std::string& log, absl::Time end) {
  std::vector<Attempt> out;
  std::map<int64_t, size_t> open;  // job -> index in `out`
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    // "I20261201 01:02:03.456 worker.cc:42] message"
    const size_t bracket = line.find("] ");
    if (line.size() < 22 || bracket == absl::string_view::npos) continue;
    // (%Y would take all eight digits of the date.)
    const std::string stamp =
        absl::StrCat(line.substr(1, 4), "-", line.substr(5, 2), "-",
                     line.substr(7, 2), line.substr(9, 13));
    absl::Time at;
    std::string error;
    if (!absl::ParseTime("%Y-%m-%d %H:%M:%E*S", stamp, absl::UTCTimeZone(), &at,
                         &error)) {
      continue;
    }
    absl::string_view message = line.substr(bracket + 2);
    if (!absl::ConsumePrefix(&message, "job ")) continue;
    const size_t space = message.find(' ');
    int64_t job = 0;
    if (space == absl::string_view::npos ||
        !absl::SimpleAtoi(message.substr(0, space), &job)) {
      continue;
    }
    message.remove_prefix(space + 1);
    if (absl::StartsWith(message, "(run ")) {
      const size_t on = message.find(") leased on ");
      if (on == absl::string_view::npos) continue;
      open[job] = out.size();
      out.push_back({process, job,
                     std::string(message.substr(on + strlen(") leased on "))),
                     at, absl::InfiniteFuture()});
    } else if (message == "succeeded" || absl::StartsWith(message, "failed")) {
      const auto it = open.find(job);
      if (it == open.end()) continue;
      out[it->second].end = at;
      open.erase(it);
    }
  }
  for (const auto& [job, index] : open) out[index].end = end;
  return out;
}

// Every two attempts that overlap in time while they should not: of one job
// on two processes, or on one device of one process. Log times have
// millisecond resolution: attempts that touch within one are not flagged.
std::vector<std::string> Overlaps(std::vector<Attempt> attempts) {
  std::vector<std::string> out;
  auto check = [&](auto key) {
    std::sort(attempts.begin(), attempts.end(),
              [&](const Attempt& a, const Attempt& b) {
                return std::make_pair(key(a), a.start) <
                       std::make_pair(key(b), b.start);
              });
    for (size_t i = 0; i < attempts.size(); ++i) {
      for (size_t j = i + 1;
           j < attempts.size() && key(attempts[j]) == key(attempts[i]); ++j) {
        const Attempt& a = attempts[i];
        const Attempt& b = attempts[j];
        if (b.start >= a.end) continue;
        out.push_back(absl::StrCat(
            "job ", a.job, " on ", a.process, " (", a.device, ") from ",
            absl::FormatTime(a.start), " to ", absl::FormatTime(a.end),
            " overlaps job ", b.job, " on ", b.process, " (", b.device,
            ") from ", absl::FormatTime(b.start)));
      }
    }
  };
  // One job on two processes (two attempts of one process cannot overlap
  // unless its device check below fails too).
  check([](const Attempt& a) { return absl::StrCat(a.job); });
  check(
      [](const Attempt& a) { return absl::StrCat(a.process, " ", a.device); });
  return out;
}

// Samples the scheduler's leases (ListWorkers) every 100 ms on a thread of
// its own, through restarts of the scheduler, and records every sample in
// which one job is held by two workers or one device of a worker by two
// jobs. Thread-safe.
class LeaseSampler {
 public:
  explicit LeaseSampler(const std::string& address) {
    grpc::ChannelArguments args;
    // Back within 0.2 s of a restarted scheduler.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
    stub_ = v1::ExperimentService::NewStub(grpc::CreateCustomChannel(
        address, grpc::InsecureChannelCredentials(), args));
    thread_ = std::thread([this] { Loop(); });
  }
  ~LeaseSampler() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  int samples() const {
    std::lock_guard<std::mutex> lock(mu_);
    return samples_;
  }
  std::vector<std::string> violations() const {
    std::lock_guard<std::mutex> lock(mu_);
    return violations_;
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      lock.unlock();
      Sample();
      lock.lock();
      cv_.wait_for(lock, std::chrono::milliseconds(100),
                   [this] { return stopping_; });
    }
  }

  void Sample() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(2));
    v1::ListWorkersRequest request;
    request.set_page_size(1000);
    v1::ListWorkersResponse response;
    if (!stub_->ListWorkers(&ctx, request, &response).ok()) return;
    std::map<int64_t, std::set<int64_t>> workers_of_job;
    std::map<std::string, std::set<int64_t>> jobs_of_device;
    for (const v1::Worker& w : response.workers()) {
      for (const v1::Job& job : w.jobs()) {
        workers_of_job[job.job_id()].insert(w.worker_id());
        jobs_of_device[absl::StrCat("worker ", w.worker_id(), " ",
                                    job.lease_device())]
            .insert(job.job_id());
      }
    }
    std::vector<std::string> found;
    for (const auto& [job, workers] : workers_of_job) {
      if (workers.size() > 1) {
        found.push_back(absl::StrCat("job ", job, " leased to workers ",
                                     absl::StrJoin(workers, ", ")));
      }
    }
    for (const auto& [device, jobs] : jobs_of_device) {
      if (jobs.size() > 1) {
        found.push_back(absl::StrCat(device, " leased to jobs ",
                                     absl::StrJoin(jobs, ", ")));
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    ++samples_;
    for (std::string& f : found) {
      violations_.push_back(
          absl::StrCat(absl::FormatTime(absl::Now()), ": ", std::move(f)));
    }
  }

  std::unique_ptr<v1::ExperimentService::Stub> stub_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  int samples_ = 0;
  std::vector<std::string> violations_;
  std::thread thread_;
};

// Runs `sql` on an open database; returns its rows, columns joined by '|'.
std::vector<std::string> Query(sqlite3* db, const std::string& sql) {
  std::vector<std::string> rows;
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
      << sql << ": " << sqlite3_errmsg(db);
  while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
    std::vector<std::string> columns;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const unsigned char* text = sqlite3_column_text(stmt, i);
      columns.push_back(text != nullptr ? reinterpret_cast<const char*>(text)
                                        : "NULL");
    }
    rows.push_back(absl::StrJoin(columns, "|"));
  }
  sqlite3_finalize(stmt);
  return rows;
}

class ChaosTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<Cluster>(
        ClusterBinaries{SSLAB_SCHEDULER_BIN, SSLAB_CLI_BIN, SSLAB_TRAINER_BIN,
                        SSLAB_EXTRACTOR_BIN, SSLAB_EVALUATOR_BIN},
        std::filesystem::path(::testing::TempDir()) /
            absl::StrCat("sslab_chaos_", getpid()));
  }
  void TearDown() override {
    const auto dir = cluster_->dir();
    cluster_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir);
  }

  // SIGKILLs `service` and starts it again with the same arguments; keeps
  // the log of a worker process that died, with the time it died.
  void KillAndRestart(const Service& service) {
    if (service.kind.empty()) {
      const int port = cluster_->port();
      ASSERT_EQ(cluster_->StopScheduler(SIGKILL), 128 + SIGKILL);
      ASSERT_NO_FATAL_FAILURE(cluster_->StartScheduler(port, kSchedulerFlags));
      return;
    }
    ASSERT_EQ(cluster_->StopWorker(service.name, SIGKILL), 128 + SIGKILL);
    AddLog(service.name, absl::Now());
    ASSERT_NO_FATAL_FAILURE(cluster_->StartWorker(service.kind, service.name));
  }

  // The attempts in the log of worker `name`'s current process.
  void AddLog(const std::string& name, absl::Time end) {
    const int incarnation = ++incarnations_[name];
    for (Attempt& a : AttemptsInLog(absl::StrCat(name, "#", incarnation),
                                    cluster_->worker(name).Stderr(), end)) {
      attempts_.push_back(std::move(a));
    }
  }

  std::unique_ptr<Cluster> cluster_;
  std::map<std::string, int> incarnations_;
  std::vector<Attempt> attempts_;
};

TEST_F(ChaosTest, SweepSurvivesRandomKillsOfEveryService) {
  const uint64_t seed = EnvOr("SSLAB_CHAOS_SEED", std::random_device()());
  const int kills = static_cast<int>(EnvOr("SSLAB_CHAOS_KILLS", 8));
  SCOPED_TRACE(absl::StrCat("replay: SSLAB_CHAOS_SEED=", seed,
                            " SSLAB_CHAOS_KILLS=", kills));
  std::cerr << "chaos: seed " << seed << ", " << kills << " kills\n";
  std::mt19937_64 rng(seed);

  ASSERT_NO_FATAL_FAILURE(cluster_->StartScheduler(0, kSchedulerFlags));
  for (const Service& s : kServices) {
    if (s.kind.empty()) continue;
    ASSERT_NO_FATAL_FAILURE(cluster_->StartWorker(s.kind, s.name));
  }
  LeaseSampler sampler(cluster_->address());

  const nlohmann::json sweep = cluster_->CliJson({"sweep",
                                                  "--name",
                                                  "chaos",
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
                                                  "--max-examples",
                                                  "64",
                                                  "--batch-size",
                                                  "16",
                                                  "--threads",
                                                  "1",
                                                  "--epochs",
                                                  "2",
                                                  "--eval-every",
                                                  "1",
                                                  "--layers",
                                                  "block4,pre_logits",
                                                  "--probes",
                                                  "lbfgs"});
  std::vector<std::string> runs;
  for (const auto& r : sweep.value("runs", nlohmann::json::array())) {
    runs.push_back(r.value("run_id", "0"));
  }
  ASSERT_EQ(runs.size(), static_cast<size_t>(kRuns)) << sweep.dump();

  // Kills 1..5 take every service once, in a random order; the rest pick
  // at random. Between two kills, 1 to 3 s: the pace of the chaos, not a
  // synchronisation.
  std::vector<size_t> order(kServices.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::uniform_int_distribution<size_t> any(0, kServices.size() - 1);
  std::uniform_int_distribution<int> pause_ms(1000, 3000);
  std::map<std::string, int> killed;
  const absl::Time started = absl::Now();
  for (int i = 0; i < kills; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    const Service& victim =
        kServices[i < static_cast<int>(order.size()) ? order[i] : any(rng)];
    ASSERT_NO_FATAL_FAILURE(KillAndRestart(victim)) << "kill " << i + 1;
    ++killed[victim.name];
  }
  const absl::Duration chaos = absl::Now() - started;

  // Every run succeeds.
  for (const std::string& run : runs) {
    const CommandResult watched =
        cluster_->Cli({"watch", run, "--max-seconds", "300"});
    const nlohmann::json shown = cluster_->CliJson({"show", run});
    EXPECT_EQ(shown.value("state", ""), "RUN_STATE_SUCCEEDED")
        << "run " << run << ": " << shown.value("error", "") << "\n"
        << watched.out << watched.err;
  }

  // Every result exactly once, none lost, none twice.
  int jobs = 0, attempts = 0, most_attempts = 0;
  for (const std::string& run : runs) {
    const nlohmann::json results = cluster_->CliJson({"results", run});
    std::set<std::string> keys;
    for (const auto& r : results.value("results", nlohmann::json::array())) {
      keys.insert(absl::StrCat(r.value("epoch", ""), " ", r.value("layer", ""),
                               " ", r.value("probe_kind", ""), " ",
                               r.value("label_fraction", 0.0), " ",
                               r.value("split", "")));
      EXPECT_GE(r.value("top1", -1.0), 0.0) << r.dump();
      EXPECT_LE(r.value("top1", 2.0), 1.0) << r.dump();
    }
    EXPECT_EQ(results.value("results", nlohmann::json::array()).size(),
              static_cast<size_t>(kResultsPerRun))
        << "run " << run << ": " << results.dump();
    EXPECT_EQ(keys.size(), static_cast<size_t>(kResultsPerRun))
        << "run " << run << ": " << absl::StrJoin(keys, "; ");
    for (const auto& job : cluster_->CliJson({"show", run})
                               .value("jobs", nlohmann::json::array())) {
      ++jobs;
      attempts += job.value("attempts", 0);
      most_attempts = std::max(most_attempts, job.value("attempts", 0));
    }
  }

  // No job on two processes at once, no device running two jobs.
  for (const Service& s : kServices) {
    if (!s.kind.empty()) AddLog(s.name, absl::Now());
  }
  EXPECT_GE(attempts_.size(), static_cast<size_t>(jobs))
      << "the workers' logs name fewer attempts than there are jobs";
  const std::vector<std::string> overlaps = Overlaps(attempts_);
  EXPECT_THAT(overlaps, ::testing::IsEmpty()) << absl::StrJoin(overlaps, "\n");

  // The scheduler never leased one job twice or one device twice.
  EXPECT_GT(sampler.samples(), 20);
  EXPECT_THAT(sampler.violations(), ::testing::IsEmpty())
      << absl::StrJoin(sampler.violations(), "\n");

  // The database as a last SIGKILL leaves it.
  ASSERT_EQ(cluster_->StopScheduler(SIGKILL), 128 + SIGKILL);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((cluster_->dir() / "var/sslab.db").c_str(), &db),
            SQLITE_OK);
  EXPECT_THAT(Query(db, "PRAGMA integrity_check"),
              ::testing::ElementsAre("ok"));
  EXPECT_THAT(Query(db, "PRAGMA foreign_key_check"), ::testing::IsEmpty());
  EXPECT_THAT(Query(db, "SELECT count(*) FROM results"),
              ::testing::ElementsAre(absl::StrCat(kRuns * kResultsPerRun)));
  EXPECT_THAT(Query(db,
                    "SELECT id, state FROM jobs WHERE state <> 'SUCCEEDED' "
                    "OR lease_expiry_ms IS NOT NULL"),
              ::testing::IsEmpty());
  sqlite3_close(db);

  std::cerr << "chaos: " << kills << " kills in " << chaos << " ("
            << absl::StrJoin(killed, ", ", absl::PairFormatter(" x")) << "); "
            << runs.size() << " runs, " << jobs << " jobs, " << attempts
            << " attempts (at most " << most_attempts << " of one job), "
            << attempts_.size() << " attempts in the workers' logs, "
            << sampler.samples() << " lease samples\n";
}

}  // namespace
}  // namespace sslab::testing
