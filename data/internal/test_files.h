// Writers of small dataset files for data/'s tests.
#ifndef SSLAB_DATA_INTERNAL_TEST_FILES_H_
#define SSLAB_DATA_INTERNAL_TEST_FILES_H_

#include <cstdint>
#include <string>
#include <vector>

namespace sslab::data::testing {

// A fresh empty directory under the test's temporary directory.
std::string MakeTempDir(const std::string& name);

// Writes `bytes` to `path` (creating parent directories); gzips when `gzip`.
void WriteBytes(const std::string& path, const std::string& bytes,
                bool gzip = false);

// IDX images [n, h, w] and labels [n] as <dir>/<prefix>-images-idx3-ubyte[.gz]
// and <dir>/<prefix>-labels-idx1-ubyte[.gz]. Image i, pixel p = (i * 7 + p) %
// 256.
void WriteIdx(const std::string& dir, const std::string& prefix, int n, int h,
              int w, const std::vector<uint8_t>& labels, bool gzip);
std::string IdxImagesBytes(int n, int h, int w);
std::string IdxLabelsBytes(const std::vector<uint8_t>& labels);

// CIFAR records (label bytes + 3072 CHW pixels) with the given labels; pixel
// p of record i is (i + p) % 256 in the red plane, 0 elsewhere.
std::string CifarBytes(const std::vector<uint8_t>& labels, bool cifar100);

// An imagefolder tree: <root>/<class>/img<k>.<ext>, `per_class` images of
// h x w with `channels` channels, JPEG (ext "jpg") or PNG ("png").
void WriteImageTree(const std::string& root,
                    const std::vector<std::string>& classes, int per_class,
                    int h, int w, int channels, const std::string& ext);

// A smooth colourful test picture [h, w, channels].
std::vector<uint8_t> TestPicture(int h, int w, int channels, int variant);

}  // namespace sslab::data::testing

#endif  // SSLAB_DATA_INTERNAL_TEST_FILES_H_
