#include "data/internal/sources.h"

#include <ATen/ATen.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "data/internal/image_codec.h"

namespace sslab::data::internal {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> NumberedClassNames(int n) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back(std::to_string(i));
  return names;
}

// Converts HWC pixels between 1 and 3 channels (luma with ITU-R 601 weights).
void ConvertChannels(const uint8_t* src, int64_t pixels, int src_c, int dst_c,
                     uint8_t* dst) {
  if (src_c == dst_c) {
    std::memcpy(dst, src, pixels * src_c);
  } else if (src_c == 1) {
    for (int64_t i = 0; i < pixels; ++i) {
      dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = src[i];
    }
  } else {
    for (int64_t i = 0; i < pixels; ++i) {
      dst[i] = static_cast<uint8_t>((299 * src[3 * i] + 587 * src[3 * i + 1] +
                                     114 * src[3 * i + 2] + 500) /
                                    1000);
    }
  }
}

// ---------------------------------------------------------------------------
// In-memory record datasets (IDX, CIFAR).

struct ArrayData {
  std::vector<uint8_t> pixels;  // [n, h, w, c]
  std::vector<uint8_t> labels;  // [n]
  int64_t n = 0;
  int h = 0, w = 0, c = 0;
  int num_classes = 0;
  std::vector<std::string> class_names;
  // Record i came from files[file_of[i]] record i - first[file_of[i]].
  std::vector<std::string> files;
  std::vector<int64_t> file_first;  // first index of each file
};

class ArrayDataset final : public Dataset {
 public:
  ArrayDataset(std::shared_ptr<const ArrayData> data, int channels)
      : data_(std::move(data)),
        channels_(channels == 0 ? data_->c : channels) {}

  int64_t size() const override { return data_->n; }
  int num_classes() const override { return data_->num_classes; }
  int channels() const override { return channels_; }
  const std::vector<std::string>& class_names() const override {
    return data_->class_names;
  }
  int64_t label(int64_t index) const override { return data_->labels[index]; }
  std::string source(int64_t index) const override {
    const auto it = std::upper_bound(data_->file_first.begin(),
                                     data_->file_first.end(), index);
    const size_t f = static_cast<size_t>(it - data_->file_first.begin()) - 1;
    return absl::StrCat(data_->files[f], "#", index - data_->file_first[f]);
  }
  absl::StatusOr<Example> Get(int64_t index) const override {
    if (index < 0 || index >= data_->n) {
      return absl::OutOfRangeError(
          absl::StrCat("index ", index, " not in [0, ", data_->n, ")"));
    }
    const int64_t pixels = static_cast<int64_t>(data_->h) * data_->w;
    Example example;
    example.image = at::empty({data_->h, data_->w, channels_}, at::kByte);
    ConvertChannels(data_->pixels.data() + index * pixels * data_->c, pixels,
                    data_->c, channels_, example.image.data_ptr<uint8_t>());
    example.label = data_->labels[index];
    return example;
  }

 private:
  std::shared_ptr<const ArrayData> data_;
  int channels_;
};

// Datasets already in memory, shared while any split of them is open (the
// evaluator opens train, val and test of one path).
std::mutex cache_mu;
std::map<std::string, std::weak_ptr<const ArrayData>>& Cache() {
  static auto* cache =
      new std::map<std::string, std::weak_ptr<const ArrayData>>;
  return *cache;
}

template <typename Loader>
absl::StatusOr<std::shared_ptr<const ArrayData>> CachedLoad(
    const std::string& key, Loader load) {
  {
    std::lock_guard<std::mutex> lock(cache_mu);
    if (auto data = Cache()[key].lock()) return data;
  }
  SSLAB_ASSIGN_OR_RETURN(std::shared_ptr<const ArrayData> data, load());
  std::lock_guard<std::mutex> lock(cache_mu);
  Cache()[key] = data;
  return data;
}

