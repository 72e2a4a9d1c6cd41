"""Probe: what does torch.compile (max-autotune-no-cudagraphs) run at small M, and how fast does each of its kernels
read the weights?

benchmarks/ffn.py has timed max-autotune at M=1 at 92-95 us in five runs on the H200, 1-4% faster than the library's
kernel (94-96 us). 352 MB in 92.8 us is 3.80 TB/s, faster than any read-only kernel this project has timed on that
machine since 2026-11-22 (3.3-3.65 TB/s: order_probe.py). Whatever Inductor runs there reads faster than ours.

Predictions, written before the first run:
1. At M=1 Inductor runs three weight-reading kernels (gate, up, down; or gate+up fused) that are not cuBLAS GEMMs but
   Triton reductions (a GEMV as a pointwise multiply and a sum over K), each reading >= 3.7 TB/s.
2. At M=16 it runs cuBLAS or Triton mm templates reading <= 3.4 TB/s (it is 106 us there).
If the M=1 kernels are cuBLAS GEMV, the lead is cuBLAS's; if Triton, its source is written out to read.

For M in --ms: the compiled module's generated code (results/inductor/<gpu>-M<m>.py, not committed) and a profile of
its kernels (name, us a call, GB/s over the weights each reads); writes benchmarks/results/<gpu>-inductor-probe.json.

    python3 benchmarks/experiments/inductor_probe.py [--ms 1,16]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
from common import RESULTS, bench_us, gpu_slug, write_result  # noqa: E402
from ffn import build  # noqa: E402

from agentopt.problems import get_problem  # noqa: E402


def kernel_profile(fn, calls: int = 20) -> list[dict]:
    """The CUDA kernels of `calls` calls of fn: name, count and mean us a call, from torch.profiler."""
    from torch.profiler import ProfilerActivity, profile

    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn()
        torch.cuda.synchronize()
    rows = []
    for e in prof.key_averages():
        if e.device_type.name == "CUDA" and e.count:
            rows.append({"kernel": e.key, "calls": e.count / calls, "us": e.device_time_total / calls})
    return sorted(rows, key=lambda r: -r["us"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ms", default="1,16")
    args = ap.parse_args()
    from torch._inductor.utils import run_and_get_code

    problem = get_problem("llama3-8b-ffn")
    code_dir = RESULTS / "inductor"
    code_dir.mkdir(parents=True, exist_ok=True)
    out = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "shapes": []}
    with torch.no_grad():
        for M in (int(m) for m in args.ms.split(",")):
            model, inputs = build(problem, {"M": M}, torch.bfloat16)
            compiled = torch.compile(model, mode="max-autotune-no-cudagraphs", dynamic=False)
            _, code = run_and_get_code(compiled, *inputs)
            path = code_dir / f"{gpu_slug()}-M{M}.py"
            path.write_text("\n\n# ---- next module ----\n\n".join(code))
            row = {"M": M, "code": str(path.relative_to(ROOT)), "eager_us": bench_us(lambda: model(*inputs)),
                   "max_autotune_us": bench_us(lambda: compiled(*inputs)),
                   "kernels": kernel_profile(lambda: compiled(*inputs))}
            out["shapes"].append(row)
            print(f"M={M}: eager {row['eager_us']:.1f} us, max-autotune {row['max_autotune_us']:.1f} us", flush=True)
            for k in row["kernels"]:
                print(f"   {k['us']:7.1f} us x{k['calls']:.0f}  {k['kernel'][:110]}")
    print(write_result("inductor-probe", out))


if __name__ == "__main__":
    main()
