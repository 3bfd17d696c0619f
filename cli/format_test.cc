#include "cli/format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "experiment/run_config.h"
#include "services/common/experiment_proto.h"

namespace sslab::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::Result MakeResult(int64_t run, v1::Method method, v1::Architecture arch,
                      int width, const std::string& layer, v1::ProbeKind probe,
                      const std::string& split, double top1, int64_t epoch = 35,
                      double fraction = 1.0) {
  v1::Result r;
  r.set_run_id(run);
  r.set_method(method);
  r.set_architecture(arch);
  r.set_width(width);
  r.set_layer(layer);
  r.set_probe_kind(probe);
  r.set_split(split);
  r.set_top1(top1);
  r.set_epoch(epoch);
  r.set_label_fraction(fraction);
  return r;
}

TEST(RenderTableTest, AlignsColumns) {
  const Table t{{"ID", "NAME"}, {{"1", "rotation"}, {"12", "x"}}};
  EXPECT_EQ(RenderTable(t, OutputFormat::kTable),
            "ID  NAME\n"
            "1   rotation\n"
            "12  x\n");
}

TEST(RenderTableTest, CsvQuotesSpecialCells) {
  const Table t{{"A", "B"}, {{"x,y", "say \"hi\""}, {"plain", ""}}};
  EXPECT_EQ(RenderTable(t, OutputFormat::kCsv),
            "A,B\n"
            "\"x,y\",\"say \"\"hi\"\"\"\n"
            "plain,\n");
}

TEST(RenderTableTest, JsonIsAnArrayOfObjects) {
  const Table t{{"ID", "STATE"}, {{"3", "running"}}};
  const auto j = nlohmann::json::parse(RenderTable(t, OutputFormat::kJson));
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["ID"], "3");
  EXPECT_EQ(j[0]["STATE"], "running");
}

TEST(ParseOutputFormatTest, KnownNames) {
  EXPECT_EQ(ParseOutputFormat("CSV"), OutputFormat::kCsv);
  EXPECT_EQ(ParseOutputFormat("json"), OutputFormat::kJson);
  EXPECT_EQ(ParseOutputFormat("yaml"), std::nullopt);
}

TEST(ResultsTableTest, LayersInNetworkOrderProbesAsColumnsTestWins) {
  using v1::ARCHITECTURE_RESNET50_V2;
  using v1::METHOD_ROTATION;
  const std::vector<v1::Result> results = {
      MakeResult(1, METHOD_ROTATION, ARCHITECTURE_RESNET50_V2, 4, "pre_logits",
                 v1::PROBE_KIND_LBFGS, "val", 0.40),
      MakeResult(1, METHOD_ROTATION, ARCHITECTURE_RESNET50_V2, 4, "pre_logits",
                 v1::PROBE_KIND_LBFGS, "test", 0.5543),
      MakeResult(1, METHOD_ROTATION, ARCHITECTURE_RESNET50_V2, 4, "block3",
                 v1::PROBE_KIND_LBFGS, "test", 0.5),
      MakeResult(1, METHOD_ROTATION, ARCHITECTURE_RESNET50_V2, 4, "block3",
                 v1::PROBE_KIND_MLP, "test", 0.52),
  };
  const Table t = ResultsTable(results);
  EXPECT_EQ(RenderTable(t, OutputFormat::kTable),
            "EPOCH  LAYER       LBFGS  MLP\n"
            "35     block3      50.0   52.0\n"
            "35     pre_logits  55.4   -\n");
}

TEST(ResultsTableTest, LabelFractionsBecomeColumnsWhenSeveral) {
  const std::vector<v1::Result> results = {
      MakeResult(1, v1::METHOD_ROTATION, v1::ARCHITECTURE_REVNET50, 4, "block4",
                 v1::PROBE_KIND_LBFGS, "test", 0.3, 35, 0.1),
      MakeResult(1, v1::METHOD_ROTATION, v1::ARCHITECTURE_REVNET50, 4, "block4",
                 v1::PROBE_KIND_LBFGS, "test", 0.5, 35, 1.0),
  };
  const Table t = ResultsTable(results);
  EXPECT_EQ(t.columns, (std::vector<std::string>{"EPOCH", "LAYER", "LBFGS@1",
                                                 "LBFGS@0.1"}));
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0][2], "50.0");
  EXPECT_EQ(t.rows[0][3], "30.0");
}

