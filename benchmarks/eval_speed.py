"""Issue 2's evaluator benchmark, on one GPU:

1. evaluating one Triton llama3-8b-ffn candidate on all six shapes, compilation included (a fresh Triton cache),
   takes under 60 s; also shown: the same candidate again (warm cache, reference already set up);
2. the evaluator's timing of the eager baseline agrees with triton.testing.do_bench (median) within 5% per shape.

Writes benchmarks/results/<gpu-slug>-eval-speed.json and prints a short table.
    python benchmarks/eval_speed.py
"""
from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CANDIDATE = ROOT / "tests" / "candidates" / "ffn_triton.py"
TARGET_S = 60.0
AGREEMENT = 0.05


def do_bench_eager(problem, shapes) -> list[float]:
    """Median ms of the eager reference per shape by triton.testing.do_bench, in this process."""
    import torch
    from triton.testing import do_bench

    from agentopt.sandbox.reference import build_inputs, build_model, dtype_of

    dtype = dtype_of(problem.dtype)
    times, model, key = [], None, None
    for shape in shapes:
        mod = problem.module(shape)
        if repr(mod.get_init_inputs()) != key:
            key, model = repr(mod.get_init_inputs()), build_model(mod, 0).to("cuda", dtype).eval()
        inputs = build_inputs(mod, 1, False, dtype, "cuda")
        with torch.no_grad():
            times.append(do_bench(lambda: model(*inputs), return_mode="median"))
    return times


def main() -> int:
    os.environ["TRITON_CACHE_DIR"] = tempfile.mkdtemp(prefix="agentopt-bench-triton-")  # compile for real
    import torch
    import triton

    from agentopt.config import EvalConfig
    from agentopt.hardware import local_profile
    from agentopt.problems import get_problem, shape_label
    from agentopt.sandbox.evaluator import Evaluator

    if not torch.cuda.is_available():
        print("no CUDA GPU here: this benchmark needs one", file=sys.stderr)
        return 2
    problem = get_problem("llama3-8b-ffn")
    hardware = local_profile(progress=lambda m: print(m, file=sys.stderr))
    try:
        from agentopt.agents.planner import shape_costs

        costs = shape_costs(problem, "cuda")
    except ImportError:
        costs = None
    source = CANDIDATE.read_text()
    with Evaluator(problem, device="cuda", config=EvalConfig(), hardware=hardware, costs=costs) as ev:
        t0 = time.perf_counter()
        cold = ev.evaluate(source)
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        warm = ev.evaluate(source)
        warm_s = time.perf_counter() - t0
    if cold.status != "ok":
        print(f"the candidate was judged {cold.status}: {cold.reason}", file=sys.stderr)
        return 1
    bench = do_bench_eager(problem, problem.shapes)
    rows = []
    for s, w, ref_ms in zip(cold.shapes, warm.shapes, bench):
        ratio = s.baseline_ms / ref_ms
        rows.append({"shape": s.shape, "candidate_ms": s.time_ms, "candidate_p20_ms": s.p20_ms,
                     "candidate_p80_ms": s.p80_ms, "baseline_ms": s.baseline_ms, "do_bench_eager_ms": ref_ms,
                     "baseline_over_do_bench": ratio, "within_5pct": abs(ratio - 1) <= AGREEMENT,
                     "speedup": s.speedup, "warm_baseline_ms": w.baseline_ms, "fraction_of_floor": s.fraction_of_floor})
    result = {"gpu": hardware.name, "torch": torch.__version__, "triton": triton.__version__,
              "candidate": str(CANDIDATE.relative_to(ROOT)), "status": cold.status, "score": cold.score,
              "seconds_cold": cold_s, "seconds_warm": warm_s, "under_60s": cold_s < TARGET_S,
              "compile_seconds": cold.compile.seconds, "baseline_agrees_within_5pct": all(r["within_5pct"] for r in rows),
              "kernels": [k.model_dump() for k in cold.compile.kernels], "shapes": rows}
    slug = re.sub(r"[^a-z0-9]+", "-", hardware.name.lower()).strip("-")
    out = ROOT / "benchmarks" / "results" / f"{slug}-eval-speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"{hardware.name}: one Triton llama3-8b-ffn candidate, six shapes: {cold_s:.1f} s with compilation "
          f"(fresh Triton cache; target < {TARGET_S:.0f} s: {'met' if cold_s < TARGET_S else 'MISSED'}), "
          f"{warm_s:.1f} s again with a warm cache; score {cold.score:.3f}")
    print(f"{'shape':>8} {'cand ms':>9} {'eager ms':>9} {'do_bench':>9} {'ratio':>6} {'<=5%':>5} {'speedup':>8}")
    for r in rows:
        print(f"{shape_label(r['shape']):>8} {r['candidate_ms']:9.4f} {r['baseline_ms']:9.4f} "
              f"{r['do_bench_eager_ms']:9.4f} {r['baseline_over_do_bench']:6.3f} "
              f"{'yes' if r['within_5pct'] else 'NO':>5} {r['speedup']:7.2f}x")
    print(f"written: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
