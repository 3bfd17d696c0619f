// Data-parallel training: two ranks in two processes, meeting over loopback
// with c10d Gloo, must train exactly as one process with the same global
// batch. With BatchNorm per replica, that one process is the one that cuts
// each batch into the same two micro-batches.
#include "trainer/data_parallel.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "trainer/checkpoint.h"
#include "trainer/pretext.h"
#include "trainer/trainer.h"

extern char** environ;

namespace sslab::trainer {
namespace {

namespace fs = std::filesystem;
using ::sslab::testing::StatusIs;
using ::testing::AnyOf;
using ::testing::HasSubstr;

constexpr int64_t kGlobalBatch = 4;

// Rotation on ResNet50 v2 k=1 at 24 px: 8 examples, 2 steps per epoch.
TrainerOptions Options(const fs::path& checkpoints, int64_t epochs) {
  TrainerOptions o;
  o.method = Method::kRotation;
  o.model.width = 1;
  o.model.in_channels = 1;
  o.model.small_input = true;
  o.batch_size = kGlobalBatch;
  o.image_size = 24;
  o.epochs = epochs;
  o.warmup_epochs = 1;
  o.decay_epochs = {1.5};
  o.base_learning_rate = 2.0;  // large enough that a wrong gradient shows
  o.checkpoint_every_epochs = 1;
  o.checkpoint_dir = checkpoints.string();
  o.threads = 1;
  o.progress_every_steps = 1;
  o.seed = 5;
  return o;
}

data::TensorBatchSource Source(int64_t batch_size, data::Shard shard = {}) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(11);
  return data::TensorBatchSource(torch::randn({8, 1, 1, 12, 12}, gen), {},
                                 batch_size, /*shuffle=*/true, /*seed=*/9,
                                 /*drop_last=*/true, shard);
}

struct Outcome {
  std::vector<torch::Tensor> parameters;
  std::vector<double> losses;  // per step, as Progress reports them
};

Outcome Train(Trainer& trainer, data::BatchSource& source) {
  Outcome out;
  TrainHooks hooks;
  hooks.on_progress = [&](const Progress& p) { out.losses.push_back(p.loss); };
  absl::StatusOr<TrainSummary> summary = trainer.Train(source, hooks);
  EXPECT_OK(summary.status());
  for (const torch::Tensor& p : trainer.model().parameters()) {
    out.parameters.push_back(p.detach().clone());
  }
  return out;
}

void Save(const Outcome& o, const fs::path& path) {
  std::vector<torch::Tensor> all = o.parameters;
  all.push_back(torch::tensor(o.losses, torch::kDouble));
  torch::save(all, path.string());
}

Outcome Load(const fs::path& path) {
  std::vector<torch::Tensor> all;
  torch::load(all, path.string());
  Outcome o;
  const torch::Tensor losses = all.back();
  all.pop_back();
  o.parameters = std::move(all);
  o.losses.assign(losses.data_ptr<double>(),
                  losses.data_ptr<double>() + losses.numel());
  return o;
}

void ExpectSameWeights(const Outcome& got, const Outcome& want,
                       const std::string& what) {
  ASSERT_EQ(got.parameters.size(), want.parameters.size()) << what;
  for (size_t i = 0; i < want.parameters.size(); ++i) {
    EXPECT_TRUE(torch::allclose(got.parameters[i], want.parameters[i],
                                /*rtol=*/1e-4, /*atol=*/1e-6))
        << what << ": parameter " << i << " differs by "
        << (got.parameters[i] - want.parameters[i]).abs().max().item<double>();
  }
}

// Runs DataParallelRank.DISABLED_TrainOneRank of this binary as rank `rank`;
// with `die_after_step` > 0 the rank exits (status 3) once that step is done.
pid_t SpawnRank(int rank, const fs::path& dir, const std::string& rendezvous,
                int die_after_step = 0) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.push_back("SSLAB_DP_RANK=" + std::to_string(rank));
  env_strings.push_back("SSLAB_DP_DIR=" + dir.string());
  env_strings.push_back("SSLAB_DP_RENDEZVOUS=" + rendezvous);
  env_strings.push_back("SSLAB_DP_DIE_AFTER_STEP=" +
                        std::to_string(die_after_step));
  std::vector<char*> env;
  for (std::string& s : env_strings) env.push_back(s.data());
  env.push_back(nullptr);
  std::string exe = "/proc/self/exe", also = "--gtest_also_run_disabled_tests",
              filter = "--gtest_filter=DataParallelRank.DISABLED_TrainOneRank";
  char* argv[] = {exe.data(), also.data(), filter.data(), nullptr};
  pid_t pid = 0;
  if (::posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, env.data()) !=
      0) {
    return -1;
  }
  return pid;
}

