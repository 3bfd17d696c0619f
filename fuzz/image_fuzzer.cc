// JPEG (TurboJPEG) and PNG (libpng) decoding as the image-folder reader does
// it: the input is a flags byte (bit 0: 1 channel instead of 3; bits 1-2: a
// DCT scale request of 1, 1/2, 1/4 or 1/8) then the file's bytes. Each image
// is decoded twice, to both channel counts, through the thread's reused
// decompressor (which an error must leave usable).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "data/internal/image_codec.h"
#include "fuzz/fuzz_util.h"

namespace {

using ::sslab::data::internal::DecodedImage;
using ::sslab::data::internal::DecodeImage;
using ::sslab::data::internal::kMaxDecodedPixels;

void DecodeAndCheck(absl::string_view bytes, int channels, double scale) {
  std::vector<uint8_t> buffer;
  DecodedImage out;
  out.buffer = &buffer;
  const std::function<double(int, int)> min_scale = [scale](int, int) {
    return scale;
  };
  const absl::Status status = DecodeImage(
      bytes, channels, "fuzz.img", scale < 1 ? &min_scale : nullptr, &out);
  if (!status.ok()) {
    sslab::fuzz::CheckCode(status, "DecodeImage",
                           {absl::StatusCode::kDataLoss});
    return;
  }
  if (out.height < 1 || out.width < 1 || out.channels != channels ||
      int64_t{out.height} * out.width > kMaxDecodedPixels ||
      buffer.size() < static_cast<size_t>(out.height) * out.width * channels ||
      out.full_height < out.height || out.full_width < out.width) {
    sslab::fuzz::Fail("DecodeImage: inconsistent image");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sslab::fuzz::InputReader in(data, size);
  const uint8_t flags = in.Byte();
  const absl::string_view bytes = in.Rest();
  const int channels = (flags & 1) != 0 ? 1 : 3;
  const double scale = 1.0 / (1 << ((flags >> 1) & 3));
  DecodeAndCheck(bytes, channels, scale);
  DecodeAndCheck(bytes, 4 - channels, scale);
  return 0;
}
