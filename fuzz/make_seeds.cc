// Writes the binary seed corpora of the fuzz targets (fuzz/corpus/<target>/)
// from the project's own writers, so that the seeds stay valid when a format
// changes: `fuzz_make_seeds DIR` (`FUZZ_SEEDS=1 scripts/fuzz` rewrites the
// tree's). The text seeds (run specs and files) are kept by hand in the tree.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "data/internal/image_codec.h"
#include "evaluator/feature_shard.h"
#include "fuzz/fuzz_util.h"
#include "sslab/v1/experiment_service.pb.h"
#include "sslab/v1/worker_service.pb.h"
#include "trainer/internal/checkpoint_io.h"
#include "trainer/options.h"

namespace {

namespace fs = std::filesystem;
namespace v1 = sslab::v1;
using sslab::fuzz::LengthPrefixed;

fs::path out_dir;

void Seed(const std::string& target, const std::string& name,
          absl::string_view bytes) {
  fs::create_directories(out_dir / target);
  sslab::fuzz::WriteFile(out_dir / target / name, bytes);
}

std::string Byte(int flags) { return std::string(1, static_cast<char>(flags)); }

std::string Gzip(absl::string_view bytes) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);  // gzip header
  std::string out(deflateBound(&z, bytes.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string BigEndian32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
          static_cast<char>(v >> 8), static_cast<char>(v)};
}

void IdxSeeds() {
  const int n = 4, h = 5, w = 3;
  std::string images = std::string("\0\0\x08\x03", 4) + BigEndian32(n) +
                       BigEndian32(h) + BigEndian32(w);
  for (int i = 0; i < n * h * w; ++i)
    images.push_back(static_cast<char>(i * 7));
  std::string labels = std::string("\0\0\x08\x01", 4) + BigEndian32(n);
  for (int i = 0; i < n; ++i) labels.push_back(static_cast<char>(i % 3));
  Seed("idx", "train", Byte(0) + LengthPrefixed(images) + labels);
  Seed("idx", "val-rgb-subsets",
       Byte(1 | 4 | 16 | 32 | 64) + LengthPrefixed(images) + labels);
  Seed("idx", "test-gzip",
       Byte(2) + LengthPrefixed(Gzip(images)) + Gzip(labels));
}

void CifarSeeds() {
  for (bool cifar100 : {false, true}) {
    std::string batch;
    for (int r = 0; r < 2; ++r) {
      if (cifar100) batch.push_back(static_cast<char>(r));  // coarse label
      batch.push_back(static_cast<char>(r == 0 ? 3 : 9));   // (fine) label
      for (int i = 0; i < 3072; ++i) batch.push_back(static_cast<char>(i + r));
    }
    std::string names;
    for (int c = 0; c < (cifar100 ? 100 : 10); ++c) {
      absl::StrAppend(&names, "class", c, "\n");
    }
    const int flags = cifar100 ? 128 : 0;
    const std::string target = "cifar";
    Seed(target, cifar100 ? "cifar100-train" : "cifar10-train",
         Byte(flags) + LengthPrefixed(names) + batch);
    Seed(target, cifar100 ? "cifar100-test-gray" : "cifar10-val-nonames",
         Byte(flags | (cifar100 ? 2 | 8 : 1)) +
             LengthPrefixed(cifar100 ? names : "") + batch);
  }
}

void ImageSeeds() {
  using sslab::data::internal::EncodeJpeg;
  using sslab::data::internal::EncodePng;
  for (int channels : {1, 3}) {
    const int h = 16, w = 24;
    std::vector<uint8_t> pixels(h * w * channels);
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = (i * 13) % 251;
    std::string jpeg, png;
    if (!EncodeJpeg(pixels.data(), h, w, channels, 80, &jpeg).ok() ||
        !EncodePng(pixels.data(), h, w, channels, &png).ok()) {
      std::abort();
    }
    const std::string c = absl::StrCat("c", channels);
    Seed("image", "jpeg-" + c, Byte(0) + jpeg);
    Seed("image", "jpeg-half-" + c, Byte(2) + jpeg);
    Seed("image", "jpeg-eighth-gray-" + c, Byte(1 | 6) + jpeg);
    Seed("image", "png-" + c, Byte(0) + png);
    Seed("image", "png-gray-" + c, Byte(1) + png);
  }
}

void FeatureShardSeeds() {
  using sslab::evaluator::ShardDtype;
  const fs::path tmp = sslab::fuzz::ScratchDir() / "seed.feat";
  struct Case {
    const char* name;
    at::Tensor data;
    ShardDtype dtype;
  };
  for (const Case& c :
       {Case{"block3-f32", at::arange(12, at::kFloat).reshape({3, 4}),
             ShardDtype::kFloat32},
        Case{"block4-f16", at::arange(6, at::kFloat).reshape({2, 3}),
             ShardDtype::kFloat16},
        Case{"labels-i64", at::arange(5, at::kLong).reshape({5, 1}),
             ShardDtype::kInt64}}) {
    const std::string layer = std::string(c.name).substr(0, 6);
    if (!sslab::evaluator::WriteShard(tmp, layer, c.data, c.dtype).ok()) {
      std::abort();
    }
    absl::StatusOr<std::string> bytes = sslab::ReadFileToString(tmp);
    Seed("feature_shard", c.name, Byte(0) + *bytes);
    Seed("feature_shard", absl::StrCat(c.name, "-fixup"), Byte(1) + *bytes);
  }
}

