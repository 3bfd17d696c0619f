// Output formatting for the `sslab` CLI: tables (aligned text or CSV),
// proto messages as JSON, result tables and sweep grids, progress lines.
// Pure functions over protocol messages, so they can be unit-tested without
// a server. Thread-safe.
#ifndef SSLAB_CLI_FORMAT_H_
#define SSLAB_CLI_FORMAT_H_

#include <google/protobuf/message.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "sslab/v1/types.pb.h"
#include "sslab/v1/worker_status.pb.h"

namespace sslab::cli {

enum class OutputFormat { kTable, kJson, kCsv };

// "table", "json", "csv"; nullopt otherwise.
std::optional<OutputFormat> ParseOutputFormat(absl::string_view name);

// A rectangular table of text cells under a header.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
};

// kTable: columns padded to the widest cell, two spaces apart, header first;
// kCsv: RFC 4180 (cells with , " or newlines quoted, quotes doubled);
// kJson: an array of objects keyed by column name, cells as strings.
// Every line ends with '\n'.
std::string RenderTable(const Table& table, OutputFormat format);

// The proto3 JSON mapping of `message`, indented, field names as in the
// .proto, zero values included; ends with '\n'.
std::string ToJson(const google::protobuf::Message& message);

// Accuracy fraction as a percentage with one decimal: 0.5543 -> "55.4".
std::string Percent(double fraction);

// A duration for people: "45 s", "12 min", "3 h 25 min", "2 d 4 h".
std::string HumanDuration(double seconds);

// A size for people, in binary units: "512 B", "1.5 KiB", "12.3 MiB",
// "4.0 GiB", "1.2 TiB".
std::string HumanBytes(int64_t bytes);

// Metrics as "name=value" pairs sorted by name; a *_seconds metric is shown
// under its name without the suffix as a HumanDuration ("eta=12 min").
std::string Metrics(const google::protobuf::Map<std::string, double>& m);

// One row per run: ID NAME STATE METHOD ARCH K PROGRESS JOBS CREATED.
Table RunsTable(const std::vector<v1::Run>& runs);

// `sslab show`: the run's fields as "key: value" lines (with one "ran on"
// line per distinct job lineage), then its jobs table.
std::string RunDetails(const v1::Run& run);
// A job's lineage in one line: "trainer-0 on cuda:0 (NVIDIA H100) at box:
// sslab 0.1.0 (git abc1234), libtorch 2.5.1, cuda 12.4, cudnn 9.1.0".
std::string LineageText(
    const google::protobuf::Map<std::string, std::string>& lineage);
// "pretext: top-1 93.1%, loss 0.210 at epoch 2\n" from a
// checkpoint's metrics; "" without pretext_top1.
std::string PretextLine(const v1::Checkpoint& checkpoint);
// Why the run's config is unlikely to learn its pretext task, or "".
std::string RunWarning(const v1::Run& run);

// The jobs of a run: ID KIND STATE ATTEMPTS CHECKPOINT LAYER PROBE PROGRESS
// WORKER ERROR.
Table JobsTable(const std::vector<v1::Job>& jobs);

// ID EPOCH STEP FINAL BYTES SHA256 PATH METRICS.
Table CheckpointsTable(const std::vector<v1::Checkpoint>& checkpoints);
// What retention deleted or would delete (`sslab gc`).
Table ArtifactsTable(const std::vector<v1::Artifact>& artifacts);

// Results of one run: one row per (epoch, layer) in network order, one
// column per probe kind (and label fraction when several), cells = top-1 %
// on the test split (val when there is no test result).
Table ResultsTable(const std::vector<v1::Result>& results);

// Every field of every result, one row each (for CSV and spreadsheets):
// RUN NAME METHOD ARCH K EPOCH LAYER PROBE LABEL_FRACTION SPLIT TOP1 TOP5
// L2 HYPERPARAMETERS (accuracies as fractions, the other hyper-parameters
// as "k=v;k=v").
Table ResultRowsTable(const std::vector<v1::Result>& results);

// Results of a sweep as the paper's grid: one row per method, one column per
// architecture (with k when several widths occur). Each cell is the layer
// with the best val top-1 (the study's protocol; test when a run has no val
// split), shown as its test top-1 % and its name, e.g. "55.4 (block3)".
// Uses only results of `probe_kind` with label fraction 1 from the last
// evaluated epoch of each run; unset probe_kind picks LBFGS when present,
// else the first one seen.
Table SweepGrid(const std::vector<v1::Result>& results,
                v1::ProbeKind probe_kind = v1::PROBE_KIND_UNSPECIFIED);

// A run's training curves: one row per step, one column per series (sorted
// by name), cells empty where a series has no point at that step.
Table MetricsTable(const std::vector<v1::MetricSeries>& series);

// ID NAME RUNS SUCCEEDED GRID CREATED.
Table SweepsTable(const std::vector<v1::Sweep>& sweeps);

// ID NAME STATUS DEVICES SERVES JOBS LAST_HEARD.
Table WorkersTable(const std::vector<v1::Worker>& workers);

// `sslab worker ADDR`: what one worker process says about itself ("key:
// value" lines), then one row per device: DEVICE JOB PROGRESS EPOCH STEP
// METRICS.
std::string WorkerStatusText(const v1::WorkerStatus& status);

// "[##########..........]  50%" with `width` cells inside the brackets;
// fractions are clamped to [0, 1].
std::string ProgressBar(double fraction, int width = 30);

// One status line of a watched run, e.g.
// "run 3 running [####....]  40% epoch 2 step 120 loss=0.531 jobs 1/2".
std::string ProgressLine(const v1::Run& run);

}  // namespace sslab::cli

#endif  // SSLAB_CLI_FORMAT_H_
