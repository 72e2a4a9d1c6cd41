"""Template: a gated MLP (Llama's FFN), down(silu(gate(x)) * up(x)), with three paths chosen by the token count M:

- one token (M <= fma_max_m, 0 or 1): CUDA-core GEMV. Gate and up rows read whole in one pass over x, SwiGLU in the
  epilogue, then the down GEMV; each lane sums its products once, after its loop.
- small M (M <= small_max_m): the same weight streaming on tensor cores (tl.dot, BLOCK_M >= 16): weights are
  read once whatever M is, so the time is the weights over the memory bandwidth.
- large M: compute bound. Gate and up as one GEMM with SwiGLU in its epilogue (Triton, two accumulators; its tiles
  by pointer loads or by Hopper's tensor-copy engine, TMA), or cuBLAS (torch.mm) over the [gate; up] weights
  concatenated at the first call plus a SwiGLU kernel; the down GEMM by cuBLAS (torch.mm) or by Triton.

The small path can also run as one persistent kernel (`small_fused`) or be replayed from a CUDA graph
(`small_graph`). The Triton launches of the small paths go through runners bound at their first call (`_bind`), which
halves Triton's host time a launch. The parameter groups are independent: each path's parameters only change that
path's code.
"""
from __future__ import annotations

import math
from typing import Any

from . import gated_mlp_kernels as K
from . import gated_mlp_large as L
from . import gated_mlp_methods as M
from .gated_mlp_fit import FUSED_MAX_M, SYNC_INTS, prune
from ._base import dtype_bytes, header, input_shapes, next_pow2, reference_definitions, state_shapes
from .gemm_epilogue import gemm_kernel
from .launch import BIND

NAME = "gated_mlp"
PATTERN = "gated-mlp"
DEVICES = ("cuda", "cpu")
SPACE: dict[str, list] = {
    # dispatch by M (thresholds are parameters too)
    "fma_max_m": [0, 1],
    "small_max_m": [0, 16, 64, 128, 256],  # 0: cuBLAS (the large path) from fma_max_m up
    # one token: CUDA-core GEMV, gate-up then down: block_n whole rows of the weights a program, block_k a step
    "fma_block_n": [1, 2, 4, 8],
    "fma_block_k": [512, 1024, 2048],
    "fma_warps": [4, 8],
    "fma_stages": [1, 2, 3],
    "fma_down_block_n": [1, 2, 4, 8],
    "fma_down_block_k": [512, 1024, 2048],
    "fma_down_warps": [4, 8],
    "fma_down_stages": [1, 2, 3],
    # the L2 eviction policy of both tiny kernels' weight loads ("evict_first": streamed through L2, out first)
    "fma_evict": ["", "evict_first"],
    # small M: tensor-core weight streaming; BLOCK_M = next power of 2 of M, at least 16, at most *_block_m
    "small_block_m": [32, 64, 128],
    "small_block_n": [32, 64, 128],
    "small_block_k": [64, 128, 256],
    "small_gu_split": [1, 2, 4],  # > 1: float32 partials, summed and put through SwiGLU by...
    "small_gu_reduce": ["down", "last"],  # ...the down kernel as it loads them, or the last program of each tile
    "small_warps": [4, 8],
    "small_stages": [3, 4, 5],
    # 1: gate and up copied tile-major at the small path's first call (_tile_major), so each step's tile is one
    # contiguous run of memory; costs a second copy of those weights
    "small_packed": [0, 1],
    "small_down_block_m": [64, 128],
    "small_down_block_n": [32, 64, 128],
    "small_down_block_k": [64, 128, 256],
    "small_down_split": [2, 4, 8],
    "small_down_warps": [4, 8],
    "small_down_stages": [3, 4],
    "small_down_packed": [0, 1],  # 1: the same for W_down
    # split-K partials summed by a third kernel, or by the last program of each tile (a counter per tile)
    "small_down_reduce": ["kernel", "last"],
    # Hopper: the down (and sum) kernels launched early by programmatic dependent launch, waiting on the GPU
    "small_down_pdl": [0, 1],
    # 1: the small path replayed from a CUDA graph captured once per M (one launch from the host, not three)
    "small_graph": [0, 1],
    # 1: M <= 128 in one persistent launch (_ffn_fused): gate-up and down tiles taken from one queue
    "small_fused": [0, 1],
    "fused_gu_bn": [16, 32, 64],
    "fused_gu_bk": [64, 128, 256],
    "fused_d_bn": [32, 64, 128],
    "fused_d_bk": [64, 128, 256],
    "fused_d_split": [4, 8, 16],
    "fused_occ": [1, 2, 3, 4],  # programs an SM in the persistent grid
    "fused_warps": [4, 8],
    "fused_stages": [2, 3, 4, 5],
    # large M: compute bound
    # gate-up: Triton with SwiGLU in its epilogue (pointer loads, or Hopper's tensor-copy engine: "tma"), or cuBLAS
    # over [gate; up] then a SwiGLU kernel; down: cuBLAS, or Triton (pointer loads, or "tma")
    "large_gateup": ["triton", "cublas", "tma"],
    "large_down": ["cublas", "triton", "tma"],
    "large_block_m": [64, 128],
    "large_block_n": [64, 128, 256],
    "large_block_k": [32, 64],
    "large_group_m": [8],
    "large_warps": [4, 8],
    "large_stages": [3, 4],
}
STRUCTURAL = ("fma_max_m", "small_max_m", "small_gu_split", "small_gu_reduce", "small_down_reduce",
              "small_fused", "small_packed", "small_down_packed", "large_gateup", "large_down")


