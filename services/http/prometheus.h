// Prometheus' text exposition format (0.0.4), which has no client library in
// Debian: metric families with HELP and TYPE lines, samples with escaped
// label values, histograms as <name>_bucket{le=...}, _sum and _count.
// Families are written in the order they are first used, each once.
//
// Not thread-safe.
#ifndef SSLAB_SERVICES_HTTP_PROMETHEUS_H_
#define SSLAB_SERVICES_HTTP_PROMETHEUS_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/histogram.h"

namespace sslab::services {

class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  void Gauge(const std::string& name, const std::string& help,
             const Labels& labels, double value);
  // `name` ends in "_total".
  void Counter(const std::string& name, const std::string& help,
               const Labels& labels, double value);
  void Histogram(const std::string& name, const std::string& help,
                 const Labels& labels, const sslab::Histogram& histogram);

  // The whole page; ends with a newline.
  std::string Render() const;

 private:
  struct Family {
    std::string type;
    std::string help;
    std::vector<std::string> samples;
  };
  Family& FamilyOf(const std::string& name, const std::string& type,
                   const std::string& help);

  std::vector<std::string> order_;
  std::map<std::string, Family> families_;
};

// A number as Prometheus reads it: the shortest exact form, "+Inf", "-Inf",
// "NaN".
std::string PrometheusNumber(double value);

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_HTTP_PROMETHEUS_H_
