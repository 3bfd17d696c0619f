// Child processes for integration tests: run a command to completion with
// its output captured, or keep a server running and read its stderr.
#ifndef SSLAB_TESTS_PROCESS_H_
#define SSLAB_TESTS_PROCESS_H_

#include <sys/types.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sslab::testing {

struct CommandResult {
  // The exit status, or 128 + signal when killed by a signal.
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] is a path) with stdin from /dev/null and waits for
// it. Output goes through files in `scratch_dir`, so any size works.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::string& scratch_dir);

// A long-running child whose stderr is read by a thread into a buffer.
// Not thread-safe except WaitForStderr and Stderr.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();  // SIGKILLs the child if it still runs
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts `argv`; returns false if it cannot be started.
  bool Start(const std::vector<std::string>& argv);

  // Blocks until the stderr read so far satisfies `done` (true) or the child
  // closed its stderr (false). No timeout: the test's timeout applies.
  bool WaitForStderr(const std::function<bool(const std::string&)>& done);
  std::string Stderr();

  // Sends `signal` and waits; returns the exit code (128 + signal if killed).
  int Stop(int signal);
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string stderr_;
  bool closed_ = false;
};

}  // namespace sslab::testing

#endif  // SSLAB_TESTS_PROCESS_H_
