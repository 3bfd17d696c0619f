#!/usr/bin/env python3
"""HTTP latency of the scheduler's JSON API on a large database.

Fills a fresh database with --runs runs (each with one final checkpoint and
--results-per-run probe results, so 10,000 x 100 = 1,000,000 result rows by
default) straight through SQLite, starts the real sslab-scheduler on it, and
times GET /api/v1/runs (a page of 50, with job counts and progress) and
GET /api/v1/runs/{id}/results for random runs, interleaved, over one
keep-alive connection each. Prints p50/p99 per endpoint.

With --security it instead times GET /api/v1/runs/{id}/results against three
schedulers on copies of the database, interleaved: no tokens over HTTP, a
client token over HTTP, and a client token over HTTPS (a CA and certificate
made with the openssl command line), so that the ratio is what checking
tokens and TLS cost a call.

With --cli SSLAB it instead puts every run in one sweep and times the real
CLI reading the sweep's results to the end, page after page, as JSON (written
as the pages arrive) and as the grid table, with the CLI's peak memory.

  python3 bench/scheduler/http_bench.py --scheduler build/services/scheduler/sslab-scheduler
  python3 bench/scheduler/http_bench.py --scheduler ... --runs 1000 --security
  python3 bench/scheduler/http_bench.py --scheduler ... --runs 3360 --cli build/cli/sslab
"""
import argparse
import http.client
import json
import os
import random
import shutil
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import time


def start_scheduler(binary, workdir, db, extra=()):
    """Starts sslab-scheduler on loopback ports; returns (process, HTTP
    port). Its gRPC address is grpc_address(workdir)."""
    port_files = [os.path.join(workdir, name) for name in ("http.port", "grpc.port")]
    for f in port_files:
        if os.path.exists(f):
            os.remove(f)
    proc = subprocess.Popen(
        [binary, "--listen=127.0.0.1:0", f"--port-file={port_files[1]}", f"--db={db}",
         f"--data-dir={workdir}/artifacts", "--http-listen=127.0.0.1:0",
         f"--http-port-file={port_files[0]}", *extra],
        stderr=open(os.path.join(workdir, "scheduler.log"), "a"))
    for _ in range(1200):
        if all(os.path.exists(f) and open(f).read().strip() for f in port_files):
            return proc, int(open(port_files[0]).read())
        if proc.poll() is not None:
            sys.exit("scheduler exited; see " + workdir + "/scheduler.log")
        time.sleep(0.1)
    sys.exit("scheduler did not start")


def grpc_address(workdir):
    """The gRPC address of the scheduler start_scheduler last started."""
    return "127.0.0.1:" + open(os.path.join(workdir, "grpc.port")).read().strip()


def fill(db, runs, results_per_run):
    con = sqlite3.connect(db)
    now = int(time.time() * 1000)
    layers = ["after_root", "block1", "block2", "block3", "block4",
              "pre_logits", "pixels"]
    targets = [(layer, probe, fraction, split)
               for layer in layers for probe in ("lbfgs", "sgd", "mlp")
               for fraction in (1.0, 0.5, 0.1) for split in ("val", "test")]
    if results_per_run > len(targets):
        sys.exit(f"--results-per-run at most {len(targets)}")
    targets = targets[:results_per_run]
    layer_list = json.dumps(layers)
    with con:
        con.executemany(
            "INSERT INTO runs (name, state, method, architecture, width, "
            "versions_json, priority, created_ms, updated_ms, last_relu, "
            "dataset_kind, dataset_path, image_size, epochs, batch_size, "
            "warmup_epochs, decay_epochs, eval_layers, eval_probe_kinds, "
            "eval_label_fractions) VALUES (?, 'SUCCEEDED', ?, ?, ?, '{}', 0, "
            "?, ?, 1, 'idx', '/data', 28, 35, 64, 5, '[15,25]', ?, "
            "'[\"lbfgs\",\"sgd\",\"mlp\"]', '[1,0.5,0.1]')",
            ((f"run-{i}", ("rotation", "jigsaw")[i % 2],
              ("resnet50_v2", "revnet50")[i % 2], 1 + i % 4, now, now,
              layer_list) for i in range(runs)))
        con.executemany(
            "INSERT INTO checkpoints (run_id, epoch, step, path, sha256, "
            "bytes, metrics_json, is_final, created_ms) VALUES "
            "(?, 35, 1000, 'ck', '', 1, '{}', 1, ?)",
            ((i + 1, now) for i in range(runs)))
        con.executemany(
            "INSERT INTO results (checkpoint_id, layer, probe_kind, "
            "label_fraction, split, top1, top5, hyperparameters_json, "
            "created_ms) VALUES (?, ?, ?, ?, ?, ?, 0.9, '{\"l2\":\"0.001\"}', "
            "?)",
            ((c + 1, layer, probe, fraction, split, 0.5, now)
             for c in range(runs)
             for (layer, probe, fraction, split) in targets))
        con.executemany(
            "INSERT INTO jobs (run_id, kind, state, priority, attempts, "
            "max_attempts, device, progress, created_ms, updated_ms) VALUES "
            "(?, 'TRAIN', 'SUCCEEDED', 0, 1, 3, 'cpu', 1, ?, ?)",
            ((i + 1, now, now) for i in range(runs)))
    count = con.execute("SELECT count(*) FROM results").fetchone()[0]
    con.close()
    return count


