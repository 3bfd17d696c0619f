// The scheduler's gRPC handlers in process (services/scheduler/): the input
// is a sequence of calls, each a selector byte and a length-prefixed
// serialized request (fuzz/fuzz_util.h's framing), run against a fresh
// SQLite database and a fake clock. Every handler other than WatchRun
// (which needs a live stream) can be called. A request's lease_token "$"
// stands for the token of the last lease granted, so that a sequence can
// carry a job through its life. No handler may answer INTERNAL or UNKNOWN
// (a bug, or an exception the handler caught).
#include <google/protobuf/stubs/logging.h>
#include <grpcpp/support/status.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "fuzz/fuzz_util.h"
#include "scheduler/clock.h"
#include "scheduler/scheduler.h"
#include "services/scheduler/artifact_files.h"
#include "services/scheduler/experiment_service.h"
#include "services/scheduler/worker_service.h"
#include "storage/store.h"

namespace {

namespace fs = std::filesystem;
namespace v1 = sslab::v1;
using sslab::services::ExperimentServiceImpl;
using sslab::services::WorkerServiceImpl;

constexpr int kMaxCalls = 24;

class Session {
 public:
  Session(sslab::scheduler::Scheduler* scheduler,
          const sslab::services::ArtifactFiles* files)
      : experiments_(scheduler, nullptr, nullptr, 64, files),
        workers_(scheduler) {}

  // Runs call number `selector` with `bytes` as its request.
  void Call(uint8_t selector, absl::string_view bytes) {
    switch (selector % 24) {
      case 0:
        return Run(bytes, &ExperimentServiceImpl::SubmitRun, &experiments_);
      case 1:
        return Run(bytes, &ExperimentServiceImpl::SubmitSweep, &experiments_);
      case 2:
        return Run(bytes, &ExperimentServiceImpl::GetRun, &experiments_);
      case 3:
        return Run(bytes, &ExperimentServiceImpl::ListRuns, &experiments_);
      case 4:
        return Run(bytes, &ExperimentServiceImpl::CancelRun, &experiments_);
      case 5:
        return Run(bytes, &ExperimentServiceImpl::ListCheckpoints,
                   &experiments_);
      case 6:
        return Run(bytes, &ExperimentServiceImpl::QueryResults, &experiments_);
      case 7:
        return Run(bytes, &ExperimentServiceImpl::GetVersion, &experiments_);
      case 8:
        return Run(bytes, &ExperimentServiceImpl::GetMetricHistory,
                   &experiments_);
      case 9:
        return Run(bytes, &ExperimentServiceImpl::ListSweeps, &experiments_);
      case 10:
        return Run(bytes, &ExperimentServiceImpl::GetSweep, &experiments_);
      case 11:
        return Run(bytes, &ExperimentServiceImpl::ListWorkers, &experiments_);
      case 12:
        return Run(bytes, &ExperimentServiceImpl::CollectGarbage,
                   &experiments_);
      case 13:
        return Run(bytes, &ExperimentServiceImpl::PinRun, &experiments_);
      case 14:
        return Run(bytes, &ExperimentServiceImpl::DeleteRun, &experiments_);
      case 15:
        return Run(bytes, &WorkerServiceImpl::RegisterWorker, &workers_);
      case 16:
        return Run(bytes, &WorkerServiceImpl::LeaseJob, &workers_);
      case 17:
        return Run(bytes, &WorkerServiceImpl::Heartbeat, &workers_);
      case 18:
        return Run(bytes, &WorkerServiceImpl::CompleteJob, &workers_);
      case 19:
        return Run(bytes, &WorkerServiceImpl::FailJob, &workers_);
      case 20:
        return Run(bytes, &WorkerServiceImpl::RegisterCheckpoint, &workers_);
      case 21:
        return Run(bytes, &WorkerServiceImpl::RegisterFeatures, &workers_);
      case 22:
        return Run(bytes, &WorkerServiceImpl::RecordResult, &workers_);
      case 23:
        return Run(bytes, &ExperimentServiceImpl::AddProbes, &experiments_);
    }
  }

 private:
  template <typename Request>
  void Substitute(Request& request) {
    if constexpr (requires { request.lease_token(); }) {
      if (request.lease_token() == "$") request.set_lease_token(lease_token_);
    }
  }

  template <typename Request, typename Response, typename Service>
  void Run(absl::string_view bytes,
           grpc::Status (Service::*handler)(grpc::ServerContext*,
                                            const Request*, Response*),
           Service* service) {
    Request request;
    if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return;
    }
    Substitute(request);
    Response response;
    const grpc::Status status =
        (service->*handler)(nullptr, &request, &response);
    if (status.error_code() == grpc::StatusCode::INTERNAL ||
        status.error_code() == grpc::StatusCode::UNKNOWN) {
      std::fprintf(stderr, "fuzz: %s\n", request.ShortDebugString().c_str());
      sslab::fuzz::Fail(absl::StrCat(Request::descriptor()->name(), ": ",
                                     status.error_message()));
    }
    if constexpr (std::is_same_v<Response, v1::LeaseJobResponse>) {
      if (status.ok() && response.has_assignment()) {
        lease_token_ = response.assignment().lease_token();
      }
    }
  }

  ExperimentServiceImpl experiments_;
  WorkerServiceImpl workers_;
  std::string lease_token_;
};

// A migrated, empty database, made once: each input starts from a copy
// (running the migrations per input took most of the time).
const fs::path& TemplateDatabase() {
  static const fs::path* path = [] {
    auto* p = new fs::path(sslab::fuzz::ScratchDir() / "template.db");
    sslab::storage::StoreOptions options;
    options.check_integrity = false;
    absl::StatusOr<std::unique_ptr<sslab::storage::Store>> store =
        sslab::storage::Store::Open(p->string(), options);
    if (!store.ok()) sslab::fuzz::Fail("Store::Open", store.status());
    return p;
  }();
  return *path;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Handlers log what they refuse, and protobuf every string field that is
  // not UTF-8; an INTERNAL answer fails the input anyway.
  sslab::SetMinLogSeverity('E');
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sslab::fuzz;
  const fs::path dir = ScratchDir() / "scheduler";
  fs::remove_all(dir);
  fs::create_directories(dir / "artifacts");
  fs::copy_file(TemplateDatabase(), dir / "db");
  sslab::storage::StoreOptions store_options;
  store_options.check_integrity = false;
  absl::StatusOr<std::unique_ptr<sslab::storage::Store>> store =
      sslab::storage::Store::Open((dir / "db").string(), store_options);
  if (!store.ok()) Fail("Store::Open", store.status());
  sslab::scheduler::FakeClock clock;
  sslab::scheduler::SchedulerOptions options;
  options.versions = {{"sslab", "fuzz"}, {"api", "sslab.v1"}};
  absl::StatusOr<std::unique_ptr<sslab::scheduler::Scheduler>> scheduler =
      sslab::scheduler::Scheduler::Create(*std::move(store), &clock, options);
  if (!scheduler.ok()) Fail("Scheduler::Create", scheduler.status());
  const sslab::services::ArtifactFiles files(dir / "artifacts");
  Session session(scheduler->get(), &files);

  InputReader in(data, size);
  for (int i = 0; i < kMaxCalls && !in.Done(); ++i) {
    const uint8_t selector = in.Byte();
    if (selector == 0xFF) {  // time passes: leases expire
      clock.Advance(absl::Minutes(1));
      CheckCode((*scheduler)->ExpireLeases().status(), "ExpireLeases", {});
      continue;
    }
    session.Call(selector, in.Part());
  }
  return 0;
}
