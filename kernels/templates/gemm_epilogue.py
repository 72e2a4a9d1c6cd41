"""Template: a linear layer with an elementwise activation, `act(x W^T + b)`, as one tensor-core GEMM with the
bias and the activation in its epilogue (the output is written once, not read back by a second kernel).

Matches a reference whose traced graph is input -> nn.Linear -> at most one activation -> output."""
from __future__ import annotations

import math
from typing import Any

from ._base import dtype_bytes, header, input_shapes, reference_definitions, state_shapes, traced_graph

NAME = "gemm_epilogue"
PATTERN = "gemm-epilogue"
DEVICES = ("cuda", "cpu")
SPACE: dict[str, list] = {
    "block_m": [32, 64, 128],
    "block_n": [64, 128, 256],
    "block_k": [32, 64],
    "group_m": [8],
    "num_warps": [4, 8],
    "num_stages": [3, 4],
}
STRUCTURAL: tuple[str, ...] = ()
GROUPS = {"tile": list(SPACE)}
SEED = {"block_m": 128, "block_n": 128, "block_k": 64, "group_m": 8, "num_warps": 8, "num_stages": 3}

# Activations the epilogue knows: the name fx records (function, method or module class) -> Triton expression.
ACTIVATIONS: dict[str, str] = {
    "none": "acc",
    "relu": "tl.maximum(acc, 0.0)",
    "gelu": "0.5 * acc * (1.0 + tl.erf(acc * 0.7071067811865476))",
    "silu": "acc * tl.sigmoid(acc)",
    "sigmoid": "tl.sigmoid(acc)",
    "tanh": "2.0 * tl.sigmoid(2.0 * acc) - 1.0",
}

GEMM_KERNEL = '''
@triton.jit
def _gemm_epilogue(a_ptr, w_ptr, bias_ptr, c_ptr, M, N, K, HAS_BIAS: tl.constexpr,
                   BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                   GROUP_M: tl.constexpr, EVEN_K: tl.constexpr):
    """c = act(a W^T + bias): a [M, K], W [N, K] (nn.Linear's layout, K contiguous), tensor-core tiles,
    grouped raster (GROUP_M row tiles in a row share weight tiles in L2), the epilogue on the accumulator."""
    pid = tl.program_id(0)
    num_m = tl.cdiv(M, BLOCK_M)
    num_n = tl.cdiv(N, BLOCK_N)
    in_group = GROUP_M * num_n
    first_m = (pid // in_group) * GROUP_M
    size_m = tl.minimum(num_m - first_m, GROUP_M)
    pid_m = first_m + (pid % in_group) % size_m
    pid_n = (pid % in_group) // size_m
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rows = offs_m % M  # wrapped, not masked: the loads stay unpredicated; the store is masked
    cols = offs_n % N
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        offs_k = k0 + tl.arange(0, BLOCK_K)
        a_ptrs = a_ptr + rows[:, None] * K + offs_k[None, :]
        w_ptrs = w_ptr + cols[None, :] * K + offs_k[:, None]
        if EVEN_K:
            a = tl.load(a_ptrs)
            b = tl.load(w_ptrs)
        else:
            a = tl.load(a_ptrs, mask=offs_k[None, :] < K, other=0.0)
            b = tl.load(w_ptrs, mask=offs_k[:, None] < K, other=0.0)
        acc += tl.dot(a, b)
    if HAS_BIAS:
        acc += tl.load(bias_ptr + cols).to(tl.float32)[None, :]
    acc = {epilogue}
    mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    tl.store(c_ptr + offs_m[:, None] * N + offs_n[None, :], acc.to(c_ptr.dtype.element_ty), mask=mask)
'''


def gemm_kernel(activation: str) -> str:
    return GEMM_KERNEL.replace("{epilogue}", ACTIVATIONS[activation])


def _activation_name(node) -> str | None:
    """The activation a call_function/call_method node applies, if the epilogue knows it."""
    target = node.target
    name = target if isinstance(target, str) else getattr(target, "__name__", "")
    return name if name in ACTIVATIONS else None


