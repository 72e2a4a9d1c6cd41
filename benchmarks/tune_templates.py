"""One GPU call (a few minutes): which template points are fast on this GPU for llama3-8b-ffn and llama3-8b-rmsnorm.

For the gated MLP, each parameter group is sampled on its own (the other groups at the SEED), and each point is
timed only at the shapes that reach the group's kernels (tiny path M=1, small path M<=128, large path M>=1024);
the best of each group is then composed into one point and timed at every shape. The CUDA C template is timed at
M=1; RMSNorm's whole space at every shape. Candidates are compiled first in a pool of processes (Triton's and
CuPy's disk caches then serve the timing process). Times are do_bench medians (CUDA events, L2 flushed) beside
eager; floors use a copy bandwidth and a bf16 matmul rate measured in the same run.

    python benchmarks/tune_templates.py [--samples 10] [--budget-s 330]

Prints a table and writes benchmarks/results/<gpu>-templates.json.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import itertools
import json
import math
import multiprocessing as mp
import os
import random
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_us, gpu_slug, write_result  # noqa: E402

FFN, NORM = "llama3-8b-ffn", "llama3-8b-rmsnorm"
ALL_M = [1, 16, 64, 128, 1024, 4096]
GROUP_SHAPES = {"small_gateup": [1, 16, 64, 128],
                "small_down": [1, 16, 64, 128], "large": [1024, 4096]}
_STATE: dict = {}


def _problem_state(name: str) -> dict:
    """Per process: the eager bf16 model (its state is what candidates load), and per M the bf16 input and the
    output of a float32 copy of the same weights (the reference)."""
    import copy

    import torch

    from agentopt.problems import get_problem

    if name in _STATE:
        return _STATE[name]
    problem = get_problem(name)
    mod = problem.module({"M": 1})
    torch.manual_seed(0)
    eager = mod.Model(*mod.get_init_inputs()).to("cuda", torch.bfloat16).eval()
    ref32 = copy.deepcopy(eager).float()
    st = {"problem": problem, "init": mod.get_init_inputs(), "eager": eager, "state": eager.state_dict(),
          "cases": {}}
    for m in ALL_M:
        torch.manual_seed(m)
        x = torch.randn(m, mod.HIDDEN, device="cuda").to(torch.bfloat16)
        with torch.no_grad():
            st["cases"][m] = (x, ref32(x.float()).double())
    del ref32
    torch.cuda.empty_cache()
    _STATE[name] = st
    return st


def build(name: str, template: str, params: dict):
    import torch

    from agentopt.kernels.templates import TEMPLATES
    from agentopt.problems import load_source

    st = _problem_state(name)
    cand = load_source(TEMPLATES[template].render(params, st["problem"]), f"cand_{template}")
    with torch.device("meta"):
        new = cand.ModelNew(*st["init"])
    new = new.to(torch.bfloat16).to_empty(device="cuda")
    new.load_state_dict(st["state"], strict=True)
    if hasattr(new, "prepare"):
        new.prepare()
    return new


def _warm(jobs: list[tuple[str, str, dict, list[int]]]) -> list[str]:
    """Compile (run once) in a worker: fills the disk caches. Returns the failures."""
    import torch

    failed = []
    for name, template, params, shapes in jobs:
        try:
            model = build(name, template, params)
            with torch.no_grad():
                for m in shapes:
                    model(_problem_state(name)["cases"][m][0])
            torch.cuda.synchronize()
            del model
        except Exception as exc:  # a failing point is reported in the table, not fatal
            failed.append(f"{template} {params}: {type(exc).__name__}: {str(exc)[:200]}")
    return failed


def ceilings() -> tuple[float, float]:
    """(copy GB/s counting read + write, bf16 TFLOP/s), measured now."""
    import torch

    src = torch.empty(2**28, device="cuda", dtype=torch.float32).normal_()
    dst = torch.empty_like(src)
    us = bench_us(lambda: dst.copy_(src))
    gbps = 2 * src.numel() * 4 / (us * 1e-6) / 1e9
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    us = bench_us(lambda: torch.mm(a, b))
    del src, dst, a, b
    torch.cuda.empty_cache()
    return gbps, 2 * 8192**3 / (us * 1e-6) / 1e12


def floor_us(name: str, m: int, gbps: float, tflops: float) -> float:
    st = _problem_state(name)
    weights = sum(v.numel() * 2 for v in st["state"].values())
    hidden = st["cases"][m][0].shape[1]
    if name == NORM:
        return (2 * m * hidden * 2 + weights) / (gbps * 1e3)
    inter = st["state"]["gate_proj.weight"].shape[0]
    bytes_ = weights + 2 * m * hidden * 2
    return max(bytes_ / (gbps * 1e3), 6 * m * hidden * inter / (tflops * 1e6))


def time_point(name: str, template: str, params: dict, shapes: list[int], eager: dict, ctx: dict) -> dict:
    import torch

    row = {"problem": name, "template": template, "params": params, "per_M": {}, "error": None}
    try:
        model = build(name, template, params)
    except Exception as exc:
        row["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        return row
    tol = _problem_state(name)["problem"].tolerance("cuda")
    for m in shapes:
        x, want = _problem_state(name)["cases"][m]
        try:
            with torch.no_grad():
                got = model(x)
                err = ((got.double() - want).norm() / want.norm()).item()
                us = bench_us(lambda: model(x), rounds=1)
        except Exception as exc:  # a point that fails at run time (resources) is reported, not fatal
            row["error"] = f"M={m}: {type(exc).__name__}: {str(exc)[:300]}"
            break
        fl = floor_us(name, m, ctx["gbps"], ctx["tflops"])
        row["per_M"][m] = {"us": us, "eager_us": eager[name][m], "speedup_vs_eager": eager[name][m] / us,
                           "fraction_of_floor": fl / us, "rel_err": err, "ok": err <= tol}
    del model
    return row


def score(row: dict) -> float:
    """Geometric mean of the speedups over eager (0 if anything failed or was wrong)."""
    per = row["per_M"].values()
    if row["error"] or not per or not all(p["ok"] for p in per):
        return 0.0
    return math.exp(sum(math.log(p["speedup_vs_eager"]) for p in per) / len(per))


def sample_points(template, problem, hardware, rng, n: int, base: dict, keys: list[str]) -> list[dict]:
    dims = [template.dims(problem, s) for s in problem.shapes]
    seen, out = set(), [base]
    for _ in range(50 * n):
        if len(out) >= n:
            break
        params = {**base, **{k: rng.choice(template.SPACE[k]) for k in keys}}
        source = template.render(params, problem)
        if template.prune(params, hardware, dims) is None and source not in seen:
            seen.add(source)
            out.append(params)
    return out


def gemv_points(gc, problem, hardware) -> list[dict]:
    """The CUDA C kernels' own parameters (others at the SEED), prune survivors: the two-pass kernels at their best
    point of the last run, and the fused one-pass kernel over its grid of block shapes and blocks per SM."""
    dims = [gc.dims(problem, s) for s in problem.shapes]
    two = {"passes": 2, "rows": 4, "warps": 4, "unroll": 1, "gu_kw": 1, "down_kw": 4, "load": "__ldcs"}
    out = [{**gc.SEED, **two}]
    for warps, rows, unroll, blocks in itertools.product((4, 8, 16), (1, 2, 4), (1, 2), (1, 2, 3, 4)):
        params = {**gc.SEED, "passes": 1, "warps": warps, "rows": rows, "unroll": unroll, "blocks_per_sm": blocks,
                  "load": "__ldcs"}
        if gc.prune(params, hardware, dims) is None:
            out.append(params)
    return out


def choose_small_max_m(best_small: dict | None, cublas: dict | None, seed: int) -> int:
    """The dispatch threshold: Triton streaming up to the M where it stops beating cuBLAS (by total log time);
    the SEED's where the small path was not tuned in this run."""
    if not best_small or not cublas:
        return seed
    def cost(t: int) -> float:
        return sum(math.log(best_small["per_M"][m]["us"] if m <= t and best_small["per_M"][m]["ok"]
                            else cublas["per_M"][m]["us"]) for m in (16, 64, 128))
    return min((0, 16, 64, 128), key=cost)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=10, help="points per parameter group")
    ap.add_argument("--budget-s", type=float, default=330.0, help="stop timing new points after this long")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="gemv,small,large,norm", help="parts to tune: gemv,small,large,norm")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    t0 = time.time()
    import torch

    from agentopt.kernels.templates import TEMPLATES
    from agentopt.kernels.templates._base import points
    from agentopt.problems import get_problem

    props = torch.cuda.get_device_properties(0)
    hardware = SimpleNamespace(smem_per_block_bytes=getattr(props, "shared_memory_per_block_optin", 232448))
    rng = random.Random(args.seed)
    gm, gc, norm = TEMPLATES["gated_mlp"], TEMPLATES["gemv_cuda"], TEMPLATES["rmsnorm"]
    ffn = get_problem(FFN)
    plan = []  # (problem, template, group, params, shapes)
    # cuBLAS at every M (the large path with cuBLAS GEMMs from M=1): the baseline the dispatch compares with
    cublas = {**gm.SEED, "fma_max_m": 0, "small_max_m": 0, "large_gateup": "cublas", "large_down": "cublas"}
    plan.append((FFN, "gated_mlp", "cublas", cublas, ALL_M))
    for group, shapes in GROUP_SHAPES.items():
        if group.split("_")[0] not in parts:
            continue
        for params in sample_points(gm, ffn, hardware, rng, args.samples, gm.SEED, gm.GROUPS[group]):
            plan.append((FFN, "gated_mlp", group, params, shapes))
    if "gemv" in parts:
        for params in gemv_points(gc, ffn, hardware):
            plan.append((FFN, "gemv_cuda", "gemv", params, [1]))
    if "norm" in parts:
        norm_dims = [norm.dims(get_problem(NORM), s) for s in get_problem(NORM).shapes]
        for params in [p for p in points(norm.SPACE) if norm.prune(p, hardware, norm_dims) is None]:
            plan.append((NORM, "rmsnorm", "row", params, ALL_M))
    print(f"{len(plan)} points; compiling in a pool", flush=True)

    workers = max(1, min(12, (os.cpu_count() or 2) - 2))
    jobs = [(n, t, p, s) for n, t, _, p, s in plan]
    chunks = [jobs[i::workers * 3] for i in range(workers * 3)]
    with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        warm_failures = [f for part in pool.map(_warm, chunks) for f in part]
    print(f"compiled in {time.time() - t0:.0f} s; {len(warm_failures)} failed", flush=True)

    gbps, tflops = ceilings()
    ctx = {"gbps": gbps, "tflops": tflops}
    eager = {}
    for name in (FFN, NORM):
        st = _problem_state(name)
        with torch.no_grad():
            eager[name] = {m: bench_us(lambda: st["eager"](st["cases"][m][0])) for m in ALL_M}
    rows = []
    for name, template, group, params, shapes in plan:
        if time.time() - t0 > args.budget_s:
            print("time budget reached: the remaining points are not timed", flush=True)
            break
        row = time_point(name, template, params, shapes, eager, ctx)
        row["group"] = group
        rows.append(row)

    best = {}
    for row in rows:
        key = (row["template"], row["group"])
        if score(row) > score(best.get(key, {"per_M": {}, "error": "none"})):
            best[key] = row
    # compose: the CUDA C GEMV below max_m, the best small-path kernels, the best large path
    composed = dict(gc.SEED)
    if ("gemv_cuda", "gemv") in best:
        composed.update({k: best[("gemv_cuda", "gemv")]["params"][k] for k in gc.GROUPS["gemv"]})
    for group in ("small_gateup", "small_down", "large"):
        if ("gated_mlp", group) in best:
            composed.update({k: best[("gated_mlp", group)]["params"][k] for k in gm.GROUPS[group]})
    small = [best.get(("gated_mlp", g)) for g in ("small_gateup", "small_down")]
    best_small = max((r for r in small if r), key=score, default=None)
    composed["small_max_m"] = choose_small_max_m(best_small, best.get(("gated_mlp", "cublas")), composed["small_max_m"])
    finals = [composed, {**composed, "small_max_m": 128}] if composed["small_max_m"] != 128 else [composed]
    timed = []
    for params in finals:
        if "gemv" not in parts:
            params = {**gm.SEED, **{k: v for k, v in params.items() if k in gm.SPACE}}
        row = time_point(FFN, "gemv_cuda" if "gemv" in parts else "gated_mlp", params, ALL_M, eager, ctx)
        row["group"] = "composed"
        timed.append(row)
    final = max(timed, key=score)
    composed = final["params"]
    rows += timed
    print_table(rows, gm, gc, norm, best, final)
    payload = {"gpu": torch.cuda.get_device_name(0), "copy_gbps": gbps, "bf16_tflops": tflops, "eager_us": eager,
               "composed_best": {"template": final["template"], "params": composed, "per_M": final["per_M"],
                                 "score": score(final)},
               "rows": rows, "compile_failures": warm_failures, "seconds": time.time() - t0}
    path = write_result("templates", json.loads(json.dumps(payload, default=str)))
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], path.name).write_text(path.read_text())
    print(f"wrote {path} ({gpu_slug()}) in {time.time() - t0:.0f} s")