struct TinyNet : torch::nn::Module {
  TinyNet()
      : fc(register_module("fc", torch::nn::Linear(2, 3))),
        bn(register_module("bn", torch::nn::BatchNorm1d(3))) {}
  torch::nn::Linear fc;
  torch::nn::BatchNorm1d bn;
};

void CheckpointSeeds() {
  namespace trainer = sslab::trainer;
  TinyNet net;
  trainer::internal::CheckpointContents c;
  trainer::TrainerOptions options;
  options.epochs = 2;
  options.decay_epochs = {1};
  c.config_json = trainer::TrainerOptionsToJson(options);
  c.epoch = 1;
  c.step = 10;
  for (const auto& [name, t] : trainer::internal::ModuleState(net)) {
    c.model["backbone." + name] = t;
    c.momentum["backbone." + name] = at::zeros_like(t);
  }
  c.model["head.weight"] = at::ones({4, 3});
  c.rng_cpu = at::zeros({8}, at::kByte);
  absl::StatusOr<std::string> bytes = trainer::internal::SerializeCheckpoint(c);
  Seed("checkpoint", "tiny", *bytes);
  c.model["backbone.fc.weight"] = at::ones({3, 3});  // wrong shape
  c.config_json = "{\"method\": \"jigsaw\", \"epochs\": 3}";
  c.permutations = at::zeros({2, 9}, at::kLong);
  Seed("checkpoint", "jigsaw-wrong-shape",
       *trainer::internal::SerializeCheckpoint(c));
}

// The selectors of scheduler_service_fuzzer.cc.
enum Rpc : uint8_t {
  kSubmitRun = 0,
  kSubmitSweep,
  kGetRun,
  kListRuns,
  kCancelRun,
  kListCheckpoints,
  kQueryResults,
  kGetVersion,
  kGetMetricHistory,
  kListSweeps,
  kGetSweep,
  kListWorkers,
  kCollectGarbage,
  kPinRun,
  kDeleteRun,
  kRegisterWorker,
  kLeaseJob,
  kHeartbeat,
  kCompleteJob,
  kFailJob,
  kRegisterCheckpoint,
  kRegisterFeatures,
  kRecordResult,
  kAddProbes,
  kTimePasses = 0xFF
};

std::string Call(Rpc rpc, const google::protobuf::Message& request) {
  return Byte(rpc) + LengthPrefixed(request.SerializeAsString());
}

v1::RunConfig SmallConfig() {
  v1::RunConfig c;
  c.set_method(v1::METHOD_ROTATION);
  c.set_architecture(v1::ARCHITECTURE_RESNET50_V2);
  c.set_width(1);
  c.set_epochs(2);
  c.mutable_dataset()->set_kind(v1::DATASET_KIND_IDX);
  c.mutable_dataset()->set_path("/usr/share/datasets/fashion-mnist");
  c.mutable_dataset()->set_max_examples(100);
  c.mutable_evaluation()->add_layers("block3");
  return c;
}

