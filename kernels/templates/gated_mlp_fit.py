"""The gated-MLP template's fit checks: why a point cannot run on a GPU (shared memory, registers, tiles that do
not divide the sizes, counters), per path, for prune()."""
from __future__ import annotations

from typing import Any

from ._base import next_pow2


def _check_stream(what: str, p: dict[str, Any], keys: tuple[str, ...], bm: int, accs: int, n: int, k: int,
                  d: dict[str, int], smem_cap: int, dot: bool) -> str | None:
    """One streaming kernel's tiles: `keys` name its block_n, block_k, split, warps, stages parameters."""
    bn, bk, split, warps, stages = (p[key] if isinstance(key, str) else key for key in keys)
    threads = 32 * warps
    if dot:
        smem = stages * (bm + accs * bn) * bk * d["bytes"]
        if smem > smem_cap:
            return f"{what}: shared memory {smem} B for {stages} stages of its tiles > {smem_cap} B"
        if accs * bm * bn // threads > 128:
            return f"{what}: {accs} {bm}x{bn} accumulators need {accs * bm * bn // threads} registers a thread (> 128)"
        if 16 * bn < 4 * threads:
            return f"{what}: a 16x{bn} tile leaves most of {warps} warps idle"
    elif accs * bm * bn * bk // threads > 128:  # a GEMV's lanes keep their float32 products over the loop
        regs = accs * bm * bn * bk // threads
        return f"{what}: {accs} {bn}x{bk} float32 products need {regs} registers a thread (> 128)"
    if n % bn or k % (bk * split):
        return f"{what}: blocks {bn}x{bk} (split {split}) do not divide N={n}, K={k}"
    return None


def prune(params: dict[str, Any], hardware, shapes: list[dict[str, int]]) -> str | None:
    """Why the point cannot fit on `hardware` (None: Triton's interpreter, where every point runs)."""
    if hardware is None:
        return None
    p = params
    cap = hardware.smem_per_block_bytes
    for d in shapes:
        checks = []
        if p["fma_max_m"]:  # one token, no split
            checks += [("tiny gate-up", ("fma_block_n", "fma_block_k", 1, "fma_warps", "fma_stages"), 1, 2, d["N"],
                        d["K"], False),
                       ("tiny down", ("fma_down_block_n", "fma_down_block_k", 1, "fma_down_warps", "fma_down_stages"),
                        1, 1, d["K"], d["N"], False)]
        checks += [("small gate-up",
                    ("small_block_n", "small_block_k", "small_gu_split", "small_warps", "small_stages"),
                    p["small_block_m"], 2, d["N"], d["K"], True),
                   ("small down", ("small_down_block_n", "small_down_block_k", "small_down_split", "small_down_warps",
                                   "small_down_stages"), p["small_down_block_m"], 1, d["K"], d["N"], True)]
        for what, keys, bm, accs, n, k, dot in checks:
            why = _check_stream(what, p, keys, bm, accs, n, k, d, cap, dot)
            if why:
                return why
        why = _check_parts(p, d, cap) or _check_fused(p, d, cap)
        if why:
            return why
        why = _prune_large(p, d, cap)
        if why:
            return why
    return None


