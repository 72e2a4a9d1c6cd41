"""The judge's comparisons, in float64: a candidate's output against the float32 reference, and two runs.

rel_err = ||out - ref|| / ||ref|| against the dtype's bound (problems.REL_TOL); the worst element
max|out - ref| / max|ref| within WORST_ELEMENT_FACTOR times that bound; NaN/Inf never pass where the reference
is finite. Each function returns a `Comparison`, whose `error` names what is wrong (None when it passes).
"""
from __future__ import annotations

from dataclasses import dataclass

from agentopt.problems.problem import WORST_ELEMENT_FACTOR


@dataclass
class Comparison:
    rel_err: float | None = None
    max_err: float | None = None
    error: str | None = None


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def compare(out, ref, expected_dtype: str, tol: float) -> Comparison:
    """`out` as returned by the candidate (CPU copy), `ref` the float32 reference output."""
    import torch

    got_dtype = str(out.dtype).removeprefix("torch.")
    if tuple(out.shape) != tuple(ref.shape):
        return Comparison(error=f"output shape {tuple(out.shape)}, expected {tuple(ref.shape)}")
    if got_dtype != expected_dtype:
        return Comparison(error=f"output dtype {got_dtype}, expected {expected_dtype}")
    o, r = out.to(torch.float64), ref.to(torch.float64)
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
    ref_norm, ref_max = float(r.norm()), float(r.abs().max())
    rel = float(diff.norm()) / ref_norm if ref_norm > 0 else float(diff.norm())
    worst = float(diff.abs().max()) / ref_max if ref_max > 0 else float(diff.abs().max())
    if rel > tol:
        return Comparison(rel, worst, f"rel_err {_fmt(rel)} > {_fmt(tol)}")
    if worst > WORST_ELEMENT_FACTOR * tol:
        bound = WORST_ELEMENT_FACTOR * tol
        return Comparison(rel, worst, f"worst element off by {_fmt(worst)} of max|ref| > {_fmt(bound)}")
    return Comparison(rel, worst)


def compare_runs(first, second, tol: float) -> Comparison:
    """Two runs on the same inputs must agree to tol/10 (bitwise is too strict for atomics)."""
    import torch

    a, b = first.to(torch.float64), second.to(torch.float64)
    if a.shape != b.shape or not torch.equal(torch.isnan(a), torch.isnan(b)):
        return Comparison(error="results differ between two runs on the same inputs (race?)")
    finite = torch.isfinite(a)
    a, b = a[finite], b[finite]
    norm = float(a.norm())
    diff = float((a - b).norm()) / norm if norm > 0 else float((a - b).norm())
    if diff > tol / 10:
        return Comparison(rel_err=diff, error=f"results differ between two runs (race?): rel diff {_fmt(diff)} > "
                          f"{_fmt(tol / 10)}")
    return Comparison(rel_err=diff)
