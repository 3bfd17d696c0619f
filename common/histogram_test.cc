#include "common/histogram.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace sslab {
namespace {

using ::testing::ElementsAre;

TEST(HistogramTest, CountsCumulativelyByUpperBound) {
  Histogram h({1, 5, 10});
  for (double v : {0.5, 1.0, 3.0, 7.0, 7.5, 100.0, std::nan("")}) {
    h.Observe(v);
  }
  // le=1: {0.5, 1}; le=5: +3; le=10: +7, 7.5; +Inf: +100. NaN is ignored.
  EXPECT_THAT(h.CumulativeCounts(), ElementsAre(2, 3, 5, 6));
  EXPECT_EQ(h.count(), 6u);
  EXPECT_DOUBLE_EQ(h.sum(), 119.0);
}

TEST(HistogramTest, EmptyAndBoundlessHistograms) {
  Histogram empty(Histogram::LatencyBounds());
  EXPECT_EQ(empty.count(), 0u);
  EXPECT_EQ(empty.CumulativeCounts().size(),
            Histogram::LatencyBounds().size() + 1);
  Histogram inf_only;
  inf_only.Observe(-3);
  EXPECT_THAT(inf_only.CumulativeCounts(), ElementsAre(1));
}

}  // namespace
}  // namespace sslab
