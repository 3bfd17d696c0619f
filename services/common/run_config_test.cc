#include "services/common/run_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace sslab::services {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::RunConfig Minimal() {
  v1::RunConfig c;
  c.set_method(v1::METHOD_ROTATION);
  c.set_architecture(v1::ARCHITECTURE_RESNET50_V2);
  c.mutable_dataset()->set_kind(v1::DATASET_KIND_IDX);
  c.mutable_dataset()->set_path("/data/fashion-mnist");
  return c;
}

TEST(NamesTest, RoundTripAndAliases) {
  EXPECT_EQ(MethodName(v1::METHOD_RELATIVE_PATCH_LOCATION),
            "relative_patch_location");
  EXPECT_EQ(ParseMethod("jigsaw"), v1::METHOD_JIGSAW);
  EXPECT_EQ(ParseMethod("METHOD_EXEMPLAR"), v1::METHOD_EXEMPLAR);
  EXPECT_EQ(ParseMethod("Rotation"), v1::METHOD_ROTATION);
  EXPECT_EQ(ParseMethod("unspecified"), std::nullopt);
  EXPECT_EQ(ParseMethod(""), std::nullopt);
  EXPECT_EQ(ParseArchitecture("vgg19_bn"), v1::ARCHITECTURE_VGG19_BN);
  EXPECT_EQ(ParseArchitecture("resnet50"), std::nullopt);
  EXPECT_EQ(ParseProbeKind("mlp"), v1::PROBE_KIND_MLP);
  EXPECT_EQ(ParseRunState("cancelled"), v1::RUN_STATE_CANCELLED);
  EXPECT_EQ(ArchitectureName(static_cast<v1::Architecture>(99)), "");
}

TEST(ExpandRunConfigTest, FillsThePapersDefaults) {
  ASSERT_OK_AND_ASSIGN(v1::RunConfig c, ExpandRunConfig(Minimal()));
  EXPECT_EQ(c.width(), 4);
  EXPECT_TRUE(c.last_relu());
  EXPECT_EQ(c.epochs(), 35);
  EXPECT_EQ(c.batch_size(), 64);
  EXPECT_DOUBLE_EQ(c.lr_schedule().base_lr(), 0.1);
  EXPECT_DOUBLE_EQ(c.lr_schedule().warmup_epochs(), 5);
  EXPECT_THAT(c.lr_schedule().decay_epochs(), ElementsAre(15, 25));
  EXPECT_DOUBLE_EQ(c.lr_schedule().decay_factor(), 0.1);
  EXPECT_DOUBLE_EQ(c.dataset().val_fraction(), 0.1);
  EXPECT_EQ(c.dataset().image_size(), 28);
  EXPECT_THAT(c.evaluation().layers(),
              ElementsAre("after_root", "block1", "block2", "block3", "block4",
                          "pre_logits"));
  EXPECT_THAT(c.evaluation().probe_kinds(), ElementsAre(v1::PROBE_KIND_LBFGS));
  EXPECT_THAT(c.evaluation().label_fractions(), ElementsAre(1.0));
  EXPECT_EQ(c.device(), v1::DEVICE_KIND_AUTO);
}

TEST(ExpandRunConfigTest, KeepsExplicitValuesAndScalesSchedule) {
  v1::RunConfig in = Minimal();
  in.set_method(v1::METHOD_JIGSAW);
  in.set_width(1);
  in.set_last_relu(false);
  in.set_epochs(7);
  ASSERT_OK_AND_ASSIGN(v1::RunConfig c, ExpandRunConfig(in));
  EXPECT_EQ(c.width(), 1);
  EXPECT_FALSE(c.last_relu());
  EXPECT_EQ(c.batch_size(), 128);
  EXPECT_DOUBLE_EQ(c.lr_schedule().warmup_epochs(), 1);
  EXPECT_THAT(c.lr_schedule().decay_epochs(), ElementsAre(3, 5));
  // Expanding twice changes nothing.
  ASSERT_OK_AND_ASSIGN(v1::RunConfig again, ExpandRunConfig(c));
  EXPECT_EQ(again.SerializeAsString(), c.SerializeAsString());
}

