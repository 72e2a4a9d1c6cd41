"""Why does the evaluator time eager llama3-8b-ffn at M=1024 ~10% faster than do_bench (491 us against 548 on an
H200) while agreeing within 2-4% elsewhere? Suspect: clocks. do_bench runs the calls back to back, so a
compute-bound call runs at the clock a hot, power-limited GPU holds; the evaluator starts each call on an idle
device (synchronize, flush, call), and the GPU may boost in the gaps. One GPU call (about a minute).

For M = 1, 1024, 4096 this times eager four ways, sampling the SM clock and the power draw (nvidia-smi, every
20 ms) during each:
  do_bench      triton.testing.do_bench (256 MB flush, calls back to back)
  b2b_1g        the same loop with the evaluator's 1 GB flush
  isolated_1g   the evaluator's protocol: synchronize, 1 GB flush, CUDA events around the call
  isolated_hot  the same, each call preceded (before the synchronize) by three untimed calls, so that the gaps
                are spent at the load of a back-to-back run
  isolated_gap  isolated_1g with 2 ms of idle host after each synchronize (a worker's Python between calls)
  burst3        a synchronize, then three flushed calls back to back, each timed
  do_bench_again  do_bench once more, last (drift over the probe)

    python3 benchmarks/experiments/clock_probe.py

Writes benchmarks/results/<gpu-slug>-clock-probe.json and prints a table.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))
from common import write_result  # noqa: E402

MS = (1, 1024, 4096)
REPS = 60


class ClockSampler:
    """nvidia-smi's SM clock (MHz) and power (W) every 20 ms, each sample stamped with this host's clock."""

    def __init__(self):
        self.samples: list[tuple[float, float, float]] = []
        self.proc = subprocess.Popen(
            ["nvidia-smi", "--query-gpu=clocks.sm,power.draw", "--format=csv,noheader,nounits", "-lms", "20"],
            stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                mhz, watts = (float(v) for v in line.split(","))
            except ValueError:
                continue
            self.samples.append((time.perf_counter(), mhz, watts))

    def between(self, t0: float, t1: float) -> dict:
        inside = [(m, w) for t, m, w in self.samples if t0 <= t <= t1]
        if not inside:
            return {"sm_mhz": None, "watts": None, "samples": 0}
        return {"sm_mhz": statistics.median(m for m, _ in inside), "watts": statistics.median(w for _, w in inside),
                "samples": len(inside)}

    def stop(self) -> None:
        self.proc.terminate()


def main() -> int:
    import torch
    import torch.nn.functional as F
    from triton.testing import do_bench

    torch.manual_seed(0)
    dev, dt = "cuda", torch.bfloat16
    wg, wu = (torch.randn(14336, 4096, device=dev, dtype=dt) * 0.02 for _ in range(2))
    wd = torch.randn(4096, 14336, device=dev, dtype=dt) * 0.02

    def ffn(x):
        return F.linear(F.silu(F.linear(x, wg)) * F.linear(x, wu), wd)

    flush = torch.empty(10**9 // 4, dtype=torch.int32, device=dev)

    def b2b(fn):
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(REPS)]
        for a, b in events:
            flush.zero_()
            a.record()
            fn()
            b.record()
        torch.cuda.synchronize()
        return [a.elapsed_time(b) for a, b in events]

    def isolated(fn, heat: int, gap_s: float = 0.0):
        times = []
        for _ in range(REPS):
            for _ in range(heat):
                fn()
            torch.cuda.synchronize()
            time.sleep(gap_s)
            flush.zero_()
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            torch.cuda.synchronize()
            times.append(a.elapsed_time(b))
        return times

    def burst(fn, calls: int):
        times = []
        for _ in range(REPS // calls):
            torch.cuda.synchronize()
            events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                      for _ in range(calls)]
            for a, b in events:
                flush.zero_()
                a.record()
                fn()
                b.record()
            torch.cuda.synchronize()
            times += [a.elapsed_time(b) for a, b in events]
        return times

    ways = {
        "do_bench": lambda fn: do_bench(fn, warmup=25, rep=200, return_mode="all"),
        "b2b_1g": b2b,
        "isolated_1g": lambda fn: isolated(fn, 0),
        "isolated_hot": lambda fn: isolated(fn, 3),
        "isolated_gap": lambda fn: isolated(fn, 0, 0.002),
        "burst3": lambda fn: burst(fn, 3),
        "do_bench_again": lambda fn: do_bench(fn, warmup=25, rep=200, return_mode="all"),
    }
    sampler = ClockSampler()
    time.sleep(0.5)
    rows = []
    for m in MS:
        x = torch.randn(m, 4096, device=dev, dtype=dt)
        fn = lambda: ffn(x)  # noqa: E731
        for _ in range(5):
            fn()
        for name, way in ways.items():
            t0 = time.perf_counter()
            times = way(fn)
            t1 = time.perf_counter()
            rows.append({"M": m, "way": name, "median_us": 1e3 * statistics.median(times), **sampler.between(t0, t1)})
    sampler.stop()
    write_result("clock-probe", {"gpu": torch.cuda.get_device_name(), "reps": REPS, "rows": rows})
    print(f"{'M':>5} {'way':>13} {'us':>9} {'vs do_bench':>11} {'SM MHz':>7} {'W':>6}")
    base = {r["M"]: r["median_us"] for r in rows if r["way"] == "do_bench"}
    for r in rows:
        print(f"{r['M']:5d} {r['way']:>13} {r['median_us']:9.1f} {r['median_us'] / base[r['M']]:11.3f} "
              f"{r['sm_mhz'] or 0:7.0f} {r['watts'] or 0:6.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
