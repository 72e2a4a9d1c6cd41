"""Template: RMSNorm (Llama's: x * rsqrt(mean(x^2) + eps), rounded to x's dtype, times the weight) as one pass
over each row: the row is read once into registers, reduced, scaled and written. Memory bound: its floor is
the bytes of x read plus y written over the bandwidth.

Matches a reference whose only state is a 1-D `weight`, whose source uses rsqrt and mean, and that keeps its
epsilon in a float attribute (variance_epsilon, eps or epsilon)."""
from __future__ import annotations

import math
from typing import Any

from ._base import dtype_bytes, float_attribute, header, input_shapes, next_pow2, reference_definitions, state_shapes
from .launch import BIND

NAME = "rmsnorm"
PATTERN = "row-reduction"
DEVICES = ("cuda", "cpu")
SPACE: dict[str, list] = {
    "rows_per_program": [1, 2, 4],
    "num_warps": [1, 2, 4, 8, 16],
}
STRUCTURAL: tuple[str, ...] = ()
GROUPS = {"row": list(SPACE)}
# fastest on an H200 at M=4096 (22 us; docs/PERF_NOTES.md), within noise of 2 and 4 warps at small M
SEED = {"rows_per_program": 1, "num_warps": 8}
_EPS_NAMES = ("variance_epsilon", "eps", "epsilon")

KERNEL = '''
@triton.jit
def _rmsnorm(x_ptr, w_ptr, y_ptr, M, N, eps, BLOCK_N: tl.constexpr, ROWS: tl.constexpr):
    """ROWS rows per program, each read once: sum of squares in float32, x * rstd rounded to x's dtype (as the
    reference does), times the weight."""
    cols = tl.arange(0, BLOCK_N)
    cmask = cols < N
    w = tl.load(w_ptr + cols, mask=cmask, other=0.0).to(tl.float32)
    for r in tl.static_range(ROWS):
        row = tl.program_id(0) * ROWS + r
        mask = cmask & ((cols * 0 + row) < M)
        x = tl.load(x_ptr + row * N + cols, mask=mask, other=0.0).to(tl.float32)
        rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / N + eps)
        h = (x * rstd).to(x_ptr.dtype.element_ty).to(tl.float32)
        tl.store(y_ptr + row * N + cols, (h * w).to(y_ptr.dtype.element_ty), mask=mask)
'''


def matches(problem) -> bool:
    shapes = state_shapes(problem)
    return (set(shapes) == {"weight"} and len(shapes["weight"]) == 1 and "rsqrt" in problem.source
            and ".mean(" in problem.source and float_attribute(problem, _EPS_NAMES) is not None)


def dims(problem, shape: dict[str, Any]) -> dict[str, int]:
    (x,) = input_shapes(problem, shape)
    return {"M": math.prod(x) // x[-1], "N": x[-1], "bytes": dtype_bytes(problem.dtype)}


def prune(params: dict[str, Any], hardware, shapes: list[dict[str, int]]) -> str | None:
    """Why the point cannot fit on `hardware` (None: Triton's interpreter, where every point runs)."""
    if hardware is None:
        return None
    threads = 32 * params["num_warps"]
    for d in shapes:
        block = next_pow2(d["N"])
        if block // threads > 128:
            return f"a row of {d['N']} needs {block // threads} registers a thread at {params['num_warps']} warps"
        if threads > block:
            return f"{threads} threads for a row of {d['N']}: most would idle"
    return None


def render(params: dict[str, Any], problem) -> str:
    eps = float_attribute(problem, _EPS_NAMES)
    rows, warps = params["rows_per_program"], params["num_warps"]
    return f'''{header(NAME, "RMSNorm in one pass over each row.", params)}
import torch
import triton
import triton.language as tl

{reference_definitions(problem.source)}
{KERNEL}
{BIND}

class ModelNew(Model):
    """The reference's Model (same constructor, same state dict) with a Triton forward, launched through a runner
    bound at the first call of each M (launch.py): half of Triton's host time a launch."""

    _bound = None

    def forward(self, x):
        a = x.reshape(-1, x.shape[-1]).contiguous()
        if a.data_ptr() % 16:  # the bound launch is specialised, as Triton does, to 16-byte aligned tensors
            a = a.clone()
        M, N = a.shape
        w = self.weight
        y = torch.empty((M, N), device=a.device, dtype=torch.promote_types(w.dtype, a.dtype))
        if self._bound is None:
            self._bound = {{}}
        _launch(self._bound, (M, N, a.dtype, w.dtype, w.data_ptr() % 16 == 0), _rmsnorm,
                (a, w, y, M, N, self.{eps}),
                lambda: ((_cdiv(M, {rows}),), dict(BLOCK_N=triton.next_power_of_2(N), ROWS={rows}, num_warps={warps})))
        return y.reshape(x.shape)
'''
