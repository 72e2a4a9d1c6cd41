"""Probe: what keeps the RMSNorm kernel from its bandwidth floor at M=1024-4096?

The library's RMSNorm (template `rmsnorm`: one row of 4096 at a time, ROWS rows a program, one after the other)
took 23.6 us at M=4096 on an H200 where max-autotune took 20.8 and the floor (64 MB read and written over the copy
rate) is 15.9 (README). Each program reads its row, reduces it across all its warps, then writes it: a program has
one row's loads in flight at a time.

Predictions, written before the first run (kernels alone, do_bench medians with L2 flushed, side by side):
1. Loading a program's rows as one [ROWS, N] tile (all their loads issued before the first reduction) is faster
   than the template's row-after-row at the same ROWS and warps; the best such point is <= 19 us at M=4096 (>= 84%
   of the floor) and beats max-autotune there.
2. The stores marked streaming (".cs") and x loaded `evict_first` change nothing by more than 2%: the output and
   input are each read or written once.
3. A persistent grid that pipelines the next tile's loads over this one's reduction is no faster than (1): enough
   programs are resident to hide the latency.

Outcome of the first run (copy 4.19 TB/s): 1 refuted, 2 and 3 held; every point within 21.3-24.6 us at M=4096
(docs/PERF_NOTES.md). Its max-autotune row (a compiled lambda) read 35-60 us, nothing like benchmarks/ffn.py's
20.8, and was dropped: ffn.py times torch.compile of the problem's own module. Added for the second run: a control,
torch's copy of x into y, the same bytes moved with no reduction.

Writes benchmarks/results/<gpu>-norm-probe.json; prints the table last.

    python3 benchmarks/experiments/norm_probe.py [--rounds 3] [--ms 1,128,1024,4096]
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parent))
from template_ab import probe_args  # noqa: E402
from common import kernel_rates, print_rates, write_result  # noqa: E402

from agentopt.measure import copy_bandwidth_gbps  # noqa: E402
from agentopt.problems import load_source  # noqa: E402
from kernels.templates import rmsnorm  # noqa: E402

N, EPS = 4096, 1e-5

TILE = '''
import triton
import triton.language as tl


@triton.jit
def rms_tile(x_ptr, w_ptr, y_ptr, M, N, PROGS, eps, BLOCK_N: tl.constexpr, ROWS: tl.constexpr,
             X_EVICT: tl.constexpr, Y_CACHE: tl.constexpr, STAGES: tl.constexpr):
    """ROWS rows a step loaded as one [ROWS, BLOCK_N] tile; a program takes steps pid, pid + PROGS, ... (PROGS =
    the number of steps: one each), the loop software-pipelined STAGES deep."""
    cols = tl.arange(0, BLOCK_N)
    cmask = cols < N
    w = tl.load(w_ptr + cols, mask=cmask, other=0.0).to(tl.float32)[None, :]
    for step in tl.range(tl.program_id(0), tl.cdiv(M, ROWS), PROGS, num_stages=STAGES):
        rows = step * ROWS + tl.arange(0, ROWS)
        mask = (rows[:, None] < M) & cmask[None, :]
        off = rows[:, None] * N + cols[None, :]
        x = tl.load(x_ptr + off, mask=mask, other=0.0, eviction_policy=X_EVICT).to(tl.float32)
        rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=1) / N + eps)
        h = (x * rstd[:, None]).to(x_ptr.dtype.element_ty).to(tl.float32)
        tl.store(y_ptr + off, (h * w).to(y_ptr.dtype.element_ty), mask=mask, cache_modifier=Y_CACHE)
'''

ROW_POINTS = [(1, 4), (1, 8), (1, 16), (2, 8), (2, 16), (4, 8), (4, 16)]  # the template's (rows, warps)
TILE_POINTS = [(2, 8), (2, 16), (4, 8), (4, 16), (8, 16)]
POLICIES = [("", ""), ("evict_first", ""), ("", ".cs"), ("evict_first", ".cs")]


def rows_at(M: int, rounds: int, T, R, sms: int) -> list[dict]:
    g = torch.Generator(device="cuda").manual_seed(M)
    x = torch.randn(M, N, device="cuda", dtype=torch.bfloat16, generator=g)
    w = (1 + 0.1 * torch.randn(N, device="cuda", generator=g)).to(torch.bfloat16)
    xf = x.double()
    want = w.double() * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + EPS)).to(torch.bfloat16).double()
    fns = {}

    def new():
        return torch.empty_like(x)

    for rows, warps in ROW_POINTS:
        def row(rows=rows, warps=warps):
            y = new()
            R._rmsnorm[(triton.cdiv(M, rows),)](x, w, y, M, N, EPS, BLOCK_N=N, ROWS=rows, num_warps=warps)
            return y
        fns[f"template rows{rows} w{warps}"] = row

    def tile(rows, warps, ev="", cache="", progs=None, stages=1):
        steps = triton.cdiv(M, rows)
        progs = min(progs or steps, steps)

        def run():
            y = new()
            T.rms_tile[(progs,)](x, w, y, M, N, progs, EPS, BLOCK_N=N, ROWS=rows, X_EVICT=ev, Y_CACHE=cache,
                                 STAGES=stages, num_warps=warps)
            return y
        return run

    for rows, warps in TILE_POINTS:
        fns[f"tile rows{rows} w{warps}"] = tile(rows, warps)
    for ev, cache in POLICIES[1:]:
        for rows, warps in ((1, 8), (4, 16)):
            fns[f"tile rows{rows} w{warps} {ev or '-'} {cache or '-'}"] = tile(rows, warps, ev, cache)
    for rows, warps, occ in ((1, 8, 8), (2, 8, 4), (4, 16, 2), (4, 8, 4)):
        for stages in (1, 2):
            fns[f"persistent rows{rows} w{warps} {occ}/SM s{stages}"] = tile(rows, warps, progs=occ * sms,
                                                                           stages=stages)
    fns["eager"] = lambda: reference(x, w)
    out = new()
    fns["control: copy of x (same bytes, no reduction)"] = lambda: out.copy_(x)
    nbytes = 2 * M * N * 2 + N * 2
    wants = {n: x.double() if n.startswith("control") else want for n in fns}
    return kernel_rates(M, fns, wants, {n: nbytes for n in fns}, rounds)


def reference(x, w):
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + EPS)
    return w * h.to(x.dtype)


def main():
    args = probe_args(__doc__, ms="1,128,1024,4096", kernels=False)
    T = load_source(TILE, "rms_tile")
    R = load_source("import triton\nimport triton.language as tl\n" + rmsnorm.KERNEL, "rms_template")
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    copy = copy_bandwidth_gbps()
    rows = []
    with torch.no_grad():
        for M in args.ms:
            rows += rows_at(M, args.rounds, T, R, sms)
            print(f"M={M} done", flush=True)
    for r in rows:
        r["fraction_of_floor"] = (2 * r["M"] * N * 2 + N * 2) / (copy * 1e3) / r["us"] if r["us"] else None
    path = write_result("norm-probe", {"gpu": torch.cuda.get_device_name(0), "copy_GBps": copy, "kernels": rows})
    print(path)
    print(f"copy rate {copy / 1e3:.2f} TB/s")
    print_rates(rows, 44)


if __name__ == "__main__":
    main()
