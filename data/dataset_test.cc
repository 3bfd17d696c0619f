#include "data/dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "data/internal/image_codec.h"
#include "data/internal/test_files.h"

namespace sslab::data {
namespace {

namespace fs = std::filesystem;
using ::sslab::testing::StatusIs;
using ::testing::HasSubstr;

std::vector<uint8_t> CyclicLabels(int n, int classes) {
  std::vector<uint8_t> labels(n);
  for (int i = 0; i < n; ++i) labels[i] = static_cast<uint8_t>(i % classes);
  return labels;
}

DatasetSpec Spec(const std::string& kind, const std::string& path) {
  DatasetSpec spec;
  // An unknown kind stays a value outside the vocabulary.
  spec.kind = experiment::Parse<DatasetKind>(kind).value_or(
      static_cast<DatasetKind>(-1));
  spec.path = path;
  return spec;
}

TEST(IdxTest, ReadsPlainAndGzippedFiles) {
  for (bool gzip : {false, true}) {
    const std::string dir = testing::MakeTempDir("idx");
    testing::WriteIdx(dir, "train", 40, 5, 4, CyclicLabels(40, 4), gzip);
    testing::WriteIdx(dir, "t10k", 8, 5, 4, CyclicLabels(8, 4), gzip);
    DatasetSpec spec = Spec("idx", dir);
    spec.val_fraction = 0;
    ASSERT_OK_AND_ASSIGN(auto train, OpenDataset(spec, Split::kTrain));
    ASSERT_OK_AND_ASSIGN(auto test, OpenDataset(spec, Split::kTest));
    EXPECT_EQ(train->size(), 40);
    EXPECT_EQ(test->size(), 8);
    EXPECT_EQ(train->num_classes(), 4);
    EXPECT_EQ(train->channels(), 1);
    ASSERT_OK_AND_ASSIGN(Example e, train->Get(3));
    EXPECT_EQ(e.image.sizes(), (std::vector<int64_t>{5, 4, 1}));
    EXPECT_EQ(e.label, 3);
    EXPECT_EQ(e.image[0][0][0].item<uint8_t>(), 21);  // (3 * 7 + 0) % 256
    EXPECT_EQ(e.image[1][2][0].item<uint8_t>(), 27);  // pixel 6
    EXPECT_THAT(train->source(3), HasSubstr("train-images-idx3-ubyte"));
    EXPECT_THAT(train->Get(40), StatusIs(absl::StatusCode::kOutOfRange));
  }
}

TEST(IdxTest, ConvertsChannelsOnRequest) {
  const std::string dir = testing::MakeTempDir("idx3");
  testing::WriteIdx(dir, "train", 4, 3, 3, CyclicLabels(4, 2), false);
  DatasetSpec spec = Spec("idx", dir);
  spec.val_fraction = 0;
  spec.channels = 3;
  ASSERT_OK_AND_ASSIGN(auto train, OpenDataset(spec, Split::kTrain));
  ASSERT_OK_AND_ASSIGN(Example e, train->Get(1));
  EXPECT_EQ(e.image.sizes(), (std::vector<int64_t>{3, 3, 3}));
  EXPECT_TRUE(torch::equal(e.image.select(2, 0), e.image.select(2, 2)));
}

TEST(IdxTest, FashionMnistRealCounts) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " not installed";
  DatasetSpec spec = Spec("idx", dir);
  spec.val_fraction = 0;
  ASSERT_OK_AND_ASSIGN(auto train, OpenDataset(spec, Split::kTrain));
  ASSERT_OK_AND_ASSIGN(auto test, OpenDataset(spec, Split::kTest));
  EXPECT_EQ(train->size(), 60000);
  EXPECT_EQ(test->size(), 10000);
  EXPECT_EQ(train->num_classes(), 10);
  ASSERT_OK_AND_ASSIGN(Example e, test->Get(9999));
  EXPECT_EQ(e.image.sizes(), (std::vector<int64_t>{28, 28, 1}));
  // The default 10% stratified hold-out: 600 of each class's 6000.
  spec.val_fraction = 0.1;
  ASSERT_OK_AND_ASSIGN(auto val, OpenDataset(spec, Split::kVal));
  ASSERT_OK_AND_ASSIGN(auto rest, OpenDataset(spec, Split::kTrain));
  EXPECT_EQ(val->size(), 6000);
  EXPECT_EQ(rest->size(), 54000);
  std::vector<int> per_class(10, 0);
  for (int64_t i = 0; i < val->size(); ++i) ++per_class[val->label(i)];
  EXPECT_THAT(per_class, ::testing::Each(600));
}

TEST(IdxTest, BadFilesAreNamed) {
  const std::string dir = testing::MakeTempDir("idxbad");
  DatasetSpec spec = Spec("idx", dir);
  // Missing files.
  EXPECT_THAT(OpenDataset(spec, Split::kTrain),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("train-images-idx3-ubyte")));
  // Wrong magic number.
  std::string images = testing::IdxImagesBytes(10, 4, 4);
  std::string bad_magic = images;
  bad_magic[3] = 2;
  testing::WriteBytes(dir + "/train-images-idx3-ubyte", bad_magic);
  testing::WriteBytes(dir + "/train-labels-idx1-ubyte",
                      testing::IdxLabelsBytes(CyclicLabels(10, 2)));
  EXPECT_THAT(OpenDataset(spec, Split::kTrain),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::AllOf(HasSubstr("train-images-idx3-ubyte"),
                                        HasSubstr("magic"))));
  // Truncated data.
  testing::WriteBytes(dir + "/train-images-idx3-ubyte",
                      images.substr(0, images.size() - 5));
  EXPECT_THAT(OpenDataset(spec, Split::kTrain),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::AllOf(HasSubstr("train-images-idx3-ubyte"),
                                        HasSubstr("truncated"))));
  // A header whose dimensions multiply past int64 (2^31 x 2^31 x 2^31) on a
  // file with no data: an error, not a wrapped size.
  std::string huge = images.substr(0, 16);
  for (int d = 0; d < 3; ++d) {
    huge[4 + 4 * d] = static_cast<char>(0x80);
    huge[5 + 4 * d] = huge[6 + 4 * d] = huge[7 + 4 * d] = 0;
  }
  testing::WriteBytes(dir + "/train-images-idx3-ubyte", huge);
  EXPECT_THAT(OpenDataset(spec, Split::kTrain),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::AllOf(HasSubstr("train-images-idx3-ubyte"),
                                        HasSubstr("declares"))));
  // A gzip bomb: a 16-byte header declaring 10 images of 4 x 4, then 64 MiB
  // of zeros that compress to ~64 KiB. Reading stops past what the header
  // declares instead of inflating it all.
  std::string bomb = images.substr(0, 16);
  bomb.append(size_t{64} << 20, '\0');
  testing::WriteBytes(dir + "/train-images-idx3-ubyte.gz", bomb,
                      /*gzip=*/true);
  fs::remove(dir + "/train-images-idx3-ubyte");
  EXPECT_THAT(OpenDataset(spec, Split::kTrain),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::AllOf(HasSubstr("train-images-idx3-ubyte.gz"),
                                        HasSubstr("longer than its header"))));
  fs::remove(dir + "/train-images-idx3-ubyte.gz");
  // Truncated gzip stream.
  fs::remove(dir + "/train-images-idx3-ubyte");
  const std::string gz_path = dir + "/train-images-idx3-ubyte.gz";
  testing::WriteBytes(gz_path, images, /*gzip=*/true);
  std::string gz;
  ASSERT_OK(internal::ReadFile(gz_path, &gz));
  testing::WriteBytes(gz_path, gz.substr(0, gz.size() / 2));
  EXPECT_THAT(OpenDataset(spec, Split::kTrain),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(gz_path)));
  // Image and label counts differ.
  testing::WriteBytes(gz_path, images, /*gzip=*/true);
  testing::WriteBytes(dir + "/train-labels-idx1-ubyte",
                      testing::IdxLabelsBytes(CyclicLabels(9, 2)));
  EXPECT_THAT(OpenDataset(spec, Split::kTrain),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("labels")));
}

