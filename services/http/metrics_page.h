// The scheduler's Prometheus page: what the database holds now (runs by
// state, jobs by kind and state, workers, busy devices, training speed of
// running runs), what the scheduler counted since it started (queue waits,
// job durations, lease expiries, retries, failures) and RPC latencies.
#ifndef SSLAB_SERVICES_HTTP_METRICS_PAGE_H_
#define SSLAB_SERVICES_HTTP_METRICS_PAGE_H_

#include <map>
#include <string>

#include "common/histogram.h"
#include "scheduler/scheduler.h"

namespace sslab::services {

std::string RenderMetricsPage(
    const scheduler::Census& census, const scheduler::SchedulerStats& stats,
    const std::map<std::string, Histogram>& rpc_latency_seconds);

}  // namespace sslab::services

#endif  // SSLAB_SERVICES_HTTP_METRICS_PAGE_H_
