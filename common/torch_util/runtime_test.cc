#include "common/torch_util/runtime.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <vector>

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

// Minor page faults of this process so far.
long MinorFaults() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// Activation-sized tensors freed at the end of a training step must be
// reused by the next step, not handed back to the kernel and faulted in
// again page by page (4x slower CPU training, docs/benchmarks.md). 16 MiB
// holds with glibc tuned by KeepFreedTensorMemoryInHeap; 64 MiB (above
// glibc's largest mmap threshold) needs the tcmalloc the binaries link.
TEST(RuntimeTest, FreedTensorMemoryIsReusedWithoutPageFaults) {
#ifdef __SANITIZE_ADDRESS__
  // ASan replaces the allocator and quarantines freed blocks, so that a
  // use after free is caught: reuse is exactly what it prevents.
  GTEST_SKIP() << "the production allocator is not in a sanitizer build";
#endif
  ConfigureTorchThreads(1);
  std::vector<int64_t> sizes = {16 << 20};
#ifdef SSLAB_HAVE_TCMALLOC
  sizes.push_back(64 << 20);
#endif
  for (int64_t bytes : sizes) {
    auto step = [&] {
      at::Tensor t = at::empty({bytes / 4}, at::kFloat);
      t.fill_(1);
    };
    step();  // the first touch faults the pages in
    const long before = MinorFaults();
    for (int i = 0; i < 3; ++i) step();
    const long pages = 3 * bytes / 4096;
    EXPECT_LT(MinorFaults() - before, pages / 10)
        << bytes << "-byte tensors are faulted in again at every step";
  }
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
