// The time source the scheduler reads, injected so tests control lease
// expiry without sleeping.
#ifndef SSLAB_SCHEDULER_CLOCK_H_
#define SSLAB_SCHEDULER_CLOCK_H_

#include <mutex>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace sslab::scheduler {

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // The process-wide wall clock (never destroyed).
  static Clock* Real();
};

// A clock that moves only when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  // Starts at an arbitrary fixed instant (2026-01-01 00:00 UTC).
  FakeClock() : now_(absl::FromUnixSeconds(1767225600)) {}
  explicit FakeClock(absl::Time start) : now_(start) {}

  absl::Time Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }
  void Set(absl::Time t) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ = t;
  }

 private:
  mutable std::mutex mu_;
  absl::Time now_;
};

}  // namespace sslab::scheduler

#endif  // SSLAB_SCHEDULER_CLOCK_H_
