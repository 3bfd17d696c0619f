#include "exporter/export.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/files.h"
#include "common/testing/status_matchers.h"
#include "evaluator/feature_shard.h"
#include "models/model.h"
#include "trainer/internal/checkpoint_io.h"
#include "trainer/options.h"
#include "trainer/pretext.h"

namespace sslab::exporter {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::HasSubstr;

class ExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sslab_export_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
};

std::string FileBytes(const std::filesystem::path& path) {
  auto bytes = ReadFileToString(path);
  return bytes.ok() ? *bytes : "";
}

// The payload numpy would read: the file after the preamble, whose length
// the preamble states; numpy needs it 64-byte aligned.
std::string NpyPayload(const std::string& npy) {
  EXPECT_EQ(npy.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t header = static_cast<unsigned char>(npy[8]) |
                        static_cast<unsigned char>(npy[9]) << 8;
  EXPECT_EQ((10 + header) % 64, 0u);
  EXPECT_EQ(npy[10 + header - 1], '\n');
  return npy.substr(10 + header);
}

TEST_F(ExportTest, WriteNpyStatesDtypeAndShapeAndKeepsTheBytes) {
  const at::Tensor t = torch::arange(12, torch::kFloat).reshape({3, 4});
  ASSERT_OK_AND_ASSIGN(NpyFile npy, WriteNpy(dir_ / "a.npy", t.t()));
  EXPECT_EQ(npy.descr, "<f4");
  EXPECT_EQ(npy.shape, (std::vector<int64_t>{4, 3}));
  const std::string bytes = FileBytes(dir_ / "a.npy");
  EXPECT_EQ(npy.bytes, static_cast<int64_t>(bytes.size()));
  EXPECT_THAT(bytes, HasSubstr("'shape': (4, 3)"));
  const at::Tensor c = t.t().contiguous();
  EXPECT_EQ(NpyPayload(bytes),
            std::string(static_cast<const char*>(c.data_ptr()), 12 * 4));

  EXPECT_THAT(WriteNpy(dir_ / "b.npy", torch::zeros({2}, torch::kInt8)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dtype")));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "b.npy"));
}

TEST_F(ExportTest, FeatureShardBecomesNpyOfTheSameDtype) {
  const at::Tensor features = torch::randn({5, 3});
  ASSERT_OK(evaluator::WriteShard(dir_ / "block1.feat", "block1", features,
                                  evaluator::ShardDtype::kFloat16)
                .status());
  ASSERT_OK_AND_ASSIGN(NpyFile npy, ExportFeatureShard(dir_ / "block1.feat",
                                                       dir_ / "block1.npy"));
  EXPECT_EQ(npy.descr, "<f2");
  EXPECT_EQ(npy.shape, (std::vector<int64_t>{5, 3}));
  const at::Tensor half = features.to(torch::kHalf).contiguous();
  EXPECT_EQ(NpyPayload(FileBytes(dir_ / "block1.npy")),
            std::string(static_cast<const char*>(half.data_ptr()), 5 * 3 * 2));

  const at::Tensor labels = torch::tensor({3, 1, 4}, torch::kLong).view({3, 1});
  ASSERT_OK(evaluator::WriteShard(dir_ / "labels.feat", "labels", labels,
                                  evaluator::ShardDtype::kInt64)
                .status());
  ASSERT_OK_AND_ASSIGN(npy, ExportFeatureShard(dir_ / "labels.feat",
                                               dir_ / "labels.npy"));
  EXPECT_EQ(npy.descr, "<i8");
  EXPECT_EQ(npy.shape, (std::vector<int64_t>{3, 1}));
}

TEST_F(ExportTest, CorruptShardIsNamedAndLeavesNoNpy) {
  ASSERT_OK(evaluator::WriteShard(dir_ / "block2.feat", "block2",
                                  torch::randn({64, 8}),
                                  evaluator::ShardDtype::kFloat32)
                .status());
  {
    std::fstream f(dir_ / "block2.feat",
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-5, std::ios::end);
    f.put('\x7f');
  }
  EXPECT_THAT(ExportFeatureShard(dir_ / "block2.feat", dir_ / "block2.npy"),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr((dir_ / "block2.feat").string())));
  EXPECT_THAT(ExportFeatureShard(dir_ / "nope.feat", dir_ / "nope.npy"),
              StatusIs(absl::StatusCode::kNotFound));
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().extension(), ".feat") << entry.path();
  }
}

