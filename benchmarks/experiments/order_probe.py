"""Probe: is the small path's read rate set by how far apart in memory the SMs' concurrent streams lie?

Two hypotheses fell in one session (balance_probe.py: how programs divide over the SMs; inflight_probe.py: the bytes
each SM keeps in flight): read-only controls stay at 3.4-3.57 TB/s with 132-1056 programs and 16-1024 KB in flight
an SM, and the gate-up kernel at 3.3-3.5 however many stages it pipelines. What they share: every program streams
its own region (a tile row's K steps, or one contiguous share), so at any moment the GPU reads 132-1056 places
megabytes apart. What reads at 3.97-4.2 TB/s (gemv_probe.py's plain read kernel, a copy) sweeps memory in order:
programs side by side read neighbouring chunks.

Predictions, written before the first run:
1. Control (the gate-up tiles read alone, persistent grids, U loads a turn): "interleaved" (program p reads steps p,
   p + P, p + 2P, ..., so the grid sweeps memory in order) >= 3.9 TB/s where "contiguous shares" read 3.4-3.57.
2. The gate-up kernel alone, tile-major at M = 1 and 16, with its tiles ordered K-major ([K/BK, N/BN, 2, BN, BK]:
   a step's tiles of all N-blocks side by side) >= 3.7 TB/s (<= 64 us) where N-major (the template's) reads
   3.35-3.5 (67-70 us).
3. The down kernel alone (split 4, tile-major) K-major >= 3.4 TB/s where N-major reads 2.9-3.0.
If the interleaved control reads no faster, the order of the streams is not the limit either.
   Beside them, gemv_probe.py's plain read kernel (thousands of short programs; 3.97 TB/s on 2026-11-22), to tell
   whether that kernel or that day read faster (added after the first run).
4. Whole candidates (the SEED's small path to M=128, both weights tile-major as the template's VARIANT) at the
   gate-up's 3 stages against the SEED's 5: inflight_probe.py timed the gate-up kernel alone 3 us faster at 3 stages
   (67.0 against 70.3 us at M=1 and 16); the whole candidate ~3 us faster at M = 1-64.

Writes benchmarks/results/<gpu>-order-probe.json; prints the tables last.

    python3 benchmarks/experiments/order_probe.py [--rounds 3] [--ms 1,16,64,128] [--kernels-only]
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream_probe import H, I, Weights, block_m  # noqa: E402
from template_ab import per_m, probe_args, probe_setup, report  # noqa: E402
from layout_probe import packed_gateup, partials_summed  # noqa: E402
from common import kernel_rates  # noqa: E402

from agentopt.problems import get_problem, load_source  # noqa: E402
from kernels.templates import gated_mlp, gated_mlp_kernels as KS  # noqa: E402

READ = '''
import triton
import triton.language as tl


@triton.jit
def read_order(w_ptr, out_ptr, STEPS, SHARE, STEP: tl.constexpr, U: tl.constexpr, INTERLEAVED: tl.constexpr):
    """Program p of P sums SHARE steps of STEP contiguous elements, U loads issued a turn: steps [p * SHARE,
    (p + 1) * SHARE), or (INTERLEAVED) steps p, p + P, p + 2P, ... so that the grid sweeps memory in order."""
    p = tl.program_id(0)
    P = tl.num_programs(0)
    acc = tl.zeros((STEP,), dtype=tl.float32)
    for i in range(0, SHARE, U):
        for u in tl.static_range(U):
            if INTERLEAVED:
                s = (i + u) * P + p
            else:
                s = p * SHARE + i + u
            offs = s * STEP + tl.arange(0, STEP)
            ok = (offs < STEPS * STEP) & (offs * 0 + i + u < SHARE)
            acc += tl.load(w_ptr + offs, mask=ok, other=0.0).to(tl.float32)
    tl.store(out_ptr + p, tl.sum(acc))


@triton.jit
def read_short(w_ptr, out_ptr, BLOCK: tl.constexpr, ITERS: tl.constexpr):
    """gemv_probe.py's plain read kernel: program p sums ITERS blocks of BLOCK elements from p * BLOCK * ITERS."""
    p = tl.program_id(0)
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    base = p * BLOCK * ITERS
    for i in range(ITERS):
        acc += tl.load(w_ptr + base + i * BLOCK + tl.arange(0, BLOCK)).to(tl.float32)
    tl.store(out_ptr + p, tl.sum(acc))
