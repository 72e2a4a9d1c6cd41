"""The judge's comparisons (sandbox/checks.py): the numbers a verdict rests on, on the fast path and off it."""
from __future__ import annotations

import math

import pytest
import torch

from agentopt.sandbox import checks

TOL = 1.6e-2  # bf16's bound (problems.REL_TOL)


def _float64_rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    o, r = out.to(torch.float64), ref.to(torch.float64)
    return float((o - r).norm() / r.norm())


@pytest.mark.parametrize("n", [1, 4096, (1 << 16) * 3 + 5])
def test_rel_err_agrees_with_a_float64_computation(n):
    g = torch.Generator().manual_seed(n)
    ref = torch.randn(n, generator=g)
    out = (ref + 3e-3 * torch.randn(n, generator=g)).to(torch.bfloat16)
    cmp = checks.compare(out, ref, "bfloat16", TOL)
    assert cmp.error is None
    assert cmp.rel_err == pytest.approx(_float64_rel_err(out, ref), rel=1e-5)
    worst = float((out.double() - ref.double()).abs().max() / ref.abs().max())
    assert cmp.max_err == pytest.approx(worst, rel=1e-6)


def test_an_output_off_by_more_than_the_tolerance_is_wrong():
    ref = torch.randn(1 << 17, generator=torch.Generator().manual_seed(1))
    cmp = checks.compare((ref * 1.05).to(torch.bfloat16), ref, "bfloat16", TOL)
    assert cmp.error is not None and "rel_err" in cmp.error


@pytest.mark.parametrize("scale", [1e-30, 1e-20, 1e20])
def test_tiny_and_huge_outputs_are_judged_like_ordinary_ones(scale):
    """Where float32 squares would underflow or overflow, zeros must still fail and a close answer pass."""
    ref = torch.randn(1 << 17, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * scale
    zeros = checks.compare(torch.zeros_like(ref), ref, "float64", 1e-6)
    assert zeros.error is not None and zeros.rel_err == pytest.approx(1.0)
    close = ref * (1 + 1e-9)
    assert checks.compare(close, ref, "float64", 1e-6).error is None
    bf16_ref = ref.float()
    wrong = checks.compare(torch.zeros(bf16_ref.shape, dtype=torch.bfloat16), bf16_ref, "bfloat16", TOL)
    assert wrong.error is not None


def test_nan_never_passes_where_the_reference_is_finite():
    ref = torch.randn(1 << 17, generator=torch.Generator().manual_seed(3))
    out = ref.to(torch.bfloat16)
    out[12345] = float("nan")
    cmp = checks.compare(out, ref, "bfloat16", TOL)
    assert cmp.error is not None and "NaN" in cmp.error


def test_two_runs_that_differ_are_a_race_and_equal_runs_are_not():
    first = torch.randn(1 << 17, generator=torch.Generator().manual_seed(4)).to(torch.bfloat16)
    assert checks.compare_runs(first, first.clone(), TOL).error is None
    second = first.clone()
    second[:5000] = 0
    race = checks.compare_runs(first, second, TOL)
    assert race.error is not None and "race" in race.error
    expected = float((first.double() - second.double()).norm() / first.double().norm())
    assert math.isclose(race.rel_err, expected, rel_tol=1e-5)