absl::Status CheckDirectory(const std::string& path) {
  std::error_code ec;
  if (path.empty()) {
    return absl::InvalidArgumentError("dataset.path: empty");
  }
  if (!fs::exists(path, ec)) {
    return absl::NotFoundError(
        absl::StrCat("dataset.path: ", path, " does not exist"));
  }
  if (!fs::is_directory(path, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset.path: ", path, " is not a directory"));
  }
  return absl::OkStatus();
}

bool IsFile(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// Reads a file, gunzipping it when it is gzipped (zlib reads plain files
// through the same calls), up to max_bytes + 1 bytes of content: enough to
// tell that it is longer than max_bytes without inflating a gzip bomb.
absl::Status ReadMaybeGzipped(const std::string& path, size_t max_bytes,
                              std::string* out) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path));
  }
  gzbuffer(f, 1 << 17);
  out->clear();
  std::vector<char> chunk(1 << 20);
  while (out->size() <= max_bytes) {
    const size_t want = std::min(chunk.size(), max_bytes + 1 - out->size());
    const int n = gzread(f, chunk.data(), static_cast<unsigned>(want));
    if (n < 0) {
      int errnum = 0;
      const std::string message = gzerror(f, &errnum);
      gzclose(f);
      return absl::DataLossError(
          absl::StrCat(path, ": corrupt gzip data: ", message));
    }
    if (n == 0) break;
    out->append(chunk.data(), n);
  }
  int errnum = 0;
  const char* message = gzerror(f, &errnum);
  if (errnum != Z_OK && errnum != Z_STREAM_END) {
    const std::string text = message;
    gzclose(f);
    return absl::DataLossError(
        absl::StrCat(path, ": truncated or corrupt gzip data: ", text));
  }
  if (gzclose(f) != Z_OK) {
    return absl::DataLossError(
        absl::StrCat(path, ": truncated or corrupt gzip data"));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// IDX

// The most data an IDX file may declare: 4 GiB (EMNIST's largest is 0.6).
constexpr int64_t kMaxIdxDataBytes = int64_t{1} << 32;

struct IdxArray {
  std::vector<int64_t> dims;
  std::string bytes;  // the whole file; data starts at `offset`
  size_t offset = 0;
};

absl::StatusOr<IdxArray> ReadIdx(const std::string& path, int want_dims) {
  IdxArray array;
  // The header first, then no more than it declares (a gzip bomb inflates
  // no further than that).
  SSLAB_RETURN_IF_ERROR(ReadMaybeGzipped(
      path, 4 + 4 * static_cast<size_t>(want_dims), &array.bytes));
  const std::string& b = array.bytes;
  if (b.size() < 4) {
    return absl::DataLossError(
        absl::StrCat(path, ": truncated IDX file (", b.size(), " bytes)"));
  }
  const auto u8 = [&](size_t i) { return static_cast<uint8_t>(b[i]); };
  if (u8(0) != 0 || u8(1) != 0 || u8(2) != 0x08 || u8(3) != want_dims) {
    return absl::DataLossError(absl::StrFormat(
        "%s: wrong IDX magic number 0x%02x%02x%02x%02x (want 0x000008%02x: "
        "unsigned bytes, %d dimensions)",
        path, u8(0), u8(1), u8(2), u8(3), want_dims, want_dims));
  }
  array.offset = 4 + 4 * static_cast<size_t>(want_dims);
  if (b.size() < array.offset) {
    return absl::DataLossError(absl::StrCat(path, ": truncated IDX header"));
  }
  int64_t total = 1;
  for (int d = 0; d < want_dims; ++d) {
    const size_t o = 4 + 4 * d;
    const int64_t dim = (int64_t{u8(o)} << 24) | (u8(o + 1) << 16) |
                        (u8(o + 2) << 8) | u8(o + 3);
    if (dim <= 0 || dim > (int64_t{1} << 31)) {
      return absl::DataLossError(
          absl::StrCat(path, ": bad IDX dimension ", d, " = ", dim));
    }
    array.dims.push_back(dim);
    // Checked before multiplying: three 31-bit dimensions would overflow
    // int64 (2^31 x 2^31 x 2^31 wraps to 0) and pass the size checks below.
    if (total > kMaxIdxDataBytes / dim) {
      return absl::DataLossError(absl::StrCat(
          path, ": IDX header declares ", absl::StrJoin(array.dims, " x "),
          (d + 1 < want_dims ? " x ..." : ""), " bytes, more than the ",
          kMaxIdxDataBytes, " sslab reads"));
    }
    total *= dim;
  }
  SSLAB_RETURN_IF_ERROR(ReadMaybeGzipped(
      path, array.offset + static_cast<size_t>(total), &array.bytes));
  const int64_t have = static_cast<int64_t>(b.size() - array.offset);
  if (have < total) {
    return absl::DataLossError(
        absl::StrCat(path, ": truncated IDX file: ", have,
                     " data bytes, header says ", total));
  }
  if (have > total) {
    return absl::DataLossError(
        absl::StrCat(path, ": IDX file is longer than its header declares (",
                     absl::StrJoin(array.dims, " x "), " bytes)"));
  }
  return array;
}

absl::StatusOr<std::string> FindIdxFile(const std::string& dir,
                                        const std::string& prefix,
                                        const std::string& kind) {
  // kind: "images-idx3" / "labels-idx1".
  std::string dotted = kind;
  dotted[dotted.find('-')] = '.';
  for (const std::string& name : {kind, dotted}) {
    for (const char* suffix : {"-ubyte", "-ubyte.gz"}) {
      const fs::path p =
          fs::path(dir) / absl::StrCat(prefix, "-", name, suffix);
      if (IsFile(p)) return p.string();
    }
  }
  return absl::NotFoundError(absl::StrCat(
      "dataset.path: ",
      (fs::path(dir) / absl::StrCat(prefix, "-", kind, "-ubyte")).string(),
      "[.gz] not found"));
}

absl::StatusOr<std::shared_ptr<const ArrayData>> LoadIdx(
    const std::string& images_path, const std::string& labels_path) {
  SSLAB_ASSIGN_OR_RETURN(IdxArray images, ReadIdx(images_path, 3));
  SSLAB_ASSIGN_OR_RETURN(IdxArray labels, ReadIdx(labels_path, 1));
  if (images.dims[0] != labels.dims[0]) {
    return absl::DataLossError(
        absl::StrCat(images_path, " has ", images.dims[0], " images but ",
                     labels_path, " has ", labels.dims[0], " labels"));
  }
  auto data = std::make_shared<ArrayData>();
  data->n = images.dims[0];
  data->h = static_cast<int>(images.dims[1]);
  data->w = static_cast<int>(images.dims[2]);
  data->c = 1;
  data->pixels.assign(images.bytes.begin() + images.offset, images.bytes.end());
  data->labels.assign(labels.bytes.begin() + labels.offset, labels.bytes.end());
  int max_label = 0;
  for (uint8_t l : data->labels) max_label = std::max<int>(max_label, l);
  data->num_classes = max_label + 1;
  data->class_names = NumberedClassNames(data->num_classes);
  data->files = {images_path};
  data->file_first = {0};
  return std::shared_ptr<const ArrayData>(std::move(data));
}

// ---------------------------------------------------------------------------
// CIFAR

std::vector<std::string> ReadLines(const fs::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    line = std::string(absl::StripAsciiWhitespace(line));
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

absl::StatusOr<std::shared_ptr<const ArrayData>> LoadCifar(
    const std::vector<std::string>& files, bool cifar100,
    const fs::path& names_file) {
  const int label_bytes = cifar100 ? 2 : 1;
  const int num_classes = cifar100 ? 100 : 10;
  const size_t record = label_bytes + 3072;
  auto data = std::make_shared<ArrayData>();
  data->h = data->w = 32;
  data->c = 3;
  data->num_classes = num_classes;
  std::string bytes;
  for (const std::string& file : files) {
    SSLAB_RETURN_IF_ERROR(ReadFile(file, &bytes));
    if (bytes.empty() || bytes.size() % record != 0) {
      return absl::DataLossError(absl::StrCat(
          file, ": ", bytes.size(), " bytes is not a whole number of ", record,
          "-byte CIFAR-", num_classes, " records (truncated?)"));
    }
    const int64_t n = static_cast<int64_t>(bytes.size() / record);
    data->files.push_back(file);
    data->file_first.push_back(data->n);
    data->pixels.resize((data->n + n) * 3072);
    uint8_t* out = data->pixels.data() + data->n * 3072;
    for (int64_t r = 0; r < n; ++r) {
      const auto* rec =
          reinterpret_cast<const uint8_t*>(bytes.data()) + r * record;
      const int label = rec[label_bytes - 1];  // CIFAR-100: the fine label
      if (label >= num_classes) {
        return absl::DataLossError(absl::StrCat(file, "#", r, ": label ", label,
                                                " out of range for CIFAR-",
                                                num_classes));
      }
      data->labels.push_back(static_cast<uint8_t>(label));
      const uint8_t* planes = rec + label_bytes;  // CHW
      for (int p = 0; p < 1024; ++p) {
        out[3 * p] = planes[p];
        out[3 * p + 1] = planes[1024 + p];
        out[3 * p + 2] = planes[2048 + p];
      }
      out += 3072;
    }
    data->n += n;
  }
  data->class_names = ReadLines(names_file);
  if (static_cast<int>(data->class_names.size()) != num_classes) {
    data->class_names = NumberedClassNames(num_classes);
  }
  return std::shared_ptr<const ArrayData>(std::move(data));
}

// ---------------------------------------------------------------------------
// imagefolder

bool HasImageExtension(const fs::path& p) {
  const std::string ext = absl::AsciiStrToLower(p.extension().string());
  return ext == ".jpg" || ext == ".jpeg" || ext == ".jpe" || ext == ".png";
}

class ImageFolderDataset final : public Dataset {
 public:
  ImageFolderDataset(std::vector<std::string> class_names,
                     std::vector<std::string> class_dirs, int channels,
                     bool strict)
      : class_names_(std::move(class_names)),
        class_dirs_(std::move(class_dirs)),
        channels_(channels == 0 ? 3 : channels),
        strict_(strict) {}

  void Add(int label, const std::string& name) {
    offsets_.push_back(static_cast<uint64_t>(names_.size()));
    names_ += name;
    labels_.push_back(label);
  }
  void Finish() { offsets_.push_back(names_.size()); }

  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  int num_classes() const override {
    return static_cast<int>(class_names_.size());
  }
  int channels() const override { return channels_; }
  const std::vector<std::string>& class_names() const override {
    return class_names_;
  }
  int64_t label(int64_t index) const override { return labels_[index]; }
  bool skip_corrupt() const override { return !strict_; }

  std::string source(int64_t index) const override {
    return absl::StrCat(
        class_dirs_[labels_[index]], "/",
        absl::string_view(names_).substr(
            offsets_[index], offsets_[index + 1] - offsets_[index]));
  }

  absl::StatusOr<Example> Get(int64_t index) const override {
    return Decode(index, nullptr, nullptr);
  }
  absl::StatusOr<Example> GetScaled(
      int64_t index,
      const std::function<double(int, int)>& min_scale) const override {
    return Decode(index, &min_scale, nullptr);
  }
  absl::StatusOr<Example> GetScaledInto(
      int64_t index, const std::function<double(int, int)>& min_scale,
      std::vector<uint8_t>* buffer) const override {
    return Decode(index, &min_scale, buffer);
  }

 private:
  // Decodes into `buffer` and returns a view of it, or (buffer == nullptr)
  // into a thread-local buffer and returns a copy.
  absl::StatusOr<Example> Decode(
      int64_t index, const std::function<double(int, int)>* min_scale,
      std::vector<uint8_t>* buffer) const {
    if (index < 0 || index >= size()) {
      return absl::OutOfRangeError(
          absl::StrCat("index ", index, " not in [0, ", size(), ")"));
    }
    const std::string path = source(index);
    thread_local std::string bytes;
    thread_local std::vector<uint8_t> own_buffer;
    SSLAB_RETURN_IF_ERROR(ReadFile(path, &bytes));
    DecodedImage decoded;
    decoded.buffer = buffer != nullptr ? buffer : &own_buffer;
    absl::Status status =
        DecodeImage(bytes, channels_, path, min_scale, &decoded);
    // Do not keep one huge file's worth of memory per thread.
    if (bytes.capacity() > (size_t{32} << 20)) std::string().swap(bytes);
    if (!status.ok()) return status;
    Example example;
    if (buffer != nullptr) {
      example.image =
          at::from_blob(buffer->data(),
                        {decoded.height, decoded.width, channels_}, at::kByte);
    } else {
      example.image =
          at::empty({decoded.height, decoded.width, channels_}, at::kByte);
      std::memcpy(example.image.data_ptr<uint8_t>(), own_buffer.data(),
                  example.image.numel());
      if (own_buffer.size() > (size_t{64} << 20)) {
        std::vector<uint8_t>().swap(own_buffer);
      }
    }
    example.label = labels_[index];
    if (decoded.height != decoded.full_height ||
        decoded.width != decoded.full_width) {
      example.full_height = decoded.full_height;
      example.full_width = decoded.full_width;
    }
    return example;
  }

  std::vector<std::string> class_names_;
  std::vector<std::string> class_dirs_;
  int channels_;
  bool strict_;
  // File names packed in one string: example i is
  // names_[offsets_[i], offsets_[i+1]) in class_dirs_[labels_[i]]; this keeps
  // ImageNet's 1.28M names in ~30 MB.
  std::string names_;
  std::vector<uint64_t> offsets_;
  std::vector<int32_t> labels_;
};

absl::StatusOr<std::vector<std::string>> ListSubdirectories(
    const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_directory(ec) && it->path().filename().string()[0] != '.') {
      names.push_back(it->path().filename().string());
    }
  }
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat("cannot list ", dir.string(), ": ", ec.message()));
  }
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<std::vector<std::string>> ListImages(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name[0] != '.' && HasImageExtension(it->path()) &&
        it->is_regular_file(ec)) {
      names.push_back(name);
    }
  }
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat("cannot list ", dir.string(), ": ", ec.message()));
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Dataset>> OpenIdx(const std::string& path,
                                                       bool test,
                                                       int channels) {
  SSLAB_RETURN_IF_ERROR(CheckDirectory(path));
  const std::string prefix = test ? "t10k" : "train";
  SSLAB_ASSIGN_OR_RETURN(std::string images,
                         FindIdxFile(path, prefix, "images-idx3"));
  SSLAB_ASSIGN_OR_RETURN(std::string labels,
                         FindIdxFile(path, prefix, "labels-idx1"));
  SSLAB_ASSIGN_OR_RETURN(
      std::shared_ptr<const ArrayData> data,
      CachedLoad(
          absl::StrCat("idx\n", fs::absolute(images).string(), "\n", labels),
          [&] { return LoadIdx(images, labels); }));
  return std::shared_ptr<const Dataset>(
      std::make_shared<ArrayDataset>(std::move(data), channels));
}

