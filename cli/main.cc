// sslab: command-line client of the scheduler's ExperimentService.
//
//   sslab submit --method rotation --arch resnet50_v2 --width 1
//       --dataset idx:/usr/share/datasets/fashion-mnist --epochs 2
//   sslab ls | show RUN | watch RUN | cancel RUN | results RUN | results
//   --sweep ID
//
// The server's address comes from --addr or SSLAB_ADDR (default
// localhost:50051). Every call has a deadline (--timeout). Errors print the
// server's code and message to stderr and exit 1; usage errors exit 2.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/completion.h"
#include "cli/export_request.h"
#include "cli/format.h"
#include "cli/run_file.h"
#include "experiment/run_spec_fields.h"
#include "experiment/sweep.h"
#include "experiment/vocabulary.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "services/common/client_flags.h"
#include "services/common/experiment_proto.h"
#include "services/common/grpc_status.h"
#include "sslab/v1/experiment_service.grpc.pb.h"
#include "sslab/v1/worker_status.grpc.pb.h"

#ifndef SSLAB_VERSION
#define SSLAB_VERSION "unknown"
#endif

namespace sslab::cli {
namespace {

constexpr int kExitServerError = 1;
constexpr int kExitUsage = 2;

struct Globals {
  std::string addr = "localhost:50051";
  std::string format = "table";
  double timeout_s = 30;
  OutputFormat output = OutputFormat::kTable;
  services::ClientSecurityFlags security_flags;
  services::ChannelSecurity security;  // loaded from security_flags
};

// Flags that set RunConfig fields; each applies only when given.
struct ConfigFlags {
  std::string config_file;
  std::string method, arch, dataset, device, probe_device, precision,
      memory_format, augmentation, feature_dtype;
  int width = 0, epochs = 0, batch_size = 0, image_size = 0, eval_every = 0,
      threads = 0, sgd_epochs = 0, sgd_batch = 0, mlp_hidden = 0,
      mlp_epochs = 0, devices_per_run = 0;
  bool last_relu = true;
  int64_t max_examples = 0, seed = 0;
  double val_fraction = 0, lr = 0, warmup = 0, decay_factor = 0, sgd_lr = 0;
  std::vector<double> decay_epochs, label_fractions, l2_grid;
  std::vector<std::string> layers, probes;
  std::vector<CLI::Option*> options;
};

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

CLI::Option* Remember(ConfigFlags* f, CLI::Option* o) {
  f->options.push_back(o);
  return o;
}

// A repeated scalar flag: the last one wins (e.g. to override a script's).
CLI::Option* Last(CLI::Option* o) {
  return o->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

void AddConfigFlags(CLI::App* app, ConfigFlags* f, bool sweep) {
  const experiment::RunConfig defaults;
  // A flag for one setting (the last one given wins), and one for a list
  // (comma-separated).
  auto scalar = [&](const std::string& name, auto& variable,
                    const std::string& help) {
    Last(Remember(f, app->add_option(name, variable, help)));
  };
  auto list = [&](const std::string& name, auto& variable,
                  const std::string& help) {
    Remember(f, app->add_option(name, variable, help)->delimiter(','));
  };
  app->add_option("--config", f->config_file,
                  "RunConfig as JSON (proto3 JSON mapping, e.g. the \"config\" "
                  "of `sslab show RUN --format json`); flags override it");
  if (!sweep) {
    scalar("--method", f->method, experiment::Choices<experiment::Method>());
    scalar("--arch", f->arch, experiment::Choices<experiment::Architecture>());
    scalar("--width,-k", f->width,
           absl::StrCat("widening factor k (default ", defaults.width, ")"));
  }
  scalar("--last-relu", f->last_relu,
         "true|false; false for the study's (-) variants (default true)");
  scalar("--dataset", f->dataset,
         absl::StrCat("KIND:PATH, KIND one of ",
                      experiment::Choices<experiment::DatasetKind>()));
  scalar("--val-fraction", f->val_fraction,
         absl::StrCat(
             "share of the training images held out for validation (default ",
             defaults.dataset.val_fraction, ")"));
  scalar("--max-examples", f->max_examples,
         "train on at most this many images (default 0: all)");
  scalar("--image-size", f->image_size,
         "input pixels per side (default: 28 idx, 32 cifar, 224 imagefolder; "
         "128 for jigsaw and relative_patch_location on idx and cifar: "
         "32 px patches)");
  scalar("--epochs", f->epochs,
         absl::StrCat("training epochs (default ", defaults.epochs,
                      ", the paper's; 0: the random-init control)"));
  scalar("--batch-size", f->batch_size,
         "source images per batch (default 64; 128 jigsaw and relative patch "
         "location, 256 supervised)");
  scalar(
      "--lr", f->lr,
      "base lr per 256 images (default 0.1; x4 for rotation under 20 epochs)");
  scalar("--warmup-epochs", f->warmup,
         "linear warm-up (default: 5 of the paper's 35 epochs, scaled; 1/7 of "
         "runs under 20 epochs)");
  list("--decay-epochs", f->decay_epochs,
       "epochs where the lr is multiplied by --decay-factor, comma-separated "
       "(default: 15,25 of 35, scaled; 3/4 of runs under 20 epochs)");
  scalar("--decay-factor", f->decay_factor,
         absl::StrCat("lr factor at each decay (default ",
                      defaults.lr_schedule.decay_factor, ")"));
  list("--layers", f->layers, "comma-separated; default all");
  list("--probes", f->probes,
       absl::StrCat("comma-separated, of ",
                    experiment::Choices<experiment::ProbeKind>()));
  list("--label-fractions", f->label_fractions,
       "shares of the training labels the probes use, comma-separated (default "
       "1)");
  scalar("--eval-every", f->eval_every,
         "evaluate every N epochs; 0 = final only");
  scalar("--feature-dtype", f->feature_dtype,
         absl::StrCat("how extracted features are stored, ",
                      experiment::Choices<experiment::FeatureDtype>(),
                      " (default float32; float16 halves the disk)"));
  const experiment::ProbeSettings& probe = defaults.evaluation.probe;
  list("--l2-grid", f->l2_grid,
       absl::StrCat("L-BFGS probe: L2 weights tried (the best on val is "
                    "refit), comma-separated (default ",
                    absl::StrJoin(probe.l2_grid, ","), ")"));
  scalar("--sgd-epochs", f->sgd_epochs,
         absl::StrCat("SGD probe: epochs (default ", probe.sgd_epochs, ")"));
  scalar("--sgd-lr", f->sgd_lr,
         absl::StrCat("SGD probe: learning rate (default ",
                      probe.sgd_learning_rate, ")"));
  scalar("--sgd-batch-size", f->sgd_batch,
         absl::StrCat("SGD probe: batch size (default ", probe.sgd_batch_size,
                      ")"));
  scalar("--mlp-hidden", f->mlp_hidden,
         absl::StrCat("MLP probe: hidden units (default ",
                      probe.mlp_hidden_units, ")"));
  scalar("--mlp-epochs", f->mlp_epochs,
         absl::StrCat("MLP probe: epochs (default ", probe.mlp_epochs, ")"));
  scalar("--augmentation", f->augmentation,
         absl::StrCat(experiment::Choices<experiment::Augmentation>(),
                      "; auto = light up to 64 px"));
  scalar("--seed", f->seed,
         "random seed of initialisation, data order and augmentation (default: "
         "a fresh one, recorded)");
  scalar("--device", f->device,
         absl::StrCat(
             experiment::Choices<experiment::DeviceRequest>(),
             " for training and extraction; auto = a free GPU, else the CPU"));
  scalar("--probe-device", f->probe_device,
         absl::StrCat(experiment::Choices<experiment::DeviceRequest>(),
                      " for probes; default cpu"));
  scalar("--precision", f->precision,
         absl::StrCat(experiment::Choices<experiment::Precision>(),
                      "; auto = bf16 on CUDA, fp32 on CPU"));
  scalar("--memory-format", f->memory_format,
         experiment::Choices<experiment::MemoryFormat>());
  scalar(
      "--threads", f->threads,
      "LibTorch threads per job (default 0: the worker's, at most its cores)");
  scalar("--devices-per-run", f->devices_per_run,
         "data-parallel ranks training the run, leased together on one "
         "worker: that many GPUs, or ranks sharing its CPU (default 1); "
         "--batch-size is the global batch");
}

bool Given(const ConfigFlags& f, const std::string& name) {
  for (const CLI::Option* o : f.options) {
    if (o->check_name(name)) return o->count() > 0;
  }
  return false;
}

// The protocol value of a name from the command line ("rotation" for
// --method), or a usage error naming the flag and listing the choices.
template <typename Proto, typename Domain>
Proto ParseOrThrow(const std::string& text, const std::string& flag) {
  absl::StatusOr<Domain> value = experiment::ParseName<Domain>(text, flag);
  if (!value.ok()) throw UsageError(std::string(value.status().message()));
  return services::ToProto<Proto>(*value);
}

// Builds the config from --config and the flags given.
v1::RunConfig BuildConfig(const ConfigFlags& f) {
  v1::RunConfig c;
  if (!f.config_file.empty()) {
    std::ifstream in(f.config_file);
    if (!in)
      throw UsageError(absl::StrCat("--config: cannot read ", f.config_file));
    std::stringstream ss;
    ss << in.rdbuf();
    auto parsed = services::RunConfigFromJson(ss.str());
    if (!parsed.ok()) {
      throw UsageError(absl::StrCat("--config ", f.config_file, ": ",
                                    parsed.status().message()));
    }
    c = *std::move(parsed);
  }
  if (Given(f, "--method")) {
    c.set_method(
        ParseOrThrow<v1::Method, experiment::Method>(f.method, "--method"));
  }
  if (Given(f, "--arch")) {
    c.set_architecture(ParseOrThrow<v1::Architecture, experiment::Architecture>(
        f.arch, "--arch"));
  }
  if (Given(f, "--width")) c.set_width(f.width);
  if (Given(f, "--last-relu")) c.set_last_relu(f.last_relu);
  if (Given(f, "--dataset")) {
    const size_t colon = f.dataset.find(':');
    if (colon == std::string::npos) {
      throw UsageError("--dataset: expected KIND:PATH, e.g. idx:/data/mnist");
    }
    const std::string kind = f.dataset.substr(0, colon);
    c.mutable_dataset()->set_kind(
        ParseOrThrow<v1::DatasetKind, experiment::DatasetKind>(kind,
                                                               "--dataset"));
    c.mutable_dataset()->set_path(f.dataset.substr(colon + 1));
  }
  if (Given(f, "--val-fraction"))
    c.mutable_dataset()->set_val_fraction(f.val_fraction);
  if (Given(f, "--max-examples"))
    c.mutable_dataset()->set_max_examples(f.max_examples);
  if (Given(f, "--image-size"))
    c.mutable_dataset()->set_image_size(f.image_size);
  if (Given(f, "--epochs")) c.set_epochs(f.epochs);
  if (Given(f, "--batch-size")) c.set_batch_size(f.batch_size);
  if (Given(f, "--lr")) c.mutable_lr_schedule()->set_base_lr(f.lr);
  if (Given(f, "--warmup-epochs"))
    c.mutable_lr_schedule()->set_warmup_epochs(f.warmup);
  if (Given(f, "--decay-epochs")) {
    c.mutable_lr_schedule()->clear_decay_epochs();
    for (double e : f.decay_epochs)
      c.mutable_lr_schedule()->add_decay_epochs(e);
  }
  if (Given(f, "--decay-factor"))
    c.mutable_lr_schedule()->set_decay_factor(f.decay_factor);
  if (Given(f, "--layers")) {
    c.mutable_evaluation()->clear_layers();
    for (const auto& l : f.layers) c.mutable_evaluation()->add_layers(l);
  }
  if (Given(f, "--probes")) {
    c.mutable_evaluation()->clear_probe_kinds();
    for (const auto& p : f.probes) {
      c.mutable_evaluation()->add_probe_kinds(
          ParseOrThrow<v1::ProbeKind, experiment::ProbeKind>(p, "--probes"));
    }
  }
  if (Given(f, "--label-fractions")) {
    c.mutable_evaluation()->clear_label_fractions();
    for (double x : f.label_fractions)
      c.mutable_evaluation()->add_label_fractions(x);
  }
  if (Given(f, "--eval-every"))
    c.mutable_evaluation()->set_every_epochs(f.eval_every);
  if (Given(f, "--feature-dtype")) {
    c.mutable_evaluation()->set_feature_dtype(
        ParseOrThrow<v1::FeatureDtype, experiment::FeatureDtype>(
            f.feature_dtype, "--feature-dtype"));
  }
  v1::ProbeSettings* probe = c.mutable_evaluation()->mutable_probe();
  if (Given(f, "--l2-grid")) {
    probe->clear_l2_grid();
    for (double l2 : f.l2_grid) probe->add_l2_grid(l2);
  }
  if (Given(f, "--sgd-epochs")) probe->set_sgd_epochs(f.sgd_epochs);
  if (Given(f, "--sgd-lr")) probe->set_sgd_learning_rate(f.sgd_lr);
  if (Given(f, "--sgd-batch-size")) probe->set_sgd_batch_size(f.sgd_batch);
  if (Given(f, "--mlp-hidden")) probe->set_mlp_hidden_units(f.mlp_hidden);
  if (Given(f, "--mlp-epochs")) probe->set_mlp_epochs(f.mlp_epochs);
  if (Given(f, "--augmentation")) {
    c.set_augmentation(ParseOrThrow<v1::Augmentation, experiment::Augmentation>(
        f.augmentation, "--augmentation"));
  }
  if (Given(f, "--seed")) c.set_seed(f.seed);
  if (Given(f, "--device")) {
    c.set_device(ParseOrThrow<v1::DeviceKind, experiment::DeviceRequest>(
        f.device, "--device"));
  }
  if (Given(f, "--probe-device")) {
    c.set_probe_device(ParseOrThrow<v1::DeviceKind, experiment::DeviceRequest>(
        f.probe_device, "--probe-device"));
  }
  if (Given(f, "--precision")) {
    c.set_precision(ParseOrThrow<v1::Precision, experiment::Precision>(
        f.precision, "--precision"));
  }
  if (Given(f, "--memory-format")) {
    c.set_memory_format(
        ParseOrThrow<v1::MemoryFormat, experiment::MemoryFormat>(
            f.memory_format, "--memory-format"));
  }
  if (Given(f, "--threads")) c.set_threads(f.threads);
  if (Given(f, "--devices-per-run")) c.set_devices_per_run(f.devices_per_run);
  return c;
}

// Thrown with the server's (or channel's) status; main prints it.
class CallError : public std::runtime_error {
 public:
  explicit CallError(const grpc::Status& s)
      : std::runtime_error(s.error_message()), status(s) {}
  grpc::Status status;
};

// A command's local work (files) failed.
struct LocalError : std::runtime_error {
  explicit LocalError(absl::Status s)
      : std::runtime_error(std::string(s.message())), status(std::move(s)) {}
  absl::Status status;
};

void Check(const grpc::Status& status) {
  if (!status.ok()) throw CallError(status);
}

// The page size for lists read to the end: the server's maximum.
constexpr int kFullPage = 1000;

class Client {
 public:
  explicit Client(const Globals& g)
      : globals_(g),
        channel_(services::OpenChannel(g.addr, g.security)),
        stub_(v1::ExperimentService::NewStub(channel_)) {}

  std::unique_ptr<grpc::ClientContext> Context(double timeout_s) const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)));
    return ctx;
  }
  std::unique_ptr<grpc::ClientContext> Context() const {
    return Context(globals_.timeout_s);
  }

  v1::ExperimentService::Stub& stub() { return *stub_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }

  template <typename Request, typename Response>
  using PagedRpc = grpc::Status (v1::ExperimentService::Stub::*)(
      grpc::ClientContext*, const Request&, Response*);

  // Calls the paged `rpc` from `request`'s page on, handing each page to
  // `on_page`: every page when `all`, else just that one.
  template <typename Request, typename Response, typename OnPage>
  void ForEachPage(PagedRpc<Request, Response> rpc, Request request,
                   OnPage on_page, bool all = true) {
    while (true) {
      Response page;
      Check((*stub_.*rpc)(Context().get(), request, &page));
      on_page(page);
      if (!all || page.next_page_token().empty()) return;
      request.set_page_token(page.next_page_token());
    }
  }

  // The pages' rows in one response; its next_page_token is the last
  // page's.
  template <typename Request, typename Response>
  Response Pages(PagedRpc<Request, Response> rpc, Request request,
                 bool all = true) {
    Response pages;
    ForEachPage(
        rpc, std::move(request),
        [&](const Response& page) {
          pages.MergeFrom(page);  // appends the rows
          pages.set_next_page_token(page.next_page_token());
        },
        all);
    return pages;
  }

 private:
  Globals globals_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ExperimentService::Stub> stub_;
};