def timed_get(conn, path, headers=None):
    start = time.perf_counter()
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - start
    if response.status != 200:
        sys.exit(f"{path}: HTTP {response.status}: {body[:200]}")
    return elapsed, body


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def make_pki(workdir):
    """A CA and a certificate for 127.0.0.1, as scripts/make-tokens makes."""
    subprocess.run(["scripts/make-tokens", os.path.join(workdir, "secrets")],
                   check=True, stdout=subprocess.DEVNULL,
                   cwd=os.path.join(os.path.dirname(__file__), "..", ".."))
    return os.path.join(workdir, "secrets")


def compare_security(args, workdir, db):
    secrets = make_pki(workdir)
    token = [line for line in open(os.path.join(secrets, "client.tokens"))
             if not line.startswith("#")][0].strip()
    auth = {"Authorization": f"Bearer {token}"}
    tokens = [f"--client-tokens-file={secrets}/client.tokens",
              f"--worker-tokens-file={secrets}/worker.tokens"]
    tls = [f"--tls-cert={secrets}/tls.crt", f"--tls-key={secrets}/tls.key"]
    context = ssl.create_default_context(cafile=f"{secrets}/ca.pem")
    setups = [("no token, HTTP", [], None, {}),
              ("client token, HTTP", tokens, None, auth),
              ("client token, HTTPS", tokens + tls, context, auth)]
    procs, conns = [], []
    try:
        for i, (name, extra, ctx, headers) in enumerate(setups):
            copy = os.path.join(workdir, f"copy-{i}")
            os.makedirs(copy, exist_ok=True)
            shutil.copy(db, os.path.join(copy, "sslab.db"))
            proc, port = start_scheduler(args.scheduler, copy,
                                         os.path.join(copy, "sslab.db"), extra)
            procs.append(proc)
            conns.append(
                http.client.HTTPSConnection("127.0.0.1", port, timeout=60,
                                            context=ctx) if ctx else
                http.client.HTTPConnection("127.0.0.1", port, timeout=60))
        rng = random.Random(0)
        times = [[] for _ in setups]
        for round_ in range(args.requests + 20):  # 20 warm-up rounds
            path = (f"/api/v1/runs/{rng.randint(1, args.runs)}/results"
                    "?page_size=1000")
            for i, (_, _, _, headers) in enumerate(setups):
                elapsed, _ = timed_get(conns[i], path, headers)
                if round_ >= 20:
                    times[i].append(1000 * elapsed)
        base = statistics.median(times[0])
        for (name, *_), values in zip(setups, times):
            print(f"GET /api/v1/runs/{{id}}/results, {name}: "
                  f"p50 {statistics.median(values):.2f} ms "
                  f"({statistics.median(values) / base:.2f}x), "
                  f"p99 {percentile(values, 99):.2f} ms "
                  f"over {len(values)} requests")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()


