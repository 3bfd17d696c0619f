// TRAIN: pretext training of one run, resumed from the run's latest
// checkpoint when the scheduler hands one over (a retried job); a gang
// lease (devices_per_run > 1) trains data-parallel, one rank per device.
#include <algorithm>
#include <filesystem>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "services/jobs/artifacts.h"
#include "services/jobs/job_options.h"
#include "services/jobs/jobs.h"
#include "trainer/checkpoint.h"
#include "trainer/data_batch_source.h"
#include "trainer/data_parallel.h"
#include "trainer/trainer.h"

namespace sslab::services {

namespace {

// Restores the latest checkpoint, or, when it is damaged (changed since it
// was registered, truncated, missing), the newest earlier one that is whole:
// a bad file costs the epochs since that one, not the run.
absl::Status Resume(const experiment::JobAssignment& assignment,
                    const std::filesystem::path& artifacts,
                    trainer::Trainer& trainer) {
  std::vector<experiment::CheckpointRef> candidates = {*assignment.checkpoint};
  candidates.insert(candidates.end(), assignment.fallback_checkpoints.begin(),
                    assignment.fallback_checkpoints.end());
  absl::Status first_error;
  for (const experiment::CheckpointRef& c : candidates) {
    absl::StatusOr<std::filesystem::path> path =
        OpenVerifiedArtifact(artifacts, c.path, c.sha256, "checkpoint.path");
    absl::Status restored =
        path.ok() ? trainer.RestoreCheckpoint(*path) : path.status();
    if (restored.ok()) {
      SSLAB_LOG(INFO) << "run " << assignment.run_id << ": resuming from "
                      << c.path << " (epoch " << trainer.epoch() << ")";
      return absl::OkStatus();
    }
    SSLAB_LOG(WARNING) << "run " << assignment.run_id << ": checkpoint epoch "
                       << c.epoch << " unusable: " << restored;
    if (first_error.ok()) first_error = restored;
  }
  return first_error;
}

// Rank 0 (the only rank without data parallelism) trains with the hooks to
// the scheduler: progress, checkpoint registration, cancellation.
absl::Status TrainRankZero(const experiment::JobAssignment& assignment,
                           JobContext& context,
                           const trainer::TrainerOptions& options,
                           trainer::Trainer& trainer,
                           data::BatchSource& source) {
  const std::filesystem::path& artifacts = context.artifact_dir();
  // Registers a checkpoint file with the scheduler (path + sha256).
  absl::Status register_error;
  auto register_checkpoint = [&](const std::filesystem::path& path,
                                 int64_t epoch, int64_t step,
                                 std::map<std::string, double> metrics) {
    absl::StatusOr<std::string> sha = Sha256OfFile(path);
    if (!sha.ok()) {
      register_error = sha.status();
      return;
    }
    experiment::CheckpointReport report;
    report.epoch = static_cast<int>(epoch);
    report.step = step;
    report.path = RelativeArtifact(artifacts, path);
    report.sha256 = *sha;
    report.bytes = static_cast<int64_t>(std::filesystem::file_size(path));
    report.metrics = std::move(metrics);
    report.is_final = epoch >= options.epochs;
    absl::StatusOr<int64_t> id = context.RegisterCheckpoint(report);
    if (!id.ok()) {
      register_error = id.status();
      return;
    }
    SSLAB_LOG(INFO) << "run " << assignment.run_id << ": checkpoint epoch "
                    << epoch << " registered (" << report.path << ")";
  };

  trainer::TrainHooks hooks;
  hooks.on_progress = [&](const trainer::Progress& p) {
    context.ReportProgress(
        p.total_steps > 0 ? static_cast<double>(p.step) / p.total_steps : 1.0,
        p.epoch, p.step,
        {{"loss", p.loss},
         {"pretext_top1", p.pretext_accuracy},
         {"learning_rate", p.learning_rate},
         {"images_per_second", p.images_per_second},
         {"eta_seconds", p.eta_seconds}});
  };
  hooks.on_checkpoint = [&](const trainer::CheckpointInfo& info) {
    register_checkpoint(info.path, info.epoch, info.step,
                        {{"loss", info.epoch_loss},
                         {"pretext_top1", info.epoch_pretext_accuracy}});
  };
  hooks.should_stop = [&] {
    return context.cancelled() || !register_error.ok();
  };
  SSLAB_ASSIGN_OR_RETURN(trainer::TrainSummary summary,
                         trainer.Train(source, hooks));
  SSLAB_RETURN_IF_ERROR(register_error);
  if (summary.cancelled) return absl::CancelledError("training stopped");
  if (summary.last_checkpoint.empty()) {
    // Nothing trained in this attempt (0 epochs, or resumed at the end):
    // (re-)write and register the final state so that it gets evaluated.
    const auto path = std::filesystem::path(options.checkpoint_dir) /
                      trainer::CheckpointFileName(trainer.epoch());
    SSLAB_RETURN_IF_ERROR(trainer.WriteCheckpoint(path));
    register_checkpoint(path, trainer.epoch(), trainer.step(), {});
    SSLAB_RETURN_IF_ERROR(register_error);
  }
  context.ReportProgress(1.0, trainer.epoch(), trainer.step(), {});
  return absl::OkStatus();
}

}  // namespace

absl::Status RunTrainJob(const experiment::JobAssignment& assignment,
                         JobContext& context, const WorkerOptions& worker) {
  const experiment::RunConfig& config = assignment.config;
  const std::filesystem::path& artifacts = context.artifact_dir();
  // A data-parallel gang runs one rank per device, on threads of this
  // process; the ranks share the worker's threads.
  const std::vector<experiment::DeviceId> devices =
      assignment.devices.empty()
          ? std::vector<experiment::DeviceId>{assignment.device}
          : assignment.devices;
  const int ranks = static_cast<int>(devices.size());
  const int threads = std::max(1, ThreadsFor(config, worker.threads) / ranks);
  SSLAB_RETURN_IF_ERROR(
      CheckDatasetPath(config.dataset.path, worker.dataset_roots));
  const data::DatasetSpec dataset_spec = DatasetSpecFor(config);
  SSLAB_ASSIGN_OR_RETURN(std::shared_ptr<const data::Dataset> dataset,
                         MissingOnThisWorker(data::OpenDataset(
                             dataset_spec, data::Split::kTrain)));
  // Lineage: which data this training read.
  SSLAB_ASSIGN_OR_RETURN(const std::string fingerprint,
                         data::DatasetFingerprint(dataset_spec.path));
  context.AddLineage("dataset", fingerprint);
  const std::filesystem::path checkpoint_dir =
      CheckpointDir(artifacts, assignment.run_id, assignment.attempt);
  std::string rendezvous;
  if (ranks > 1) {
    SSLAB_ASSIGN_OR_RETURN(rendezvous, trainer::LoopbackRendezvous());
    trainer::PrepareDataParallelProcess();  // before the rank threads
    SSLAB_LOG(INFO) << "run " << assignment.run_id << ": " << ranks
                    << " data-parallel ranks meet at " << rendezvous;
  }
  auto options_for = [&](int rank) {
    trainer::TrainerOptions options =
        TrainerOptionsFor(config, dataset->channels(), dataset->num_classes(),
                          devices[rank], threads);
    options.checkpoint_dir = checkpoint_dir.string();  // rank 0 writes
    options.data_parallel.world_size = ranks;
    options.data_parallel.rank = rank;
    options.data_parallel.rendezvous = rendezvous;
    return options;
  };
  // Every rank resumes from the same checkpoint; Train then agrees with
  // the others at every step on whether to stop.
  auto start_rank = [&](const trainer::TrainerOptions& options)
      -> absl::StatusOr<std::pair<std::unique_ptr<trainer::Trainer>,
                                  std::unique_ptr<data::BatchSource>>> {
    SSLAB_ASSIGN_OR_RETURN(std::unique_ptr<trainer::Trainer> trainer,
                           trainer::Trainer::Create(options));
    if (assignment.checkpoint) {
      SSLAB_RETURN_IF_ERROR(Resume(assignment, artifacts, *trainer));
    }
    SSLAB_ASSIGN_OR_RETURN(
        std::unique_ptr<data::BatchSource> source,
        trainer::MakeDatasetBatchSource(
            dataset_spec, data::Split::kTrain, options,
            TrainLoaderOptionsFor(config, devices[options.data_parallel.rank],
                                  threads)));
    return std::make_pair(std::move(trainer), std::move(source));
  };

  // Ranks 1.. report nothing to the scheduler: rank 0 speaks for the gang.
  std::vector<absl::Status> rank_results(ranks);
  std::vector<std::thread> other_ranks;
  for (int rank = 1; rank < ranks; ++rank) {
    other_ranks.emplace_back([&, rank] {
      rank_results[rank] = [&]() -> absl::Status {
        SSLAB_ASSIGN_OR_RETURN(auto started, start_rank(options_for(rank)));
        trainer::TrainHooks hooks;
        hooks.should_stop = [&] { return context.cancelled(); };
        return started.first->Train(*started.second, hooks).status();
      }();
    });
  }
  rank_results[0] = [&]() -> absl::Status {
    const trainer::TrainerOptions options = options_for(0);
    SSLAB_ASSIGN_OR_RETURN(auto started, start_rank(options));
    if (ranks > 1) {
      const std::string backend = started.first->collectives();
      context.AddLineage("collectives", backend);
      SSLAB_LOG(INFO) << "run " << assignment.run_id
                      << ": the ranks reduce with c10d " << backend;
    }
    return TrainRankZero(assignment, context, options, *started.first,
                         *started.second);
  }();
  for (std::thread& t : other_ranks) t.join();
  // Rank 0's outcome, unless another rank failed and rank 0 only saw the
  // gang break.
  for (int rank = 1; rank < ranks; ++rank) {
    if (!rank_results[rank].ok() && !rank_results[0].ok()) {
      return absl::Status(
          rank_results[0].code(),
          absl::StrCat(rank_results[0].message(), " (rank ", rank, ": ",
                       rank_results[rank].message(), ")"));
    }
  }
  return rank_results[0];
}

}  // namespace sslab::services
