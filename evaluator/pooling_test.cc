#include "evaluator/pooling.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "models/model.h"

namespace sslab::evaluator {
namespace {

using ::sslab::testing::StatusIs;

TEST(PoolingKernelTest, IsTheCeilingOfTheSquareRootRatio) {
  EXPECT_EQ(PoolingKernel(2048, 1, 1, 9000), 1);  // under the cap
  EXPECT_EQ(PoolingKernel(10, 30, 30, 9000), 1);  // exactly the cap
  EXPECT_EQ(PoolingKernel(10, 30, 31, 9000), 2);  // just over
  EXPECT_EQ(PoolingKernel(1, 90, 100, 1), 95);    // sqrt(9000) = 94.87
  EXPECT_EQ(PoolingKernel(4, 3, 3, 1), 6);        // sqrt(36) exactly
  EXPECT_EQ(PoolingKernel(4, 3, 3, 2), 5);        // sqrt(18) = 4.24
}

TEST(PooledDimsTest, MatchesTheStudyForResNet50AtWidth4And224Pixels) {
  // Hand-computed: kernel = ceil(sqrt(c h w / 9000)), output ceil(h / k).
  EXPECT_EQ(*PooledDims({64, 56, 56}, 9000), 64 * 12 * 12);    // k = 5
  EXPECT_EQ(*PooledDims({256, 56, 56}, 9000), 256 * 6 * 6);    // k = 10
  EXPECT_EQ(*PooledDims({512, 28, 28}, 9000), 512 * 4 * 4);    // k = 7
  EXPECT_EQ(*PooledDims({1024, 14, 14}, 9000), 1024 * 3 * 3);  // k = 5
  EXPECT_EQ(*PooledDims({2048, 7, 7}, 9000), 2048 * 2 * 2);    // k = 4
  EXPECT_EQ(*PooledDims({2048}, 9000), 2048);                  // pre_logits
  EXPECT_EQ(*PooledDims({8, 4, 4}, 9000), 128);                // small: as is
  EXPECT_THAT(PooledDims({2, 2}, 9000),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PooledDims({2, 2, 2}, 0),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PoolAndFlattenTest, AveragesAndMaxesWholeAndPartialWindows) {
  // One channel 3x3 with cap 1: k = 3, a single window.
  at::Tensor x = at::arange(9, at::kFloat).view({1, 1, 3, 3});
  EXPECT_EQ(PoolAndFlatten(x, 1, PoolingMode::kAverage).item<float>(), 4.0f);
  EXPECT_EQ(PoolAndFlatten(x, 1, PoolingMode::kMax).item<float>(), 8.0f);
  // 1x3x3 with cap 2: k = 3 again (sqrt(4.5) -> 3). With cap 3: k = 2 and
  // ceil(3/2) = 2 windows per side; the edge windows are partial and average
  // only their in-bounds values.
  at::Tensor avg = PoolAndFlatten(x, 3, PoolingMode::kAverage);
  EXPECT_TRUE(
      at::allclose(avg, at::tensor({2.f, 3.5f, 6.5f, 8.f}).view({1, 4})));
  at::Tensor mx = PoolAndFlatten(x, 3, PoolingMode::kMax);
  EXPECT_TRUE(at::equal(mx, at::tensor({4.f, 5.f, 7.f, 8.f}).view({1, 4})));
  // Vectors pass through; channel-major flattening.
  at::Tensor v = at::randn({2, 5});
  EXPECT_TRUE(at::equal(PoolAndFlatten(v, 1, PoolingMode::kMax), v));
  at::Tensor c = at::arange(8, at::kFloat).view({1, 2, 2, 2});
  EXPECT_TRUE(
      at::equal(PoolAndFlatten(c, 100, PoolingMode::kMax), c.view({1, 8})));
  // A 1x1 map larger than the cap cannot shrink but must not fail.
  EXPECT_EQ(PoolAndFlatten(at::ones({1, 20, 1, 1}), 10, PoolingMode::kAverage)
                .size(1),
            20);
}

struct ArchCase {
  const char* name;
  models::ModelOptions options;
  int size;
};

TEST(PoolingTest, EveryEndpointOfEveryArchitectureFitsTheCap) {
  at::set_num_threads(2);
  std::vector<ArchCase> cases;
  for (auto arch :
       {models::Architecture::kResNet50V1, models::Architecture::kResNet50V2,
        models::Architecture::kRevNet50, models::Architecture::kVgg19Bn}) {
    models::ModelOptions o;
    o.architecture = arch;
    o.width = 1;
    o.num_outputs = 10;
    cases.push_back({"224", o, 224});
    o.patch_strides = true;
    cases.push_back({"patch64", o, 64});
    o.patch_strides = false;
    o.small_input = true;
    cases.push_back({"small32", o, 32});
  }
  for (const ArchCase& c : cases) {
    SCOPED_TRACE(std::string(experiment::Name(c.options.architecture)) + " " +
                 c.name);
    ASSERT_OK_AND_ASSIGN(auto model, models::CreateModel(c.options));
    ASSERT_OK_AND_ASSIGN(auto shapes,
                         models::EndpointShapes(*model, 3, c.size, c.size));
    for (const std::string& name : model->EndpointNames()) {
      SCOPED_TRACE(name);
      ASSERT_TRUE(shapes.count(name));
      const std::vector<int64_t>& s = shapes.at(name);
      for (int64_t cap : {9000, 500}) {
        ASSERT_OK_AND_ASSIGN(int64_t dims, PooledDims(s, cap));
        int64_t values = 1;
        for (int64_t v : s) values *= v;
        if (values <= cap || s.size() == 1) {
          EXPECT_EQ(dims, values);
        } else {
          // Ceil-mode windows may add at most one row and column of windows.
          const int64_t k = PoolingKernel(s[0], s[1], s[2], cap);
          EXPECT_LE(dims, s[0] * (s[1] / k + 1) * (s[2] / k + 1));
          EXPECT_LE(dims, values);
        }
        std::vector<int64_t> batch_shape = {2};
        batch_shape.insert(batch_shape.end(), s.begin(), s.end());
        at::Tensor pooled =
            PoolAndFlatten(at::randn(batch_shape), cap, PoolingMode::kMax);
        EXPECT_EQ(pooled.size(0), 2);
        EXPECT_EQ(pooled.size(1), dims);
      }
    }
  }
}

}  // namespace
}  // namespace sslab::evaluator
