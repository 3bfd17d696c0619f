// Data-parallel training of one run over several processes, on LibTorch's
// c10d: a process group (NCCL for CUDA devices where the build has it, Gloo
// otherwise) that meets at rank 0's TCP store. Gradients are
// averaged as PyTorch's DistributedDataParallel does: in buckets (1 MiB
// first, then 25 MiB, from the last layer back), each bucket's all-reduce
// started by gradient hooks as soon as it is full, while the backward pass
// goes on. (DDP's own c10d::Reducer cannot be used: Debian's libtorch-dev
// lacks the distributed-autograd headers it includes.)
//
//   SSLAB_ASSIGN_OR_RETURN(auto group, DataParallel::Join(options));
//   SSLAB_RETURN_IF_ERROR(group->Broadcast(state));  // rank 0's values
//   SSLAB_RETURN_IF_ERROR(group->AttachParameters(parameters));
//   per step: group->SyncNextBackward(); loss.backward();
//             SSLAB_RETURN_IF_ERROR(group->FinishGradients());
//             // every rank now holds the mean gradient over the ranks
//
// Every rank must make the same calls in the same order (collectives).
#ifndef SSLAB_TRAINER_DATA_PARALLEL_H_
#define SSLAB_TRAINER_DATA_PARALLEL_H_

#include <ATen/core/Tensor.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sslab::trainer {

struct DataParallelOptions {
  // Processes training the run together; 1 = no data parallelism.
  int world_size = 1;
  // This process, 0 <= rank < world_size. Rank 0 serves the rendezvous and
  // writes the checkpoints.
  int rank = 0;
  // "host:port" of rank 0's rendezvous (a c10d TCP store), reachable by
  // every rank. Gloo then connects the ranks over the interface that reaches
  // `host` (loopback for a loopback host; GLOO_SOCKET_IFNAME picks one).
  std::string rendezvous;
  // How long Join waits for every rank, and any collective for its peers.
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  // Where this rank's parameters live ("cpu", "cuda:1"): NCCL reduces
  // tensors on that GPU (one GPU per rank). A Trainer sets it to its own.
  std::string device = "cpu";
  // The c10d backend: "nccl" (CUDA devices only; GPU to GPU), "gloo" (CPU
  // tensors; CUDA ones are staged through host memory), or "auto": nccl
  // for a CUDA device when this build has it (NcclAvailable), else gloo.
  std::string backend = "auto";
};

// INVALID_ARGUMENT naming the field ("<prefix>.world_size", ...).
absl::Status ValidateDataParallelOptions(const DataParallelOptions& options,
                                         const std::string& prefix);

// True when this build has c10d's Gloo backend (Debian's LibTorch does).
bool DataParallelAvailable();
// True when it also has NCCL (a CUDA LibTorch built with it, and nccl.h).
bool NcclAvailable();
// Once per process, before any rank joins (it sets the environment): makes
// an NCCL failure a status instead of the end of the process.
void PrepareDataParallelProcess();
// The backend Join uses for these options: "gloo" or "nccl".
std::string ResolvedBackend(const DataParallelOptions& options);

// "127.0.0.1:PORT" with a port free right now, for ranks on this host to
// meet at (rank 0 binds it moments later; should another process take it
// first, Join fails and the attempt is retried). UNAVAILABLE if none.
absl::StatusOr<std::string> LoopbackRendezvous();

class DataParallel {
 public:
  // Joins the group; returns once every rank has (DEADLINE_EXCEEDED after
  // `timeout`). UNAVAILABLE when the rendezvous cannot be reached or served,
  // UNIMPLEMENTED in a build without c10d Gloo, or without NCCL for "nccl".
  static absl::StatusOr<std::unique_ptr<DataParallel>> Join(
      const DataParallelOptions& options);
  ~DataParallel();

  int rank() const;
  int world_size() const;
  const std::string& backend() const;  // "gloo" or "nccl"

  // Overwrites each tensor (in place) with rank 0's value.
  absl::Status Broadcast(const std::vector<at::Tensor>& tensors);
  // Hooks the gradients of `parameters` (float tensors, requiring grad) for
  // averaging; once.
  absl::Status AttachParameters(const std::vector<at::Tensor>& parameters);
  // The next backward pass's gradients are averaged (with micro-batches,
  // call it before the last one's: earlier ones accumulate locally and are
  // included).
  void SyncNextBackward();
  // After that backward: starts the buckets no gradient filled (parameters
  // the pass did not reach count as zero), waits for every all-reduce and
  // leaves the mean over the ranks in each parameter's grad.
  absl::Status FinishGradients();
  // Element-wise sums over the ranks, for metrics and agreement.
  absl::StatusOr<std::vector<double>> SumOverRanks(
      const std::vector<double>& values);

 private:
  struct Impl;
  explicit DataParallel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sslab::trainer

#endif  // SSLAB_TRAINER_DATA_PARALLEL_H_
