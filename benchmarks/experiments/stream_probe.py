"""Probe: where do the small-M Triton FFN's ~20 us above the weight-streaming floor go, and which of three
changes win them back?

  1. the down kernel's split-K partials summed by the last program to finish each output tile (a counter per
     tile), so that there is no third kernel (`_splitk_sum`) and no gap before it;
  2. the down kernel launched with programmatic dependent launch (Hopper's griddepcontrol: Triton's
     `launch_pdl=True`, `gdc_wait` in the down kernel, `gdc_launch_dependents` early in gate-up), so its programs
     are resident and waiting when gate-up's last tiles finish instead of being launched after them;
  3. gate-up and down tiles beyond the template's space (sampled), and the down kernel's BLOCK_M up to 128 so that
     M=128 reads W_down once.

Per M in (1, 16, 64, 128): eager; the template's small-M path at its SEED tiles without either change, and its
three kernels alone; cuBLAS's gate-up GEMM and down GEMM alone; the changes one at a time; then sampled tiles. Every
composite is checked against eager's output. Writes benchmarks/results/<gpu>-stream-probe.json; prints a table last.
Both changes are now the template's (`small_down_reduce`, `small_down_pdl`), and the probe runs its kernels; the
committed result was measured with the probe's own first copies of those kernels (the same algorithm).

    python3 benchmarks/experiments/stream_probe.py [--samples 12] [--ms 1,16,64,128]
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import torch
import triton

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
from common import bench_us, write_result  # noqa: E402

from agentopt.problems import load_source  # noqa: E402
from kernels.templates import gated_mlp  # noqa: E402
from kernels.templates import gated_mlp_kernels as KS  # noqa: E402

H, I = 4096, 14336
SMEM = 232448  # bytes of shared memory a block may take on sm_90


def template_kernels():
    """The template's streaming kernels as a module (load_source imports from a file: triton.jit reads it)."""
    return load_source("import torch\nimport triton\nimport triton.language as tl\n" + KS.STREAM_GATEUP
                       + KS.STREAM_DOWN, "template_kernels")


def sm_count() -> int:
    """The GPU's streaming multiprocessors (132 on an H100 SXM or H200)."""
    return torch.cuda.get_device_properties(0).multi_processor_count


def block_m(M, cap):
    return max(16, min(triton.next_power_of_2(M), cap))


class Weights:
    def __init__(self):
        g = torch.Generator(device="cuda").manual_seed(0)
        self.wg, self.wu = (torch.randn(I, H, device="cuda", dtype=torch.bfloat16, generator=g) * 0.02
                            for _ in range(2))
        self.wd = torch.randn(H, I, device="cuda", dtype=torch.bfloat16, generator=g) * 0.02
        self.wgu = torch.cat([self.wg, self.wu])
        self.bytes = 3 * H * I * 2


def eager(w, x):
    return torch.nn.functional.linear(torch.nn.functional.silu(x @ w.wg.T) * (x @ w.wu.T), w.wd)


