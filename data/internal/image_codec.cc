#include "data/internal/image_codec.h"

#include <png.h>
#include <turbojpeg.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace sslab::data::internal {
namespace {

// One TurboJPEG decompressor per thread: handles are not thread-safe and
// creating one per image costs more than a small decode.
class TjHandle {
 public:
  explicit TjHandle(bool compress)
      : handle_(compress ? tjInitCompress() : tjInitDecompress()) {}
  ~TjHandle() {
    if (handle_ != nullptr) tjDestroy(handle_);
  }
  tjhandle get() const { return handle_; }
  // A handle that saw a corrupt image can fail on the next good one
  // (libjpeg-turbo 2.1), so it is replaced after every error.
  void Reset() {
    if (handle_ != nullptr) tjDestroy(handle_);
    handle_ = tjInitDecompress();
  }

 private:
  tjhandle handle_;
};

TjHandle& ThreadDecompressor() {
  thread_local TjHandle handle(/*compress=*/false);
  return handle;
}

bool IsJpeg(absl::string_view b) {
  return b.size() >= 3 && static_cast<uint8_t>(b[0]) == 0xFF &&
         static_cast<uint8_t>(b[1]) == 0xD8 &&
         static_cast<uint8_t>(b[2]) == 0xFF;
}

bool IsPng(absl::string_view b) {
  static constexpr unsigned char kSig[8] = {0x89, 'P',  'N',  'G',
                                            '\r', '\n', 0x1A, '\n'};
  return b.size() >= 8 && std::memcmp(b.data(), kSig, 8) == 0;
}

absl::Status TooManyPixels(const std::string& path, const char* format,
                           int64_t height, int64_t width) {
  return absl::DataLossError(absl::StrCat(
      path, ": ", format, " header claims ", height, " x ", width,
      " pixels, more than the ", kMaxDecodedPixels, " an image may decode to"));
}

absl::Status DecodeJpegWith(
    tjhandle tj, absl::string_view bytes, int channels, const std::string& path,
    const std::function<double(int height, int width)>* min_scale,
    DecodedImage* out, bool* warned) {
  if (tj == nullptr) return absl::InternalError("tjInitDecompress failed");
  auto* buf = reinterpret_cast<const unsigned char*>(bytes.data());
  const unsigned long size = bytes.size();
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj, buf, size, &width, &height, &subsamp,
                          &colorspace) != 0) {
    return absl::DataLossError(
        absl::StrCat(path, ": corrupt JPEG header: ", tjGetErrorStr2(tj)));
  }
  if (width <= 0 || height <= 0) {
    return absl::DataLossError(absl::StrCat(path, ": JPEG has no pixels"));
  }
  tjscalingfactor scale{1, 1};
  if (min_scale != nullptr && *min_scale) {
    const double need = (*min_scale)(height, width);
    if (need < 1.0) {
      int n = 0;
      const tjscalingfactor* factors = tjGetScalingFactors(&n);
      double best = 1.0;
      for (int i = 0; i < n; ++i) {
        // Only 1/2, 1/4 and 1/8: libjpeg-turbo has SIMD code for those
        // reduced IDCTs; the other M/8 scales run plain C and measured slower
        // than a full-size decode.
        if (factors[i].num != 1) continue;
        const double f = static_cast<double>(factors[i].num) / factors[i].denom;
        // Small slack so that an exact 1/2 is not rejected by rounding.
        if (f < best && f >= need - 1e-9) {
          best = f;
          scale = factors[i];
        }
      }
    }
  }
  const int w = TJSCALED(width, scale);
  const int h = TJSCALED(height, scale);
  if (int64_t{w} * h > kMaxDecodedPixels) {
    return TooManyPixels(path, "JPEG", height, width);
  }
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  const int pf = cmyk ? TJPF_CMYK : (channels == 1 ? TJPF_GRAY : TJPF_RGB);
  const int pixel_size = tjPixelSize[pf];
  thread_local std::vector<uint8_t> cmyk_buffer;
  std::vector<uint8_t>& target = cmyk ? cmyk_buffer : *out->buffer;
  const size_t bytes_needed = static_cast<size_t>(w) * h * pixel_size;
  if (target.size() < bytes_needed) target.resize(bytes_needed);
  uint8_t* raw = target.data();
  if (tjDecompress2(tj, buf, size, raw, w, 0, h, pf, 0) != 0) {
    const bool warning = tjGetErrorCode(tj) == TJERR_WARNING;
    *warned = true;
    const std::string message = tjGetErrorStr2(tj);
    // Warnings such as "extraneous bytes before marker" leave a good image;
    // a premature end leaves grey where the data was missing.
    if (!warning || absl::StrContains(message, "Premature end")) {
      return absl::DataLossError(
          absl::StrCat(path, ": corrupt or truncated JPEG: ", message));
    }
  }
  out->height = h;
  out->width = w;
  out->channels = channels;
  out->full_height = height;
  out->full_width = width;
  if (!cmyk) return absl::OkStatus();
  // Adobe-style (inverted) CMYK, as Photoshop writes it: R = C * K / 255.
  std::vector<uint8_t>& pixels = *out->buffer;
  if (pixels.size() < static_cast<size_t>(w) * h * channels) {
    pixels.resize(static_cast<size_t>(w) * h * channels);
  }
  const size_t n = static_cast<size_t>(w) * h;
  for (size_t i = 0; i < n; ++i) {
    const int c = raw[4 * i], m = raw[4 * i + 1], y = raw[4 * i + 2],
              k = raw[4 * i + 3];
    const int r = c * k / 255, g = m * k / 255, b = y * k / 255;
    if (channels == 3) {
      pixels[3 * i] = static_cast<uint8_t>(r);
      pixels[3 * i + 1] = static_cast<uint8_t>(g);
      pixels[3 * i + 2] = static_cast<uint8_t>(b);
    } else {
      pixels[i] =
          static_cast<uint8_t>((299 * r + 587 * g + 114 * b + 500) / 1000);
    }
  }
  return absl::OkStatus();
}

