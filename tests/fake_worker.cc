#include "tests/fake_worker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace sslab::testing {
namespace {

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(20));
  return ctx;
}

}  // namespace

FakeWorker::FakeWorker(std::shared_ptr<grpc::Channel> channel)
    : stub_(v1::WorkerService::NewStub(std::move(channel))) {}

grpc::Status FakeWorker::Register(const std::string& name) {
  v1::RegisterWorkerRequest req;
  req.set_name(name);
  req.add_devices()->set_kind(v1::DEVICE_KIND_CPU);
  v1::RegisterWorkerResponse resp;
  grpc::Status s = stub_->RegisterWorker(Ctx().get(), req, &resp);
  id_ = resp.worker_id();
  return s;
}

grpc::Status FakeWorker::Lease(v1::LeaseJobResponse* resp, int64_t worker_id) {
  v1::LeaseJobRequest req;
  req.set_worker_id(worker_id ? worker_id : id_);
  req.add_free_devices()->set_kind(v1::DEVICE_KIND_CPU);
  return stub_->LeaseJob(Ctx().get(), req, resp);
}

double FakeWorker::TestTop1(v1::Method method, int width,
                            const std::string& layer) {
  if (layer == "pixels") return 0.40;
  static const char* const kDepth[] = {"after_root", "block1", "block2",
                                       "block3",     "block4", "fc6",
                                       "pre_logits"};
  const int depth =
      static_cast<int>(std::find(std::begin(kDepth), std::end(kDepth), layer) -
                       std::begin(kDepth));
  const double base = method == v1::METHOD_ROTATION ? 0.5 : 0.3;
  return std::min(0.99, base + 0.02 * depth + 0.01 * std::log2(width + 1));
}

v1::JobKind FakeWorker::RunOne() {
  v1::LeaseJobResponse lease;
  grpc::Status s = Lease(&lease);
  EXPECT_TRUE(s.ok()) << s.error_message();
  if (!lease.has_assignment()) return v1::JOB_KIND_UNSPECIFIED;
  const v1::JobAssignment& a = lease.assignment();
  const int64_t job = a.job().job_id();
  switch (a.job().kind()) {
    case v1::JOB_KIND_TRAIN: {
      // A short training curve: loss falls, pretext accuracy rises.
      for (int i = 1; i <= 4; ++i) {
        v1::HeartbeatRequest hb;
        hb.set_worker_id(id_);
        hb.set_job_id(job);
        hb.set_lease_token(a.lease_token());
        hb.set_progress(i / 4.0);
        hb.set_epoch(i == 4 ? a.config().epochs() : 0);
        hb.set_step(7 * i);
        (*hb.mutable_metrics())["loss"] = 2.0 / i;
        (*hb.mutable_metrics())["pretext_top1"] = 0.25 + 0.15 * i;
        (*hb.mutable_metrics())["learning_rate"] = 0.1 / i;
        (*hb.mutable_metrics())["images_per_second"] = 100 + i;
        (*hb.mutable_metrics())["eta_seconds"] = 60.0 * (4 - i);
        v1::HeartbeatResponse hb_resp;
        EXPECT_TRUE(stub_->Heartbeat(Ctx().get(), hb, &hb_resp).ok());
        EXPECT_FALSE(hb_resp.cancelled());
      }
      v1::RegisterCheckpointRequest ck;
      ck.set_worker_id(id_);
      ck.set_job_id(job);
      ck.set_lease_token(a.lease_token());
      ck.set_epoch(a.config().epochs());
      ck.set_step(28);
      ck.set_path(
          absl::StrCat("runs/", a.job().run_id(), "/checkpoints/final"));
      ck.set_sha256(std::string(64, '0'));
      ck.set_bytes(1234);
      ck.set_is_final(true);
      (*ck.mutable_metrics())["pretext_top1"] = 0.85;
      v1::RegisterCheckpointResponse ck_resp;
      EXPECT_TRUE(stub_->RegisterCheckpoint(Ctx().get(), ck, &ck_resp).ok());
      break;
    }
    case v1::JOB_KIND_EXTRACT: {
      v1::RegisterFeaturesRequest req;
      req.set_worker_id(id_);
      req.set_job_id(job);
      req.set_lease_token(a.lease_token());
      for (const std::string& layer : a.layers()) {
        for (const std::string& split : a.splits()) {
          v1::FeatureShard* f = req.add_features();
          f->set_layer(layer);
          f->set_split(split);
          f->set_path(absl::StrCat("fake/", layer, ".", split));
          f->set_rows(100);
          f->set_dims(64);
        }
      }
      v1::RegisterFeaturesResponse resp;
      grpc::Status fs = stub_->RegisterFeatures(Ctx().get(), req, &resp);
      EXPECT_TRUE(fs.ok()) << fs.error_message();
      break;
    }
    case v1::JOB_KIND_PROBE: {
      const double top1 =
          TestTop1(a.config().method(), a.config().width(), a.job().layer());
      for (const char* split : {"val", "test"}) {
        v1::RecordResultRequest req;
        req.set_worker_id(id_);
        req.set_job_id(job);
        req.set_lease_token(a.lease_token());
        req.set_split(split);
        // Val runs a little above test, as it does after selection.
        req.set_top1(split[0] == 'v' ? std::min(1.0, top1 + 0.01) : top1);
        req.set_top5(0.9);
        (*req.mutable_hyperparameters())["l2"] = "0.001";
        v1::RecordResultResponse resp;
        EXPECT_TRUE(stub_->RecordResult(Ctx().get(), req, &resp).ok());
      }
      break;
    }
    default:
      ADD_FAILURE() << "unexpected job kind " << a.job().kind();
  }
  v1::CompleteJobRequest done;
  done.set_worker_id(id_);
  done.set_job_id(job);
  done.set_lease_token(a.lease_token());
  v1::CompleteJobResponse done_resp;
  grpc::Status cs = stub_->CompleteJob(Ctx().get(), done, &done_resp);
  EXPECT_TRUE(cs.ok()) << cs.error_message();
  return a.job().kind();
}

int FakeWorker::Drain() {
  int n = 0;
  while (RunOne() != v1::JOB_KIND_UNSPECIFIED && n < 10000) ++n;
  return n;
}

}  // namespace sslab::testing
