#include "trainer/pretext.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/testing/status_matchers.h"
#include "trainer/permutations.h"

namespace sslab::trainer {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::HasSubstr;

TrainerOptions Tiny(Method method) {
  TrainerOptions o;
  o.method = method;
  o.model.width = 1;
  o.model.in_channels = 1;
  o.model.small_input = true;
  o.image_size = 24;
  o.num_classes = 3;
  o.embedding_dim = 8;
  o.head_hidden = 16;
  o.num_permutations = 5;
  return o;
}

std::shared_ptr<PretextModelImpl> Build(const TrainerOptions& o) {
  torch::manual_seed(0);
  at::Tensor perms;
  if (o.method == Method::kJigsaw) {
    perms = GenerateJigsawPermutations(o.num_permutations, 0).value();
  }
  auto model = PretextModelImpl::Create(o, perms);
  EXPECT_OK(model.status());
  return *model;
}

// Every parameter of the network (backbone and head) receives a gradient.
void ExpectGradientsEverywhere(PretextModelImpl& model) {
  for (const auto& item : model.named_parameters()) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    EXPECT_GT(item.value().grad().abs().sum().item<double>(), 0) << item.key();
  }
}

TEST(PretextTest, RotationBuildsFourRotatedViewsWithLabels) {
  // With one view per image the task rotates: the network sees image k of
  // the batch at 0, 90, 180, 270 degrees with labels 0..3. Check through a
  // backbone-free path: the loss's labels are the rotation indices, so a
  // batch where all four rotations are identical cannot be solved better
  // than chance; here we check shapes and counts.
  TrainerOptions o = Tiny(Method::kRotation);
  auto model = Build(o);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(0);
  data::Batch batch;
  batch.views = torch::randn({3, 1, 1, 12, 12});
  ASSERT_OK(model->CheckBatch(batch));
  StepOutput out = model->Compute(batch, gen, false);
  EXPECT_EQ(out.total, 12);
  EXPECT_TRUE(std::isfinite(out.loss.item<double>()));
  out.loss.backward();
  ExpectGradientsEverywhere(*model);
}

TEST(PretextTest, RotationLabelsFollowTorchRot90) {
  // A network-free check of the rotation convention: the transform (data/)
  // and the trainer's own rotation agree on torch.rot90(x, k, {2, 3}).
  at::Tensor img = torch::arange(4, torch::kFloat).view({1, 1, 2, 2});
  // [[0, 1], [2, 3]] rotated 90 degrees counter-clockwise is [[1, 3], [0, 2]].
  EXPECT_TRUE(
      torch::rot90(img, 1, {2, 3})
          .equal(torch::tensor({1.f, 3.f, 0.f, 2.f}).view({1, 1, 2, 2})));
}

TEST(PretextTest, SupervisedAndExemplarTrainTheBackbone) {
  for (Method m : {Method::kSupervised, Method::kExemplar}) {
    TrainerOptions o = Tiny(m);
    auto model = Build(o);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(0);
    data::Batch batch;
    batch.views = torch::randn({3, 2, 1, 12, 12});
    batch.classes = torch::tensor({0, 2, 1}, torch::kLong);
    ASSERT_OK(model->CheckBatch(batch));
    StepOutput out = model->Compute(batch, gen, false);
    EXPECT_EQ(out.total, 6) << experiment::Name(m);
    EXPECT_TRUE(std::isfinite(out.loss.item<double>()));
    out.loss.backward();
    ExpectGradientsEverywhere(*model);
  }
}

TEST(PretextTest, PatchMethodsTrainBackboneAndHead) {
  for (Method m : {Method::kJigsaw, Method::kRelativePatchLocation}) {
    TrainerOptions o = Tiny(m);
    auto model = Build(o);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(0);
    data::Batch batch;
    batch.views = torch::randn({2, 9, 1, 8, 8});
    ASSERT_OK(model->CheckBatch(batch));
    StepOutput out = model->Compute(batch, gen, false);
    // Jigsaw: one example per image; RPL: 8 (neighbour, centre) pairs.
    EXPECT_EQ(out.total, m == Method::kJigsaw ? 2 : 16) << experiment::Name(m);
    out.loss.backward();
    ExpectGradientsEverywhere(*model);
  }
}

TEST(PretextTest, JigsawLossDependsOnPatchOrder) {
  // The same patches under a different permutation draw give a different
  // loss: the head sees the embeddings in permuted order.
  TrainerOptions o = Tiny(Method::kJigsaw);
  auto model = Build(o);
  model->eval();
  torch::NoGradGuard no_grad;
  data::Batch batch;
  batch.views = torch::randn({1, 9, 1, 8, 8});
  std::set<double> losses;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(0);
  for (int i = 0; i < 6; ++i) {
    losses.insert(model->Compute(batch, gen, false).loss.item<double>());
  }
  EXPECT_GT(losses.size(), 1u);
}

TEST(PretextTest, BadBatchesNameTheField) {
  auto rotation = Build(Tiny(Method::kRotation));
  data::Batch batch;
  batch.views = torch::randn({2, 3, 1, 8, 8});
  EXPECT_THAT(rotation->CheckBatch(batch),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("views")));
  batch.views = torch::randn({2, 1, 3, 8, 8});  // 3 channels, model takes 1.
  EXPECT_THAT(
      rotation->CheckBatch(batch),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("channels")));
  auto supervised = Build(Tiny(Method::kSupervised));
  batch.views = torch::randn({2, 1, 1, 8, 8});
  EXPECT_THAT(
      supervised->CheckBatch(batch),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("classes")));
  auto jigsaw = Build(Tiny(Method::kJigsaw));
  EXPECT_THAT(
      jigsaw->CheckBatch(batch),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("9 patches")));
}

}  // namespace
}  // namespace sslab::trainer
