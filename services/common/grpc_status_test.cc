#include "services/common/grpc_status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace sslab::services {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(GrpcStatusTest, OkMapsToOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(GrpcStatusTest, ClientErrorsKeepCodeAndMessage) {
  const grpc::Status s =
      ToGrpcStatus(absl::InvalidArgumentError("config.width: must be >= 1"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "config.width: must be >= 1");
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("run 7")).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcStatus(absl::FailedPreconditionError("done")).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ToGrpcStatus(absl::UnavailableError("busy")).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST(GrpcStatusTest, InternalDetailsAreNotSentToClients) {
  const grpc::Status s = ToGrpcStatus(
      absl::InternalError("sqlite: INSERT INTO runs failed: disk I/O error"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(s.error_message(), Not(HasSubstr("INSERT")));
  EXPECT_THAT(
      ToGrpcStatus(absl::DataLossError("/var/x.db is corrupt")).error_message(),
      Not(HasSubstr("/var")));
}

TEST(GrpcStatusTest, FromGrpcKeepsCodeAndMessage) {
  EXPECT_THAT(FromGrpcStatus(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                          "run_id: no run 42")),
              StatusIs(absl::StatusCode::kNotFound, "run_id: no run 42"));
  EXPECT_THAT(FromGrpcStatus(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                          "Deadline Exceeded")),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
}

}  // namespace
}  // namespace sslab::services
