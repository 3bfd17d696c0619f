#include "services/worker/devices.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace sslab::services {
namespace {

using experiment::DeviceId;
using ::sslab::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// A box with two H200s as nvidia-smi lists them (PCI order).
DeviceEnvironment TwoGpuBox() {
  DeviceEnvironment env;
  env.host = "gpubox";
  env.cpu_name = "AMD EPYC 9654";
  env.ram_bytes = int64_t{512} << 30;
  env.cuda_device_count = 2;
  env.nvidia_smi_csv =
      "0, GPU-8f3c1111-aaaa, NVIDIA H200, 143771\n"
      "1, GPU-77aa2222-bbbb, NVIDIA H200, 143771\n";
  return env;
}

TEST(ResolveDevicesTest, DescribesTheCpu) {
  ASSERT_OK_AND_ASSIGN(auto devices, ResolveDevices("cpu", TwoGpuBox()));
  ASSERT_THAT(devices, SizeIs(1));
  EXPECT_EQ(devices[0].id, DeviceId::Cpu());
  EXPECT_EQ(devices[0].key, "gpubox/cpu");
  EXPECT_EQ(devices[0].name, "AMD EPYC 9654");
  EXPECT_EQ(devices[0].memory_bytes, int64_t{512} << 30);
}

TEST(ResolveDevicesTest, AllIsEveryGpuDescribedByNvidiaSmi) {
  ASSERT_OK_AND_ASSIGN(auto devices, ResolveDevices("all", TwoGpuBox()));
  ASSERT_THAT(devices, SizeIs(2));
  EXPECT_EQ(devices[1].id, DeviceId::Cuda(1));
  EXPECT_EQ(devices[1].key, "GPU-77aa2222-bbbb");
  EXPECT_EQ(devices[1].name, "NVIDIA H200");
  EXPECT_EQ(devices[1].memory_bytes, int64_t{143771} << 20);
}

TEST(ResolveDevicesTest, AllWithoutGpusIsTheCpu) {
  DeviceEnvironment env;
  env.host = "laptop";
  ASSERT_OK_AND_ASSIGN(auto devices, ResolveDevices("all", env));
  ASSERT_THAT(devices, SizeIs(1));
  EXPECT_EQ(devices[0].id, DeviceId::Cpu());
}

TEST(ResolveDevicesTest, VisibleDevicesMapOrdinalsToPhysicalGpus) {
  DeviceEnvironment env = TwoGpuBox();
  // The process sees only the second GPU, as its cuda:0.
  env.cuda_device_count = 1;
  env.cuda_visible_devices = "1";
  ASSERT_OK_AND_ASSIGN(auto devices, ResolveDevices("cuda:0", env));
  EXPECT_EQ(devices[0].key, "GPU-77aa2222-bbbb");
  env.cuda_visible_devices = "GPU-8f3c";  // a UUID prefix works too
  ASSERT_OK_AND_ASSIGN(devices, ResolveDevices("cuda:0", env));
  EXPECT_EQ(devices[0].key, "GPU-8f3c1111-aaaa");
}

TEST(ResolveDevicesTest, WithoutNvidiaSmiGpusAreUnkeyed) {
  DeviceEnvironment env = TwoGpuBox();
  env.nvidia_smi_csv.clear();
  ASSERT_OK_AND_ASSIGN(auto devices, ResolveDevices("cpu,cuda:1", env));
  ASSERT_THAT(devices, SizeIs(2));
  EXPECT_EQ(devices[1].key, "");
  EXPECT_EQ(devices[1].name, "CUDA device 1");
}

TEST(ResolveDevicesTest, RejectsMissingDuplicateAndMalformedDevices) {
  EXPECT_THAT(ResolveDevices("cuda:2", TwoGpuBox()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--devices: cuda:2 is not there: LibTorch "
                                 "sees 2 CUDA device(s)")));
  DeviceEnvironment cpu_only;
  EXPECT_THAT(ResolveDevices("cuda:0", cpu_only),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("sees no CUDA device")));
  EXPECT_THAT(ResolveDevices("cuda:0,cuda:0", TwoGpuBox()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'cuda:0' appears twice")));
  EXPECT_THAT(
      ResolveDevices("gpu0", TwoGpuBox()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--devices")));
}

TEST(ProbeDeviceEnvironmentTest, ReadsThisMachine) {
  const DeviceEnvironment env = ProbeDeviceEnvironment(0);
  EXPECT_FALSE(env.host.empty());
  EXPECT_FALSE(env.cpu_name.empty());
  EXPECT_GT(env.ram_bytes, int64_t{1} << 28);
  EXPECT_EQ(env.nvidia_smi_csv, "");  // not run without CUDA devices
}

}  // namespace
}  // namespace sslab::services
