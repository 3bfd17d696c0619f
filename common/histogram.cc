#include "common/histogram.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace sslab {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  const size_t bucket =
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(counts_.size());
  uint64_t total = 0;
  for (size_t i = 0; i < counts_.size(); ++i) out[i] = total += counts_[i];
  return out;
}

std::vector<double> Histogram::LatencyBounds() {
  return {0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,   0.05,   0.1,   0.25,   1,     10};
}

std::vector<double> Histogram::JobBounds() {
  return {0.1, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600};
}

}  // namespace sslab