// Not a test of its own: the body of one rank of the test below, which runs
// it in a child process with SSLAB_DP_RANK, SSLAB_DP_DIR and
// SSLAB_DP_RENDEZVOUS.
TEST(DataParallelRank, DISABLED_TrainOneRank) {
  const char* rank_text = std::getenv("SSLAB_DP_RANK");
  ASSERT_NE(rank_text, nullptr) << "run by DataParallelTest only";
  const int rank = std::atoi(rank_text);
  const fs::path dir = std::getenv("SSLAB_DP_DIR");
  TrainerOptions o = Options(dir / "checkpoints", /*epochs=*/2);
  o.data_parallel.world_size = 2;
  o.data_parallel.rank = rank;
  o.data_parallel.rendezvous = std::getenv("SSLAB_DP_RENDEZVOUS");
  o.data_parallel.timeout = std::chrono::seconds(60);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Trainer> trainer, Trainer::Create(o));
  data::TensorBatchSource source = Source(kGlobalBatch / 2, {rank, 2});
  const char* die_text = std::getenv("SSLAB_DP_DIE_AFTER_STEP");
  if (const int die = die_text != nullptr ? std::atoi(die_text) : 0; die > 0) {
    TrainHooks hooks;
    hooks.on_progress = [die](const Progress& p) {
      if (p.step >= die) std::_Exit(3);  // as a killed process: no goodbye
    };
    (void)trainer->Train(source, hooks);
    return;
  }
  Save(Train(*trainer, source), dir / ("rank" + std::to_string(rank) + ".pt"));
}

TEST(DataParallelTest, TwoRanksTrainAsOneProcessWithTheGlobalBatch) {
  if (!DataParallelAvailable()) GTEST_SKIP() << "no c10d Gloo in this build";
  const fs::path dir =
      fs::temp_directory_path() /
      ("sslab_data_parallel_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  ASSERT_OK_AND_ASSIGN(const std::string rendezvous, LoopbackRendezvous());
  std::vector<pid_t> ranks = {SpawnRank(0, dir, rendezvous),
                              SpawnRank(1, dir, rendezvous)};
  for (pid_t pid : ranks) {
    ASSERT_GT(pid, 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "a rank failed; its output is above";
  }
  const Outcome rank0 = Load(dir / "rank0.pt");
  const Outcome rank1 = Load(dir / "rank1.pt");

  // One process, the global batch in the same two halves, 3 epochs (the
  // schedule does not depend on the length of the run).
  TrainerOptions o = Options(dir / "reference", /*epochs=*/3);
  o.micro_batches = 2;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Trainer> one, Trainer::Create(o));
  data::TensorBatchSource whole = Source(kGlobalBatch);
  Outcome reference = Train(*one, whole);
  ASSERT_THAT(reference.losses, ::testing::SizeIs(6));

  // The replicas agree with each other and with the one process after two
  // epochs (the reference's epoch-2 checkpoint), step by step in the loss.
  ExpectSameWeights(rank1, rank0, "rank 1 vs rank 0");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Trainer> at_two, Trainer::Create(o));
  ASSERT_OK(
      at_two->RestoreCheckpoint(dir / "reference" / CheckpointFileName(2)));
  Outcome reference_two;
  for (const torch::Tensor& p : at_two->model().parameters()) {
    reference_two.parameters.push_back(p.detach().clone());
  }
  ExpectSameWeights(rank0, reference_two, "2 ranks vs 1 process");
  ASSERT_THAT(rank0.losses, ::testing::SizeIs(4));
  EXPECT_EQ(rank0.losses, rank1.losses);  // reported over all ranks
  for (size_t i = 0; i < rank0.losses.size(); ++i) {
    EXPECT_NEAR(rank0.losses[i], reference.losses[i], 1e-5) << "step " << i;
  }
  // Training changed the weights: the comparison is not of initial values.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Trainer> fresh, Trainer::Create(o));
  EXPECT_FALSE(torch::allclose(fresh->model().parameters()[0],
                               rank0.parameters[0], 1e-4, 1e-6));

  // Only rank 0 wrote checkpoints; one process resumes from them and
  // finishes the run as the uninterrupted reference did.
  EXPECT_TRUE(fs::exists(dir / "checkpoints" / CheckpointFileName(2)));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Trainer> resumed, Trainer::Create(o));
  ASSERT_OK(
      resumed->RestoreCheckpoint(dir / "checkpoints" / CheckpointFileName(2)));
  data::TensorBatchSource again = Source(kGlobalBatch);
  ExpectSameWeights(Train(*resumed, again), reference,
                    "resumed at world size 1 vs uninterrupted");
  fs::remove_all(dir);
}