TEST(FingerprintTest, ChangesWithTheFilesAndNotWithTheirPlace) {
  const std::string a = testing::MakeTempDir("fp_a");
  testing::WriteIdx(a, "train", 40, 5, 4, CyclicLabels(40, 4), false);
  testing::WriteIdx(a, "t10k", 8, 5, 4, CyclicLabels(8, 4), false);
  const std::string b = testing::MakeTempDir("fp_b");
  testing::WriteIdx(b, "train", 40, 5, 4, CyclicLabels(40, 4), false);
  testing::WriteIdx(b, "t10k", 8, 5, 4, CyclicLabels(8, 4), false);
  ASSERT_OK_AND_ASSIGN(const std::string first, DatasetFingerprint(a));
  EXPECT_THAT(first, ::testing::MatchesRegex(
                         "4 files, [0-9]+ bytes, sha256:[0-9a-f]{16}"));
  // The same files elsewhere: the same fingerprint.
  ASSERT_OK_AND_ASSIGN(const std::string copy, DatasetFingerprint(b));
  EXPECT_EQ(copy, first);
  // Other contents (a different image count in a header): another one.
  testing::WriteIdx(b, "t10k", 9, 5, 4, CyclicLabels(9, 4), false);
  ASSERT_OK_AND_ASSIGN(const std::string changed, DatasetFingerprint(b));
  EXPECT_NE(changed, first);
  EXPECT_THAT(DatasetFingerprint(a + "/missing"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(SpecTest, RejectsBadFieldsByName) {
  const std::string dir = testing::MakeTempDir("spec");
  DatasetSpec spec = Spec("lmdb", dir);
  EXPECT_THAT(
      OpenDataset(spec, Split::kTrain),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset.kind")));
  spec.kind = DatasetKind::kIdx;
  spec.val_fraction = 1.0;
  EXPECT_THAT(OpenDataset(spec, Split::kTrain),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dataset.val_fraction")));
  spec.val_fraction = 0.1;
  spec.label_fraction = 0;
  EXPECT_THAT(OpenDataset(spec, Split::kTrain),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dataset.label_fraction")));
  spec.label_fraction = 1;
  spec.max_examples = -1;
  EXPECT_THAT(OpenDataset(spec, Split::kTrain),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dataset.max_examples")));
  spec.max_examples = 0;
  spec.channels = 2;
  EXPECT_THAT(OpenDataset(spec, Split::kTrain),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dataset.channels: 2 not one of 0, 1, 3")));
  spec.channels = 0;
  spec.path = dir + "/missing";
  EXPECT_THAT(
      OpenDataset(spec, Split::kTrain),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr(dir + "/missing")));
  spec.path = dir + "/a-file";
  std::ofstream(spec.path) << "not a dataset";
  for (DatasetKind kind :
       {DatasetKind::kIdx, DatasetKind::kCifar, DatasetKind::kImageFolder}) {
    spec.kind = kind;
    EXPECT_THAT(OpenDataset(spec, Split::kTrain),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("dataset.path: " + spec.path +
                                   " is not a directory")));
  }
}

class SplitTest : public ::testing::Test {
 protected:
  // 10 classes x 100 examples, labels cyclic.
  void SetUp() override {
    dir_ = testing::MakeTempDir("split");
    testing::WriteIdx(dir_, "train", 1000, 2, 2, CyclicLabels(1000, 10), false);
    testing::WriteIdx(dir_, "t10k", 50, 2, 2, CyclicLabels(50, 10), false);
  }
  std::vector<int64_t> Members(const Dataset& d) {
    // Source names "<file>#<record>": the record is the base index.
    std::vector<int64_t> out;
    for (int64_t i = 0; i < d.size(); ++i) {
      const std::string s = d.source(i);
      out.push_back(std::stoll(s.substr(s.rfind('#') + 1)));
    }
    return out;
  }
  std::string dir_;
};

TEST_F(SplitTest, ValIsStratifiedDisjointAndSeeded) {
  DatasetSpec spec = Spec("idx", dir_);
  spec.val_fraction = 0.2;
  spec.seed = 7;
  ASSERT_OK_AND_ASSIGN(auto train, OpenDataset(spec, Split::kTrain));
  ASSERT_OK_AND_ASSIGN(auto val, OpenDataset(spec, Split::kVal));
  ASSERT_OK_AND_ASSIGN(auto test, OpenDataset(spec, Split::kTest));
  EXPECT_EQ(train->size(), 800);
  EXPECT_EQ(val->size(), 200);
  EXPECT_EQ(test->size(), 50);
  std::vector<int> per_class(10, 0);
  for (int64_t i = 0; i < val->size(); ++i) ++per_class[val->label(i)];
  EXPECT_THAT(per_class, ::testing::Each(20));
  const std::vector<int64_t> t = Members(*train), v = Members(*val);
  std::set<int64_t> all(t.begin(), t.end());
  all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 1000u);  // disjoint and complete
  // Same seed, same split; another seed, another split.
  ASSERT_OK_AND_ASSIGN(auto val_again, OpenDataset(spec, Split::kVal));
  EXPECT_EQ(Members(*val_again), v);
  spec.seed = 8;
  ASSERT_OK_AND_ASSIGN(auto val_other, OpenDataset(spec, Split::kVal));
  EXPECT_NE(Members(*val_other), v);
  // Labels follow the base examples.
  for (int64_t i = 0; i < val->size(); ++i) {
    ASSERT_OK_AND_ASSIGN(Example e, val->Get(i));
    EXPECT_EQ(e.label, val->label(i));
    EXPECT_EQ(e.label, v[i] % 10);
  }
}

TEST_F(SplitTest, LabelSubsetsAreBalancedNestedAndOutsideVal) {
  DatasetSpec spec = Spec("idx", dir_);
  spec.val_fraction = 0.1;
  spec.seed = 3;
  ASSERT_OK_AND_ASSIGN(auto val, OpenDataset(spec, Split::kVal));
  const std::vector<int64_t> v = Members(*val);
  std::vector<std::vector<int64_t>> subsets;
  for (double fraction : {0.1, 0.05, 0.01}) {
    spec.label_fraction = fraction;
    ASSERT_OK_AND_ASSIGN(auto sub, OpenDataset(spec, Split::kTrain));
    EXPECT_EQ(sub->size(), std::llround(900 * fraction)) << fraction;
    std::vector<int> per_class(10, 0);
    for (int64_t i = 0; i < sub->size(); ++i) ++per_class[sub->label(i)];
    const int expected = static_cast<int>(std::llround(900 * fraction)) / 10;
    for (int c = 0; c < 10; ++c) {
      EXPECT_NEAR(per_class[c], expected, 1)
          << "class " << c << " at " << fraction;
    }
    const std::vector<int64_t> m = Members(*sub);
    for (int64_t x : m) EXPECT_FALSE(std::binary_search(v.begin(), v.end(), x));
    subsets.push_back(m);
  }
  // 1% inside 5% inside 10%.
  EXPECT_TRUE(std::includes(subsets[0].begin(), subsets[0].end(),
                            subsets[1].begin(), subsets[1].end()));
  EXPECT_TRUE(std::includes(subsets[1].begin(), subsets[1].end(),
                            subsets[2].begin(), subsets[2].end()));
  // Label fractions do not apply to val / test.
  ASSERT_OK_AND_ASSIGN(auto test, OpenDataset(spec, Split::kTest));
  EXPECT_EQ(test->size(), 50);
}

TEST_F(SplitTest, MaxExamplesIsBalancedAndSeeded) {
  DatasetSpec spec = Spec("idx", dir_);
  spec.max_examples = 35;
  ASSERT_OK_AND_ASSIGN(auto test, OpenDataset(spec, Split::kTest));
  EXPECT_EQ(test->size(), 35);
  std::vector<int> per_class(10, 0);
  for (int64_t i = 0; i < test->size(); ++i) ++per_class[test->label(i)];
  for (int c = 0; c < 10; ++c)
    EXPECT_TRUE(per_class[c] == 3 || per_class[c] == 4);
  ASSERT_OK_AND_ASSIGN(auto train, OpenDataset(spec, Split::kTrain));
  EXPECT_EQ(train->size(), 35);
  spec.max_examples = 100000;  // more than there are: all
  ASSERT_OK_AND_ASSIGN(auto all, OpenDataset(spec, Split::kTest));
  EXPECT_EQ(all->size(), 50);
}

TEST(CifarTest, ReadsCifar10And100) {
  const std::string dir10 = testing::MakeTempDir("cifar10");
  const std::string sub = dir10 + "/cifar-10-batches-bin";
  for (int b = 1; b <= 5; ++b) {
    testing::WriteBytes(absl::StrCat(sub, "/data_batch_", b, ".bin"),
                        testing::CifarBytes(CyclicLabels(6, 10), false));
  }
  testing::WriteBytes(sub + "/test_batch.bin",
                      testing::CifarBytes(CyclicLabels(4, 10), false));
  DatasetSpec spec = Spec("cifar", dir10);
  spec.val_fraction = 0;
  ASSERT_OK_AND_ASSIGN(auto train, OpenDataset(spec, Split::kTrain));
  ASSERT_OK_AND_ASSIGN(auto test, OpenDataset(spec, Split::kTest));
  EXPECT_EQ(train->size(), 30);
  EXPECT_EQ(test->size(), 4);
  EXPECT_EQ(train->num_classes(), 10);
  EXPECT_EQ(train->channels(), 3);
  ASSERT_OK_AND_ASSIGN(Example e, train->Get(8));  // batch 2, record 2
  EXPECT_EQ(e.label, 2);
  EXPECT_EQ(e.image.sizes(), (std::vector<int64_t>{32, 32, 3}));
  EXPECT_EQ(e.image[0][5][0].item<uint8_t>(), 7);  // (2 + 5) % 256, HWC
  EXPECT_EQ(e.image[0][5][1].item<uint8_t>(), 0);
  EXPECT_THAT(train->source(8), HasSubstr("data_batch_2.bin#2"));

  const std::string dir100 = testing::MakeTempDir("cifar100");
  testing::WriteBytes(dir100 + "/train.bin",
                      testing::CifarBytes(CyclicLabels(200, 100), true));
  testing::WriteBytes(dir100 + "/test.bin",
                      testing::CifarBytes(CyclicLabels(100, 100), true));
  DatasetSpec spec100 = Spec("cifar", dir100);
  spec100.val_fraction = 0;
  ASSERT_OK_AND_ASSIGN(auto train100, OpenDataset(spec100, Split::kTrain));
  EXPECT_EQ(train100->size(), 200);
  EXPECT_EQ(train100->num_classes(), 100);
  EXPECT_EQ(train100->label(57), 57);  // the fine label
}

TEST(CifarTest, BadFilesAreNamed) {
  const std::string dir = testing::MakeTempDir("cifarbad");
  DatasetSpec spec = Spec("cifar", dir);
  EXPECT_THAT(
      OpenDataset(spec, Split::kTrain),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("data_batch_1.bin")));
  for (int b = 1; b <= 4; ++b) {
    testing::WriteBytes(absl::StrCat(dir, "/data_batch_", b, ".bin"),
                        testing::CifarBytes(CyclicLabels(2, 10), false));
  }
  EXPECT_THAT(
      OpenDataset(spec, Split::kTrain),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("data_batch_5.bin")));
  std::string truncated = testing::CifarBytes(CyclicLabels(2, 10), false);
  truncated.resize(truncated.size() - 100);
  testing::WriteBytes(dir + "/data_batch_5.bin", truncated);
  EXPECT_THAT(
      OpenDataset(spec, Split::kTrain),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("data_batch_5.bin")));
  // A record whose label is past CIFAR-10's classes: the file and record.
  testing::WriteBytes(dir + "/data_batch_5.bin",
                      testing::CifarBytes({3, 10}, false));
  EXPECT_THAT(OpenDataset(spec, Split::kTrain),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("data_batch_5.bin#1: label 10 out of range "
                                 "for CIFAR-10")));
}

TEST(ImageFolderTest, ReadsJpegAndPngTreesWithSplits) {
  const std::string root = testing::MakeTempDir("folder");
  testing::WriteImageTree(root + "/train", {"cat", "dog"}, 5, 40, 60, 3, "jpg");
  testing::WriteImageTree(root + "/train", {"emu"}, 5, 30, 20, 1, "png");
  testing::WriteImageTree(root + "/val", {"dog", "emu"}, 2, 33, 33, 3, "png");
  testing::WriteBytes(root + "/train/cat/notes.txt", "not an image");
  DatasetSpec spec = Spec("imagefolder", root);
  spec.val_fraction = 0.2;
  ASSERT_OK_AND_ASSIGN(auto train, OpenDataset(spec, Split::kTrain));
  ASSERT_OK_AND_ASSIGN(auto val, OpenDataset(spec, Split::kVal));
  ASSERT_OK_AND_ASSIGN(auto test, OpenDataset(spec, Split::kTest));
  EXPECT_EQ(train->size(), 12);
  EXPECT_EQ(val->size(), 3);
  EXPECT_EQ(test->size(), 4);
  EXPECT_EQ(train->num_classes(), 3);
  EXPECT_THAT(train->class_names(),
              ::testing::ElementsAre("cat", "dog", "emu"));
  EXPECT_EQ(test->label(0), 1);  // test classes map to train's labels
  EXPECT_EQ(test->label(3), 2);
  for (int64_t i = 0; i < train->size(); ++i) {
    ASSERT_OK_AND_ASSIGN(Example e, train->Get(i));
    EXPECT_EQ(e.image.size(2), 3);
    EXPECT_EQ(e.label, train->label(i));
    if (e.label == 2) {  // grayscale PNG replicated to RGB
      EXPECT_EQ(e.image.sizes(), (std::vector<int64_t>{30, 20, 3}));
      EXPECT_TRUE(torch::equal(e.image.select(2, 0), e.image.select(2, 1)));
    } else {
      EXPECT_EQ(e.image.sizes(), (std::vector<int64_t>{40, 60, 3}));
    }
  }
  // A decoded JPEG is close to the picture it was made from.
  ASSERT_OK_AND_ASSIGN(Example first,
                       OpenDataset(spec, Split::kTest).value()->Get(0));
  const std::vector<uint8_t> px = testing::TestPicture(33, 33, 3, 0);
  const auto expected = torch::from_blob(const_cast<uint8_t*>(px.data()),
                                         {33, 33, 3}, torch::kByte);
  EXPECT_TRUE(torch::equal(first.image, expected));  // PNG: lossless
  // Gray decoding on request.
  spec.channels = 1;
  ASSERT_OK_AND_ASSIGN(auto gray, OpenDataset(spec, Split::kTrain));
  ASSERT_OK_AND_ASSIGN(Example g, gray->Get(0));
  EXPECT_EQ(g.image.size(2), 1);
}

TEST(ImageFolderTest, DecodesLargeJpegsAtReducedScale) {
  const std::string root = testing::MakeTempDir("scaled");
  testing::WriteImageTree(root, {"a"}, 1, 400, 320, 3, "jpg");
  DatasetSpec spec = Spec("imagefolder", root);
  spec.val_fraction = 0;
  ASSERT_OK_AND_ASSIGN(auto d, OpenDataset(spec, Split::kTrain));
  int seen_h = 0, seen_w = 0;
  ASSERT_OK_AND_ASSIGN(Example e, d->GetScaled(0, [&](int h, int w) {
    seen_h = h;
    seen_w = w;
    return 0.3;
  }));
  EXPECT_EQ(seen_h, 400);
  EXPECT_EQ(seen_w, 320);
  // The smallest of 1/2, 1/4, 1/8 that is >= 0.3.
  EXPECT_EQ(e.image.sizes(), (std::vector<int64_t>{200, 160, 3}));
  EXPECT_EQ(e.full_height, 400);
  EXPECT_EQ(e.full_width, 320);
  ASSERT_OK_AND_ASSIGN(Example full,
                       d->GetScaled(0, [](int, int) { return 1.0; }));
  EXPECT_EQ(full.image.size(0), 400);
  EXPECT_EQ(full.full_height, 0);
}

TEST(ImageFolderTest, CorruptImagesAreDataLossNamingTheFile) {
  const std::string root = testing::MakeTempDir("corrupt");
  testing::WriteImageTree(root, {"a"}, 4, 64, 64, 3, "jpg");
  const std::string a = root + "/a/";
  std::string jpeg;
  ASSERT_OK(internal::ReadFile(a + "img0.jpg", &jpeg));
  testing::WriteBytes(a + "img1.jpg", "");  // zero bytes
  testing::WriteBytes(a + "img2.jpg",
                      jpeg.substr(0, jpeg.size() / 2));  // truncated
  std::string garbage = jpeg;
  for (size_t i = 2; i < 200 && i < garbage.size(); ++i) garbage[i] = 'x';
  testing::WriteBytes(a + "img3.jpg", garbage);  // bad header
  testing::WriteBytes(a + "img4.png", "\x89PNG\r\n\x1a\n garbage");  // bad PNG
  DatasetSpec spec = Spec("imagefolder", root);
  spec.val_fraction = 0;
  ASSERT_OK_AND_ASSIGN(auto d, OpenDataset(spec, Split::kTrain));
  ASSERT_EQ(d->size(), 5);
  EXPECT_OK(d->Get(0).status());
  EXPECT_TRUE(d->skip_corrupt());
  for (int i = 1; i <= 4; ++i) {
    EXPECT_THAT(d->Get(i), StatusIs(absl::StatusCode::kDataLoss,
                                    HasSubstr(absl::StrCat(a, "img", i))))
        << i;
  }
  // A good image still decodes after corrupt ones on the same thread.
  EXPECT_OK(d->Get(0).status());
  spec.strict = true;
  ASSERT_OK_AND_ASSIGN(auto strict, OpenDataset(spec, Split::kTrain));
  EXPECT_FALSE(strict->skip_corrupt());
}

// A few hundred bytes whose header claims 65500 x 65500 pixels (13 GB of
// RGB) are refused before anything is allocated.
TEST(ImageFolderTest, HeadersClaimingHugeImagesAreRefused) {
  const std::string root = testing::MakeTempDir("huge");
  testing::WriteImageTree(root, {"a"}, 1, 16, 16, 3, "jpg");
  testing::WriteImageTree(root, {"b"}, 1, 16, 16, 3, "png");
  std::string jpeg, png;
  ASSERT_OK(internal::ReadFile(root + "/a/img0.jpg", &jpeg));
  ASSERT_OK(internal::ReadFile(root + "/b/img0.png", &png));
  auto put16 = [](std::string& b, size_t at, int v) {
    b[at] = static_cast<char>(v >> 8);
    b[at + 1] = static_cast<char>(v & 0xFF);
  };
  // JPEG: the SOF frame header's height and width (after length, precision).
  const size_t sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  put16(jpeg, sof + 5, 65500);
  put16(jpeg, sof + 7, 65500);
  testing::WriteBytes(root + "/a/img0.jpg", jpeg);
  // PNG: IHDR's width and height, with the chunk's CRC recomputed.
  for (size_t at : {16, 20}) {
    png[at] = png[at + 1] = 0;
    put16(png, at + 2, 65500);
  }
  const uLong crc =
      crc32(0, reinterpret_cast<const Bytef*>(png.data() + 12), 17);
  for (int i = 0; i < 4; ++i) {
    png[29 + i] = static_cast<char>((crc >> (24 - 8 * i)) & 0xFF);
  }
  testing::WriteBytes(root + "/b/img0.png", png);

  DatasetSpec spec = Spec("imagefolder", root);
  spec.val_fraction = 0;
  ASSERT_OK_AND_ASSIGN(auto d, OpenDataset(spec, Split::kTrain));
  ASSERT_EQ(d->size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_THAT(d->Get(i), StatusIs(absl::StatusCode::kDataLoss,
                                    ::testing::AllOf(HasSubstr("65500 x 65500"),
                                                     HasSubstr(root))))
        << i;
  }
}

TEST(ImageFolderTest, BadTreesAreNamed) {
  const std::string root = testing::MakeTempDir("badtree");
  DatasetSpec spec = Spec("imagefolder", root);
  EXPECT_THAT(OpenDataset(spec, Split::kTrain),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no class folders")));
  testing::WriteImageTree(root, {"a"}, 2, 8, 8, 3, "jpg");
  fs::create_directories(root + "/empty");
  EXPECT_THAT(
      OpenDataset(spec, Split::kTrain),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(root + "/empty")));
  fs::remove(root + "/empty");
  // No train/ sub-folder: no test set.
  EXPECT_THAT(OpenDataset(spec, Split::kTest),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no test set")));
}

}  // namespace
}  // namespace sslab::data
