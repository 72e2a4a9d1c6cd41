"""Strategy hints: rules (here) choose which hints fit a shape or a problem; their wording lives in prompts/hints.j2.

A shape's regime comes first: the first rule of REGIMES that holds names it. Then every rule of SHAPE_HINTS and
GLOBAL_HINTS that holds adds its hint id; prompts/hints.j2 turns the ids into sentences for the coders' prompts,
one line each, in the template's order, with the numbers (floors, split-K factors, row lengths) filled in.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from agentopt.config import PlanConfig
from agentopt.prompts import render

Facts = dict[str, Any]
Rule = Callable[[Facts], bool]

# name -> when a shape is in it (first match wins)
REGIMES: dict[str, Callable[[Facts, PlanConfig], bool]] = {
    "small": lambda f, cfg: f["floor_us"] < cfg.small_floor_us,
    "large": lambda f, cfg: f["bound"] == "compute",
    "weight-streaming": lambda f, cfg: f["weight_bytes"] >= cfg.weight_streaming_fraction * f["bytes"],
    "memory-streaming": lambda f, cfg: True,
}

SHAPE_HINTS: dict[str, Rule] = {
    "one_launch": lambda f: f["regime"] == "small",
    "weight_streaming": lambda f: f["regime"] == "weight-streaming",
    "row_gemv": lambda f: f["regime"] in ("weight-streaming", "small") and f["gemv"],
    "split_k": lambda f: f["regime"] in ("weight-streaming", "small") and bool(f["split_k"]) and not f["gemv"],
    "shared_input_one_pass": lambda f: f["regime"] != "large" and f["shared_input_gemms"],
    "memory_streaming": lambda f: f["regime"] == "memory-streaming",
    "tensor_core_tiles": lambda f: f["regime"] == "large" and f["has_gemm"],
    "tma_tiles": lambda f: f["regime"] == "large" and f["has_gemm"] and f["tma"],
    "shared_input_concat": lambda f: f["regime"] == "large" and f["shared_input_gemms"],
    "epilogue_fusion": lambda f: f["regime"] == "large" and f["gemm_epilogue"],
    "l2_raster": lambda f: f["regime"] == "large" and f["has_gemm"],
    "conv_implicit_gemm": lambda f: f["has_conv"],
    "row_in_registers": lambda f: 0 < f["row"] <= f["row_in_registers"],
    "row_in_chunks": lambda f: f["row"] > f["row_in_registers"],
}

GLOBAL_HINTS: dict[str, Rule] = {
    "floor_assumes_fusion": lambda g: True,
    "fusion_groups": lambda g: bool(g["groups"]),
    "prepare_weights": lambda g: g["has_gemm"] and g["weight_bytes"] > 0,
    "fp32_accumulate": lambda g: g["dtype"] in ("bfloat16", "float16") and (g["has_gemm"] or g["has_reduction"]),
    "dispatch_by_regime": lambda g: len(g["regimes"]) > 1,
}


def regime(facts: Facts, config: PlanConfig) -> str:
    return next(name for name, holds in REGIMES.items() if holds(facts, config))


def gemm_shapes(ops: list) -> list[dict[str, Any]]:
    """(m, n, k) of each 2-D matrix product among the traced ops (mm and addmm)."""
    out = []
    for op in ops:
        if op.kind == "matmul" and op.out_shapes and len(op.out_shapes[0]) == 2:
            m, n = op.out_shapes[0]
            k = op.in_shapes[-1][0] if len(op.in_shapes[-1]) == 2 else 0
            out.append({"name": op.name, "m": m, "n": n, "k": k})
    return out


def split_k(gemms: list[dict[str, Any]], sm_count: int, config: PlanConfig) -> list[dict[str, Any]]:
    """Skinny GEMMs whose output tiles cannot fill the GPU, with a power-of-two split of K that does."""
    found = []
    for g in gemms:
        tiles = math.ceil(g["n"] / config.split_k_tile_n) * math.ceil(g["m"] / 16)
        most = g["k"] // config.split_k_min_chunk
        if tiles < sm_count and most >= 2:
            factor = min(2 ** math.ceil(math.log2(sm_count / tiles)), 2 ** int(math.log2(most)))
            found.append({**g, "tiles": tiles, "factor": factor})
    return found


def _ids(rules: dict[str, Rule], facts: Facts) -> list[str]:
    return [name for name, holds in rules.items() if holds(facts)]


def _lines(ids: list[str], facts: Facts) -> list[str]:
    text = render("hints", ids=ids, f=facts)
    return [line.strip() for line in text.splitlines() if line.strip()]


def shape_hints(facts: Facts) -> list[str]:
    return _lines(_ids(SHAPE_HINTS, facts), facts)


def global_hints(facts: Facts) -> list[str]:
    return _lines(_ids(GLOBAL_HINTS, facts), facts)
