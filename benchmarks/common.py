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
