"""Shared by the probes that compare points of the gated-MLP template side by side (fused_probe, layout_probe,
balance_probe): each point rendered, loaded as a candidate, checked against eager on two calls with two inputs, then
timed with eager (and any other callables) in rounds that alternate the variants, with the host's time to enqueue
one call; and the loop of the probes that time kernels alone per M, then whole candidates."""
from __future__ import annotations

import argparse
import statistics
import tempfile
import sys
from pathlib import Path

import torch
from triton.testing import do_bench

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
from common import print_rates, write_result  # noqa: E402
from ffn import build, candidate_module  # noqa: E402
from host_probe import host_and_gpu_us  # noqa: E402
from stream_probe import H, I, Weights, template_kernels  # noqa: E402

from agentopt.hardware import BUILTIN  # noqa: E402
from agentopt.measure import copy_bandwidth_gbps  # noqa: E402
from agentopt.problems import load_source  # noqa: E402
from kernels.templates import gated_mlp, gated_mlp_kernels  # noqa: E402

WEIGHT_BYTES = 3 * H * I * 2  # llama3-8b's FFN in bf16


def compare(problem, M: int, variants: list[tuple[str, dict]], rounds: int, tmp: Path, copy_gbps: float,
            extra: dict | None = None, on_loaded=None) -> list[dict]:
    """One row per variant at M (eager first, then `extra`'s callables, then the template's points), and one row
    with an "error" for each point that failed to load, to run, or to match eager within the problem's tolerance.
    `on_loaded(name, model)` is called for each loaded point (to read its compiled kernels)."""
    model, inputs = build(problem, {"M": M}, torch.bfloat16)
    model._init_inputs = problem.module({"M": M}).get_init_inputs()
    x2 = torch.randn_like(inputs[0])
    want = [model(*inputs).double(), model(x2).double()]
    floor_us = WEIGHT_BYTES / (copy_gbps * 1e9) * 1e6
    fns = {"eager": lambda: model(*inputs)}
    for name, make in (extra or {}).items():
        fns[name] = make(model, inputs)
    errors = {}
    for name, params in variants:
        path = tmp / f"{name}-M{M}.py"
        path.write_text(gated_mlp.render(params, problem))
        try:
            new = candidate_module(str(path), model)
            got = [new(*inputs), new(x2)]  # both checked after the second call
            torch.cuda.synchronize()
            errors[name] = max(((g.double() - w).norm() / w.norm()).item() for g, w in zip(got, want))
            fns[name] = (lambda n: lambda: n(*inputs))(new)
            if on_loaded is not None:
                on_loaded(name, new)
        except Exception as exc:  # a point that does not compile or run is reported, not fatal
            errors[name] = f"{type(exc).__name__}: {str(exc)[:300]}"
    times = {n: [] for n in fns}
    for _ in range(rounds):
        for n, fn in fns.items():
            times[n].append(1e3 * do_bench(fn, warmup=25, rep=100, return_mode="median"))
    rows = []
    for n, fn in fns.items():
        us = statistics.median(times[n])
        host, back = host_and_gpu_us(fn)
        rows.append({"M": M, "variant": n, "us": us, "rounds_us": times[n], "host_enqueue_us": host,
                     "back_to_back_us": back, "floor_us": floor_us, "fraction_of_floor": floor_us / us,
                     "rel_err": errors.get(n, 0.0)})
    for n, e in errors.items():
        if not isinstance(e, float) or e > problem.tolerance("cuda"):
            rows.append({"M": M, "variant": n, "error": e})
    return rows


def print_table(rows: list[dict]) -> None:
    eager = {r["M"]: r["us"] for r in rows if r["variant"] == "eager"}
    print(f"{'M':>4} {'variant':<16} {'us':>7} {'x eager':>8} {'floor':>6} {'host us':>8} {'b2b us':>7} rel_err")
    for r in rows:
        if "error" in r:
            print(f"{r['M']:>4} {r['variant']:<16} ERROR {r['error']}")
        else:
            print(f"{r['M']:>4} {r['variant']:<16} {r['us']:7.1f} {eager[r['M']] / r['us']:8.3f} "
                  f"{r['fraction_of_floor']:6.1%} {r['host_enqueue_us']:8.1f} {r['back_to_back_us']:7.1f} "
                  f"{r['rel_err']:.2g}")


def probe_args(doc: str, ms: str = "1,16,64,128", kernels: bool = True):
    """--rounds, --ms (a list of ints after parsing; default `ms`) and, for a probe that times kernels alone
    (`kernels`), --kernels-only, for a probe whose docstring is `doc`."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ms", default=ms)
    if kernels:
        ap.add_argument("--kernels-only", action="store_true", help="the kernels alone, no whole candidates")
    args = ap.parse_args()
    args.ms = [int(m) for m in args.ms.split(",")]
    args.kernels_only = getattr(args, "kernels_only", False)
    return args


def report(name: str, copy_gbps: float, points: dict, results: dict, rates: list[dict], width: int = 46) -> None:
    """A probe's benchmarks/results/<gpu>-<name>.json (the GPU, the copy rate, the points per_m ran and `results`);
    then its path, the copy rate, what the prune refused, the kernel rows `rates` and the whole candidates' table."""
    path = write_result(name, {"gpu": torch.cuda.get_device_name(0), "copy_GBps": copy_gbps, **points, **results})
    print(path)
    print(f"copy rate {copy_gbps / 1e3:.2f} TB/s; refused by the prune: {sorted(points['refused'])}")
    if rates:
        print_rates(rates, width)
    if results.get("candidates"):
        print_table(results["candidates"])


def per_m(problem, args, variants: dict[str, dict], kernels_at, copy_gbps: float) -> tuple[list, list, dict]:
    """For each M: kernels_at(M)'s rows, then (unless --kernels-only) the whole candidates, the SEED with its small
    path up to M=128 and each variant's parameters on top. Returns (kernel rows, candidate rows, the points run);
    the points the prune refuses on an H200 are left out, with why, under "refused"."""
    dims = [gated_mlp.dims(problem, {"M": m}) for m in args.ms]
    whole = [(n, {**gated_mlp.SEED, "small_max_m": 128, **p}) for n, p in variants.items()]
    refused = {n: why for n, p in whole if (why := gated_mlp.prune(p, BUILTIN["h200"], dims))}
    whole = [(n, p) for n, p in whole if n not in refused]
    kernels, candidates = [], []
    tmp = Path(tempfile.mkdtemp())
    with torch.no_grad():
        for M in args.ms:
            kernels += kernels_at(M)
            if not args.kernels_only:
                candidates += compare(problem, M, whole, args.rounds, tmp, copy_gbps)
            print(f"M={M} done", flush=True)
    return kernels, candidates, {"whole_params": dict(whole), "refused": refused}


def probe_setup():
    """What the kernel probes start from: the template's streaming kernels (a module), its tile-major packing
    (_tile_major), the copy rate (GB/s) and the probe's weights."""
    tile_major = load_source("import torch\n" + gated_mlp_kernels.TILE_MAJOR, "tile_major")._tile_major
    return template_kernels(), tile_major, copy_bandwidth_gbps(), Weights()
