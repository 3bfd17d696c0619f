// The main() of every worker binary (sslab-trainer, sslab-extractor,
// sslab-evaluator): flags with environment fallbacks, a gRPC server with
// health checking, reflection and WorkerStatusService, the Worker loop, and a
// clean shutdown on SIGINT / SIGTERM.
//
// Flags (environment fallback in parentheses):
//   --listen ADDR       (SSLAB_LISTEN)            status server; port 0 = any
//   --scheduler ADDR    (SSLAB_SCHEDULER_ADDR)    default localhost:50051
//   --artifacts DIR     (SSLAB_DATA_DIR)          default ./var/artifacts
//   --devices LIST      (SSLAB_DEVICES)           cpu | all | cpu,cuda:0,...
//                                                 one job per device at once;
//                                                 checked at startup
//   --threads N         (SSLAB_THREADS)           LibTorch intra-op threads
//   --name NAME                                   default
//   <program>@<host>:<pid>
//   --port-file FILE                              write the bound port there
//   --log-format, --log-level (SSLAB_LOG_FORMAT, SSLAB_LOG_LEVEL)
//                                                 text|json, info|warning|error
#ifndef SSLAB_SERVICES_WORKER_WORKER_MAIN_H_
#define SSLAB_SERVICES_WORKER_WORKER_MAIN_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "services/worker/worker.h"

namespace sslab::services {

struct WorkerProgram {
  std::string name;  // "sslab-trainer"
  std::string description;
  std::vector<experiment::JobKind> job_kinds;
  std::string default_listen = "127.0.0.1:0";
  // Builds the job runner once flags are parsed (threads configured).
  std::function<JobRunner(const WorkerOptions&)> make_runner;
  // CUDA devices LibTorch sees; unset = none.
  std::function<int()> cuda_device_count;
  // The LibTorch, CUDA and cuDNN versions, for lineage; unset = none.
  std::function<std::map<std::string, std::string>()> torch_build;
};

int WorkerMain(int argc, char** argv, const WorkerProgram& program);

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_WORKER_WORKER_MAIN_H_