void PrintTable(const Table& t, OutputFormat format) {
  std::cout << RenderTable(t, format);
}

// --dry-run: the config the scheduler would store, with every default
// filled in and checked as the scheduler checks it, printed as a run file
// (JSON with -o json); nothing is submitted.
int DryRunSubmit(const Globals& g, const v1::RunConfig& config) {
  absl::StatusOr<experiment::RunSpec> spec =
      services::FromProto(config, "config");
  absl::StatusOr<experiment::RunConfig> expanded =
      spec.ok() ? experiment::ExpandRunSpec(*spec, "config")
                : absl::StatusOr<experiment::RunConfig>(spec.status());
  if (!expanded.ok())
    throw UsageError(std::string(expanded.status().message()));
  v1::RunConfig complete = services::ToProto(*expanded);
  // Without a seed the scheduler draws one at submit: none to print yet.
  if (!spec->seed) complete.clear_seed();
  std::cout << (g.output == OutputFormat::kJson ? ToJson(complete)
                                                : RunFileFromConfig(complete));
  std::cerr << "sslab: dry run: valid, not submitted"
            << (spec->seed ? "" : " (seed: a fresh one at submit)") << "\n";
  return 0;
}

int CmdSubmit(Client& client, const Globals& g, const ConfigFlags& f,
              const std::string& name, int priority, bool quiet, bool dry_run) {
  v1::SubmitRunRequest req;
  *req.mutable_config() = BuildConfig(f);
  if (dry_run) return DryRunSubmit(g, req.config());
  req.set_name(name);
  req.set_priority(priority);
  v1::SubmitRunResponse resp;
  Check(client.stub().SubmitRun(client.Context().get(), req, &resp));
  if (const std::string warning = RunWarning(resp.run()); !warning.empty()) {
    std::cerr << "sslab: warning: run " << resp.run().run_id() << ": "
              << warning << "\n";
  }
  if (quiet) {
    std::cout << resp.run().run_id() << "\n";
  } else if (g.output == OutputFormat::kJson) {
    std::cout << ToJson(resp.run());
  } else {
    PrintTable(RunsTable({resp.run()}), g.output);
  }
  return 0;
}

