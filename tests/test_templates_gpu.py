"""On a GPU: the whole gated-MLP template space for llama3-8b-ffn compiles and gives the right answer at the six
GPU shapes, and every value of each CUDA C template parameter compiles (NVRTC through CuPy) and is right at small M.

The space is walked one parameter group at a time (each group sets one kernel's configuration; the others stay
at the SEED), which reaches every kernel configuration of the space; points run in a pool of processes (spawn),
each holding the reference outputs once, so the Triton and CuPy compiles go in parallel."""
import concurrent.futures as cf
import multiprocessing as mp
import os
import random
from types import SimpleNamespace

import pytest

from agentopt.kernels.templates import TEMPLATES
from agentopt.kernels.templates._base import points
from agentopt.problems import get_problem, load_source

pytestmark = pytest.mark.gpu
PROBLEM = "llama3-8b-ffn"
ALL_M = [1, 16, 64, 128, 1024, 4096]
# the shapes that reach each group's kernels (the tiny groups are run with fma_max_m = 1; gemv: M=16 is cuBLAS's)
SHAPES_OF_GROUP = {"dispatch": ALL_M, "tiny_gateup": [1], "tiny_down": [1], "small_gateup": [1, 16, 64, 128],
                   "small_down": [1, 16, 64, 128], "small_launch": [1, 16, 64, 128], "small_fused": [1, 16, 64, 128],
                   "large": [1024, 4096],
                   "gemv": [1, 4, 16]}
# groups whose kernels the SEED does not reach: the one-token path, the fused kernel switched on
BASE_OF_GROUP = {"tiny_gateup": {"fma_max_m": 1}, "tiny_down": {"fma_max_m": 1},
                 "small_fused": {"small_fused": 1}}
PACKED_OF_GROUP = {"small_gateup": "small_packed", "small_down": "small_down_packed"}
# TEMPLATE_GROUPS=small_fused,small_launch: only those groups (a short GPU call after changing one kernel)
ONLY_GROUPS = [g for g in os.environ.get("TEMPLATE_GROUPS", "").split(",") if g]
_WORKER: dict = {}


def _hardware():
    import torch

    props = torch.cuda.get_device_properties(0)
    return SimpleNamespace(smem_per_block_bytes=getattr(props, "shared_memory_per_block_optin", 232448))


def _init_worker():
    """Per process: the bf16 weights and, per shape, two inputs and their float32 reference outputs."""
    import torch

    problem = get_problem(PROBLEM)
    mod = problem.module({"M": 1})
    torch.manual_seed(0)
    ref = mod.Model(*mod.get_init_inputs()).to("cuda")
    _WORKER["state"] = {k: v.to(torch.bfloat16) for k, v in ref.state_dict().items()}
    _WORKER["init"] = mod.get_init_inputs()
    _WORKER["cases"] = {}
    for m in sorted({*ALL_M, *SHAPES_OF_GROUP["gemv"]}):
        torch.manual_seed(m)
        xs = [torch.randn(m, mod.HIDDEN, device="cuda").to(torch.bfloat16) for _ in range(2)]
        with torch.no_grad():
            _WORKER["cases"][m] = [(x, ref(x.float()).double()) for x in xs]
    del ref
    torch.cuda.empty_cache()


def _run_points(template: str, jobs: list[tuple[dict, list[int]]]) -> list[str]:
    """Build, prepare and run each point at its shapes, two calls on two inputs; the failures as sentences. The
    first output is checked after the second call, so a point whose result lives in a buffer the next call
    overwrites fails, and the second is checked too, so one that replays stale work (the CUDA-graph launch mode
    captures its first call) fails."""
    import torch

    problem = get_problem(PROBLEM)
    t = TEMPLATES[template]
    failures = []
    for params, shapes in jobs:
        try:
            cand = load_source(t.render(params, problem), "agentopt_candidate")
            with torch.device("meta"):
                new = cand.ModelNew(*_WORKER["init"])
            new = new.to(torch.bfloat16).to_empty(device="cuda")
            new.load_state_dict(_WORKER["state"], strict=True)
            new.prepare()
            for m in shapes:
                cases = _WORKER["cases"][m]
                with torch.no_grad():
                    outs = [new(x) for x, _ in cases]
                torch.cuda.synchronize()
                for call, (got, (_, want)) in enumerate(zip(outs, cases), 1):
                    err = ((got.double() - want).norm() / want.norm()).item()
                    if not (got.dtype == torch.bfloat16 and err <= problem.tolerance("cuda")):
                        failures.append(f"{template} {params} at M={m}, call {call} of 2: relative error {err:.3g},"
                                        f" dtype {got.dtype}")
            del new
        except Exception as exc:  # reported with the point that failed
            failures.append(f"{template} {params}: {type(exc).__name__}: {str(exc)[:500]}")
    return failures


def _jobs(template: str) -> list[tuple[dict, list[int]]]:
    """Every surviving point of each group (others at the SEED), with the shapes that reach it; equal sources
    (a parameter the code does not use) are run once."""
    t = TEMPLATES[template]
    problem = get_problem(PROBLEM)
    dims = [t.dims(problem, s) for s in problem.shapes]
    hardware = _hardware()
    seen, jobs = set(), []
    for group, keys in t.GROUPS.items():
        if ONLY_GROUPS and group not in ONLY_GROUPS:
            continue
        base = {**t.SEED, **BASE_OF_GROUP.get(group, {})}
        for params in _group_points(template, group, base, keys):
            if t.prune(params, hardware, dims) is not None:
                continue
            source = t.render(params, problem)
            if source not in seen:
                seen.add(source)
                jobs.append((params, SHAPES_OF_GROUP[group]))
    return jobs


