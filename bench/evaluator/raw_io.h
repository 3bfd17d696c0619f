// What the L-BFGS benches share with their Python drivers: raw little-endian
// arrays written by numpy's tofile(), and a wall-clock timer.
#ifndef SSLAB_BENCH_EVALUATOR_RAW_IO_H_
#define SSLAB_BENCH_EVALUATOR_RAW_IO_H_

#include <ATen/ATen.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace sslab::bench {

// A tensor of `shape` and `type` read from `path`; exits naming the file if
// it is missing or short.
inline at::Tensor ReadRaw(const std::string& path, std::vector<int64_t> shape,
                          at::ScalarType type) {
  at::Tensor t = at::empty(shape, type);
  std::ifstream in(path, std::ios::binary);
  if (!in.read(static_cast<char*>(t.data_ptr()), t.nbytes())) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(1);
  }
  return t;
}

inline double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

}  // namespace sslab::bench

#endif  // SSLAB_BENCH_EVALUATOR_RAW_IO_H_
