#!/usr/bin/env python3
"""The scheduler under load (issue 14): many concurrent gRPC clients and
workers against the real sslab-scheduler, on an empty database and on a
large one.

1. Empty database: SubmitRun from --clients threads, --submits runs.
2. Large database: --runs finished runs with --results-per-run results each
   (100,000 x 10 = 1,000,000 result rows by default, written straight
   through SQLite as http_bench.py does), then on it: the same submits; reads
   (GetRun, ListRuns of 100, QueryResults of a run, interleaved from
   --clients threads); and worker cycles (lease, 3 heartbeats, a final
   checkpoint, complete) from --workers threads on the queued runs, first
   alone and then with --watchers WatchRun streams open on those runs.

  python3 bench/scheduler/load_bench.py \\
      --scheduler build/services/scheduler/sslab-scheduler \\
      --bench build/bench/scheduler/scheduler_load_bench
Prints each phase's JSON and a markdown table.
"""
import argparse
import json
import os
import shutil
import subprocess
import re
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_bench import fill, grpc_address, start_scheduler  # noqa: E402


def start(binary, workdir, db):
    proc, http_port = start_scheduler(binary, workdir, db)
    return proc, grpc_address(workdir), http_port


def rpc_buckets(http_port):
    """The scheduler's own handler-time histogram: {(method, le): count}."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics").read()
    out = {}
    for m in re.finditer(r'sslab_rpc_duration_seconds_bucket\{method="(\w+)",'
                         r'le="([^"]+)"\} (\d+)', text.decode()):
        out[(m.group(1), float(m.group(2)))] = int(m.group(3))
    return out


def handler_p99_ms(before, after, method):
    """Upper bound of the bucket holding the p99 of `method`'s calls between
    two snapshots (time inside the handler: no transport, no client)."""
    les = sorted(le for (name, le) in after if name == method)
    diff = [after[(method, le)] - before.get((method, le), 0) for le in les]
    if not diff or diff[-1] == 0:
        return float("nan")
    return next(le for le, n in zip(les, diff) if n >= 0.99 * diff[-1]) * 1000


def phase(bench, addr, **flags):
    args = [bench, f"--addr={addr}"] + [f"--{k}={v}" for k, v in flags.items()]
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(result), flush=True)
    return result


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--scheduler", required=True)
    p.add_argument("--bench", required=True)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--submits", type=int, default=2000)
    p.add_argument("--runs", type=int, default=100000)
    p.add_argument("--results-per-run", type=int, default=10)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--watchers", type=int, default=100)
    p.add_argument("--read-rate", type=float, default=300,
                   help="calls/s of the open-loop read phase (all clients)")
    a = p.parse_args()

    workdir = tempfile.mkdtemp(prefix="sslab-load-")
    rows = []
    try:
        db = os.path.join(workdir, "empty.db")
        proc, addr, _ = start(a.scheduler, workdir, db)
        rows.append(("empty database", phase(a.bench, addr, phase="submit",
                                             clients=a.clients, count=a.submits)))
        proc.terminate()
        proc.wait()

        db = os.path.join(workdir, "large.db")
        proc, _, _ = start(a.scheduler, workdir, db)  # creates the schema
        proc.terminate()
        proc.wait()
        t0 = time.time()
        results = fill(db, a.runs, a.results_per_run)
        print(f"filled {a.runs} runs, {results} results in {time.time() - t0:.0f} s",
              flush=True)
        proc, addr, http_port = start(a.scheduler, workdir, db)
        label = f"{a.runs} runs, {results} results"
        rows.append((label, phase(a.bench, addr, phase="submit", clients=a.clients,
                                  count=a.submits)))
        last = a.runs + a.submits
        # Back to back from 1 and from all clients, then at a fixed offered
        # load below saturation (latency there is service time plus the
        # queueing a real load brings).
        for clients, rate in ((1, 0), (a.clients, 0), (a.clients, a.read_rate)):
            before = rpc_buckets(http_port)
            r = phase(a.bench, addr, phase="read", clients=clients,
                      seconds=a.seconds, max_run_id=last, rate=rate)
            after = rpc_buckets(http_port)
            for rpc in ("GetRun", "ListRuns", "QueryResults"):
                r[rpc]["handler_p99_ms"] = handler_p99_ms(before, after, rpc)
            rows.append((label, r))
        for watchers in (0, a.watchers):
            # Queued runs for the workers (more than they can finish), the
            # watched ones among them.
            queued = int(a.seconds * 500)
            phase(a.bench, addr, phase="submit", clients=a.clients, count=queued)
            rows.append((label, phase(a.bench, addr, phase="lease", workers=a.workers,
                                      seconds=a.seconds, watchers=watchers,
                                      watch_from=last + 1, max_run_id=last + queued)))
            last += queued
        proc.terminate()
        proc.wait()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print("\n| database | what | rate | p50 ms | p99 ms |\n|---|---|---|---|---|"
          "\n(reads: p99 as the client sees it; in brackets the scheduler's own "
          "handler-time p99, a histogram bucket's upper bound)")
    for label, r in rows:
        if r["phase"] == "submit":
            s = r["SubmitRun"]
            print(f"| {label} | SubmitRun, {r['clients']} clients | "
                  f"{r['per_second']:.0f} runs/s | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} |")
        elif r["phase"] == "read":
            load = (f", open loop at {r['rate']:.0f} calls/s" if r["rate"] > 0
                    else "")
            for rpc in ("GetRun", "ListRuns", "QueryResults"):
                s = r[rpc]
                print(f"| {label} | {rpc}, {r['clients']} clients{load} | "
                      f"{s['n'] / a.seconds:.0f} calls/s | {s['p50_ms']:.2f} | "
                      f"{s['p99_ms']:.2f} (<= {s['handler_p99_ms']:g}) |")
        else:
            s = r.get("cycle", {"p50_ms": 0, "p99_ms": 0})
            lease = r.get("LeaseJob", {"p50_ms": 0, "p99_ms": 0})
            print(f"| {label} | worker cycle, {r['workers']} workers, {r['watchers']} "
                  f"WatchRun streams ({r['watch_updates']} updates) | "
                  f"{r['cycles_per_second']:.0f} cycles/s | {s['p50_ms']:.2f} | "
                  f"{s['p99_ms']:.2f} (LeaseJob {lease['p99_ms']:.2f}) |")


if __name__ == "__main__":
    main()
