#include "services/scheduler/rpc_stats.h"

namespace sslab::services {

void RpcStats::Record(absl::string_view method, absl::Duration latency) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = latency_.find(method);
  if (it == latency_.end()) {
    it =
        latency_
            .emplace(std::string(method), Histogram(Histogram::LatencyBounds()))
            .first;
  }
  it->second.Observe(absl::ToDoubleSeconds(latency));
}

std::map<std::string, Histogram> RpcStats::Latencies() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {latency_.begin(), latency_.end()};
}

}  // namespace sslab::services
