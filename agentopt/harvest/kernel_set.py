"""The kernel set, as vLLM's select_kernels does it: the fewest kernels that stay within `keep` (98%) of the best
kernel on every shape. Greedy set cover: take the kernel that covers the most shapes not yet covered (ties: the
faster over those shapes), until every shape that any kernel serves is covered; then each shape goes to the fastest
chosen kernel that covers it."""
from __future__ import annotations

import math


def select_kernels(times: dict[str, dict[str, float]], keep: float = 0.98
                   ) -> tuple[list[str], dict[str, str], dict[str, dict[str, float]]]:
    """times: kernel -> shape -> ms (only the shapes the kernel may serve). Returns (chosen kernels in order of
    choice, shape -> kernel that serves it, kernel -> shape -> fraction of the best time on that shape)."""
    shapes = sorted({s for per_shape in times.values() for s in per_shape})
    best = {s: min(t[s] for t in times.values() if s in t) for s in shapes}
    fraction = {k: {s: best[s] / t for s, t in per_shape.items()} for k, per_shape in times.items()}
    covers = {k: {s for s, f in fr.items() if f >= keep} for k, fr in fraction.items()}
    chosen: list[str] = []
    uncovered = set(shapes)
    while uncovered:
        def gain(k: str) -> tuple[int, float, str]:
            new = covers[k] & uncovered
            log_time = sum(math.log(times[k][s]) for s in new)
            return len(new), -log_time, k  # more shapes first; then faster on them; then a stable name order

        pick = max((k for k in times if k not in chosen), key=gain)
        if not covers[pick] & uncovered:
            break  # cannot happen: the best kernel of a shape always covers it
        chosen.append(pick)
        uncovered -= covers[pick]
    assignment = {s: min((k for k in chosen if s in covers[k]), key=lambda k: times[k][s]) for s in shapes}
    return chosen, assignment, fraction