struct SweepFlags {
  std::vector<std::string> methods, archs;
  std::vector<int> widths, epochs;
  std::vector<int64_t> seeds;
  std::vector<std::string> last_relus;
  // "FIELD=VALUES" each, and "FIELD,FIELD[;FIELD,FIELD]" each.
  std::vector<std::string> axes, zips;
  std::string name;
  int priority = 0;
};

// "lr=0.1,0.4" -> field lr, values 0.1 and 0.4; a list setting's values
// are separated by ';' ("decay-epochs=15,25;30,50").
v1::SweepAxis ParseAxis(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    throw UsageError(absl::StrCat(
        "--axis: expected FIELD=VALUE,VALUE..., e.g. lr=0.1,0.4; got \"", text,
        "\""));
  }
  v1::SweepAxis axis;
  axis.set_field(text.substr(0, eq));
  const char separator = experiment::IsListField(axis.field()) ? ';' : ',';
  for (absl::string_view value :
       absl::StrSplit(absl::string_view(text).substr(eq + 1), separator,
                      absl::SkipWhitespace())) {
    axis.add_values(std::string(absl::StripAsciiWhitespace(value)));
  }
  return axis;
}

int CmdSweep(Client& client, const Globals& g, const ConfigFlags& f,
             const SweepFlags& s, bool quiet, bool dry_run) {
  v1::SubmitSweepRequest req;
  *req.mutable_base() = BuildConfig(f);
  req.set_name(s.name);
  req.set_priority(s.priority);
  for (const auto& m : s.methods) {
    req.add_methods(
        ParseOrThrow<v1::Method, experiment::Method>(m, "--methods"));
  }
  for (const auto& a : s.archs) {
    req.add_architectures(
        ParseOrThrow<v1::Architecture, experiment::Architecture>(a, "--archs"));
  }
  for (int w : s.widths) req.add_widths(w);
  for (int e : s.epochs) req.add_epochs_values(e);
  for (int64_t seed : s.seeds) req.add_seeds(seed);
  for (const auto& v : s.last_relus) {
    if (v == "true" || v == "1") {
      req.add_last_relu_values(true);
    } else if (v == "false" || v == "0") {
      req.add_last_relu_values(false);
    } else {
      throw UsageError(
          absl::StrCat("--last-relus: expected true|false, got \"", v, "\""));
    }
  }
  // An axis given twice: the last one wins, in its place (a run file
  // repeats the command line's axes where the file has them).
  std::vector<v1::SweepAxis> axes;
  for (const std::string& text : s.axes) axes.push_back(ParseAxis(text));
  for (size_t i = 0; i < axes.size(); ++i) {
    if (std::none_of(axes.begin() + i + 1, axes.end(),
                     [&](const v1::SweepAxis& later) {
                       return later.field() == axes[i].field();
                     })) {
      *req.add_axes() = axes[i];
    }
  }
  for (const std::string& zips : s.zips) {
    for (absl::string_view group :
         absl::StrSplit(zips, ';', absl::SkipEmpty())) {
      v1::SweepZip* zip = req.add_zip();
      for (absl::string_view field : absl::StrSplit(group, ',')) {
        zip->add_fields(std::string(absl::StripAsciiWhitespace(field)));
      }
    }
  }
  if (dry_run) {
    absl::StatusOr<experiment::SweepSpec> spec = services::FromProto(req);
    absl::StatusOr<std::vector<experiment::SweepRun>> runs =
        spec.ok()
            ? experiment::ExpandSweep(*spec)
            : absl::StatusOr<std::vector<experiment::SweepRun>>(spec.status());
    if (!runs.ok()) throw UsageError(std::string(runs.status().message()));
    for (const experiment::SweepRun& run : *runs) std::cout << run.name << "\n";
    std::cerr << "sslab: dry run: " << runs->size()
              << " valid runs, not submitted\n";
    return 0;
  }
  v1::SubmitSweepResponse resp;
  Check(client.stub().SubmitSweep(client.Context().get(), req, &resp));
  if (quiet) {
    std::cout << resp.sweep_id() << "\n";
  } else if (g.output == OutputFormat::kJson) {
    std::cout << ToJson(resp);
  } else {
    if (g.output == OutputFormat::kTable) {
      std::cout << "sweep " << resp.sweep_id() << ": " << resp.runs_size()
                << " runs\n";
    }
    PrintTable(RunsTable({resp.runs().begin(), resp.runs().end()}), g.output);
  }
  return 0;
}

