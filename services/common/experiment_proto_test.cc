#include "services/common/experiment_proto.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace sslab::services {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Every domain value maps to a proto value and back, and every proto value
// but UNSPECIFIED maps to a domain value: the two enums name the same set.
template <typename Domain, typename Proto>
void ExpectSameVocabulary() {
  for (Domain d : experiment::AllValues<Domain>()) {
    const Proto p = ToProto<Proto>(d);
    EXPECT_NE(p, 0) << experiment::Name(d);
    EXPECT_EQ(FromProto<Domain>(p), d) << experiment::Name(d);
  }
  const auto* descriptor = google::protobuf::GetEnumDescriptor<Proto>();
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const auto* v = descriptor->value(i);
    if (v->number() == 0) continue;
    EXPECT_TRUE(FromProto<Domain>(static_cast<Proto>(v->number())).has_value())
        << v->name();
  }
  EXPECT_EQ(FromProto<Domain>(static_cast<Proto>(0)), std::nullopt);
  EXPECT_EQ(FromProto<Domain>(static_cast<Proto>(4242)), std::nullopt);
}

TEST(ExperimentProtoTest, EnumsNameTheSameValues) {
  ExpectSameVocabulary<experiment::Method, v1::Method>();
  ExpectSameVocabulary<experiment::Architecture, v1::Architecture>();
  ExpectSameVocabulary<experiment::DatasetKind, v1::DatasetKind>();
  ExpectSameVocabulary<experiment::ProbeKind, v1::ProbeKind>();
  ExpectSameVocabulary<experiment::RunState, v1::RunState>();
  ExpectSameVocabulary<experiment::JobKind, v1::JobKind>();
  ExpectSameVocabulary<experiment::JobState, v1::JobState>();
  ExpectSameVocabulary<experiment::DeviceRequest, v1::DeviceKind>();
  ExpectSameVocabulary<experiment::Precision, v1::Precision>();
  ExpectSameVocabulary<experiment::MemoryFormat, v1::MemoryFormat>();
  ExpectSameVocabulary<experiment::Augmentation, v1::Augmentation>();
  ExpectSameVocabulary<experiment::FeatureDtype, v1::FeatureDtype>();
  EXPECT_EQ(ToProto<v1::Method>(experiment::Method::kRelativePatchLocation),
            v1::METHOD_RELATIVE_PATCH_LOCATION);
  EXPECT_EQ(ShortName(v1::ARCHITECTURE_VGG19_BN), "vgg19_bn");
  EXPECT_EQ(ShortName(v1::PROBE_KIND_UNSPECIFIED), "");
}

TEST(ExperimentProtoTest, DevicesRoundTrip) {
  for (auto d : {experiment::DeviceId::Cpu(), experiment::DeviceId::Cuda(3)}) {
    ASSERT_OK_AND_ASSIGN(experiment::DeviceId back,
                         FromProto(ToProto(d), "devices[0]"));
    EXPECT_EQ(back, d);
  }
  v1::Device auto_device;
  auto_device.set_kind(v1::DEVICE_KIND_AUTO);
  EXPECT_THAT(FromProto(auto_device, "devices[1]"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("devices[1].kind")));
  const experiment::DeviceInfo gpu{experiment::DeviceId::Cuda(1), "GPU-1f",
                                   "NVIDIA H100", int64_t{80} << 30};
  ASSERT_OK_AND_ASSIGN(experiment::DeviceInfo info,
                       DeviceInfoFromProto(ToProto(gpu), "devices[0]"));
  EXPECT_EQ(info, gpu);
  v1::Device negative;
  negative.set_kind(v1::DEVICE_KIND_CUDA);
  negative.set_index(-1);
  EXPECT_THAT(
      FromProto(negative, "device"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("device.index")));
}

