// JPEG (TurboJPEG, DCT-domain scaling) and PNG (libpng) decoding to uint8
// HWC buffers.
#ifndef SSLAB_DATA_INTERNAL_IMAGE_CODEC_H_
#define SSLAB_DATA_INTERNAL_IMAGE_CODEC_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sslab::data::internal {

struct DecodedImage {
  // Set by the caller: the pixels [height, width, channels] go to the start of
  // *buffer, which is grown when too small but never shrunk (so a reused
  // buffer is neither reallocated nor cleared).
  std::vector<uint8_t>* buffer = nullptr;
  int height = 0;
  int width = 0;
  int channels = 0;
  // Size before DCT scaling (equal to height / width when not scaled).
  int full_height = 0;
  int full_width = 0;
};

// The most pixels DecodeImage allocates for one image (after DCT scaling):
// 32 Mi pixels, ~100 MB as RGB, so a 24-megapixel camera photo decodes
// while a few-hundred-byte header claiming 65500 x 65500 (13 GB) is
// refused before any allocation.
inline constexpr int64_t kMaxDecodedPixels = int64_t{1} << 25;

// Decodes a JPEG or PNG (recognised by its first bytes) to `channels` (1 or
// 3) channels. For JPEGs, when `min_scale` is set it is called with the full
// size and the smallest DCT scale >= its result is used. Returns DATA_LOSS
// naming `path` for an empty, unknown, corrupt or truncated file, or one
// larger than kMaxDecodedPixels. Thread-safe.
absl::Status DecodeImage(
    absl::string_view bytes, int channels, const std::string& path,
    const std::function<double(int height, int width)>* min_scale,
    DecodedImage* out);

// Reads a whole file. NOT_FOUND / DATA_LOSS naming `path`.
absl::Status ReadFile(const std::string& path, std::string* out);

// Encoders for tests and benchmarks. `pixels` is [height, width, channels].
absl::Status EncodeJpeg(const uint8_t* pixels, int height, int width,
                        int channels, int quality, std::string* out);
absl::Status EncodePng(const uint8_t* pixels, int height, int width,
                       int channels, std::string* out);

}  // namespace sslab::data::internal

#endif  // SSLAB_DATA_INTERNAL_IMAGE_CODEC_H_