absl::Status DecodeJpeg(
    absl::string_view bytes, int channels, const std::string& path,
    const std::function<double(int height, int width)>* min_scale,
    DecodedImage* out) {
  TjHandle& handle = ThreadDecompressor();
  bool warned = false;
  absl::Status status = DecodeJpegWith(handle.get(), bytes, channels, path,
                                       min_scale, out, &warned);
  if (!status.ok() || warned) handle.Reset();
  return status;
}

absl::Status DecodePng(absl::string_view bytes, int channels,
                       const std::string& path, DecodedImage* out) {
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
    const std::string message = image.message;
    png_image_free(&image);
    return absl::DataLossError(absl::StrCat(path, ": corrupt PNG: ", message));
  }
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  if (image.width == 0 || image.height == 0) {
    png_image_free(&image);
    return absl::DataLossError(absl::StrCat(path, ": PNG has no pixels"));
  }
  if (int64_t{image.width} * image.height > kMaxDecodedPixels) {
    png_image_free(&image);
    return TooManyPixels(path, "PNG", image.height, image.width);
  }
  if (out->buffer->size() < PNG_IMAGE_SIZE(image)) {
    out->buffer->resize(PNG_IMAGE_SIZE(image));
  }
  if (!png_image_finish_read(&image, /*background=*/nullptr,
                             out->buffer->data(),
                             /*row_stride=*/0,
                             /*colormap=*/nullptr)) {
    const std::string message = image.message;
    png_image_free(&image);
    return absl::DataLossError(
        absl::StrCat(path, ": corrupt or truncated PNG: ", message));
  }
  out->height = out->full_height = static_cast<int>(image.height);
  out->width = out->full_width = static_cast<int>(image.width);
  out->channels = channels;
  return absl::OkStatus();
}

}  // namespace

absl::Status DecodeImage(
    absl::string_view bytes, int channels, const std::string& path,
    const std::function<double(int height, int width)>* min_scale,
    DecodedImage* out) {
  if (channels != 1 && channels != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("channels must be 1 or 3, got ", channels));
  }
  if (bytes.empty()) {
    return absl::DataLossError(absl::StrCat(path, ": empty file"));
  }
  if (IsJpeg(bytes)) return DecodeJpeg(bytes, channels, path, min_scale, out);
  if (IsPng(bytes)) return DecodePng(bytes, channels, path, out);
  return absl::DataLossError(absl::StrCat(path, ": not a JPEG or PNG image"));
}

absl::Status ReadFile(const std::string& path, std::string* out) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"),
                                          &std::fclose);
  if (f == nullptr) {
    const int err = errno;
    const std::string message =
        absl::StrCat("cannot open ", path, ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    return absl::DataLossError(message);
  }
  out->clear();
  char chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), f.get())) > 0) {
    out->append(chunk, n);
  }
  if (std::ferror(f.get())) {
    return absl::DataLossError(absl::StrCat("cannot read ", path));
  }
  return absl::OkStatus();
}

absl::Status EncodeJpeg(const uint8_t* pixels, int height, int width,
                        int channels, int quality, std::string* out) {
  TjHandle tj(/*compress=*/true);
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  const int pf = channels == 1 ? TJPF_GRAY : TJPF_RGB;
  const int subsamp = channels == 1 ? TJSAMP_GRAY : TJSAMP_420;
  if (tjCompress2(tj.get(), pixels, width, 0, height, pf, &jpeg, &size, subsamp,
                  quality, 0) != 0) {
    const std::string message = tjGetErrorStr2(tj.get());
    tjFree(jpeg);
    return absl::InternalError(absl::StrCat("JPEG encoding failed: ", message));
  }
  out->assign(reinterpret_cast<const char*>(jpeg), size);
  tjFree(jpeg);
  return absl::OkStatus();
}

absl::Status EncodePng(const uint8_t* pixels, int height, int width,
                       int channels, std::string* out) {
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  image.width = width;
  image.height = height;
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, pixels, 0,
                                 nullptr)) {
    return absl::InternalError(
        absl::StrCat("PNG sizing failed: ", image.message));
  }
  out->resize(size);
  if (!png_image_write_to_memory(&image, out->data(), &size, 0, pixels, 0,
                                 nullptr)) {
    return absl::InternalError(
        absl::StrCat("PNG encoding failed: ", image.message));
  }
  out->resize(size);
  return absl::OkStatus();
}

}  // namespace sslab::data::internal
