// Built with -O3 -fno-trapping-math -ffp-contract=off (models/CMakeLists.txt):
// vectorized (the masked sums need -fno-trapping-math, as ATen is built), and
// without fused multiply-adds, so every loop computes the activation test
// (x - mean) * scale + shift bit for bit alike.
#include "models/internal/batch_norm_relu_kernels.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

// Each row loop is compiled for AVX2 and for the baseline, picked at load
// time: the images run on CPUs other than the one that built them.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SSLAB_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SSLAB_VECTOR_CLONES
#endif

namespace sslab::models::internal {
namespace {

// 64 KiB of floats per chunk: enough work per task, few enough rows that a
// chunk's float sums stay accurate (they are added up in double), and fixed
// by the shape alone so that the sums add up in the same order on any
// thread count.
constexpr int64_t kChunkElements = int64_t{1} << 14;

int64_t RowsPerChunk(ChannelsLastView v) {
  return std::max<int64_t>(1,
                           kChunkElements / std::max<int64_t>(1, v.channels));
}

int64_t ChunkCount(ChannelsLastView v) {
  const int64_t per = RowsPerChunk(v);
  return (v.rows + per - 1) / per;
}

// Calls f(chunk, first_row, row_count) for every chunk, in parallel.
template <typename F>
void ForEachChunk(ChannelsLastView v, const F& f) {
  const int64_t per = RowsPerChunk(v);
  at::parallel_for(0, ChunkCount(v), 1, [&](int64_t begin, int64_t end) {
    for (int64_t chunk = begin; chunk < end; ++chunk) {
      const int64_t first = chunk * per;
      f(chunk, first, std::min(per, v.rows - first));
    }
  });
}

// Adds the per-chunk sums (chunk-major, `channels` each) in chunk order.
void AddChunks(const std::vector<float>& partial, int64_t channels,
               double* total) {
  std::fill(total, total + channels, 0.0);
  for (size_t at = 0; at < partial.size(); at += channels) {
    for (int64_t c = 0; c < channels; ++c) total[c] += partial[at + c];
  }
}

// ReLU's gradient: gz where the activation t passed, else 0. gz is an
// argument, loaded whatever t is: a conditional load would vectorize to a
// masked load, which stalls (3-4x slower loops on AMD Zen).
inline float Masked(float t, float gz) { return t > 0.f ? gz : 0.f; }

SSLAB_VECTOR_CLONES
void SumRows(const float* __restrict x, int64_t rows, int64_t channels,
             const float* __restrict shift, float* __restrict sum,
             float* __restrict sum_sq) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* __restrict row = x + r * channels;
    for (int64_t c = 0; c < channels; ++c) {
      const float value = row[c] - shift[c];
      sum[c] += value;
      sum_sq[c] += value * value;
    }
  }
}

SSLAB_VECTOR_CLONES
void ShiftScaleReluRows(const float* __restrict x, int64_t rows,
                        int64_t channels, const float* __restrict mean,
                        const float* __restrict scale,
                        const float* __restrict shift, float* z) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * channels;
    float* out = z + r * channels;
    for (int64_t c = 0; c < channels; ++c) {
      const float t = (row[c] - mean[c]) * scale[c] + shift[c];
      out[c] = t > 0.f ? t : 0.f;
    }
  }
}

SSLAB_VECTOR_CLONES
void MaskedGradSumRows(const float* __restrict x, const float* __restrict gz,
                       int64_t rows, int64_t channels,
                       const float* __restrict mean,
                       const float* __restrict scale,
                       const float* __restrict shift, float* __restrict sum_g,
                       float* __restrict sum_g_centered) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* __restrict row = x + r * channels;
    const float* __restrict grad = gz + r * channels;
    for (int64_t c = 0; c < channels; ++c) {
      const float centered = row[c] - mean[c];
      const float t = centered * scale[c] + shift[c];
      const float g = Masked(t, grad[c]);
      sum_g[c] += g;
      sum_g_centered[c] += g * centered;
    }
  }
}

SSLAB_VECTOR_CLONES
void MaskedGradInputRows(const float* __restrict x, const float* __restrict gz,
                         int64_t rows, int64_t channels,
                         const float* __restrict mean,
                         const float* __restrict scale,
                         const float* __restrict shift,
                         const float* __restrict k_centered,
                         const float* __restrict k_const,
                         float* __restrict gx) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* __restrict row = x + r * channels;
    const float* __restrict grad = gz + r * channels;
    float* __restrict out = gx + r * channels;
    for (int64_t c = 0; c < channels; ++c) {
      const float centered = row[c] - mean[c];
      const float t = centered * scale[c] + shift[c];
      const float g = Masked(t, grad[c]);
      out[c] = g * scale[c] + centered * k_centered[c] + k_const[c];
    }
  }
}

}  // namespace

void ChannelSums(ChannelsLastView v, const float* x, const float* shift,
                 double* sum, double* sum_sq) {
  const int64_t C = v.channels;
  std::vector<float> sums(ChunkCount(v) * C, 0.f), squares(sums.size(), 0.f);
  ForEachChunk(v, [&](int64_t chunk, int64_t first, int64_t rows) {
    SumRows(x + first * C, rows, C, shift, sums.data() + chunk * C,
            squares.data() + chunk * C);
  });
  AddChunks(sums, C, sum);
  AddChunks(squares, C, sum_sq);
}

void ShiftScaleRelu(ChannelsLastView v, const float* x, const float* mean,
                    const float* scale, const float* shift, float* z) {
  const int64_t C = v.channels;
  ForEachChunk(v, [&](int64_t, int64_t first, int64_t rows) {
    ShiftScaleReluRows(x + first * C, rows, C, mean, scale, shift,
                       z + first * C);
  });
}

void MaskedGradSums(ChannelsLastView v, const float* x, const float* gz,
                    const float* mean, const float* scale, const float* shift,
                    double* sum_g, double* sum_g_centered) {
  const int64_t C = v.channels;
  std::vector<float> sums(ChunkCount(v) * C, 0.f), centered(sums.size(), 0.f);
  ForEachChunk(v, [&](int64_t chunk, int64_t first, int64_t rows) {
    MaskedGradSumRows(x + first * C, gz + first * C, rows, C, mean, scale,
                      shift, sums.data() + chunk * C,
                      centered.data() + chunk * C);
  });
  AddChunks(sums, C, sum_g);
  AddChunks(centered, C, sum_g_centered);
}

void MaskedGradInput(ChannelsLastView v, const float* x, const float* gz,
                     const float* mean, const float* scale, const float* shift,
                     const float* k_centered, const float* k_const, float* gx) {
  const int64_t C = v.channels;
  ForEachChunk(v, [&](int64_t, int64_t first, int64_t rows) {
    MaskedGradInputRows(x + first * C, gz + first * C, rows, C, mean, scale,
                        shift, k_centered, k_const, gx + first * C);
  });
}

}  // namespace sslab::models::internal
