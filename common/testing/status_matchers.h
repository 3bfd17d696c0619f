// GoogleTest matchers and macros for absl::Status and absl::StatusOr<T>.
// Debian's Abseil (20220623) ships none.
//
//   EXPECT_THAT(DoIt(), StatusIs(absl::StatusCode::kNotFound, HasSubstr("run")));
//   ASSERT_OK(store.Put(x));
//   ASSERT_OK_AND_ASSIGN(auto run, store.GetRun(id));
#ifndef SSLAB_COMMON_TESTING_STATUS_MATCHERS_H_
#define SSLAB_COMMON_TESTING_STATUS_MATCHERS_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sslab::testing {
namespace internal {

inline const absl::Status& GetStatus(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

template <typename StatusType>
class StatusIsMatcherImpl : public ::testing::MatcherInterface<StatusType> {
 public:
  StatusIsMatcherImpl(::testing::Matcher<absl::StatusCode> code,
                      ::testing::Matcher<const std::string&> message)
      : code_(std::move(code)), message_(std::move(message)) {}

  void DescribeTo(std::ostream* os) const override {
    *os << "has a status code that ";
    code_.DescribeTo(os);
    *os << " and a message that ";
    message_.DescribeTo(os);
  }

  bool MatchAndExplain(
      StatusType actual,
      ::testing::MatchResultListener* listener) const override {
    const absl::Status& status = GetStatus(actual);
    *listener << "whose status is " << status;
    return code_.Matches(status.code()) &&
           message_.Matches(std::string(status.message()));
  }

 private:
  ::testing::Matcher<absl::StatusCode> code_;
  ::testing::Matcher<const std::string&> message_;
};

class StatusIsMatcher {
 public:
  StatusIsMatcher(::testing::Matcher<absl::StatusCode> code,
                  ::testing::Matcher<const std::string&> message)
      : code_(std::move(code)), message_(std::move(message)) {}

  template <typename StatusType>
  operator ::testing::Matcher<StatusType>() const {  // NOLINT
    return ::testing::Matcher<StatusType>(
        new StatusIsMatcherImpl<const StatusType&>(code_, message_));
  }

 private:
  ::testing::Matcher<absl::StatusCode> code_;
  ::testing::Matcher<const std::string&> message_;
};

}  // namespace internal

// Matches an absl::Status or absl::StatusOr<T> whose code matches `code` and
// whose message matches `message`.
inline internal::StatusIsMatcher StatusIs(
    ::testing::Matcher<absl::StatusCode> code,
    ::testing::Matcher<const std::string&> message = ::testing::_) {
  return internal::StatusIsMatcher(std::move(code), std::move(message));
}

// Matches an OK absl::Status or absl::StatusOr<T>.
inline internal::StatusIsMatcher IsOk() {
  return StatusIs(absl::StatusCode::kOk);
}

}  // namespace sslab::testing

#define EXPECT_OK(expr) EXPECT_THAT((expr), ::sslab::testing::IsOk())
#define ASSERT_OK(expr) ASSERT_THAT((expr), ::sslab::testing::IsOk())

#define SSLAB_TESTING_CONCAT_INNER_(a, b) a##b
#define SSLAB_TESTING_CONCAT_(a, b) SSLAB_TESTING_CONCAT_INNER_(a, b)
// ASSERT_OK_AND_ASSIGN(lhs, rexpr): asserts rexpr (a StatusOr) is OK and
// moves its value into lhs (a declaration or an lvalue).
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(            \
      SSLAB_TESTING_CONCAT_(sslab_statusor_, __LINE__), lhs, rexpr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                               \
  ASSERT_THAT(statusor.status(), ::sslab::testing::IsOk()); \
  lhs = std::move(statusor).value()

#endif  // SSLAB_COMMON_TESTING_STATUS_MATCHERS_H_