def print_table(rows, gm, gc, norm, best, final) -> None:
    groups = {"gated_mlp": {**gm.GROUPS, "cublas": ["small_max_m", "large_gateup", "large_down"]},
              "gemv_cuda": gc.GROUPS, "rmsnorm": norm.GROUPS}
    print(f"\n{'template/group':<26} {'score':>6}  per M: us (x eager, % floor)   params of the group")
    for row in sorted(rows, key=lambda r: (r["template"], r["group"], -score(r))):
        keys = groups[row["template"]].get(row["group"], list(row["params"]))
        mark = "*" if best.get((row["template"], row["group"])) is row or row is final else " "
        cells = " ".join(f"{m}:{p['us']:.0f}({p['speedup_vs_eager']:.2f}x,{100 * p['fraction_of_floor']:.0f}%)"
                         + ("" if p["ok"] else "WRONG") for m, p in row["per_M"].items())
        params = " ".join(f"{k.split('_', 1)[-1] if row['template'] == 'gated_mlp' else k}={row['params'][k]}"
                          for k in keys)
        print(f"{mark}{row['template'][:9] + '/' + row['group']:<25} {score(row):6.3f}  {row['error'] or cells}  {params}")
    print(f"\ncomposed best gated_mlp point: {json.dumps(final['params'])}")


if __name__ == "__main__":
    main()