def _linear_and_activation(problem) -> tuple[str, str] | None:
    """(the Linear submodule's name, the activation's name) if the reference is input -> Linear -> act."""
    import torch.nn as nn

    gm = traced_graph(problem)
    if gm is None:
        return None
    modules = dict(gm.named_modules())
    nodes = [n for n in gm.graph.nodes if n.op not in ("placeholder", "output")]
    inputs = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(inputs) != 1 or not 1 <= len(nodes) <= 2:
        return None
    first = nodes[0]
    if first.op != "call_module" or not isinstance(modules.get(first.target), nn.Linear):
        return None
    if len(nodes) == 1:
        return first.target, "none"
    act = nodes[1]
    if act.args[:1] != (first,):
        return None
    if act.op == "call_module":
        cls = type(modules.get(act.target)).__name__.lower()
        if cls == "gelu" and getattr(modules[act.target], "approximate", "none") != "none":
            return None
        name = cls if cls in ACTIVATIONS else None
    else:
        name = _activation_name(act)
        if name == "gelu" and act.kwargs.get("approximate", "none") != "none":
            return None
    return (first.target, name) if name else None


def matches(problem) -> bool:
    return _linear_and_activation(problem) is not None


def dims(problem, shape: dict[str, Any]) -> dict[str, int]:
    linear_name, _ = _linear_and_activation(problem)
    n, k = state_shapes(problem, shape)[f"{linear_name}.weight"]
    (x,) = input_shapes(problem, shape)
    return {"M": math.prod(x) // k, "K": k, "N": n, "bytes": dtype_bytes(problem.dtype)}


def prune(params: dict[str, Any], hardware, shapes: list[dict[str, int]]) -> str | None:
    """Why the point cannot fit on `hardware` (None: Triton's interpreter, where every point runs)."""
    if hardware is None:
        return None
    bm, bn, bk, warps, stages = (params[k] for k in ("block_m", "block_n", "block_k", "num_warps", "num_stages"))
    for d in shapes:
        smem = stages * (bm + bn) * bk * d["bytes"]
        if smem > hardware.smem_per_block_bytes:
            return f"shared memory {smem} B for {stages} stages of {bm}x{bk} + {bn}x{bk} tiles > {hardware.smem_per_block_bytes} B"
        for key, dim in (("block_k", d["K"]), ("block_n", d["N"])):
            if dim % min(SPACE[key]) == 0 and dim % params[key]:  # a smaller block of the space divides it
                return f"{key} {params[key]} does not divide {dim} (a smaller one does)"
        if bm > 2 * d["M"] and bm > min(SPACE["block_m"]):
            return f"block_m {bm} is more than twice the {d['M']} rows"
    if bm * bn // (32 * warps) > 128:
        return f"a {bm}x{bn} float32 accumulator needs {bm * bn // (32 * warps)} registers a thread at {warps} warps (> 128)"
    if bm * bn < 8 * 32 * warps:
        return f"a {bm}x{bn} tile leaves most of {warps} warps idle"
    return None


def render(params: dict[str, Any], problem) -> str:
    linear_name, activation = _linear_and_activation(problem)
    p = params
    return f'''{header(NAME, f"Linear + {activation} as one GEMM with the activation in its epilogue.", params)}
import torch
import triton
import triton.language as tl

{reference_definitions(problem.source)}

{gemm_kernel(activation)}

class ModelNew(Model):
    """The reference's Model (same constructor and state dict) with its forward as one Triton GEMM."""

    def forward(self, x):
        linear = self.get_submodule({linear_name!r})
        w = linear.weight
        a = x.reshape(-1, w.shape[1]).contiguous()
        M, K = a.shape
        N = w.shape[0]
        c = torch.empty((M, N), device=a.device, dtype=a.dtype)
        bias = linear.bias if linear.bias is not None else w
        grid = (triton.cdiv(M, {p["block_m"]}) * triton.cdiv(N, {p["block_n"]}),)
        _gemm_epilogue[grid](a, w, bias, c, M, N, K, HAS_BIAS=linear.bias is not None,
                             BLOCK_M={p["block_m"]}, BLOCK_N={p["block_n"]}, BLOCK_K={p["block_k"]},
                             GROUP_M={p["group_m"]}, EVEN_K=K % {p["block_k"]} == 0,
                             num_warps={p["num_warps"]}, num_stages={p["num_stages"]})
        return c.reshape(*x.shape[:-1], N)
'''
