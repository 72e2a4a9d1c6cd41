"""The timing protocol, run inside the worker: candidate and baseline interleaved in one session.

Every repetition gets inputs never seen before (so remembering answers buys nothing): at positions the judge drew,
the inputs of a judge seed (those outputs go back to the judge, who compares them with the reference); elsewhere
the timing inputs with floating tensors times fresh factors in [0.5, 1.5] and integer tensors re-drawn from the
problem's get_inputs() under a fresh judge seed (where the new draw has the same shape and dtype; otherwise they stay
as drawn: a problem whose integer inputs must agree with its floating ones in value cannot be varied safely).
Every repetition's candidate output is also compared with the baseline's output on the same inputs (relative
difference, kept on the device, read once at the end).
CUDA: warm-up, then alternating candidate / baseline calls, each between two CUDA events, each starting on an idle
device (a device-wide synchronize, so that nothing a call left on another stream overlaps the next) with the L2
flushed before it: a buffer of flush_mb (EvalConfig, 1 GB) or twice the L2, whichever is larger, is zeroed.
Zeroing 1 GB takes the GPU ~250 us on an H200: a head start in which the host queues the call's kernels, as a host
running ahead does under do_bench, so that the time is the GPU's; a call whose launches take longer shows the
excess. (With do_bench's 256 MB, ~60 us, eager llama3-8b-ffn at M=1, whose calls take the host 60-130 us, read
112 us in some worker processes and 220-285 us in others of the same run, on an H200; do_bench read 112.)
Repetitions from rep_ms bounded by min_reps / max_reps; then a device-wide synchronize and a wall-clock batch of
back-to-back calls, so that work hidden on another stream or thread shows up (compared with the larger of the event
median and the host time per call). The batch's calls get fresh inputs too (made before it starts, within a memory
budget), and each of its outputs is compared with the baseline's on the same inputs afterwards, so remembering
answers buys nothing there either.
CPU: wall-clock (perf_counter) per call, a few calls each, interleaved.
The judge turns the raw times into median and 20/80 percentiles (`summarize`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass
class Session:
    candidate: Callable  # (inputs) -> output
    baseline: Callable
    poison: Callable  # () -> None, before each candidate call
    live: list  # the inputs of the timed calls, refilled in place before each repetition
    refill: Callable  # (index of a checked input set, or None) -> None: new contents of the live inputs
    fresh: Callable  # () -> a new list of inputs, contents never seen before (the wall-clock batch)
    checked: list[float]  # where the checked calls fall, as fractions of the repetitions (drawn by the judge)
    batch_bytes: int = 0  # the wall-clock batch's inputs and outputs stay within this many bytes (at least 3 calls)


def poison_output(t) -> None:
    """Overwrite a tensor's bytes with 0xFF (NaN in every float format) before it is freed."""
    import torch

    if not isinstance(t, torch.Tensor) or not t.numel():
        return
    if t.is_contiguous() and t.dtype != torch.bool:
        t.reshape(-1).view(torch.uint8).fill_(255)
    elif t.is_floating_point():
        t.fill_(float("nan"))


def _rel_diff(out, base):
    """||out - base|| / ||base|| as a 0-d tensor on the device (inf when out is not a plain tensor of base's shape:
    a subclass's own methods would do the comparing)."""
    import torch

    if type(out) is not torch.Tensor or out.shape != base.shape:
        return torch.tensor(float("inf"), device=base.device)
    b = base.double()
    return (out.double() - b).norm() / b.norm().clamp_min(1e-30)


def _positions(session: Session, reps: int) -> dict[int, int]:
    """Repetition -> checked input set."""
    return {min(reps - 1, int(f * reps)): j for j, f in enumerate(session.checked)}


def measure(session: Session, cfg: dict, device: str, clock) -> tuple[dict, list]:
    return (_measure_cuda if device == "cuda" else _measure_cpu)(session, cfg, clock)


class _CudaTimer:
    def __init__(self):
        import torch

        self.event = lambda: torch.cuda.Event(enable_timing=True)
        self.pairs: dict[str, list] = {"c": [], "b": []}

    def start(self, side: str) -> None:
        self.pairs[side].append((self.event(), self.event()))
        self.pairs[side][-1][0].record()

    def stop(self, side: str) -> None:
        self.pairs[side][-1][1].record()

    def times(self, side: str) -> list[float]:
        return [a.elapsed_time(b) for a, b in self.pairs[side]]


class _WallTimer:
    def __init__(self, clock):
        self.clock, self.t0 = clock, 0.0
        self.ms: dict[str, list] = {"c": [], "b": []}

    def start(self, side: str) -> None:
        self.t0 = self.clock()

    def stop(self, side: str) -> None:
        self.ms[side].append((self.clock() - self.t0) * 1e3)

    def times(self, side: str) -> list[float]:
        return self.ms[side]


class _NoTimer:
    def start(self, side: str) -> None:
        pass

    stop = start


