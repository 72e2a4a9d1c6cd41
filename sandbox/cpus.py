"""The CPU side of timing on a GPU: keep our background processes off the cores the timed worker launches from.

Each timed call starts on an idle device, so the host's delay in launching a candidate's kernels counts. While
one worker is judged, others compile ahead (Triton, ptxas, NVRTC) and the reference process may work. So, on a GPU:

    cpus.background("cuda")   # every worker and the reference process, at start: few torch threads, and (timing
                              # core on, at least MIN_CORES cores) every core but the timing core
    cpus.timing("cuda")       # the judged worker, before its checks and timed calls: the timing core alone
    cpus.judge("cuda")        # the judge, when its evaluator starts: JUDGE_THREADS torch threads for its
                              # comparisons, which run while the judged worker checks the next seed and others
                              # compile (never while it times: evaluator)

The timing core is off by default until measured: AGENTOPT_TIMING_CORE=on sets it aside (the thread cap holds
either way); benchmarks/run_contention.py compares the two. On the CPU the timed work is the CPU's own, and
nothing here changes anything.
"""
from __future__ import annotations

import os

THREADS = 2  # torch's CPU threads in each worker and the reference process, on a GPU
JUDGE_THREADS = 4  # torch's CPU threads in the judge's process, on a GPU
MIN_CORES = 4  # fewer cores than this: no core is set aside
_reserved: int | None = None  # this process's timing core, chosen by background()


def _cores() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return set()


def _timing_core(cores: set[int]) -> int | None:
    if os.environ.get("AGENTOPT_TIMING_CORE", "off") != "on" or len(cores) < MIN_CORES:
        return None
    return max(cores)


def _pin(cores: set[int]) -> None:
    try:
        os.sched_setaffinity(0, cores)  # this thread; threads it starts later inherit it
    except (AttributeError, OSError):
        pass


def background(device: str) -> None:
    if device != "cuda":
        return
    import torch

    global _reserved
    torch.set_num_threads(THREADS)
    cores = _cores()
    _reserved = _timing_core(cores)
    if _reserved is not None:
        _pin(cores - {_reserved})


def timing(device: str) -> None:
    if device != "cuda":
        return
    if _reserved is not None:
        _pin({_reserved})


def judge(device: str) -> None:
    if device != "cuda":
        return
    import torch

    torch.set_num_threads(min(JUDGE_THREADS, torch.get_num_threads()))
