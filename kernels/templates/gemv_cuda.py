"""Template (CUDA C): the gated MLP for tiny M as two hand-written GEMV kernels compiled through CuPy
(gemv_cuda.cu): 16-byte loads (uint4, 8 bf16) several steps ahead, warp-shuffle reductions, and for a short
matrix several warps splitting K. M above `max_m` takes the gated-MLP template's paths (its small_* and large_*
parameters are part of this space): Triton tensor-core weight streaming up to small_max_m, then the large path
(Triton or cuBLAS GEMMs). bf16 only; needs a GPU (CuPy compiles with NVRTC at prepare()), so the coder never
proposes it for the CPU."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from . import gated_mlp
from ._base import header

NAME = "gemv_cuda"
PATTERN = "gated-mlp"
DEVICES = ("cuda",)
_OWN: dict[str, list] = {
    "max_m": [1, 2, 4, 8],
    "rows": [1, 2, 4],
    "warps": [2, 4, 8],
    "gu_kw": [1, 2, 4],  # warps splitting K in the gate-up kernel
    "down_kw": [1, 2, 4, 8],  # ... in the down kernel (4096 rows of 28 KB: few rows, long ones)
    "unroll": [1, 2, 4],
    "load": ["__ldg", "__ldcs"],  # read-only cache path, or streaming (evict-first)
}
# Above max_m: the gated-MLP template's small and large paths, with their parameters (its CUDA-core path unused).
_GATED = [k for k in gated_mlp.SPACE if not k.startswith("fma_")]
SPACE: dict[str, list] = {**_OWN, **{k: gated_mlp.SPACE[k] for k in _GATED}}
STRUCTURAL = ("max_m", "load") + tuple(k for k in gated_mlp.STRUCTURAL if k in _GATED)
GROUPS = {"gemv": list(_OWN), **{g: keys for g, keys in gated_mlp.GROUPS.items()
                                 if g != "dispatch" and not g.startswith("tiny")}}
GROUPS["large"] = GROUPS["large"] + ["small_max_m"]
# The fastest point of a tuning run on an H200 (97 us at M=1 against eager's 111; docs/PERF_NOTES.md).
SEED = {"max_m": 1, "rows": 4, "warps": 4, "gu_kw": 1, "down_kw": 4, "unroll": 1, "load": "__ldcs",
        **{k: gated_mlp.SEED[k] for k in _GATED}}
CUDA_FILE = Path(__file__).with_name("gemv_cuda.cu")


def matches(problem) -> bool:
    return gated_mlp.matches(problem) and problem.dtype == "bfloat16"


def dims(problem, shape: dict[str, Any]) -> dict[str, int]:
    return gated_mlp.dims(problem, shape)


def prune(params: dict[str, Any], hardware, shapes: list[dict[str, int]]) -> str | None:
    if hardware is None:
        return "CUDA C through CuPy needs a GPU"
    p = params
    for kw in ("gu_kw", "down_kw"):
        if p["warps"] % p[kw]:
            return f"{p[kw]} warps splitting K do not divide a block of {p['warps']} warps"
    regs = 2 * p["rows"] * p["max_m"] + 2 * 4 * p["unroll"] * p["rows"]  # accumulators + uint4s in flight
    if regs > 160:
        return f"{regs} registers a thread of accumulators and loads in flight (> 160)"
    for d in shapes:
        if d["bytes"] != 2:
            return "the kernels read bf16 weights"
        if d["K"] % 8 or d["N"] % 8:
            return f"16-byte loads need K={d['K']} and N={d['N']} to be multiples of 8"
    return gated_mlp.prune(_gated_params(p), hardware, shapes)


def _gated_params(params: dict[str, Any]) -> dict[str, Any]:
    """The gated-MLP point this candidate uses above max_m (its CUDA-core path off)."""
    return {**gated_mlp.SEED, **{k: params[k] for k in _GATED}, "fma_max_m": 0}


def cuda_source(params: dict[str, Any]) -> str:
    p = params
    defines = (f"#define MAX_M {p['max_m']}\n#define ROWS {p['rows']}\n#define WARPS {p['warps']}\n"
               f"#define GU_KW {p['gu_kw']}\n#define DOWN_KW {p['down_kw']}\n"
               f"#define UNROLL {p['unroll']}\n#define LOAD(ptr) {p['load']}(ptr)\n")
    return defines + CUDA_FILE.read_text()


def render(params: dict[str, Any], problem) -> str:
    p = params
    pre = gated_mlp._prefix(problem)
    gu_rows, down_rows = p["rows"] * p["warps"] // p["gu_kw"], p["rows"] * p["warps"] // p["down_kw"]
    title = "Gated MLP: CUDA C GEMVs (16-byte loads, warp shuffles) for tiny M, Triton/cuBLAS above."
    return f'''{header(NAME, title, p)}
import cupy
{gated_mlp.body(_gated_params(p), problem, class_name="_StreamingMLP")}

CUDA_SOURCE = r"""
{cuda_source(p)}"""
MAX_M = {p["max_m"]}  # M <= this: the CUDA C kernels; above: the gated-MLP paths of _StreamingMLP
GU_ROWS, DOWN_ROWS = {gu_rows}, {down_rows}  # output rows per block of each kernel


class ModelNew(_StreamingMLP):
    """The reference's Model (same constructor, same state dict) with CUDA C kernels for tiny M."""

    def prepare(self):
        """The streaming paths' weights, and the kernels compiled (NVRTC, cached by CuPy), untimed."""
        super().prepare()
        module = cupy.RawModule(code=CUDA_SOURCE)
        self._gateup = module.get_function("gateup_swiglu")
        self._down_gemv = module.get_function("down_gemv")

    def forward(self, x):
        if not self._prepared:
            self.prepare()
        a = x.reshape(-1, x.shape[-1]).contiguous()
        M, K = a.shape
        if M > MAX_M:
            return super().forward(x)
        N = self._wg.shape[0]
        h = torch.empty((M, N), device=a.device, dtype=a.dtype)
        y = torch.empty((M, K), device=a.device, dtype=a.dtype)
        # launched on torch's current stream, so the work is ordered (and timed) with torch's
        with cupy.cuda.ExternalStream(torch.cuda.current_stream().cuda_stream):
            self._gateup(((N + GU_ROWS - 1) // GU_ROWS,), ({32 * p["warps"]},),
                         (cupy.uint64(a.data_ptr()), cupy.uint64(self._wg.data_ptr()),
                          cupy.uint64(self._wu.data_ptr()), cupy.uint64(h.data_ptr()),
                          cupy.int32(M), cupy.int32(N), cupy.int32(K // 8)))
            self._down_gemv(((K + DOWN_ROWS - 1) // DOWN_ROWS,), ({32 * p["warps"]},),
                            (cupy.uint64(h.data_ptr()), cupy.uint64(self._wd.data_ptr()),
                             cupy.uint64(y.data_ptr()), cupy.int32(M), cupy.int32(K), cupy.int32(N // 8)))
        return y.reshape(*x.shape[:-1], K)
'''
