#include "trainer/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/torch_util/runtime.h"
#include "common/torch_util/torch_compat.h"
#include "trainer/checkpoint.h"
#include "trainer/internal/checkpoint_io.h"
#include "trainer/permutations.h"
#include "trainer/pretext.h"

namespace sslab::trainer {
namespace {

using Clock = std::chrono::steady_clock;

absl::Status FromTorchError(const std::exception& e, absl::string_view what) {
  std::string message = e.what();
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) {
    message = c10_error->what_without_backtrace();
  }
  if (absl::StrContains(message, "out of memory")) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": ", message));
  }
  return absl::InternalError(absl::StrCat(what, ": ", message));
}

// Rank r > 0 draws its per-step random choices (Jigsaw permutations,
// dropout) from a stream of its own; rank 0 keeps the single-process one.
void SeedForRank(at::Generator& generator, uint64_t seed, int rank,
                 int64_t step) {
  if (rank == 0) return;
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_current_seed(
      seed ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(rank)) ^
      static_cast<uint64_t>(step));
}

// Rows [start, start + len) of every field of `batch`.
data::Batch Rows(const data::Batch& batch, int64_t start, int64_t len) {
  auto rows = [&](const torch::Tensor& t) {
    return t.defined() ? t.narrow(0, start, len) : t;
  };
  return {rows(batch.views), rows(batch.labels), rows(batch.indices),
          rows(batch.classes)};
}

at::Tensor GeneratorState(at::Generator& generator) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void SetGeneratorState(at::Generator& generator, const at::Tensor& state) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

// The options that fix the network's shapes and the meaning of its outputs:
// a checkpoint must agree on them to be resumed.
std::string ShapeDefiningOptions(const TrainerOptions& o) {
  std::string s =
      absl::StrCat("method=", experiment::Name(o.method),
                   " architecture=", experiment::Name(o.model.architecture),
                   " width=", o.model.width,
                   " last_relu=", o.model.last_relu ? "true" : "false",
                   " in_channels=", o.model.in_channels,
                   " small_input=", o.model.small_input ? "true" : "false");
  switch (o.method) {
    case Method::kSupervised:
      absl::StrAppend(&s, " num_classes=", o.num_classes);
      break;
    case Method::kExemplar:
      absl::StrAppend(&s, " embedding_dim=", o.embedding_dim);
      break;
    case Method::kJigsaw:
      absl::StrAppend(&s, " num_permutations=", o.num_permutations);
      [[fallthrough]];
    case Method::kRelativePatchLocation:
      absl::StrAppend(&s, " embedding_dim=", o.embedding_dim,
                      " head_hidden=", o.head_hidden);
      break;
    case Method::kRotation:
      break;
  }
  return s;
}

}  // namespace

Trainer::Trainer(const TrainerOptions& options, c10::Device device)
    : options_(options),
      device_(device),
      generator_(at::make_generator<at::CPUGeneratorImpl>(options.seed)) {}

