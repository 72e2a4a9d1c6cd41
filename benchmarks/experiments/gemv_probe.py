"""Probe: how close do simple Triton GEMV designs get to the weight-streaming floor of llama3-8b-ffn at small M?

Times, per M in (1, 16, 64, 128): eager; a fused gate+up+SwiGLU kernel (reduction form for M<=8 rows, tl.dot form
otherwise) followed by a split-K down kernel, over a few block configurations; and a pure-read kernel that only
sums the weights (the practical read ceiling). Writes benchmarks/results/<gpu>-gemv-probe.json.
"""
from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import torch
import triton
import triton.language as tl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import bench_us, write_result  # noqa: E402

H, I = 4096, 14336


@triton.jit
def gate_up_dot(x, wg, wu, h, M, N, K, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr,
                SPLIT: tl.constexpr):
    pid_n = tl.program_id(0)
    pid_m = tl.program_id(1)
    rm = pid_m * BM + tl.arange(0, BM)
    rn = pid_n * BN + tl.arange(0, BN)
    rk = tl.arange(0, BK)
    acc_g = tl.zeros((BM, BN), tl.float32)
    acc_u = tl.zeros((BM, BN), tl.float32)
    for k0 in range(0, K, BK):
        xk = tl.load(x + rm[:, None] * K + (k0 + rk)[None, :], mask=rm[:, None] < M, other=0.0)
        g = tl.load(wg + rn[:, None] * K + (k0 + rk)[None, :])
        u = tl.load(wu + rn[:, None] * K + (k0 + rk)[None, :])
        acc_g += tl.dot(xk, tl.trans(g))
        acc_u += tl.dot(xk, tl.trans(u))
    out = acc_g / (1.0 + tl.exp(-acc_g)) * acc_u
    tl.store(h + rm[:, None] * N + rn[None, :], out.to(tl.bfloat16), mask=rm[:, None] < M)


@triton.jit
def gate_up_gemv(x, wg, wu, h, M, N, K, BN: tl.constexpr, BK: tl.constexpr):
    # one row of x per program along axis 1; reduction form (no tensor cores)
    pid_n = tl.program_id(0)
    m = tl.program_id(1)
    rn = pid_n * BN + tl.arange(0, BN)
    rk = tl.arange(0, BK)
    acc_g = tl.zeros((BN, BK), tl.float32)
    acc_u = tl.zeros((BN, BK), tl.float32)
    for k0 in range(0, K, BK):
        xk = tl.load(x + m * K + k0 + rk).to(tl.float32)
        g = tl.load(wg + rn[:, None] * K + (k0 + rk)[None, :])
        u = tl.load(wu + rn[:, None] * K + (k0 + rk)[None, :])
        acc_g += g.to(tl.float32) * xk[None, :]
        acc_u += u.to(tl.float32) * xk[None, :]
    sg = tl.sum(acc_g, axis=1)
    su = tl.sum(acc_u, axis=1)
    tl.store(h + m * N + rn, (sg / (1.0 + tl.exp(-sg)) * su).to(tl.bfloat16))


@triton.jit
def down_gemv_splitk(h, wd, out32, M, N, K, BN: tl.constexpr, BK: tl.constexpr, SPLIT: tl.constexpr):
    pid_n = tl.program_id(0)
    m = tl.program_id(1)
    s = tl.program_id(2)
    rn = pid_n * BN + tl.arange(0, BN)
    rk = tl.arange(0, BK)
    k_per = K // SPLIT
    acc = tl.zeros((BN, BK), tl.float32)
    for k0 in range(s * k_per, (s + 1) * k_per, BK):
        hk = tl.load(h + m * K + k0 + rk).to(tl.float32)
        w = tl.load(wd + rn[:, None] * K + (k0 + rk)[None, :])
        acc += w.to(tl.float32) * hk[None, :]
    tl.atomic_add(out32 + m * N + rn, tl.sum(acc, axis=1))


