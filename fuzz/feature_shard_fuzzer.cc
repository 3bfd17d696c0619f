// Feature shard reader (evaluator/feature_shard.h): the input is a flags byte
// then the file. With flag bit 0 set the harness first rewrites both SHA-256
// checksums to match the mutated bytes, so that the fuzzer reaches the
// header fields and the payload behind them instead of stopping at a
// checksum mismatch.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/escaping.h"
#include "common/files.h"
#include "evaluator/feature_shard.h"
#include "fuzz/fuzz_util.h"

namespace {

using ::sslab::evaluator::ShardDtype;
using ::sslab::evaluator::ShardInfo;

constexpr size_t kFixed = 72;  // magic .. payload digest
constexpr size_t kDigest = 32;

// Layout in evaluator/feature_shard.h.
void FixChecksums(std::string& file) {
  if (file.size() < kFixed) return;
  uint32_t name_len;
  std::memcpy(&name_len, file.data() + 32, 4);
  const size_t header = kFixed + name_len;
  if (name_len > 4096 || file.size() < header + kDigest) return;
  const std::string payload = absl::HexStringToBytes(
      sslab::Sha256Hex(absl::string_view(file).substr(header + kDigest)));
  file.replace(40, kDigest, payload);
  file.replace(header, kDigest,
               absl::HexStringToBytes(sslab::Sha256Hex(
                   absl::string_view(file).substr(0, header))));
}

size_t ElementBytes(ShardDtype dtype) {
  return dtype == ShardDtype::kFloat16 ? 2
                                       : (dtype == ShardDtype::kInt64 ? 8 : 4);
}

void CheckInfo(const ShardInfo& info, size_t file_size) {
  if (info.rows < 0 || info.dims < 1 || info.name.empty() ||
      info.file_bytes != static_cast<int64_t>(file_size) ||
      static_cast<uint64_t>(info.rows) * info.dims * ElementBytes(info.dtype) >
          file_size) {
    sslab::fuzz::Fail("feature shard: header accepted with bad fields");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sslab::fuzz;
  namespace evaluator = sslab::evaluator;
  InputReader in(data, size);
  const uint8_t flags = in.Byte();
  std::string file(in.Rest());
  if ((flags & 1) != 0) FixChecksums(file);
  const std::filesystem::path path = ScratchDir() / "layer.feat";
  WriteFile(path, file);

  absl::StatusOr<ShardInfo> info = evaluator::ReadShardInfo(path);
  if (!info.ok()) {
    CheckCode(info.status(), "ReadShardInfo", {absl::StatusCode::kDataLoss});
  } else {
    CheckInfo(*info, file.size());
  }

  uint64_t streamed = 0;
  absl::StatusOr<ShardInfo> streamed_info = evaluator::StreamShardPayload(
      path, [](const ShardInfo&) { return absl::OkStatus(); },
      [&](const char*, size_t n) {
        streamed += n;
        return absl::OkStatus();
      });
  if (!streamed_info.ok()) {
    CheckCode(streamed_info.status(), "StreamShardPayload",
              {absl::StatusCode::kDataLoss});
  } else if (streamed != static_cast<uint64_t>(streamed_info->rows) *
                             streamed_info->dims *
                             ElementBytes(streamed_info->dtype)) {
    Fail("StreamShardPayload: streamed bytes unlike the header");
  }

  absl::StatusOr<evaluator::Shard> shard = evaluator::ReadShard(path);
  if (!shard.ok()) {
    CheckCode(shard.status(), "ReadShard", {absl::StatusCode::kDataLoss});
    return 0;
  }
  CheckInfo(shard->info, file.size());
  const at::Tensor& t = shard->data;
  if (t.dim() != 2 || t.size(0) != shard->info.rows ||
      t.size(1) != shard->info.dims ||
      t.scalar_type() !=
          (shard->info.dtype == ShardDtype::kInt64 ? at::kLong : at::kFloat)) {
    Fail("ReadShard: tensor unlike the header");
  }
  return 0;
}