def _check_parts(p: dict[str, Any], d: dict[str, int], smem_cap: int) -> str | None:
    """The gate-up kernel's float32 partials: with `last`, a counter for each of its tiles at the path's largest M;
    else the small down kernel loading them, 2 x split tiles of BM x BK a step."""
    split = p["small_gu_split"]
    if split == 1:
        return None
    if p["small_gu_reduce"] == "last":
        m = p["small_max_m"]
        tiles = -(-m // min(p["small_block_m"], max(16, next_pow2(m)))) * -(-d["N"] // p["small_block_n"])
        if tiles > SYNC_INTS:
            return f"small gate-up: {tiles} tiles at M={m} need more counters than {SYNC_INTS}"
        return None
    bm, bn, bk, stages = (p[k] for k in ("small_down_block_m", "small_down_block_n", "small_down_block_k",
                                         "small_down_stages"))
    smem = stages * (2 * split * bm * bk * 4 + bn * bk * d["bytes"])
    if smem > smem_cap:
        return (f"small down: {stages} stages of {split} x 2 float32 {bm}x{bk} partial tiles need {smem} B"
                f" > {smem_cap} B")
    regs = 2 * bm * bk // (32 * p["small_down_warps"])
    if regs > 128:
        return f"small down: summing the partials needs {regs} registers a thread (> 128)"
    return None


FUSED_MAX_M = 128  # the fused kernel holds all of M in one tile
SYNC_INTS = 4096  # the model's int32 counters (tile counters; the fused kernel's queue and slice counters)


def _check_fused(p: dict[str, Any], d: dict[str, int], smem_cap: int) -> str | None:
    """The fused kernel at a shape it serves: one BLOCK_M tile of all M, gate-up and down tiles dividing the
    sizes (no masks on the weights), D_SPLIT slices of INTER each made of whole gate-up tiles."""
    if not p["small_fused"] or d["M"] > min(p["small_max_m"], FUSED_MAX_M) or d["M"] <= p["fma_max_m"]:
        return None
    bm = max(16, next_pow2(d["M"]))
    gu_bn, gu_bk, d_bn, d_bk, split = (p[k] for k in ("fused_gu_bn", "fused_gu_bk", "fused_d_bn", "fused_d_bk",
                                                      "fused_d_split"))
    threads = 32 * p["fused_warps"]
    smem = p["fused_stages"] * max((bm + 2 * gu_bn) * gu_bk, (bm + d_bn) * d_bk) * d["bytes"]
    if smem > smem_cap:
        return f"fused: shared memory {smem} B for {p['fused_stages']} stages of its tiles at M={d['M']} > {smem_cap} B"
    if (2 * gu_bn + d_bn) * bm // threads > 32:
        # both branches' accumulators live in one kernel: 4 warps at BLOCK_M 16 with gate-up 64 rows took 254
        # registers, and BLOCK_M 128 spilled at every 4-warp point (H200, benchmarks/experiments/fused_probe.py)
        return (f"fused: gate-up and down accumulators of {bm} rows ({2 * gu_bn} + {d_bn} columns) need too many"
                f" registers a thread with {p['fused_warps']} warps")
    if d["N"] % (split * d_bk) or (d["N"] // split) % gu_bn or d["K"] % gu_bk or d["K"] % d_bn:
        return (f"fused: tiles {gu_bn}x{gu_bk} (gate-up), {d_bn}x{d_bk} in {split} slices (down) do not divide"
                f" N={d['N']}, K={d['K']}")
    if 2 + split + d["K"] // d_bn > SYNC_INTS:
        return f"fused: {d['K'] // d_bn} down tiles need more counters than {SYNC_INTS}"
    return None


def _prune_large(p: dict[str, Any], d: dict[str, int], smem_cap: int) -> str | None:
    bm, bn, bk, st = p["large_block_m"], p["large_block_n"], p["large_block_k"], p["large_stages"]
    threads = 32 * p["large_warps"]
    gemms = []  # (what, accumulators, N, K)
    if p["large_gateup"] in ("triton", "tma"):
        gemms.append(("gate-up GEMM", 2, d["N"], d["K"], p["large_gateup"] == "tma"))
    if p["large_down"] in ("triton", "tma"):
        gemms.append(("down GEMM", 1, d["K"], d["N"], p["large_down"] == "tma"))
    for what, accs, n, k, tma in gemms:
        # the TMA kernel also stages its output tile in shared memory for the copy engine's store
        smem = st * (bm + accs * bn) * bk * d["bytes"] + (bm * bn * d["bytes"] if tma else 0)
        if smem > smem_cap:
            return f"large path, {what}: shared memory {smem} B at {st} stages > {smem_cap} B"
        if accs * bm * bn // threads > 128:
            return f"large path, {what}: accumulators need {accs * bm * bn // threads} registers a thread (> 128)"
        if n % bn or k % bk:
            return f"large path, {what}: blocks {bn}x{bk} do not divide N={n}, K={k}"
    return None
