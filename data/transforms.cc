#include "data/transforms.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "data/internal/random.h"
#include "data/internal/resample.h"
#include "experiment/vocabulary.h"

namespace sslab::data {
namespace {

using internal::Rng;

enum class Kind {
  kEval,
  kSupervised,
  kRotation,
  kExemplar,
  kPatches,
  kEvalPatches
};

// A crop in full-resolution pixel coordinates.
struct Box {
  double x = 0, y = 0, w = 0, h = 0;
  bool flip = false;
};

// Every random decision of one Apply, drawn in a fixed order from the seed so
// that MinDecodeScale and Apply agree.
struct Plan {
  std::vector<Box> boxes;       // one per resampled view (or patch)
  std::vector<char> grayscale;  // per view
  float brightness = 0;         // [0, 255] scale
  float saturation = 1;
};

// Luma (ITU-R 601), as PIL's and torchvision's grayscale conversion.
inline float Luma(float r, float g, float b) {
  return 0.299f * r + 0.587f * g + 0.114f * b;
}

class StudyTransform final : public Transform {
 public:
  StudyTransform(Kind kind, TransformOptions o, bool standardize)
      : kind_(kind), o_(std::move(o)), standardize_(standardize) {
    if (kind_ == Kind::kPatches || kind_ == Kind::kEvalPatches) {
      resize_ = static_cast<int>(std::lround(o_.image_size * 292.0 / 255.0));
      cell_ = o_.image_size / 3;
      patch_ = o_.patch_size > 0
                   ? o_.patch_size
                   : std::max(1, experiment::PatchSide(o_.image_size));
      views_ = 9;
      size_ = patch_;
    } else {
      size_ = o_.image_size;
      views_ = kind_ == Kind::kRotation   ? 4
               : kind_ == Kind::kExemplar ? o_.num_exemplar_views
                                          : 1;
    }
  }

  int num_views() const override { return views_; }
  int channels() const override { return o_.channels; }
  int view_size() const override { return size_; }

  double MinDecodeScale(int height, int width, uint64_t seed) const override {
    if (!o_.dct_scaling || height <= 0 || width <= 0) return 1.0;
    const Plan plan = MakePlan(height, width, seed);
    double need = 0;
    // Each box must keep at least one decoded pixel per output pixel.
    for (const Box& b : plan.boxes) {
      need = std::max({need, size_ / b.w, size_ / b.h});
    }
    return std::min(need, 1.0);
  }

  absl::StatusOr<Sample> Apply(const Example& example,
                               uint64_t seed) const override {
    try {
      Sample sample;
      sample.views = at::empty({views_, o_.channels, size_, size_}, at::kFloat);
      sample.labels = at::empty({views_}, at::kLong);
      SSLAB_RETURN_IF_ERROR(ApplyInto(example, seed,
                                      sample.views.data_ptr<float>(),
                                      sample.labels.data_ptr<int64_t>()));
      return sample;
    } catch (const std::bad_alloc&) {
      return absl::ResourceExhaustedError("transform: out of memory");
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("transform: ", e.what()));
    }
  }

