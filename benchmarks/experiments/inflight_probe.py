"""Probe: is the small path's read rate set by the bytes each SM keeps in flight?

balance_probe.py refuted the balance of programs over SMs: its read-only control reads the gate-up tiles at
3.53-3.56 TB/s whether they are split 2, 4 or 8 ways or read by a persistent grid of 528 programs, and at 2.74 TB/s
by 132 programs (one an SM). Each of its programs waits on one 16 KB load a step. gemv_probe.py's plain read kernel,
which issues 16 loads a program before it adds them (an unrolled loop) with several programs an SM, reads at
3.97 TB/s. The template's kernels keep (stages - 1) tiles in flight a program: the SEED's gate-up at M <= 16 holds
two programs on 92 SMs (4 x 16 KB each) and one on 40; its down kernel ~2 programs of 2 x 16 KB an SM.

Predictions, written before the first run:
1. Control (tile-major gate-up tiles read alone, 8 warps, U loads of 16 KB issued before they are summed): the rate
   follows programs-an-SM x U x 16 KB, the bytes in flight an SM; 64 KB (528 programs, U=1) gives 3.53 as measured;
   >= 128 KB (528 x U=2, 264 x U=4, 132 x U=8) >= 3.85 TB/s.
2. The gate-up kernel alone, tile-major, split 1, at M = 1 and 16: its rate rises with num_stages past the template's
   limit of 5 while the tiles in flight an SM grow, to >= 3.7 TB/s at >= 128 KB an SM (BLOCK_N 32 at 8 stages:
   two programs of 7 x 8 KB; BLOCK_K 128 at 5 stages: one program of 4 x 32 KB).
3. The down kernel alone (split 4, tile-major) likewise from its 2.9-3.0 TB/s at 3 stages to >= 3.4 at 6-8.
If the control does not follow the bytes in flight, neither this nor balance is the limit.

Writes benchmarks/results/<gpu>-inflight-probe.json; prints the tables last.

    python3 benchmarks/experiments/inflight_probe.py [--rounds 3] [--ms 1,16]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream_probe import H, I, SMEM, Weights, block_m, sm_count  # noqa: E402
from template_ab import probe_setup  # noqa: E402
from layout_probe import down_fns, packed_gateup, partials_summed  # noqa: E402
from common import kernel_rates, print_rates, write_result  # noqa: E402

from agentopt.problems import load_source  # noqa: E402

READ = '''
import triton
import triton.language as tl


@triton.jit
def read_unrolled(w_ptr, out_ptr, STEPS, SHARE, STEP: tl.constexpr, U: tl.constexpr):
    """Program p sums steps [p * SHARE, (p + 1) * SHARE) of STEP contiguous elements, U loads issued per turn."""
    p = tl.program_id(0)
    end = tl.minimum((p + 1) * SHARE, STEPS)
    acc = tl.zeros((STEP,), dtype=tl.float32)
    for s in range(p * SHARE, end, U):
        for u in tl.static_range(U):
            offs = (s + u) * STEP + tl.arange(0, STEP)
            acc += tl.load(w_ptr + offs, mask=offs < end * STEP, other=0.0).to(tl.float32)
    tl.store(out_ptr + p, tl.sum(acc))
'''
TILE = (64, 64)  # the SEED's gate-up tiles (BLOCK_N, BLOCK_K): a step of gate and up is 16 KB
GRIDS = [132, 264, 528, 1056]
UNROLL = [1, 2, 4, 8]
# gate-up: (BLOCK_N, BLOCK_K, warps) x num_stages, where (stages) x a stage's shared memory fits an SM
GATEUP = [((64, 64, 8), (3, 5, 6, 8, 10)), ((32, 64, 4), (5, 8, 12, 16)), ((64, 128, 8), (3, 4, 5, 6)),
          ((32, 128, 4), (4, 6, 8, 10))]
DOWN = [{"bm": 64, "bn": 64, "bk": 128, "split": 4, "warps": 4, "stages": s} for s in (3, 4, 6, 8)] + \
       [{"bm": 64, "bn": 32, "bk": 128, "split": 4, "warps": 4, "stages": s} for s in (4, 8, 12)]


def control_rows(R, flat: torch.Tensor, rounds: int) -> list[dict]:
    step = 2 * TILE[0] * TILE[1]
    steps = flat.numel() // step
    runs, shape = {}, {}
    for programs in GRIDS:
        for u in UNROLL:
            name = f"read only, {programs} programs, U={u}"

            def run(programs=programs, u=u):
                out = torch.empty(programs, device="cuda", dtype=torch.float32)
                R.read_unrolled[(programs,)](flat, out, steps, -(-steps // programs), STEP=step, U=u, num_warps=8)
                return out
            runs[name], shape[name] = run, (programs, u)
    total = flat.double().sum().reshape(1)
    rows = kernel_rates(0, runs, dict.fromkeys(runs, total), dict.fromkeys(runs, 2 * I * H * 2), rounds, tol=1e-3,
                        finish=lambda out: out.sum().reshape(1))
    for r in rows:
        programs, u = shape[r["variant"]]
        r["inflight_kb_per_sm"] = programs / sm_count() * u * step * 2 / 1024
    return rows


def gateup_rows(T, tile_major, w: Weights, M: int, rounds: int) -> list[dict]:
    x = torch.randn(M, H, device="cuda", dtype=torch.bfloat16)
    want = (torch.nn.functional.silu(x.float() @ w.wg.float().T) * (x.float() @ w.wu.float().T)).double()
    bm, counts = block_m(M, 128), torch.zeros(4096, device="cuda", dtype=torch.int32)
    fns, inflight = {}, {}
    for (bn, bk, warps), stages_list in GATEUP:
        tiles = tile_major((w.wg, w.wu), bn, bk)
        stage = (bm * bk + 2 * bn * bk) * 2
        for stages in stages_list:
            if stages * stage > SMEM:
                continue
            per_sm = min(SMEM // (stages * stage), -(-(I // bn) // sm_count()))  # resident programs an SM, at most
            name = f"gate-up tiles bn{bn} bk{bk} w{warps} s{stages}"
            fns[name] = packed_gateup(T, x, tiles, counts, bm, bn, bk, warps, stages)
            inflight[name] = per_sm * (stages - 1) * 2 * bn * bk * 2 / 1024
    rows = kernel_rates(M, fns, dict.fromkeys(fns, want), dict.fromkeys(fns, 2 * I * H * 2), rounds)
    for r in rows:
        r["inflight_kb_per_sm"] = inflight[r["variant"]]
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ms", default="1,16")
    args = ap.parse_args()
    T, tile_major, copy, w = probe_setup()
    with torch.no_grad():
        control = control_rows(load_source(READ, "read_unrolled"), tile_major((w.wg, w.wu), *TILE).reshape(-1),
                               args.rounds)
        kernels = []
        for M in (int(m) for m in args.ms.split(",")):
            kernels += gateup_rows(T, tile_major, w, M, args.rounds)
            fns, want, nbytes = down_fns(T, tile_major, w, M, DOWN, layouts=(True,))
            kernels += kernel_rates(M, fns, want, nbytes, args.rounds, finish=partials_summed)
            print(f"M={M} done", flush=True)
    path = write_result("inflight-probe", {"gpu": torch.cuda.get_device_name(0), "copy_GBps": copy,
                                           "control": control, "kernels": kernels})
    print(path)
    print(f"copy rate {copy / 1e3:.2f} TB/s")
    print("control: KB in flight an SM = programs / 132 x U x 16 KB")
    for r in control:
        print(f"  {r['variant']:<34} {r['inflight_kb_per_sm']:6.0f} KB/SM  "
              + (f"{r['us']:7.1f} us {r['TBps']:5.2f} TB/s" if r["us"] is not None else f"ERROR {r['rel_err']}"))
    for r in kernels:
        if "inflight_kb_per_sm" in r:
            r["variant"] += f" ({r['inflight_kb_per_sm']:.0f} KB/SM)"
    print_rates(kernels, 46)


if __name__ == "__main__":
    main()
