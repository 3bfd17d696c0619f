#!/usr/bin/env python3
"""Tables and a plot of the CPU-scale study (docs/study-fmnist.md).

    python3 python/plot_study.py DIR [--png docs/images/study-fmnist.png]

DIR is what scripts/study-fmnist writes: run-ID.json (`sslab show RUN -o json`,
`sslab results RUN -o json`, then `sslab checkpoints RUN -o json`, whose
last checkpoint's pretext_top1 is the last epoch's mean; files without it
fall back to the last progress report) per run, and logs/evaluator.log one level up
for the probe jobs' durations. Prints Markdown tables: test top-1 (%) per layer
for the L-BFGS probe on all labels and on 10%, trained next to random init,
with the pretext accuracy (the last training epoch's mean over its batches);
the three probes at each run's best layer (chosen on val) with the time each
probe took over all layers, on all labels and on 10%. A network is (method, architecture, k, image
size; the size is shown when not Fashion-MNIST's 28 px). Needs
python3-matplotlib for --png.
"""
import argparse
import collections
import datetime
import json
import pathlib
import re

LAYER_ORDER = ["pixels", "after_root", "block1", "block2", "block3", "block4",
               "fc6", "pre_logits"]


def short(enum_name):
    """PROBE_KIND_LBFGS -> lbfgs, ARCHITECTURE_RESNET50_V2 -> resnet50_v2."""
    for prefix in ("PROBE_KIND_", "ARCHITECTURE_", "METHOD_"):
        if enum_name.startswith(prefix):
            return enum_name[len(prefix):].lower()
    return enum_name


def load_runs(directory):
    decoder = json.JSONDecoder()
    runs = []
    for path in sorted(directory.glob("run-*.json")):
        text = path.read_text()
        run, end = decoder.raw_decode(text)
        rest = text[end:].lstrip()
        results, end = decoder.raw_decode(rest)
        rest = rest[end:].lstrip()
        checkpoints = decoder.raw_decode(rest)[0].get("checkpoints", []) if rest else []
        run["final_metrics"] = checkpoints[-1].get("metrics", {}) if checkpoints else {}
        runs.append((run, results.get("results", [])))
    return runs


def probe_seconds(log_path):
    """job id -> seconds from lease to success, from a worker's log."""
    stamp = re.compile(r"^I(\d{8} \d\d:\d\d:\d\d\.\d+) .*job (\d+) "
                       r"(?:\(run \d+, JOB_KIND_PROBE\) leased|succeeded)")
    leased, seconds = {}, {}
    if not log_path.exists():
        return seconds
    for line in log_path.read_text().splitlines():
        m = stamp.match(line)
        if not m:
            continue
        t = datetime.datetime.strptime(m.group(1), "%Y%m%d %H:%M:%S.%f")
        job = int(m.group(2))
        if "leased" in line:
            leased[job] = t
        elif job in leased:
            seconds[job] = (t - leased.pop(job)).total_seconds()
    return seconds


def key(run):
    c = run["config"]
    return (short(c["method"]), short(c["architecture"]), c["width"],
            c["dataset"].get("image_size", 0))