def _rep(session: Session, r: int, flush, timer, keep: dict, kept: list, agree) -> None:
    """One repetition: new inputs, then candidate and baseline (who goes first alternates), compared."""
    session.refill(keep.get(r))
    outs = {}
    for side in ("c", "b") if r % 2 == 0 else ("b", "c"):
        if side == "c":
            session.poison()
        if flush is not None:  # CUDA: each timed call starts on an idle device, so work a call left on another
            _synchronize()  # stream cannot overlap (and slow) the next one
            flush.zero_()
        timer.start(side)
        out = (session.candidate if side == "c" else session.baseline)(session.live)
        timer.stop(side)
        # what the caller's stream holds when forward returns: copied in stream order, before any synchronize, so
        # an answer still being computed on a side stream is compared as it stands
        outs[side] = out.clone() if side == "c" and flush is not None and _is_tensor(out) else out
    agree[r] = _rel_diff(outs["c"], outs["b"])
    poison_output(outs["b"])
    if r in keep:
        kept.append((keep[r], outs["c"]))


def _synchronize() -> None:
    import torch

    torch.cuda.synchronize()


def _is_tensor(x) -> bool:
    import torch

    return isinstance(x, torch.Tensor)


def _result(timer, agree, reps: int, kept: list, **extra) -> tuple[dict, list]:
    return ({"cand_ms": timer.times("c"), "base_ms": timer.times("b"), "agree": agree.tolist(), "reps": reps,
             "kept_sets": [j for j, _ in kept], **extra}, [o for _, o in kept])


def _nbytes(xs) -> int:
    import torch

    return sum(x.numel() * x.element_size() for x in xs if isinstance(x, torch.Tensor))


def _wallclock(session: Session, calls: int, out_bytes: int, clock) -> dict:
    """Back-to-back candidate calls on fresh inputs, then one device-wide synchronize: wall time per call and host
    time per call; then the baseline on the same inputs, each output compared (relative differences)."""
    import torch

    per_call = max(1, _nbytes(session.live) + out_bytes)
    calls = max(3, min(calls, session.batch_bytes // per_call))
    sets = [session.fresh() for _ in range(calls)]
    torch.cuda.synchronize()
    outs, host = [], 0.0  # host: time in forward before it returns (a launch-bound candidate is slow on the host)
    t0 = clock()
    for inputs in sets:
        t1 = clock()
        outs.append(session.candidate(inputs))
        host += clock() - t1
    torch.cuda.synchronize()
    wall_ms = (clock() - t0) * 1e3 / calls
    agree = torch.zeros(calls, dtype=torch.float64, device="cuda")
    for k, inputs in enumerate(sets):
        agree[k] = _rel_diff(outs[k], session.baseline(inputs))
        outs[k] = None
    return {"wall_ms": wall_ms, "host_ms": host * 1e3 / calls, "batch_agree": agree.tolist(), "batch_calls": calls}


def _measure_cuda(session: Session, cfg: dict, clock) -> tuple[dict, list]:
    import torch

    phases, t_start = {}, clock()
    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    l2 = props.L2_cache_size or 64 * 2**20
    size = max(2 * l2, min(int(cfg["flush_mb"]) * 10**6, props.total_memory // 16))  # small GPUs: a smaller one
    flush = torch.empty(size // 4, dtype=torch.int32, device="cuda")
    sink = torch.zeros(1, dtype=torch.float64, device="cuda")

    def warm(n: int) -> None:
        for _ in range(n):
            _rep(session, 0, flush, _NoTimer(), {}, [], sink)

    warm(1)
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    warm(5)
    end.record()
    torch.cuda.synchronize()
    per_pair = max(start.elapsed_time(end) / 5, 1e-3)
    warm(max(1, int(cfg["warmup_ms"] / per_pair)))
    phases["warmup"] = clock() - t_start
    reps = max(cfg["min_reps"], min(cfg["max_reps"], int(cfg["rep_ms"] / per_pair)))
    keep, timer = _positions(session, reps), _CudaTimer()
    agree = torch.zeros(reps, dtype=torch.float64, device="cuda")
    kept: list = []
    t0 = clock()
    for r in range(reps):
        _rep(session, r, flush, timer, keep, kept, agree)
    torch.cuda.synchronize()
    phases["reps"] = clock() - t0
    del flush
    t0 = clock()
    out_bytes = _nbytes([kept[0][1]]) if kept else 0
    batch = _wallclock(session, min(cfg["wallclock_calls"], reps), out_bytes, clock)
    phases["wallclock"] = clock() - t0
    return _result(timer, agree, reps, kept, **batch, phases=phases)


def _measure_cpu(session: Session, cfg: dict, clock) -> tuple[dict, list]:
    import torch

    _rep(session, 0, None, _NoTimer(), {}, [], torch.zeros(1, dtype=torch.float64))
    reps = max(1, cfg["cpu_timing_reps"])
    keep, timer = _positions(session, reps), _WallTimer(clock)
    agree = torch.zeros(reps, dtype=torch.float64)
    kept: list = []
    for r in range(reps):
        _rep(session, r, None, timer, keep, kept, agree)
    return _result(timer, agree, reps, kept, wall_ms=None, host_ms=None)


def summarize(times: list[float]) -> tuple[float, float, float]:
    """Median, 20th and 80th percentile (linear interpolation)."""
    xs = sorted(float(t) for t in times)

    def q(p: float) -> float:
        pos = p * (len(xs) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(xs) - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)

    return q(0.5), q(0.2), q(0.8)