@triton.jit
def down_dot_splitk(h, wd, out32, M, N, K, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr,
                    SPLIT: tl.constexpr):
    pid_n = tl.program_id(0)
    pid_m = tl.program_id(1)
    s = tl.program_id(2)
    rm = pid_m * BM + tl.arange(0, BM)
    rn = pid_n * BN + tl.arange(0, BN)
    rk = tl.arange(0, BK)
    k_per = K // SPLIT
    acc = tl.zeros((BM, BN), tl.float32)
    for k0 in range(s * k_per, (s + 1) * k_per, BK):
        hk = tl.load(h + rm[:, None] * K + (k0 + rk)[None, :], mask=rm[:, None] < M, other=0.0)
        w = tl.load(wd + rn[:, None] * K + (k0 + rk)[None, :])
        acc += tl.dot(hk, tl.trans(w))
    tl.atomic_add(out32 + rm[:, None] * N + rn[None, :], acc, mask=rm[:, None] < M)


@triton.jit
def read_all(w, out, n, BLOCK: tl.constexpr, ITERS: tl.constexpr):
    pid = tl.program_id(0)
    acc = tl.zeros((BLOCK,), tl.float32)
    base = pid * BLOCK * ITERS
    for i in range(ITERS):
        acc += tl.load(w + base + i * BLOCK + tl.arange(0, BLOCK)).to(tl.float32)
    tl.store(out + pid, tl.sum(acc))


