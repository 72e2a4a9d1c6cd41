"""Template (CUDA C): the gated MLP for tiny M as hand-written GEMV kernels compiled through CuPy (gemv_cuda.cu):
16-byte loads (uint4, 8 bf16) several steps ahead, warp-shuffle reductions. `passes` 2: a gate-up kernel with the
SwiGLU epilogue, then a down kernel (several warps splitting a short matrix's K); `passes` 1: one persistent
kernel in which each block multiplies the h rows it just computed into Wd^T (transposed once in prepare()),
float32 reductions into y, the last block casting it (no second launch, no gap between two kernels). M above `max_m` takes the gated-MLP template's paths (its small_* and large_*
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
    "passes": [1, 2],  # 1: one fused kernel (persistent grid); 2: gate-up then down
    "blocks_per_sm": [1, 2, 3, 4],  # passes 1: the persistent grid's blocks per SM (also caps registers)
    "rows": [1, 2, 4],
    "warps": [2, 4, 8, 16],
    "gu_kw": [1, 2, 4],  # warps splitting K in the gate-up kernel
    "down_kw": [1, 2, 4, 8],  # ... in the down kernel (4096 rows of 28 KB: few rows, long ones)
    "unroll": [1, 2, 4],
    "load": ["__ldg", "__ldcs"],  # read-only cache path, or streaming (evict-first)
}
# Above max_m: the gated-MLP template's small and large paths, with their parameters (its CUDA-core path unused).
_GATED = [k for k in gated_mlp.SPACE if not k.startswith("fma_")]
SPACE: dict[str, list] = {**_OWN, **{k: gated_mlp.SPACE[k] for k in _GATED}}
STRUCTURAL = ("max_m", "passes", "load") + tuple(k for k in gated_mlp.STRUCTURAL if k in _GATED)
GROUPS = {"gemv": list(_OWN), **{g: keys for g, keys in gated_mlp.GROUPS.items()
                                 if g != "dispatch" and not g.startswith("tiny")}}
GROUPS["large"] = GROUPS["large"] + ["small_max_m"]
# The fastest point of two tuning runs on an H200 (97 us at M=1 against eager's 111-113): the one-pass kernel,
# 1 block of 16 warps an SM, 4 rows a warp; the two-pass kernels trail by ~1 us (docs/PERF_NOTES.md).
SEED = {"max_m": 1, "passes": 1, "blocks_per_sm": 1, "rows": 4, "warps": 16, "gu_kw": 1, "down_kw": 4, "unroll": 2,
        "load": "__ldcs", **{k: gated_mlp.SEED[k] for k in _GATED}}
VARIANTS = gated_mlp.VARIANTS  # its small path's (the gated-MLP template's measurement)
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
        why = _prune_fused(p, d) if p["passes"] == 1 else None
        if why:
            return why
    return gated_mlp.prune(_gated_params(p), hardware, shapes)


def _prune_fused(p: dict[str, Any], d: dict[str, int]) -> str | None:
    """The fused kernel: each thread owns VPT 16-byte column groups of y for MAX_M tokens in registers."""
    threads = 32 * p["warps"]
    if (d["K"] // 8) % threads:
        return f"{threads} threads do not divide y's {d['K'] // 8} 16-byte column groups"
    vpt = d["K"] // 8 // threads
    batch = 1 if vpt >= 8 else 8 // vpt
    if (p["rows"] * p["warps"]) % batch:
        return f"a chunk of {p['rows'] * p['warps']} rows is not a whole number of {batch}-row load batches"
    regs = 8 * vpt * p["max_m"] + max(2 * 4 * p["unroll"] * p["rows"] + 2 * p["rows"] * p["max_m"], 4 * batch * vpt)
    cap = min(255, 65536 // (threads * p["blocks_per_sm"])) - 24  # the rest: addresses, indices
    if regs > cap:
        return (f"{regs} registers a thread of y accumulators and loads in flight > {cap} at"
                f" {p['blocks_per_sm']} blocks of {threads} threads an SM")
    return None


def _gated_params(params: dict[str, Any]) -> dict[str, Any]:
    """The gated-MLP point this candidate uses above max_m (its CUDA-core path off)."""
    return {**gated_mlp.SEED, **{k: params[k] for k in _GATED}, "fma_max_m": 0}


def cuda_source(params: dict[str, Any], hidden: int) -> str:
    """The kernels' source for a point and the model's hidden size (y's width, fixed at compile time)."""
    p = params
    defines = (f"#define MAX_M {p['max_m']}\n#define ROWS {p['rows']}\n#define WARPS {p['warps']}\n"
               f"#define GU_KW {p['gu_kw']}\n#define DOWN_KW {p['down_kw']}\n"
               f"#define UNROLL {p['unroll']}\n#define LOAD(ptr) {p['load']}(ptr)\n"
               f"#define HIDDEN8 {hidden // 8}\n#define BLOCKS_PER_SM {p['blocks_per_sm']}\n")
    return defines + CUDA_FILE.read_text()


def render(params: dict[str, Any], problem) -> str:
    p = params
    hidden = gated_mlp.dims(problem, problem.shapes[0])["K"]
    title = "Gated MLP: CUDA C GEMVs (16-byte loads, warp shuffles) for tiny M, Triton/cuBLAS above."
    model = _PASSES[p["passes"]].format(**p, threads=32 * p["warps"], gu_rows=p["rows"] * p["warps"] // p["gu_kw"],
                                        down_rows=p["rows"] * p["warps"] // p["down_kw"])
    return f'''{header(NAME, title, p)}
import cupy
{gated_mlp.body(_gated_params(p), problem, class_name="_StreamingMLP")}

CUDA_SOURCE = r"""
{cuda_source(p, hidden)}"""
MAX_M = {p["max_m"]}  # M <= this: the CUDA C kernels; above: the gated-MLP paths of _StreamingMLP
{model}{_FORWARD}'''


_TWO_PASSES = '''GU_ROWS, DOWN_ROWS = {gu_rows}, {down_rows}  # output rows per block of each kernel


class _Kernels(_StreamingMLP):
    """The reference's Model (same constructor, same state dict) with CUDA C kernels for tiny M."""

    def prepare(self):
        """The streaming paths' weights, and the kernels compiled (NVRTC, cached by CuPy), untimed."""
        super().prepare()
        module = cupy.RawModule(code=CUDA_SOURCE)
        self._gateup = module.get_function("gateup_swiglu")
        self._down_gemv = module.get_function("down_gemv")
        N, K = self._wg.shape  # the launch arguments that never change, boxed once
        self._grids = (((N + GU_ROWS - 1) // GU_ROWS,), ((K + DOWN_ROWS - 1) // DOWN_ROWS,))
        self._wptrs = (cupy.uint64(self._wg.data_ptr()), cupy.uint64(self._wu.data_ptr()),
                       cupy.uint64(self._wd.data_ptr()))
        self._dims = (cupy.int32(N), cupy.int32(K // 8), cupy.int32(K), cupy.int32(N // 8))

    def _launch(self, a, y, M, K, stream):
        wg, wu, wd = self._wptrs
        n, k8, k, n8 = self._dims
        h = torch.empty((M, self._wg.shape[0]), device=a.device, dtype=a.dtype)
        m, hp = cupy.int32(M), cupy.uint64(h.data_ptr())
        self._gateup(self._grids[0], ({threads},), (cupy.uint64(a.data_ptr()), wg, wu, hp, m, n, k8), stream=stream)
        self._down_gemv(self._grids[1], ({threads},), (hp, wd, cupy.uint64(y.data_ptr()), m, k, n8), stream=stream)
'''

_ONE_PASS = '''CHUNK = {rows} * {warps}  # rows of h a block computes and multiplies into Wd^T at a time


class _Kernels(_StreamingMLP):
    """The reference's Model (same constructor, same state dict) with one fused CUDA C kernel for tiny M.
    Its float32 accumulator and ticket counter belong to the model: calls on one stream (as here) only."""

    def prepare(self):
        """The streaming paths' weights, Wd^T (each h row's down weights contiguous), the zeroed accumulator
        and counter that the kernel's last block leaves zeroed again, and the kernel compiled, untimed."""
        super().prepare()
        self._wdt = self._wd.t().contiguous()
        N, K = self._wdt.shape
        self._y32 = torch.zeros((MAX_M, K), device=self._wd.device, dtype=torch.float32)
        self._ticket = torch.zeros(1, device=self._wd.device, dtype=torch.int32)
        sms = torch.cuda.get_device_properties(self._wd.device).multi_processor_count
        self._grid = min(sms * {blocks_per_sm}, (N + CHUNK - 1) // CHUNK)
        self._fused = cupy.RawModule(code=CUDA_SOURCE).get_function("fused_mlp")
        self._fixed = tuple(cupy.uint64(t.data_ptr()) for t in (self._wg, self._wu, self._wdt, self._y32,
                                                               self._ticket))  # boxed once
        self._rows = cupy.int32(N)

    def _launch(self, a, y, M, K, stream):
        wg, wu, wdt, y32, ticket = self._fixed
        self._fused((self._grid,), ({threads},),
                    (cupy.uint64(a.data_ptr()), wg, wu, wdt, y32, ticket, cupy.uint64(y.data_ptr()), cupy.int32(M),
                     self._rows), stream=stream)
'''
_FORWARD = '''

class ModelNew(_Kernels):
    def forward(self, x):
        if not self._prepared:
            self.prepare()
        a = x.reshape(-1, x.shape[-1]).contiguous()
        M, K = a.shape
        if M > MAX_M:
            return super().forward(x)
        y = torch.empty((M, K), device=a.device, dtype=a.dtype)
        # launched on torch's current stream, so the work is ordered (and timed) with torch's
        self._launch(a, y, M, K, cupy.cuda.ExternalStream(torch.cuda.current_stream().cuda_stream))
        return y.reshape(*x.shape[:-1], K)
'''
_PASSES = {1: _ONE_PASS, 2: _TWO_PASSES}  # the model class of each structure
