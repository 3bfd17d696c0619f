// The web dashboard in a real browser: Debian's Chromium, headless, loads
// each page of a scheduler holding a finished run, a finished sweep and a
// queued run (filled by a fake worker), and the test reads the DOM after the
// scripts ran: the runs table has its rows, every chart drew data, no
// request or script failed, no uncaught JavaScript error was logged.
// Screenshots of the pages go to <build>/screenshots (and to
// $SSLAB_SCREENSHOT_DIR when set, e.g. docs/images for the README).
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/cluster.h"
#include "tests/fake_worker.h"

namespace sslab::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kDataset[] = "idx:/usr/share/datasets/fashion-mnist";
constexpr char kChromium[] = "/usr/lib/chromium/chromium";

// What a page looked like once its scripts ran.
struct Page {
  std::string dom;
  std::string log;  // Chromium's stderr, console messages included
};

// The value of attribute `name` on the element with id `id`, or "".
std::string Attribute(const std::string& dom, const std::string& id,
                      const std::string& name) {
  const std::regex tag("<[a-z]+ [^>]*id=\"" + id + "\"[^>]*>");
  std::smatch m;
  if (!std::regex_search(dom, m, tag)) return "";
  const std::regex attr(name + "=\"([^\"]*)\"");
  std::smatch a;
  const std::string t = m.str();
  return std::regex_search(t, a, attr) ? a[1].str() : "";
}