def _group(prefix: str) -> list[str]:
    return [k for k in SPACE if k.startswith(prefix) and not k.endswith("_max_m") and k not in _LAUNCH
            and (("_down_" in k) == ("_down" in prefix))]


_LAUNCH = ["small_graph", "small_fused"]


# Parameter groups that can vary one at a time: each sets one kernel's configuration, or how the small path is
# launched (tests vary them so).
GROUPS = {"dispatch": ["fma_max_m", "small_max_m"], "tiny_gateup": _group("fma_"), "tiny_down": _group("fma_down_"),
          "small_gateup": _group("small_"), "small_down": _group("small_down_"), "small_launch": _LAUNCH,
          "small_fused": [k for k in SPACE if k.startswith("fused_")],
          "large": _group("large_")}
# The fastest point of a tuning run on an H200 (benchmarks/tune_templates.py, docs/PERF_NOTES.md); the coder
# proposes it first. One token on CUDA cores: two GEMVs, one row of the weights a program, 2.5 us faster than the
# tensor cores at M=1 (benchmarks/experiments/tiny_probe.py). Tensor cores from M=2 (BLOCK_M 16): gate-up tiles
# 64x64 (BLOCK_M 128 so that M=128 reads the weights once) at 5 stages, down tiles 64x128 split 4; from M=128 on
# cuBLAS over [gate; up] beat Triton's streaming (117 us against 131 at M=128), and for gate-up at M >= 1024 the
# TMA Triton GEMM with SwiGLU in its epilogue beats cuBLAS plus the SwiGLU pass (whole FFN 536 against 555 us at
# M=1024, 2165 against 2176 at M=4096: benchmarks/experiments/large_probe.py); down stays on cuBLAS.
# Programmatic dependent launch between the small path's kernels saved 1.2-3 us at M=1-128
# (benchmarks/experiments/stream_probe.py); the last-program sum gained at M=1-16 and lost at 64-128, so the search
# decides.
SEED = {"fma_max_m": 1, "small_max_m": 64,
        "fma_block_n": 1, "fma_block_k": 2048, "fma_warps": 8, "fma_stages": 3,
        "fma_down_block_n": 1, "fma_down_block_k": 1024, "fma_down_warps": 8, "fma_down_stages": 3,
        "fma_evict": "evict_first",
        "small_block_m": 128, "small_block_n": 64, "small_block_k": 64, "small_gu_split": 1,
        "small_gu_reduce": "down", "small_warps": 8, "small_stages": 5, "small_packed": 0,
        "small_down_block_m": 64, "small_down_block_n": 64, "small_down_block_k": 128, "small_down_split": 4,
        "small_down_warps": 4, "small_down_stages": 3, "small_down_packed": 0, "small_down_reduce": "kernel",
        "small_down_pdl": 1,
        "small_graph": 0, "small_fused": 0, "fused_gu_bn": 32, "fused_gu_bk": 128, "fused_d_bn": 64,
        "fused_d_bk": 128, "fused_d_split": 8, "fused_occ": 2, "fused_warps": 8, "fused_stages": 3,
        "large_gateup": "tma", "large_down": "cublas", "large_block_m": 128, "large_block_n": 128,
        "large_block_k": 64, "large_group_m": 8, "large_warps": 8, "large_stages": 3}

# Proposed right after the SEED (the coder's "seed variant"): both of the small path's weights tile-major, and the
# gate-up kernel at 3 stages: 2-7 us faster at M=1-128 than at 5 stages, side by side on an H200, for a second copy
# of those weights (layout_probe.py, order_probe.py; docs/PERF_NOTES.md); the SEED keeps nn.Linear's layout.
VARIANTS = [{"small_packed": 1, "small_down_packed": 1, "small_stages": 3}]

_PROJ = ("gate_proj.weight", "up_proj.weight", "down_proj.weight")


