#include "experiment/device.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace sslab::experiment {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::HasSubstr;

TEST(DeviceIdTest, ParsesAndPrints) {
  ASSERT_OK_AND_ASSIGN(DeviceId cpu, ParseDeviceId("cpu"));
  EXPECT_EQ(cpu, DeviceId::Cpu());
  EXPECT_EQ(cpu.ToString(), "cpu");
  ASSERT_OK_AND_ASSIGN(DeviceId cuda, ParseDeviceId("cuda"));
  EXPECT_EQ(cuda, DeviceId::Cuda(0));
  ASSERT_OK_AND_ASSIGN(DeviceId third, ParseDeviceId("cuda:3"));
  EXPECT_EQ(third.index, 3);
  EXPECT_TRUE(third.is_cuda());
  EXPECT_EQ(third.ToString(), "cuda:3");
  EXPECT_LT(DeviceId::Cpu(), DeviceId::Cuda(0));
  EXPECT_LT(DeviceId::Cuda(1), DeviceId::Cuda(2));
}

TEST(DeviceIdTest, RejectsAnythingElseNamingTheField) {
  for (const char* bad : {"", "gpu", "cuda:", "cuda:-1", "cuda:x", "cuda:1 ",
                          "cpu:0", "cuda:99999", "cuda:+1"}) {
    EXPECT_THAT(
        ParseDeviceId(bad, "devices[2]"),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("devices[2]: ")))
        << bad;
  }
}

}  // namespace
}  // namespace sslab::experiment
