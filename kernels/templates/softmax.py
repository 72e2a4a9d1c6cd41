"""Template: softmax over the last dimension. Two variants: "single" keeps the whole row in registers (the row
is read once); "online" walks the row in BLOCK_N tiles keeping a running max and sum, then a second pass writes
(the row is read twice, for rows too long for registers).

Matches a reference whose traced graph is input -> softmax(dim=-1) -> output."""
from __future__ import annotations

import math
from typing import Any

from ._base import dtype_bytes, header, input_shapes, next_pow2, reference_definitions, traced_graph

NAME = "softmax"
PATTERN = "row-reduction"
DEVICES = ("cuda", "cpu")
SPACE: dict[str, list] = {
    "variant": ["single", "online"],
    "block_n": [1024, 4096, 8192],  # the tile of the online variant
    "num_warps": [4, 8, 16, 32],
}
STRUCTURAL = ("variant",)
GROUPS = {"row": list(SPACE)}
SEED = {"variant": "single", "block_n": 4096, "num_warps": 16}

SINGLE = '''
@triton.jit
def _softmax(x_ptr, y_ptr, N, BLOCK_N: tl.constexpr):
    """One row per program, held in registers: read once, written once."""
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK_N)
    mask = cols < N
    x = tl.load(x_ptr + row * N + cols, mask=mask, other=-float("inf")).to(tl.float32)
    e = tl.exp(x - tl.max(x, axis=0))
    tl.store(y_ptr + row * N + cols, (e / tl.sum(e, axis=0)).to(y_ptr.dtype.element_ty), mask=mask)
'''

ONLINE = '''
@triton.jit
def _softmax(x_ptr, y_ptr, N, BLOCK_N: tl.constexpr):
    """One row per program in BLOCK_N tiles: a running max and sum (online softmax), then the normalised write."""
    row = tl.program_id(0)
    m = tl.full((BLOCK_N,), -float("inf"), dtype=tl.float32)
    s = tl.zeros((BLOCK_N,), dtype=tl.float32)
    for start in range(0, N, BLOCK_N):
        cols = start + tl.arange(0, BLOCK_N)
        x = tl.load(x_ptr + row * N + cols, mask=cols < N, other=-float("inf")).to(tl.float32)
        m_new = tl.maximum(m, x)
        s = s * tl.exp(m - m_new) + tl.exp(x - m_new)
        s = tl.where(m_new == -float("inf"), 0.0, s)
        m = m_new
    m_row = tl.max(m, axis=0)
    total = tl.sum(s * tl.exp(m - m_row), axis=0)
    for start in range(0, N, BLOCK_N):
        cols = start + tl.arange(0, BLOCK_N)
        x = tl.load(x_ptr + row * N + cols, mask=cols < N, other=-float("inf")).to(tl.float32)
        tl.store(y_ptr + row * N + cols, (tl.exp(x - m_row) / total).to(y_ptr.dtype.element_ty), mask=cols < N)
'''


def matches(problem) -> bool:
    gm = traced_graph(problem)
    if gm is None:
        return False
    nodes = [n for n in gm.graph.nodes if n.op not in ("placeholder", "output")]
    if len([n for n in gm.graph.nodes if n.op == "placeholder"]) != 1 or len(nodes) != 1:
        return False
    (node,) = nodes
    name = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", "")
    dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
    return node.op in ("call_function", "call_method") and name == "softmax" and dim == -1


def dims(problem, shape: dict[str, Any]) -> dict[str, int]:
    (x,) = input_shapes(problem, shape)
    return {"M": math.prod(x) // x[-1], "N": x[-1], "bytes": dtype_bytes(problem.dtype)}


def prune(params: dict[str, Any], hardware, shapes: list[dict[str, int]]) -> str | None:
    """Why the point cannot fit on `hardware` (None: Triton's interpreter, where every point runs)."""
    if hardware is None:
        return None
    threads = 32 * params["num_warps"]
    for d in shapes:
        tile = next_pow2(d["N"]) if params["variant"] == "single" else min(params["block_n"], next_pow2(d["N"]))
        if tile // threads > 128:
            return f"a tile of {tile} needs {tile // threads} registers a thread at {params['num_warps']} warps"
        if threads > tile:
            return f"{threads} threads for a tile of {tile}: most would idle"
    return None


def render(params: dict[str, Any], problem) -> str:
    single = params["variant"] == "single"
    block = "triton.next_power_of_2(N)" if single else f"min({params['block_n']}, triton.next_power_of_2(N))"
    return f'''{header(NAME, f"Row softmax, {params['variant']} pass.", params)}
import torch
import triton
import triton.language as tl

{reference_definitions(problem.source)}
{SINGLE if single else ONLINE}

class ModelNew(Model):
    """The reference's Model with a Triton forward."""

    def forward(self, x):
        a = x.reshape(-1, x.shape[-1]).contiguous()
        M, N = a.shape
        y = torch.empty_like(a)
        _softmax[(M,)](a, y, N, BLOCK_N={block}, num_warps={params["num_warps"]})
        return y.reshape(x.shape)
'''
