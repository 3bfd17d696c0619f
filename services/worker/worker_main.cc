#include "services/worker/worker_main.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/build_info.h"
#include "common/files.h"
#include "common/log.h"
#include "common/shutdown_signals.h"
#include "services/common/client_flags.h"
#include "services/common/log_flags.h"
#include "services/worker/devices.h"
#include "sslab/v1/worker_status.grpc.pb.h"

namespace sslab::services {
namespace {

std::string EnvOr(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

class WorkerStatusServiceImpl final : public v1::WorkerStatusService::Service {
 public:
  explicit WorkerStatusServiceImpl(const Worker& worker) : worker_(worker) {}
  grpc::Status GetWorkerStatus(grpc::ServerContext*,
                               const v1::GetWorkerStatusRequest*,
                               v1::WorkerStatus* response) override {
    *response = worker_.Status();
    return grpc::Status::OK;
  }

 private:
  const Worker& worker_;
};

}  // namespace

int WorkerMain(int argc, char** argv, const WorkerProgram& program) {
  CLI::App app(program.description, program.name);
  std::string listen = EnvOr("SSLAB_LISTEN", program.default_listen);
  std::string scheduler = EnvOr("SSLAB_SCHEDULER_ADDR", "localhost:50051");
  std::string artifacts = EnvOr("SSLAB_DATA_DIR", "var/artifacts");
  std::string device_text =
      EnvOr("SSLAB_DEVICES", experiment::DeviceId::Cpu().ToString());
  int threads = std::atoi(EnvOr("SSLAB_THREADS", "0").c_str());
  char host[256] = "localhost";
  ::gethostname(host, sizeof(host) - 1);
  std::string name = absl::StrCat(program.name, "@", host, ":", ::getpid());
  std::string port_file;
  app.add_option("--listen", listen, "status server address (port 0: any)");
  app.add_option("--scheduler", scheduler, "sslab-scheduler address");
  app.add_option("--artifacts", artifacts, "shared artifact directory");
  std::string dataset_roots = EnvOr("SSLAB_DATASET_ROOTS", "");
  app.add_option("--dataset-roots", dataset_roots,
                 "colon-separated directories runs may read data sets from "
                 "(empty: anywhere)");
  app.add_option("--devices", device_text,
                 "cpu | all | a list such as cuda:0,cuda:1");
  app.add_option("--threads", threads, "LibTorch threads (0: all cores)");
  app.add_option("--name", name, "worker name, unique per process");
  app.add_option("--port-file", port_file, "write the bound port to this file");
  ClientSecurityFlags security_flags;
  AddClientSecurityFlags(app, &security_flags);
  LogFlags log_flags;
  AddLogFlags(app, &log_flags);
  CLI11_PARSE(app, argc, argv);
  log_flags.Apply();
  absl::StatusOr<ChannelSecurity> security = security_flags.Load();
  if (!security.ok()) {
    std::cerr << program.name << ": " << security.status().message() << "\n";
    return 2;
  }

  WorkerOptions options;
  options.name = name;
  options.scheduler_address = scheduler;
  options.scheduler_security = *std::move(security);
  options.artifact_dir = artifacts;
  for (absl::string_view root :
       absl::StrSplit(dataset_roots, ':', absl::SkipEmpty())) {
    options.dataset_roots.emplace_back(std::string(root));
  }
  options.job_kinds = program.job_kinds;
  options.build = {
      {"sslab", SSLAB_VERSION}, {"git", BuildCommit()}, {"host", host}};
  if (program.torch_build) options.build.merge(program.torch_build());
  options.threads = threads;
  // nvidia-smi numbers GPUs in PCI order; make CUDA's ordinals agree.
  ::setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID", /*overwrite=*/0);
  absl::StatusOr<std::vector<experiment::DeviceInfo>> devices = ResolveDevices(
      device_text, ProbeDeviceEnvironment(program.cuda_device_count
                                              ? program.cuda_device_count()
                                              : 0));
  if (!devices.ok()) {
    std::cerr << program.name << ": " << devices.status().message() << "\n";
    return 2;
  }
  options.devices = *devices;
  for (const experiment::DeviceInfo& d : options.devices) {
    SSLAB_LOG(INFO) << program.name << ": " << d.id.ToString() << " is "
                    << d.name << ", "
                    << absl::StrFormat("%.1f GiB",
                                       d.memory_bytes / 1073741824.0)
                    << (d.key.empty() ? "" : absl::StrCat(", ", d.key));
  }

  absl::StatusOr<ShutdownSignals*> signals = ShutdownSignals::Install();
  if (!signals.ok()) {
    std::cerr << program.name << ": " << signals.status() << "\n";
    return 1;
  }

  // Writers killed mid-write (this worker's earlier process, or another's)
  // leave temporaries behind; an hour without a write means none is alive.
  absl::StatusOr<int> swept =
      RemoveStaleTemporaries(options.artifact_dir, std::chrono::hours(1));
  if (!swept.ok()) {
    SSLAB_LOG(WARNING) << "cannot sweep temporaries: " << swept.status();
  } else if (*swept > 0) {
    SSLAB_LOG(INFO) << "removed " << *swept << " temporary file(s) of writers "
                    << "that died under " << options.artifact_dir;
  }

  Worker worker(options, program.make_runner(options));
  WorkerStatusServiceImpl status_service(worker);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&status_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << program.name << ": cannot listen on " << listen << "\n";
    return 1;
  }
  SSLAB_LOG(INFO) << program.name << " serving status on port " << port
                  << ", scheduler " << scheduler << ", devices " << device_text
                  << ", artifacts " << artifacts << ", data sets from "
                  << (dataset_roots.empty() ? "anywhere" : dataset_roots);
  if (!port_file.empty()) {
    absl::Status written =
        WriteFileAtomically(port_file, absl::StrCat(port, "\n"));
    if (!written.ok()) {
      std::cerr << program.name << ": --port-file: " << written << "\n";
      return 1;
    }
  }

  std::thread signal_thread([&] {
    const int signal = (*signals)->Wait();
    if (signal == 0) return;  // Run() ended on its own.
    SSLAB_LOG(INFO) << "signal " << signal << ": stopping";
    worker.Stop();
  });
  absl::Status run = worker.Run();
  (*signals)->Wake();
  signal_thread.join();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (!run.ok()) {
    SSLAB_LOG(ERROR) << program.name << ": " << run;
    return 1;
  }
  SSLAB_LOG(INFO) << program.name << " stopped";
  return 0;
}

}  // namespace sslab::services