Trainer::~Trainer() = default;

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(
    const TrainerOptions& options) {
  SSLAB_RETURN_IF_ERROR(ValidateTrainerOptions(options));
  SSLAB_ASSIGN_OR_RETURN(c10::Device device, ResolveDevice(options.device));
  std::unique_ptr<Trainer> trainer(new Trainer(options, device));
  // Training shapes are fixed: let cuDNN time its algorithms once per shape
  // (what a tuned PyTorch script sets; bench/gpu/run.sh compares with one).
  if (device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
  if (options.method == Method::kJigsaw) {
    SSLAB_ASSIGN_OR_RETURN(
        trainer->permutations_,
        GenerateJigsawPermutations(options.num_permutations, options.seed));
  }
  try {
    torch::manual_seed(options.seed);
    SSLAB_ASSIGN_OR_RETURN(
        trainer->model_,
        PretextModelImpl::Create(options, trainer->permutations_));
    trainer->model_->to(device);
    if (options.channels_last) {
      torch::NoGradGuard no_grad;
      for (auto& p : trainer->model_->parameters()) {
        if (p.dim() == 4) {
          p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
        }
      }
    }
  } catch (const std::exception& e) {
    return FromTorchError(e, "building the network");
  }
  for (const auto& item : trainer->model_->named_parameters(true)) {
    trainer->parameter_names_.push_back(item.key());
    trainer->parameters_.push_back(item.value());
  }
  trainer->momentum_.resize(trainer->parameters_.size());
  // A backend named at world size 1 makes a group of one: the collectives'
  // cost without peers (benchmarks), and NCCL exercised on one GPU.
  if (options.data_parallel.world_size > 1 ||
      options.data_parallel.backend != "auto") {
    DataParallelOptions group = options.data_parallel;
    group.device = device.str();  // NCCL reduces on this rank's GPU
    SSLAB_ASSIGN_OR_RETURN(trainer->parallel_, DataParallel::Join(group));
    // Same seed, same weights already; the broadcast makes it a guarantee.
    std::vector<at::Tensor> state = trainer->parameters_;
    for (const at::Tensor& b : trainer->model_->buffers()) state.push_back(b);
    SSLAB_RETURN_IF_ERROR(trainer->parallel_->Broadcast(state));
    SSLAB_RETURN_IF_ERROR(
        trainer->parallel_->AttachParameters(trainer->parameters_));
    SeedForRank(trainer->generator_, options.seed, options.data_parallel.rank,
                0);
  }
  return trainer;
}

double Trainer::LearningRate(int64_t step, int64_t steps_per_epoch) const {
  const double peak = options_.base_learning_rate *
                      static_cast<double>(options_.batch_size) / 256.0;
  const double warmup_steps =
      options_.warmup_epochs * static_cast<double>(steps_per_epoch);
  // The step's position in epochs, at its start.
  const double epoch =
      static_cast<double>(step) / static_cast<double>(steps_per_epoch);
  if (static_cast<double>(step) < warmup_steps) {
    return peak * static_cast<double>(step + 1) / warmup_steps;
  }
  double lr = peak;
  for (double boundary : options_.decay_epochs) {
    if (epoch >= boundary) lr *= options_.decay_factor;
  }
  return lr;
}

absl::Status Trainer::WriteCheckpoint(const std::filesystem::path& path) const {
  internal::CheckpointContents c;
  c.config_json = TrainerOptionsToJson(options_);
  c.epoch = epoch_;
  c.step = step_;
  try {
    c.model = internal::ModuleState(*model_);
    for (size_t i = 0; i < parameters_.size(); ++i) {
      if (momentum_[i].defined()) {
        c.momentum[parameter_names_[i]] = momentum_[i].detach().to(at::kCPU);
      }
    }
    // Generator handles share their implementation: copies are views.
    at::Generator cpu = at::detail::getDefaultCPUGenerator();
    at::Generator own = generator_;
    c.rng_cpu = GeneratorState(cpu);
    c.rng_trainer = GeneratorState(own);
  } catch (const std::exception& e) {
    return FromTorchError(e, "collecting the checkpoint state");
  }
  c.permutations = permutations_;
  SSLAB_ASSIGN_OR_RETURN(std::string bytes, internal::SerializeCheckpoint(c));
  return WriteFileAtomically(path, bytes);
}

absl::Status Trainer::RestoreCheckpoint(const std::filesystem::path& path) {
  SSLAB_ASSIGN_OR_RETURN(internal::CheckpointContents c,
                         internal::ReadCheckpoint(path));
  absl::StatusOr<TrainerOptions> stored = TrainerOptionsFromJson(c.config_json);
  if (!stored.ok()) {
    return absl::DataLossError(
        absl::StrCat("checkpoint ", path.string(),
                     " has an unreadable config: ", stored.status().message()));
  }
  const std::string theirs = ShapeDefiningOptions(*stored);
  const std::string ours = ShapeDefiningOptions(options_);
  if (theirs != ours) {
    return absl::FailedPreconditionError(
        absl::StrCat("checkpoint ", path.string(), " was written for ", theirs,
                     "; this run has ", ours));
  }
  try {
    SSLAB_RETURN_IF_ERROR(
        internal::LoadModuleState(*model_, c.model, "", path.string()));
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < parameters_.size(); ++i) {
      auto it = c.momentum.find(parameter_names_[i]);
      if (it == c.momentum.end()) {
        momentum_[i] = at::Tensor();
        continue;
      }
      if (!it->second.sizes().equals(parameters_[i].sizes())) {
        return absl::InvalidArgumentError(
            absl::StrCat("checkpoint ", path.string(), ": momentum of '",
                         parameter_names_[i], "' has the wrong shape"));
      }
      momentum_[i] = it->second.to(parameters_[i].device())
                         .contiguous(parameters_[i].suggest_memory_format());
    }
    if (c.rng_cpu.defined()) {
      at::Generator cpu = at::detail::getDefaultCPUGenerator();
      SetGeneratorState(cpu, c.rng_cpu);
    }
    if (c.rng_trainer.defined()) SetGeneratorState(generator_, c.rng_trainer);
    SeedForRank(generator_, options_.seed, options_.data_parallel.rank, c.step);
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(
        "checkpoint ", path.string(), ": restoring state failed: ", e.what()));
  }
  if (c.permutations.defined()) permutations_ = c.permutations;
  epoch_ = c.epoch;
  step_ = c.step;
  return absl::OkStatus();
}

