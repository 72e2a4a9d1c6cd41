"""Probe: does the gated-MLP template's fused persistent kernel (`small_fused`: gate-up and down tiles taken by
SMs x occupancy programs from one queue, one launch) beat its two-kernel small path at M <= 128?

Prediction written before the first run: the two-kernel path loses ~15% of the read rate to the uneven tile
counts (224 gate-up tiles on 132 SMs with two a SM leaves 40 SMs with half the work) and ~5 us to the hand-over
between its kernels; a queue evens the work out, so the fused kernel should come within ~5% of a plain read
kernel's 89 us (H200), ~90-95 us at M=1-64 against ~100-106, and the host enqueues one Triton launch instead of
two or three.

Per M in (1, 16, 64, 128): eager, the template's SEED, and fused points (the SEED's fused tiles, hand-picked
ones, --samples more drawn at random), every candidate checked against eager on two calls with two inputs; the
times are do_bench medians with L2 flushed, in --rounds rounds that alternate the variants, and the host's time
to enqueue one call. Also the fused kernel's compiled shared memory and registers (is its K loop pipelined?).
Writes benchmarks/results/<gpu>-fused-probe.json; prints a table last.

    python3 benchmarks/experiments/fused_probe.py [--samples 6] [--rounds 3] [--ms 1,16,64,128] [--library]
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from template_ab import compare, print_table  # noqa: E402
from common import write_result  # noqa: E402

from agentopt.hardware import BUILTIN  # noqa: E402
from agentopt.measure import copy_bandwidth_gbps  # noqa: E402
from agentopt.problems import get_problem  # noqa: E402
from kernels.templates import gated_mlp  # noqa: E402

FUSED_ON = {"small_fused": 1, "small_max_m": 128}
HAND = [  # fused tiles beyond the SEED's: gate-up BN/BK, down BN/BK/slices, programs an SM, warps, stages
    dict(zip(("fused_gu_bn", "fused_gu_bk", "fused_d_bn", "fused_d_bk", "fused_d_split", "fused_occ", "fused_warps",
              "fused_stages"), values))
    for values in [(32, 256, 64, 256, 8, 1, 8, 4), (32, 128, 64, 128, 8, 1, 8, 5), (32, 256, 64, 256, 8, 2, 4, 3),
                   (16, 256, 32, 256, 8, 2, 4, 4), (64, 128, 64, 128, 8, 1, 8, 4), (32, 128, 64, 128, 8, 2, 8, 4),
                   (32, 128, 64, 128, 8, 1, 8, 4)]
]


def compiled_stats(namespace: dict) -> list[dict]:
    """Shared memory, registers and spills of each compiled specialisation of the candidate's fused kernel."""
    out = []
    kernel = namespace.get("_ffn_fused")
    for caches in getattr(kernel, "device_caches", {}).values():
        for ck in caches[0].values():
            out.append({"shared": ck.metadata.shared, "regs": getattr(ck, "n_regs", None),
                        "spills": getattr(ck, "n_spills", None)})
    return out


def points(samples: int, rng: random.Random, dims) -> list[tuple[str, dict]]:
    h200 = BUILTIN["h200"]
    seed = gated_mlp.SEED
    out = [("seed", dict(seed)), ("fused-seed", {**seed, **FUSED_ON})]
    out += [(f"fused-hand{i}", {**seed, **FUSED_ON, **p}) for i, p in enumerate(HAND)]
    keys = [k for k in gated_mlp.SPACE if k.startswith("fused_")]
    tries = 0
    while len(out) < 2 + len(HAND) + samples and tries < 1000:
        tries += 1
        p = {**seed, **FUSED_ON, **{k: rng.choice(gated_mlp.SPACE[k]) for k in keys}}
        if gated_mlp.prune(p, h200, dims) is None and p not in [q for _, q in out]:
            out.append((f"fused-rand{len(out)}", p))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ms", default="1,16,64,128")
    ap.add_argument("--library", action="store_true", help="also time the committed library's kernel")
    args = ap.parse_args()
    if args.library:
        from agentopt import kernels

        library = kernels.load("llama3-8b-ffn", device="cuda")
    problem = get_problem("llama3-8b-ffn")
    ms = [int(m) for m in args.ms.split(",")]
    dims = [gated_mlp.dims(problem, {"M": m}) for m in ms]
    variants = points(args.samples, random.Random(3), dims)
    tmp = Path(tempfile.mkdtemp())
    copy = copy_bandwidth_gbps()
    rows, stats = [], {}

    def on_loaded(name, new):
        if name.startswith("fused"):
            stats[name] = compiled_stats(type(new).prepare.__globals__)

    extra = {}
    if args.library:  # the committed library's kernel, given each M's weights
        def library_fn(model, inputs):
            library.load_state_dict(model.state_dict())
            return lambda: library(*inputs)
        extra["library"] = library_fn
    with torch.no_grad():
        for M in ms:
            rows += compare(problem, M, variants, args.rounds, tmp, copy, extra, on_loaded)
            print(f"M={M} done", flush=True)
    params = {n: {k: v for k, v in p.items() if k.startswith("fused_")} for n, p in variants}
    path = write_result("fused-probe", {"gpu": torch.cuda.get_device_name(0), "copy_GBps": copy, "params": params,
                                        "compiled": stats, "rows": rows})
    print(path)
    print_table(rows)
    for n, s in stats.items():
        print(n, params[n], s)


if __name__ == "__main__":
    main()
