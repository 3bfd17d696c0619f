// TRAIN: pretext training of one run, resumed from the run's latest
// checkpoint when the scheduler hands one over (a retried job).
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "services/jobs/job_config.h"
#include "services/jobs/jobs.h"
#include "trainer/data_batch_source.h"
#include "trainer/trainer.h"

namespace sslab::services {
absl::Status RunTrainJob(const v1::JobAssignment& assignment,
                         JobContext& context, const WorkerOptions& worker) {
  const v1::RunConfig& config = assignment.config();
  const int threads = ThreadsFor(config, worker);
  SSLAB_ASSIGN_OR_RETURN(
      std::shared_ptr<const data::Dataset> dataset,
      data::OpenDataset(DatasetSpecFor(config), data::Split::kTrain));
  SSLAB_ASSIGN_OR_RETURN(
      trainer::TrainerOptions options,
      TrainerOptionsFor(config, dataset->channels(),
                        DeviceName(assignment.device()), threads));
  options.num_classes = dataset->num_classes();
  const std::filesystem::path checkpoint_dir =
      worker.artifact_dir / "runs" / std::to_string(assignment.job().run_id()) /
      "checkpoints";
  options.checkpoint_dir = checkpoint_dir.string();
  SSLAB_ASSIGN_OR_RETURN(std::unique_ptr<trainer::Trainer> trainer,
                         trainer::Trainer::Create(options));
  if (assignment.has_checkpoint() && !assignment.checkpoint().path().empty()) {
    const auto path = ResolveArtifact(worker, assignment.checkpoint().path());
    SSLAB_RETURN_IF_ERROR(trainer->RestoreCheckpoint(path));
    SSLAB_LOG(INFO) << "run " << assignment.job().run_id() << ": resuming from "
                    << path << " (epoch " << trainer->epoch() << ")";
  }

  data::LoaderOptions loader_options;
  loader_options.threads = threads;
  loader_options.seed = static_cast<uint64_t>(config.seed());
  loader_options.pin_memory =
      assignment.device().kind() == v1::DEVICE_KIND_CUDA;
  SSLAB_ASSIGN_OR_RETURN(std::unique_ptr<trainer::BatchSource> source,
                         trainer::MakeDatasetBatchSource(
                             DatasetSpecFor(config), data::Split::kTrain,
                             options, loader_options));

  // Registers a checkpoint file with the scheduler (path + sha256).
  absl::Status register_error;
  auto register_checkpoint = [&](const std::string& path, int64_t epoch,
                                 int64_t step,
                                 std::map<std::string, double> metrics) {
    auto sha = Sha256OfFile(path);
    if (!sha.ok()) {
      register_error = sha.status();
      return;
    }
    v1::RegisterCheckpointRequest request;
    request.set_epoch(epoch);
    request.set_step(step);
    request.set_path(RelativeArtifact(worker, path));
    request.set_sha256(*sha);
    request.set_bytes(static_cast<int64_t>(std::filesystem::file_size(path)));
    for (const auto& [name, value] : metrics)
      (*request.mutable_metrics())[name] = value;
    request.set_is_final(epoch >= options.epochs);
    auto id = context.RegisterCheckpoint(request);
    if (!id.ok()) {
      register_error = id.status();
      return;
    }
    SSLAB_LOG(INFO) << "run " << assignment.job().run_id()
                    << ": checkpoint epoch " << epoch << " registered ("
                    << request.path() << ")";
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
                         trainer->Train(*source, hooks));
  SSLAB_RETURN_IF_ERROR(register_error);
  if (summary.cancelled) return absl::CancelledError("training stopped");
  if (summary.last_checkpoint.empty()) {
    // Nothing trained in this attempt (0 epochs, or resumed at the end):
    // (re-)write and register the final state so that it gets evaluated.
    const auto path =
        checkpoint_dir / absl::StrCat("epoch-", trainer->epoch(), ".ckpt");
    SSLAB_RETURN_IF_ERROR(trainer->WriteCheckpoint(path));
    register_checkpoint(path.string(), trainer->epoch(), trainer->step(), {});
    SSLAB_RETURN_IF_ERROR(register_error);
  }
  context.ReportProgress(1.0, trainer->epoch(), trainer->step(), {});
  return absl::OkStatus();
}

}  // namespace sslab::services
