// Load on a running sslab-scheduler over gRPC, from many concurrent clients:
// the C++ side of load_bench.py, which fills the database and starts the
// scheduler. One phase per call; prints one JSON line.
//
//   scheduler_load_bench --addr=127.0.0.1:PORT --phase=submit --clients=8
//       --count=2000
//     SubmitRun from `clients` threads, each on its own connection: runs/s
//     and latency percentiles.
//   scheduler_load_bench --addr=... --phase=read --clients=8 --seconds=10
//       --max_run_id=N
//       [--rate=300]
//     GetRun (a random run), ListRuns (a page of 100) and QueryResults (a
//     random run's results, a page of 100), interleaved: percentiles of each.
//     Back to back, or at a fixed offered load of `rate` calls/s (open loop).
//   scheduler_load_bench --addr=... --phase=lease --workers=4 --seconds=10
//       [--watchers=100 --watch_from=A --max_run_id=B]
//     Worker cycles (LeaseJob, 3 Heartbeats, RegisterCheckpoint, CompleteJob)
//     on queued TRAIN jobs, while `watchers` WatchRun streams stay open on
//     runs A..B (spread): cycle and per-RPC percentiles, and the updates the
//     streams received.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/flags.h"
#include "sslab/v1/experiment_service.grpc.pb.h"
#include "sslab/v1/worker_service.grpc.pb.h"

namespace {

using sslab::bench::Flag;
using Clock = std::chrono::steady_clock;
namespace v1 = sslab::v1;

// A channel of its own (its own TCP connection) per client, as separate
// processes would have.
std::shared_ptr<grpc::Channel> Connect(const std::string& addr, int index) {
  grpc::ChannelArguments args;
  args.SetInt("sslab.load_bench.client", index);  // defeats channel sharing
  auto channel =
      grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args);
  // Connected before timing starts: the handshake is not a call's latency.
  channel->WaitForConnected(std::chrono::system_clock::now() +
                            std::chrono::seconds(10));
  return channel;
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(30));
  return ctx;
}

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// Latencies (ms) per name, merged from every thread.
class Latencies {
 public:
  void Add(const std::string& name, double ms) {
    std::lock_guard<std::mutex> lock(mu_);
    samples_[name].push_back(ms);
  }
  void Merge(const std::map<std::string, std::vector<double>>& local) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, v] : local) {
      auto& all = samples_[name];
      all.insert(all.end(), v.begin(), v.end());
    }
  }
  // "name": {"n": .., "p50_ms": .., "p99_ms": .., "max_ms": ..}, ...
  std::string Json() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    for (auto& [name, v] : samples_) {
      std::sort(v.begin(), v.end());
      auto at = [&](double q) {
        return v.empty() ? 0.0
                         : v[std::min(v.size() - 1, size_t(q * v.size()))];
      };
      char buf[256];
      std::snprintf(
          buf, sizeof buf,
          "%s\"%s\": {\"n\": %zu, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
          "\"max_ms\": %.3f}",
          out.empty() ? "" : ", ", name.c_str(), v.size(), at(0.5), at(0.99),
          v.empty() ? 0.0 : v.back());
      out += buf;
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::vector<double>> samples_;
};

v1::RunConfig TinyConfig() {
  v1::RunConfig c;
  c.set_method(v1::METHOD_ROTATION);
  c.set_architecture(v1::ARCHITECTURE_RESNET50_V2);
  c.set_width(1);
  c.set_epochs(1);
  c.mutable_dataset()->set_kind(v1::DATASET_KIND_IDX);
  c.mutable_dataset()->set_path("/usr/share/datasets/fashion-mnist");
  c.mutable_evaluation()->add_layers("pre_logits");
  return c;
}

int Fail(const char* what, const grpc::Status& s) {
  std::fprintf(stderr, "%s: %s\n", what, s.error_message().c_str());
  return 1;
}

// One client thread's latencies, merged into `all` when it ends; prints the
// first failed call of the whole phase.
class ThreadLatencies {
 public:
  ThreadLatencies(Latencies& all, std::atomic<int>& errors)
      : all_(all), errors_(errors) {}
  ~ThreadLatencies() { all_.Merge(local_); }

  // Runs `call` (returning a grpc::Status) and records its latency, from
  // `due` when given (an open-loop client's send time: a call that starts
  // late because the one before was slow counts its wait).
  template <typename Call>
  bool Time(const char* name, Call&& call,
            std::optional<Clock::time_point> due = std::nullopt) {
    const auto t0 = due.value_or(Clock::now());
    const grpc::Status s = call();
    Add(name, Ms(Clock::now() - t0));
    if (!s.ok() && errors_++ == 0) Fail(name, s);
    return s.ok();
  }
  void Add(const char* name, double ms) { local_[name].push_back(ms); }

