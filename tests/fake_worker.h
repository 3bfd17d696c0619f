// A worker that does no work: it leases jobs from a real scheduler over gRPC
// and reports what a real one would (training curves, a final checkpoint,
// feature shards, val and test accuracies that depend on the method, the
// width and the layer), so integration tests fill a scheduler quickly and
// deterministically.
//
// Not thread-safe. Uses gtest expectations for RPC failures.
#ifndef SSLAB_TESTS_FAKE_WORKER_H_
#define SSLAB_TESTS_FAKE_WORKER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "sslab/v1/worker_service.grpc.pb.h"

namespace sslab::testing {

class FakeWorker {
 public:
  explicit FakeWorker(std::shared_ptr<grpc::Channel> channel);

  grpc::Status Register(const std::string& name);
  grpc::Status Lease(v1::LeaseJobResponse* response, int64_t worker_id = 0);

  // Leases and runs one job; returns its kind, or UNSPECIFIED when the queue
  // is empty.
  v1::JobKind RunOne();
  // Runs jobs until the queue is empty; returns how many.
  int Drain();

  // The test top-1 a PROBE reports for a layer: Rotation beats the other
  // methods, wider beats narrower, deeper layers beat shallower ones, and the
  // raw pixels stay below every learned layer.
  static double TestTop1(v1::Method method, int width,
                         const std::string& layer);

  int64_t id() const { return id_; }

 private:
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  int64_t id_ = 0;
};

}  // namespace sslab::testing

#endif  // SSLAB_TESTS_FAKE_WORKER_H_