// The data-points of every chart canvas.
std::vector<int> ChartPoints(const std::string& dom) {
  std::vector<int> points;
  const std::regex canvas("<canvas[^>]*data-points=\"([0-9]+)\"");
  for (std::sregex_iterator it(dom.begin(), dom.end(), canvas), end; it != end;
       ++it) {
    points.push_back(std::stoi((*it)[1].str()));
  }
  return points;
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + what.size())) {
    ++n;
  }
  return n;
}

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kChromium))
        << "Chromium is missing: scripts/install-deps installs it";
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("sslab_dashboard_", getpid());
    cluster_ = std::make_unique<Cluster>(
        ClusterBinaries{.scheduler = SSLAB_SCHEDULER_BIN, .cli = SSLAB_CLI_BIN},
        dir_);
    // Pages of 7 rows: the run's and the sweep's results and the layer
    // plots drawn from them are complete only if the page follows every
    // next_page_token.
    ASSERT_NO_FATAL_FAILURE(cluster_->StartScheduler(0, {"--max-page-size=7"}));
    base_ = absl::StrCat("http://127.0.0.1:", cluster_->http_port(), "/");
    shots_ = std::filesystem::path(SSLAB_BINARY_DIR) / "screenshots";
    std::filesystem::create_directories(shots_);
  }

  void TearDown() override {
    EXPECT_EQ(cluster_->StopScheduler(SIGTERM), 0);
    cluster_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Submit(std::vector<std::string> args) {
    const CommandResult r = cluster_->Cli(std::move(args));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Runs headless Chromium on `route` ("#/runs") with a fresh profile.
  CommandResult Chromium(const std::string& route,
                         std::vector<std::string> extra) {
    const std::string profile = (dir_ / "profile").string();
    std::filesystem::remove_all(profile);
    std::vector<std::string> argv = {"/usr/bin/timeout",
                                     "120",
                                     kChromium,
                                     "--headless",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--disable-background-networking",
                                     "--disable-component-update",
                                     "--disable-sync",
                                     "--no-first-run",
                                     "--user-data-dir=" + profile,
                                     "--virtual-time-budget=8000"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(base_ + route);
    return RunCommand(argv, dir_.string());
  }

  Page Load(const std::string& route) {
    const CommandResult r =
        Chromium(route, {"--enable-logging=stderr", "--v=0", "--dump-dom"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return {r.out, r.err};
  }

  void Screenshot(const std::string& route, const std::string& name,
                  int height = 1000) {
    const std::filesystem::path png = shots_ / (name + ".png");
    std::filesystem::remove(png);
    const CommandResult r =
        Chromium(route, {absl::StrCat("--window-size=1280,", height),
                         "--screenshot=" + png.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(std::filesystem::exists(png)) << r.err;
    EXPECT_GT(std::filesystem::file_size(png), 20000u) << png;
    if (const char* copy_to = std::getenv("SSLAB_SCREENSHOT_DIR")) {
      std::filesystem::create_directories(copy_to);
      std::filesystem::copy_file(
          png, std::filesystem::path(copy_to) / png.filename(),
          std::filesystem::copy_options::overwrite_existing);
    }
  }

  // Every page: rendered, no failed request or script error, nothing
  // uncaught in the console.
  void ExpectClean(const Page& page, const std::string& name) {
    EXPECT_EQ(Attribute(page.dom, "app", "data-page"), name) << page.dom;
    EXPECT_EQ(Attribute(page.dom, "app", "data-ready"), "1") << name;
    EXPECT_EQ(Attribute(page.dom, "errors", "data-count"), "0")
        << name << ": " << page.dom;
    EXPECT_THAT(page.log, Not(HasSubstr("Uncaught"))) << name;
  }

  std::filesystem::path dir_;
  std::filesystem::path shots_;
  std::unique_ptr<Cluster> cluster_;
  std::string base_;
};

TEST_F(DashboardTest, PagesRenderTheirTablesAndChartsInABrowser) {
  // Run 1: finished, three layers and the raw pixels, two probes.
  ASSERT_NO_FATAL_FAILURE(
      Submit({"submit", "-q", "--name", "tiny", "--method", "rotation",
              "--arch", "resnet50_v2", "--width", "1", "--dataset", kDataset,
              "--epochs", "2", "--layers", "block2,block3,pre_logits,pixels",
              "--probes", "lbfgs,mlp"}));
  // Runs 2-5: a finished sweep over methods and widths.
  ASSERT_NO_FATAL_FAILURE(Submit({"sweep",     "-q",
                                  "--name",    "widths",
                                  "--methods", "rotation,jigsaw",
                                  "--archs",   "revnet50",
                                  "--widths",  "1,2",
                                  "--dataset", kDataset,
                                  "--epochs",  "1",
                                  "--layers",  "block1,block3,pre_logits",
                                  "--axis",    "decay-epochs=0.5",
                                  "--axis",    "warmup-epochs=0.1",
                                  "--zip",     "decay-epochs,warmup-epochs"}));
  {
    FakeWorker worker(grpc::CreateChannel(cluster_->address(),
                                          grpc::InsecureChannelCredentials()));
    ASSERT_TRUE(worker.Register("fake-dashboard").ok());
    EXPECT_GT(worker.Drain(), 0);
  }
  // Run 6: queued, data-parallel.
  ASSERT_NO_FATAL_FAILURE(
      Submit({"submit", "-q", "--method", "exemplar", "--arch", "vgg19_bn",
              "--dataset", kDataset, "--devices-per-run", "2"}));

  const Page runs = Load("#/runs");
  ExpectClean(runs, "runs");
  EXPECT_EQ(Count(runs.dom, "class=\"run-row\""), 6) << runs.dom;
  EXPECT_THAT(runs.dom, HasSubstr("pre_logits 63.0"));  // best layer, test

  const Page run = Load("#/runs/1");
  ExpectClean(run, "run");
  const std::vector<int> run_charts = ChartPoints(run.dom);
  // Four training curves and one layer plot per probe kind.
  ASSERT_EQ(run_charts.size(), 6u) << run.dom;
  for (int points : run_charts) EXPECT_GT(points, 0);
  EXPECT_EQ(Count(run.dom, "class=\"job-row\""), 2 + 4 * 2);
  // Lineage: the worker and device that ran the jobs.
  EXPECT_THAT(run.dom, HasSubstr("fake-dashboard on cpu")) << run.dom;
  const Page queued = Load("#/runs/6");
  ExpectClean(queued, "run");
  EXPECT_THAT(queued.dom, HasSubstr("auto, 2 data-parallel ranks"))
      << queued.dom;
  // Disk use of what retention left.
  EXPECT_THAT(run.dom,
              ::testing::ContainsRegex("<dt>disk</dt><dd>[0-9.]+ [KMG]?i?B: "
                                       "[0-9]+ checkpoints [0-9.]+ [KMG]?i?B"))
      << run.dom;

  const Page sweep = Load("#/sweeps/1");
  ExpectClean(sweep, "sweep");
  EXPECT_THAT(sweep.dom, HasSubstr("63.0 (pre_logits)"));
  const std::vector<int> sweep_charts = ChartPoints(sweep.dom);
  ASSERT_EQ(sweep_charts.size(), 2u) << sweep.dom;
  EXPECT_EQ(sweep_charts[0], 4);      // 2 lines x 2 widths
  EXPECT_EQ(sweep_charts[1], 4 * 3);  // 4 runs x 3 layers

  const Page sweeps = Load("#/sweeps");
  ExpectClean(sweeps, "sweeps");
  EXPECT_EQ(Count(sweeps.dom, "class=\"sweep-row\""), 1);
  EXPECT_THAT(sweeps.dom,
              HasSubstr("methods=rotation,jigsaw archs=revnet50 widths=1,2 "
                        "decay-epochs=0.5 warmup-epochs=0.1 "
                        "zip=decay-epochs+warmup-epochs"));

  const Page workers = Load("#/workers");
  ExpectClean(workers, "workers");
  EXPECT_EQ(Count(workers.dom, "class=\"worker-row\""), 1);
  EXPECT_THAT(workers.dom, HasSubstr("fake-dashboard"));

  ASSERT_NO_FATAL_FAILURE(Screenshot("#/runs", "dashboard-runs"));
  ASSERT_NO_FATAL_FAILURE(Screenshot("#/runs/1", "dashboard-run", 1420));
  ASSERT_NO_FATAL_FAILURE(Screenshot("#/sweeps/1", "dashboard-sweep", 820));
}

// The check can fail: a page whose requests fail shows it in the DOM.
TEST_F(DashboardTest, AFailedRequestIsReported) {
  const Page missing = Load("#/runs/999");
  EXPECT_EQ(Attribute(missing.dom, "errors", "data-count"), "1") << missing.dom;
  EXPECT_THAT(missing.dom, HasSubstr("NOT_FOUND"));
}

}  // namespace
}  // namespace sslab::testing
