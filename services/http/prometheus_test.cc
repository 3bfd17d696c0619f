// The Prometheus text format as this code writes it, checked by our own
// reading and by Prometheus' promtool (Debian's prometheus package).
#include "services/http/prometheus.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "services/http/metrics_page.h"

namespace sslab::services {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Runs `promtool check metrics` on `page`; returns its exit status and
// stderr.
std::pair<int, std::string> Promtool(const std::string& page) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) /
      ("promtool_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "page.prom") << page;
  const std::string command = "promtool check metrics < " +
                              (dir / "page.prom").string() + " 2> " +
                              (dir / "err.txt").string();
  const int rc = std::system(command.c_str());
  std::stringstream err;
  err << std::ifstream(dir / "err.txt").rdbuf();
  std::filesystem::remove_all(dir);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, err.str()};
}

TEST(PrometheusTest, WritesFamiliesOnceWithEscapedLabels) {
  PrometheusText page;
  page.Gauge("sslab_runs", "Runs.", {{"state", "running"}}, 3);
  page.Counter("sslab_x_total", "X.", {}, 1);
  page.Gauge("sslab_runs", "Runs.", {{"state", "a\"b\\c\nd"}}, 0.5);
  Histogram h({0.1, 1});
  h.Observe(0.05);
  h.Observe(2);
  page.Histogram("sslab_wait_seconds", "Waits.", {{"kind", "train"}}, h);
  EXPECT_EQ(page.Render(),
            "# HELP sslab_runs Runs.\n"
            "# TYPE sslab_runs gauge\n"
            "sslab_runs{state=\"running\"} 3\n"
            "sslab_runs{state=\"a\\\"b\\\\c\\nd\"} 0.5\n"
            "# HELP sslab_x_total X.\n"
            "# TYPE sslab_x_total counter\n"
            "sslab_x_total 1\n"
            "# HELP sslab_wait_seconds Waits.\n"
            "# TYPE sslab_wait_seconds histogram\n"
            "sslab_wait_seconds_bucket{kind=\"train\",le=\"0.1\"} 1\n"
            "sslab_wait_seconds_bucket{kind=\"train\",le=\"1\"} 1\n"
            "sslab_wait_seconds_bucket{kind=\"train\",le=\"+Inf\"} 2\n"
            "sslab_wait_seconds_sum{kind=\"train\"} 2.05\n"
            "sslab_wait_seconds_count{kind=\"train\"} 2\n");
  EXPECT_EQ(PrometheusNumber(0.1), "0.1");
  EXPECT_EQ(PrometheusNumber(1e-7), "1e-07");
  EXPECT_EQ(PrometheusNumber(INFINITY), "+Inf");
  EXPECT_EQ(PrometheusNumber(NAN), "NaN");
}

TEST(PrometheusTest, TheSchedulersPagePassesPromtool) {
  scheduler::Census census;
  census.runs[experiment::RunState::kRunning] = 2;
  census.jobs[{experiment::JobKind::kProbe, experiment::JobState::kRunnable}] =
      12;
  census.workers = 3;
  census.workers_alive = 2;
  census.devices_busy = 1;
  census.images_per_second[7] = 123.5;
  scheduler::SchedulerStats stats;
  stats.RecordQueueWait(experiment::JobKind::kTrain, absl::Seconds(3));
  stats.RecordDuration(experiment::JobKind::kProbe, absl::Milliseconds(1500));
  stats.retries[experiment::JobKind::kTrain] = 2;
  stats.lease_expiries = 1;
  Histogram rpc(Histogram::LatencyBounds());
  rpc.Observe(0.002);
  const std::string page =
      RenderMetricsPage(census, stats, {{"GetRun", rpc}, {"LeaseJob", rpc}});
  EXPECT_THAT(page, HasSubstr("sslab_runs{state=\"running\"} 2\n"));
  EXPECT_THAT(page, HasSubstr("sslab_runs{state=\"failed\"} 0\n"));
  EXPECT_THAT(page,
              HasSubstr("sslab_jobs{kind=\"probe\",state=\"runnable\"} 12\n"));
  EXPECT_THAT(page, HasSubstr("sslab_run_images_per_second{run_id=\"7\"} "
                              "123.5\n"));
  EXPECT_THAT(
      page, HasSubstr("sslab_job_queue_wait_seconds_count{kind=\"train\"} 1"));
  EXPECT_THAT(page, HasSubstr("sslab_job_retries_total{kind=\"train\"} 2\n"));
  EXPECT_THAT(page, HasSubstr("sslab_rpc_duration_seconds_bucket{method="
                              "\"GetRun\",le=\"0.0025\"} 1\n"));
  const auto [rc, err] = Promtool(page);
  EXPECT_EQ(rc, 0) << err << "\n" << page;
  EXPECT_THAT(err, Not(HasSubstr("error")));

  // The check can fail: promtool rejects a counter named like a gauge.
  PrometheusText bad;
  bad.Counter("sslab_things", "Things.", {}, 1);
  EXPECT_NE(Promtool(bad.Render()).first, 0);
}

}  // namespace
}  // namespace sslab::services