 private:
  Latencies& all_;
  std::atomic<int>& errors_;
  std::map<std::string, std::vector<double>> local_;
};

int Submit(const std::string& addr, int clients, int count) {
  Latencies lat;
  std::atomic<int> next{0}, errors{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto stub = v1::ExperimentService::NewStub(Connect(addr, c));
      ThreadLatencies timed(lat, errors);
      v1::SubmitRunRequest req;
      *req.mutable_config() = TinyConfig();
      for (int i = next++; i < count; i = next++) {
        req.set_name("load-" + std::to_string(i));
        v1::SubmitRunResponse resp;
        timed.Time("SubmitRun",
                   [&] { return stub->SubmitRun(Ctx().get(), req, &resp); });
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "{\"phase\": \"submit\", \"clients\": %d, \"runs\": %d, \"errors\": %d, "
      "\"seconds\": %.3f, \"per_second\": %.1f, %s}\n",
      clients, count, errors.load(), seconds, count / seconds,
      lat.Json().c_str());
  return errors ? 1 : 0;
}

// `rate` > 0: open loop, `rate` calls/s over all clients, each call sent at
// its due time whether or not the one before has returned in time; 0: each
// client calls back to back (closed loop, the server's saturation point).
int Read(const std::string& addr, int clients, double seconds,
         int64_t max_run_id, double rate) {
  Latencies lat;
  std::atomic<int> errors{0};
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(seconds));
  const auto period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(rate > 0 ? clients / rate : 0));
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto stub = v1::ExperimentService::NewStub(Connect(addr, c));
      std::mt19937_64 rng(c);
      std::uniform_int_distribution<int64_t> run(1, max_run_id);
      ThreadLatencies timed(lat, errors);
      auto due = start + period * c / clients;  // clients spread in a period
      for (int k = 0; Clock::now() < end; ++k, due += period) {
        std::optional<Clock::time_point> sent;
        if (rate > 0) {
          std::this_thread::sleep_until(due);
          sent = due;
        }
        switch (k % 3) {
          case 0:
            timed.Time(
                "GetRun",
                [&] {
                  v1::GetRunRequest req;
                  req.set_run_id(run(rng));
                  v1::GetRunResponse resp;
                  return stub->GetRun(Ctx().get(), req, &resp);
                },
                sent);
            break;
          case 1:
            timed.Time(
                "ListRuns",
                [&] {
                  v1::ListRunsRequest req;
                  req.set_page_size(100);
                  v1::ListRunsResponse resp;
                  return stub->ListRuns(Ctx().get(), req, &resp);
                },
                sent);
            break;
          default:
            timed.Time(
                "QueryResults",
                [&] {
                  v1::QueryResultsRequest req;
                  req.set_run_id(run(rng));
                  req.set_page_size(100);
                  v1::QueryResultsResponse resp;
                  return stub->QueryResults(Ctx().get(), req, &resp);
                },
                sent);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::printf(
      "{\"phase\": \"read\", \"clients\": %d, \"rate\": %.1f, "
      "\"max_run_id\": %lld, \"errors\": %d, %s}\n",
      clients, rate, static_cast<long long>(max_run_id), errors.load(),
      lat.Json().c_str());
  return errors ? 1 : 0;
}

int Lease(const std::string& addr, int workers, double seconds, int watchers,
          int64_t watch_from, int64_t max_run_id) {
  Latencies lat;
  std::atomic<int> errors{0}, cycles{0};
  std::atomic<int64_t> updates{0};
  std::atomic<bool> stop{false};

  // The watchers: one stream each, on random runs, on a few connections.
  std::vector<std::unique_ptr<grpc::ClientContext>> watch_contexts(watchers);
  std::vector<std::thread> watch_threads;
  std::vector<std::shared_ptr<grpc::Channel>> watch_channels;
  for (int c = 0; c < 4; ++c) watch_channels.push_back(Connect(addr, 1000 + c));
  for (int w = 0; w < watchers; ++w) {
    watch_contexts[w] = std::make_unique<grpc::ClientContext>();
    watch_threads.emplace_back([&, w] {
      auto stub = v1::ExperimentService::NewStub(watch_channels[w % 4]);
      v1::WatchRunRequest req;
      const int64_t span = std::max<int64_t>(1, max_run_id - watch_from + 1);
      req.set_run_id(watch_from + (w * int64_t{7919}) % span);
      auto reader = stub->WatchRun(watch_contexts[w].get(), req);
      v1::WatchRunResponse resp;
      while (reader->Read(&resp)) ++updates;
      reader->Finish();
    });
  }

  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      auto stub = v1::WorkerService::NewStub(Connect(addr, w));
      ThreadLatencies timed(lat, errors);
      v1::Device device;
      device.set_kind(v1::DEVICE_KIND_CPU);
      device.set_key("load-bench-host-" + std::to_string(w) + "/cpu");
      device.set_name("bench cpu");
      v1::RegisterWorkerRequest reg;
      reg.set_name("load-bench-" + std::to_string(w));
      *reg.add_devices() = device;
      reg.add_job_kinds(v1::JOB_KIND_TRAIN);
      v1::RegisterWorkerResponse registered;
      if (!timed.Time("RegisterWorker", [&] {
            return stub->RegisterWorker(Ctx().get(), reg, &registered);
          })) {
        return;
      }
      while (Clock::now() < end) {
        const auto cycle_start = Clock::now();
        v1::LeaseJobRequest lease;
        lease.set_worker_id(registered.worker_id());
        *lease.add_free_devices() = device;
        v1::LeaseJobResponse leased;
        if (!timed.Time("LeaseJob", [&] {
              return stub->LeaseJob(Ctx().get(), lease, &leased);
            })) {
          break;
        }
        if (!leased.has_assignment()) break;  // the queue is empty
        const v1::Job& job = leased.assignment().job();
        const std::string& token = leased.assignment().lease_token();
        for (int h = 1; h <= 3; ++h) {
          v1::HeartbeatRequest hb;
          hb.set_worker_id(registered.worker_id());
          hb.set_job_id(job.job_id());
          hb.set_lease_token(token);
          hb.set_progress(h / 4.0);
          hb.set_step(h);
          (*hb.mutable_metrics())["loss"] = 1.0 / h;
          v1::HeartbeatResponse resp;
          timed.Time("Heartbeat",
                     [&] { return stub->Heartbeat(Ctx().get(), hb, &resp); });
        }
        v1::RegisterCheckpointRequest ck;
        ck.set_worker_id(registered.worker_id());
        ck.set_job_id(job.job_id());
        ck.set_lease_token(token);
        ck.set_epoch(1);
        ck.set_step(3);
        ck.set_path("runs/" + std::to_string(job.run_id()) + "/final.pt");
        ck.set_bytes(1);
        ck.set_is_final(true);
        v1::RegisterCheckpointResponse ck_resp;
        timed.Time("RegisterCheckpoint", [&] {
          return stub->RegisterCheckpoint(Ctx().get(), ck, &ck_resp);
        });
        v1::CompleteJobRequest done;
        done.set_worker_id(registered.worker_id());
        done.set_job_id(job.job_id());
        done.set_lease_token(token);
        v1::CompleteJobResponse done_resp;
        timed.Time("CompleteJob", [&] {
          return stub->CompleteJob(Ctx().get(), done, &done_resp);
        });
        timed.Add("cycle", Ms(Clock::now() - cycle_start));
        ++cycles;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& ctx : watch_contexts) ctx->TryCancel();
  for (auto& t : watch_threads) t.join();
  std::printf(
      "{\"phase\": \"lease\", \"workers\": %d, \"watchers\": %d, "
      "\"cycles\": %d, \"cycles_per_second\": %.1f, \"watch_updates\": %lld, "
      "\"errors\": %d, %s}\n",
      workers, watchers, cycles.load(), cycles.load() / seconds,
      static_cast<long long>(updates.load()), errors.load(),
      lat.Json().c_str());
  return errors ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string addr = Flag(argc, argv, "addr", "127.0.0.1:50051");
  const std::string phase = Flag(argc, argv, "phase", "submit");
  const int clients = std::stoi(Flag(argc, argv, "clients", "8"));
  const double seconds = std::stod(Flag(argc, argv, "seconds", "10"));
  const int64_t max_run_id = std::stoll(Flag(argc, argv, "max_run_id", "1"));
  if (phase == "submit") {
    return Submit(addr, clients, std::stoi(Flag(argc, argv, "count", "1000")));
  }
  if (phase == "read") {
    return Read(addr, clients, seconds, max_run_id,
                std::stod(Flag(argc, argv, "rate", "0")));
  }
  if (phase == "lease") {
    return Lease(addr, std::stoi(Flag(argc, argv, "workers", "4")), seconds,
                 std::stoi(Flag(argc, argv, "watchers", "0")),
                 std::stoll(Flag(argc, argv, "watch_from", "1")), max_run_id);
  }
  std::fprintf(stderr, "unknown --phase %s (submit|read|lease)\n",
               phase.c_str());
  return 2;
}
