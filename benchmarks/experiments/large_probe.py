"""Probe: can a Triton gate-up GEMM fed by Hopper's tensor-copy engine (TMA) match cuBLAS at M >= 1024, so that
SwiGLU moves into its epilogue and the [M, 2N] intermediate never goes to memory?

At M >= 1024 the library runs cuBLAS over [gate; up], a Triton SwiGLU pass and cuBLAS down (README: 1.05 / 1.02x
eager at M=1024 / 4096 on an H200, where 1.03 is asked). The SwiGLU pass moves 3 x M x N x 2 bytes: at M=4096,
352 MB, ~90 us of the ~2220. The template's Triton GEMM with SwiGLU in its epilogue (`large_gateup: triton`: plain
pointer loads, one program a tile) lost to that at M=1024 (560 against 527 us for the whole FFN, 2026-11-22).

Predictions, written before the first run (kernels alone, do_bench medians with L2 flushed, side by side):
1. The best TMA gate-up+SwiGLU at M=4096 is within 3% of cuBLAS's gate-up GEMM alone, so it beats cuBLAS gate-up
   plus the SwiGLU pass by >= 2%; at M=1024 by >= 1%.
2. The persistent grid (one program an SM, tiles in turn, the next tile's loads overlapping the epilogue) beats the
   one-program-a-tile grid at the same tiles by >= 2%.
3. The pointer-load kernel of the template is >= 8% slower than the best TMA kernel at the same tiles.
If 1 fails, the large path stays on cuBLAS and this line ends there.

Outcome of the first run (kernels alone): 1 held, 2 refuted, 3 held (docs/PERF_NOTES.md). The gated-MLP template
gained the one-tile-a-program TMA kernel as `large_gateup`/`large_down` "tma"; the second run adds whole candidates
of the template (WHOLE) beside the kernels.

Writes benchmarks/results/<gpu>-large-probe.json (the kernel rows' "TBps" field is TFLOP/s here); prints the
tables last.

    python3 benchmarks/experiments/large_probe.py [--rounds 3] [--ms 1024,4096] [--kernels-only]
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream_probe import H, I, Weights  # noqa: E402
from template_ab import per_m, print_table, probe_args  # noqa: E402
from common import kernel_rates, print_rates, write_result  # noqa: E402

from agentopt.measure import copy_bandwidth_gbps  # noqa: E402
from agentopt.problems import get_problem, load_source  # noqa: E402
from kernels.templates import gated_mlp_large as KL  # noqa: E402

TMA = '''
import triton
import triton.language as tl


@triton.jit
def _tile(t, num_m, num_n, GROUP_M: tl.constexpr):
    """Tile t's (row, column) block in grouped order: GROUP_M row blocks share each weight tile in L2."""
    in_group = GROUP_M * num_n
    first_m = (t // in_group) * GROUP_M
    size_m = tl.minimum(num_m - first_m, GROUP_M)
    return first_m + (t % in_group) % size_m, (t % in_group) // size_m


@triton.jit
def gateup_tma(x_d, wg_d, wu_d, h_d, M, N, K, PROGS, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
               BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr, FLAT: tl.constexpr):
    """h = silu(x Wg^T) * (x Wu^T): the tiles of x, Wg and Wu come by TMA descriptors; a program takes tiles
    pid, pid + PROGS, ... (PROGS = the number of tiles: one each); two float32 accumulators, SwiGLU applied to them
    and h stored by TMA."""
    num_m = tl.cdiv(M, BLOCK_M)
    num_n = tl.cdiv(N, BLOCK_N)
    steps = tl.cdiv(K, BLOCK_K)
    for t in tl.range(tl.program_id(0), num_m * num_n, PROGS, flatten=FLAT):
        pm, pn = _tile(t, num_m, num_n, GROUP_M)
        om = pm * BLOCK_M
        on = pn * BLOCK_N
        acc_g = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        acc_u = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        for s in range(steps):
            a = x_d.load([om, s * BLOCK_K])
            acc_g = tl.dot(a, wg_d.load([on, s * BLOCK_K]).T, acc_g)
            acc_u = tl.dot(a, wu_d.load([on, s * BLOCK_K]).T, acc_u)
        h = acc_g / (1.0 + tl.exp(-acc_g)) * acc_u
        h_d.store([om, on], h.to(tl.bfloat16))


@triton.jit
def gateup_tma_ws(x_d, wg_d, wu_d, h_d, M, N, K, PROGS, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                  BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr):
    """gateup_tma, persistent, with Triton's warp specialisation of the tile loop (loads and MMAs in their own
    warps)."""
    num_m = tl.cdiv(M, BLOCK_M)
    num_n = tl.cdiv(N, BLOCK_N)
    steps = tl.cdiv(K, BLOCK_K)
    for t in tl.range(tl.program_id(0), num_m * num_n, PROGS, flatten=True, warp_specialize=True):
        pm, pn = _tile(t, num_m, num_n, GROUP_M)
        om = pm * BLOCK_M
        on = pn * BLOCK_N
        acc_g = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        acc_u = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        for s in range(steps):
            a = x_d.load([om, s * BLOCK_K])
            acc_g = tl.dot(a, wg_d.load([on, s * BLOCK_K]).T, acc_g)
            acc_u = tl.dot(a, wu_d.load([on, s * BLOCK_K]).T, acc_u)
        h = acc_g / (1.0 + tl.exp(-acc_g)) * acc_u
        h_d.store([om, on], h.to(tl.bfloat16))
'''

# (BLOCK_M, BLOCK_N, BLOCK_K, warps, stages); each accumulator at most 64 float32 registers a thread
TILES = [(128, 128, 64, 8, 3), (128, 128, 64, 8, 4), (128, 64, 64, 4, 4), (128, 64, 64, 8, 4),
         (64, 128, 64, 4, 4), (128, 128, 32, 8, 5), (256, 64, 64, 8, 3)]
GROUP_M = 8


def descriptors(x, wg, wu, h, bm: int, bn: int, bk: int) -> tuple:
    """The gate-up kernels' four TMA descriptors: x's [bm, bk] tiles, the weights' [bn, bk], h's [bm, bn]."""
    from triton.tools.tensor_descriptor import TensorDescriptor as TD

    return (TD.from_tensor(x, [bm, bk]), TD.from_tensor(wg, [bn, bk]), TD.from_tensor(wu, [bn, bk]),
            TD.from_tensor(h, [bm, bn]))


def rows_at(M: int, rounds: int, w: Weights, S, mod, sms: int, tiles=TILES,
            kinds=("tile", "persistent", "persistent ws")) -> list[dict]:
    """Kernel rows at M: cuBLAS's gate-up, the SwiGLU pass, both, the template's pointer-load GEMM (S: the
    template's large-path kernels), and the TMA kernels of `mod` at each of `tiles` in each of `kinds` (one tile
    a program, persistent, persistent with warp specialisation)."""
    x = torch.randn(M, H, device="cuda", dtype=torch.bfloat16)
    want = (torch.nn.functional.silu(x.float() @ w.wg.float().T) * (x.float() @ w.wu.float().T)).double()
    gu_flops, fns, wants = 2 * 2 * M * H * I, {}, {}

    def swiglu(gu):
        h = torch.empty((M, I), device="cuda", dtype=torch.bfloat16)
        S._swiglu[(M, triton.cdiv(I, 1024))](gu, h, I, BLOCK=1024)
        return h

    gu_once = torch.mm(x, w.wgu.t())
    for name, fn, ref in (
            ("cublas gate-up mm alone", lambda: torch.mm(x, w.wgu.t()), (x.float() @ w.wgu.float().T).double()),
            ("swiglu pass alone", lambda: swiglu(gu_once),
             (torch.nn.functional.silu(gu_once[:, :I].float()) * gu_once[:, I:].float()).double()),
            ("cublas gate-up + swiglu (library)", lambda: swiglu(torch.mm(x, w.wgu.t())), want)):
        fns[name], wants[name] = fn, ref

    def pointer(bm=128, bn=128, bk=64, warps=8, stages=3):
        h = torch.empty((M, I), device="cuda", dtype=torch.bfloat16)
        S._gateup_gemm[(triton.cdiv(M, bm) * triton.cdiv(I, bn),)](
            x, w.wg, w.wu, h, M, I, H, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, GROUP_M=GROUP_M, EVEN_K=True,
            num_warps=warps, num_stages=stages)
        return h
    name = "pointer loads 128x128x64 w8 s3 (template)"
    fns[name], wants[name] = pointer, want

    for bm, bn, bk, warps, stages in tiles:
        h = torch.empty((M, I), device="cuda", dtype=torch.bfloat16)
        descs = descriptors(x, w.wg, w.wu, h, bm, bn, bk)
        tiles = triton.cdiv(M, bm) * triton.cdiv(I, bn)
        for kind in kinds:
            progs = tiles if kind == "tile" else min(tiles, sms)

            def run(descs=descs, h=h, progs=progs, kind=kind, bm=bm, bn=bn, bk=bk, warps=warps, stages=stages):
                meta = dict(BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, GROUP_M=GROUP_M, num_warps=warps, num_stages=stages)
                if kind == "persistent ws":
                    mod.gateup_tma_ws[(progs,)](*descs, M, I, H, progs, **meta)
                else:
                    mod.gateup_tma[(progs,)](*descs, M, I, H, progs, FLAT=kind != "tile", **meta)
                return h
            name = f"tma {kind} {bm}x{bn}x{bk} w{warps} s{stages}"
            fns[name], wants[name] = run, want
    return kernel_rates(M, fns, wants, {n: gu_flops for n in fns}, rounds)


# whole candidates (the SEED at these M, with its large path so), added after the first run
WHOLE = {"cublas (library)": {"large_gateup": "cublas", "large_down": "cublas"},
         "tma gate-up": {"large_gateup": "tma", "large_down": "cublas"},
         "tma gate-up 4 stages": {"large_gateup": "tma", "large_down": "cublas", "large_stages": 4},
         "tma down": {"large_gateup": "cublas", "large_down": "tma"},
         "tma both": {"large_gateup": "tma", "large_down": "tma"},
         "pointer gate-up": {"large_gateup": "triton", "large_down": "cublas"}}


def setup():
    """What rows_at needs after M and the rounds: the weights, the template's large-path kernels, this file's TMA
    kernels and the SM count; and the copy rate (GB/s)."""
    S = load_source("import torch\nimport triton\nimport triton.language as tl\n" + KL.GATEUP_GEMM + KL.SWIGLU,
                    "large_kernels")
    kernels = (Weights(), S, load_source(TMA, "gateup_tma"), torch.cuda.get_device_properties(0).multi_processor_count)
    return kernels, copy_bandwidth_gbps()


def main():
    args = probe_args(__doc__, ms="1024,4096")
    kernels_of, copy = setup()
    kernels, candidates, points = per_m(get_problem("llama3-8b-ffn"), args, WHOLE,
                                        lambda M: rows_at(M, args.rounds, *kernels_of), copy)
    path = write_result("large-probe", {"gpu": torch.cuda.get_device_name(0), "triton": triton.__version__,
                                        "tiles": TILES, "kernels": kernels, "candidates": candidates, **points})
    print(path)
    print_rates(kernels, 48, unit="TFLOP/s")
    if candidates:
        print_table(candidates)


if __name__ == "__main__":
    main()
