"""Probe: is the small path's gate-up read rate set by how its work divides among the SMs?

layout_probe.py found the gate-up kernel at ~3.4-3.56 TB/s in either weight layout, and a control that only reads
its tiles (no tensor cores) at 3.39 TB/s tile-major, against 3.97 TB/s for a plain read kernel of ~10,000 short
programs (gemv_probe.py). At the SEED's tiles the kernel runs N / 64 = 224 programs of one whole 1 MB stream each:
on 132 SMs, 92 SMs hold two and 40 hold one. If an SM's read rate is capped, the SMs with two set the time, and the
rate is the balanced rate times P / (SMs * ceil(P / SMs)) for P programs: 0.85 at 224 programs, 3.39 / 0.85 = 3.99.
Predictions, written before the first run:
1. Control (tile-major reads alone, SEED tiles, K split S ways, P = 224 S programs): S = 1 and S = 2 (0.85) near
   3.4 TB/s; S = 4 and S = 8 (0.97) >= 3.8; a persistent grid of 132 or 264 programs, each reading one contiguous
   share (1.0), ~3.95.
2. The template's gate-up kernel alone, split over K with its last program of each tile summing the partials
   (`small_gu_reduce: last`): split 4 ~10% faster than split 1 at M = 1-16 (>= 3.75 TB/s, ~63 us against ~69);
   split 2 no faster. Less at M=64, where the float32 partials (4 x 2 x M x 14336) cost more.
3. The down kernel alone (its 2.9-3.0 TB/s is not explained by balance: split 4 gives 256 programs, 0.97), K split
   2, 4, 8, 16 ways (56 to 7 steps a program, balance 0.97 throughout): if its rate comes from short streams, split
   2 is the fastest and 16 the slowest; if all read alike, neither balance nor stream length limits it.
4. Whole candidates (the SEED with its small path to M=128; gate-up split 4 with `last`; both tile-major too):
   split 4 `last` 4-6 us faster at M = 1-16.
If the control does not move with the balance, the cap is not per SM, and this line of work ends here.

Part 1 is the control, part 2 the kernels alone per M, part 3 whole candidates against eager
(template_ab.compare). Writes benchmarks/results/<gpu>-balance-probe.json; prints the tables last.

    python3 benchmarks/experiments/balance_probe.py [--rounds 3] [--ms 1,16,64,128] [--kernels-only]
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream_probe import H, I, Weights, block_m, sm_count  # noqa: E402
from template_ab import per_m, print_table, probe_args, probe_setup  # noqa: E402
from layout_probe import down_fns, partials_summed  # noqa: E402
from common import kernel_rates, print_rates, write_result  # noqa: E402

from agentopt.problems import get_problem, load_source  # noqa: E402

READ = '''
import triton
import triton.language as tl


@triton.jit
def read_share(w_ptr, out_ptr, STEPS, SHARE, STEP: tl.constexpr):
    """Program p reads steps [p * SHARE, (p + 1) * SHARE) of STEP contiguous elements each (a tile-major stream:
    a split tile's K range, or a persistent program's share of all of it) and stores their sum."""
    p = tl.program_id(0)
    acc = tl.zeros((STEP,), dtype=tl.float32)
    for s in range(p * SHARE, tl.minimum((p + 1) * SHARE, STEPS)):
        acc += tl.load(w_ptr + s * STEP + tl.arange(0, STEP)).to(tl.float32)  # < 2**31 elements
    tl.store(out_ptr + p, tl.sum(acc))
'''
BN, BK, WARPS, STAGES = 64, 64, 8, 5  # the SEED's gate-up tiles
SPLITS = [1, 2, 4, 8]
PERSISTENT = [132, 264, 528]
# the down kernel at the SEED's tiles, K split 2-16 ways: 128-1024 programs, all balanced to 0.97 on 132 SMs, of
# 56 down to 7 steps each
DOWN_SPLITS = [{"bm": 64, "bn": 64, "bk": 128, "split": s, "warps": 4, "stages": 3} for s in (2, 4, 8, 16)]
# whole candidates: the SEED with the small path up to M=128, and gate-up split 4 ways with the last program's sum
WHOLE = {"seed": {}, "split4-last": {"small_gu_split": 4, "small_gu_reduce": "last"},
         "packed": {"small_packed": 1, "small_down_packed": 1},
         "packed-split4-last": {"small_packed": 1, "small_down_packed": 1, "small_gu_split": 4,
                                "small_gu_reduce": "last"}}


def control_rows(R, tiles: torch.Tensor, rounds: int) -> list[dict]:
    """The tile-major gate-up weights read alone: per tile split S ways (224 S programs), and by persistent grids."""
    step = 2 * BN * BK  # one step of one tile: gate and up, contiguous
    steps = tiles.numel() // step
    flat = tiles.reshape(-1)
    grids = {f"read only, {s}-way split": (steps * s // (H // BK), (H // BK) // s) for s in SPLITS}
    grids.update({f"read only, persistent {p}": (p, -(-steps // p)) for p in PERSISTENT})
    runs = {}
    for name, (programs, share) in grids.items():
        def run(programs=programs, share=share):
            out = torch.empty(programs, device="cuda", dtype=torch.float32)
            R.read_share[(programs,)](flat, out, steps, share, STEP=step, num_warps=WARPS, num_stages=STAGES)
            return out
        runs[name] = run
    total = tiles.double().sum().reshape(1)
    rows = kernel_rates(0, runs, dict.fromkeys(runs, total), dict.fromkeys(runs, 2 * I * H * 2), rounds, tol=1e-3,
                        finish=lambda out: out.sum().reshape(1))
    sms = sm_count()
    for r in rows:  # P programs and the prediction's balance factor on the GPU's SMs
        programs = grids[r["variant"]][0]
        r["programs"], r["balance"] = programs, programs / (sms * -(-programs // sms))
    return rows


def kernel_rows(T, tile_major, tiles, w: Weights, M: int, rounds: int) -> list[dict]:
    """The template's gate-up kernel alone at M, split over K with the last program's sum, both layouts; then the
    down kernel alone at the SEED's tiles split 2-16 ways."""
    x = torch.randn(M, H, device="cuda", dtype=torch.bfloat16)
    want = (torch.nn.functional.silu(x.float() @ w.wg.float().T) * (x.float() @ w.wu.float().T)).double()
    bm = block_m(M, 128)
    counts = torch.zeros(4096, device="cuda", dtype=torch.int32)
    fns = {}
    for split in SPLITS:
        parts = torch.empty((split, 2, M, I), device="cuda", dtype=torch.float32)
        for packed in (False, True):
            wg, wu = (tiles, tiles) if packed else (w.wg, w.wu)

            def gateup(split=split, parts=parts, wg=wg, wu=wu, packed=packed):
                h = torch.empty((M, I), device="cuda", dtype=torch.bfloat16)
                T._gateup_stream[(1, I // BN, split)](
                    x, wg, wu, parts if split > 1 else h, h, counts, M, I, H, BLOCK_M=bm, BLOCK_N=BN, BLOCK_K=BK,
                    SPLIT_K=split, EVEN_K=True, GDC=False, PACKED=packed, LAST=split > 1,
                    num_warps=WARPS, num_stages=STAGES)
                return h
            fns[f"gate-up {'tiles' if packed else 'rows'} split {split}{' last' if split > 1 else ''}"] = gateup
    wants, nbytes = dict.fromkeys(fns, want), dict.fromkeys(fns, 2 * I * H * 2)
    for into, more in zip((fns, wants, nbytes), down_fns(T, tile_major, w, M, DOWN_SPLITS, layouts=(False,))):
        into.update(more)
    return kernel_rates(M, fns, wants, nbytes, rounds, finish=partials_summed)


def main():
    args = probe_args(__doc__)
    T, tile_major, copy, w = probe_setup()
    tiles = tile_major((w.wg, w.wu), BN, BK)
    control = control_rows(load_source(READ, "read_share"), tiles, args.rounds)
    kernels, candidates, points = per_m(get_problem("llama3-8b-ffn"), args, WHOLE,
                                        lambda M: kernel_rows(T, tile_major, tiles, w, M, args.rounds), copy)
    path = write_result("balance-probe", {"gpu": torch.cuda.get_device_name(0), "copy_GBps": copy, **points,
                                          "control": control, "kernels": kernels, "candidates": candidates})
    print(path)
    print(f"copy rate {copy / 1e3:.2f} TB/s; refused by the prune: {sorted(points['refused'])}")
    print("control: balance = P / (132 ceil(P / 132)); predicted rate = the persistent grids' rate x balance")
    for r in control:
        print(f"  {r['variant']:<32} {r['programs']:5d} programs, balance {r['balance']:.2f}  "
              + (f"{r['us']:7.1f} us {r['TBps']:5.2f} TB/s" if r["us"] is not None else f"ERROR {r['rel_err']}"))
    print_rates(kernels, 40)
    if candidates:
        print_table(candidates)


if __name__ == "__main__":
    main()
