// SIGINT / SIGTERM as an event a server's main thread waits for.
//
// A handler (not sigwait on blocked signals) because libraries start
// threads before main() can block anything: OpenBLAS's, created when
// LibTorch loads, would take a SIGTERM with the default action and kill
// the process mid-job. The handler runs on whichever thread gets the
// signal and only writes to a pipe (async-signal-safe); Wait() reads it.
// Installing a handler also makes a container's PID 1 receive SIGTERM,
// which the kernel drops for a namespace's init without one.
//
// One instance per process. Thread-safe: Wait on one thread, Wake from any.
#ifndef SSLAB_COMMON_SHUTDOWN_SIGNALS_H_
#define SSLAB_COMMON_SHUTDOWN_SIGNALS_H_

#include "absl/status/statusor.h"

namespace sslab {

class ShutdownSignals {
 public:
  // Installs the handlers; FAILED_PRECONDITION if an instance exists.
  static absl::StatusOr<ShutdownSignals*> Install();

  // Blocks until SIGINT or SIGTERM arrives (returns its number) or Wake()
  // is called (returns 0).
  int Wait();
  // Ends a Wait() (e.g. when the server stopped on its own).
  void Wake();

 private:
  ShutdownSignals() = default;
};

}  // namespace sslab

#endif  // SSLAB_COMMON_SHUTDOWN_SIGNALS_H_
