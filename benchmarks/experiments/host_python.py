"""The Python a gated-MLP candidate spends around its Triton launches, measured on the CPU (no GPU needed).

The candidate is rendered from the template at a point, its launch binding (`_bind`) replaced by one that returns a
runner doing nothing, as bound runners are called after a path's first call, and its forward timed on CPU tensors
at small M. What remains is the candidate's own host code: dispatch, keys, grids, buffers, the output's allocation.
The launches themselves (~9 us each bound on an H200 host, launch_probe.py) come on top on a GPU.
`--root` renders with another checkout's templates (a git worktree of an older commit) for a before/after in one
run. Writes benchmarks/results/cpu-host-python.json.

    python3 benchmarks/experiments/host_python.py [--params '{"small_down_reduce": "last"}'] [--root OTHER_CHECKOUT]
"""
from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
SHAPE = {"HIDDEN": 256, "INTERMEDIATE": 512}  # small weights: the Python, not the arithmetic, is timed


def python_us(root: Path, params: dict, ms: list[int], calls: int) -> dict[int, float]:
    sys.path.insert(0, str(root))
    for name in [n for n in sys.modules if n == "kernels" or n.startswith("kernels.")]:
        del sys.modules[name]  # the templates of this checkout
    gated_mlp = importlib.import_module("kernels.templates.gated_mlp")
    sys.path.pop(0)
    from agentopt.problems import get_problem, load_source

    problem = get_problem("llama3-8b-ffn")
    cand = load_source(gated_mlp.render({**gated_mlp.SEED, **params}, problem), f"host_python_{abs(hash(str(root)))}")
    cand._bind = lambda *first_call: (lambda *args: None)
    mod = problem.module({"M": ms[0], **SHAPE})
    torch.manual_seed(0)
    model = cand.ModelNew(*mod.get_init_inputs()).to(torch.bfloat16)
    model.prepare()
    model._pdl = False
    out = {}
    with torch.no_grad():
        for M in ms:
            x = torch.randn(M, SHAPE["HIDDEN"], dtype=torch.bfloat16)
            model(x)  # the first call binds
            rounds = []
            for _ in range(5):
                t0 = time.perf_counter()
                for _ in range(calls):
                    model(x)
                rounds.append((time.perf_counter() - t0) / calls * 1e6)
            out[M] = statistics.median(rounds)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--params", default="{}", help="template parameters over the SEED, as JSON")
    ap.add_argument("--root", default=None, help="another checkout whose templates are timed too, before this one's")
    ap.add_argument("--ms", default="1,16,64")
    ap.add_argument("--calls", type=int, default=4000)
    args = ap.parse_args()
    params, ms = json.loads(args.params), [int(m) for m in args.ms.split(",")]
    rows = {}
    if args.root:
        rows["other"] = python_us(Path(args.root).resolve(), params, ms, args.calls)
    rows["this"] = python_us(ROOT, params, ms, args.calls)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from common import RESULTS

    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "cpu-host-python.json"
    path.write_text(json.dumps({"cpu": _cpu_name(), "params": params, "other_root": args.root, "calls": args.calls,
                                "us_per_call": rows}, indent=2))
    print(path)
    print(f"{'M':>4} " + " ".join(f"{k + ' us':>10}" for k in rows))
    for M in ms:
        print(f"{M:>4} " + " ".join(f"{rows[k][M]:10.2f}" for k in rows))


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
