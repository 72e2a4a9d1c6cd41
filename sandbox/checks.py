"""The judge's comparisons, in float64: a candidate's output against the float32 reference, and two runs.

rel_err = ||out - ref|| / ||ref|| against the dtype's bound (problems.REL_TOL); the worst element
max|out - ref| / max|ref| within WORST_ELEMENT_FACTOR times that bound; NaN/Inf never pass where the reference
is finite. Each function returns a `Comparison`, whose `error` names what is wrong (None when it passes).

Fast path (everything finite, the usual case): one difference in the wider of the two dtypes (float32 for bf16,
fp16 and fp32: exact inputs, the difference rounded to 2^-24 of itself), written into a buffer kept between calls,
its largest element, and its norm: the sum of squares of each block of 2^16 elements in that dtype (cascade
summation, relative error near 1e-7), the blocks' sums added in float64; the reference's norm and largest element
are computed once per reference (`Reference`). Anything non-finite, a difference that overflows, or one whose
largest element is outside [1e-12, 1e15] (where float32 squares would under- or overflow) takes the float64 path.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

from agentopt.problems.problem import WORST_ELEMENT_FACTOR


@dataclass
class Comparison:
    rel_err: float | None = None
    max_err: float | None = None
    error: str | None = None


def _fmt(x: float) -> str:
    return f"{x:.3g}"


@dataclass
class Reference:
    """A reference output with what every comparison against it needs, computed once."""
    tensor: Any
    norm: float  # float64
    max_abs: float
    finite: bool


def reference(t) -> Reference:
    import torch

    finite = bool(torch.isfinite(t).all())
    norm = float(torch.linalg.vector_norm(t, dtype=torch.float64)) if finite and t.numel() else 0.0
    biggest = float(t.abs().max()) if finite and t.numel() else 0.0
    return Reference(tensor=t, norm=norm, max_abs=biggest, finite=finite)


_BLOCK = 1 << 16  # elements summed in the working dtype before the float64 total
_FAST_RANGE = (1e-12, 1e15)  # largest |element| for which float32 squares neither underflow nor overflow
_scratch = threading.local()  # the difference buffer, reused: a fresh 64 MB tensor costs its page faults each time


def _buffer(n: int, dtype):
    import torch

    buf = getattr(_scratch, "buf", None)
    if buf is None or buf.dtype != dtype or buf.numel() < n:
        buf = _scratch.buf = torch.empty(n, dtype=dtype)
    return buf[:n]


def _norm(x, biggest: float) -> float:
    """||x|| of a flat float tensor whose largest |element| is `biggest`, accumulated in float64 (module doc)."""
    import torch

    if biggest == 0:
        return 0.0
    if x.dtype != torch.float32 or not _FAST_RANGE[0] <= biggest <= _FAST_RANGE[1]:
        return float(torch.linalg.vector_norm(x, dtype=torch.float64))
    rows = x.numel() // _BLOCK
    head = x[:rows * _BLOCK].view(rows, _BLOCK)
    total = float(torch.linalg.vector_norm(head, dim=1).double().square().sum()) if rows else 0.0
    if x.numel() > rows * _BLOCK:
        total += float(torch.linalg.vector_norm(x[rows * _BLOCK:], dtype=torch.float64)) ** 2
    return math.sqrt(total)


def _largest(x) -> float:
    import torch

    lo, hi = torch.aminmax(x)
    return max(-float(lo), float(hi))


def _difference(a, b) -> tuple[float, float]:
    """(||a - b||, max |a - b|); non-finite where either has non-finite elements."""
    import torch

    work = torch.float64 if torch.float64 in (a.dtype, b.dtype) else torch.float32
    if work not in (a.dtype, b.dtype):
        b = b.to(work)  # two low-precision tensors: subtract exactly, not in their own dtype
    d = torch.sub(a.reshape(-1), b.reshape(-1), out=_buffer(a.numel(), work))
    biggest = _largest(d)
    if not math.isfinite(biggest):
        return math.inf, math.inf
    return _norm(d, biggest), biggest


def _verdict(diff_norm: float, diff_max: float, ref_norm: float, ref_max: float, tol: float) -> Comparison:
    rel = diff_norm / ref_norm if ref_norm > 0 else diff_norm
    worst = diff_max / ref_max if ref_max > 0 else diff_max
    if rel > tol:
        return Comparison(rel, worst, f"rel_err {_fmt(rel)} > {_fmt(tol)}")
    if worst > WORST_ELEMENT_FACTOR * tol:
        bound = WORST_ELEMENT_FACTOR * tol
        return Comparison(rel, worst, f"worst element off by {_fmt(worst)} of max|ref| > {_fmt(bound)}")
    return Comparison(rel, worst)


def compare(out, ref, expected_dtype: str, tol: float) -> Comparison:
    """`out` as returned by the candidate (CPU copy), `ref` the float32 reference output (or its `Reference`)."""
    import torch

    ref = ref if isinstance(ref, Reference) else reference(ref)
    got_dtype = str(out.dtype).removeprefix("torch.")
    if tuple(out.shape) != tuple(ref.tensor.shape):
        return Comparison(error=f"output shape {tuple(out.shape)}, expected {tuple(ref.tensor.shape)}")
    if got_dtype != expected_dtype:
        return Comparison(error=f"output dtype {got_dtype}, expected {expected_dtype}")
    if ref.finite and out.numel():
        diff_norm, diff_max = _difference(out, ref.tensor)
        if math.isfinite(diff_norm):
            return _verdict(diff_norm, diff_max, ref.norm, ref.max_abs, tol)
    o, r = out.to(torch.float64), ref.tensor.to(torch.float64)
    ref_finite = torch.isfinite(r)
    bad = ~torch.isfinite(o) & ref_finite
    if bad.any():
        n_nan = int(torch.isnan(o[bad]).sum())
        return Comparison(error=f"{int(bad.sum())} non-finite output element(s) ({n_nan} NaN) where the reference "
                          "is finite (uninitialised or overflowing memory?)")
    if not ref_finite.all():
        same = torch.equal(torch.isnan(o), torch.isnan(r)) and torch.equal(o[torch.isinf(r)], r[torch.isinf(r)])
        if not same:
            return Comparison(error="non-finite elements differ from the reference's")
        o, r = o[ref_finite], r[ref_finite]
    if r.numel() == 0:
        return Comparison(rel_err=0.0, max_err=0.0)
    diff = o - r
    return _verdict(float(diff.norm()), float(diff.abs().max()), float(r.norm()), float(r.abs().max()), tol)


def compare_runs(first, second, tol: float) -> Comparison:
    """Two runs on the same inputs must agree to tol/10 (bitwise is too strict for atomics)."""
    import torch

    if first.shape == second.shape and first.numel():
        diff_norm, _ = _difference(first, second)
        wide = first.reshape(-1).to(torch.promote_types(first.dtype, torch.float32))
        norm = _norm(wide, _largest(wide))
        if math.isfinite(diff_norm) and math.isfinite(norm):
            return _runs_verdict(diff_norm / norm if norm > 0 else diff_norm, tol)
    a, b = first.to(torch.float64), second.to(torch.float64)
    if a.shape != b.shape or not torch.equal(torch.isnan(a), torch.isnan(b)):
        return Comparison(error="results differ between two runs on the same inputs (race?)")
    finite = torch.isfinite(a)
    a, b = a[finite], b[finite]
    norm = float(a.norm())
    return _runs_verdict(float((a - b).norm()) / norm if norm > 0 else float((a - b).norm()), tol)


def _runs_verdict(diff: float, tol: float) -> Comparison:
    if diff > tol / 10:
        return Comparison(rel_err=diff, error=f"results differ between two runs (race?): rel diff {_fmt(diff)} > "
                          f"{_fmt(tol / 10)}")
    return Comparison(rel_err=diff)
