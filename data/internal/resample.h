// Separable bilinear resampling of a box of a uint8 HWC image, with PIL-style
// antialiasing (the triangle filter widens by the shrink factor).
#ifndef SSLAB_DATA_INTERNAL_RESAMPLE_H_
#define SSLAB_DATA_INTERNAL_RESAMPLE_H_

#include <cstdint>

namespace sslab::data::internal {

// Resamples the box [x0, x0 + box_w) x [y0, y0 + box_h) (pixel units, may be
// fractional, must lie inside the image) of `src` (uint8 [h, w, c]) to
// out_h x out_w and writes float planes [c][out_h][out_w] with values in
// [0, 255] to `out`. `flip` mirrors the result horizontally. Thread-safe.
void ResampleBox(const uint8_t* src, int h, int w, int c, double x0, double y0,
                 double box_w, double box_h, int out_h, int out_w, bool flip,
                 float* out);

}  // namespace sslab::data::internal

#endif  // SSLAB_DATA_INTERNAL_RESAMPLE_H_
