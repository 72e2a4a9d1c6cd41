"""Template: rotary position embedding (the rotate_half form) as one elementwise kernel. The reference runs a
chain of small ops (outer product, cat, cos, sin, casts, chunk, neg, cat, two multiplies, an add), each a trip
through memory; here each program reads one token's BLOCK_H heads once, computes cos and sin of its position in
registers and writes the rotated heads once.

Matches a reference that defines rotate_half, keeps an `inv_freq` buffer and takes (q, positions)."""
from __future__ import annotations

import math
from typing import Any

from ._base import dtype_bytes, header, input_shapes, next_pow2, reference_definitions, state_shapes

NAME = "rope"
PATTERN = "elementwise"
DEVICES = ("cuda", "cpu")
SPACE: dict[str, list] = {
    "block_h": [1, 2, 4, 8, 16, 32],
    "num_warps": [1, 2, 4, 8],
}
STRUCTURAL: tuple[str, ...] = ()
GROUPS = {"tile": list(SPACE)}
SEED = {"block_h": 8, "num_warps": 4}

KERNEL = '''
@triton.jit
def _rope(q_ptr, pos_ptr, inv_ptr, out_ptr, H, HALF, BLOCK_H: tl.constexpr, BLOCK_D: tl.constexpr):
    """One token, BLOCK_H heads: out = q * cos + rotate_half(q) * sin, with cos and sin rounded to q's dtype
    as the reference rounds them."""
    t = tl.program_id(0)
    heads = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)
    j = tl.arange(0, BLOCK_D)
    jmask = j < HALF
    freq = tl.load(pos_ptr + t).to(tl.float32) * tl.load(inv_ptr + j, mask=jmask, other=0.0)
    cos = tl.cos(freq).to(q_ptr.dtype.element_ty).to(tl.float32)[None, :]
    sin = tl.sin(freq).to(q_ptr.dtype.element_ty).to(tl.float32)[None, :]
    mask = (heads[:, None] < H) & jmask[None, :]
    first = (t * H + heads[:, None]) * 2 * HALF + j[None, :]
    x1 = tl.load(q_ptr + first, mask=mask, other=0.0).to(tl.float32)
    x2 = tl.load(q_ptr + first + HALF, mask=mask, other=0.0).to(tl.float32)
    tl.store(out_ptr + first, (x1 * cos - x2 * sin).to(out_ptr.dtype.element_ty), mask=mask)
    tl.store(out_ptr + first + HALF, (x2 * cos + x1 * sin).to(out_ptr.dtype.element_ty), mask=mask)
'''


def matches(problem) -> bool:
    shapes = state_shapes(problem)
    return ("def rotate_half" in problem.source and set(shapes) == {"inv_freq"}
            and "def forward(self, q, positions)" in problem.source)


def dims(problem, shape: dict[str, Any]) -> dict[str, int]:
    q, _ = input_shapes(problem, shape)
    return {"M": math.prod(q) // (q[-1] * q[-2]), "H": q[-2], "D": q[-1], "bytes": dtype_bytes(problem.dtype)}


def prune(params: dict[str, Any], hardware, shapes: list[dict[str, int]]) -> str | None:
    """Why the point cannot fit on `hardware` (None: Triton's interpreter, where every point runs)."""
    if hardware is None:
        return None
    for d in shapes:
        if params["block_h"] > next_pow2(d["H"]):
            return f"block_h {params['block_h']} is more than the {d['H']} heads"
        tile = params["block_h"] * next_pow2(d["D"] // 2)
        if tile < 32 * params["num_warps"]:
            return f"a {params['block_h']}-head tile of {tile} pairs leaves most of {params['num_warps']} warps idle"
    return None


def render(params: dict[str, Any], problem) -> str:
    bh = params["block_h"]
    return f'''{header(NAME, "Rotary embedding as one elementwise kernel.", params)}
import torch
import triton
import triton.language as tl

{reference_definitions(problem.source)}
{KERNEL}

class ModelNew(Model):
    """The reference's Model (same constructor, same buffers) with a Triton forward."""

    def forward(self, q, positions):
        qc = q.contiguous()
        H, D = qc.shape[-2], qc.shape[-1]
        tokens = qc.numel() // (H * D)
        out = torch.empty_like(qc)
        grid = (tokens, triton.cdiv(H, {bh}))
        _rope[grid](qc, positions.contiguous(), self.inv_freq, out, H, D // 2, BLOCK_H={bh},
                    BLOCK_D=triton.next_power_of_2(D // 2), num_warps={params["num_warps"]})
        return out
'''
