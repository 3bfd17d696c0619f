#include "common/torch_util/runtime.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <malloc.h>

#include "common/testing/status_matchers.h"

namespace sslab {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::HasSubstr;

TEST(RuntimeTest, ConfigureThreadsSetsTheRequestedCount) {
  EXPECT_EQ(ConfigureTorchThreads(2), 2);
  EXPECT_EQ(at::get_num_threads(), 2);
  EXPECT_GE(ConfigureTorchThreads(0), 1);
}

TEST(RuntimeTest, BlasWorkGetsBlasThreadsAndOneTorchThread) {
  const int blas = ConfigureThreadsForBlasWork(2);
  EXPECT_EQ(at::get_num_threads(), 1);
  // Debian's LibTorch runs on OpenBLAS (TOOLCHAIN.md); other BLAS report 0.
  EXPECT_TRUE(blas == 2 || blas == 0) << blas;
  // A product still gives the right answer on OpenBLAS's threads.
  at::Tensor a = at::ones({300, 200});
  EXPECT_EQ(at::mm(a, at::ones({200, 7})).sum().item<double>(),
            300.0 * 200 * 7);
  ConfigureTorchThreads(2);
}

// A 16 MiB activation-sized tensor must come from the heap (not a fresh
// mmap) and its memory must stay there once freed, ready for the next step.
TEST(RuntimeTest, FreedTensorMemoryStaysInTheHeap) {
  ConfigureTorchThreads(1);
  constexpr size_t kBytes = 16 << 20;
  const struct mallinfo2 before = mallinfo2();
  {
    at::Tensor t = at::empty({static_cast<int64_t>(kBytes / 4)}, at::kFloat);
    t.fill_(1);
    EXPECT_LT(mallinfo2().hblkhd, before.hblkhd + kBytes)
        << "the tensor was mmapped";
  }
  EXPECT_GE(mallinfo2().fordblks, kBytes) << "freed memory left the heap";
}

TEST(RuntimeTest, ResolvesCpuAndAuto) {
  ASSERT_OK_AND_ASSIGN(c10::Device cpu, ResolveDevice("cpu"));
  EXPECT_TRUE(cpu.is_cpu());
  ASSERT_OK_AND_ASSIGN(c10::Device automatic, ResolveDevice("auto"));
  EXPECT_EQ(automatic.is_cuda(), CudaAvailable());
}

TEST(RuntimeTest, RejectsUnknownDeviceNamingTheField) {
  EXPECT_THAT(ResolveDevice("tpu"), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("device")));
  EXPECT_THAT(ResolveDevice("cuda:x"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  if (!CudaAvailable()) {
    EXPECT_THAT(ResolveDevice("cuda:0"),
                StatusIs(absl::StatusCode::kFailedPrecondition));
  }
}

}  // namespace
}  // namespace sslab