def label(system):
    method, arch, k, size = system
    return f"{method} {arch} k={k}" + (f" at {size} px" if size != 28 else "")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", type=pathlib.Path)
    parser.add_argument("--png", type=pathlib.Path)
    args = parser.parse_args()
    runs = load_runs(args.dir)
    seconds = probe_seconds(args.dir.parent / "logs" / "evaluator.log")

    # (system, trained?) -> {(probe, fraction, layer, split): top1 %}
    acc = collections.defaultdict(dict)
    pretext = {}
    time_per_probe = collections.defaultdict(float)
    for run, results in runs:
        if not run["state"].endswith("SUCCEEDED"):
            print(f"note: run {run['run_id']} {run['name']} is {run['state']}")
            continue
        system = key(run)
        trained = run["config"]["epochs"] > 0
        if trained:
            pretext[system] = run["final_metrics"].get(
                "pretext_top1", run.get("progress", {}).get("metrics", {}).get("pretext_top1"))
        for r in results:
            acc[(system, trained)][(short(r["probe_kind"]),
                                     round(r["label_fraction"], 3),
                                     r["layer"], r["split"])] = 100 * r["top1"]
        # A target probed again (`sslab probe --again`) counts its last job.
        last_job = {}
        for job in sorted(run.get("jobs", []), key=lambda j: int(j["job_id"])):
            if job["kind"] == "JOB_KIND_PROBE":
                last_job[(short(job["probe_kind"]), round(job["label_fraction"], 3),
                          job.get("layer", ""))] = int(job["job_id"])
        for (probe, fraction, _), job_id in last_job.items():
            time_per_probe[(system, trained, probe, fraction)] += \
                seconds.get(job_id, 0.0)

    systems = sorted({system for system, _ in acc})
    layers = sorted({layer for table in acc.values() for (_, _, layer, _) in table},
                    key=lambda l: LAYER_ORDER.index(l) if l in LAYER_ORDER else 99)

    def per_layer_table(fraction):
        print(f"\nL-BFGS probe, {fraction:g} of the labels: test top-1 (%)\n")
        print("| network | pretext | " + " | ".join(layers) + " |")
        print("|---|---|" + "---|" * len(layers))
        for system in systems:
            for trained in (True, False):
                table = acc.get((system, trained))
                if not table:
                    continue
                cells = [table.get(("lbfgs", fraction, layer, "test")) for layer in layers]
                if all(c is None for c in cells):
                    continue
                name = label(system) + ("" if trained else " random init")
                p = pretext.get(system) if trained else None
                print(f"| {name} | " + ("" if p is None else f"{100 * p:.1f}") + " | " +
                      " | ".join("" if c is None else f"{c:.1f}" for c in cells) + " |")

    per_layer_table(1.0)
    per_layer_table(0.1)

    def best_layer_table(fraction):
        print(f"\nProbes at the best layer on val ({fraction:g} of the labels): "
              "test top-1 (%), and seconds for that probe over all layers\n")
        print("| network | lbfgs | sgd | mlp | lbfgs s | sgd s | mlp s |")
        print("|---|---|---|---|---|---|---|")
        for system in systems:
            for trained in (True, False):
                table = acc.get((system, trained))
                if not table:
                    continue
                cells, times = [], []
                for probe in ("lbfgs", "sgd", "mlp"):
                    val = {layer: table.get((probe, fraction, layer, "val"))
                           for layer in layers}
                    val = {l: v for l, v in val.items() if v is not None and l != "pixels"}
                    if not val:
                        cells.append("")
                    else:
                        best = max(val, key=val.get)
                        cells.append(f"{table[(probe, fraction, best, 'test')]:.1f} ({best})")
                    t = time_per_probe.get((system, trained, probe, fraction))
                    times.append(f"{t:.0f}" if t else "")
                if sum(c != "" for c in cells) < 2:
                    continue  # one probe kind: nothing to compare
                name = label(system) + ("" if trained else " random init")
                print(f"| {name} | " + " | ".join(cells + times) + " |")

    best_layer_table(1.0)
    best_layer_table(0.1)

    if args.png:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        cols = min(4, len(systems))
        rows = -(-len(systems) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows),
                                 sharey=True, squeeze=False)
        for ax in axes.flat[len(systems):]:
            ax.axis("off")
        for ax, system in zip(axes.flat, systems):
            for trained, style in ((True, "-o"), (False, "--x")):
                table = acc.get((system, trained), {})
                xs = [l for l in layers if l != "pixels"
                      and ("lbfgs", 1.0, l, "test") in table]
                ax.plot(range(len(xs)), [table[("lbfgs", 1.0, l, "test")] for l in xs],
                        style, label="trained" if trained else "random init")
                pixels = table.get(("lbfgs", 1.0, "pixels", "test"))
                if pixels is not None and trained:
                    ax.axhline(pixels, color="grey", lw=0.8, label="pixels")
                if xs:
                    ax.set_xticks(range(len(xs)))
                    ax.set_xticklabels(xs, rotation=45, ha="right", fontsize=8)
            ax.set_title(label(system), fontsize=8)
            ax.grid(alpha=0.3)
        for row in axes:
            row[0].set_ylabel("test top-1 (%), L-BFGS probe")
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.png, dpi=110)
        print(f"\nwrote {args.png}")


if __name__ == "__main__":
    main()