'''
N_MAJOR = "(pid_n * (K // BLOCK_K) + k0 // BLOCK_K)"
K_MAJOR = "(k0 // BLOCK_K * (N // BLOCK_N) + pid_n)"
GRIDS, UNROLL = [132, 264, 528], [1, 2]
SHORT = [(1024, 16, 4), (2048, 8, 8), (4096, 8, 8), (1024, 64, 4)]  # gemv_probe's: BLOCK, ITERS, warps
GATEUP = [(64, 64, 8, 3), (64, 64, 8, 5)]  # BLOCK_N, BLOCK_K, warps, stages: the SEED's tiles
DOWN = {"bm": 64, "bn": 64, "bk": 128, "split": 4, "warps": 4, "stages": 3}  # the SEED's
WHOLE = {"tile-major s5": gated_mlp.VARIANTS[0], "tile-major s3": {**gated_mlp.VARIANTS[0], "small_stages": 3}}


def kernels_in_order(order: str):
    """The template's streaming kernels with their tile-major tiles addressed N-major (as the template) or
    K-major."""
    src = KS.STREAM_GATEUP + KS.STREAM_DOWN
    assert src.count(N_MAJOR) == 2
    return load_source("import torch\nimport triton\nimport triton.language as tl\n"
                       + src.replace(N_MAJOR, K_MAJOR if order == "K" else N_MAJOR), f"order_{order}")


def ordered(tile_major, weights, bn, bk, order: str) -> torch.Tensor:
    tiles = tile_major(weights, bn, bk)  # [N/bn, K/bk, ...]
    return tiles.transpose(0, 1).contiguous() if order == "K" else tiles


def control_rows(R, flat: torch.Tensor, rounds: int) -> list[dict]:
    step = 2 * 64 * 64
    steps = flat.numel() // step
    runs = {}
    for programs in GRIDS:
        for u in UNROLL:
            for inter in (False, True):
                def run(programs=programs, u=u, inter=inter):
                    out = torch.empty(programs, device="cuda", dtype=torch.float32)
                    R.read_order[(programs,)](flat, out, steps, -(-steps // programs), STEP=step, U=u,
                                              INTERLEAVED=inter, num_warps=8)
                    return out
                runs[f"read only, {programs} programs, U={u}, {'interleaved' if inter else 'contiguous'}"] = run
    for block, iters, warps in SHORT:  # thousands of short programs, as in the probe that read 3.97 TB/s
        def short(block=block, iters=iters, warps=warps):
            out = torch.empty(flat.numel() // (block * iters), device="cuda", dtype=torch.float32)
            R.read_short[(out.numel(),)](flat, out, BLOCK=block, ITERS=iters, num_warps=warps)
            return out
        runs[f"read only, {flat.numel() // (block * iters)} short programs {block}x{iters} w{warps}"] = short
    total = flat.double().sum().reshape(1)
    return kernel_rates(0, runs, dict.fromkeys(runs, total), dict.fromkeys(runs, 2 * I * H * 2), rounds, tol=1e-3,
                        finish=lambda out: out.sum().reshape(1))


def kernel_rows(Ts: dict, tile_major, w: Weights, M: int, rounds: int) -> list[dict]:
    x = torch.randn(M, H, device="cuda", dtype=torch.bfloat16)
    want = (torch.nn.functional.silu(x.float() @ w.wg.float().T) * (x.float() @ w.wu.float().T)).double()
    hd = torch.randn(M, I, device="cuda", dtype=torch.bfloat16)
    dn_want = (hd.float() @ w.wd.float().T).double()
    bm, counts = block_m(M, 128), torch.zeros(4096, device="cuda", dtype=torch.int32)
    fns, wants, nbytes = {}, {}, {}
    for order, T in Ts.items():
        for bn, bk, warps, stages in GATEUP:
            tiles = ordered(tile_major, (w.wg, w.wu), bn, bk, order)
            name = f"gate-up {order}-major bn{bn} bk{bk} w{warps} s{stages}"
            fns[name] = packed_gateup(T, x, tiles, counts, bm, bn, bk, warps, stages)
            wants[name], nbytes[name] = want, 2 * I * H * 2
        c, dbm = DOWN, block_m(M, DOWN["bm"])
        wd = ordered(tile_major, (w.wd,), c["bn"], c["bk"], order)
        ws = torch.empty((c["split"], M, H), device="cuda", dtype=torch.float32)

        def down(T=T, wd=wd, ws=ws, c=c, dbm=dbm):
            T._down_stream[(triton.cdiv(M, dbm), H // c["bn"], c["split"])](
                hd, wd, ws, ws, ws, M, H, I, H_PARTS=0, BLOCK_M=dbm, BLOCK_N=c["bn"], BLOCK_K=c["bk"],
                SPLIT_K=c["split"], EVEN_K=True, LAST=False, GDC=False, PACKED=True,
                num_warps=c["warps"], num_stages=c["stages"])
            return ws
        name = f"down {order}-major bn{c['bn']} bk{c['bk']} split{c['split']} w{c['warps']} s{c['stages']}"
        fns[name], wants[name], nbytes[name] = down, dn_want, H * I * 2
    gate = {n: f for n, f in fns.items() if n.startswith("gate")}  # the variants of one kernel alternate in rounds
    down = {n: f for n, f in fns.items() if n.startswith("down")}
    return (kernel_rates(M, gate, wants, nbytes, rounds)
            + kernel_rates(M, down, wants, nbytes, rounds, finish=partials_summed))


def main():
    args = probe_args(__doc__)
    _, tile_major, copy, w = probe_setup()
    Ts = {o: kernels_in_order(o) for o in ("N", "K")}
    with torch.no_grad():
        control = control_rows(load_source(READ, "read_order"), tile_major((w.wg, w.wu), 64, 64).reshape(-1),
                               args.rounds)
    kernels, candidates, points = per_m(get_problem("llama3-8b-ffn"), args, WHOLE,
                                        lambda M: kernel_rows(Ts, tile_major, w, M, args.rounds), copy)
    report("order-probe", copy, points, {"control": control, "kernels": kernels, "candidates": candidates},
           control + kernels, 52)


if __name__ == "__main__":
    main()
