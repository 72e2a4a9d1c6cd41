"""Probe: is the small-M gate-up kernel slowed by its uneven tile counts, as fused_probe.py's prediction assumed?

The template's gate-up kernel (`_gateup_stream`) launches one program a tile: 224 tiles of 64 rows at the SEED on
132 SMs, two programs an SM fitting, so 92 SMs stream two tiles and 40 stream one. If an SM's read rate is what
limits, the kernel takes as long as two tiles on one SM while the work is 1.7 tiles an SM: ~85% of the rate.
Prediction: a persistent version whose SMs x occupancy programs take tiles from an atomic queue (SMs that finish
early take more) reads the 235 MB of W_gate and W_up at the plain read kernel's ~3.95 TB/s (~60 us) where the
grid version takes ~70 us; finer grid tiles alone (16 rows, 896 tiles) should gain part of that.
First run (results/nvidia-h200-queue-probe.json before the TMA rows): refuted, the queue reads no faster than the
grid (best 69.0 against 67.9 us at M=1). Second prediction: the grid kernel with its tiles read by the tensor
memory accelerator (host tensor descriptors) issues fewer, larger requests and reaches >= 3.8 TB/s (~62 us).
Refuted too (67.9 us at best). The next question, whether the weights' layout limits the rate (longer runs of
each row a step, tile-major copies), is layout_probe.py's.

Per M in (1, 16, 64): the template's kernel at its SEED tiles and at finer tiles, the queue kernel at a few
tiles and occupancies, and the grid kernel reading through TMA; each checked against torch; do_bench medians
(L2 flushed) in --rounds alternating rounds.
Writes benchmarks/results/<gpu>-queue-probe.json and prints a table.

    python3 benchmarks/experiments/queue_probe.py [--rounds 3] [--ms 1,16,64]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import kernel_rates, print_rates, write_result  # noqa: E402
from agentopt.problems import load_source  # noqa: E402
from stream_probe import H, I, Weights, block_m, template_kernels  # noqa: E402

QUEUE = '''
import triton
import triton.language as tl


@triton.jit
def gateup_queue(x_ptr, wg_ptr, wu_ptr, h_ptr, q_ptr, M, N, K,
                 BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    """h = silu(x Wg^T) * (x Wu^T), BLOCK_N rows of both weights a tile, tiles taken from the counter q_ptr[0];
    q_ptr[1] counts finished programs, and the last one zeroes both for the next launch."""
    offs_m = tl.arange(0, BLOCK_M)
    mask_m = offs_m < M
    tiles = N // BLOCK_N
    tile = tl.atomic_add(q_ptr, 1, sem="relaxed", scope="gpu")
    while tile < tiles:
        offs_n = tile * BLOCK_N + tl.arange(0, BLOCK_N)
        acc_g = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        acc_u = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        for k0 in range(0, K, BLOCK_K):
            offs_k = k0 + tl.arange(0, BLOCK_K)
            x = tl.load(x_ptr + offs_m[:, None] * K + offs_k[None, :], mask=mask_m[:, None], other=0.0)
            wg = tl.load(wg_ptr + offs_n[:, None] * K + offs_k[None, :])
            wu = tl.load(wu_ptr + offs_n[:, None] * K + offs_k[None, :])
            acc_g += tl.dot(x, tl.trans(wg))
            acc_u += tl.dot(x, tl.trans(wu))
        h = acc_g / (1.0 + tl.exp(-acc_g)) * acc_u
        tl.store(h_ptr + offs_m[:, None] * N + offs_n[None, :], h.to(h_ptr.dtype.element_ty), mask=mask_m[:, None])
        tile = tl.atomic_add(q_ptr, 1, sem="relaxed", scope="gpu")
    if tl.atomic_add(q_ptr + 1, 1, sem="acq_rel", scope="gpu") == tl.num_programs(0) - 1:
        tl.store(q_ptr, 0)
        tl.store(q_ptr + 1, 0)


@triton.jit
def gateup_tma(x_desc, wg_desc, wu_desc, h_ptr, M, N, K,
               BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    """The grid kernel with its tiles read by Hopper's tensor memory accelerator (host tensor descriptors: one
    bulk copy a tile, rows of x past M filled with zeros by the copy engine)."""
    offs_m = tl.arange(0, BLOCK_M)
    n0 = tl.program_id(0) * BLOCK_N
    acc_g = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    acc_u = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        x = x_desc.load([0, k0])
        acc_g += tl.dot(x, wg_desc.load([n0, k0]).T)
        acc_u += tl.dot(x, wu_desc.load([n0, k0]).T)
    h = acc_g / (1.0 + tl.exp(-acc_g)) * acc_u
    offs_n = n0 + tl.arange(0, BLOCK_N)
    tl.store(h_ptr + offs_m[:, None] * N + offs_n[None, :], h.to(h_ptr.dtype.element_ty), mask=(offs_m < M)[:, None])
'''
GRID = [{"bn": 64, "bk": 64, "warps": 8, "stages": 5}, {"bn": 32, "bk": 64, "warps": 4, "stages": 3},
        {"bn": 16, "bk": 128, "warps": 4, "stages": 4}]
QUEUED = [{"bn": 64, "bk": 64, "warps": 8, "stages": 5, "occ": 2}, {"bn": 32, "bk": 64, "warps": 4, "stages": 3,
                                                                     "occ": 3},
          {"bn": 32, "bk": 128, "warps": 4, "stages": 4, "occ": 2}, {"bn": 16, "bk": 128, "warps": 4, "stages": 4,
                                                                      "occ": 4},
          {"bn": 16, "bk": 256, "warps": 4, "stages": 3, "occ": 3}]


TMA = [{"bn": 64, "bk": 64, "warps": 8, "stages": 5}, {"bn": 32, "bk": 128, "warps": 4, "stages": 4},
       {"bn": 64, "bk": 128, "warps": 8, "stages": 4}, {"bn": 128, "bk": 64, "warps": 8, "stages": 4},
       {"bn": 32, "bk": 64, "warps": 4, "stages": 6}]




def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ms", default="1,16,64")
    args = ap.parse_args()
    from triton.tools.tensor_descriptor import TensorDescriptor

    T, P, w = template_kernels(), load_source(QUEUE, "queue_kernels"), Weights()
    Q = P.gateup_queue
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    q = torch.zeros(2, device="cuda", dtype=torch.int32)
    rows = []
    for M in [int(m) for m in args.ms.split(",")]:
        x = torch.randn(M, H, device="cuda", dtype=torch.bfloat16)
        want = (torch.nn.functional.silu(x.float() @ w.wg.float().T) * (x.float() @ w.wu.float().T)).double()
        bm = block_m(M, 128)
        fns = {}
        for c in GRID:
            def grid_fn(c=c):
                h = torch.empty((M, I), device="cuda", dtype=torch.bfloat16)
                T._gateup_stream[(1, I // c["bn"], 1)](x, w.wg, w.wu, h, h, h, M, I, H, BLOCK_M=bm, BLOCK_N=c["bn"],
                                                       BLOCK_K=c["bk"], SPLIT_K=1, EVEN_K=True,
                                                       GDC=False, num_warps=c["warps"], num_stages=c["stages"])
                return h
            fns[f"grid bn{c['bn']} bk{c['bk']} w{c['warps']} s{c['stages']}"] = grid_fn
        for c in QUEUED:
            def queue_fn(c=c):
                h = torch.empty((M, I), device="cuda", dtype=torch.bfloat16)
                Q[(sms * c["occ"],)](x, w.wg, w.wu, h, q, M, I, H, BLOCK_M=bm, BLOCK_N=c["bn"], BLOCK_K=c["bk"],
                                     num_warps=c["warps"], num_stages=c["stages"])
                return h
            fns[f"queue bn{c['bn']} bk{c['bk']} w{c['warps']} s{c['stages']} occ{c['occ']}"] = queue_fn
        for c in TMA:
            def tma_fn(c=c):
                h = torch.empty((M, I), device="cuda", dtype=torch.bfloat16)
                descs = (TensorDescriptor.from_tensor(x, [bm, c["bk"]]),
                         TensorDescriptor.from_tensor(w.wg, [c["bn"], c["bk"]]),
                         TensorDescriptor.from_tensor(w.wu, [c["bn"], c["bk"]]))
                P.gateup_tma[(I // c["bn"],)](*descs, h, M, I, H, BLOCK_M=bm, BLOCK_N=c["bn"], BLOCK_K=c["bk"],
                                              num_warps=c["warps"], num_stages=c["stages"])
                return h
            fns[f"tma bn{c['bn']} bk{c['bk']} w{c['warps']} s{c['stages']}"] = tma_fn
        rows += kernel_rates(M, fns, dict.fromkeys(fns, want), dict.fromkeys(fns, 2 * I * H * 2), args.rounds)
    path = write_result("queue-probe", {"gpu": torch.cuda.get_device_name(0), "rows": rows})
    print(path)
    print_rates(rows)


if __name__ == "__main__":
    main()
