"""Shared by the benchmarks: GPU naming, result files, median timing with L2 flushed."""
from __future__ import annotations

import json
import re
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def gpu_slug() -> str:
    import torch

    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def write_result(name: str, payload: dict, out_dir: Path | None = None) -> Path:
    out_dir = out_dir or RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{gpu_slug()}-{name}.json"
    path.write_text(json.dumps(payload, indent=2))
    return path


def bench_us(fn, rounds: int = 3) -> float:
    """Median microseconds of `fn` by triton.testing.do_bench (CUDA events, L2 flushed between calls), the median
    of `rounds` separate do_bench calls so that one noisy stretch does not decide."""
    import statistics

    from triton.testing import do_bench

    return 1e3 * statistics.median(do_bench(fn, warmup=25, rep=100, return_mode="median") for _ in range(rounds))


def kernel_rates(M: int, fns: dict, want: dict, nbytes: dict, rounds: int, tol: float = 1e-2,
                 finish=None) -> list[dict]:
    """For kernels run alone at M: each fns[name]() checked twice against want[name] (relative error; a message
    where it fails to run; `finish`, if given, turns an output into what is compared, outside the timing), then
    those within `tol` timed by do_bench (median us, L2 flushed) in `rounds` rounds that alternate them.
    One row per kernel: its median, each round's, its error, and the rate at which it moves nbytes[name]."""
    import statistics

    from triton.testing import do_bench

    errs, times = {}, {n: [] for n in fns}
    for n, fn in fns.items():
        try:
            got = [(finish or (lambda out: out))(fn()).double() for _ in range(2)]
            errs[n] = max(((g - want[n]).norm() / want[n].norm()).item() for g in got)
        except Exception as exc:  # a point that does not fit is reported
            errs[n] = f"{type(exc).__name__}: {str(exc)[:200]}"
    live = {n: fn for n, fn in fns.items() if isinstance(errs[n], float) and errs[n] < tol}
    for _ in range(rounds):
        for n, fn in live.items():
            times[n].append(1e3 * do_bench(fn, warmup=25, rep=100, return_mode="median"))
    rows = []
    for n in fns:
        us = statistics.median(times[n]) if times[n] else None
        rows.append({"M": M, "variant": n, "us": us, "rounds_us": times[n], "rel_err": errs[n],
                     "TBps": nbytes[n] / (us * 1e-6) / 1e12 if us else None})
    return rows


def print_rates(rows: list[dict], width: int = 40, unit: str = "TB/s") -> None:
    """The rows of kernel_rates as a table; `unit` names what their "TBps" counts (TFLOP/s where nbytes were FLOPs)."""
    print(f"{'M':>4} {'variant':<{width}} {'us':>7} {unit:>6} rel_err")
    for r in rows:
        if r["us"] is None:
            print(f"{r['M']:>4} {r['variant']:<{width}} ERROR {r['rel_err']}")
        else:
            print(f"{r['M']:>4} {r['variant']:<{width}} {r['us']:7.1f} {r['TBps']:6.2f} {r['rel_err']:.2g}")