  absl::Status ApplyInto(const Example& example, uint64_t seed, float* out,
                         int64_t* labels) const override {
    const at::Tensor& image = example.image;
    if (!image.defined() || image.dim() != 3 ||
        image.scalar_type() != at::kByte || image.size(0) < 1 ||
        image.size(1) < 1 || (image.size(2) != 1 && image.size(2) != 3)) {
      return absl::InvalidArgumentError(
          "transform input: image must be uint8 [H, W, C] with C in {1, 3}");
    }
    try {
      const at::Tensor src = image.contiguous();
      const int h = static_cast<int>(src.size(0));
      const int w = static_cast<int>(src.size(1));
      const int c = static_cast<int>(src.size(2));
      const int full_h = example.full_height > 0 ? example.full_height : h;
      const int full_w = example.full_width > 0 ? example.full_width : w;
      const Plan plan = MakePlan(full_h, full_w, seed);
      const double sx = static_cast<double>(w) / full_w;
      const double sy = static_cast<double>(h) / full_h;

      const int C = o_.channels;
      const size_t plane = static_cast<size_t>(size_) * size_;
      const size_t view = plane * C;
      thread_local std::vector<float> scratch;
      scratch.resize(plane * 3);

      const uint8_t* pixels = src.data_ptr<uint8_t>();
      for (size_t v = 0; v < plan.boxes.size(); ++v) {
        const Box& b = plan.boxes[v];
        // Keep the mapped box inside the decoded image despite rounding.
        const double bx = std::clamp(b.x * sx, 0.0, w - 1e-6);
        const double by = std::clamp(b.y * sy, 0.0, h - 1e-6);
        const double bw = std::clamp(b.w * sx, 1e-6, w - bx);
        const double bh = std::clamp(b.h * sy, 1e-6, h - by);
        float* dst = out + v * view;
        float* res = c == C ? dst : scratch.data();
        internal::ResampleBox(pixels, h, w, c, bx, by, bw, bh, size_, size_,
                              b.flip, res);
        if (c == 1 && C == 3) {
          for (int k = 0; k < 3; ++k)
            std::memcpy(dst + k * plane, res, plane * sizeof(float));
        } else if (c == 3 && C == 1) {
          for (size_t i = 0; i < plane; ++i) {
            dst[i] = Luma(res[i], res[plane + i], res[2 * plane + i]);
          }
        }
        if (plan.grayscale[v] && C == 3) ToGray(dst, plane);
        if (kind_ == Kind::kSupervised || kind_ == Kind::kRotation) {
          Jitter(dst, plane, C, plan.brightness, plan.saturation);
        }
      }
      if (kind_ == Kind::kRotation) {
        for (int k = 1; k < 4; ++k) {
          for (int ch = 0; ch < C; ++ch) {
            Rotate(out + ch * plane, size_, k, out + k * view + ch * plane);
          }
        }
      }
      for (int v = 0; v < views_; ++v) {
        Normalize(out + v * view, view);
        labels[v] = (kind_ == Kind::kRotation || kind_ == Kind::kPatches ||
                     kind_ == Kind::kEvalPatches)
                        ? v
                        : example.label;
      }
      return absl::OkStatus();
    } catch (const std::bad_alloc&) {
      return absl::ResourceExhaustedError("transform: out of memory");
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("transform: ", e.what()));
    }
  }

