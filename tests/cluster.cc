#include "tests/cluster.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sslab::testing {

Cluster::Cluster(ClusterBinaries binaries, std::filesystem::path dir)
    : binaries_(std::move(binaries)), dir_(std::move(dir)) {
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
}

Cluster::~Cluster() {
  workers_.clear();  // ChildProcess's destructor SIGKILLs
  scheduler_.reset();
}

int Cluster::ReadPort(const std::filesystem::path& port_file) {
  std::ifstream in(port_file);
  std::string text;
  std::getline(in, text);
  int port = 0;
  EXPECT_TRUE(absl::SimpleAtoi(text, &port))
      << port_file << ": '" << text << "'";
  return port;
}

void Cluster::StartScheduler(int port, std::vector<std::string> extra_flags) {
  const auto port_file = dir_ / "scheduler.port";
  const auto http_port_file = dir_ / "scheduler.http.port";
  std::filesystem::remove(port_file);
  std::filesystem::remove(http_port_file);
  std::vector<std::string> argv = {
      binaries_.scheduler,
      absl::StrCat("--listen=127.0.0.1:", port),
      "--db=" + (dir_ / "var/sslab.db").string(),
      "--data-dir=" + artifacts().string(),
      "--port-file=" + port_file.string(),
      "--http-listen=127.0.0.1:0",
      "--http-port-file=" + http_port_file.string()};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  scheduler_ = std::make_unique<ChildProcess>();
  ASSERT_TRUE(scheduler_->Start(argv));
  ASSERT_TRUE(scheduler_->WaitForStderr([](const std::string& err) {
    return err.find(" listening on ") != std::string::npos;
  })) << scheduler_->Stderr();
  port_ = ReadPort(port_file);
  ASSERT_GT(port_, 0);
  address_ = absl::StrCat("127.0.0.1:", port_);
  http_port_ = ReadPort(http_port_file);
  ASSERT_GT(http_port_, 0);
}

int Cluster::StopScheduler(int signal) { return scheduler_->Stop(signal); }

void Cluster::StartWorker(const std::string& kind, const std::string& name) {
  const std::string& binary = kind == "trainer"     ? binaries_.trainer
                              : kind == "extractor" ? binaries_.extractor
                                                    : binaries_.evaluator;
  ASSERT_FALSE(binary.empty()) << "no binary for worker kind " << kind;
  auto child = std::make_unique<ChildProcess>();
  ASSERT_TRUE(child->Start(
      {binary, "--listen=127.0.0.1:0", "--scheduler=" + address_,
       "--artifacts=" + artifacts().string(), "--devices=cpu", "--threads=2",
       "--name=" + name, "--port-file=" + (dir_ / (name + ".port")).string()}));
  ASSERT_TRUE(child->WaitForStderr([](const std::string& err) {
    return err.find("registered with") != std::string::npos;
  })) << child->Stderr();
  workers_[name] = std::move(child);
}

int Cluster::StopWorker(const std::string& name, int signal) {
  const int code = workers_.at(name)->Stop(signal);
  return code;
}

CommandResult Cluster::Cli(std::vector<std::string> args) const {
  args.insert(args.begin(), {binaries_.cli, "--addr=" + address_});
  return RunCommand(args, dir_.string());
}

nlohmann::json Cluster::CliJson(std::vector<std::string> args) const {
  args.insert(args.begin(), "--format=json");
  const CommandResult r = Cli(std::move(args));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
}

}  // namespace sslab::testing
