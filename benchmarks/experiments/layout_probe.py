"""Probe: does the weights' layout limit the small-M FFN's read rate, and do the template's tile-major copies
(`small_packed`, `small_down_packed`) win it back?

The small path's gate-up kernel reads 235 MB at ~3.4-3.5 TB/s whatever schedules its tiles (grid, atomic queue,
TMA: queue_probe.py), and cuBLAS's GEMM no faster, where a plain read kernel reaches ~3.97 TB/s; its down kernel
reads W_down at ~2.9 TB/s. In nn.Linear's layout a step of a program reads BLOCK_K elements (128-256 B) of each of
2 x BLOCK_N rows that lie K elements (8 KB or 28 KB, powers of two apart or near it) from one another, so each step
scatters small requests over many DRAM pages, and the programs side by side hit the same strides.
Predictions, written before the first run:
1. Long rows: gate-up tiles that read 512 B to 1 KB of each row a step stream closer to the GEMV's whole rows and
   reach >= 3.7 TB/s (~63 us for gate-up; moved here from queue_probe.py --rows, which never ran).
2. Tile-major: with each tile one contiguous run (prepare()'s `_tile_major`), a program reads its whole stream in
   order. Gate-up at the SEED's tiles >= 3.8 TB/s (~62 us against ~69), down >= 3.6 TB/s (~33 us against ~40); the
   whole small path at M=1-64 ~95 us against ~103-108 (~1.17-1.2x eager). If neither moves the rate, the layout is
   not what limits: the next suspect is the requests each SM keeps in flight.

Part 1: the gate-up kernel's reads alone, without its tensor cores (a control: how fast each layout can be read
this way at all; listed as M=0), then per M the template's gate-up and down kernels alone, in nn.Linear's layout
and tile-major, at the SEED's tiles and others (long rows too), each checked against torch; do_bench medians (L2
flushed) in --rounds rounds. Part 2, per M: eager and whole candidates of the template (the SEED with its small
path up to M=128, and the same with gate-up, down or both tile-major), through template_ab.compare.
Writes benchmarks/results/<gpu>-layout-probe.json; prints both tables last.

    python3 benchmarks/experiments/layout_probe.py [--rounds 3] [--ms 1,16,64,128] [--kernels-only]
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream_probe import H, I, Weights, block_m  # noqa: E402
from template_ab import per_m, probe_args, probe_setup, report  # noqa: E402
from common import kernel_rates  # noqa: E402

from agentopt.problems import get_problem, load_source  # noqa: E402

READ = '''
import triton
import triton.language as tl


@triton.jit
def read_tiles(wg_ptr, wu_ptr, out_ptr, N, K, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, PACKED: tl.constexpr):
    """The gate-up kernel's reads without its tensor cores: each program streams the same BLOCK_N x BLOCK_K tiles
    of W_gate and W_up, in nn.Linear's layout or tile-major, and stores the row sums of both (a cheap check)."""
    pid_n = tl.program_id(0)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    in_tile = tl.arange(0, BLOCK_N)[:, None] * BLOCK_K + tl.arange(0, BLOCK_K)[None, :]
    acc = tl.zeros((BLOCK_N, BLOCK_K), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        if PACKED:
            tile = wg_ptr + (pid_n * (K // BLOCK_K) + k0 // BLOCK_K) * (2 * BLOCK_N * BLOCK_K)
            acc += tl.load(tile + in_tile).to(tl.float32) + tl.load(tile + BLOCK_N * BLOCK_K + in_tile).to(tl.float32)
        else:
            offs = offs_n[:, None] * K + k0 + tl.arange(0, BLOCK_K)[None, :]
            acc += tl.load(wg_ptr + offs).to(tl.float32) + tl.load(wu_ptr + offs).to(tl.float32)
    tl.store(out_ptr + offs_n, tl.sum(acc, axis=1))
'''
GATEUP = [{"bn": 64, "bk": 64, "warps": 8, "stages": 5},  # the SEED's
          {"bn": 32, "bk": 64, "warps": 4, "stages": 3}, {"bn": 64, "bk": 128, "warps": 8, "stages": 4},
          # long rows: 512 B to 1 KB of each row a step
          {"bn": 16, "bk": 512, "warps": 4, "stages": 3}, {"bn": 32, "bk": 256, "warps": 4, "stages": 3},
          {"bn": 16, "bk": 256, "warps": 4, "stages": 4}, {"bn": 32, "bk": 512, "warps": 8, "stages": 2},
          {"bn": 64, "bk": 256, "warps": 8, "stages": 3}]
DOWN = [{"bm": 64, "bn": 64, "bk": 128, "split": 4, "warps": 4, "stages": 3},  # the SEED's
        {"bm": 64, "bn": 64, "bk": 256, "split": 4, "warps": 4, "stages": 3},
        {"bm": 64, "bn": 32, "bk": 256, "split": 8, "warps": 4, "stages": 4},
        {"bm": 64, "bn": 128, "bk": 64, "split": 2, "warps": 8, "stages": 4}]
# whole candidates: the SEED with the small path up to M=128, in nn.Linear's layout and tile-major
WHOLE = {"rows": {}, "packed-gateup": {"small_packed": 1}, "packed-down": {"small_down_packed": 1},
         "packed-both": {"small_packed": 1, "small_down_packed": 1},
         "packed-both-bk128": {"small_packed": 1, "small_down_packed": 1, "small_block_k": 128, "small_stages": 4,
                               "small_down_block_k": 256}}


def gateup_weights(tile_major, w: Weights, c: dict, packed: bool) -> tuple:
    """(W_gate, W_up) as the gate-up kernels take them: one tile-major copy of both for PACKED, else as they are."""
    return (tile_major((w.wg, w.wu), c["bn"], c["bk"]),) * 2 if packed else (w.wg, w.wu)


def read_rows(R, tile_major, w: Weights, rounds: int) -> list[dict]:
    """The control: the gate-up kernel's reads alone (no tensor cores, no M), at its first and fourth tile sets
    (the SEED's, and long rows) in both layouts."""
    want = (w.wg.float() + w.wu.float()).sum(1).double()
    fns = {}
    for c in (GATEUP[0], GATEUP[3]):
        for packed in (False, True):
            wg, wu = gateup_weights(tile_major, w, c, packed)

            def read(c=c, wg=wg, wu=wu, packed=packed):
                out = torch.empty(I, device="cuda", dtype=torch.float32)
                R.read_tiles[(I // c["bn"],)](wg, wu, out, I, H, BLOCK_N=c["bn"], BLOCK_K=c["bk"], PACKED=packed,
                                              num_warps=c["warps"], num_stages=c["stages"])
                return out
            layout = "tiles" if packed else "rows"
            fns[f"read only {layout} bn{c['bn']} bk{c['bk']} w{c['warps']} s{c['stages']}"] = read
    return kernel_rates(0, fns, dict.fromkeys(fns, want), dict.fromkeys(fns, 2 * I * H * 2), rounds, tol=1e-4)


def kernel_rows(T, tile_major, w: Weights, M: int, rounds: int) -> list[dict]:
    """The gate-up and down kernels alone at M, each tile set in both layouts."""
    x = torch.randn(M, H, device="cuda", dtype=torch.bfloat16)
    gu_want = (torch.nn.functional.silu(x.float() @ w.wg.float().T) * (x.float() @ w.wu.float().T)).double()
    bm = block_m(M, 128)
    fns, want, nbytes = {}, {}, {}
    for c in GATEUP:
        for packed in (False, True):
            wg, wu = gateup_weights(tile_major, w, c, packed)

            def gateup(c=c, wg=wg, wu=wu, packed=packed):
                out = torch.empty((M, I), device="cuda", dtype=torch.bfloat16)
                T._gateup_stream[(1, I // c["bn"], 1)](x, wg, wu, out, out, out, M, I, H, BLOCK_M=bm, BLOCK_N=c["bn"],
                                                       BLOCK_K=c["bk"], SPLIT_K=1, EVEN_K=True,
                                                       GDC=False, PACKED=packed, num_warps=c["warps"],
                                                       num_stages=c["stages"])
                return out
            name = f"gate-up {'tiles' if packed else 'rows'} bn{c['bn']} bk{c['bk']} w{c['warps']} s{c['stages']}"
            fns[name], want[name], nbytes[name] = gateup, gu_want, 2 * I * H * 2
    for into, more in zip((fns, want, nbytes), down_fns(T, tile_major, w, M, DOWN)):
        into.update(more)
    return kernel_rates(M, fns, want, nbytes, rounds, finish=partials_summed)


def partials_summed(out):
    """What a probe's kernel gave, as compared: the down kernel's split-K partials summed (outside the timing)."""
    return out if out.dim() == 2 else out.sum(0)


def packed_gateup(T, x, tiles, counts, bm: int, bn: int, bk: int, warps: int, stages: int, **extra):
    """The template's gate-up kernel alone over tile-major tiles, split 1, M in blocks of bm (`extra`: more of the
    kernel's arguments): a callable that returns h."""
    M = x.shape[0]

    def gateup():
        h = torch.empty((M, I), device="cuda", dtype=torch.bfloat16)
        T._gateup_stream[(triton.cdiv(M, bm), I // bn, 1)](
            x, tiles, tiles, h, h, counts, M, I, H, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, SPLIT_K=1,
            EVEN_K=True, GDC=False, PACKED=True, LAST=False, num_warps=warps, num_stages=stages, **extra)
        return h
    return gateup


def down_fns(T, tile_major, w: Weights, M: int, configs: list[dict], layouts=(False, True)) -> tuple:
    """(fns, want, nbytes) for the down kernel alone at M, each tile set in each layout (True: tile-major); each
    returns its split-K partials (split >= 2), which partials_summed adds up."""
    h = torch.randn(M, I, device="cuda", dtype=torch.bfloat16)
    dn_want = (h.float() @ w.wd.float().T).double()
    fns, want, nbytes = {}, {}, {}
    for c in configs:
        dbm = block_m(M, c["bm"])
        ws = torch.empty((c["split"], M, H), device="cuda", dtype=torch.float32)
        for packed in layouts:
            wd = tile_major((w.wd,), c["bn"], c["bk"]) if packed else w.wd

            def down(c=c, wd=wd, packed=packed, ws=ws, dbm=dbm):
                y = torch.empty((M, H), device="cuda", dtype=torch.bfloat16)
                T._down_stream[(triton.cdiv(M, dbm), H // c["bn"], c["split"])](
                    h, wd, ws, y, ws, M, H, I, H_PARTS=0, BLOCK_M=dbm, BLOCK_N=c["bn"], BLOCK_K=c["bk"],
                    SPLIT_K=c["split"], EVEN_K=True, LAST=False, GDC=False, PACKED=packed,
                    num_warps=c["warps"], num_stages=c["stages"])
                return ws  # the split-K partials: the probe times the down kernel alone
            name = (f"down {'tiles' if packed else 'rows'} bn{c['bn']} bk{c['bk']} split{c['split']} "
                    f"w{c['warps']} s{c['stages']}")
            fns[name], want[name], nbytes[name] = down, dn_want, H * I * 2
    return fns, want, nbytes


def main():
    args = probe_args(__doc__)
    T, tile_major, copy, w = probe_setup()
    control = read_rows(load_source(READ, "read_tiles"), tile_major, w, args.rounds)
    kernels, candidates, points = per_m(get_problem("llama3-8b-ffn"), args, WHOLE,
                                        lambda M: kernel_rows(T, tile_major, w, M, args.rounds), copy)
    kernels = control + kernels
    report("layout-probe", copy, points, {"kernels": kernels, "candidates": candidates}, kernels, 46)


if __name__ == "__main__":
    main()