 private:
  // Inception-style crop (as torchvision's RandomResizedCrop): 10 tries of
  // area and log-uniform aspect, else the whole image clamped to the aspect
  // range.
  Box InceptionCrop(int h, int w, Rng& rng) const {
    const double area = static_cast<double>(h) * w;
    const double log_lo = std::log(o_.aspect_min),
                 log_hi = std::log(o_.aspect_max);
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double target =
          area * rng.Uniform(o_.crop_area_min, o_.crop_area_max);
      const double aspect = std::exp(rng.Uniform(log_lo, log_hi));
      const int cw = static_cast<int>(std::lround(std::sqrt(target * aspect)));
      const int ch = static_cast<int>(std::lround(std::sqrt(target / aspect)));
      if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
        Box b;
        b.y = static_cast<double>(rng.Below(h - ch + 1));
        b.x = static_cast<double>(rng.Below(w - cw + 1));
        b.w = cw;
        b.h = ch;
        return b;
      }
    }
    const double ratio = static_cast<double>(w) / h;
    int cw = w, ch = h;
    if (ratio < o_.aspect_min) {
      ch = std::max(1, static_cast<int>(std::lround(w / o_.aspect_min)));
    } else if (ratio > o_.aspect_max) {
      cw = std::max(1, static_cast<int>(std::lround(h * o_.aspect_max)));
    }
    Box b;
    b.x = (w - cw) / 2;
    b.y = (h - ch) / 2;
    b.w = cw;
    b.h = ch;
    return b;
  }

  Plan MakePlan(int h, int w, uint64_t seed) const {
    Plan plan;
    Rng rng(seed);
    switch (kind_) {
      case Kind::kEval: {
        const double resized = o_.image_size / o_.center_crop_fraction;
        const double side = o_.image_size * std::min(h, w) / resized;
        Box b;
        b.w = b.h = side;
        b.x = (w - side) / 2;
        b.y = (h - side) / 2;
        plan.boxes.push_back(b);
        plan.grayscale.push_back(0);
        break;
      }
      case Kind::kSupervised:
      case Kind::kRotation: {
        Box b = InceptionCrop(h, w, rng);
        b.flip = o_.random_flip && rng.Bernoulli(0.5);
        plan.boxes.push_back(b);
        plan.grayscale.push_back(0);
        plan.brightness = static_cast<float>(
            255.0 * rng.Uniform(-o_.brightness, o_.brightness));
        plan.saturation = static_cast<float>(
            rng.Uniform(o_.saturation_lower, o_.saturation_upper));
        break;
      }
      case Kind::kExemplar: {
        const bool gray = rng.Bernoulli(o_.grayscale_prob);
        for (int v = 0; v < views_; ++v) {
          Box b = InceptionCrop(h, w, rng);
          b.flip = o_.random_flip && rng.Bernoulli(0.5);
          plan.boxes.push_back(b);
          plan.grayscale.push_back(gray);
        }
        break;
      }
      case Kind::kPatches:
      case Kind::kEvalPatches: {
        const bool random = kind_ == Kind::kPatches;
        // Resized (resize_ x resize_) coordinates -> full resolution.
        const double fx = static_cast<double>(w) / resize_;
        const double fy = static_cast<double>(h) / resize_;
        const int span = resize_ - o_.image_size;
        const int cx =
            random ? static_cast<int>(rng.Below(span + 1)) : span / 2;
        const int cy =
            random ? static_cast<int>(rng.Below(span + 1)) : span / 2;
        const bool gray_image = random && rng.Bernoulli(o_.grayscale_prob);
        const int jitter = cell_ - patch_;
        for (int i = 0; i < 3; ++i) {
          for (int j = 0; j < 3; ++j) {
            const int ox =
                random ? static_cast<int>(rng.Below(jitter + 1)) : jitter / 2;
            const int oy =
                random ? static_cast<int>(rng.Below(jitter + 1)) : jitter / 2;
            Box b;
            b.x = (cx + j * cell_ + ox) * fx;
            b.y = (cy + i * cell_ + oy) * fy;
            b.w = patch_ * fx;
            b.h = patch_ * fy;
            plan.boxes.push_back(b);
            bool gray = gray_image;
            if (random && o_.grayscale_per_patch) {
              gray = rng.Bernoulli(o_.grayscale_prob);
            }
            plan.grayscale.push_back(gray);
          }
        }
        break;
      }
    }
    return plan;
  }

  static void ToGray(float* planes, size_t plane) {
    float* r = planes;
    float* g = planes + plane;
    float* b = planes + 2 * plane;
    for (size_t i = 0; i < plane; ++i)
      r[i] = g[i] = b[i] = Luma(r[i], g[i], b[i]);
  }

  // Brightness shift, then saturation as a blend with the luma (torchvision's
  // definition), then clipping to [0, 255].
  static void Jitter(float* planes, size_t plane, int channels, float delta,
                     float saturation) {
    const size_t n = plane * channels;
    for (size_t i = 0; i < n; ++i) planes[i] += delta;
    if (channels == 3 && saturation != 1.f) {
      float* r = planes;
      float* g = planes + plane;
      float* b = planes + 2 * plane;
      for (size_t i = 0; i < plane; ++i) {
        const float y = (1.f - saturation) * Luma(r[i], g[i], b[i]);
        r[i] = y + saturation * r[i];
        g[i] = y + saturation * g[i];
        b[i] = y + saturation * b[i];
      }
    }
    for (size_t i = 0; i < n; ++i)
      planes[i] = std::clamp(planes[i], 0.f, 255.f);
  }

  // dst = src rotated by k * 90 degrees counter-clockwise (torch.rot90(x, k)
  // over (H, W)).
  static void Rotate(const float* src, int n, int k, float* dst) {
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) {
        float v;
        if (k == 1) {
          v = src[j * n + (n - 1 - i)];
        } else if (k == 2) {
          v = src[(n - 1 - i) * n + (n - 1 - j)];
        } else {
          v = src[(n - 1 - j) * n + i];
        }
        dst[i * n + j] = v;
      }
    }
  }

  void Normalize(float* x, size_t n) const {
    if (!standardize_) {
      for (size_t i = 0; i < n; ++i) x[i] = x[i] * (1.f / 127.5f) - 1.f;
      return;
    }
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; ++i) {
      sum += x[i];
      sq += static_cast<double>(x[i]) * x[i];
    }
    const double mean = sum / n;
    const double var = std::max(0.0, sq / n - mean * mean);
    // As tf.image.per_image_standardization (values on a [0, 1] scale).
    const double stddev =
        std::max(std::sqrt(var), 255.0 / std::sqrt(double(n)));
    const float scale = static_cast<float>(1.0 / stddev);
    const float shift = static_cast<float>(mean);
    for (size_t i = 0; i < n; ++i) x[i] = (x[i] - shift) * scale;
  }

  Kind kind_;
  TransformOptions o_;
  bool standardize_;
  int views_ = 1;
  int size_ = 0;
  int resize_ = 0, cell_ = 0, patch_ = 0;
};

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("transform.", field, ": ", why));
}

}  // namespace

