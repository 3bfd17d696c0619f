#include "services/http/prometheus.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace sslab::services {
namespace {

std::string Escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string LabelText(const PrometheusText::Labels& labels) {
  if (labels.empty()) return "";
  std::vector<std::string> parts;
  for (const auto& [k, v] : labels) {
    parts.push_back(absl::StrCat(k, "=\"", Escape(v), "\""));
  }
  return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
}

}  // namespace

std::string PrometheusNumber(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

PrometheusText::Family& PrometheusText::FamilyOf(const std::string& name,
                                                 const std::string& type,
                                                 const std::string& help) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    order_.push_back(name);
    it->second.type = type;
    it->second.help = help;
  }
  return it->second;
}

void PrometheusText::Gauge(const std::string& name, const std::string& help,
                           const Labels& labels, double value) {
  FamilyOf(name, "gauge", help)
      .samples.push_back(
          absl::StrCat(name, LabelText(labels), " ", PrometheusNumber(value)));
}

void PrometheusText::Counter(const std::string& name, const std::string& help,
                             const Labels& labels, double value) {
  FamilyOf(name, "counter", help)
      .samples.push_back(
          absl::StrCat(name, LabelText(labels), " ", PrometheusNumber(value)));
}

void PrometheusText::Histogram(const std::string& name, const std::string& help,
                               const Labels& labels,
                               const sslab::Histogram& histogram) {
  Family& family = FamilyOf(name, "histogram", help);
  const std::vector<uint64_t> counts = histogram.CumulativeCounts();
  for (size_t i = 0; i < counts.size(); ++i) {
    Labels with_le = labels;
    with_le.emplace_back("le", i < histogram.bounds().size()
                                   ? PrometheusNumber(histogram.bounds()[i])
                                   : "+Inf");
    family.samples.push_back(
        absl::StrCat(name, "_bucket", LabelText(with_le), " ", counts[i]));
  }
  family.samples.push_back(absl::StrCat(name, "_sum", LabelText(labels), " ",
                                        PrometheusNumber(histogram.sum())));
  family.samples.push_back(
      absl::StrCat(name, "_count", LabelText(labels), " ", histogram.count()));
}

std::string PrometheusText::Render() const {
  std::string out;
  for (const std::string& name : order_) {
    const Family& f = families_.at(name);
    absl::StrAppend(&out, "# HELP ", name, " ", f.help, "\n", "# TYPE ", name,
                    " ", f.type, "\n");
    for (const std::string& sample : f.samples)
      absl::StrAppend(&out, sample, "\n");
  }
  return out;
}

}  // namespace sslab::services
