"""Probe: why is the small path slow at M=128, and which tiles would make it fast there?

At M=128 the library's kernel runs cuBLAS (121 us, 1.05x eager on an H200), and the template's small path is slower
still (124 us at 3 stages, against 102 at M=64): order_probe.py. Its tiles were chosen at M <= 64, where the tokens'
tile is small next to the weights'. At M=128 it is not:
- gate-up, BLOCK_N 64, BLOCK_K 64: a step reads 128x64 of x (16 KB, from L2) for 2 x 64x64 of weights (16 KB, from
  memory); over the grid, 224 programs re-read all of x (1 MB): 224 MB through L2 beside the 235 MB of weights;
- down, the library's BLOCK_M 64 (two M blocks at M=128: W_down read twice, the second time mostly from L2), BLOCK_N
  64, split 4: 2 x 64 x 4 programs each read a 64x3584 slice of h: 235 MB through L2 for 117 MB of weights.

Predictions, written before the first run (kernels alone at M=128, tile-major, do_bench medians):
1. Gate-up at BLOCK_N 128 (half of x's traffic; two 128x128 accumulators, 8 warps, 128 registers a thread) reads
   >= 3.3 TB/s (<= 71 us) where BLOCK_N 64 reads <= 3.0.
2. Down at BLOCK_M 128 and BLOCK_N 128 reads >= 3.0 TB/s (<= 39 us) where the library's BLOCK_M 64, BLOCK_N 64
   reads <= 2.6.
3. Whole candidates: the VARIANT's small path to M=128 with both changes runs M=128 in <= 105 us (>= 1.2x eager),
   against the library's cuBLAS at ~121 us; at M=64 the same tiles are no faster than the VARIANT's.
If gate-up at BLOCK_N 128 is no faster, the activations' L2 traffic is not what holds M=128 back.

Writes benchmarks/results/<gpu>-mid-probe.json; prints the tables last.

    python3 benchmarks/experiments/mid_probe.py [--rounds 3] [--ms 64,128] [--kernels-only]
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream_probe import H, I, Weights, block_m  # noqa: E402
from template_ab import per_m, probe_args, probe_setup, report  # noqa: E402
from layout_probe import down_fns, packed_gateup, partials_summed  # noqa: E402
from common import kernel_rates  # noqa: E402

from agentopt.problems import get_problem  # noqa: E402
from kernels.templates import gated_mlp  # noqa: E402

# gate-up (block_m, block_n, block_k, warps, stages); the first is the VARIANT's
GATEUP = [(128, 64, 64, 8, 3), (128, 64, 64, 8, 4), (64, 64, 64, 4, 3), (128, 128, 64, 8, 3), (128, 128, 64, 8, 4),
          (128, 128, 32, 8, 5), (128, 64, 128, 8, 3)]
# down (block_m cap, block_n, block_k, split, warps, stages); the first is the library's
DOWN = [dict(bm=64, bn=64, bk=128, split=4, warps=4, stages=3),
        dict(bm=128, bn=64, bk=128, split=4, warps=4, stages=3),
        dict(bm=128, bn=128, bk=64, split=4, warps=8, stages=3),
        dict(bm=128, bn=128, bk=64, split=8, warps=8, stages=3),
        dict(bm=128, bn=128, bk=128, split=2, warps=8, stages=3),
        dict(bm=128, bn=128, bk=64, split=4, warps=4, stages=4)]
VARIANT = gated_mlp.VARIANTS[0]
GU128 = {"small_block_n": 128, "small_block_k": 64, "small_warps": 8, "small_stages": 3}
DN128 = {"small_down_block_m": 128, "small_down_block_n": 128, "small_down_block_k": 64, "small_down_split": 4,
         "small_down_warps": 8, "small_down_stages": 3}
# whole candidates (per_m: the SEED, small path to M=128, then these); "cublas at 128" is the library's dispatch
WHOLE = {"variant": VARIANT, "cublas at 128": {**VARIANT, "small_max_m": 64}, "gu bn128": {**VARIANT, **GU128},
         "down bm128 bn128": {**VARIANT, **DN128}, "both": {**VARIANT, **GU128, **DN128}}


def kernel_rows(tile_major, T, w: Weights, M: int, rounds: int) -> list[dict]:
    x = torch.randn(M, H, device="cuda", dtype=torch.bfloat16)
    want = (torch.nn.functional.silu(x.float() @ w.wg.float().T) * (x.float() @ w.wu.float().T)).double()
    counts = torch.zeros(4096, device="cuda", dtype=torch.int32)
    fns, wants, nbytes = {}, {}, {}
    for bm, bn, bk, warps, stages in GATEUP:
        tiles = tile_major((w.wg, w.wu), bn, bk)
        name = f"gate-up bm{block_m(M, bm)} bn{bn} bk{bk} w{warps} s{stages}"
        fns[name] = packed_gateup(T, x, tiles, counts, block_m(M, bm), bn, bk, warps, stages)
        wants[name], nbytes[name] = want, 2 * I * H * 2
    rows = kernel_rates(M, fns, wants, nbytes, rounds)
    dfns, dwant, dbytes = {}, {}, {}
    for c in DOWN:  # one config a call: down_fns names a kernel without its BLOCK_M
        fn1, want1, bytes1 = down_fns(T, tile_major, w, M, [c], layouts=(True,))
        (n, f), = fn1.items()
        name = f"{n} bm{block_m(M, c['bm'])}"
        dfns[name], dwant[name], dbytes[name] = f, want1[n], bytes1[n]
    return rows + kernel_rates(M, dfns, dwant, dbytes, rounds, finish=partials_summed)


def main():
    args = probe_args(__doc__, ms="64,128")  # M=128, with M=64 beside it
    T, tile_major, copy, w = probe_setup()
    kernels, candidates, points = per_m(get_problem("llama3-8b-ffn"), args, WHOLE,
                                        lambda M: kernel_rows(tile_major, T, w, M, args.rounds), copy)
    report("mid-probe", copy, points, {"kernels": kernels, "candidates": candidates}, kernels, 52)


if __name__ == "__main__":
    main()