def ffn_triton(x, wg, wu, wd, cfg):
    M = x.shape[0]
    h = torch.empty(M, I, device=x.device, dtype=torch.bfloat16)
    out32 = torch.zeros(M, H, device=x.device, dtype=torch.float32)
    if cfg["gu"] == "gemv":
        gate_up_gemv[(I // cfg["gu_bn"], M)](x, wg, wu, h, M, I, H, BN=cfg["gu_bn"], BK=cfg["gu_bk"],
                                             num_warps=cfg["gu_w"])
    else:
        gate_up_dot[(I // cfg["gu_bn"], triton.cdiv(M, cfg["bm"]))](x, wg, wu, h, M, I, H, BM=cfg["bm"],
                                                                    BN=cfg["gu_bn"], BK=cfg["gu_bk"], SPLIT=1,
                                                                    num_warps=cfg["gu_w"], num_stages=cfg["st"])
    if cfg["dn"] == "gemv":
        down_gemv_splitk[(H // cfg["dn_bn"], M, cfg["split"])](h, wd, out32, M, H, I, BN=cfg["dn_bn"],
                                                               BK=cfg["dn_bk"], SPLIT=cfg["split"],
                                                               num_warps=cfg["dn_w"])
    else:
        down_dot_splitk[(H // cfg["dn_bn"], triton.cdiv(M, cfg["bm"]), cfg["split"])](
            h, wd, out32, M, H, I, BM=cfg["bm"], BN=cfg["dn_bn"], BK=cfg["dn_bk"], SPLIT=cfg["split"],
            num_warps=cfg["dn_w"], num_stages=cfg["st"])
    return out32.to(torch.bfloat16)


def main():
    torch.manual_seed(0)
    dev = "cuda"
    wg = torch.randn(I, H, device=dev, dtype=torch.bfloat16) * 0.02
    wu = torch.randn(I, H, device=dev, dtype=torch.bfloat16) * 0.02
    wd = torch.randn(H, I, device=dev, dtype=torch.bfloat16) * 0.02
    wbytes = 3 * H * I * 2
    # practical read ceiling: sum all weights once
    flat = torch.cat([wg.flatten(), wu.flatten(), wd.flatten()])
    n = flat.numel()
    res = {"read_ceiling": {}}
    for block, iters, warps in [(1024, 16, 4), (2048, 8, 8), (4096, 8, 8), (1024, 64, 4)]:
        o = torch.empty(n // (block * iters), device=dev)
        t = bench_us(lambda: read_all[(n // (block * iters),)](flat, o, n, BLOCK=block, ITERS=iters, num_warps=warps))
        res["read_ceiling"][f"{block}x{iters}w{warps}"] = {"us": t, "GBps": wbytes / t / 1e3}
        print("read", block, iters, warps, f"{t:.1f}us {wbytes / t / 1e3:.0f} GB/s", flush=True)
    del flat
    copy_src = torch.empty(2**28, device=dev)
    copy_dst = torch.empty_like(copy_src)
    t = bench_us(lambda: copy_dst.copy_(copy_src))
    res["copy_GBps"] = 2 * copy_src.numel() * 4 / t / 1e3
    print(f"copy {res['copy_GBps']:.0f} GB/s", flush=True)
    del copy_src, copy_dst

    gemv_cfgs = [dict(gu="gemv", gu_bn=bn, gu_bk=bk, gu_w=w, dn="gemv", dn_bn=dbn, dn_bk=dbk, split=sp, dn_w=dw)
                 for bn, bk, w in [(16, 256, 4), (32, 128, 4), (8, 512, 4), (16, 512, 8), (32, 256, 8)]
                 for dbn, dbk, sp, dw in [(16, 256, 4, 4), (32, 128, 2, 4), (16, 512, 8, 8), (8, 512, 4, 4)]]
    dot_cfgs = [dict(gu="dot", gu_bn=bn, gu_bk=bk, gu_w=w, bm=bm, st=st, dn="dot", dn_bn=dbn, dn_bk=dbk, split=sp,
                     dn_w=w)
                for bm in (16, 64) for bn, bk, w, st in [(64, 128, 4, 4), (32, 256, 4, 3), (128, 64, 4, 4),
                                                         (64, 64, 4, 5)]
                for dbn, dbk, sp in [(64, 128, 4), (32, 128, 8), (128, 64, 2)]]
    for M in (1, 16, 64, 128):
        x = torch.randn(M, H, device=dev, dtype=torch.bfloat16)
        ref = (torch.nn.functional.silu(x @ wg.T) * (x @ wu.T)) @ wd.T
        eager = bench_us(lambda: (torch.nn.functional.silu(x @ wg.T) * (x @ wu.T)) @ wd.T)
        floor_us = (wbytes + 4 * M * H) / res["copy_GBps"] / 1e3
        best = None
        cands = (gemv_cfgs if M <= 16 else []) + [c for c in dot_cfgs if c["bm"] <= max(16, M)]
        cands = [c for c in cands if (I // c["split"]) % c["dn_bk"] == 0]  # a split must hold whole K blocks
        rows = []
        for cfg in cands:
            try:
                out = ffn_triton(x, wg, wu, wd, cfg)
                err = ((out.float() - ref.float()).norm() / ref.float().norm()).item()
                t = bench_us(lambda: ffn_triton(x, wg, wu, wd, cfg), rounds=1)
            except Exception as exc:  # noqa: BLE001 - a probe: record and go on
                rows.append({"cfg": cfg, "error": str(exc)[:200]})
                continue
            rows.append({"cfg": cfg, "us": t, "rel_err": err})
            if err < 2e-2 and (best is None or t < best["us"]):
                best = {"cfg": cfg, "us": t, "rel_err": err}
        res[f"M{M}"] = {"eager_us": eager, "floor_us": floor_us, "best": best, "all": rows}
        print(f"M={M}: eager {eager:.1f}us floor {floor_us:.1f}us best {best['us'] if best else None} {best}",
              flush=True)
    path = write_result("gemv-probe", res)
    print("\nsummary")
    for M in (1, 16, 64, 128):
        r = res[f"M{M}"]
        b = r["best"]
        print(f"M={M:4d} eager {r['eager_us']:7.1f} best {b['us']:7.1f} floor {r['floor_us']:6.1f} "
              f"x{r['eager_us'] / b['us']:.2f} {100 * r['floor_us'] / b['us']:.0f}%floor {b['cfg']}")
    print("read ceiling", {k: round(v["GBps"]) for k, v in res["read_ceiling"].items()}, "copy", round(res["copy_GBps"]))
    print(path)


if __name__ == "__main__":
    main()
