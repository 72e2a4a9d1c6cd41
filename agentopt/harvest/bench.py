"""A fresh timing of the library against eager on this machine: `load(problem)` beside the reference, on every
shape the library serves. On a GPU as benchmarks/ffn.py times the README's table: do_bench medians (CUDA events,
L2 flushed before each call, which also lets the host queue the call before the GPU reaches it), the library and
eager in three alternating rounds, the median of each kept, so that a few seconds' slow spell of the machine does not
decide. Wall clock on the CPU (and the rows say so)."""
from __future__ import annotations

import statistics
import time
from pathlib import Path

from pydantic import BaseModel


CUDA_CLOCK = "cuda events, L2 flushed"


class BenchRow(BaseModel):
    problem: str
    shape: dict
    kernel: str  # the kernel that served the call ('eager' when none did)
    library_ms: float
    eager_ms: float
    speedup: float
    indexed_speedup: float | None = None  # what the harvest measured
    rel_err: float  # ||library - eager|| / ||eager||, this run
    held_mib: float = 0.0  # memory the serving kernel keeps beyond the weights, after its calls (sandbox/held.py)
    clock: str  # CUDA_CLOCK or 'cpu wall clock'


def _time_pair_ms(fns: tuple, device: str, reps: int, rounds: int = 3) -> list[float]:
    """Each function's median milliseconds, timed in `rounds` alternating rounds on a GPU."""
    if device != "cuda":
        return [_cpu_ms(fn, reps) for fn in fns]
    from triton.testing import do_bench

    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for fn, out in zip(fns, times):
            out.append(do_bench(fn, warmup=25, rep=100, return_mode="median"))
    return [statistics.median(t) for t in times]


def _cpu_ms(fn, reps: int, warmup: int = 10) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def bench(library: Path, device: str, reps: int, progress=None) -> tuple[list[BenchRow], list[str]]:
    """(rows, notes): one row per served shape of every problem that has kernels usable on this device."""
    import torch

    from agentopt.kernels import load
    from agentopt.problems import get_problem

    from .index import LibraryIndex, device_arch

    arch = device_arch(device)
    index = LibraryIndex.load(library)
    rows, notes = [], []
    for name in sorted({k.problem for k in index.kernels}):
        entries = [k for k in index.for_problem(name) if k.arch == arch]
        if not entries:
            archs = sorted({k.arch for k in index.for_problem(name)})
            notes.append(f"{name}: no kernel for {arch} (the library has {', '.join(archs)})")
            continue
        problem = get_problem(name)
        dtype = getattr(torch, problem.dtype_for(device))
        served = {e.name: {repr(s.shape): s for s in e.shapes} for e in entries}
        for shape in problem.shapes_for(device):
            indexed = next((d[repr(shape)] for d in served.values() if repr(shape) in d), None)
            if indexed is None:
                continue
            if progress:
                progress(f"timing {name} {shape}")
            module = load(problem, device=device, library=library, shape=shape)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(1)
                inputs = [a.to(device=device, dtype=dtype) if a.is_floating_point() else a.to(device)
                          for a in problem.module(shape).get_inputs()]
            with torch.no_grad():
                out, ref = module(*inputs), module._reference(*inputs)
                kernel = next((k for k in module.calls if k != "eager"), "eager")
                lib_ms, eager_ms = _time_pair_ms((lambda: module(*inputs), lambda: module._reference(*inputs)),
                                                 device, reps)
            rel = float((out.double() - ref.double()).norm() / ref.double().norm().clamp_min(1e-30))
            rows.append(BenchRow(problem=name, shape=shape, kernel=kernel, library_ms=lib_ms, eager_ms=eager_ms,
                                 speedup=eager_ms / lib_ms, indexed_speedup=indexed.speedup, rel_err=rel,
                                 held_mib=module.held_bytes() / 2**20,
                                 clock=CUDA_CLOCK if device == "cuda" else "cpu wall clock"))
    return rows, notes
