"""The run's eager baselines per shape, so that a search scores each candidate against a steady one.

Each evaluation times eager beside its candidate, interleaved in one worker. At small M eager is bound by the host
(a dozen launches from Python, 60-130 us of host time a call for llama3-8b-ffn at M=1 on an H200), and while other
workers compile candidates the host queues eager's kernels late and its times grow; a candidate whose launches are
bound (a few microseconds of host time) does not slow down with it. In a 5-minute template search on an H200
(2026-11-30), 3 of 99 evaluations read eager 1.16-2.32x slower than the run's median at M=1-128, and one of them
scored 1.56 where its own times matched candidates that scored 1.10: the run showed it as its best.

So before the search ranks an evaluation, each shape whose baseline reads more than `slack` times the median of the
run's measured baselines for that shape (once `min_seen` are known, its own among them) is scored against that
median instead. The evaluation keeps what it measured (baseline_ms) and says what it was scored against
(steady_baseline_ms). Only ever lower: a baseline below the median is the evaluation's own, so a candidate is never
scored faster than its own measurement says.
"""
from __future__ import annotations

import statistics
from typing import Any

from agentopt.problems import shape_label
from agentopt.sandbox.records import geomean


class SteadyBaseline:
    def __init__(self, slack: float = 1.10, min_seen: int = 3):
        self.slack = slack
        self.min_seen = min_seen
        self.seen: dict[str, list[float]] = {}

    def observe(self, evaluation: dict[str, Any]) -> None:
        """Remember the baselines an ok evaluation measured (a dumped Evaluation)."""
        if evaluation.get("status") != "ok":
            return
        for s in evaluation.get("shapes", []):
            if s.get("baseline_ms"):
                self.seen.setdefault(shape_label(s["shape"]), []).append(s["baseline_ms"])

    def steady(self, evaluation: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The evaluation with its speedups and score against the steady baselines (a copy of it and of its shapes
        where one changes; the caller's dict is never changed), and a sentence for each shape whose baseline was
        replaced."""
        if evaluation.get("status") != "ok":
            return evaluation, []
        out = {**evaluation, "shapes": [dict(s) for s in evaluation.get("shapes", [])]}
        notes = []
        for s in out["shapes"]:
            label, base, t = shape_label(s["shape"]), s.get("baseline_ms"), s.get("time_ms")
            seen = self.seen.get(label, [])
            if not (base and t) or len(seen) < self.min_seen:
                continue
            median = statistics.median(seen)
            if base > self.slack * median:
                s["steady_baseline_ms"], s["speedup"] = median, median / t
                notes.append(f"{label}: eager read {base:.4g} ms beside it, {base / median:.2f}x the run's median "
                             f"{median:.4g} ms of {len(seen)}; scored against the median ({base / t:.3g}x -> "
                             f"{median / t:.3g}x)")
        if not notes:
            return evaluation, notes
        out["score"] = geomean([s.get("speedup") for s in out["shapes"]])
        return out, notes
