#include "cli/export_request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace sslab::cli {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// `sslab export` and sslab-export are two binaries: what one writes, the
// other must read back whole, the checkpoint's fields included.
TEST(ExportRequestTest, SurvivesTheHandOverToSslabExport) {
  ExportRequest r;
  r.run_id = 13;
  r.checkpoint.set_checkpoint_id(7);
  r.checkpoint.set_epoch(4);
  r.checkpoint.set_path("runs/13/checkpoints/attempt-1/epoch-0004.ckpt");
  r.checkpoint.set_sha256(std::string(64, 'a'));
  r.artifacts = "/var/lib/sslab/artifacts";
  r.to = "out dir/with 'quotes'";
  r.layers = {"block3", "pre_logits"};
  r.splits = {"test"};
  r.model = false;
  r.json_output = true;

  const absl::StatusOr<ExportRequest> back =
      ExportRequestFromJson(ExportRequestToJson(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->run_id, 13);
  EXPECT_EQ(back->checkpoint.checkpoint_id(), 7);
  EXPECT_EQ(back->checkpoint.epoch(), 4);
  EXPECT_EQ(back->checkpoint.path(), r.checkpoint.path());
  EXPECT_EQ(back->checkpoint.sha256(), r.checkpoint.sha256());
  EXPECT_EQ(back->artifacts, r.artifacts);
  EXPECT_EQ(back->to, r.to);
  EXPECT_THAT(back->layers, ElementsAre("block3", "pre_logits"));
  EXPECT_THAT(back->splits, ElementsAre("test"));
  EXPECT_FALSE(back->model);
  EXPECT_TRUE(back->features);
  EXPECT_TRUE(back->json_output);
}

TEST(ExportRequestTest, MalformedRequestsNameWhatIsWrong) {
  EXPECT_THAT(ExportRequestFromJson("not json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a JSON object")));
  EXPECT_THAT(
      ExportRequestFromJson(R"({"run_id": 1, "checkpoint": {},
                                        "artifacts": "a"})"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing 'to'")));
  EXPECT_THAT(ExportRequestFromJson(R"({"run_id": "x", "checkpoint": {},
                                        "artifacts": "a", "to": "b"})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("export request")));
  EXPECT_THAT(
      ExportRequestFromJson(R"({"run_id": 1,
                                        "checkpoint": {"epoch": "four"},
                                        "artifacts": "a", "to": "b"})"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("checkpoint")));
}

}  // namespace
}  // namespace sslab::cli
