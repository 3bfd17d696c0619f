#include "common/shutdown_signals.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sslab {
namespace {

int pipe_fds[2] = {-1, -1};
std::atomic<ShutdownSignals*> installed{nullptr};

void OnSignal(int signal_number) {
  const int saved_errno = errno;
  const char byte = static_cast<char>(signal_number);
  // A full pipe already holds a wake-up; nothing more to say.
  [[maybe_unused]] const ssize_t n = ::write(pipe_fds[1], &byte, 1);
  errno = saved_errno;
}

}  // namespace

absl::StatusOr<ShutdownSignals*> ShutdownSignals::Install() {
  if (installed.load() != nullptr) {
    return absl::FailedPreconditionError("shutdown signals already installed");
  }
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  ::fcntl(pipe_fds[1], F_SETFL, O_NONBLOCK);
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int signal_number : {SIGINT, SIGTERM}) {
    if (::sigaction(signal_number, &action, nullptr) != 0) {
      return absl::InternalError(
          absl::StrCat("sigaction: ", std::strerror(errno)));
    }
  }
  auto* signals = new ShutdownSignals();  // lives as long as the handlers
  installed.store(signals);
  return signals;
}

int ShutdownSignals::Wait() {
  char byte = 0;
  while (true) {
    const ssize_t n = ::read(pipe_fds[0], &byte, 1);
    if (n == 1) return static_cast<unsigned char>(byte);
    if (n < 0 && errno == EINTR) continue;
    return 0;  // the pipe is gone: nothing more will come
  }
}

void ShutdownSignals::Wake() { OnSignal(0); }

}  // namespace sslab
