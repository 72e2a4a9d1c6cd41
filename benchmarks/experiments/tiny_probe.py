"""Probe: the gated-MLP template's one-token path (M <= fma_max_m = 1) as evict_probe.py's GEMV, in whole candidates.

evict_probe.py (2026-11-30, ninth session, H200): a CUDA-core GEMV whose lanes keep their float32 products and sum
them over K once, after the loop, reading whole rows with the weights loaded 'evict_first', took 62.5 us for gate-up
and 34.5 us for down at M=1, against 66.0 and 39.4 us for the library's tensor-core kernels in the same run.
First try (not kept): those products as [BLOCK_M, BLOCK_N, BLOCK_K] accumulators in the template's shared streaming
kernels (their USE_DOT=False branch, since removed), for M <= 4: 121 us at M=1 against 97 for the tensor cores, 172 and 280 at M=2
and 4. The tiny path is now the probe's two kernels (_gemv_gateup, _gemv_down: 2-D, one token), with the weights'
policy (fma_evict) and programmatic dependent launch between them, as the small path has.

Predictions, written before the run of this version (whole candidates, do_bench medians, side by side with eager):
1. At M=1 the SEED's tiny path (gate-up 1 row x 2048 a step, 8 warps; down 1 row x 1024; 'evict_first') runs the FFN
   in <= 92 us where the tensor-core small path (the VARIANT, as in the library) takes ~97 us.
2. The same tiny path with the default eviction policy is >= 3 us slower.

Writes benchmarks/results/<gpu>-tiny-probe.json; prints the table last.

    python3 benchmarks/experiments/tiny_probe.py [--rounds 3]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from template_ab import per_m, probe_args, report  # noqa: E402

from agentopt.measure import copy_bandwidth_gbps  # noqa: E402
from agentopt.problems import get_problem  # noqa: E402
from kernels.templates import gated_mlp  # noqa: E402

LIBRARY = {**gated_mlp.VARIANTS[0], "small_max_m": 64}  # the library's dispatch: tensor cores to M=64
TINY = {**LIBRARY, "fma_max_m": 1}  # the SEED's one-token path
WHOLE = {"tensor cores": LIBRARY, "gemv": TINY, "gemv default policy": {**TINY, "fma_evict": ""},
         "gemv down 2 rows": {**TINY, "fma_down_block_n": 2}, "gemv gate-up 2 rows": {**TINY, "fma_block_n": 2},
         "gemv k 1024": {**TINY, "fma_block_k": 1024}, "gemv 1 stage": {**TINY, "fma_stages": 1, "fma_down_stages": 1},
         "gemv 4 warps": {**TINY, "fma_warps": 4, "fma_down_warps": 4}}


def main():
    args = probe_args(__doc__, ms="1", kernels=False)  # the tiny path serves M = 1; whole candidates only
    copy = copy_bandwidth_gbps()
    _, candidates, points = per_m(get_problem("llama3-8b-ffn"), args, WHOLE, lambda M: [], copy)
    report("tiny-probe", copy, points, {"candidates": candidates}, [])


if __name__ == "__main__":
    main()
