"""The leaderboard: candidates ranked by score, the best per shape, and the best score as the run went on."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentopt.runs import CandidateRecord

from .run_view import shape_key


@dataclass
class LeaderRow:
    rank: int
    id: str
    coder: str
    status: str
    score: float
    parents: list[str]
    how: str  # the template and its point, or the LLM model
    speedups: dict[str, float | None] = field(default_factory=dict)  # per shape key
    fraction_of_floor: dict[str, float | None] = field(default_factory=dict)


def how_made(c: CandidateRecord) -> str:
    """One line on where a candidate came from: 'template tiled_gemm BLOCK_M=64 ...' or 'llm:model'."""
    if c.template:
        params = " ".join(f"{k}={v}" for k, v in (c.params or {}).items())
        return f"{c.template} {params}".strip()
    return c.coder


def shape_results(c: CandidateRecord) -> dict[str, dict[str, Any]]:
    return {shape_key(s.get("shape") or {}): s for s in (c.evaluation or {}).get("shapes", [])}


def leaderboard(candidates: list[CandidateRecord], top: int | None = None) -> list[LeaderRow]:
    """Evaluated candidates, best score first (ties: the earlier one); failed ones last, in creation order."""
    evaluated = [c for c in candidates if c.status is not None]
    ranked = sorted(evaluated, key=lambda c: (not c.ok, -(c.score or 0.0), c.created_at))
    rows = []
    for i, c in enumerate(ranked[:top] if top else ranked, start=1):
        shapes = shape_results(c)
        rows.append(LeaderRow(rank=i, id=c.id, coder=c.coder, status=c.status or "pending", score=c.score or 0.0,
                              parents=list(c.parents), how=how_made(c),
                              speedups={k: s.get("speedup") for k, s in shapes.items()},
                              fraction_of_floor={k: s.get("fraction_of_floor") for k, s in shapes.items()}))
    return rows


def best_per_shape(candidates: list[CandidateRecord]) -> dict[str, dict[str, Any]]:
    """For each shape key, the fastest correct candidate: {'id', 'time_ms', 'baseline_ms', 'speedup', ...}."""
    best: dict[str, dict[str, Any]] = {}
    for c in candidates:
        if not c.ok:
            continue
        for key, s in shape_results(c).items():
            if s.get("time_ms") and s.get("correct") and (key not in best or s["time_ms"] < best[key]["time_ms"]):
                best[key] = {**s, "id": c.id}
    return best


def best_over_time(candidates: list[CandidateRecord], evaluated_at: dict[str, float], start: float
                   ) -> list[dict[str, Any]]:
    """Each evaluated candidate in the order its verdict came: seconds since the start, its score, the best so far."""
    evaluated = sorted((c for c in candidates if c.status is not None), key=lambda c: evaluated_at[c.id])
    points, best = [], 0.0
    for i, c in enumerate(evaluated, start=1):
        score = (c.score or 0.0) if c.ok else 0.0
        best = max(best, score)
        points.append({"n": i, "id": c.id, "seconds": evaluated_at[c.id] - start, "score": score, "best": best,
                       "ok": c.ok})
    return points