TEST(ExpandRunConfigTest, RejectsBadFieldsNamingThem) {
  struct Case {
    void (*mutate)(v1::RunConfig&);
    const char* field;
  };
  const Case cases[] = {
      {[](v1::RunConfig& c) { c.set_method(v1::METHOD_UNSPECIFIED); },
       "config.method"},
      {[](v1::RunConfig& c) { c.set_method(static_cast<v1::Method>(42)); },
       "config.method"},
      {[](v1::RunConfig& c) {
         c.set_architecture(static_cast<v1::Architecture>(-3));
       },
       "config.architecture"},
      {[](v1::RunConfig& c) { c.set_width(0); }, "config.width"},
      {[](v1::RunConfig& c) { c.mutable_dataset()->clear_path(); },
       "config.dataset.path"},
      {[](v1::RunConfig& c) {
         c.mutable_dataset()->set_kind(v1::DATASET_KIND_UNSPECIFIED);
       },
       "config.dataset.kind"},
      {[](v1::RunConfig& c) { c.set_epochs(-1); }, "config.epochs"},
      {[](v1::RunConfig& c) { c.set_batch_size(-8); }, "config.batch_size"},
      {[](v1::RunConfig& c) {
         c.mutable_evaluation()->add_layers("fc6");  // VGG only
       },
       "config.evaluation.layers[0]"},
      {[](v1::RunConfig& c) { c.mutable_evaluation()->add_label_fractions(0); },
       "config.evaluation.label_fractions[0]"},
      {[](v1::RunConfig& c) {
         c.mutable_evaluation()->add_probe_kinds(v1::PROBE_KIND_UNSPECIFIED);
       },
       "config.evaluation.probe_kinds[0]"},
      {[](v1::RunConfig& c) { c.mutable_lr_schedule()->set_base_lr(-1); },
       "config.lr_schedule.base_lr"},
      {[](v1::RunConfig& c) {
         c.mutable_lr_schedule()->add_decay_epochs(20);
         c.mutable_lr_schedule()->add_decay_epochs(10);
       },
       "config.lr_schedule.decay_epochs[1]"},
      {[](v1::RunConfig& c) { c.set_device(static_cast<v1::DeviceKind>(9)); },
       "config.device"},
      {[](v1::RunConfig& c) {
         c.mutable_evaluation()->add_label_fractions(0.5);
         c.mutable_evaluation()->add_label_fractions(0.5);
       },
       "config.evaluation.label_fractions[1]"},
      {[](v1::RunConfig& c) {
         for (int i = 1; i <= 17; ++i) {
           c.mutable_evaluation()->add_label_fractions(i / 17.0);
         }
       },
       "config.evaluation.label_fractions"},
  };
  for (const Case& tc : cases) {
    v1::RunConfig c = Minimal();
    tc.mutate(c);
    EXPECT_THAT(ExpandRunConfig(c),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(std::string(tc.field) + ":")))
        << tc.field;
  }
}

TEST(ExpandRunConfigTest, UsesTheFieldPrefix) {
  v1::RunConfig c = Minimal();
  c.set_width(-2);
  EXPECT_THAT(ExpandRunConfig(c, "base."),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("base.width: must be in [1, 64], got -2")));
}

TEST(RunConfigJsonTest, RoundTrips) {
  ASSERT_OK_AND_ASSIGN(v1::RunConfig c, ExpandRunConfig(Minimal()));
  const std::string json = RunConfigToJson(c);
  EXPECT_THAT(json, HasSubstr("\"method\":\"METHOD_ROTATION\""));
  ASSERT_OK_AND_ASSIGN(v1::RunConfig back, RunConfigFromJson(json));
  EXPECT_EQ(back.SerializeAsString(), c.SerializeAsString());
  EXPECT_THAT(RunConfigFromJson("{\"width\": \"wide\"}"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RunConfigFromJson("{\"method\": \"METHOD_NOPE\"}"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace sslab::services