struct ListFlags {
  std::string state, method, arch;
  int64_t sweep = 0;
  int limit = 0;
  bool all = false;
  std::string page_token;
};

int CmdList(Client& client, const Globals& g, const ListFlags& l) {
  v1::ListRunsRequest req;
  if (!l.state.empty()) {
    req.set_state(
        ParseOrThrow<v1::RunState, experiment::RunState>(l.state, "--state"));
  }
  if (!l.method.empty()) {
    req.set_method(
        ParseOrThrow<v1::Method, experiment::Method>(l.method, "--method"));
  }
  if (!l.arch.empty()) {
    req.set_architecture(
        ParseOrThrow<v1::Architecture, experiment::Architecture>(l.arch,
                                                                 "--arch"));
  }
  req.set_sweep_id(l.sweep);
  req.set_page_size(l.limit);
  req.set_page_token(l.page_token);
  const v1::ListRunsResponse all =
      client.Pages(&v1::ExperimentService::Stub::ListRuns, req, l.all);
  if (g.output == OutputFormat::kJson) {
    std::cout << ToJson(all);
  } else {
    PrintTable(RunsTable({all.runs().begin(), all.runs().end()}), g.output);
    if (g.output == OutputFormat::kTable && !all.next_page_token().empty()) {
      std::cerr << "more: --page-token " << all.next_page_token()
                << " (or --all)\n";
    }
  }
  return 0;
}

int CmdShow(Client& client, const Globals& g, int64_t run_id, bool as_file) {
  v1::GetRunRequest req;
  req.set_run_id(run_id);
  v1::GetRunResponse resp;
  Check(client.stub().GetRun(client.Context().get(), req, &resp));
  if (as_file) {
    std::cout << "# run " << run_id << " (" << resp.run().name()
              << "): sslab submit -f FILE runs it again\n"
              << RunFileFromConfig(resp.run().config());
    return 0;
  }
  switch (g.output) {
    case OutputFormat::kJson:
      std::cout << ToJson(resp.run());
      break;
    case OutputFormat::kCsv:
      PrintTable(
          JobsTable({resp.run().jobs().begin(), resp.run().jobs().end()}),
          g.output);
      break;
    case OutputFormat::kTable:
      std::cout << RunDetails(resp.run());
      break;
  }
  return 0;
}

int CmdWatch(Client& client, const Globals& g, int64_t run_id, double max_s) {
  v1::WatchRunRequest req;
  req.set_run_id(run_id);
  auto ctx = client.Context(max_s);
  auto reader = client.stub().WatchRun(ctx.get(), req);
  const bool tty = g.output == OutputFormat::kTable && isatty(STDOUT_FILENO);
  v1::WatchRunResponse resp;
  v1::Run last;
  std::string last_line;
  while (reader->Read(&resp)) {
    last = resp.run();
    if (g.output == OutputFormat::kJson) {
      std::cout << ToJson(last) << std::flush;
      continue;
    }
    const std::string line = ProgressLine(last);
    if (line == last_line) continue;
    last_line = line;
    if (tty) {
      std::cout << "\r\033[K" << line << std::flush;
    } else {
      std::cout << line << "\n" << std::flush;
    }
  }
  if (tty && !last_line.empty()) std::cout << "\n";
  Check(reader->Finish());
  if (last.state() == v1::RUN_STATE_SUCCEEDED) return 0;
  std::cerr << "sslab: run " << run_id << " "
            << services::ShortName(last.state())
            << (last.error().empty() ? "" : ": " + last.error()) << "\n";
  return kExitServerError;
}

int CmdCancel(Client& client, const Globals& g, int64_t run_id,
              const std::string& reason) {
  v1::CancelRunRequest req;
  req.set_run_id(run_id);
  req.set_reason(reason);
  v1::CancelRunResponse resp;
  Check(client.stub().CancelRun(client.Context().get(), req, &resp));
  if (g.output == OutputFormat::kJson) {
    std::cout << ToJson(resp.run());
  } else {
    PrintTable(RunsTable({resp.run()}), g.output);
  }
  return 0;
}

