"""Probe: does the weights' L2 eviction policy, or a GEMV that sums over K only once at its end, read faster?

inductor_probe.py (2026-11-30, ninth session) found what torch.compile max-autotune runs at M=1 on the H200: two
Triton reductions on CUDA cores, no tensor cores. Gate and up in one kernel (57.4 us for 235 MB: 4.09 TB/s), then
SwiGLU and down (31.8 us for 117 MB: 3.69 TB/s). Each program takes a few whole rows of the weights (one contiguous
run), keeps a [rows, BLOCK_K] float32 partial product that it sums over K once, after its loop, and loads the weights
with eviction_policy='evict_first' and the activations with 'evict_last'. Our gate-up kernel reads 3.3-3.5 TB/s.

Predictions, written before the first run (kernels alone, do_bench medians, side by side):
1. Such a GEMV of our own at M=1 (gate and up rows of the same outputs in one program, SwiGLU in its epilogue)
   reads >= 4.0 TB/s (<= 59 us) at its best rows/BLOCK_K/warps with 'evict_first', and >= 0.2 TB/s less without.
2. The same for down at M=1: >= 3.6 TB/s (<= 33 us).
3. The template's tensor-core kernels (tile-major, the library's tiles) with the weights loaded 'evict_first' read
   >= 3.7 TB/s at M=1-64 where they read 3.3-3.5 with the default policy.
If 1 holds and 3 does not, the gain is the GEMV's shape, not the policy.

Writes benchmarks/results/<gpu>-evict-probe.json; prints the table last.

    python3 benchmarks/experiments/evict_probe.py [--rounds 3] [--ms 1,16,64,128]
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream_probe import H, I, Weights, block_m  # noqa: E402
from template_ab import probe_args, probe_setup  # noqa: E402
from layout_probe import packed_gateup, partials_summed  # noqa: E402
from common import kernel_rates, print_rates, write_result  # noqa: E402

from agentopt.problems import load_source  # noqa: E402

GEMV = '''
import triton
import triton.language as tl


@triton.jit
def gemv_gateup(x_ptr, wg_ptr, wu_ptr, h_ptr, N, K, ROWS: tl.constexpr, BLOCK_K: tl.constexpr,
                EVICT: tl.constexpr):
    """h = silu(x Wg^T) * (x Wu^T) for one token: ROWS outputs a program, their gate and up rows read whole,
    float32 products kept per lane and summed over K after the loop."""
    rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    acc_g = tl.zeros((ROWS, BLOCK_K), dtype=tl.float32)
    acc_u = tl.zeros((ROWS, BLOCK_K), dtype=tl.float32)
    for k0 in tl.range(0, K, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        x = tl.load(x_ptr + ks, eviction_policy="evict_last").to(tl.float32)[None, :]
        off = rows[:, None] * K + ks[None, :]
        acc_g += x * tl.load(wg_ptr + off, eviction_policy=EVICT).to(tl.float32)
        acc_u += x * tl.load(wu_ptr + off, eviction_policy=EVICT).to(tl.float32)
    g = tl.sum(acc_g, 1)
    u = tl.sum(acc_u, 1)
    tl.store(h_ptr + rows, (g / (1.0 + tl.exp(-g)) * u).to(h_ptr.dtype.element_ty))


@triton.jit
def gemv_down(h_ptr, w_ptr, y_ptr, N, K, ROWS: tl.constexpr, BLOCK_K: tl.constexpr, EVICT: tl.constexpr):
    """y = h Wd^T for one token, as gemv_gateup."""
    rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    acc = tl.zeros((ROWS, BLOCK_K), dtype=tl.float32)
    for k0 in tl.range(0, K, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        h = tl.load(h_ptr + ks, eviction_policy="evict_last").to(tl.float32)[None, :]
        acc += h * tl.load(w_ptr + rows[:, None] * K + ks[None, :], eviction_policy=EVICT).to(tl.float32)
    tl.store(y_ptr + rows, tl.sum(acc, 1).to(y_ptr.dtype.element_ty))
'''

POLICIES = ("", "evict_first")
# (rows, block_k, warps): each float32 accumulator at most 64 registers a thread
GEMV_TILES = [(r, bk, w) for r in (1, 2, 4, 8) for bk in (512, 1024, 2048) for w in (4, 8) if r * bk <= 64 * 32 * w]
TC_GATEUP = (64, 64, 8, 3)  # the library's gate-up tiles (block_n, block_k, warps, stages), tile-major
TC_DOWN = dict(bm=64, bn=64, bk=128, split=4, warps=4, stages=3)  # and its down's


def gemv_rows(G, w: Weights, rounds: int) -> list[dict]:
    x = torch.randn(1, H, device="cuda", dtype=torch.bfloat16)
    hd = torch.randn(1, I, device="cuda", dtype=torch.bfloat16)
    want_gu = (torch.nn.functional.silu(x.float() @ w.wg.float().T) * (x.float() @ w.wu.float().T)).double()
    want_dn = (hd.float() @ w.wd.float().T).double()
    fns, wants, nbytes = {}, {}, {}
    for rows, bk, warps in GEMV_TILES:
        for ev in POLICIES:
            def gu(rows=rows, bk=bk, warps=warps, ev=ev):
                h = torch.empty((1, I), device="cuda", dtype=torch.bfloat16)
                G.gemv_gateup[(I // rows,)](x, w.wg, w.wu, h, I, H, ROWS=rows, BLOCK_K=bk, EVICT=ev, num_warps=warps)
                return h

            def dn(rows=rows, bk=bk, warps=warps, ev=ev):
                y = torch.empty((1, H), device="cuda", dtype=torch.bfloat16)
                G.gemv_down[(H // rows,)](hd, w.wd, y, H, I, ROWS=rows, BLOCK_K=bk, EVICT=ev, num_warps=warps)
                return y
            tag = f"r{rows} bk{bk} w{warps} {ev or 'default'}"
            for name, fn, want, size in (("gemv gate-up " + tag, gu, want_gu, 2 * I * H * 2),
                                         ("gemv down " + tag, dn, want_dn, I * H * 2)):
                fns[name], wants[name], nbytes[name] = fn, want, size
    gate = {n: f for n, f in fns.items() if "gate-up" in n}
    down = {n: f for n, f in fns.items() if "down" in n}
    return kernel_rates(1, gate, wants, nbytes, rounds) + kernel_rates(1, down, wants, nbytes, rounds)


def tensor_core_rows(T, tile_major, w: Weights, M: int, rounds: int) -> list[dict]:
    x = torch.randn(M, H, device="cuda", dtype=torch.bfloat16)
    hd = torch.randn(M, I, device="cuda", dtype=torch.bfloat16)
    want_gu = (torch.nn.functional.silu(x.float() @ w.wg.float().T) * (x.float() @ w.wu.float().T)).double()
    want_dn = (hd.float() @ w.wd.float().T).double()
    counts = torch.zeros(4096, device="cuda", dtype=torch.int32)
    bn, bk, warps, stages = TC_GATEUP
    tiles = tile_major((w.wg, w.wu), bn, bk)
    c, dbm = TC_DOWN, block_m(M, TC_DOWN["bm"])
    wd = tile_major((w.wd,), c["bn"], c["bk"])
    ws = torch.empty((c["split"], M, H), device="cuda", dtype=torch.float32)
    gate, down, wants, nbytes = {}, {}, {}, {}
    for ev in POLICIES:
        name = f"tc gate-up bn{bn} bk{bk} w{warps} s{stages} {ev or 'default'}"
        gate[name] = packed_gateup(T, x, tiles, counts, block_m(M, 128), bn, bk, warps, stages, W_EVICT=ev)
        wants[name], nbytes[name] = want_gu, 2 * I * H * 2

        def dn(ev=ev):
            T._down_stream[(triton.cdiv(M, dbm), H // c["bn"], c["split"])](
                hd, wd, ws, ws, ws, M, H, I, H_PARTS=0, BLOCK_M=dbm, BLOCK_N=c["bn"], BLOCK_K=c["bk"],
                SPLIT_K=c["split"], EVEN_K=True, LAST=False, GDC=False, PACKED=True, W_EVICT=ev,
                num_warps=c["warps"], num_stages=c["stages"])
            return ws
        name = f"tc down bn{c['bn']} bk{c['bk']} split{c['split']} bm{dbm} {ev or 'default'}"
        down[name], wants[name], nbytes[name] = dn, want_dn, I * H * 2
    return (kernel_rates(M, gate, wants, nbytes, rounds)
            + kernel_rates(M, down, wants, nbytes, rounds, finish=partials_summed))


def main():
    args = probe_args(__doc__)
    T, tile_major, copy, w = probe_setup()
    with torch.no_grad():
        rows = gemv_rows(load_source(GEMV, "gemv_evict"), w, args.rounds)
        for M in args.ms:
            rows += tensor_core_rows(T, tile_major, w, M, args.rounds)
            print(f"M={M} done", flush=True)
    path = write_result("evict-probe", {"gpu": torch.cuda.get_device_name(0), "copy_GBps": copy,
                                        "gemv_tiles": GEMV_TILES, "kernels": rows})
    print(path)
    print(f"copy rate {copy / 1e3:.2f} TB/s")
    print_rates(rows, 48)


if __name__ == "__main__":
    main()