def time_cli(args, workdir, db):
    con = sqlite3.connect(db)
    with con:
        con.execute("INSERT INTO sweeps (name, created_ms) VALUES ('all', 0)")
        con.execute("UPDATE runs SET sweep_id = 1")
    con.close()
    proc, _ = start_scheduler(args.scheduler, workdir, db,
                              ["--port-file=" + workdir + "/grpc.port"])
    try:
        addr = "127.0.0.1:" + open(workdir + "/grpc.port").read().strip()
        cli = os.path.abspath(args.cli)
        times = {"json": [], "table": []}
        peak_mb = {"json": 0, "table": 0}
        for _ in range(3):  # interleaved repeats
            for kind, flags in (("json", ["--format=json"]), ("table", [])):
                rss_file = os.path.join(workdir, "cli.rss")
                start = time.perf_counter()
                out = subprocess.run(
                    ["/usr/bin/time", "-f", "%M", "-o", rss_file, cli,
                     "--addr", addr, "--timeout", "600", *flags, "results",
                     "--sweep", "1"],
                    check=True, capture_output=True).stdout
                times[kind].append(time.perf_counter() - start)
                peak_mb[kind] = max(peak_mb[kind],
                                    int(open(rss_file).read()) / 1024)
                if kind == "json":
                    count = len(json.loads(out)["results"])
        for kind, values in times.items():
            print(f"sslab results --sweep 1 ({kind}, {count} results): "
                  f"median {statistics.median(values):.2f} s of "
                  f"{', '.join(f'{v:.2f}' for v in values)}, "
                  f"peak resident {peak_mb[kind]:.0f} MB")
    finally:
        proc.terminate()
        proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scheduler", required=True)
    parser.add_argument("--runs", type=int, default=10000)
    parser.add_argument("--results-per-run", type=int, default=100)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--security", action="store_true",
                        help="compare no token, a token, a token over HTTPS")
    parser.add_argument("--cli", help="time this sslab reading a sweep's "
                        "results instead")
    args = parser.parse_args()
    args.scheduler = os.path.abspath(args.scheduler)

    workdir = tempfile.mkdtemp(prefix="sslab_http_bench_")
    db = os.path.join(workdir, "sslab.db")
    proc, _ = start_scheduler(args.scheduler, workdir, db)  # creates the schema
    proc.terminate()
    proc.wait()
    t = time.perf_counter()
    rows = fill(db, args.runs, args.results_per_run)
    print(f"filled {args.runs} runs, {rows} result rows in "
          f"{time.perf_counter() - t:.1f} s", flush=True)
    if args.security or args.cli:
        (compare_security if args.security else time_cli)(args, workdir, db)
        print("database kept in", workdir)
        return
    proc, port = start_scheduler(args.scheduler, workdir, db)
    try:
        lists = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        results = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        rng = random.Random(0)
        for _ in range(20):  # warm-up: page cache, prepared paths
            timed_get(lists, "/api/v1/runs")
            timed_get(results, f"/api/v1/runs/{rng.randint(1, args.runs)}"
                      "/results?page_size=1000")
        list_ms, result_ms, result_rows = [], [], 0
        for _ in range(args.requests):
            elapsed, body = timed_get(lists, "/api/v1/runs")
            list_ms.append(1000 * elapsed)
            assert len(json.loads(body)["runs"]) == 50
            elapsed, body = timed_get(
                results, f"/api/v1/runs/{rng.randint(1, args.runs)}"
                "/results?page_size=1000")
            result_ms.append(1000 * elapsed)
            result_rows = len(json.loads(body)["results"])
        for name, values, note in (
                ("GET /api/v1/runs (page of 50)", list_ms, ""),
                ("GET /api/v1/runs/{id}/results", result_ms,
                 f" ({result_rows} results each)")):
            print(f"{name}{note}: p50 {statistics.median(values):.2f} ms, "
                  f"p99 {percentile(values, 99):.2f} ms, "
                  f"max {max(values):.2f} ms over {len(values)} requests")
    finally:
        proc.terminate()
        proc.wait()
    print("database kept in", workdir)


if __name__ == "__main__":
    main()
