#include "common/shutdown_signals.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

namespace sslab {
namespace {

// One test: the handlers are process-wide and installed once.
TEST(ShutdownSignalsTest, TermFromAnyThreadEndsTheWaitAndWakeToo) {
  absl::StatusOr<ShutdownSignals*> signals = ShutdownSignals::Install();
  ASSERT_TRUE(signals.ok()) << signals.status();
  EXPECT_FALSE(ShutdownSignals::Install().ok());
  // Another thread with the signals unblocked (like OpenBLAS's) takes the
  // signal: the process survives it and the waiter hears of it.
  std::thread other([] { ::raise(SIGTERM); });
  other.join();
  EXPECT_EQ((*signals)->Wait(), SIGTERM);
  std::thread waker([&] { (*signals)->Wake(); });
  EXPECT_EQ((*signals)->Wait(), 0);
  waker.join();
  ::kill(::getpid(), SIGINT);
  EXPECT_EQ((*signals)->Wait(), SIGINT);
}

}  // namespace
}  // namespace sslab