def _prefix(problem) -> str | None:
    """The submodule path in front of gate_proj/up_proj/down_proj ('' for a bare MLP), if the shapes fit."""
    shapes = state_shapes(problem)
    for key in shapes:
        if key.endswith(_PROJ[0]):
            pre = key[: -len(_PROJ[0])]
            g, u, d = (shapes.get(pre + p) for p in _PROJ)
            if (u is not None and d is not None and g == u and len(g) == 2 and d == (g[1], g[0])
                    and not any(pre + p.replace("weight", "bias") in shapes for p in _PROJ)):
                return pre
    return None


def matches(problem) -> bool:
    return _prefix(problem) is not None and "silu" in problem.source


def dims(problem, shape: dict[str, Any]) -> dict[str, int]:
    n, k = state_shapes(problem, shape)[_prefix(problem) + _PROJ[0]]
    (x,) = input_shapes(problem, shape)
    return {"M": math.prod(x) // k, "K": k, "N": n, "bytes": dtype_bytes(problem.dtype)}


def _small_weights(p: dict[str, Any]) -> str:
    """The method that gives the small path its weights: tile-major copies (small_packed, small_down_packed) where
    its tiles divide them, made at the small path's first call, else nn.Linear's layout; with the kernels' PACKED
    flag."""
    lines = ['\n    def _small_weights(self):\n'
             '        """(gate, up, PACKED) and (down, PACKED) as _gateup_stream and _down_stream take them; a\n'
             '        copy is made at the small path\'s first call: a caller that never runs that path never\n'
             '        holds it."""\n'
             '        if self._small_w is None:\n'
             '            gu, wd = (self._wg, self._wu, False), (self._wd, False)\n']
    if p["small_packed"]:
        bn, bk, split = p["small_block_n"], p["small_block_k"], p["small_gu_split"]
        lines.append(f"            if self._wg.shape[0] % {bn} == 0 and self._wg.shape[1] % {bk * split} == 0:\n"
                     f"                tiles = _tile_major((self._wg, self._wu), {bn}, {bk})\n"
                     f"                gu = (tiles, tiles, True)\n")
    if p["small_down_packed"]:
        bn, bk, split = p["small_down_block_n"], p["small_down_block_k"], p["small_down_split"]
        lines.append(f"            if self._wd.shape[0] % {bn} == 0 and self._wd.shape[1] % {bk * split} == 0:\n"
                     f"                wd = (_tile_major((self._wd,), {bn}, {bk}), True)\n")
    lines.append("            self._small_w = gu, wd\n        return self._small_w\n")
    return "".join(lines)


def render(params: dict[str, Any], problem) -> str:
    return header(NAME, "Llama-style gated MLP: GEMV/weight-streaming paths for small M, fused GEMMs for large M.",
                  params) + body(params, problem)


def body(params: dict[str, Any], problem, class_name: str = "ModelNew") -> str:
    """The candidate below its header; `class_name` names its model class (gemv_cuda derives from it)."""
    p = params
    pre = _prefix(problem)
    kernels = [BIND, K.HELPERS, K.STREAM_GATEUP, K.STREAM_DOWN]
    if p["fma_max_m"]:
        kernels.append(K.GEMV)
    if p["small_packed"] or p["small_down_packed"]:
        kernels.append(K.TILE_MAJOR)
    uses_tma = M.uses_tma(p)
    if uses_tma:
        kernels.append(L.GEMM_TMA)
    # cuBLAS's SwiGLU pass, or the pointer-load gate-up GEMM (also the TMA one's fallback)
    kernels.append(L.SWIGLU if p["large_gateup"] == "cublas" else L.GATEUP_GEMM)
    if p["large_down"] == "triton":
        kernels.append(gemm_kernel("none"))
    dispatch = ("        if M <= FMA_MAX_M:\n            y = self._tiny(a)\n        elif M <= SMALL_MAX_M:\n"
                if p["fma_max_m"] else "        if M <= SMALL_MAX_M:\n")
    methods = [M.TINY.format(**p)] if p["fma_max_m"] else []
    s_split = p["small_gu_split"]
    gu_last = s_split > 1 and p["small_gu_reduce"] == "last"
    methods += [M.SMALL.format(**p, h_alloc=M.h_alloc(s_split, gu_last),
                               h_parts=0 if s_split == 1 or gu_last else s_split, gu_last=gu_last,
                               gu_counts="self._gu_counts" if gu_last else "self._tile_counts",
                               last=p["small_down_reduce"] == "last"), _small_weights(p), M.DOWN, M.large(p)]
    if p["small_graph"]:
        methods.append(M.REPLAYED)
    fused_tiles = fused_fits = ""
    if p["small_fused"]:
        kernels.append(K.FUSED)
        methods.append(M.FUSED.format(**p, sync_pad=next_pow2(2 + p["fused_d_split"]), FUSED_MAX_M=FUSED_MAX_M))
        fused_tiles = ("FUSED_GU_BN, FUSED_GU_BK, FUSED_D_BN, FUSED_D_BK, FUSED_D_SPLIT = "
                       f"{p['fused_gu_bn']}, {p['fused_gu_bk']}, {p['fused_d_bn']}, {p['fused_d_bk']}, "
                       f"{p['fused_d_split']}\n")
        fused_fits = ("        # the fused kernel's counters (left at zero by each launch) and programs per SM\n"
                      f"        self._sync = torch.zeros({SYNC_INTS}, device=self._wd.device, dtype=torch.int32)\n"
                      "        self._sms = (torch.cuda.get_device_properties(self._wd.device).multi_processor_count\n"
                      "                     if self._wd.is_cuda else 4)\n"
                      "        K, N = self._wd.shape  # the fused kernel's tiles must divide the weights (no masks)\n"
                      "        self._fused_fits = not (N % (FUSED_D_SPLIT * FUSED_D_BK) or K % FUSED_GU_BK\n"
                      "                                or (N // FUSED_D_SPLIT) % FUSED_GU_BN or K % FUSED_D_BN)\n")
    concat = ("        # [gate; up] as one [2N, K] matrix for the large path's one cuBLAS GEMM: made at its first\n"
              "        # call (a decode-only caller never pays its memory), once, like the rest of prepare()\n"
              "        self._wgu = None\n"
              if p["large_gateup"] == "cublas" else "")
    gu_counts = ("        # the gate-up kernel's tile counters (a tile's last program sums its partials, zeroes it)\n"
                 f"        self._gu_counts = torch.zeros({SYNC_INTS}, device=self._wd.device, dtype=torch.int32)\n"
                 if gu_last else "")
    return f'''
import torch
import triton
import triton.language as tl

{reference_definitions(problem.source)}
{"".join(kernels)}
FMA_MAX_M = {p["fma_max_m"]}  # M <= this: CUDA-core GEMV (0: never)
SMALL_MAX_M = {p["small_max_m"]}  # M <= this: tensor-core weight streaming; above: compute-bound GEMMs
SMALL_DOWN_PDL = {p["small_down_pdl"]}  # 1: the small path's kernels chained by programmatic dependent launch
SMALL_GRAPH = {p["small_graph"]}  # 1: the small path replayed from a CUDA graph captured once per M
SMALL_FUSED = {p["small_fused"]}  # 1: M <= {FUSED_MAX_M} in one persistent launch (gate-up and down from one queue)
{fused_tiles}

class {class_name}(Model):
    """The reference's Model (same constructor, same state dict) with a Triton forward."""

    _prepared = False

    def prepare(self):
        """The weights as the kernels read them, taken once after the state dict is loaded (untimed): plain tensors
        (not Parameters, which nn.Module would register), so that the state dict stays the reference's."""
        self._wg = self.{pre}gate_proj.weight.detach().contiguous()
        self._wu = self.{pre}up_proj.weight.detach().contiguous()
        self._wd = self.{pre}down_proj.weight.detach().contiguous()
{concat}{M.TMA_PREPARE if uses_tma else ""}        self._small_w = None  # the small path's weights (_small_weights)
        # programmatic dependent launch needs Hopper or later (elsewhere the kernels run plainly one after another)
        self._pdl = (bool(SMALL_DOWN_PDL) and self._wd.is_cuda
                     and torch.cuda.get_device_capability(self._wd.device)[0] >= 9)
        # the down kernel's tile counters (LAST: the last program of a tile sums it); its last program zeroes them
        self._tile_counts = torch.zeros({SYNC_INTS}, device=self._wd.device, dtype=torch.int32)
{gu_counts}{fused_fits}        self._graphs = {{}} if SMALL_GRAPH and self._wd.is_cuda else None  # M -> (x, y, graph), or None: failed
        self._scratch = {{}}  # the small paths' intermediates (_buffer; not nn.Module's _buffers): one stream at a time
        self._bound = {{}}  # (path, M, dtype) -> a bound Triton launch (see _launch)
        self._prepared = True

    def forward(self, x):
        if not self._prepared:
            self.prepare()
        a = x.reshape(-1, x.shape[-1]).contiguous()
        if a.data_ptr() % 16:  # the bound launches are specialised, as Triton does, to 16-byte aligned tensors
            a = a.clone()
        M = a.shape[0]
{dispatch}            y = self._small_path(a) if self._graphs is None else self._small_replayed(a)
        else:
            y = self._large(a)
        return y.reshape(*x.shape[:-1], y.shape[-1])

    def _small_path(self, a):
        """The fused kernel where its tiles divide the weights (they are not masked), else the separate kernels."""
        return self._fused(a) if SMALL_FUSED and self._fused_fits and a.shape[0] <= {FUSED_MAX_M} else self._small(a)
{"".join(methods)}'''
