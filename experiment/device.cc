#include "experiment/device.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sslab::experiment {

std::string DeviceId::ToString() const {
  return is_cuda() ? absl::StrCat(Name(kind), ":", index)
                   : std::string(Name(kind));
}

absl::StatusOr<DeviceId> ParseDeviceId(absl::string_view text,
                                       absl::string_view field) {
  // "<kind>" or "<kind>:<ordinal>", the ordinal only for CUDA.
  const size_t colon = text.find(':');
  const std::optional<DeviceKind> kind =
      Parse<DeviceKind>(text.substr(0, colon));
  if (kind && colon == absl::string_view::npos) return DeviceId{*kind, 0};
  if (kind == DeviceKind::kCuda) {
    const absl::string_view digits = text.substr(colon + 1);
    int index = 0;
    if (!digits.empty() && digits.size() <= 4 &&
        std::all_of(digits.begin(), digits.end(),
                    [](char c) { return absl::ascii_isdigit(c); }) &&
        absl::SimpleAtoi(digits, &index)) {
      return DeviceId::Cuda(index);
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": \"", text, "\" is not a device id (cpu, cuda or cuda:N)"));
}

}  // namespace sslab::experiment
