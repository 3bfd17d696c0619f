#include "trainer/permutations.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "common/testing/status_matchers.h"

namespace sslab::trainer {
namespace {

using ::sslab::testing::StatusIs;

TEST(PermutationsTest, HundredDistinctNonIdentityFarApart) {
  ASSERT_OK_AND_ASSIGN(at::Tensor p, GenerateJigsawPermutations(100, 7));
  ASSERT_EQ(p.sizes(), (at::IntArrayRef{100, 9}));
  std::set<std::vector<int64_t>> rows;
  const std::vector<int64_t> identity = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  for (int64_t r = 0; r < 100; ++r) {
    at::Tensor row = p[r].contiguous();
    std::vector<int64_t> v(row.data_ptr<int64_t>(),
                           row.data_ptr<int64_t>() + 9);
    // A permutation of 0..8.
    std::vector<int64_t> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, identity);
    EXPECT_NE(v, identity);
    rows.insert(v);
  }
  EXPECT_EQ(rows.size(), 100u);
  // Two random permutations of 9 differ in 9 * (1 - 1/9) = 8 places on
  // average; the greedy maximal set does better (about 8.1, as the paper's).
  const double mean = MeanPairwiseHamming(p);
  EXPECT_GT(mean, 8.0);
  EXPECT_LE(mean, 9.0);
}

TEST(PermutationsTest, DeterministicInSeed) {
  ASSERT_OK_AND_ASSIGN(at::Tensor a, GenerateJigsawPermutations(10, 1));
  ASSERT_OK_AND_ASSIGN(at::Tensor b, GenerateJigsawPermutations(10, 1));
  ASSERT_OK_AND_ASSIGN(at::Tensor c, GenerateJigsawPermutations(10, 2));
  EXPECT_TRUE(a.equal(b));
  EXPECT_FALSE(a.equal(c));
}

TEST(PermutationsTest, RejectsBadCounts) {
  EXPECT_THAT(GenerateJigsawPermutations(0, 0),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(GenerateJigsawPermutations(362880, 0),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace sslab::trainer
