#include "experiment/vocabulary.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "common/testing/status_matchers.h"

namespace sslab::experiment {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Every name parses back to its value, and names are unique.
template <typename Enum>
void ExpectRoundTrip() {
  std::set<absl::string_view> names;
  for (Enum value : AllValues<Enum>()) {
    const absl::string_view name = Name(value);
    ASSERT_FALSE(name.empty());
    EXPECT_TRUE(names.insert(name).second) << name;
    EXPECT_EQ(Parse<Enum>(name), value) << name;
  }
}

TEST(VocabularyTest, EveryNameRoundTrips) {
  ExpectRoundTrip<Method>();
  ExpectRoundTrip<Architecture>();
  ExpectRoundTrip<DatasetKind>();
  ExpectRoundTrip<ProbeKind>();
  ExpectRoundTrip<Split>();
  ExpectRoundTrip<JobKind>();
  ExpectRoundTrip<JobState>();
  ExpectRoundTrip<RunState>();
  ExpectRoundTrip<DeviceRequest>();
  ExpectRoundTrip<DeviceKind>();
}

TEST(VocabularyTest, NamesAndParsing) {
  EXPECT_EQ(Name(Method::kRelativePatchLocation), "relative_patch_location");
  EXPECT_EQ(Name(Architecture::kVgg19Bn), "vgg19_bn");
  EXPECT_EQ(Name(DatasetKind::kImageFolder), "imagefolder");
  EXPECT_EQ(Parse<Method>("Rotation"), Method::kRotation);
  EXPECT_EQ(Parse<ProbeKind>("LBFGS"), ProbeKind::kLbfgs);
  EXPECT_EQ(Parse<Architecture>("resnet50"), std::nullopt);
  EXPECT_EQ(Parse<Method>(""), std::nullopt);
  EXPECT_EQ(Name(static_cast<Architecture>(99)), "");
  EXPECT_EQ(Choices<ProbeKind>(), "lbfgs|sgd|mlp");
  EXPECT_THAT(AllValues<Split>(),
              ElementsAre(Split::kTrain, Split::kVal, Split::kTest));
}

TEST(VocabularyTest, ParseNameNamesTheFieldAndTheChoices) {
  EXPECT_THAT(ParseName<Method>("rot", "--method"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--method: unknown method \"rot\"; one of "
                                 "rotation|exemplar|jigsaw|"
                                 "relative_patch_location|supervised")));
  ASSERT_OK_AND_ASSIGN(DatasetKind kind,
                       ParseName<DatasetKind>("cifar", "dataset.kind"));
  EXPECT_EQ(kind, DatasetKind::kCifar);
}

TEST(VocabularyTest, FinalStates) {
  EXPECT_FALSE(IsFinal(RunState::kRunning));
  EXPECT_TRUE(IsFinal(RunState::kCancelled));
  EXPECT_FALSE(IsFinal(JobState::kRunnable));
  EXPECT_TRUE(IsFinal(JobState::kFailed));
}

TEST(VocabularyTest, RepresentationLayersPerArchitecture) {
  EXPECT_THAT(RepresentationLayers(Architecture::kRevNet50),
              ElementsAre("after_root", "block1", "block2", "block3", "block4",
                          "pre_logits"));
  EXPECT_THAT(
      RepresentationLayers(Architecture::kVgg19Bn),
      ElementsAre("block1", "block2", "block3", "block4", "fc6", "pre_logits"));
  EXPECT_TRUE(IsPatchMethod(Method::kJigsaw));
  EXPECT_FALSE(IsPatchMethod(Method::kExemplar));
}

}  // namespace
}  // namespace sslab::experiment