// Probes succeeded runs further (AddProbes): `run_ids`, or every run of
// `sweep_id` that succeeded when it is set; `again` also probes again what
// they have of those kinds and fractions.
int CmdProbe(Client& client, const Globals& g, std::vector<int64_t> run_ids,
             int64_t sweep_id, const std::vector<std::string>& probes,
             const std::vector<double>& label_fractions, bool again) {
  v1::AddProbesRequest req;
  for (const std::string& p : probes) {
    req.add_probe_kinds(
        ParseOrThrow<v1::ProbeKind, experiment::ProbeKind>(p, "--probes"));
  }
  for (double x : label_fractions) req.add_label_fractions(x);
  req.set_again(again);
  if (req.probe_kinds().empty() && req.label_fractions().empty() && !again) {
    throw UsageError(
        "probe: give --probes and/or --label-fractions to add, or --again");
  }
  if (sweep_id != 0) {
    v1::ListRunsRequest list;
    list.set_sweep_id(sweep_id);
    list.set_page_size(kFullPage);
    const v1::ListRunsResponse all = client.Pages(
        &v1::ExperimentService::Stub::ListRuns, list, /*all=*/true);
    for (const v1::Run& run : all.runs()) {
      if (run.state() == v1::RUN_STATE_SUCCEEDED) {
        run_ids.push_back(run.run_id());
      } else {
        std::cerr << "sslab: run " << run.run_id()
                  << " skipped: " << services::ShortName(run.state()) << "\n";
      }
    }
    std::sort(run_ids.begin(), run_ids.end());
  }
  const char* separator = "[";
  for (int64_t run_id : run_ids) {
    req.set_run_id(run_id);
    v1::AddProbesResponse resp;
    Check(client.stub().AddProbes(client.Context().get(), req, &resp));
    if (g.output == OutputFormat::kJson) {
      std::cout << separator << ToJson(resp);
      separator = ",";
      continue;
    }
    std::cout << "run " << run_id << ": ";
    if (resp.probe_jobs() == 0) {
      std::cout << "has these probes already\n";
    } else {
      std::cout << resp.probe_jobs() << " probe job(s) added"
                << (resp.extract_jobs() > 0
                        ? ", after extracting its features again"
                        : "")
                << " (sslab watch " << run_id << ")\n";
    }
  }
  if (g.output == OutputFormat::kJson) {
    std::cout << (run_ids.empty() ? "[" : "") << "]\n";
  }
  return 0;
}

int CmdResults(Client& client, const Globals& g, int64_t run_id,
               int64_t sweep_id, const std::string& layer,
               const std::string& probe) {
  v1::QueryResultsRequest req;
  if (sweep_id != 0) {
    req.set_sweep_id(sweep_id);
  } else {
    req.set_run_id(run_id);
  }
  req.set_layer(layer);
  if (!probe.empty()) {
    req.set_probe_kind(
        ParseOrThrow<v1::ProbeKind, experiment::ProbeKind>(probe, "--probe"));
  }
  req.set_page_size(kFullPage);
  if (g.output == OutputFormat::kJson) {
    // Written as the pages arrive: a sweep's results can be hundreds of
    // thousands, too many to hold as one message and its JSON text.
    const char* separator = "";
    std::cout << "{\"results\": [\n";
    client.ForEachPage(&v1::ExperimentService::Stub::QueryResults, req,
                       [&](const v1::QueryResultsResponse& page) {
                         for (const v1::Result& r : page.results()) {
                           std::cout << separator << ToJson(r);
                           separator = ",";
                         }
                       });
    std::cout << "]}\n";
    return 0;
  }
  const v1::QueryResultsResponse resp =
      client.Pages(&v1::ExperimentService::Stub::QueryResults, req);
  const std::vector<v1::Result> results(resp.results().begin(),
                                        resp.results().end());
  if (results.empty() && g.output == OutputFormat::kTable) {
    std::cout << "no results yet\n";
    return 0;
  }
  if (g.output == OutputFormat::kCsv) {
    PrintTable(ResultRowsTable(results), g.output);  // every field
    return 0;
  }
  PrintTable(sweep_id != 0 ? SweepGrid(results, req.probe_kind())
                           : ResultsTable(results),
             g.output);
  if (sweep_id == 0 && g.output == OutputFormat::kTable) {
    // What the pretext task itself reached, next to what its layers give.
    v1::ListCheckpointsRequest ckpt_req;
    ckpt_req.set_run_id(run_id);
    ckpt_req.set_page_size(kFullPage);
    const v1::ListCheckpointsResponse ckpts =
        client.Pages(&v1::ExperimentService::Stub::ListCheckpoints, ckpt_req);
    if (ckpts.checkpoints_size() > 0) {
      std::cout << PretextLine(ckpts.checkpoints(ckpts.checkpoints_size() - 1));
    }
  }
  return 0;
}

int CmdCheckpoints(Client& client, const Globals& g, int64_t run_id) {
  v1::ListCheckpointsRequest req;
  req.set_run_id(run_id);
  req.set_page_size(kFullPage);
  const v1::ListCheckpointsResponse resp =
      client.Pages(&v1::ExperimentService::Stub::ListCheckpoints, req);
  if (g.output == OutputFormat::kJson) {
    std::cout << ToJson(resp);
  } else {
    PrintTable(CheckpointsTable(
                   {resp.checkpoints().begin(), resp.checkpoints().end()}),
               g.output);
  }
  return 0;
}

// Replaces this process with sslab-export (cli/export_main.cc), the torch
// half of `sslab export`: the one next to this binary, else the one on PATH.
// Throws LocalError if neither can be started.
[[noreturn]] void RunExportHelper(const ExportRequest& request) {
  constexpr char kHelper[] = "sslab-export";
  std::error_code ec;
  const std::filesystem::path self =
      std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string json = ExportRequestToJson(request);
  char* args[] = {const_cast<char*>(kHelper), const_cast<char*>(json.c_str()),
                  nullptr};
  std::cout.flush();
  if (!ec) execv((self.parent_path() / kHelper).c_str(), args);
  execvp(kHelper, args);
  throw LocalError(absl::FailedPreconditionError(absl::StrCat(
      "sslab export runs ", kHelper,
      " (the part of the CLI that links LibTorch), which is neither next to ",
      ec ? "this binary" : self.string(),
      " nor on PATH: build it (the torch libraries are needed) or install "
      "it beside sslab")));
}

struct ExportFlags {
  int64_t epoch = -1;
  std::string to;
  std::vector<std::string> layers, splits;
  bool no_model = false, no_features = false;
  std::string artifacts = "var/artifacts";
};

