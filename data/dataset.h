// Datasets on disk -> decoded examples: IDX (MNIST / Fashion-MNIST, gzipped or
// not), CIFAR-10/100 binary batches and image folders (JPEG / PNG, one
// sub-folder per class), with the study's splits and label subsets.
//
// Layouts (`DatasetSpec::path` is a directory):
//   idx:         {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
//                (a '.' instead of the second '-' is accepted too).
//   cifar:       CIFAR-10: data_batch_{1..5}.bin + test_batch.bin;
//                CIFAR-100: train.bin + test.bin (fine labels). The files may
//                also sit in a cifar-10-batches-bin/ or cifar-100-binary/
//                sub-folder.
//   imagefolder: <path>/train/<class>/<image> and <path>/test/<class>/<image>
//                (or <path>/val/<class>/ as the test set, as ImageNet keeps its
//                official validation set); when <path>/train does not exist,
//                <path>/<class>/ is the training set and there is no test set.
//                Classes are the sorted sub-folder names of the training set.
//                Images are JPEG or PNG (recognised by content, not by name),
//                colour or grayscale; EXIF orientation is ignored.
//
// Splits: kTrain = the training files minus a seeded, class-stratified
// `val_fraction`; kVal = that held-out part; kTest = the test files. The held-
// out part depends only on (path, val_fraction, seed). Label subsets (only for
// kTrain) and `max_examples` subsets are class-balanced and nested: for one
// seed the 1% subset is inside the 5% subset, which is inside the 10% one.
// Dataset indices 0..size()-1 follow the order of the files on disk.
#ifndef SSLAB_DATA_DATASET_H_
#define SSLAB_DATA_DATASET_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "experiment/vocabulary.h"

namespace sslab::data {

// Dataset splits and formats, as named in experiment/vocabulary.h.
using Split = experiment::Split;
using DatasetKind = experiment::DatasetKind;

// A dataset as named in a run's config.
struct DatasetSpec {
  DatasetKind kind = DatasetKind::kIdx;
  // A directory (see the layouts above).
  std::string path;
  // Fraction of each class of the training files held out as kVal; in [0, 1).
  double val_fraction = 0.1;
  // Seed of the val split and of the label / max_examples subsets.
  uint64_t seed = 0;
  // kTrain only: keep this fraction of the examples, the same number per
  // class (as far as classes have them); in (0, 1].
  double label_fraction = 1.0;
  // 0 = all; else a seeded class-balanced subset of at most this many
  // examples of the chosen split (after label_fraction). Meant for small CPU
  // runs and tests.
  int64_t max_examples = 0;
  // imagefolder: a corrupt image fails the job (DATA_LOSS from the loader)
  // instead of being skipped and counted in the loader's EpochStats.
  bool strict = false;
  // Channels of decoded images: 0 = the format's own (idx 1, cifar 3,
  // imagefolder 3); 1 or 3 converts while decoding (imagefolder) or on read.
  int channels = 0;
};

// One decoded example. `image` is uint8 [H, W, C], C = Dataset::channels();
// its memory belongs to the caller. `label` is the class in
// [0, num_classes()).
struct Example {
  at::Tensor image;
  int64_t label = 0;
  // 0, or the size of the full-resolution image when `image` was decoded at
  // a reduced scale (Dataset::GetScaled). Transforms place their crops in
  // full-resolution coordinates so that the scale does not move them.
  int full_height = 0;
  int full_width = 0;
};

// A read-only, indexable dataset split. All methods are thread-safe.
class Dataset {
 public:
  virtual ~Dataset();

  virtual int64_t size() const = 0;
  virtual int num_classes() const = 0;
  // Channels of the images Get returns (1 or 3).
  virtual int channels() const = 0;
  // Class names by label ("0".."9" for idx and cifar, folder names for
  // imagefolder).
  virtual const std::vector<std::string>& class_names() const = 0;

  // Decodes example `index`. Returns OUT_OF_RANGE for a bad index, DATA_LOSS
  // naming the file for a corrupt or unreadable image, NOT_FOUND naming the
  // file when it has disappeared.
  virtual absl::StatusOr<Example> Get(int64_t index) const = 0;

  // Like Get, but the reader may decode at a reduced scale: it calls
  // `min_scale(height, width)` with the full-resolution size and may return
  // an image downscaled by any factor >= the returned value (JPEGs are then
  // downscaled in the DCT domain, much faster than a full decode). It then
  // sets Example::full_height / full_width. Readers that cannot scale ignore
  // the callback (the default).
  virtual absl::StatusOr<Example> GetScaled(
      int64_t index,
      const std::function<double(int height, int width)>& min_scale) const;

  // For loaders: like GetScaled, but the reader may decode into `*buffer`
  // (grown as needed, reused by the caller across calls from one thread) and
  // return an image that views it, valid until the buffer's next use. This
  // avoids a fresh allocation and a copy per image. Default: GetScaled.
  virtual absl::StatusOr<Example> GetScaledInto(
      int64_t index,
      const std::function<double(int height, int width)>& min_scale,
      std::vector<uint8_t>* buffer) const;

  // The label of example `index` without decoding it; index must be valid.
  virtual int64_t label(int64_t index) const = 0;

  // Where example `index` comes from, for messages: a file path, or
  // "<file>#<record>" for record files.
  virtual std::string source(int64_t index) const = 0;

  // True when a DATA_LOSS from Get should be skipped and counted by a loader
  // rather than fail the job (imagefolder without `strict`).
  virtual bool skip_corrupt() const { return false; }
};

// Opens one split of a dataset. Returns INVALID_ARGUMENT naming the field for
// a bad spec ("dataset.kind", "dataset.val_fraction", ...), NOT_FOUND naming
// the path for a missing directory or file (or a missing test set), DATA_LOSS
// naming the file for truncated or malformed IDX / CIFAR files, and
// INVALID_ARGUMENT naming the folder for an empty class folder. IDX and CIFAR
// are read into memory (shared by the splits of one path while any is open);
// imagefolder only lists the files and decodes on Get, so it works for
// datasets larger than RAM.
absl::StatusOr<std::shared_ptr<const Dataset>> OpenDataset(
    const DatasetSpec& spec, Split split);

// What a run read, to tell later whether two runs read the same data:
// "N files, B bytes, sha256:<16 hex>" over the relative path and size of
// every regular file under `path` (a directory or a file), in path order,
// and the first 4 KiB of the first 64 of them (the headers of IDX and CIFAR
// files; an image folder is only listed). NOT_FOUND if `path` does not
// exist.
absl::StatusOr<std::string> DatasetFingerprint(
    const std::filesystem::path& path);

}  // namespace sslab::data

#endif  // SSLAB_DATA_DATASET_H_