// A rank that dies mid-run ends its peers' training with an error naming
// the all-reduce, not a hang: the attempt fails for every rank, and the
// scheduler's retry resumes the gang from the last checkpoint.
TEST(DataParallelTest, ARankThatDiesFailsItsPeers) {
  if (!DataParallelAvailable()) GTEST_SKIP() << "no c10d Gloo in this build";
  const fs::path dir = fs::temp_directory_path() / ("sslab_data_parallel_die_" +
                                                    std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  ASSERT_OK_AND_ASSIGN(const std::string rendezvous, LoopbackRendezvous());
  const pid_t peer = SpawnRank(1, dir, rendezvous, /*die_after_step=*/1);
  ASSERT_GT(peer, 0);
  TrainerOptions o = Options(dir / "checkpoints", /*epochs=*/2);
  o.data_parallel.world_size = 2;
  o.data_parallel.rank = 0;
  o.data_parallel.rendezvous = rendezvous;
  o.data_parallel.timeout = std::chrono::seconds(30);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Trainer> trainer, Trainer::Create(o));
  data::TensorBatchSource source = Source(kGlobalBatch / 2, {0, 2});
  absl::StatusOr<TrainSummary> summary = trainer->Train(source, {});
  EXPECT_THAT(summary.status(),
              StatusIs(AnyOf(absl::StatusCode::kUnavailable,
                             absl::StatusCode::kDeadlineExceeded),
                       HasSubstr("data-parallel")));
  int status = 0;
  ASSERT_EQ(::waitpid(peer, &status, 0), peer);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3);
  fs::remove_all(dir);
}

TEST(DataParallelTest, BackendIsNcclForGpusWhereBuiltAndGlooOtherwise) {
  DataParallelOptions o;
  EXPECT_EQ(ResolvedBackend(o), "gloo");  // auto on the CPU
  o.device = "cuda:1";
  EXPECT_EQ(ResolvedBackend(o), NcclAvailable() ? "nccl" : "gloo");
  o.backend = "gloo";
  EXPECT_EQ(ResolvedBackend(o), "gloo");  // asked for: Gloo stages via host
  o.backend = "mpi";
  EXPECT_THAT(ValidateDataParallelOptions(o, "dp"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dp.backend: must be auto, gloo or nccl, got "
                                 "\"mpi\"")));
  o.backend = "nccl";
  o.device = "cpu";
  EXPECT_THAT(ValidateDataParallelOptions(o, "dp"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dp.backend: nccl reduces CUDA tensors only, "
                                 "but dp.device is \"cpu\"")));
  // A Trainer validates with its own device.
  TrainerOptions trainer = Options("", 1);
  trainer.data_parallel.backend = "nccl";
  EXPECT_THAT(Trainer::Create(trainer),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("data_parallel.device is \"cpu\"")));
  if (!DataParallelAvailable()) return;
  // A group of one on the CPU, and NCCL where this build has none.
  DataParallelOptions one;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DataParallel> group,
                       DataParallel::Join(one));
  EXPECT_EQ(group->backend(), "gloo");
  ASSERT_OK_AND_ASSIGN(std::vector<double> sums, group->SumOverRanks({2, 3}));
  EXPECT_THAT(sums, ::testing::ElementsAre(2, 3));
  if (!NcclAvailable()) {
    one.backend = "nccl";
    one.device = "cuda:0";
    EXPECT_THAT(DataParallel::Join(one),
                StatusIs(absl::StatusCode::kUnimplemented,
                         HasSubstr("data_parallel.backend: nccl, but this "
                                   "build has no NCCL")));
  }
}

TEST(DataParallelTest, BadOptionsAndAMissingPeerAreErrors) {
  TrainerOptions o = Options("", 1);
  o.data_parallel.world_size = 2;
  o.data_parallel.rank = 2;
  EXPECT_THAT(Trainer::Create(o),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("data_parallel.rank: must be in [0, 1]")));
  o.data_parallel.rank = 1;
  EXPECT_THAT(Trainer::Create(o),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("data_parallel.rendezvous: must be set")));
  o.data_parallel.rendezvous = "no-port";
  EXPECT_THAT(Trainer::Create(o),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("data_parallel.rendezvous: \"no-port\"")));
  o.data_parallel.rendezvous = "127.0.0.1:29400";
  o.batch_size = 6;
  o.micro_batches = 2;
  EXPECT_THAT(Trainer::Create(o),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("batch_size: must be a multiple of "
                                 "data_parallel.world_size x micro_batches "
                                 "= 4, got 6")));
  if (!DataParallelAvailable()) return;
  // Rank 1 of a group whose rank 0 never comes: an error naming the
  // rendezvous once the timeout passes, not a hang.
  DataParallelOptions lonely;
  lonely.world_size = 2;
  lonely.rank = 1;
  ASSERT_OK_AND_ASSIGN(lonely.rendezvous, LoopbackRendezvous());
  lonely.timeout = std::chrono::seconds(2);
  EXPECT_THAT(DataParallel::Join(lonely),
              StatusIs(AnyOf(absl::StatusCode::kDeadlineExceeded,
                             absl::StatusCode::kUnavailable),
                       HasSubstr(lonely.rendezvous)));
}

}  // namespace
}  // namespace sslab::trainer