absl::StatusOr<std::shared_ptr<const Dataset>> OpenCifar(
    const std::string& path, bool test, int channels) {
  SSLAB_RETURN_IF_ERROR(CheckDirectory(path));
  fs::path dir = path;
  for (const char* sub : {"cifar-10-batches-bin", "cifar-100-binary"}) {
    if (fs::is_directory(dir / sub)) dir /= sub;
  }
  bool cifar100;
  if (IsFile(dir / "data_batch_1.bin")) {
    cifar100 = false;
  } else if (IsFile(dir / "train.bin")) {
    cifar100 = true;
  } else {
    return absl::NotFoundError(
        absl::StrCat("dataset.path: neither ",
                     (dir / "data_batch_1.bin").string(), " (CIFAR-10) nor ",
                     (dir / "train.bin").string(), " (CIFAR-100) found"));
  }
  std::vector<std::string> files;
  if (cifar100) {
    files.push_back((dir / (test ? "test.bin" : "train.bin")).string());
  } else if (test) {
    files.push_back((dir / "test_batch.bin").string());
  } else {
    for (int i = 1; i <= 5; ++i) {
      files.push_back((dir / absl::StrCat("data_batch_", i, ".bin")).string());
    }
  }
  for (const std::string& f : files) {
    if (!IsFile(f)) {
      return absl::NotFoundError(
          absl::StrCat("dataset.path: ", f, " not found"));
    }
  }
  const fs::path names =
      dir / (cifar100 ? "fine_label_names.txt" : "batches.meta.txt");
  SSLAB_ASSIGN_OR_RETURN(
      std::shared_ptr<const ArrayData> data,
      CachedLoad(absl::StrCat("cifar\n", fs::absolute(files[0]).string()),
                 [&] { return LoadCifar(files, cifar100, names); }));
  return std::shared_ptr<const Dataset>(
      std::make_shared<ArrayDataset>(std::move(data), channels));
}