def _group_points(template: str, group: str, base: dict, keys: list[str]) -> list[dict]:
    """Every point of a group; for the fused kernel and the CUDA C kernels (thousands of compiles) each value of
    each parameter once and a few corners, and for the CUDA C template nothing of the other groups (the
    gated-MLP template's paths, tested above)."""
    t = TEMPLATES[template]
    if template == "gated_mlp" and group == "small_fused":
        corners = [{"fused_gu_bn": 64, "fused_gu_bk": 128, "fused_d_bn": 128, "fused_d_split": 16, "fused_occ": 4},
                   {"fused_gu_bn": 16, "fused_gu_bk": 64, "fused_d_bn": 32, "fused_d_bk": 64, "fused_d_split": 4,
                    "fused_occ": 1, "fused_warps": 8, "fused_stages": 2}]
        return [{**base, k: v} for k in keys for v in t.SPACE[k]] + [{**base, **c} for c in corners]
    if template == "gated_mlp" and group in PACKED_OF_GROUP:
        # the tile-major layout changes only how a tile is addressed: every point in nn.Linear's layout, and a
        # third of them, drawn at random, tile-major (every value of every parameter is still among them)
        flag = PACKED_OF_GROUP[group]
        rows = [{**base, **sub, flag: 0} for sub in points({k: t.SPACE[k] for k in keys if k != flag})]
        return rows + [{**p, flag: 1} for p in random.Random(group).sample(rows, len(rows) // 3)]
    if template != "gemv_cuda":
        return [{**base, **sub} for sub in points({k: t.SPACE[k] for k in keys})]
    if group != "gemv":
        return []
    corners = [{"passes": 2, "max_m": 8, "rows": 4, "warps": 8, "unroll": 2, "gu_kw": 2, "down_kw": 8},
               {"passes": 2, "max_m": 8, "rows": 1, "warps": 2, "unroll": 4, "gu_kw": 2, "down_kw": 2, "load": "__ldg"},
               {"passes": 1, "max_m": 8, "rows": 1, "warps": 16, "unroll": 2, "blocks_per_sm": 1},
               {"passes": 1, "max_m": 4, "rows": 2, "warps": 4, "unroll": 2, "blocks_per_sm": 3, "load": "__ldg"}]
    return [{**base, k: v} for k in keys for v in t.SPACE[k]] + [{**base, **c} for c in corners]


def _run_in_pool(template: str) -> tuple[int, list[str]]:
    if ONLY_GROUPS and not set(ONLY_GROUPS) & set(TEMPLATES[template].GROUPS):
        pytest.skip(f"TEMPLATE_GROUPS={','.join(ONLY_GROUPS)} names no parameter group of {template}")
    jobs = _jobs(template)
    if ONLY_GROUPS and not jobs:  # the CUDA C template runs its own group only (the others are the gated-MLP's)
        pytest.skip(f"TEMPLATE_GROUPS={','.join(ONLY_GROUPS)} gives {template} no point to run")
    workers = max(1, min(12, (os.cpu_count() or 2) - 2))
    chunks = [jobs[i::workers * 4] for i in range(workers * 4)]
    with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker) as pool:
        failures = [f for part in pool.map(_run_points, [template] * len(chunks), chunks) for f in part]
    return len(jobs), failures


def test_whole_gated_mlp_space_compiles_and_is_right_at_the_gpu_shapes():
    count, failures = _run_in_pool("gated_mlp")
    assert count > (0 if ONLY_GROUPS else 100)
    assert not failures, f"{len(failures)} of {count} points failed:\n" + "\n".join(failures[:20])


def test_every_cuda_c_parameter_value_compiles_and_is_right_at_small_m():
    pytest.importorskip("cupy", reason="CuPy is not installed here")
    count, failures = _run_in_pool("gemv_cuda")
    assert count > 10
    assert not failures, f"{len(failures)} of {count} points failed:\n" + "\n".join(failures[:20])


def test_every_rmsnorm_point_is_right_at_the_gpu_shapes_through_its_bound_launch():
    """The RMSNorm template's whole space, each point called three times a shape: the first call binds its launch,
    the later ones go through the runner (launch.py), and every output is checked."""
    import torch

    problem, t = get_problem("llama3-8b-rmsnorm"), TEMPLATES["rmsnorm"]
    failures, count = [], 0
    for params in points(t.SPACE):
        dims = [t.dims(problem, s) for s in problem.shapes]
        if t.prune(params, _hardware(), dims) is not None:
            continue
        count += 1
        cand = load_source(t.render(params, problem), "agentopt_candidate_rmsnorm")
        for shape in problem.shapes:
            mod = problem.module(shape)
            torch.manual_seed(0)
            ref = mod.Model(*mod.get_init_inputs()).to("cuda")
            new = cand.ModelNew(*mod.get_init_inputs()).to("cuda", torch.bfloat16)
            new.load_state_dict({k: v.to(torch.bfloat16) for k, v in ref.state_dict().items()})
            xs = [mod.get_inputs()[0].to("cuda", torch.bfloat16) for _ in range(3)]
            with torch.no_grad():
                outs = [new(x) for x in xs]
                wants = [ref(x.float()).double() for x in xs]
            for call, (got, want) in enumerate(zip(outs, wants), 1):
                err = ((got.double() - want).norm() / want.norm()).item()
                if not (got.dtype == torch.bfloat16 and err <= problem.tolerance("cuda")):
                    failures.append(f"rmsnorm {params} at {shape}, call {call}: relative error {err:.3g}, {got.dtype}")
    assert count > 5
    assert not failures, f"{len(failures)} failed:\n" + "\n".join(failures[:20])
