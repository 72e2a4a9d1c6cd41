"""Template (CUDA C): the gated MLP for small M as two hand-written GEMV kernels compiled through CuPy
(gemv_cuda.cu): 16-byte loads (uint4, 8 bf16) several steps ahead and warp-shuffle reductions; M above
`max_m` goes to cuBLAS through torch (one GEMM over [gate; up], SwiGLU, the down GEMM). bf16 only; needs a GPU
(CuPy compiles with NVRTC at prepare()), so the coder never proposes it for the CPU."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from . import gated_mlp
from ._base import header, reference_definitions

NAME = "gemv_cuda"
PATTERN = "gated-mlp"
DEVICES = ("cuda",)
SPACE: dict[str, list] = {
    "max_m": [1, 2, 4, 8],
    "rows": [1, 2, 4],
    "warps": [2, 4, 8],
    "unroll": [1, 2, 4],
    "load": ["__ldg", "__ldcs"],  # read-only cache path, or streaming (evict-first)
}
STRUCTURAL = ("max_m", "load")
GROUPS = {"gemv": list(SPACE)}
SEED = {"max_m": 1, "rows": 2, "warps": 4, "unroll": 2, "load": "__ldcs"}
CUDA_FILE = Path(__file__).with_name("gemv_cuda.cu")


def matches(problem) -> bool:
    return gated_mlp.matches(problem) and problem.dtype == "bfloat16"


def dims(problem, shape: dict[str, Any]) -> dict[str, int]:
    return gated_mlp.dims(problem, shape)


def prune(params: dict[str, Any], hardware, shapes: list[dict[str, int]]) -> str | None:
    if hardware is None:
        return "CUDA C through CuPy needs a GPU"
    p = params
    regs = 2 * p["rows"] * p["max_m"] + 2 * 4 * p["unroll"] * p["rows"]  # accumulators + uint4s in flight
    if regs > 160:
        return f"{regs} registers a thread of accumulators and loads in flight (> 160)"
    for d in shapes:
        if d["bytes"] != 2:
            return "the kernels read bf16 weights"
        if d["K"] % 8 or d["N"] % 8:
            return f"16-byte loads need K={d['K']} and N={d['N']} to be multiples of 8"
    return None


def cuda_source(params: dict[str, Any]) -> str:
    p = params
    defines = (f"#define MAX_M {p['max_m']}\n#define ROWS {p['rows']}\n#define WARPS {p['warps']}\n"
               f"#define UNROLL {p['unroll']}\n#define LOAD(ptr) {p['load']}(ptr)\n")
    return defines + CUDA_FILE.read_text()


def render(params: dict[str, Any], problem) -> str:
    p = params
    pre = gated_mlp._prefix(problem)
    per_block = p["rows"] * p["warps"]
    return f'''{header(NAME, "Gated MLP: CUDA C GEMVs (16-byte loads, warp shuffles) for small M, cuBLAS above.", p)}
import cupy
import torch
import torch.nn.functional as F

{reference_definitions(problem.source)}

CUDA_SOURCE = r"""
{cuda_source(p)}"""
MAX_M = {p["max_m"]}  # M <= this: the CUDA C kernels; above: cuBLAS through torch
ROWS_PER_BLOCK = {per_block}  # {p["warps"]} warps of {p["rows"]} rows


class ModelNew(Model):
    """The reference's Model (same constructor, same state dict) with CUDA C kernels for small M."""

    _prepared = False

    def prepare(self):
        """Weights as the kernels read them and the kernels compiled (NVRTC, cached by CuPy), untimed."""
        self._wg = self.{pre}gate_proj.weight.contiguous()
        self._wu = self.{pre}up_proj.weight.contiguous()
        self._wd = self.{pre}down_proj.weight.contiguous()
        self._wgu = torch.cat([self._wg, self._wu]).contiguous()  # [gate; up]: one cuBLAS GEMM for both
        module = cupy.RawModule(code=CUDA_SOURCE)
        self._gateup = module.get_function("gateup_swiglu")
        self._down = module.get_function("down_gemv")
        self._prepared = True

    def forward(self, x):
        if not self._prepared:
            self.prepare()
        a = x.reshape(-1, x.shape[-1]).contiguous()
        M, K = a.shape
        N = self._wg.shape[0]
        if M > MAX_M:
            gu = torch.mm(a, self._wgu.t())
            y = torch.mm(F.silu(gu[:, :N]) * gu[:, N:], self._wd.t())
            return y.reshape(*x.shape[:-1], K)
        h = torch.empty((M, N), device=a.device, dtype=a.dtype)
        y = torch.empty((M, K), device=a.device, dtype=a.dtype)
        # launched on torch's current stream, so the work is ordered (and timed) with torch's
        with cupy.cuda.ExternalStream(torch.cuda.current_stream().cuda_stream):
            self._gateup(((N + ROWS_PER_BLOCK - 1) // ROWS_PER_BLOCK,), ({32 * p["warps"]},),
                         (cupy.uint64(a.data_ptr()), cupy.uint64(self._wg.data_ptr()),
                          cupy.uint64(self._wu.data_ptr()), cupy.uint64(h.data_ptr()),
                          cupy.int32(M), cupy.int32(N), cupy.int32(K // 8)))
            self._down(((K + ROWS_PER_BLOCK - 1) // ROWS_PER_BLOCK,), ({32 * p["warps"]},),
                       (cupy.uint64(h.data_ptr()), cupy.uint64(self._wd.data_ptr()), cupy.uint64(y.data_ptr()),
                        cupy.int32(M), cupy.int32(K), cupy.int32(N // 8)))
        return y.reshape(*x.shape[:-1], K)
'''
