#include "data/internal/resample.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace sslab::data::internal {
namespace {

// Filter taps of one axis: output i reads `count[i]` inputs from `first[i]`
// with weights weights[i * max_taps ...].
struct Taps {
  std::vector<int> first;
  std::vector<int> count;
  std::vector<float> weights;
  int max_taps = 0;
};

Taps ComputeTaps(int in_size, double start, double length, int out_size,
                 bool flip) {
  Taps taps;
  const double scale = length / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = filter_scale;  // triangle filter of radius 1
  taps.max_taps = static_cast<int>(std::ceil(support)) * 2 + 2;
  taps.first.resize(out_size);
  taps.count.resize(out_size);
  taps.weights.assign(static_cast<size_t>(out_size) * taps.max_taps, 0.f);
  for (int i = 0; i < out_size; ++i) {
    const double center = start + (i + 0.5) * scale;
    int lo = static_cast<int>(std::floor(center - support + 0.5));
    int hi = static_cast<int>(std::floor(center + support + 0.5));
    lo = std::clamp(lo, 0, in_size - 1);
    hi = std::clamp(hi, lo + 1, in_size);
    hi = std::min(hi, lo + taps.max_taps);
    const int o = flip ? out_size - 1 - i : i;
    float* wt = &taps.weights[static_cast<size_t>(o) * taps.max_taps];
    double sum = 0;
    for (int x = lo; x < hi; ++x) {
      const double d = std::abs((x + 0.5 - center) / filter_scale);
      const double v = d < 1.0 ? 1.0 - d : 0.0;
      wt[x - lo] = static_cast<float>(v);
      sum += v;
    }
    if (sum <= 0) {  // degenerate: nearest pixel
      const int nearest = std::clamp(static_cast<int>(center), 0, in_size - 1);
      lo = nearest;
      hi = nearest + 1;
      wt[0] = 1.f;
      sum = 1;
    }
    for (int x = 0; x < hi - lo; ++x) wt[x] = static_cast<float>(wt[x] / sum);
    taps.first[o] = lo;
    taps.count[o] = hi - lo;
  }
  return taps;
}

template <int C>
void Resample(const uint8_t* src, int w, const Taps& tx, const Taps& ty,
              int out_h, int out_w, float* out) {
  // Rows of the source the vertical pass reads.
  int row_lo = ty.first[0], row_hi = 0;
  for (int o = 0; o < out_h; ++o) {
    row_lo = std::min(row_lo, ty.first[o]);
    row_hi = std::max(row_hi, ty.first[o] + ty.count[o]);
  }
  const int rows = row_hi - row_lo;
  thread_local std::vector<float> tmp_storage;
  thread_local std::vector<float> acc_storage;
  tmp_storage.resize(static_cast<size_t>(rows) * out_w * C);
  acc_storage.resize(static_cast<size_t>(out_w) * C);
  float* tmp = tmp_storage.data();
  // Horizontal pass: tmp[r][ox][c].
  for (int r = 0; r < rows; ++r) {
    const uint8_t* row = src + static_cast<size_t>(row_lo + r) * w * C;
    float* t = tmp + static_cast<size_t>(r) * out_w * C;
    for (int ox = 0; ox < out_w; ++ox) {
      const float* wt = &tx.weights[static_cast<size_t>(ox) * tx.max_taps];
      const uint8_t* p = row + static_cast<size_t>(tx.first[ox]) * C;
      float s[C] = {};
      for (int k = 0; k < tx.count[ox]; ++k) {
        for (int c = 0; c < C; ++c) s[c] += wt[k] * p[k * C + c];
      }
      for (int c = 0; c < C; ++c) t[ox * C + c] = s[c];
    }
  }
  // Vertical pass into planes.
  float* acc = acc_storage.data();
  const size_t plane = static_cast<size_t>(out_h) * out_w;
  for (int oy = 0; oy < out_h; ++oy) {
    const float* wt = &ty.weights[static_cast<size_t>(oy) * ty.max_taps];
    std::fill(acc, acc + out_w * C, 0.f);
    for (int k = 0; k < ty.count[oy]; ++k) {
      const float* t =
          tmp + static_cast<size_t>(ty.first[oy] + k - row_lo) * out_w * C;
      const float wk = wt[k];
      for (int i = 0; i < out_w * C; ++i) acc[i] += wk * t[i];
    }
    for (int c = 0; c < C; ++c) {
      float* dst = out + c * plane + static_cast<size_t>(oy) * out_w;
      for (int ox = 0; ox < out_w; ++ox) dst[ox] = acc[ox * C + c];
    }
  }
}

}  // namespace

void ResampleBox(const uint8_t* src, int h, int w, int c, double x0, double y0,
                 double box_w, double box_h, int out_h, int out_w, bool flip,
                 float* out) {
  const Taps tx = ComputeTaps(w, x0, box_w, out_w, flip);
  const Taps ty = ComputeTaps(h, y0, box_h, out_h, /*flip=*/false);
  if (c == 1) {
    Resample<1>(src, w, tx, ty, out_h, out_w, out);
  } else {
    Resample<3>(src, w, tx, ty, out_h, out_w, out);
  }
}

}  // namespace sslab::data::internal