TEST(SweepGridTest, BestLayerPerMethodAndArchitecture) {
  using v1::ARCHITECTURE_RESNET50_V1;
  using v1::ARCHITECTURE_REVNET50;
  using v1::METHOD_JIGSAW;
  using v1::METHOD_ROTATION;
  const std::vector<v1::Result> results = {
      MakeResult(1, METHOD_ROTATION, ARCHITECTURE_REVNET50, 16, "block3",
                 v1::PROBE_KIND_LBFGS, "test", 0.50),
      MakeResult(1, METHOD_ROTATION, ARCHITECTURE_REVNET50, 16, "pre_logits",
                 v1::PROBE_KIND_LBFGS, "test", 0.554),
      // An earlier epoch and another probe kind are ignored.
      MakeResult(1, METHOD_ROTATION, ARCHITECTURE_REVNET50, 16, "block1",
                 v1::PROBE_KIND_LBFGS, "test", 0.9, 10),
      MakeResult(1, METHOD_ROTATION, ARCHITECTURE_REVNET50, 16, "block1",
                 v1::PROBE_KIND_MLP, "test", 0.95),
      MakeResult(2, METHOD_JIGSAW, ARCHITECTURE_RESNET50_V1, 16, "block4",
                 v1::PROBE_KIND_LBFGS, "test", 0.446),
  };
  const Table t = SweepGrid(results);
  EXPECT_EQ(RenderTable(t, OutputFormat::kTable),
            "METHOD    resnet50_v1    revnet50\n"
            "rotation  -              55.4 (pre_logits)\n"
            "jigsaw    44.6 (block4)  -\n");
  // With the MLP probe selected only its results count.
  const Table mlp = SweepGrid(results, v1::PROBE_KIND_MLP);
  ASSERT_EQ(mlp.rows.size(), 1u);
  EXPECT_EQ(mlp.rows[0][1], "95.0 (block1)");
}

TEST(SweepGridTest, ChoosesTheLayerOnValAndShowsItsTestAccuracy) {
  const auto r = [](const char* layer, const char* split, double top1) {
    return MakeResult(1, v1::METHOD_ROTATION, v1::ARCHITECTURE_RESNET50_V2, 4,
                      layer, v1::PROBE_KIND_LBFGS, split, top1);
  };
  // block4 wins on test, but block3 wins on val: the grid reports block3
  // with its test accuracy (choosing on test would overstate it).
  const std::vector<v1::Result> results = {
      r("block3", "val", 0.70),
      r("block3", "test", 0.60),
      r("block4", "val", 0.65),
      r("block4", "test", 0.64),
  };
  const Table t = SweepGrid(results);
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0][1], "60.0 (block3)");
}

TEST(SweepGridTest, WidthsAppearWhenSeveral) {
  const std::vector<v1::Result> results = {
      MakeResult(1, v1::METHOD_ROTATION, v1::ARCHITECTURE_REVNET50, 4, "block3",
                 v1::PROBE_KIND_LBFGS, "test", 0.4),
      MakeResult(2, v1::METHOD_ROTATION, v1::ARCHITECTURE_REVNET50, 16,
                 "block3", v1::PROBE_KIND_LBFGS, "test", 0.5),
  };
  EXPECT_EQ(
      SweepGrid(results).columns,
      (std::vector<std::string>{"METHOD", "revnet50 k=4", "revnet50 k=16"}));
}

TEST(ProgressTest, BarAndLine) {
  EXPECT_EQ(ProgressBar(0.5, 10), "[#####.....]  50%");
  EXPECT_EQ(ProgressBar(2.0, 4), "[####] 100%");
  EXPECT_EQ(ProgressBar(-1, 4), "[....]   0%");
  v1::Run run;
  run.set_run_id(3);
  run.set_state(v1::RUN_STATE_RUNNING);
  run.mutable_progress()->set_train_fraction(0.25);
  run.mutable_progress()->set_epoch(2);
  run.mutable_progress()->set_step(120);
  (*run.mutable_progress()->mutable_metrics())["loss"] = 0.531;
  run.mutable_progress()->set_jobs_total(2);
  run.mutable_progress()->set_jobs_succeeded(1);
  EXPECT_EQ(ProgressLine(run),
            "run 3 running [#####...............]  25% epoch 2 step 120 "
            "loss=0.531 jobs 1/2");
}

TEST(RunsTableTest, OneRowPerRun) {
  v1::Run run;
  run.set_run_id(7);
  run.set_name("rotation-resnet50_v2-k4");
  run.set_state(v1::RUN_STATE_PENDING);
  run.mutable_config()->set_method(v1::METHOD_ROTATION);
  run.mutable_config()->set_architecture(v1::ARCHITECTURE_RESNET50_V2);
  run.mutable_config()->set_width(4);
  run.mutable_create_time()->set_seconds(1767225600);
  const Table t = RunsTable({run});
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0],
            (std::vector<std::string>{"7", "rotation-resnet50_v2-k4", "pending",
                                      "rotation", "resnet50_v2", "4", "0%",
                                      "0/0", "2026-01-01 00:00:00"}));
  const std::string details = RunDetails(run);
  EXPECT_THAT(details, HasSubstr("state:         pending"));
  EXPECT_THAT(details, HasSubstr("resnet50_v2 k=4"));
  EXPECT_THAT(details, Not(HasSubstr("error:")));
  EXPECT_THAT(details, HasSubstr("disk:          0 B (0 checkpoints 0 B, 0 "
                                 "feature shards 0 B)\n"));
  run.set_pinned(true);
  run.mutable_disk()->set_checkpoints(2);
  run.mutable_disk()->set_checkpoint_bytes(3 << 20);
  run.mutable_disk()->set_feature_shards(12);
  run.mutable_disk()->set_feature_bytes(1 << 20);
  EXPECT_THAT(RunDetails(run),
              HasSubstr("disk:          4.0 MiB (2 checkpoints 3.0 MiB, 12 "
                        "feature shards 1.0 MiB); pinned"));
}