absl::StatusOr<std::shared_ptr<const Dataset>> OpenImageFolder(
    const std::string& path, bool test, int channels, bool strict) {
  SSLAB_RETURN_IF_ERROR(CheckDirectory(path));
  const fs::path root = path;
  fs::path train_dir = root, test_dir;
  if (fs::is_directory(root / "train")) {
    train_dir = root / "train";
    if (fs::is_directory(root / "test")) {
      test_dir = root / "test";
    } else if (fs::is_directory(root / "val")) {
      test_dir = root / "val";
    }
  }
  SSLAB_ASSIGN_OR_RETURN(std::vector<std::string> classes,
                         ListSubdirectories(train_dir));
  if (classes.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset.path: no class folders in ", train_dir.string()));
  }
  if (test && test_dir.empty()) {
    return absl::NotFoundError(
        absl::StrCat("dataset.path: no test set: neither ",
                     (root / "test").string(), " nor ", (root / "val").string(),
                     " is a directory (with ", (root / "train").string(), ")"));
  }
  const fs::path dir = test ? test_dir : train_dir;
  std::vector<std::string> class_dirs;
  for (const std::string& c : classes) class_dirs.push_back((dir / c).string());
  auto dataset = std::make_shared<ImageFolderDataset>(classes, class_dirs,
                                                      channels, strict);
  if (test) {
    SSLAB_ASSIGN_OR_RETURN(std::vector<std::string> test_classes,
                           ListSubdirectories(test_dir));
    for (const std::string& c : test_classes) {
      if (!std::binary_search(classes.begin(), classes.end(), c)) {
        return absl::InvalidArgumentError(
            absl::StrCat("dataset.path: class folder ", (test_dir / c).string(),
                         " has no counterpart in ", train_dir.string()));
      }
    }
  }
  for (size_t label = 0; label < classes.size(); ++label) {
    const fs::path class_dir = dir / classes[label];
    if (test && !fs::is_directory(class_dir)) continue;  // class absent in test
    SSLAB_ASSIGN_OR_RETURN(std::vector<std::string> images,
                           ListImages(class_dir));
    if (images.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("dataset.path: class folder ", class_dir.string(),
                       " holds no .jpg/.jpeg/.png images"));
    }
    for (const std::string& name : images) {
      dataset->Add(static_cast<int>(label), name);
    }
  }
  dataset->Finish();
  return std::shared_ptr<const Dataset>(std::move(dataset));
}

}  // namespace sslab::data::internal