Transform::~Transform() = default;

absl::Status Transform::ApplyInto(const Example& example, uint64_t seed,
                                  float* views, int64_t* labels) const {
  SSLAB_ASSIGN_OR_RETURN(Sample sample, Apply(example, seed));
  const at::Tensor v = sample.views.contiguous();
  const at::Tensor l = sample.labels.contiguous();
  std::memcpy(views, v.data_ptr<float>(), v.numel() * sizeof(float));
  std::memcpy(labels, l.data_ptr<int64_t>(), l.numel() * sizeof(int64_t));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const Transform>> MakeTransform(
    const TransformOptions& o) {
  Kind kind;
  if (o.kind == "eval") {
    kind = Kind::kEval;
  } else if (o.kind == "supervised") {
    kind = Kind::kSupervised;
  } else if (o.kind == "rotation") {
    kind = Kind::kRotation;
  } else if (o.kind == "exemplar") {
    kind = Kind::kExemplar;
  } else if (o.kind == "patches") {
    kind = Kind::kPatches;
  } else if (o.kind == "eval_patches") {
    kind = Kind::kEvalPatches;
  } else {
    return Invalid("kind",
                   absl::StrCat("'", o.kind,
                                "' is not one of eval, supervised, "
                                "rotation, exemplar, patches, eval_patches"));
  }
  if (o.image_size < 4 || o.image_size > 4096) {
    return Invalid("image_size",
                   absl::StrCat(o.image_size, " not in [4, 4096]"));
  }
  if (o.channels != 1 && o.channels != 3) {
    return Invalid("channels", absl::StrCat(o.channels, " not 1 or 3"));
  }
  bool standardize;
  if (o.normalization.empty()) {
    standardize = kind == Kind::kExemplar || kind == Kind::kPatches ||
                  kind == Kind::kEvalPatches;
  } else if (o.normalization == "unit_range" ||
             o.normalization == "standardize") {
    standardize = o.normalization == "standardize";
  } else {
    return Invalid("normalization",
                   absl::StrCat("'", o.normalization,
                                "' is not unit_range or standardize"));
  }
  if (!(o.center_crop_fraction > 0 && o.center_crop_fraction <= 1)) {
    return Invalid("center_crop_fraction", "not in (0, 1]");
  }
  if (!(o.crop_area_min > 0 && o.crop_area_min <= o.crop_area_max &&
        o.crop_area_max <= 1)) {
    return Invalid("crop_area_min",
                   "need 0 < crop_area_min <= crop_area_max <= 1");
  }
  if (!(o.aspect_min > 0 && o.aspect_min <= o.aspect_max)) {
    return Invalid("aspect_min", "need 0 < aspect_min <= aspect_max");
  }
  if (!(o.brightness >= 0 && o.brightness <= 1)) {
    return Invalid("brightness", "not in [0, 1]");
  }
  if (!(o.saturation_lower >= 0 && o.saturation_lower <= o.saturation_upper)) {
    return Invalid("saturation_lower",
                   "need 0 <= saturation_lower <= saturation_upper");
  }
  if (!(o.grayscale_prob >= 0 && o.grayscale_prob <= 1)) {
    return Invalid("grayscale_prob", "not in [0, 1]");
  }
  if (o.num_exemplar_views < 1 || o.num_exemplar_views > 64) {
    return Invalid("num_exemplar_views", "not in [1, 64]");
  }
  if (kind == Kind::kPatches || kind == Kind::kEvalPatches) {
    if (o.image_size < 6) return Invalid("image_size", "patch kinds need >= 6");
    if (o.patch_size < 0 || o.patch_size > o.image_size / 3) {
      return Invalid("patch_size",
                     absl::StrCat(o.patch_size, " not in [0, ",
                                  o.image_size / 3, "] (the cell size)"));
    }
  }
  return std::shared_ptr<const Transform>(
      std::make_shared<StudyTransform>(kind, o, standardize));
}

}  // namespace sslab::data