TEST(RunDetailsTest, ShowsDevicesPrecisionAndWarnsAboutShortRuns) {
  experiment::RunSpec spec;
  spec.method = experiment::Method::kRotation;
  spec.architecture = experiment::Architecture::kResNet50V2;
  spec.dataset.kind = experiment::DatasetKind::kIdx;
  spec.dataset.path = "/d";
  spec.dataset.max_examples = 640;
  spec.epochs = 2;
  spec.probe_device = experiment::DeviceRequest::kCuda;
  absl::StatusOr<experiment::RunConfig> config = ExpandRunSpec(spec);
  ASSERT_TRUE(config.ok()) << config.status();
  v1::Run run;
  *run.mutable_config() = services::ToProto(*config);
  const std::string details = RunDetails(run);
  EXPECT_THAT(details, HasSubstr("auto (probes cuda), precision auto, "
                                 "channels_last"));
  EXPECT_THAT(details, HasSubstr("augmentation:  light"));
  EXPECT_THAT(details,
              HasSubstr("l2 grid [0.1,0.01,0.001,0.0001,1e-05,1e-06]"));
  EXPECT_THAT(details, HasSubstr("warning:       only ~"));
  EXPECT_EQ(RunWarning(run), experiment::ShortRunWarning(*config));
}

TEST(PretextLineTest, FromTheCheckpointsMetrics) {
  v1::Checkpoint c;
  c.set_epoch(2);
  EXPECT_EQ(PretextLine(c), "");
  (*c.mutable_metrics())["pretext_top1"] = 0.9312;
  (*c.mutable_metrics())["loss"] = 0.2104;
  EXPECT_EQ(PretextLine(c), "pretext: top-1 93.1%, loss 0.210 at epoch 2\n");
}

TEST(SweepsTableTest, ShowsEveryAxisAndZipGroup) {
  v1::Sweep s;
  s.set_sweep_id(2);
  s.set_name("lr-study");
  v1::SweepGrid* g = s.mutable_grid();
  g->add_architectures(v1::ARCHITECTURE_REVNET50);
  g->add_epochs_values(4);
  g->add_epochs_values(8);
  v1::SweepAxis* lr = g->add_axes();
  lr->set_field("lr");
  lr->add_values("0.1");
  lr->add_values("0.4");
  v1::SweepAxis* decay = g->add_axes();
  decay->set_field("decay-epochs");
  decay->add_values("3");
  decay->add_values("6");
  v1::SweepZip* zip = g->add_zip();
  zip->add_fields("epochs");
  zip->add_fields("decay-epochs");
  const Table t = SweepsTable({s});
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0][4],
            "archs=revnet50 epochs-values=4,8 lr=0.1,0.4 decay-epochs=3;6 "
            "zip=epochs+decay-epochs");
}

TEST(WorkersTableTest, NamesDevicesAndWhereJobsRun) {
  v1::Worker w;
  w.set_worker_id(3);
  w.set_name("trainer");
  w.set_alive(true);
  v1::Device* gpu = w.add_devices();
  gpu->set_kind(v1::DEVICE_KIND_CUDA);
  gpu->set_index(1);
  gpu->set_name("NVIDIA H200");
  gpu->set_memory_bytes(int64_t{141} << 30);
  v1::Job* job = w.add_jobs();
  job->set_kind(v1::JOB_KIND_TRAIN);
  job->set_job_id(12);
  job->set_run_id(4);
  job->set_lease_device("cuda:1");
  v1::Job* gang = w.add_jobs();
  gang->set_kind(v1::JOB_KIND_TRAIN);
  gang->set_job_id(13);
  gang->set_run_id(5);
  gang->set_lease_device("cuda:0");
  gang->add_lease_gang("cuda:0");
  gang->add_lease_gang("cuda:2");
  const Table t = WorkersTable({w});
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0][3], "cuda:1 (NVIDIA H200 141 GiB)");
  EXPECT_EQ(t.rows[0][5],
            "train 12 (run 4) on cuda:1, train 13 (run 5) on cuda:0+cuda:2");
}

