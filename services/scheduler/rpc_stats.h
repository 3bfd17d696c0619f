// How long the scheduler's RPCs take, by method, for /metrics.
//
// Thread-safe.
#ifndef SSLAB_SERVICES_SCHEDULER_RPC_STATS_H_
#define SSLAB_SERVICES_SCHEDULER_RPC_STATS_H_

#include <map>
#include <mutex>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/histogram.h"

namespace sslab::services {

class RpcStats {
 public:
  void Record(absl::string_view method, absl::Duration latency);
  // Seconds per call, by method name.
  std::map<std::string, Histogram> Latencies() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, Histogram, std::less<>> latency_;
};

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_SCHEDULER_RPC_STATS_H_