int CmdExport(Client& client, const Globals& g, int64_t run_id,
              const ExportFlags& f) {
  v1::ListCheckpointsRequest req;
  req.set_run_id(run_id);
  req.set_page_size(kFullPage);
  const v1::ListCheckpointsResponse resp =
      client.Pages(&v1::ExperimentService::Stub::ListCheckpoints, req);
  if (resp.checkpoints().empty()) {
    throw LocalError(absl::FailedPreconditionError(
        absl::StrCat("run ", run_id, " has no checkpoints yet")));
  }
  ExportRequest r;
  r.run_id = run_id;
  r.checkpoint = *resp.checkpoints().rbegin();  // ascending epochs
  if (f.epoch >= 0) {
    std::vector<int64_t> epochs;
    for (const v1::Checkpoint& c : resp.checkpoints()) {
      epochs.push_back(c.epoch());
      if (c.epoch() == f.epoch) r.checkpoint = c;
    }
    if (r.checkpoint.epoch() != f.epoch) {
      throw UsageError(absl::StrCat("--epoch ", f.epoch, ": run ", run_id,
                                    " has checkpoints at epochs ",
                                    absl::StrJoin(epochs, ", ")));
    }
  }
  if (r.checkpoint.has_delete_time() && !f.no_model) {
    throw LocalError(absl::NotFoundError(absl::StrCat(
        "run ", run_id, " epoch ", r.checkpoint.epoch(),
        ": retention deleted this checkpoint (`sslab pin` keeps a run's "
        "checkpoints)")));
  }
  r.artifacts = f.artifacts;
  r.to = f.to.empty()
             ? absl::StrCat("run-", run_id, "-epoch-", r.checkpoint.epoch())
             : f.to;
  r.layers = f.layers;
  r.splits = f.splits;
  r.model = !f.no_model;
  r.features = !f.no_features;
  r.json_output = g.output == OutputFormat::kJson;
  RunExportHelper(r);
}

int CmdGarbage(Client& client, const Globals& g, int64_t run_id, bool dry_run) {
  v1::CollectGarbageRequest req;
  req.set_run_id(run_id);
  req.set_dry_run(dry_run);
  v1::CollectGarbageResponse resp;
  Check(client.stub().CollectGarbage(client.Context().get(), req, &resp));
  if (g.output == OutputFormat::kJson) {
    std::cout << ToJson(resp);
    return 0;
  }
  PrintTable(ArtifactsTable({resp.artifacts().begin(), resp.artifacts().end()}),
             g.output);
  if (g.output == OutputFormat::kTable) {
    std::cout << resp.artifacts_size() << " artifact(s), "
              << HumanBytes(resp.bytes())
              << (dry_run ? " would be freed (nothing deleted: --dry-run)\n"
                          : " freed\n");
  }
  return 0;
}

int CmdPin(Client& client, const Globals& g, int64_t run_id, bool pinned) {
  v1::PinRunRequest req;
  req.set_run_id(run_id);
  req.set_pinned(pinned);
  v1::PinRunResponse resp;
  Check(client.stub().PinRun(client.Context().get(), req, &resp));
  if (g.output == OutputFormat::kJson) {
    std::cout << ToJson(resp.run());
  } else {
    std::cout << "run " << run_id
              << (pinned ? " pinned: retention keeps all its artifacts\n"
                         : " unpinned: retention applies again\n");
  }
  return 0;
}

int CmdDelete(Client& client, const Globals& g, int64_t run_id) {
  v1::DeleteRunRequest req;
  req.set_run_id(run_id);
  v1::DeleteRunResponse resp;
  Check(client.stub().DeleteRun(client.Context().get(), req, &resp));
  if (g.output == OutputFormat::kJson) {
    std::cout << ToJson(resp);
  } else {
    std::cout << "deleted run " << run_id << ": " << resp.files()
              << " file(s), " << HumanBytes(resp.bytes()) << "\n";
  }
  return 0;
}

int CmdMetrics(Client& client, const Globals& g, int64_t run_id,
               const std::vector<std::string>& names, int max_points) {
  v1::GetMetricHistoryRequest req;
  req.set_run_id(run_id);
  for (const std::string& n : names) req.add_names(n);
  req.set_max_points(max_points);
  v1::GetMetricHistoryResponse resp;
  Check(client.stub().GetMetricHistory(client.Context().get(), req, &resp));
  if (g.output == OutputFormat::kJson) {
    std::cout << ToJson(resp);
  } else if (resp.series().empty() && g.output == OutputFormat::kTable) {
    std::cout << "no metrics yet\n";
  } else {
    PrintTable(MetricsTable({resp.series().begin(), resp.series().end()}),
               g.output);
  }
  return 0;
}

int CmdSweeps(Client& client, const Globals& g, int limit) {
  v1::ListSweepsRequest req;
  req.set_page_size(limit);
  v1::ListSweepsResponse resp;
  Check(client.stub().ListSweeps(client.Context().get(), req, &resp));
  if (g.output == OutputFormat::kJson) {
    std::cout << ToJson(resp);
  } else {
    PrintTable(SweepsTable({resp.sweeps().begin(), resp.sweeps().end()}),
               g.output);
  }
  return 0;
}

int CmdWorkers(Client& client, const Globals& g) {
  v1::ListWorkersRequest req;
  req.set_page_size(kFullPage);
  const v1::ListWorkersResponse resp =
      client.Pages(&v1::ExperimentService::Stub::ListWorkers, req);
  if (g.output == OutputFormat::kJson) {
    std::cout << ToJson(resp);
  } else {
    PrintTable(WorkersTable({resp.workers().begin(), resp.workers().end()}),
               g.output);
  }
  return 0;
}

int CmdVersion(Client& client, const Globals& g) {
  v1::GetVersionResponse resp;
  Check(client.stub().GetVersion(client.Context().get(),
                                 v1::GetVersionRequest(), &resp));
  if (g.output == OutputFormat::kJson) {
    std::cout << ToJson(resp);
  } else {
    std::cout << "client " << SSLAB_VERSION << "\nserver " << resp.version()
              << " (" << resp.api() << ")\n";
  }
  return 0;
}

int CmdHealth(Client& client, const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(client.channel());
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  Check(stub->Check(client.Context().get(), req, &resp));
  std::cout << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
                   resp.status())
            << "\n";
  return resp.status() == grpc::health::v1::HealthCheckResponse::SERVING
             ? 0
             : kExitServerError;
}

// The worker's status service is on its plaintext status port (the one
// its health check uses), not the scheduler's.
int CmdWorker(const Globals& g, const std::string& addr) {
  auto stub = v1::WorkerStatusService::NewStub(
      grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(g.timeout_s * 1000)));
  v1::WorkerStatus status;
  Check(stub->GetWorkerStatus(&ctx, v1::GetWorkerStatusRequest(), &status));
  std::cout << (g.output == OutputFormat::kJson ? ToJson(status)
                                                : WorkerStatusText(status));
  return 0;
}