experiment::RunConfig FullConfig() {
  experiment::RunConfig c;
  c.method = experiment::Method::kJigsaw;
  c.architecture = experiment::Architecture::kRevNet50;
  c.width = 2;
  c.last_relu = false;
  c.dataset = {experiment::DatasetKind::kImageFolder, "/data/in", 0.0, 12345,
               96};
  c.epochs = 0;
  c.batch_size = 48;
  c.lr_schedule = {0.3, 0.0, {0.5, 0.75}, 0.25};
  c.evaluation.layers = {"pixels", "block2"};
  c.evaluation.probe_kinds = {experiment::ProbeKind::kSgd,
                              experiment::ProbeKind::kMlp};
  c.evaluation.label_fractions = {0.01, 1.0};
  c.evaluation.every_epochs = 4;
  c.evaluation.probe = {{1e-3, 1e-5}, 12, 0.25, 100, 64, 3};
  c.evaluation.feature_dtype = experiment::FeatureDtype::kFloat16;
  c.augmentation = experiment::Augmentation::kInception;
  c.seed = -7;
  c.device = experiment::DeviceRequest::kCuda;
  c.probe_device = experiment::DeviceRequest::kAuto;
  c.precision = experiment::Precision::kBf16;
  c.memory_format = experiment::MemoryFormat::kNchw;
  c.threads = 3;
  c.devices_per_run = 2;
  return c;
}

TEST(ExperimentProtoTest, CompleteConfigsRoundTripExactly) {
  const experiment::RunConfig c = FullConfig();
  ASSERT_OK_AND_ASSIGN(experiment::RunConfig back,
                       CompleteConfigFromProto(ToProto(c), "config."));
  EXPECT_EQ(back, c);
}

TEST(ExperimentProtoTest, UnsetProtoFieldsAreUnsetInTheSpec) {
  v1::RunConfig p;
  p.set_method(v1::METHOD_ROTATION);
  p.set_epochs(0);  // set: 0 epochs is a real value
  ASSERT_OK_AND_ASSIGN(experiment::RunSpec s, FromProto(p, "config."));
  EXPECT_EQ(s.method, experiment::Method::kRotation);
  EXPECT_EQ(s.architecture, std::nullopt);
  EXPECT_EQ(s.width, std::nullopt);
  EXPECT_EQ(s.epochs, 0);
  EXPECT_EQ(s.batch_size, std::nullopt);
  EXPECT_EQ(s.device, std::nullopt);
  EXPECT_TRUE(s.evaluation.probe_kinds.empty());
  EXPECT_EQ(s.evaluation.feature_dtype, std::nullopt);
  // No seed: the scheduler draws a fresh one. A seed of 0 is a seed.
  EXPECT_EQ(s.seed, std::nullopt);
  p.set_seed(0);
  ASSERT_OK_AND_ASSIGN(s, FromProto(p, "config."));
  EXPECT_EQ(s.seed, 0);
}

TEST(ExperimentProtoTest, UnknownEnumNumbersNameTheirField) {
  v1::RunConfig p;
  p.set_method(static_cast<v1::Method>(42));
  EXPECT_THAT(FromProto(p, "config."),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("config.method: unknown value 42; one of "
                                 "rotation|")));
  p = v1::RunConfig();
  p.mutable_evaluation()->add_probe_kinds(v1::PROBE_KIND_MLP);
  p.mutable_evaluation()->add_probe_kinds(v1::PROBE_KIND_UNSPECIFIED);
  EXPECT_THAT(
      FromProto(p, "base."),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("base.evaluation.probe_kinds[1]: must be set")));
  p = v1::RunConfig();
  p.set_device(static_cast<v1::DeviceKind>(9));
  EXPECT_THAT(
      FromProto(p, "config."),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("config.device")));
  p = v1::RunConfig();
  p.set_precision(static_cast<v1::Precision>(9));
  EXPECT_THAT(FromProto(p, "config."),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("config.precision")));
  p = v1::RunConfig();
  p.set_augmentation(static_cast<v1::Augmentation>(9));
  EXPECT_THAT(FromProto(p, "config."),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("config.augmentation")));
}

