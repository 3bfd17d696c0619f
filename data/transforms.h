// The study's preprocessing pipelines (REFERENCE.md): one decoded example ->
// V float views, each with an int64 label.
//
// Kinds (MakeTransform):
//  "eval":         resize the shorter side to image_size /
//  center_crop_fraction,
//                  centre crop image_size x image_size. V = 1, label = class.
//  "supervised":   inception crop (area, aspect ranges below) resized to
//                  image_size, random horizontal flip, brightness and
//                  saturation jitter. V = 1, label = class.
//  "rotation":     one "supervised" view, then 4 views rotated by 0, 90, 180,
//                  270 degrees counter-clockwise (torch.rot90 with k = label),
//                  labels 0..3.
//  "exemplar":     8 (num_exemplar_views) independent inception crops with
//                  flip; grayscale with grayscale_prob decided once per image;
//                  per-view standardisation. Labels = class (the trainer
//                  replaces them with in-batch indices).
//  "patches":      the Jigsaw / RPL grid: resize to a square of
//                  round(image_size * 292 / 255), random crop image_size,
//                  grayscale with grayscale_prob (per image, or per patch with
//                  grayscale_per_patch), 3x3 cells of image_size / 3, a random
//                  patch_size crop inside each cell, per-patch
//                  standardisation. V = 9 in row-major grid order, labels 0..8
//                  (the positions). With image_size 255 this is the paper's
//                  292 / 255 / 85 / 64.
//  "eval_patches": like "patches" but deterministic: centre crop, no
//                  grayscale, each patch centred in its cell. Labels 0..8.
//
// Output: `views` float [V, C, S, S] (C = options.channels, S = image_size or
// patch_size), contiguous; values in [-1, 1] (x / 127.5 - 1) or standardised
// (per view, as tf.image.per_image_standardization on [0, 1] pixels:
// (x - mean) / max(stddev, 1 / sqrt(C*S*S))), see `normalization`.
// `labels` int64 [V]. Input images of any size and 1 or 3 channels work (28 px,
// 32 px and 224+ px alike); gray input is replicated to 3 channels and colour
// converted to luma for 1 channel. Resizing is bilinear with antialiasing
// (PIL-style) when shrinking.
//
// Determinism: Apply's output is a function of (example, seed) only.
#ifndef SSLAB_DATA_TRANSFORMS_H_
#define SSLAB_DATA_TRANSFORMS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "data/dataset.h"

namespace sslab::data {

struct Sample {
  at::Tensor views;   // float [V, C, S, S]
  at::Tensor labels;  // int64 [V]
};

// A preprocessing pipeline. Thread-safe (const, no shared mutable state).
class Transform {
 public:
  virtual ~Transform();

  // Returns INVALID_ARGUMENT when the example's image is not uint8 [H, W, C]
  // with C in {1, 3} and H, W >= 1.
  virtual absl::StatusOr<Sample> Apply(const Example& example,
                                       uint64_t seed) const = 0;

  // For loaders: writes what Apply returns into caller memory: `views` holds
  // num_views() * channels() * view_size()^2 floats, `labels` num_views()
  // int64s. Same errors as Apply. Default: Apply, then copy.
  virtual absl::Status ApplyInto(const Example& example, uint64_t seed,
                                 float* views, int64_t* labels) const;

  // V, C, and S of every Sample this transform produces.
  virtual int num_views() const = 0;
  virtual int channels() const = 0;
  virtual int view_size() const = 0;

  // The smallest decode scale (<= 1) that loses nothing this transform
  // needs for an image of full size height x width, given the seed Apply will
  // get: e.g. an inception crop shrunk to image_size needs only
  // image_size / crop side. Used with Dataset::GetScaled; 1 = full size.
  virtual double MinDecodeScale(int height, int width, uint64_t seed) const {
    return 1.0;
  }
};

struct TransformOptions {
  // "eval" | "supervised" | "rotation" | "exemplar" | "patches" |
  // "eval_patches".
  std::string kind;
  // Output side (crop side for the patch kinds), >= 4.
  int image_size = 224;
  // Output channels: 1 or 3.
  int channels = 3;
  // "" = the kind's default (unit range for eval / supervised / rotation,
  // standardised for exemplar / patches / eval_patches), "unit_range" or
  // "standardize".
  std::string normalization;

  // eval: fraction of the resized image kept by the centre crop, in (0, 1].
  double center_crop_fraction = 0.875;
  // Inception crop: area fraction and aspect-ratio (w / h) ranges.
  double crop_area_min = 0.05;
  double crop_area_max = 1.0;
  double aspect_min = 3.0 / 4.0;
  double aspect_max = 4.0 / 3.0;
  bool random_flip = true;
  // supervised / rotation: brightness delta uniform in +-brightness (on a
  // [0, 1] scale), then saturation factor uniform in [lower, upper]; then
  // clipped to [0, 1]. brightness = 0 and lower = upper = 1 disable them.
  double brightness = 32.0 / 255.0;
  double saturation_lower = 0.5;
  double saturation_upper = 1.5;
  // exemplar / patches: probability of converting to grayscale.
  double grayscale_prob = 0.66;
  // patches: decide grayscale per patch instead of per image.
  bool grayscale_per_patch = false;
  int num_exemplar_views = 8;
  // patch kinds: patch side; 0 = round(image_size / 3 * 64 / 85).
  int patch_size = 0;
  // Allow decoding JPEGs at a reduced DCT scale where the output needs no
  // more pixels (see Transform::MinDecodeScale); false = always full size.
  bool dct_scaling = true;
};

// Returns INVALID_ARGUMENT naming the field ("transform.kind",
// "transform.image_size", ...) for bad options.
absl::StatusOr<std::shared_ptr<const Transform>> MakeTransform(
    const TransformOptions& options);

}  // namespace sslab::data

#endif  // SSLAB_DATA_TRANSFORMS_H_