// A checkpoint of `options` whose backbone has random BatchNorm statistics
// and affine parameters, so that a loader mixing up any two of them (or
// skipping one) computes other endpoints.
std::shared_ptr<models::BackboneImpl> WriteCheckpoint(
    const trainer::TrainerOptions& options, const std::filesystem::path& path) {
  auto backbone = models::CreateModel(
      trainer::PretextModelImpl::BackboneOptions(options));
  EXPECT_TRUE(backbone.ok()) << backbone.status();
  torch::NoGradGuard no_grad;
  for (auto& module : (*backbone)->modules(/*include_self=*/false)) {
    if (auto* bn = module->as<torch::nn::BatchNorm2dImpl>()) {
      bn->running_mean.normal_(0, 0.2);
      bn->running_var.uniform_(0.5, 2.0);
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.normal_(0, 0.2);
    }
  }
  trainer::internal::CheckpointContents contents;
  contents.config_json = trainer::TrainerOptionsToJson(options);
  contents.epoch = 3;
  for (const auto& [name, tensor] : trainer::internal::ModuleState(**backbone)) {
    contents.model["backbone." + name] = tensor;
  }
  auto bytes = trainer::internal::SerializeCheckpoint(contents);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(WriteFileAtomically(path, *bytes).ok());
  (*backbone)->eval();
  return *backbone;
}

struct PythonCase {
  const char* name;
  models::Architecture architecture;
  trainer::Method method;
  int image_size;
  bool last_relu;
};

void PrintTo(const PythonCase& c, std::ostream* os) { *os << c.name; }

class PythonExportTest : public ExportTest,
                         public ::testing::WithParamInterface<PythonCase> {};

// The export loads in Debian's python3-torch through python/sslab_models.py
// and gives the C++ network's endpoints. check_export.py exits 0 when every
// endpoint matches, 1 when one does not.
TEST_P(PythonExportTest, PythonModuleGivesTheSameEndpoints) {
  const PythonCase& c = GetParam();
  trainer::TrainerOptions options;
  options.method = c.method;
  options.model.architecture = c.architecture;
  options.model.width = 1;
  options.model.last_relu = c.last_relu;
  options.model.small_input = c.image_size <= 32;
  options.image_size = c.image_size;
  options.embedding_dim = 16;
  torch::manual_seed(11);
  auto backbone = WriteCheckpoint(options, dir_ / "epoch-0003.ckpt");

  ASSERT_OK_AND_ASSIGN(BackboneExport exported,
                       ExportBackbone(dir_ / "epoch-0003.ckpt",
                                      dir_ / "model.pt", /*run_id=*/42));
  EXPECT_EQ(exported.epoch, 3);
  EXPECT_EQ(exported.tensors,
            static_cast<int64_t>(backbone->named_parameters().size() +
                                 backbone->named_buffers().size()));

  const int side = trainer::ViewSize(options);
  const at::Tensor images = torch::rand({2, 3, side, side}) * 2 - 1;
  ASSERT_OK(WriteNpy(dir_ / "input.npy", images).status());
  torch::NoGradGuard no_grad;
  std::map<std::string, at::Tensor> endpoints =
      backbone->ForwardEndpoints(images);
  for (const auto& [name, value] : endpoints) {
    ASSERT_OK(WriteNpy(dir_ / (name + ".npy"), value).status());
  }
  const std::string check = std::string("/usr/bin/python3 ") +
                            SSLAB_PYTHON_DIR + "/check_export.py " +
                            dir_.string();
  EXPECT_EQ(std::system(check.c_str()), 0) << check;

  // The comparison can fail: a nudged endpoint is caught.
  const at::Tensor nudged = endpoints.at("block3").clone();
  nudged.view(-1)[0] += 0.05 * nudged.abs().max().item<float>() + 0.05;
  ASSERT_OK(WriteNpy(dir_ / "block3.npy", nudged).status());
  EXPECT_EQ(WEXITSTATUS(std::system(check.c_str())), 1) << check;
}

INSTANTIATE_TEST_SUITE_P(
    Architectures, PythonExportTest,
    ::testing::Values(
        PythonCase{"ResNet50v2", models::Architecture::kResNet50V2,
                   trainer::Method::kRotation, 32, true},
        PythonCase{"ResNet50v2Minus", models::Architecture::kResNet50V2,
                   trainer::Method::kRotation, 32, false},
        PythonCase{"RevNet50Jigsaw", models::Architecture::kRevNet50,
                   trainer::Method::kJigsaw, 120, true},
        PythonCase{"RevNet50", models::Architecture::kRevNet50,
                   trainer::Method::kRotation, 32, false},
        PythonCase{"ResNet50v1Exemplar", models::Architecture::kResNet50V1,
                   trainer::Method::kExemplar, 64, true},
        PythonCase{"Vgg19Bn", models::Architecture::kVgg19Bn,
                   trainer::Method::kRotation, 32, true}),
    [](const ::testing::TestParamInfo<PythonCase>& info) {
      return std::string(info.param.name);
    });

}  // namespace
}  // namespace sslab::exporter