int Main(int argc, char** argv) {
  CLI::App app{"sslab: submit and inspect self-supervised learning runs"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags also after the subcommand
  Globals g;
  app.add_option("--addr", g.addr, "scheduler address host:port")
      ->envname("SSLAB_ADDR")
      ->capture_default_str();
  app.add_option("--format,-o", g.format, "table|json|csv")
      ->check(CLI::IsMember({"table", "json", "csv"}))
      ->capture_default_str();
  app.add_option("--timeout", g.timeout_s, "seconds per call")
      ->capture_default_str();
  services::AddClientSecurityFlags(app, &g.security_flags);

  ConfigFlags submit_flags;
  std::string run_name;
  int priority = 0;
  bool quiet = false;
  bool dry_run = false;
  std::string run_file;
  auto* submit = app.add_subcommand("submit", "submit one run");
  submit->add_option("--file,-f", run_file,
                     "YAML or JSON file of these flags without dashes "
                     "(configs/); flags given override it");
  submit->add_flag("--dry-run", dry_run,
                   "check and print the complete config as a run file "
                   "(-o json: JSON); submit nothing");
  AddConfigFlags(submit, &submit_flags, /*sweep=*/false);
  submit->add_option("--name", run_name,
                     "run name (default METHOD-ARCH-kWIDTH)");
  submit->add_option("--priority", priority,
                     "higher is leased first (default 0)");
  submit->add_flag("--quiet,-q", quiet, "print only the run id");

  ConfigFlags sweep_flags;
  SweepFlags sweep_grid;
  auto* sweep = app.add_subcommand("sweep", "submit a grid of runs");
  sweep->add_option("--file,-f", run_file,
                    "YAML or JSON file of these flags without dashes "
                    "(configs/); flags given override it");
  sweep->add_flag("--dry-run", dry_run,
                  "check and list the runs; submit nothing");
  AddConfigFlags(sweep, &sweep_flags, /*sweep=*/true);
  // The grid is the product of the axes given; an axis not given keeps the
  // base config's value (the flags above).
  sweep
      ->add_option("--methods", sweep_grid.methods,
                   absl::StrCat(experiment::Choices<experiment::Method>(),
                                "; axis, comma-separated"))
      ->delimiter(',');
  sweep
      ->add_option("--archs", sweep_grid.archs,
                   absl::StrCat(experiment::Choices<experiment::Architecture>(),
                                "; axis, comma-separated"))
      ->delimiter(',');
  sweep
      ->add_option("--widths", sweep_grid.widths,
                   "widening factors k; axis, comma-separated")
      ->delimiter(',');
  sweep->add_option("--seeds", sweep_grid.seeds, "seeds; axis, comma-separated")
      ->delimiter(',');
  sweep
      ->add_option("--epochs-values", sweep_grid.epochs,
                   "training epochs; axis, comma-separated")
      ->delimiter(',');
  sweep
      ->add_option("--last-relus", sweep_grid.last_relus,
                   "true|false; axis, comma-separated")
      ->delimiter(',');
  sweep->add_option(
      "--axis,--axes", sweep_grid.axes,
      absl::StrCat("FIELD=V1,V2,...: sweep any other setting, named as its "
                   "flag (",
                   experiment::FurtherAxisFieldNames(),
                   "); a list setting's values separated by ';'; repeatable, "
                   "the last of a field wins"));
  sweep->add_option("--zip", sweep_grid.zips,
                    "FIELD,FIELD: these axes advance together instead of "
                    "multiplying (equal lengths), e.g. lr,batch-size or "
                    "epochs,decay-epochs; groups separated by ';' or "
                    "repeated; replaces a file's zip");
  sweep->add_option("--name", sweep_grid.name,
                    "sweep name, prefix of its runs' names (required)");
  sweep->add_option("--priority", sweep_grid.priority,
                    "higher is leased first (default 0)");
  sweep->add_flag("--quiet,-q", quiet, "print only the sweep id");

  ListFlags list_flags;
  auto* ls = app.add_subcommand("ls", "list runs, newest first");
  ls->add_option("--state", list_flags.state,
                 experiment::Choices<experiment::RunState>());
  ls->add_option("--method", list_flags.method,
                 experiment::Choices<experiment::Method>());
  ls->add_option("--arch", list_flags.arch,
                 experiment::Choices<experiment::Architecture>());
  ls->add_option("--sweep", list_flags.sweep, "only this sweep's runs");
  ls->add_option("--limit", list_flags.limit, "page size (default 50)");
  ls->add_option("--page-token", list_flags.page_token,
                 "the page after the one that printed this token");
  ls->add_flag("--all", list_flags.all, "follow every page");

  int64_t run_id = 0;
  bool show_as_file = false;
  auto* show = app.add_subcommand("show", "show a run and its jobs");
  show->add_option("RUN", run_id)->required();
  show->add_flag("--as-file", show_as_file,
                 "print its complete config as a run file (for submit -f)");

  double watch_max_s = 7 * 24 * 3600;
  auto* watch = app.add_subcommand("watch", "follow a run until it ends");
  watch->add_option("RUN", run_id)->required();
  watch->add_option("--max-seconds", watch_max_s, "give up after this long");

  std::string reason;
  auto* cancel = app.add_subcommand("cancel", "cancel a run and its jobs");
  cancel->add_option("RUN", run_id)->required();
  cancel->add_option("--reason", reason, "recorded as the run's error");

  std::vector<int64_t> probe_runs;
  int64_t probe_sweep = 0;
  std::vector<std::string> probe_kinds;
  std::vector<double> probe_fractions;
  auto* probe_command = app.add_subcommand(
      "probe",
      "probe succeeded runs further without training them again: add probe "
      "kinds and/or label fractions (every kind x fraction runs; features "
      "retention deleted are extracted again first)");
  auto* probe_run = probe_command->add_option("RUN", probe_runs, "run ids");
  auto* probe_of_sweep = probe_command->add_option(
      "--sweep", probe_sweep, "every run of this sweep that succeeded");
  probe_run->excludes(probe_of_sweep);
  probe_command
      ->add_option("--probes", probe_kinds,
                   absl::StrCat("probe kinds to add, comma-separated, of ",
                                experiment::Choices<experiment::ProbeKind>()))
      ->delimiter(',');
  probe_command
      ->add_option("--label-fractions", probe_fractions,
                   "label fractions to add, comma-separated")
      ->delimiter(',');
  bool probe_again = false;
  probe_command->add_flag(
      "--again", probe_again,
      "also probe again what the run has of these kinds and fractions (none "
      "named: all of them), replacing the results: after the evaluator "
      "changed");

  int64_t sweep_id = 0;
  std::string layer, probe;
  auto* results = app.add_subcommand(
      "results", "per-layer accuracies of a run, or a sweep's grid");
  auto* results_run = results->add_option("RUN", run_id);
  auto* results_sweep =
      results->add_option("--sweep", sweep_id, "the sweep's grid instead");
  results_run->excludes(results_sweep);
  results->add_option("--layer", layer, "only this layer");
  results->add_option("--probe", probe,
                      experiment::Choices<experiment::ProbeKind>());

  auto* checkpoints =
      app.add_subcommand("checkpoints", "list a run's checkpoints");
  checkpoints->add_option("RUN", run_id)->required();

  std::vector<std::string> metric_names;
  int max_points = 0;
  auto* metrics = app.add_subcommand(
      "metrics", "a run's training curves (loss, accuracy, lr, images/s)");
  metrics->add_option("RUN", run_id)->required();
  metrics->add_option("--name", metric_names, "only these series (repeatable)");
  metrics->add_option("--max-points", max_points,
                      "points per series at most (default 1000)");

  bool gc_dry_run = false;
  auto* gc = app.add_subcommand(
      "gc",
      "apply retention now: delete checkpoints and feature shards no run "
      "needs (the scheduler's --keep-checkpoints, --keep-features; pinned "
      "runs keep all)");
  gc->add_option("RUN", run_id, "only this run (default: all)");
  gc->add_flag("--dry-run", gc_dry_run, "list what would go; delete nothing");

  auto* pin = app.add_subcommand(
      "pin", "keep every artifact of a run (retention skips it)");
  pin->add_option("RUN", run_id)->required();
  auto* unpin =
      app.add_subcommand("unpin", "let retention apply to a run again");
  unpin->add_option("RUN", run_id)->required();

  auto* rm = app.add_subcommand(
      "rm",
      "delete a finished run: its files and every record of it (results "
      "included)");
  rm->add_option("RUN", run_id)->required();

  ExportFlags export_flags;
  auto* export_command = app.add_subcommand(
      "export",
      "a run's backbone for PyTorch (model.pt + sslab_models.py) and its "
      "features as .npy, for notebooks");
  export_command->add_option("RUN", run_id)->required();
  export_command->add_option("--epoch", export_flags.epoch,
                             "the checkpoint's epoch (default: the last)");
  export_command->add_option("--to", export_flags.to,
                             "output directory (default: run-RUN-epoch-E)");
  export_command->add_option("--layer", export_flags.layers,
                             "only these layers (repeatable; default: all "
                             "extracted)");
  export_command->add_option("--split", export_flags.splits,
                             "only these splits, train|val|test (repeatable; "
                             "default: all extracted)");
  export_command->add_flag("--no-model", export_flags.no_model,
                           "features only");
  export_command->add_flag("--no-features", export_flags.no_features,
                           "the backbone only");
  export_command
      ->add_option("--artifacts", export_flags.artifacts,
                   "the artifact directory: the scheduler's --data-dir or a "
                   "mount of it")
      ->envname("SSLAB_DATA_DIR")
      ->capture_default_str();

  int sweeps_limit = 0;
  auto* sweeps = app.add_subcommand("sweeps", "list sweeps, newest first");
  sweeps->add_option("--limit", sweeps_limit, "how many (default 50)");

  auto* workers = app.add_subcommand(
      "workers", "workers, their devices, jobs and last heartbeat");

  auto* version = app.add_subcommand("version", "client and server versions");

  std::string health_service;
  auto* health = app.add_subcommand("health", "gRPC health check of --addr");
  health->add_option("--service", health_service,
                     "service name; empty = server");

  std::string worker_addr;
  auto* worker = app.add_subcommand(
      "worker", "what one worker process runs now (its --listen address)");
  worker->add_option("ADDR", worker_addr, "the worker's host:port")->required();

  std::string shell;
  auto* completion = app.add_subcommand(
      "completion", "print shell completion: source <(sslab completion bash)");
  completion->add_option("SHELL", shell, "bash|zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));

  try {
    app.parse(argc, argv);
    // A run or sweep file stands for the flags the command line left out:
    // parse again with them added.
    for (CLI::App* command : {submit, sweep}) {
      if (!command->parsed() || run_file.empty()) continue;
      absl::StatusOr<std::vector<std::string>> from_file =
          RunFileArguments(run_file, *command);
      if (!from_file.ok()) {
        std::cerr << "sslab: " << from_file.status().message() << "\n";
        return kExitUsage;
      }
      std::vector<std::string> args(argv + 1, argv + argc);
      args.insert(args.end(), from_file->begin(), from_file->end());
      std::reverse(args.begin(), args.end());  // CLI11 takes them reversed
      app.clear();
      app.parse(args);
    }
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  try {
    const auto output = ParseOutputFormat(g.format);
    if (!output) throw UsageError("--format: expected table|json|csv");
    g.output = *output;
    if (!(g.timeout_s > 0)) throw UsageError("--timeout: must be > 0");
    if (completion->parsed()) {
      std::cout << (shell == "zsh" ? ZshCompletion(app, "sslab")
                                   : BashCompletion(app, "sslab"));
      return 0;
    }
    if (worker->parsed()) return CmdWorker(g, worker_addr);
    if (probe_command->parsed() && probe_run->count() == 0 &&
        probe_of_sweep->count() == 0) {
      throw UsageError("probe: give RUN... or --sweep ID");
    }
    if (results->parsed() && results_run->count() == 0 &&
        results_sweep->count() == 0) {
      throw UsageError("results: give RUN or --sweep ID");
    }
    absl::StatusOr<services::ChannelSecurity> security =
        g.security_flags.Load();
    if (!security.ok())
      throw UsageError(std::string(security.status().message()));
    g.security = *std::move(security);
    Client client(g);
    if (submit->parsed()) {
      return CmdSubmit(client, g, submit_flags, run_name, priority, quiet,
                       dry_run);
    }
    if (sweep->parsed()) {
      if (sweep_grid.name.empty()) {
        throw UsageError("sweep: give --name (or name: in the file)");
      }
      return CmdSweep(client, g, sweep_flags, sweep_grid, quiet, dry_run);
    }
    if (ls->parsed()) return CmdList(client, g, list_flags);
    if (show->parsed()) return CmdShow(client, g, run_id, show_as_file);
    if (watch->parsed()) return CmdWatch(client, g, run_id, watch_max_s);
    if (cancel->parsed()) return CmdCancel(client, g, run_id, reason);
    if (probe_command->parsed()) {
      return CmdProbe(client, g, probe_runs, probe_sweep, probe_kinds,
                      probe_fractions, probe_again);
    }
    if (results->parsed())
      return CmdResults(client, g, run_id, sweep_id, layer, probe);
    if (checkpoints->parsed()) return CmdCheckpoints(client, g, run_id);
    if (metrics->parsed()) {
      return CmdMetrics(client, g, run_id, metric_names, max_points);
    }
    if (gc->parsed()) return CmdGarbage(client, g, run_id, gc_dry_run);
    if (pin->parsed()) return CmdPin(client, g, run_id, true);
    if (unpin->parsed()) return CmdPin(client, g, run_id, false);
    if (rm->parsed()) return CmdDelete(client, g, run_id);
    if (export_command->parsed()) {
      return CmdExport(client, g, run_id, export_flags);
    }
    if (sweeps->parsed()) return CmdSweeps(client, g, sweeps_limit);
    if (workers->parsed()) return CmdWorkers(client, g);
    if (version->parsed()) return CmdVersion(client, g);
    if (health->parsed()) return CmdHealth(client, health_service);
  } catch (const UsageError& e) {
    std::cerr << "sslab: " << e.what() << "\n";
    return kExitUsage;
  } catch (const LocalError& e) {
    std::cerr << "sslab: error: " << absl::StatusCodeToString(e.status.code())
              << ": " << e.status.message() << "\n";
    return kExitServerError;
  } catch (const CallError& e) {
    std::cerr << "sslab: error: "
              << absl::StatusCodeToString(
                     static_cast<absl::StatusCode>(e.status.error_code()))
              << ": " << e.status.error_message() << "\n";
    return kExitServerError;
  }
  return kExitUsage;
}

}  // namespace
}  // namespace sslab::cli

int main(int argc, char** argv) { return sslab::cli::Main(argc, argv); }
