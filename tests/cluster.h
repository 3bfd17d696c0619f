// The real sslab processes on loopback for integration tests: one
// sslab-scheduler on 127.0.0.1 port 0 and any number of workers
// (sslab-trainer, sslab-extractor, sslab-evaluator), each started from its
// build path with its own port file, plus the `sslab` CLI pointed at the
// scheduler. Everything lives under one scratch directory.
//
// Not thread-safe. Helpers use gtest assertions: call them with
// ASSERT_NO_FATAL_FAILURE.
#ifndef SSLAB_TESTS_CLUSTER_H_
#define SSLAB_TESTS_CLUSTER_H_

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/process.h"

namespace sslab::testing {

struct ClusterBinaries {
  std::string scheduler;
  std::string cli;
  std::string trainer;    // optional
  std::string extractor;  // optional
  std::string evaluator;  // optional
};

class Cluster {
 public:
  Cluster(ClusterBinaries binaries, std::filesystem::path dir);
  ~Cluster();  // SIGKILLs whatever still runs

  // Starts sslab-scheduler with the cluster's database. `port` 0 picks a
  // free port; a restart passes the previous one so workers find it again.
  void StartScheduler(int port = 0, std::vector<std::string> extra_flags = {});
  // SIGTERM (clean, exit 0 expected) or SIGKILL.
  int StopScheduler(int signal);

  // Starts a worker ("trainer", "extractor", "evaluator") named `name` and
  // waits until it has registered with the scheduler.
  void StartWorker(const std::string& kind, const std::string& name);
  int StopWorker(const std::string& name, int signal);
  ChildProcess& worker(const std::string& name) { return *workers_.at(name); }

  // Runs the CLI against the scheduler.
  CommandResult Cli(std::vector<std::string> args) const;
  // Runs the CLI with --format=json, expects exit 0 and returns what it
  // printed, parsed (discarded when it is not JSON).
  nlohmann::json CliJson(std::vector<std::string> args) const;

  ChildProcess& scheduler() { return *scheduler_; }
  const std::string& address() const { return address_; }
  int port() const { return port_; }
  // The scheduler's HTTP port (JSON API, /metrics, dashboard).
  int http_port() const { return http_port_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path artifacts() const { return dir_ / "var/artifacts"; }

 private:
  // Reads the port a child wrote to `port_file`.
  static int ReadPort(const std::filesystem::path& port_file);

  ClusterBinaries binaries_;
  std::filesystem::path dir_;
  std::unique_ptr<ChildProcess> scheduler_;
  std::map<std::string, std::unique_ptr<ChildProcess>> workers_;
  int port_ = 0;
  int http_port_ = 0;
  std::string address_;
};

}  // namespace sslab::testing

#endif  // SSLAB_TESTS_CLUSTER_H_