def current(T, w, x, parts=None):
    """The template's small path at its SEED tiles, without PDL and with the third kernel summing the split-K
    partials; `parts` picks the kernels to run (timing them alone)."""
    s = gated_mlp.SEED
    M = x.shape[0]
    bm = block_m(M, s["small_block_m"])
    h = torch.empty((M, I), device="cuda", dtype=torch.bfloat16)
    if parts is None or "gateup" in parts:
        T._gateup_stream[(triton.cdiv(M, bm), I // s["small_block_n"], 1)](
            x, w.wg, w.wu, h, h, h, M, I, H, BLOCK_M=bm, BLOCK_N=s["small_block_n"], BLOCK_K=s["small_block_k"],
            SPLIT_K=1, EVEN_K=True, GDC=False, num_warps=s["small_warps"],
            num_stages=s["small_stages"])
    split = s["small_down_split"]
    y = torch.empty((M, H), device="cuda", dtype=torch.bfloat16)
    ws = torch.empty((split, M, H), device="cuda", dtype=torch.float32)
    dbm = block_m(M, s["small_down_block_m"])
    if parts is None or "down" in parts:
        T._down_stream[(triton.cdiv(M, dbm), H // s["small_down_block_n"], split)](
            h, w.wd, ws, y, ws, M, H, I, H_PARTS=0, BLOCK_M=dbm, BLOCK_N=s["small_down_block_n"],  # ws: no counters
            BLOCK_K=s["small_down_block_k"], SPLIT_K=split, EVEN_K=True, LAST=False, GDC=False,
            num_warps=s["small_down_warps"], num_stages=s["small_down_stages"])
    if parts is None or "sum" in parts:
        T._splitk_sum[(triton.cdiv(M * H, 1024),)](ws, y, M * H, SPLIT_K=split, BLOCK=1024, GDC=False)
    return y


SEED_GU = {"bn": 64, "bk": 64, "warps": 8, "stages": 5}
SEED_DN = {"bm": 64, "bn": 64, "bk": 128, "split": 4, "warps": 4, "stages": 3}


class Fused:
    """The template's gate-up then its down kernel with the last program summing the partials (LAST), with or
    without PDL; buffers and counters kept across calls."""

    def __init__(self, T, w, M, gu, dn, pdl):
        self.T, self.w, self.M, self.gu, self.dn, self.pdl = T, w, M, gu, dn, pdl
        self.bm = block_m(M, 128)
        self.dbm = block_m(M, dn["bm"])
        self.grid_dn = (triton.cdiv(M, self.dbm), H // dn["bn"], dn["split"])
        self.cnt = torch.zeros(self.grid_dn[0] * self.grid_dn[1], device="cuda", dtype=torch.int32)
        self.ws = torch.empty((dn["split"], M, H), device="cuda", dtype=torch.float32)

    def __call__(self, x, parts=("gateup", "down")):
        w, M, gu, dn = self.w, self.M, self.gu, self.dn
        h = torch.empty((M, I), device="cuda", dtype=torch.bfloat16)
        y = torch.empty((M, H), device="cuda", dtype=torch.bfloat16)
        if "gateup" in parts:
            self.T._gateup_stream[(triton.cdiv(M, self.bm), I // gu["bn"], 1)](
                x, w.wg, w.wu, h, h, h, M, I, H, BLOCK_M=self.bm, BLOCK_N=gu["bn"], BLOCK_K=gu["bk"], SPLIT_K=1,
                EVEN_K=True, GDC=self.pdl, num_warps=gu["warps"], num_stages=gu["stages"])
        if "down" in parts:
            self.T._down_stream[self.grid_dn](
                h, w.wd, self.ws, y, self.cnt, M, H, I, H_PARTS=0, BLOCK_M=self.dbm, BLOCK_N=dn["bn"],
                BLOCK_K=dn["bk"], SPLIT_K=dn["split"], EVEN_K=True, LAST=dn["split"] > 1,
                GDC=self.pdl, num_warps=dn["warps"], num_stages=dn["stages"], launch_pdl=self.pdl)
        return y


def gu_fits(M, c):
    bm = block_m(M, 128)
    return (c["stages"] * (bm + 2 * c["bn"]) * c["bk"] * 2 <= SMEM
            and 2 * bm * c["bn"] // (32 * c["warps"]) <= 128 and I % c["bn"] == 0 and H % c["bk"] == 0)


def dn_fits(M, c):
    bm = block_m(M, c["bm"])
    return (c["stages"] * (bm + c["bn"]) * c["bk"] * 2 <= SMEM and bm * c["bn"] // (32 * c["warps"]) <= 128
            and (I // c["split"]) % c["bk"] == 0)


def sample(space, n, fits, rng):
    pts = [dict(zip(space, vals)) for vals in __import__("itertools").product(*space.values())]
    pts = [p for p in pts if fits(p)]
    rng.shuffle(pts)
    return pts[:n]


def rel_err(out, ref):
    return ((out.float() - ref.float()).norm() / ref.float().norm()).item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=12, help="sampled tile configurations per kernel and M")
    ap.add_argument("--ms", default="1,16,64,128")
    args = ap.parse_args()
    rng = random.Random(0)
    T = template_kernels()
    w = Weights()
    src = torch.empty(2**28, device="cuda")
    dst = torch.empty_like(src)
    copy_gbps = 2 * src.numel() * 4 / bench_us(lambda: dst.copy_(src)) / 1e3
    del src, dst
    res = {"copy_GBps": copy_gbps, "shapes": []}
    gu_space = {"bn": [32, 64, 128], "bk": [64, 128, 256], "warps": [4, 8], "stages": [3, 4, 5, 6]}
    dn_space = {"bm": [64, 128], "bn": [32, 64, 128], "bk": [64, 128, 256], "split": [2, 4, 8], "warps": [4, 8],
                "stages": [3, 4, 5]}
    for M in (int(m) for m in args.ms.split(",")):
        x = torch.randn(M, H, device="cuda", dtype=torch.bfloat16)
        ref = eager(w, x)
        h = torch.nn.functional.silu(x @ w.wg.T) * (x @ w.wu.T)
        row = {"M": M, "floor_us": (w.bytes + 4 * M * H) / copy_gbps / 1e3}
        t = {"eager": bench_us(lambda: eager(w, x)),
             "current": bench_us(lambda: current(T, w, x)),
             "current_gateup": bench_us(lambda: current(T, w, x, ("gateup",))),
             "current_down": bench_us(lambda: current(T, w, x, ("down",))),
             "current_sum": bench_us(lambda: current(T, w, x, ("sum",))),
             "cublas_gateup": bench_us(lambda: torch.mm(x, w.wgu.T)),
             "cublas_down": bench_us(lambda: torch.mm(h, w.wd.T))}
        errs = {"current": rel_err(current(T, w, x), ref)}
        for name, gu, dn, pdl in [("last", SEED_GU, SEED_DN, False), ("last_pdl", SEED_GU, SEED_DN, True)]:
            f = Fused(T, w, M, gu, dn, pdl)
            errs[name] = rel_err(f(x), ref)
            t[name] = bench_us(lambda: f(x))
        print(f"M={M}: " + " ".join(f"{k} {v:.1f}" for k, v in t.items()), flush=True)
        # gate-up tiles alone, then down tiles behind the best gate-up, both with PDL
        gu_rows = []
        for c in [SEED_GU] + sample(gu_space, args.samples, lambda c: gu_fits(M, c), rng):
            f = Fused(T, w, M, c, SEED_DN, True)
            try:
                f(x)
                gu_rows.append({**c, "us": bench_us(lambda: f(x, ("gateup",)), rounds=1)})
            except Exception as exc:  # noqa: BLE001 - a probe: record and go on
                gu_rows.append({**c, "error": str(exc)[:160]})
        best_gu = min((r for r in gu_rows if "us" in r), key=lambda r: r["us"])
        gu = {k: best_gu[k] for k in SEED_GU}
        dn_rows = []
        for c in [SEED_DN, {**SEED_DN, "bm": 128}] + sample(dn_space, args.samples, lambda c: dn_fits(M, c), rng):
            f = Fused(T, w, M, gu, c, True)
            try:
                err = rel_err(f(x), ref)
                dn_rows.append({**c, "us": bench_us(lambda: f(x), rounds=1), "rel_err": err})
            except Exception as exc:  # noqa: BLE001
                dn_rows.append({**c, "error": str(exc)[:160]})
        ok = [r for r in dn_rows if "us" in r and r["rel_err"] < 2e-2]
        best_dn = min(ok, key=lambda r: r["us"]) if ok else None
        if best_dn:
            f = Fused(T, w, M, gu, {k: best_dn[k] for k in SEED_DN}, True)
            errs["best"] = rel_err(f(x), ref)
            t["best"] = bench_us(lambda: f(x))
            t["eager_again"] = bench_us(lambda: eager(w, x))
        row.update(times_us=t, rel_err=errs, best_gateup=best_gu, best_down=best_dn, gateup_rows=gu_rows,
                   down_rows=dn_rows)
        res["shapes"].append(row)
        print(f"  best gate-up {best_gu}\n  best down {best_dn}\n  best total {t.get('best')}", flush=True)
    path = write_result("stream-probe", res)
    print(f"\ncopy {copy_gbps:.0f} GB/s; us (x eager, % of floor)")
    cols = ["eager", "current", "last", "last_pdl", "best"]
    print("   M  floor " + " ".join(f"{c:>18}" for c in cols) + "  gu/cublas_gu  dn+sum/cublas_dn")
    for r in res["shapes"]:
        t, fl = r["times_us"], r["floor_us"]
        cells = " ".join(f"{t[c]:6.1f} ({t['eager'] / t[c]:.2f},{100 * fl / t[c]:3.0f}%)" if c in t else " " * 18
                         for c in cols)
        print(f"{r['M']:4d} {fl:6.1f} {cells}  {t['current_gateup']:.1f}/{t['cublas_gateup']:.1f}"
              f"  {t['current_down']:.1f}+{t['current_sum']:.1f}/{t['cublas_down']:.1f}")
    print("max rel err", max(max(r["rel_err"].values()) for r in res["shapes"]))
    print(path)


if __name__ == "__main__":
    main()