TEST(ExperimentProtoTest, SweepRequestsMapTheirAxes) {
  v1::SubmitSweepRequest r;
  r.set_name("grid");
  r.mutable_base()->set_epochs(3);
  r.add_methods(v1::METHOD_EXEMPLAR);
  r.add_architectures(v1::ARCHITECTURE_VGG19_BN);
  r.add_widths(1);
  r.add_widths(2);
  r.add_last_relu_values(false);
  r.add_seeds(5);
  r.add_epochs_values(0);
  ASSERT_OK_AND_ASSIGN(experiment::SweepSpec s, FromProto(r));
  EXPECT_EQ(s.name, "grid");
  EXPECT_EQ(s.base.epochs, 3);
  EXPECT_THAT(s.grid.methods, ElementsAre(experiment::Method::kExemplar));
  EXPECT_THAT(s.grid.architectures,
              ElementsAre(experiment::Architecture::kVgg19Bn));
  EXPECT_THAT(s.grid.widths, ElementsAre(1, 2));
  EXPECT_THAT(s.grid.last_relu_values, ElementsAre(false));
  EXPECT_THAT(s.grid.seeds, ElementsAre(5));
  EXPECT_THAT(s.grid.epochs_values, ElementsAre(0));
  r.add_methods(static_cast<v1::Method>(77));
  EXPECT_THAT(FromProto(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("methods[1]")));
}

TEST(ExperimentProtoTest, AssignmentsRoundTrip) {
  experiment::JobAssignment a;
  a.run_id = 3;
  a.job_id = 17;
  a.kind = experiment::JobKind::kProbe;
  a.attempt = 2;
  a.config = FullConfig();
  a.device = experiment::DeviceId::Cuda(1);
  a.devices = {experiment::DeviceId::Cuda(1), experiment::DeviceId::Cuda(0)};
  a.checkpoint = experiment::CheckpointRef{9, 4, 400, "runs/3/ckpt", "ab12"};
  a.probe =
      experiment::ProbeTarget{"block2", experiment::ProbeKind::kMlp, 0.01};
  a.features = {{"block2", experiment::Split::kTrain, "f/t", "s1", 10, 64},
                {"block2", experiment::Split::kTest, "f/s", "s2", 5, 64}};
  v1::JobAssignment proto;
  ToProto(a, &proto);
  EXPECT_EQ(proto.job().layer(), "block2");
  EXPECT_EQ(proto.features(1).split(), "test");
  ASSERT_OK_AND_ASSIGN(experiment::JobAssignment back, FromProto(proto));
  EXPECT_EQ(back, a);

  experiment::JobAssignment extract;
  extract.kind = experiment::JobKind::kExtract;
  extract.config = FullConfig();
  extract.checkpoint = a.checkpoint;
  extract.layers = {"pixels", "block2"};
  extract.splits = {experiment::Split::kTrain, experiment::Split::kVal,
                    experiment::Split::kTest};
  proto.Clear();
  ToProto(extract, &proto);
  EXPECT_THAT(proto.splits(), ElementsAre("train", "val", "test"));
  ASSERT_OK_AND_ASSIGN(back, FromProto(proto));
  EXPECT_EQ(back, extract);

  proto.add_splits("validation");
  EXPECT_THAT(FromProto(proto), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("splits[3]")));
}

TEST(ExperimentProtoTest, ConfigFilesAreStrictJson) {
  ASSERT_OK_AND_ASSIGN(
      v1::RunConfig c,
      RunConfigFromJson(R"({"method": "METHOD_JIGSAW", "width": 2})"));
  EXPECT_EQ(c.method(), v1::METHOD_JIGSAW);
  EXPECT_EQ(c.width(), 2);
  EXPECT_THAT(RunConfigFromJson(R"({"widht": 2})"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RunConfigFromJson(R"({"method": "METHOD_NOPE"})"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace sslab::services
