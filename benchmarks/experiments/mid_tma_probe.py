"""Probe: at M=128, which tiles of the TMA gate-up GEMM stream the weights fastest, and what does the whole FFN gain?

At M=128 the library (ed80-c0027) runs the large path: the TMA gate-up GEMM with SwiGLU in its epilogue at
128x128x64 tiles, 8 warps, 4 stages, then cuBLAS's down GEMM: 112.2 us in benchmarks/ffn.py on an H200, 78% of
the weights' floor, 1.10x eager. At M=128 the FFN still streams its weights (45 GFLOP, about 68 us of tensor-core
time, against 84 us of bytes), and gate-up carries two thirds of them. With 128x128 tiles the gate-up grid has 112
programs, so 20 of the 132 SMs pull no bytes at all; its launches were not bound either (74-82 us of host time).

Predictions, written before the first run (kernels alone, do_bench medians with L2 flushed, side by side):
1. 128x64 tiles (224 programs, two resident an SM) stream gate-up >= 5% faster than 128x128.
2. Deeper pipelines (5-6 stages at 128x64) gain another >= 3%: streaming wants bytes in flight.
3. The whole FFN at M=128 with the best tiles runs in <= 104 us, >= 1.18x eager.
4. Bound TMA launches (the template's, this session) enqueue in <= 60 us on the host, against 74-82 before.

Writes benchmarks/results/<gpu>-mid-tma-probe.json (the kernel rows' "TBps": the gate and up weights' bytes over
the time); prints the tables last.

    python3 benchmarks/experiments/mid_tma_probe.py [--rounds 3] [--ms 128] [--kernels-only]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from large_probe import rows_at, setup  # noqa: E402
from stream_probe import H, I  # noqa: E402
from template_ab import per_m, probe_args, report  # noqa: E402

from agentopt.problems import get_problem  # noqa: E402

# (BLOCK_M, BLOCK_N, BLOCK_K, warps, stages): the library's first, then narrower tiles and deeper pipelines
TILES = [(128, 128, 64, 8, 4), (128, 64, 64, 4, 4), (128, 64, 64, 8, 4), (128, 64, 64, 4, 5), (128, 64, 64, 4, 6),
         (128, 64, 64, 8, 6), (64, 128, 64, 4, 4), (64, 64, 64, 4, 6)]
LARGE = {"small_max_m": 64, "large_gateup": "tma", "large_down": "cublas"}  # M=128 on the large path
WHOLE = {"library's large path (128x128 w8 s4)": {**LARGE, "large_block_n": 128, "large_warps": 8,
                                                  "large_stages": 4},
         "tma 128x64 w4 s4": {**LARGE, "large_block_n": 64, "large_warps": 4, "large_stages": 4},
         "tma 128x64 w8 s4": {**LARGE, "large_block_n": 64, "large_warps": 8, "large_stages": 4},
         "tma 128x64 w4 s6": {**LARGE, "large_block_n": 64, "large_warps": 4, "large_stages": 6},
         "tma 64x128 w4 s4": {**LARGE, "large_block_m": 64, "large_block_n": 128, "large_warps": 4,
                              "large_stages": 4},
         "cublas both": {**LARGE, "large_gateup": "cublas"},
         "small path, tile-major": {"small_max_m": 128, "small_packed": 1, "small_down_packed": 1,
                                    "small_stages": 3}}


def main():
    args = probe_args(__doc__, ms="128")
    kernels_of, copy = setup()
    gu_bytes = 2 * H * I * 2

    def kernels_at(M):
        rows = rows_at(M, args.rounds, *kernels_of, TILES, kinds=("tile",))
        for r in rows:  # rows_at counts FLOPs; here the weights' bytes decide
            r["TBps"] = gu_bytes / (r["us"] * 1e-6) / 1e12 if r["us"] else None
        return rows

    kernels, candidates, points = per_m(get_problem("llama3-8b-ffn"), args, WHOLE, kernels_at, copy)
    report("mid-tma-probe", copy, points, {"tiles": TILES, "kernels": kernels, "candidates": candidates}, kernels)


if __name__ == "__main__":
    main()
