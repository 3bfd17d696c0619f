#include "cli/format.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "experiment/run_config.h"
#include "experiment/run_spec_fields.h"
#include "experiment/vocabulary.h"
#include "services/common/experiment_proto.h"

namespace sslab::cli {
namespace {

using services::ShortName;

std::string CsvCell(const std::string& cell) {
  if (cell.find_first_of(",\"\n\r") == std::string::npos) return cell;
  std::string out = "\"";
  for (char c : cell) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string Time(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S",
                          absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

int JobsDone(const v1::Progress& p) {
  return p.jobs_succeeded() + p.jobs_failed() + p.jobs_cancelled();
}

// Index of `layer` in the network order of `architecture` (unknown last).
int LayerRank(v1::Architecture architecture, const std::string& layer) {
  const std::optional<experiment::Architecture> a =
      services::FromProto<experiment::Architecture>(architecture);
  if (!a) return 0;
  const std::vector<std::string>& layers = experiment::RepresentationLayers(*a);
  const auto it = std::find(layers.begin(), layers.end(), layer);
  return static_cast<int>(it - layers.begin());
}

std::string Fraction(double f) { return absl::StrFormat("%g", f); }

// "cpu", or "cuda:1 (NVIDIA H100 80 GiB)" when the worker described it.
std::string DeviceLabel(const v1::Device& d) {
  std::string id = d.kind() == v1::DEVICE_KIND_CUDA
                       ? absl::StrCat(ShortName(d.kind()), ":", d.index())
                       : std::string(ShortName(d.kind()));
  if (!d.name().empty()) {
    absl::StrAppend(
        &id, " (", d.name(),
        d.memory_bytes() > 0
            ? absl::StrFormat(" %.0f GiB", d.memory_bytes() / 1073741824.0)
            : "",
        ")");
  }
  return id;
}

}  // namespace

std::optional<OutputFormat> ParseOutputFormat(absl::string_view name) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n == "table") return OutputFormat::kTable;
  if (n == "json") return OutputFormat::kJson;
  if (n == "csv") return OutputFormat::kCsv;
  return std::nullopt;
}

std::string RenderTable(const Table& table, OutputFormat format) {
  std::string out;
  switch (format) {
    case OutputFormat::kJson: {
      nlohmann::ordered_json rows = nlohmann::ordered_json::array();
      for (const auto& row : table.rows) {
        nlohmann::ordered_json obj = nlohmann::ordered_json::object();
        for (size_t i = 0; i < table.columns.size(); ++i) {
          obj[table.columns[i]] = i < row.size() ? row[i] : "";
        }
        rows.push_back(std::move(obj));
      }
      // Replace invalid UTF-8 rather than throw.
      return rows.dump(2, ' ', false,
                       nlohmann::json::error_handler_t::replace) +
             "\n";
    }
    case OutputFormat::kCsv: {
      auto line = [&](const std::vector<std::string>& cells) {
        std::vector<std::string> quoted;
        for (const auto& c : cells) quoted.push_back(CsvCell(c));
        absl::StrAppend(&out, absl::StrJoin(quoted, ","), "\n");
      };
      line(table.columns);
      for (const auto& row : table.rows) line(row);
      return out;
    }
    case OutputFormat::kTable: {
      std::vector<size_t> widths(table.columns.size(), 0);
      for (size_t i = 0; i < table.columns.size(); ++i) {
        widths[i] = table.columns[i].size();
        for (const auto& row : table.rows) {
          if (i < row.size()) widths[i] = std::max(widths[i], row[i].size());
        }
      }
      auto line = [&](const std::vector<std::string>& cells) {
        std::string l;
        for (size_t i = 0; i < widths.size(); ++i) {
          const std::string cell = i < cells.size() ? cells[i] : "";
          l += cell;
          if (i + 1 < widths.size())
            l += std::string(widths[i] - cell.size() + 2, ' ');
        }
        // No trailing blanks from empty last cells.
        l.erase(l.find_last_not_of(' ') + 1);
        absl::StrAppend(&out, l, "\n");
      };
      line(table.columns);
      for (const auto& row : table.rows) line(row);
      return out;
    }
  }
  return out;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  if (json.empty() || json.back() != '\n') json += '\n';
  return json;
}

std::string HumanDuration(double seconds) {
  if (!(seconds >= 0)) return "?";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  if (s < 90) return absl::StrCat(s, " s");
  const int64_t minutes = (s + 30) / 60;
  if (minutes < 90) return absl::StrCat(minutes, " min");
  if (minutes < 48 * 60) {
    return minutes % 60 == 0
               ? absl::StrCat(minutes / 60, " h")
               : absl::StrCat(minutes / 60, " h ", minutes % 60, " min");
  }
  const int64_t hours = (minutes + 30) / 60;
  return hours % 24 == 0 ? absl::StrCat(hours / 24, " d")
                         : absl::StrCat(hours / 24, " d ", hours % 24, " h");
}

std::string HumanBytes(int64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = -1;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", value, kUnits[unit]);
}

std::string Metrics(const google::protobuf::Map<std::string, double>& m) {
  // Sorted for stable output (proto maps are unordered).
  std::map<std::string, double> sorted(m.begin(), m.end());
  std::vector<std::string> parts;
  for (const auto& [k, v] : sorted) {
    if (absl::EndsWith(k, "_seconds")) {
      parts.push_back(
          absl::StrCat(k.substr(0, k.size() - 8), "=", HumanDuration(v)));
    } else {
      parts.push_back(absl::StrFormat("%s=%.4g", k, v));
    }
  }
  return absl::StrJoin(parts, " ");
}

std::string Percent(double fraction) {
  return absl::StrFormat("%.1f", fraction * 100);
}

Table RunsTable(const std::vector<v1::Run>& runs) {
  Table t{{"ID", "NAME", "STATE", "METHOD", "ARCH", "K", "PROGRESS", "JOBS",
           "CREATED"},
          {}};
  for (const v1::Run& r : runs) {
    const v1::Progress& p = r.progress();
    t.rows.push_back(
        {absl::StrCat(r.run_id()), r.name(), std::string(ShortName(r.state())),
         std::string(ShortName(r.config().method())),
         std::string(ShortName(r.config().architecture())),
         absl::StrCat(r.config().width()),
         absl::StrCat(static_cast<int>(p.train_fraction() * 100 + 1e-9), "%"),
         absl::StrCat(JobsDone(p), "/", p.jobs_total()),
         Time(r.create_time())});
  }
  return t;
}

Table JobsTable(const std::vector<v1::Job>& jobs) {
  Table t{{"JOB", "KIND", "STATE", "ATTEMPTS", "CHECKPOINT", "LAYER", "PROBE",
           "PROGRESS", "WORKER", "ERROR"},
          {}};
  for (const v1::Job& j : jobs) {
    std::string probe;
    if (j.kind() == v1::JOB_KIND_PROBE) {
      probe = std::string(ShortName(j.probe_kind()));
      if (j.label_fraction() != 1)
        absl::StrAppend(&probe, "@", Fraction(j.label_fraction()));
    }
    t.rows.push_back(
        {absl::StrCat(j.job_id()), std::string(ShortName(j.kind())),
         std::string(ShortName(j.state())), absl::StrCat(j.attempts()),
         j.checkpoint_id() ? absl::StrCat(j.checkpoint_id()) : "", j.layer(),
         probe, absl::StrCat(static_cast<int>(j.progress() * 100 + 1e-9), "%"),
         j.worker_id() ? absl::StrCat(j.worker_id()) : "", j.error()});
  }
  return t;
}

std::string RunWarning(const v1::Run& run) {
  absl::StatusOr<experiment::RunConfig> config =
      services::CompleteConfigFromProto(run.config(), "config.");
  return config.ok() ? experiment::ShortRunWarning(*config) : "";
}

std::string LineageText(
    const google::protobuf::Map<std::string, std::string>& lineage) {
  auto get = [&](const char* key) {
    const auto it = lineage.find(key);
    return it == lineage.end() ? std::string() : it->second;
  };
  std::string out = absl::StrCat(get("worker"), " on ", get("device"));
  if (!get("host").empty()) absl::StrAppend(&out, " at ", get("host"));
  absl::StrAppend(&out, ": sslab ", get("sslab"));
  if (!get("git").empty()) absl::StrAppend(&out, " (git ", get("git"), ")");
  if (!get("libtorch").empty()) {
    absl::StrAppend(&out, ", libtorch ", get("libtorch"));
  }
  if (!get("cuda").empty()) absl::StrAppend(&out, ", cuda ", get("cuda"));
  if (!get("cudnn").empty()) absl::StrAppend(&out, ", cudnn ", get("cudnn"));
  if (!get("dataset").empty()) {
    absl::StrAppend(&out, "; data ", get("dataset"));
  }
  return out;
}

std::string RunDetails(const v1::Run& run) {
  const v1::RunConfig& c = run.config();
  const v1::Progress& p = run.progress();
  std::vector<std::string> probes;
  for (int k : c.evaluation().probe_kinds()) {
    probes.emplace_back(ShortName(static_cast<v1::ProbeKind>(k)));
  }
  std::vector<std::string> fractions;
  for (double f : c.evaluation().label_fractions())
    fractions.push_back(Fraction(f));
  std::vector<std::string> decays;
  for (double d : c.lr_schedule().decay_epochs()) decays.push_back(Fraction(d));
  std::map<std::string, std::string> versions(run.versions().begin(),
                                              run.versions().end());
  std::vector<std::string> version_parts;
  for (const auto& [k, v] : versions)
    version_parts.push_back(absl::StrCat(k, "=", v));

  std::string out;
  auto kv = [&](absl::string_view key, const std::string& value) {
    absl::StrAppend(
        &out, absl::StrFormat("%-14s %s\n", absl::StrCat(key, ":"), value));
  };
  kv("run", absl::StrCat(run.run_id()));
  kv("name", run.name());
  if (run.sweep_id()) kv("sweep", absl::StrCat(run.sweep_id()));
  kv("state", std::string(ShortName(run.state())));
  if (!run.error().empty()) kv("error", run.error());
  kv("method", std::string(ShortName(c.method())));
  kv("architecture", absl::StrCat(ShortName(c.architecture()), " k=", c.width(),
                                  c.last_relu() ? "" : " (-)"));
  kv("dataset",
     absl::StrCat(
         ShortName(c.dataset().kind()), ":", c.dataset().path(),
         " image_size=", c.dataset().image_size(),
         " val_fraction=", Fraction(c.dataset().val_fraction()),
         c.dataset().max_examples()
             ? absl::StrCat(" max_examples=", c.dataset().max_examples())
             : ""));
  kv("training",
     absl::StrCat(c.epochs(), " epochs, batch ", c.batch_size(), ", lr ",
                  Fraction(c.lr_schedule().base_lr()), " warmup ",
                  Fraction(c.lr_schedule().warmup_epochs()), " decay x",
                  Fraction(c.lr_schedule().decay_factor()), " at [",
                  absl::StrJoin(decays, ","), "], seed ", c.seed()));
  if (const std::string warning = RunWarning(run); !warning.empty()) {
    kv("warning", warning);
  }
  kv("augmentation", std::string(ShortName(c.augmentation())));
  kv("evaluation",
     absl::StrCat(
         "layers ", absl::StrJoin(c.evaluation().layers(), ","), "; probes ",
         absl::StrJoin(probes, ","), "; label fractions ",
         absl::StrJoin(fractions, ","), "; ",
         c.evaluation().every_epochs()
             ? absl::StrCat("every ", c.evaluation().every_epochs(), " epochs")
             : "final only",
         c.evaluation().feature_dtype() == v1::FEATURE_DTYPE_FLOAT16
             ? "; features float16"
             : ""));
  const v1::ProbeSettings& ps = c.evaluation().probe();
  std::vector<std::string> l2;
  for (double x : ps.l2_grid()) l2.push_back(absl::StrFormat("%g", x));
  kv("probe config",
     absl::StrCat("l2 grid [", absl::StrJoin(l2, ","), "]; sgd ",
                  ps.sgd_epochs(), " epochs lr ",
                  Fraction(ps.sgd_learning_rate()), " batch ",
                  ps.sgd_batch_size(), "; mlp ", ps.mlp_hidden_units(),
                  " hidden, ", ps.mlp_epochs(), " epochs"));
  kv("device",
     absl::StrCat(
         ShortName(c.device()), " (probes ", ShortName(c.probe_device()),
         "), precision ", ShortName(c.precision()), ", ",
         ShortName(c.memory_format()),
         c.threads() ? absl::StrCat(", ", c.threads(), " threads") : "",
         c.devices_per_run() > 1
             ? absl::StrCat(", ", c.devices_per_run(), " data-parallel ranks")
             : ""));
  kv("progress",
     absl::StrCat(ProgressBar(p.train_fraction(), 20), " epoch ", p.epoch(),
                  " step ", p.step(), p.metrics().empty() ? "" : " ",
                  Metrics(p.metrics())));
  kv("jobs", absl::StrCat(p.jobs_total(), " total, ", p.jobs_succeeded(),
                          " succeeded, ", p.jobs_running(), " running, ",
                          p.jobs_runnable(), " queued, ", p.jobs_pending(),
                          " waiting, ", p.jobs_failed(), " failed, ",
                          p.jobs_cancelled(), " cancelled"));
  const v1::DiskUsage& d = run.disk();
  kv("disk",
     absl::StrCat(HumanBytes(d.checkpoint_bytes() + d.feature_bytes()), " (",
                  d.checkpoints(), " checkpoints ",
                  HumanBytes(d.checkpoint_bytes()), ", ", d.feature_shards(),
                  " feature shards ", HumanBytes(d.feature_bytes()), ")",
                  run.pinned() ? "; pinned: retention keeps everything" : ""));
  kv("created", Time(run.create_time()));
  kv("updated", Time(run.update_time()));
  if (!version_parts.empty()) kv("versions", absl::StrJoin(version_parts, " "));
  // Lineage: what ran the jobs, one line per distinct worker build and
  // device, with the jobs it ran.
  std::vector<std::pair<std::string, std::vector<std::string>>> ran_on;
  for (const v1::Job& j : run.jobs()) {
    if (j.lineage().empty()) continue;
    const std::string text = LineageText(j.lineage());
    auto it = std::find_if(ran_on.begin(), ran_on.end(),
                           [&](const auto& r) { return r.first == text; });
    if (it == ran_on.end()) it = ran_on.insert(ran_on.end(), {text, {}});
    it->second.push_back(absl::StrCat(j.job_id()));
  }
  for (const auto& [text, jobs] : ran_on) {
    kv("ran on", absl::StrCat(text, " (jobs ", absl::StrJoin(jobs, ","), ")"));
  }
  if (run.jobs_size() > 0) {
    absl::StrAppend(
        &out, "\n",
        RenderTable(JobsTable({run.jobs().begin(), run.jobs().end()}),
                    OutputFormat::kTable));
  }
  return out;
}

Table CheckpointsTable(const std::vector<v1::Checkpoint>& checkpoints) {
  Table t{{"ID", "EPOCH", "STEP", "FINAL", "BYTES", "SHA256", "PATH", "METRICS",
           "DELETED"},
          {}};
  for (const v1::Checkpoint& c : checkpoints) {
    t.rows.push_back({absl::StrCat(c.checkpoint_id()), absl::StrCat(c.epoch()),
                      absl::StrCat(c.step()), c.is_final() ? "yes" : "",
                      absl::StrCat(c.bytes()), c.sha256().substr(0, 12),
                      c.path(), Metrics(c.metrics()),
                      c.has_delete_time() ? Time(c.delete_time()) : ""});
  }
  return t;
}

Table ArtifactsTable(const std::vector<v1::Artifact>& artifacts) {
  Table t{{"RUN", "EPOCH", "KIND", "LAYER", "SPLIT", "SIZE", "PATH"}, {}};
  for (const v1::Artifact& a : artifacts) {
    t.rows.push_back({absl::StrCat(a.run_id()), absl::StrCat(a.epoch()),
                      a.kind(), a.layer(), a.split(), HumanBytes(a.bytes()),
                      a.path()});
  }
  return t;
}

std::string PretextLine(const v1::Checkpoint& c) {
  const auto top1 = c.metrics().find("pretext_top1");
  if (top1 == c.metrics().end()) return "";
  const auto loss = c.metrics().find("loss");
  return absl::StrCat("pretext: top-1 ", Percent(top1->second), "%",
                      loss == c.metrics().end()
                          ? ""
                          : absl::StrFormat(", loss %.3f", loss->second),
                      " at epoch ", c.epoch(), "\n");
}

Table ResultsTable(const std::vector<v1::Result>& results) {
  // Columns: probe kinds (x label fractions when several), in first-seen order.
  std::set<double> fractions;
  for (const auto& r : results) fractions.insert(r.label_fraction());
  const bool show_fraction = fractions.size() > 1;
  std::vector<std::pair<int, double>> column_keys;
  for (const auto& r : results) {
    const std::pair<int, double> key{r.probe_kind(), r.label_fraction()};
    if (std::find(column_keys.begin(), column_keys.end(), key) ==
        column_keys.end()) {
      column_keys.push_back(key);
    }
  }
  std::sort(
      column_keys.begin(), column_keys.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first < b.first : a.second > b.second;
      });
  // Rows: (epoch, layer rank, layer).
  using RowKey = std::tuple<int64_t, int, std::string>;
  // Cell: (is_test, top1) so a test result wins over a val result.
  std::map<RowKey, std::map<std::pair<int, double>, std::pair<bool, double>>>
      cells;
  for (const auto& r : results) {
    const RowKey row{r.epoch(), LayerRank(r.architecture(), r.layer()),
                     r.layer()};
    auto& cell = cells[row][{r.probe_kind(), r.label_fraction()}];
    const bool is_test = r.split() == "test";
    if (is_test || !cell.first) cell = {is_test, r.top1()};
  }
  Table t;
  t.columns = {"EPOCH", "LAYER"};
  for (const auto& [kind, fraction] : column_keys) {
    std::string name =
        absl::AsciiStrToUpper(ShortName(static_cast<v1::ProbeKind>(kind)));
    if (show_fraction) absl::StrAppend(&name, "@", Fraction(fraction));
    t.columns.push_back(name);
  }
  for (const auto& [key, row_cells] : cells) {
    std::vector<std::string> row = {absl::StrCat(std::get<0>(key)),
                                    std::get<2>(key)};
    for (const auto& ck : column_keys) {
      const auto it = row_cells.find(ck);
      row.push_back(it == row_cells.end() ? "-" : Percent(it->second.second));
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table ResultRowsTable(const std::vector<v1::Result>& results) {
  Table t{{"RUN", "NAME", "METHOD", "ARCH", "K", "EPOCH", "LAYER", "PROBE",
           "LABEL_FRACTION", "SPLIT", "TOP1", "TOP5", "L2", "HYPERPARAMETERS"},
          {}};
  for (const v1::Result& r : results) {
    const std::map<std::string, std::string> hyper(r.hyperparameters().begin(),
                                                   r.hyperparameters().end());
    const auto l2 = hyper.find("l2");
    std::vector<std::string> others;
    for (const auto& [k, v] : hyper) {
      if (k != "l2") others.push_back(absl::StrCat(k, "=", v));
    }
    t.rows.push_back(
        {absl::StrCat(r.run_id()), r.run_name(),
         std::string(ShortName(r.method())),
         std::string(ShortName(r.architecture())), absl::StrCat(r.width()),
         absl::StrCat(r.epoch()), r.layer(),
         std::string(ShortName(r.probe_kind())),
         absl::StrCat(r.label_fraction()), r.split(),
         absl::StrFormat("%.6g", r.top1()), absl::StrFormat("%.6g", r.top5()),
         l2 == hyper.end() ? "" : l2->second, absl::StrJoin(others, ";")});
  }
  return t;
}

Table SweepGrid(const std::vector<v1::Result>& results,
                v1::ProbeKind probe_kind) {
  if (probe_kind == v1::PROBE_KIND_UNSPECIFIED) {
    for (const auto& r : results) {
      if (probe_kind == v1::PROBE_KIND_UNSPECIFIED ||
          r.probe_kind() == v1::PROBE_KIND_LBFGS) {
        probe_kind = r.probe_kind();
      }
    }
  }
  // Last evaluated epoch per run.
  std::map<int64_t, int64_t> last_epoch;
  for (const auto& r : results) {
    if (r.probe_kind() != probe_kind || r.label_fraction() != 1) continue;
    last_epoch[r.run_id()] = std::max(last_epoch[r.run_id()], r.epoch());
  }
  std::set<int> widths;
  for (const auto& r : results) widths.insert(r.width());
  const bool show_width = widths.size() > 1;

  // A layer's accuracies on the two splits. The best layer is chosen on val
  // (the study's protocol); its test accuracy is what the cell shows. A run
  // without a val split is chosen on test.
  struct Scores {
    std::optional<double> val;
    std::optional<double> test;
    double choice() const { return val ? *val : test.value_or(-1); }
    double shown() const { return test ? *test : val.value_or(-1); }
  };
  struct Best {
    double choice = -2;
    double shown = -1;
    std::string layer;
  };
  std::vector<int> methods;
  std::vector<std::pair<int, int>> columns;  // (architecture, width)
  std::map<std::pair<int, std::pair<int, int>>, Best> best;
  std::map<std::pair<int64_t, std::string>, Scores> per_layer;
  std::map<int64_t, const v1::Result*> run_of;
  for (const auto& r : results) {
    // The raw-pixel baseline is not a learned representation.
    if (r.probe_kind() != probe_kind || r.label_fraction() != 1 ||
        r.epoch() != last_epoch[r.run_id()] ||
        r.layer() == experiment::kPixelsLayer) {
      continue;
    }
    Scores& scores = per_layer[{r.run_id(), r.layer()}];
    (r.split() == "val" ? scores.val : scores.test) = r.top1();
    run_of[r.run_id()] = &r;
  }
  for (const auto& [key, scores] : per_layer) {
    const v1::Result& r = *run_of[key.first];
    const std::pair<int, int> column{r.architecture(),
                                     show_width ? r.width() : 0};
    if (std::find(methods.begin(), methods.end(), r.method()) ==
        methods.end()) {
      methods.push_back(r.method());
    }
    if (std::find(columns.begin(), columns.end(), column) == columns.end()) {
      columns.push_back(column);
    }
    Best& b = best[{r.method(), column}];
    if (scores.choice() > b.choice) {
      b = {scores.choice(), scores.shown(), key.second};
    }
  }
  std::sort(methods.begin(), methods.end());
  std::sort(columns.begin(), columns.end());
  Table t;
  t.columns = {"METHOD"};
  for (const auto& [arch, width] : columns) {
    std::string name(ShortName(static_cast<v1::Architecture>(arch)));
    if (show_width) absl::StrAppend(&name, " k=", width);
    t.columns.push_back(name);
  }
  for (int m : methods) {
    std::vector<std::string> row = {
        std::string(ShortName(static_cast<v1::Method>(m)))};
    for (const auto& column : columns) {
      const auto it = best.find({m, column});
      row.push_back(it == best.end()
                        ? "-"
                        : absl::StrCat(Percent(it->second.shown), " (",
                                       it->second.layer, ")"));
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table MetricsTable(const std::vector<v1::MetricSeries>& series) {
  std::vector<const v1::MetricSeries*> sorted;
  for (const auto& s : series) sorted.push_back(&s);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->name() < b->name(); });
  std::map<int64_t, std::vector<std::string>> rows;
  for (size_t i = 0; i < sorted.size(); ++i) {
    for (const v1::MetricPoint& p : sorted[i]->points()) {
      auto& row = rows[p.step()];
      row.resize(sorted.size());
      row[i] = absl::StrFormat("%.6g", p.value());
    }
  }
  Table t;
  t.columns = {"STEP"};
  for (const auto* s : sorted)
    t.columns.push_back(absl::AsciiStrToUpper(s->name()));
  for (auto& [step, cells] : rows) {
    std::vector<std::string> row = {absl::StrCat(step)};
    cells.resize(sorted.size());
    row.insert(row.end(), cells.begin(), cells.end());
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table SweepsTable(const std::vector<v1::Sweep>& sweeps) {
  Table t{{"ID", "NAME", "RUNS", "SUCCEEDED", "GRID", "CREATED"}, {}};
  for (const v1::Sweep& s : sweeps) {
    const v1::SweepGrid& g = s.grid();
    std::vector<std::string> axes;
    auto axis = [&](const char* name, std::vector<std::string> values) {
      if (!values.empty()) {
        axes.push_back(absl::StrCat(name, "=", absl::StrJoin(values, ",")));
      }
    };
    std::vector<std::string> methods, archs, widths, last_relus, seeds, epochs;
    for (int m : g.methods()) {
      methods.emplace_back(ShortName(static_cast<v1::Method>(m)));
    }
    for (int a : g.architectures()) {
      archs.emplace_back(ShortName(static_cast<v1::Architecture>(a)));
    }
    for (int w : g.widths()) widths.push_back(absl::StrCat(w));
    for (bool r : g.last_relu_values())
      last_relus.push_back(r ? "true" : "false");
    for (int64_t seed : g.seeds()) seeds.push_back(absl::StrCat(seed));
    for (int e : g.epochs_values()) epochs.push_back(absl::StrCat(e));
    axis("methods", methods);
    axis("archs", archs);
    axis("widths", widths);
    axis("last-relus", last_relus);
    axis("seeds", seeds);
    axis("epochs-values", epochs);
    for (const v1::SweepAxis& a : g.axes()) {
      axes.push_back(absl::StrCat(
          a.field(), "=",
          absl::StrJoin(a.values(),
                        experiment::IsListField(a.field()) ? ";" : ",")));
    }
    for (const v1::SweepZip& z : g.zip()) {
      axes.push_back(absl::StrCat("zip=", absl::StrJoin(z.fields(), "+")));
    }
    t.rows.push_back({absl::StrCat(s.sweep_id()), s.name(),
                      absl::StrCat(s.runs_total()),
                      absl::StrCat(s.runs_succeeded()),
                      absl::StrJoin(axes, " "), Time(s.create_time())});
  }
  return t;
}

Table WorkersTable(const std::vector<v1::Worker>& workers) {
  Table t{{"ID", "NAME", "STATUS", "DEVICES", "SERVES", "JOBS", "LAST_HEARD"},
          {}};
  for (const v1::Worker& w : workers) {
    std::vector<std::string> devices, kinds, jobs;
    for (const v1::Device& d : w.devices()) devices.push_back(DeviceLabel(d));
    for (int k : w.job_kinds()) {
      kinds.emplace_back(ShortName(static_cast<v1::JobKind>(k)));
    }
    for (const v1::Job& j : w.jobs()) {
      jobs.push_back(absl::StrCat(
          ShortName(j.kind()), " ", j.job_id(), " (run ", j.run_id(), ") on ",
          j.lease_gang().empty() ? j.lease_device()
                                 : absl::StrJoin(j.lease_gang(), "+")));
    }
    t.rows.push_back(
        {absl::StrCat(w.worker_id()), w.name(), w.alive() ? "alive" : "silent",
         absl::StrJoin(devices, ","), absl::StrJoin(kinds, ","),
         absl::StrJoin(jobs, ", "), Time(w.last_heartbeat_time())});
  }
  return t;
}

std::string WorkerStatusText(const v1::WorkerStatus& s) {
  const std::string name = v1::WorkerPhase_Name(s.phase());
  absl::string_view phase = name;
  absl::ConsumePrefix(&phase, "WORKER_PHASE_");
  std::vector<std::string> kinds;
  for (int k : s.job_kinds()) {
    kinds.emplace_back(ShortName(static_cast<v1::JobKind>(k)));
  }
  std::string out = absl::StrCat(
      "name:       ", s.name(), " (worker ", s.worker_id(), ")\n",
      "phase:      ", absl::AsciiStrToLower(phase), "\n",
      "scheduler:  ", s.scheduler_address(), "\n",
      "serves:     ", absl::StrJoin(kinds, ","), "\n",
      "jobs:       ", s.jobs_succeeded(), " succeeded, ", s.jobs_failed(),
      " failed since ", Time(s.start_time()), "\n");
  if (!s.last_error().empty()) {
    absl::StrAppend(&out, "last error: ", s.last_error(), "\n");
  }
  Table t{{"DEVICE", "JOB", "PROGRESS", "EPOCH", "STEP", "METRICS"}, {}};
  for (const v1::WorkerSlot& slot : s.slots()) {
    const bool busy = slot.has_current_job();
    const v1::Job& j = slot.current_job();
    t.rows.push_back(
        {DeviceLabel(slot.device()),
         busy ? absl::StrCat(ShortName(j.kind()), " ", j.job_id(), " (run ",
                             j.run_id(), ")")
              : "idle",
         busy
             ? absl::StrCat(static_cast<int>(slot.progress() * 100 + 1e-9), "%")
             : "",
         busy ? absl::StrCat(slot.epoch()) : "",
         busy ? absl::StrCat(slot.step()) : "", Metrics(slot.metrics())});
  }
  return out + "\n" + RenderTable(t, OutputFormat::kTable);
}

std::string ProgressBar(double fraction, int width) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  if (!(fraction >= 0)) fraction = 0;  // NaN
  const int filled = static_cast<int>(fraction * width + 1e-9);
  return absl::StrFormat("[%s%s] %3d%%", std::string(filled, '#'),
                         std::string(width - filled, '.'),
                         static_cast<int>(fraction * 100 + 1e-9));
}

std::string ProgressLine(const v1::Run& run) {
  const v1::Progress& p = run.progress();
  std::string line =
      absl::StrCat("run ", run.run_id(), " ", ShortName(run.state()), " ",
                   ProgressBar(p.train_fraction(), 20));
  if (p.epoch() || p.step())
    absl::StrAppend(&line, " epoch ", p.epoch(), " step ", p.step());
  if (!p.metrics().empty()) absl::StrAppend(&line, " ", Metrics(p.metrics()));
  absl::StrAppend(&line, " jobs ", JobsDone(p), "/", p.jobs_total());
  if (!run.error().empty()) absl::StrAppend(&line, " error: ", run.error());
  return line;
}

}  // namespace sslab::cli
