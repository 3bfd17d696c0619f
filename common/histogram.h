// A histogram over fixed upper bounds, as Prometheus exposes them: a count
// per bucket (value <= bound, plus an implicit +Inf bucket), the sum and the
// count of every observation. For latency and duration monitoring.
//
// Not thread-safe: callers that share one guard it.
#ifndef SSLAB_COMMON_HISTOGRAM_H_
#define SSLAB_COMMON_HISTOGRAM_H_

#include <cstdint>
#include <vector>

namespace sslab {

class Histogram {
 public:
  // `upper_bounds` ascending and finite; an empty list keeps only +Inf.
  explicit Histogram(std::vector<double> upper_bounds = {});

  // Records `value`; NaN is ignored.
  void Observe(double value);

  const std::vector<double>& bounds() const { return bounds_; }
  // One entry per bound plus +Inf: observations <= that bound.
  std::vector<uint64_t> CumulativeCounts() const;
  double sum() const { return sum_; }
  uint64_t count() const { return count_; }

  // Seconds, for calls that take about a millisecond (0.25 ms .. 10 s).
  static std::vector<double> LatencyBounds();
  // Seconds, for jobs and queue waits (0.1 s .. 1 day).
  static std::vector<double> JobBounds();

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket; the last one is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

}  // namespace sslab

#endif  // SSLAB_COMMON_HISTOGRAM_H_
