"""Re-verification before admission: a winner is evaluated again with more seeds on every shape, `repeats` times
(fresh seeds each evaluator, timing repeated); it passes only if every repeat is ok, and each shape keeps its slowest
repeat's time (the conservative figure)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel

from agentopt.config import EvalConfig, HarvestConfig

from .index import ShapeTiming, Verification


class Verified(BaseModel):
    candidate: str
    verification: Verification
    measured: list[ShapeTiming] = []
    error: str | None = None  # why the winner is left out; None when it passed


def _evaluator(problem, device: str, seeds: int, info: dict[str, Any]):
    from agentopt.hardware import HardwareProfile
    from agentopt.sandbox.evaluator import Evaluator
    from agentopt.sandbox.records import ShapeCost

    plan_shapes = (info.get("plan") or {}).get("shapes") or []
    costs = [ShapeCost(shape=s["shape"], flops=s["flops"], bytes=s["bytes"]) for s in plan_shapes
             if s.get("flops") is not None and s.get("bytes") is not None] or None
    hardware = HardwareProfile(**info["hardware"]) if device == "cuda" and info.get("hardware") else None
    return Evaluator(problem, device=device, config=EvalConfig(seeds_per_shape=seeds), hardware=hardware, costs=costs)


def verify(problem, sources: dict[str, str], device: str, info: dict[str, Any], config: HarvestConfig,
           progress=None) -> list[Verified]:
    """Each candidate's source re-verified; sources: candidate id -> source."""
    evaluations: dict[str, list] = {cid: [] for cid in sources}
    for repeat in range(config.repeats):
        evaluator = _evaluator(problem, device, config.seeds_per_shape, info)
        try:
            for cid, source in sources.items():
                if evaluations[cid] and not evaluations[cid][-1].ok:
                    continue  # failed once: out
                if progress:
                    progress(f"re-verifying {cid} ({repeat + 1}/{config.repeats}, "
                             f"{config.seeds_per_shape} seeds a shape)")
                evaluations[cid].append(evaluator.evaluate(source))
        finally:
            evaluator.close()
    return [_combine(cid, evs, device, config) for cid, evs in evaluations.items()]


def _combine(cid: str, evaluations: list, device: str, config: HarvestConfig) -> Verified:
    date = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    worst = next((e for e in evaluations if not e.ok), evaluations[-1])
    held = [e.compile.held_bytes for e in evaluations if e.compile and e.compile.held_bytes is not None]
    verification = Verification(status=worst.status, reason=worst.reason, date=date, device=device, gpu=worst.gpu,
                                seeds_per_shape=config.seeds_per_shape, repeats=len(evaluations),
                                held_bytes=max(held, default=None))
    if not worst.ok:
        return Verified(candidate=cid, verification=verification,
                        error=f"failed re-verification ({worst.status}): {worst.reason}")
    measured = []
    for i, first in enumerate(evaluations[0].shapes):
        slowest = max((e.shapes[i] for e in evaluations), key=lambda r: r.time_ms or 0.0)
        measured.append(ShapeTiming(shape=first.shape, time_ms=slowest.time_ms, baseline_ms=slowest.baseline_ms,
                                    speedup=slowest.speedup, fraction_of_floor=slowest.fraction_of_floor,
                                    rel_err=max((e.shapes[i].rel_err or 0.0) for e in evaluations)))
    speedups = [m.speedup for m in measured if m.speedup]
    product = 1.0
    for s in speedups:
        product *= s
    verification.score = product ** (1 / len(speedups)) if speedups else 0.0
    return Verified(candidate=cid, verification=verification, measured=measured)
