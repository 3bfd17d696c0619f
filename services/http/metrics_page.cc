#include "services/http/metrics_page.h"

#include "absl/strings/str_cat.h"
#include "experiment/vocabulary.h"
#include "services/http/prometheus.h"

namespace sslab::services {

using experiment::JobKind;
using experiment::Name;

std::string RenderMetricsPage(
    const scheduler::Census& census, const scheduler::SchedulerStats& stats,
    const std::map<std::string, Histogram>& rpc_latency_seconds) {
  PrometheusText page;
  // Every state and kind is listed, zeros included, so that a series does
  // not vanish when its count drops to zero.
  for (experiment::RunState state :
       experiment::AllValues<experiment::RunState>()) {
    const auto it = census.runs.find(state);
    page.Gauge("sslab_runs", "Runs in the database by state.",
               {{"state", std::string(Name(state))}},
               it == census.runs.end() ? 0 : static_cast<double>(it->second));
  }
  for (JobKind kind : experiment::AllValues<JobKind>()) {
    for (experiment::JobState state :
         experiment::AllValues<experiment::JobState>()) {
      const auto it = census.jobs.find({kind, state});
      page.Gauge("sslab_jobs", "Jobs in the database by kind and state.",
                 {{"kind", std::string(Name(kind))},
                  {"state", std::string(Name(state))}},
                 it == census.jobs.end() ? 0 : static_cast<double>(it->second));
    }
  }
  page.Gauge("sslab_workers", "Registered workers.", {}, census.workers);
  page.Gauge("sslab_workers_alive",
             "Workers heard from within two lease durations.", {},
             census.workers_alive);
  page.Gauge("sslab_devices_busy", "Devices held by live leases.", {},
             census.devices_busy);
  for (const auto& [run, rate] : census.images_per_second) {
    page.Gauge("sslab_run_images_per_second",
               "Training speed of each running run (latest heartbeat).",
               {{"run_id", absl::StrCat(run)}}, rate);
  }
  const Histogram empty_jobs(Histogram::JobBounds());
  for (JobKind kind : experiment::AllValues<JobKind>()) {
    const std::string k(Name(kind));
    const auto wait = stats.queue_wait_seconds.find(kind);
    page.Histogram(
        "sslab_job_queue_wait_seconds",
        "Time a job waited in the queue before its lease.", {{"kind", k}},
        wait == stats.queue_wait_seconds.end() ? empty_jobs : wait->second);
    const auto duration = stats.job_duration_seconds.find(kind);
    page.Histogram("sslab_job_duration_seconds",
                   "Time from lease to completion or failure of an attempt.",
                   {{"kind", k}},
                   duration == stats.job_duration_seconds.end()
                       ? empty_jobs
                       : duration->second);
    const auto retries = stats.retries.find(kind);
    page.Counter("sslab_job_retries_total",
                 "Attempts requeued after a retryable failure or an expiry.",
                 {{"kind", k}},
                 retries == stats.retries.end() ? 0 : retries->second);
    const auto failures = stats.failures.find(kind);
    page.Counter("sslab_job_failures_total", "Jobs that failed for good.",
                 {{"kind", k}},
                 failures == stats.failures.end() ? 0 : failures->second);
  }
  page.Counter("sslab_lease_expiries_total",
               "Leases that ran out without a heartbeat.", {},
               static_cast<double>(stats.lease_expiries));
  for (const auto& [method, histogram] : rpc_latency_seconds) {
    page.Histogram("sslab_rpc_duration_seconds",
                   "Time the scheduler took to answer a call, by method.",
                   {{"method", method}}, histogram);
  }
  return page.Render();
}

}  // namespace sslab::services
