"""Why do the evaluator's times of eager llama3-8b-ffn at small M wander (112 us in one evaluation, 220-285 us in
the next, in one run) while do_bench stays at 112? One GPU call (about 2 minutes).

Each timed call of sandbox/timing.py starts on an idle device: synchronize, zero a flush buffer, record the start
event, call forward, record the end event. The GPU zeroes the buffer while the host queues the call's kernels; a
host slower than that shows in the time. This times eager M=1, 16, 128 in fresh processes, each with flush buffers
of 256 MB (the evaluator's) and 1 GB (a head start four times as long), beside do_bench, with and without CPU load
like a search's (compile-ahead workers: busy processes streaming memory), and the host's own time per call.

    python3 benchmarks/experiments/head_start.py [--processes 3]

Writes benchmarks/results/<gpu-slug>-head-start.json and prints a table.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))
from common import write_result  # noqa: E402

MS = (1, 16, 128)
FLUSH_MB = (256, 1024)


def _load(stop) -> None:
    """A compile-ahead worker's footprint: Python busy work and a 256 MB array streamed over and over."""
    import numpy as np

    a = np.ones(1 << 25)
    while not stop.is_set():
        a += 1.0
        sum(range(20000))


def child() -> None:
    import torch
    import torch.nn.functional as F
    import triton.testing

    torch.manual_seed(0)
    dev, dt = "cuda", torch.bfloat16
    wg, wu = (torch.randn(14336, 4096, device=dev, dtype=dt) * 0.02 for _ in range(2))
    wd = torch.randn(4096, 14336, device=dev, dtype=dt) * 0.02

    def ffn(x):
        return F.linear(F.silu(F.linear(x, wg)) * F.linear(x, wu), wd)

    out = {}
    for m in MS:
        x = torch.randn(m, 4096, device=dev, dtype=dt)
        row = {"do_bench": statistics.median(triton.testing.do_bench(lambda: ffn(x), return_mode="all")) * 1e3}
        for mb in FLUSH_MB:
            flush = torch.empty(mb * 10**6 // 4, dtype=torch.int32, device=dev)
            times, host = [], []
            for r in range(230):
                torch.cuda.synchronize()
                flush.zero_()
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                t0 = time.perf_counter()
                ffn(x)
                host.append((time.perf_counter() - t0) * 1e6)
                b.record()
                if r >= 30:
                    times.append((a, b))
            torch.cuda.synchronize()
            row[f"flush{mb}"] = statistics.median(a.elapsed_time(b) * 1e3 for a, b in times)
            row[f"host{mb}"] = statistics.median(host)
            del flush
        out[f"M={m}"] = row
    print(json.dumps(out))


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child()
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--processes", type=int, default=3, help="fresh processes per condition")
    args = ap.parse_args()
    results = {}
    for load in (0, 8):
        stop = multiprocessing.Event()
        loaders = [multiprocessing.Process(target=_load, args=(stop,), daemon=True) for _ in range(load)]
        for p in loaders:
            p.start()
        runs = []
        for _ in range(args.processes):
            done = subprocess.run([sys.executable, __file__, "--child"], capture_output=True, text=True, timeout=300)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else
                        {"error": done.stderr[-1500:]})
        stop.set()
        for p in loaders:
            p.join(5)
        results[f"load{load}"] = runs
    import torch

    path = write_result("head-start", {"gpu": torch.cuda.get_device_name(0), "flush_mb": FLUSH_MB, "runs": results})
    print(f"{'load':>5} {'proc':>4} {'shape':>6} {'do_bench':>9} " + " ".join(
        f"{'flush' + str(mb):>10} {'host' + str(mb):>9}" for mb in FLUSH_MB))
    for cond, runs in results.items():
        for k, run in enumerate(runs):
            for label, row in (run.items() if "error" not in run else [("error", None)]):
                if row is None:
                    print(cond, k, run["error"][-300:])
                    continue
                print(f"{cond:>5} {k:>4} {label:>6} {row['do_bench']:9.1f} " + " ".join(
                    f"{row[f'flush{mb}']:10.1f} {row[f'host{mb}']:9.1f}" for mb in FLUSH_MB))
    print(f"-> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