TEST(ArtifactsTableTest, NamesWhatRetentionDeletes) {
  v1::Artifact a;
  a.set_run_id(3);
  a.set_epoch(2);
  a.set_kind("features");
  a.set_layer("block3");
  a.set_split("train");
  a.set_bytes(2048);
  a.set_path("runs/3/features/ckpt-5/train/block3.feat");
  const Table t = ArtifactsTable({a});
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{
                           "3", "2", "features", "block3", "train", "2.0 KiB",
                           "runs/3/features/ckpt-5/train/block3.feat"}));
}

TEST(HumanBytesTest, PicksABinaryUnit) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(12900000), "12.3 MiB");
  EXPECT_EQ(HumanBytes(int64_t{5} << 40), "5.0 TiB");
}

TEST(HumanDurationTest, PicksTheUnitAPersonWouldSay) {
  EXPECT_EQ(HumanDuration(45.2), "45 s");
  EXPECT_EQ(HumanDuration(12 * 60 + 10), "12 min");
  EXPECT_EQ(HumanDuration(3 * 3600 + 25 * 60), "3 h 25 min");
  EXPECT_EQ(HumanDuration(2 * 3600), "2 h");
  EXPECT_EQ(HumanDuration(52 * 3600), "2 d 4 h");
  EXPECT_EQ(HumanDuration(-1), "?");
  google::protobuf::Map<std::string, double> m;
  m["eta_seconds"] = 12340;
  m["loss"] = 0.53125;
  EXPECT_EQ(Metrics(m), "eta=3 h 26 min loss=0.5312");
}

TEST(ResultRowsTableTest, KeepsEveryFieldOfEveryResult) {
  v1::Result r;
  r.set_run_id(7);
  r.set_run_name("grid/rotation-revnet50-k2");
  r.set_method(v1::METHOD_ROTATION);
  r.set_architecture(v1::ARCHITECTURE_REVNET50);
  r.set_width(2);
  r.set_epoch(35);
  r.set_layer("block3");
  r.set_probe_kind(v1::PROBE_KIND_LBFGS);
  r.set_label_fraction(0.1);
  r.set_split("test");
  r.set_top1(0.5543);
  r.set_top5(0.9012);
  (*r.mutable_hyperparameters())["l2"] = "0.001";
  (*r.mutable_hyperparameters())["train_rows"] = "500";
  const Table t = ResultRowsTable({r});
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(RenderTable(t, OutputFormat::kCsv),
            "RUN,NAME,METHOD,ARCH,K,EPOCH,LAYER,PROBE,LABEL_FRACTION,SPLIT,"
            "TOP1,TOP5,L2,HYPERPARAMETERS\n"
            "7,grid/rotation-revnet50-k2,rotation,revnet50,2,35,block3,lbfgs,"
            "0.1,test,0.5543,0.9012,0.001,train_rows=500\n");
}

TEST(WorkerStatusTextTest, SaysWhatRunsOnEachDevice) {
  v1::WorkerStatus s;
  s.set_name("trainer-0");
  s.set_worker_id(3);
  s.set_phase(v1::WORKER_PHASE_RUNNING);
  s.add_job_kinds(v1::JOB_KIND_TRAIN);
  s.set_jobs_succeeded(2);
  v1::WorkerSlot* busy = s.add_slots();
  busy->mutable_device()->set_kind(v1::DEVICE_KIND_CUDA);
  busy->mutable_device()->set_index(1);
  busy->mutable_current_job()->set_kind(v1::JOB_KIND_TRAIN);
  busy->mutable_current_job()->set_job_id(12);
  busy->mutable_current_job()->set_run_id(4);
  busy->set_progress(0.4);
  busy->set_epoch(2);
  (*busy->mutable_metrics())["eta_seconds"] = 600;
  s.add_slots()->mutable_device()->set_kind(v1::DEVICE_KIND_CPU);
  const std::string text = WorkerStatusText(s);
  EXPECT_THAT(text, HasSubstr("name:       trainer-0 (worker 3)"));
  EXPECT_THAT(text, HasSubstr("phase:      running"));
  EXPECT_THAT(text, HasSubstr("jobs:       2 succeeded, 0 failed"));
  EXPECT_THAT(text, HasSubstr("cuda:1  train 12 (run 4)  40%       2"));
  EXPECT_THAT(text, HasSubstr("eta=10 min"));
  EXPECT_THAT(text, HasSubstr("cpu     idle"));
}

TEST(ToJsonTest, UsesProtoFieldNames) {
  v1::Run run;
  run.set_run_id(5);
  const auto j = nlohmann::json::parse(ToJson(run));
  EXPECT_EQ(j["run_id"], "5");  // int64 is a string in proto3 JSON
  EXPECT_TRUE(j.contains("state"));
}

}  // namespace
}  // namespace sslab::cli