void SchedulerSeeds() {
  std::string life;
  v1::SubmitRunRequest submit;
  *submit.mutable_config() = SmallConfig();
  submit.set_name("seed");
  life += Call(kSubmitRun, submit);
  v1::RegisterWorkerRequest reg;
  reg.set_name("worker");
  reg.add_devices()->set_kind(v1::DEVICE_KIND_CPU);
  (*reg.mutable_build())["sslab"] = "fuzz";
  life += Call(kRegisterWorker, reg);
  v1::LeaseJobRequest lease;
  lease.set_worker_id(1);
  lease.add_free_devices()->set_kind(v1::DEVICE_KIND_CPU);
  life += Call(kLeaseJob, lease);
  v1::HeartbeatRequest beat;
  beat.set_worker_id(1);
  beat.set_job_id(1);
  beat.set_progress(0.5);
  beat.set_epoch(1);
  (*beat.mutable_metrics())["loss"] = 1.25;
  beat.set_lease_token("$");
  life += Call(kHeartbeat, beat);
  v1::RegisterCheckpointRequest ckpt;
  ckpt.set_worker_id(1);
  ckpt.set_job_id(1);
  ckpt.set_epoch(2);
  ckpt.set_step(20);
  ckpt.set_path("runs/1/epoch-0002.ckpt");
  ckpt.set_sha256(std::string(64, 'a'));
  ckpt.set_bytes(1000);
  ckpt.set_is_final(true);
  ckpt.set_lease_token("$");
  life += Call(kRegisterCheckpoint, ckpt);
  v1::CompleteJobRequest done;
  done.set_worker_id(1);
  done.set_job_id(1);
  done.set_lease_token("$");
  life += Call(kCompleteJob, done);
  life += Call(kLeaseJob, lease);
  v1::RegisterFeaturesRequest features;
  features.set_worker_id(1);
  features.set_job_id(2);
  features.set_lease_token("$");
  for (const char* split : {"train", "val", "test"}) {
    for (const char* layer : {"block3", "labels"}) {
      v1::FeatureShard* f = features.add_features();
      f->set_layer(layer);
      f->set_split(split);
      f->set_path(absl::StrCat("runs/1/features/epoch-0002/", split, "/", layer,
                               ".feat"));
      f->set_sha256(std::string(64, 'b'));
      f->set_rows(10);
      f->set_dims(layer == std::string("labels") ? 1 : 8);
      f->set_bytes(500);
    }
  }
  life += Call(kRegisterFeatures, features);
  done.set_job_id(2);
  life += Call(kCompleteJob, done);
  life += Call(kLeaseJob, lease);
  v1::RecordResultRequest result;
  result.set_worker_id(1);
  result.set_job_id(3);
  result.set_split("test");
  result.set_top1(0.5);
  result.set_top5(0.9);
  (*result.mutable_hyperparameters())["l2"] = "0.001";
  result.set_lease_token("$");
  life += Call(kRecordResult, result);
  result.set_split("val");
  life += Call(kRecordResult, result);
  done.set_job_id(3);
  life += Call(kCompleteJob, done);
  v1::GetRunRequest get;
  get.set_run_id(1);
  life += Call(kGetRun, get);
  v1::QueryResultsRequest query;
  query.set_run_id(1);
  life += Call(kQueryResults, query);
  v1::ListCheckpointsRequest checkpoints;
  checkpoints.set_run_id(1);
  life += Call(kListCheckpoints, checkpoints);
  v1::GetMetricHistoryRequest metrics;
  metrics.set_run_id(1);
  metrics.set_max_points(5);
  life += Call(kGetMetricHistory, metrics);
  v1::CollectGarbageRequest gc;
  gc.set_run_id(1);
  gc.set_dry_run(true);
  life += Call(kCollectGarbage, gc);
  v1::AddProbesRequest add;
  add.set_run_id(1);
  add.add_probe_kinds(v1::PROBE_KIND_MLP);
  add.add_label_fractions(0.1);
  life += Call(kAddProbes, add);
  Seed("scheduler_service", "run-life", life);

  std::string sweep_calls;
  v1::SubmitSweepRequest sweep;
  *sweep.mutable_base() = SmallConfig();
  sweep.set_name("grid");
  sweep.add_widths(1);
  sweep.add_widths(2);
  sweep.add_methods(v1::METHOD_ROTATION);
  sweep.add_methods(v1::METHOD_EXEMPLAR);
  v1::SweepAxis* axis = sweep.add_axes();
  axis->set_field("lr");
  axis->add_values("0.1");
  axis->add_values("0.4");
  v1::SweepAxis* batch = sweep.add_axes();
  batch->set_field("batch-size");
  batch->add_values("16");
  batch->add_values("32");
  sweep.add_zip()->add_fields("lr");
  sweep.mutable_zip(0)->add_fields("batch-size");
  sweep_calls += Call(kSubmitSweep, sweep);
  v1::ListSweepsRequest list_sweeps;
  list_sweeps.set_page_size(1);
  sweep_calls += Call(kListSweeps, list_sweeps);
  v1::GetSweepRequest get_sweep;
  get_sweep.set_sweep_id(1);
  sweep_calls += Call(kGetSweep, get_sweep);
  v1::ListRunsRequest list;
  list.set_sweep_id(1);
  list.set_page_size(2);
  sweep_calls += Call(kListRuns, list);
  v1::CancelRunRequest cancel;
  cancel.set_run_id(2);
  cancel.set_reason("seed");
  sweep_calls += Call(kCancelRun, cancel);
  v1::PinRunRequest pin;
  pin.set_run_id(3);
  pin.set_pinned(true);
  sweep_calls += Call(kPinRun, pin);
  v1::DeleteRunRequest del;
  del.set_run_id(2);
  sweep_calls += Call(kDeleteRun, del);
  sweep_calls += Call(kGetVersion, v1::GetVersionRequest());
  Seed("scheduler_service", "sweep", sweep_calls);

  std::string expiry = Call(kSubmitRun, submit) + Call(kRegisterWorker, reg) +
                       Call(kLeaseJob, lease);
  expiry += Byte(kTimePasses);
  v1::FailJobRequest fail;
  fail.set_worker_id(1);
  fail.set_job_id(1);
  fail.set_error("out of memory");
  fail.set_retryable(true);
  fail.set_lease_token("$");
  expiry += Call(kFailJob, fail);
  expiry += Call(kLeaseJob, lease);
  expiry += Call(kFailJob, fail);
  expiry += Call(kListWorkers, v1::ListWorkersRequest());
  Seed("scheduler_service", "lease-expiry", expiry);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  IdxSeeds();
  CifarSeeds();
  ImageSeeds();
  FeatureShardSeeds();
  CheckpointSeeds();
  SchedulerSeeds();
  return 0;
}
