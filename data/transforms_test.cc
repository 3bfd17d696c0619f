#include "data/transforms.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/testing/status_matchers.h"
#include "data/internal/test_files.h"

namespace sslab::data {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::HasSubstr;

Example Picture(int h, int w, int c, int64_t label = 3) {
  const std::vector<uint8_t> px = testing::TestPicture(h, w, c, 1);
  Example e;
  e.image =
      torch::from_blob(const_cast<uint8_t*>(px.data()), {h, w, c}, torch::kByte)
          .clone();
  e.label = label;
  return e;
}

std::shared_ptr<const Transform> Make(TransformOptions o) {
  auto t = MakeTransform(o);
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

TransformOptions Options(const std::string& kind, int size, int channels) {
  TransformOptions o;
  o.kind = kind;
  o.image_size = size;
  o.channels = channels;
  return o;
}

TEST(TransformsTest, ShapesRangesAndLabelsForEveryKindAndSize) {
  struct Case {
    std::string kind;
    int views;
    bool standardized;
  };
  const std::vector<Case> cases = {
      {"eval", 1, false},     {"supervised", 1, false},
      {"rotation", 4, false}, {"exemplar", 8, true},
      {"patches", 9, true},   {"eval_patches", 9, true}};
  struct Input {
    int h, w, c, size;
  };
  for (const Input in :
       {Input{28, 28, 1, 28}, Input{32, 32, 3, 32}, Input{300, 240, 3, 224}}) {
    for (const Case& k : cases) {
      for (int out_c : {1, 3}) {
        auto t = Make(Options(k.kind, in.size, out_c));
        const Example e = Picture(in.h, in.w, in.c);
        ASSERT_OK_AND_ASSIGN(Sample s, t->Apply(e, 11));
        const int side = t->view_size();
        SCOPED_TRACE(k.kind + " " + std::to_string(in.size));
        if (k.kind == "patches" || k.kind == "eval_patches") {
          EXPECT_EQ(side,
                    static_cast<int>(std::lround(in.size / 3 * 64.0 / 85)));
        } else {
          EXPECT_EQ(side, in.size);
        }
        EXPECT_EQ(s.views.sizes(),
                  (std::vector<int64_t>{k.views, out_c, side, side}));
        EXPECT_EQ(s.views.scalar_type(), torch::kFloat);
        EXPECT_EQ(s.labels.sizes(), (std::vector<int64_t>{k.views}));
        EXPECT_EQ(t->num_views(), k.views);
        EXPECT_TRUE(torch::isfinite(s.views).all().item<bool>());
        if (k.standardized) {
          const auto flat = s.views.reshape({k.views, -1});
          EXPECT_LT(flat.mean(1).abs().max().item<float>(), 1e-3);
          EXPECT_LE(flat.std(1, /*unbiased=*/false).max().item<float>(),
                    1.0 + 1e-3);
        } else {
          EXPECT_GE(s.views.min().item<float>(), -1.0f - 1e-5);
          EXPECT_LE(s.views.max().item<float>(), 1.0f + 1e-5);
        }
        if (k.kind == "rotation" || k.kind == "patches" ||
            k.kind == "eval_patches") {
          EXPECT_TRUE(
              torch::equal(s.labels, torch::arange(k.views, torch::kLong)));
        } else {
          EXPECT_TRUE((s.labels == 3).all().item<bool>());
        }
      }
    }
  }
}

TEST(TransformsTest, DeterministicGivenTheSeed) {
  for (const std::string kind :
       {"supervised", "rotation", "exemplar", "patches"}) {
    auto t = Make(Options(kind, 32, 3));
    const Example e = Picture(40, 36, 3);
    ASSERT_OK_AND_ASSIGN(Sample a, t->Apply(e, 5));
    ASSERT_OK_AND_ASSIGN(Sample b, t->Apply(e, 5));
    ASSERT_OK_AND_ASSIGN(Sample c, t->Apply(e, 6));
    EXPECT_TRUE(torch::equal(a.views, b.views)) << kind;
    EXPECT_FALSE(torch::equal(a.views, c.views)) << kind;
  }
  auto eval = Make(Options("eval", 32, 3));
  const Example e = Picture(40, 36, 3);
  EXPECT_TRUE(torch::equal(eval->Apply(e, 1)->views, eval->Apply(e, 2)->views));
}

TEST(TransformsTest, EvalOfAConstantImageIsConstant) {
  Example e;
  e.image = torch::full({50, 70, 3}, 191, torch::kByte);
  ASSERT_OK_AND_ASSIGN(Sample s, Make(Options("eval", 32, 3))->Apply(e, 0));
  EXPECT_TRUE(torch::allclose(
      s.views, torch::full_like(s.views, 191 / 127.5 - 1), 1e-5, 1e-5));
}

TEST(TransformsTest, EvalKeepsTheCentreCrop) {
  // Identity geometry: resize 32 -> 32 (fraction 1), crop 32 = the image.
  TransformOptions o = Options("eval", 32, 3);
  o.center_crop_fraction = 1.0;
  const Example e = Picture(32, 32, 3);
  ASSERT_OK_AND_ASSIGN(Sample s, Make(o)->Apply(e, 0));
  const auto expected =
      e.image.permute({2, 0, 1}).to(torch::kFloat) / 127.5 - 1;
  EXPECT_TRUE(torch::allclose(s.views[0], expected, 1e-4, 1e-4));
}

TEST(TransformsTest, RotationViewsAreRot90OfTheFirst) {
  auto t = Make(Options("rotation", 24, 3));
  ASSERT_OK_AND_ASSIGN(Sample s, t->Apply(Picture(30, 40, 3), 9));
  for (int k = 1; k < 4; ++k) {
    EXPECT_TRUE(torch::equal(s.views[k], torch::rot90(s.views[0], k, {1, 2})))
        << k;
  }
  EXPECT_FALSE(torch::equal(s.views[0], s.views[1]));
}

TEST(TransformsTest, ExemplarGrayscaleIsDecidedOncePerImage) {
  TransformOptions o = Options("exemplar", 32, 3);
  o.normalization = "unit_range";
  for (double p : {0.0, 1.0}) {
    o.grayscale_prob = p;
    ASSERT_OK_AND_ASSIGN(Sample s, Make(o)->Apply(Picture(48, 48, 3), 4));
    const bool gray_views =
        torch::equal(s.views.select(1, 0), s.views.select(1, 1));
    EXPECT_EQ(gray_views, p == 1.0);
    // Independent crops.
    EXPECT_FALSE(torch::equal(s.views[0], s.views[1]));
  }
  // With p = 0.66 every image is either all gray or all colour.
  o.grayscale_prob = 0.66;
  int gray = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    ASSERT_OK_AND_ASSIGN(Sample s, Make(o)->Apply(Picture(48, 48, 3), seed));
    int g = 0;
    for (int v = 0; v < 8; ++v) {
      g += torch::equal(s.views[v][0], s.views[v][1]) ? 1 : 0;
    }
    EXPECT_TRUE(g == 0 || g == 8);
    gray += g == 8;
  }
  EXPECT_GT(gray, 15);
  EXPECT_LT(gray, 38);
}

// A 72 x 72 picture with red = 3x and green = 3y; image_size 63 gives a
// resize to 72 (identity), cells of 21 and patches of 16.
Example Ramp() {
  Example e;
  e.image = torch::zeros({72, 72, 3}, torch::kByte);
  auto a = e.image.accessor<uint8_t, 3>();
  for (int y = 0; y < 72; ++y) {
    for (int x = 0; x < 72; ++x) {
      a[y][x][0] = 3 * x;
      a[y][x][1] = 3 * y;
    }
  }
  return e;
}

TEST(TransformsTest, PatchesComeFromTheirGridCells) {
  for (const std::string kind : {"patches", "eval_patches"}) {
    TransformOptions o = Options(kind, 63, 3);
    o.normalization = "unit_range";
    o.grayscale_prob = 0;
    auto t = Make(o);
    ASSERT_EQ(t->view_size(), 16);
    for (uint64_t seed = 0; seed < 20; ++seed) {
      ASSERT_OK_AND_ASSIGN(Sample s, t->Apply(Ramp(), seed));
      for (int v = 0; v < 9; ++v) {
        const int i = v / 3, j = v % 3;
        // Left / top pixel of the patch in the 72 px image.
        const double left = (s.views[v][0][0][0].item<float>() + 1) * 127.5 / 3;
        const double top = (s.views[v][1][0][0].item<float>() + 1) * 127.5 / 3;
        // crop offset in [0, 9], jitter in [0, 5].
        EXPECT_GE(left, 21 * j - 0.01) << kind << " v" << v;
        EXPECT_LE(left, 21 * j + 14 + 0.01) << kind << " v" << v;
        EXPECT_GE(top, 21 * i - 0.01);
        EXPECT_LE(top, 21 * i + 14 + 0.01);
        if (kind == "eval_patches") {  // centre crop 4 + centred jitter 2
          EXPECT_NEAR(left, 21 * j + 6, 0.01);
          EXPECT_NEAR(top, 21 * i + 6, 0.01);
        }
      }
    }
  }
}

TEST(TransformsTest, ReducedScaleDecodeGivesNearlyTheSameViews) {
  // Emulates a 1/2 DCT-scaled decode by 2x2 averaging.
  for (const std::string kind : {"eval", "supervised", "patches"}) {
    auto t = Make(Options(kind, 48, 3));
    const Example full = Picture(256, 192, 3);
    const double scale = t->MinDecodeScale(256, 192, 3);
    EXPECT_GT(scale, 0);
    EXPECT_LE(scale, 1);
    if (scale > 0.5) continue;
    Example half;
    half.image =
        torch::avg_pool2d(full.image.permute({2, 0, 1}).to(torch::kFloat), 2)
            .round()
            .permute({1, 2, 0})
            .to(torch::kByte)
            .contiguous();
    half.label = full.label;
    half.full_height = 256;
    half.full_width = 192;
    ASSERT_OK_AND_ASSIGN(Sample a, t->Apply(full, 3));
    ASSERT_OK_AND_ASSIGN(Sample b, t->Apply(half, 3));
    EXPECT_LT((a.views - b.views).abs().mean().item<float>(), 0.05) << kind;
  }
  // eval: resize the shorter side to 48 / 0.875 ~ 54.9 of 192.
  auto eval = Make(Options("eval", 48, 3));
  EXPECT_NEAR(eval->MinDecodeScale(256, 192, 0), 48 / 0.875 / 192, 1e-9);
  TransformOptions no_scaling = Options("eval", 48, 3);
  no_scaling.dct_scaling = false;
  EXPECT_EQ(Make(no_scaling)->MinDecodeScale(256, 192, 0), 1.0);
}

TEST(TransformsTest, BadOptionsAndInputsAreNamed) {
  EXPECT_THAT(MakeTransform(Options("mixup", 32, 3)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("transform.kind")));
  EXPECT_THAT(MakeTransform(Options("eval", 2, 3)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("transform.image_size")));
  EXPECT_THAT(MakeTransform(Options("eval", 32, 2)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("transform.channels")));
  TransformOptions o = Options("supervised", 32, 3);
  o.crop_area_min = 0;
  EXPECT_THAT(MakeTransform(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("transform.crop_area_min")));
  o = Options("patches", 32, 3);
  o.patch_size = 20;
  EXPECT_THAT(MakeTransform(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("transform.patch_size")));
  o = Options("eval", 32, 3);
  o.normalization = "imagenet";
  EXPECT_THAT(MakeTransform(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("transform.normalization")));
  Example bad;
  bad.image = torch::zeros({8, 8, 3}, torch::kFloat);
  EXPECT_THAT(Make(Options("eval", 32, 3))->Apply(bad, 0),
              StatusIs(absl::StatusCode::kInvalidArgument));
  bad.image = torch::zeros({8, 8, 2}, torch::kByte);
  EXPECT_THAT(Make(Options("eval", 32, 3))->Apply(bad, 0),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace sslab::data