absl::StatusOr<TrainSummary> Trainer::Train(data::BatchSource& source,
                                            const TrainHooks& hooks) {
  ConfigureTorchThreads(options_.threads);
  const int64_t steps_per_epoch = source.batches_per_epoch();
  if (steps_per_epoch < 1) {
    return absl::InvalidArgumentError(
        "source: the dataset yields no batch per epoch (fewer examples than "
        "batch_size?)");
  }
  const int64_t total_steps = options_.epochs * steps_per_epoch;
  TrainSummary summary;
  const bool channels_last = options_.channels_last;
  const c10::DeviceType device_type = device_.type();

  // Sums over the current progress window and epoch, kept on the device.
  torch::Tensor window_loss, window_correct, epoch_loss, epoch_correct;
  int64_t window_steps = 0, window_examples = 0, epoch_steps = 0,
          epoch_examples = 0;
  Clock::time_point window_start = Clock::now();
  double last_lr = 0;

  // Sums over the ranks (a no-op for one process): every rank calls this
  // at the same steps.
  auto over_ranks =
      [&](std::vector<double> values) -> absl::StatusOr<std::vector<double>> {
    if (!parallel_) return values;
    return parallel_->SumOverRanks(values);
  };
  const double ranks = parallel_ ? parallel_->world_size() : 1;

  auto report = [&]() -> absl::Status {
    if (window_steps == 0) return absl::OkStatus();
    const double seconds =
        std::chrono::duration<double>(Clock::now() - window_start).count();
    SSLAB_ASSIGN_OR_RETURN(
        std::vector<double> sums,
        over_ranks({window_loss.item<double>(), window_correct.item<double>(),
                    static_cast<double>(window_examples)}));
    Progress p;
    p.step = step_;
    p.total_steps = total_steps;
    p.epoch = epoch_;
    p.loss = sums[0] / ranks / static_cast<double>(window_steps);
    p.pretext_accuracy = sums[1] / std::max(sums[2], 1.0);
    p.learning_rate = last_lr;
    p.images_per_second =
        seconds > 0
            ? static_cast<double>(window_steps * options_.batch_size) / seconds
            : 0;
    p.eta_seconds =
        seconds / static_cast<double>(window_steps) *
        static_cast<double>(std::max<int64_t>(total_steps - step_, 0));
    if (hooks.on_progress) hooks.on_progress(p);
    window_steps = 0;
    window_examples = 0;
    window_loss = torch::Tensor();
    window_correct = torch::Tensor();
    window_start = Clock::now();
    return absl::OkStatus();
  };
  const bool writes_checkpoints = !parallel_ || parallel_->rank() == 0;

  try {
    model_->train();
    while (epoch_ < options_.epochs) {
      SSLAB_RETURN_IF_ERROR(source.StartEpoch(epoch_));
      epoch_loss = torch::Tensor();
      epoch_correct = torch::Tensor();
      epoch_steps = 0;
      epoch_examples = 0;
      while (true) {
        SSLAB_ASSIGN_OR_RETURN(std::optional<data::Batch> next, source.Next());
        if (!next.has_value()) break;
        // Polled once a batch is known to exist, so that a stop after an
        // epoch's last step still completes (and checkpoints) that epoch.
        bool stop = hooks.should_stop && hooks.should_stop();
        if (parallel_) {  // a stop anywhere stops every rank at this step
          SSLAB_ASSIGN_OR_RETURN(std::vector<double> stops,
                                 over_ranks({stop ? 1.0 : 0.0}));
          stop = stops[0] > 0;
        }
        if (stop) {
          SSLAB_RETURN_IF_ERROR(report());
          summary.cancelled = true;
          summary.epochs_completed = epoch_;
          summary.steps = step_;
          return summary;
        }
        data::Batch batch;
        batch.views = next->views.to(device_, torch::kFloat,
                                     /*non_blocking=*/true);
        if (next->labels.defined()) {
          batch.labels = next->labels.to(device_, /*non_blocking=*/true);
        }
        if (next->classes.defined()) {
          batch.classes = next->classes.to(device_, /*non_blocking=*/true);
        }
        SSLAB_RETURN_IF_ERROR(model_->CheckBatch(batch));

        const double lr = LearningRate(step_, steps_per_epoch);
        // Forward and backward per micro-batch; each part's loss weighs by
        // its share of the batch, so the gradients sum to the batch mean's.
        StepOutput out;
        const int64_t rows = batch.views.size(0);
        const int64_t part_rows =
            (rows + options_.micro_batches - 1) / options_.micro_batches;
        for (int64_t start = 0; start < rows; start += part_rows) {
          const int64_t len = std::min(part_rows, rows - start);
          StepOutput part;
          {
            torch_compat::Bf16AutocastScope autocast(options_.bf16_autocast,
                                                     device_type);
            part =
                model_->Compute(len == rows ? batch : Rows(batch, start, len),
                                generator_, channels_last);
          }
          const bool last = start + len >= rows;
          if (last && parallel_) parallel_->SyncNextBackward();
          torch::Tensor loss = part.loss;
          if (len != rows) loss = loss * (static_cast<double>(len) / rows);
          loss.backward();
          loss = loss.detach();
          out.loss = out.loss.defined() ? out.loss + loss : loss;
          out.correct =
              out.correct.defined() ? out.correct + part.correct : part.correct;
          out.total += part.total;
        }
        if (parallel_) SSLAB_RETURN_IF_ERROR(parallel_->FinishGradients());
        {
          // SGD as torch.optim.SGD (dampening 0, no Nesterov): decay added
          // to the gradient, buffer initialised with the first gradient.
          torch::NoGradGuard no_grad;
          for (size_t i = 0; i < parameters_.size(); ++i) {
            torch::Tensor& p = parameters_[i];
            if (!p.grad().defined()) continue;
            torch::Tensor g = p.grad();
            if (options_.weight_decay != 0) g = g.add(p, options_.weight_decay);
            if (options_.momentum != 0) {
              if (!momentum_[i].defined()) {
                momentum_[i] = g.clone();
              } else {
                momentum_[i].mul_(options_.momentum).add_(g);
              }
              g = momentum_[i];
            }
            p.add_(g, -lr);
            p.mutable_grad() = torch::Tensor();
          }
        }
        ++step_;
        last_lr = lr;
        const torch::Tensor loss = out.loss.detach();
        window_loss = window_loss.defined() ? window_loss + loss : loss;
        window_correct = window_correct.defined() ? window_correct + out.correct
                                                  : out.correct;
        epoch_loss = epoch_loss.defined() ? epoch_loss + loss : loss;
        epoch_correct =
            epoch_correct.defined() ? epoch_correct + out.correct : out.correct;
        ++window_steps;
        ++epoch_steps;
        window_examples += out.total;
        epoch_examples += out.total;
        if (step_ % options_.progress_every_steps == 0) {
          SSLAB_RETURN_IF_ERROR(report());
        }
      }
      ++epoch_;
      SSLAB_RETURN_IF_ERROR(report());
      if (epoch_steps > 0) {
        SSLAB_ASSIGN_OR_RETURN(
            std::vector<double> sums,
            over_ranks({epoch_loss.item<double>(), epoch_correct.item<double>(),
                        static_cast<double>(epoch_examples)}));
        summary.last_epoch_loss =
            sums[0] / ranks / static_cast<double>(epoch_steps);
        summary.last_epoch_pretext_accuracy = sums[1] / std::max(sums[2], 1.0);
      }
      const bool at_end = epoch_ == options_.epochs;
      const bool periodic = options_.checkpoint_every_epochs > 0 &&
                            epoch_ % options_.checkpoint_every_epochs == 0;
      if (writes_checkpoints && !options_.checkpoint_dir.empty() &&
          (at_end || periodic)) {
        const std::filesystem::path path =
            std::filesystem::path(options_.checkpoint_dir) /
            CheckpointFileName(epoch_);
        SSLAB_RETURN_IF_ERROR(WriteCheckpoint(path));
        summary.last_checkpoint = path.string();
        if (hooks.on_checkpoint) {
          hooks.on_checkpoint({path.string(), epoch_, step_,
                               summary.last_epoch_loss,
                               summary.last_epoch_pretext_accuracy});
        }
      }
    }
  } catch (const std::exception& e) {
    return FromTorchError(e, absl::StrCat("training step ", step_));
  }
  summary.epochs_completed = epoch_;
  summary.steps = step_;
  return summary;
}

}  // namespace sslab::trainer
