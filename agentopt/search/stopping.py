"""When a search stops: the time budget, the candidate count, the LLM's token or cost budget, the best kernels
within a set fraction of the floor on every shape, Ctrl-C, or coders that only repeat themselves.

Each rule looks at the run's state and returns the reason to stop (a sentence for run.json and the transcript) or
None; the first rule that answers stops the run. A rule is a small function in `RULES`.
"""
from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class StopState:
    """What the rules look at; the loop keeps it current."""
    started: float = field(default_factory=time.monotonic)
    budget_s: float | None = None
    max_candidates: int | None = None
    candidates: int = 0  # recorded in the run, earlier sessions included
    in_flight: int = 0  # steps started and not yet recorded
    llm_reason: Callable[[], str | None] | None = None  # the LLM client's budget_reason, when an LLM codes
    best_fractions: dict[str, float] = field(default_factory=dict)  # shape label -> best fraction of floor
    shapes: list[str] = field(default_factory=list)
    stop_fraction: float | None = None
    duplicates_in_a_row: int = 0
    max_duplicates_in_a_row: int = 50
    interrupted: str | None = None
    fatal: str | None = None  # something the search cannot go on without failed (the evaluator's reference)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def time_left(self) -> float | None:
        return None if self.budget_s is None else max(0.0, self.budget_s - self.elapsed())


def _interrupt(s: StopState) -> str | None:
    return s.interrupted or s.fatal


def _time(s: StopState) -> str | None:
    if s.budget_s is not None and s.elapsed() >= s.budget_s:
        return f"time budget spent ({s.budget_s / 60:.1f} min)"
    return None


def _count(s: StopState) -> str | None:
    if s.max_candidates is not None and s.candidates >= s.max_candidates:
        return f"candidate count reached ({s.candidates} of {s.max_candidates})"
    return None


def _llm(s: StopState) -> str | None:
    reason = s.llm_reason() if s.llm_reason else None
    return f"LLM {reason}" if reason else None


def _floor(s: StopState) -> str | None:
    if not s.stop_fraction or not s.shapes or any(label not in s.best_fractions for label in s.shapes):
        return None
    if all(s.best_fractions[label] >= s.stop_fraction for label in s.shapes):
        worst = min(s.best_fractions[label] for label in s.shapes)
        return f"every shape is within {s.stop_fraction:.0%} of its floor (worst {worst:.0%})"
    return None


def _duplicates(s: StopState) -> str | None:
    if s.duplicates_in_a_row >= s.max_duplicates_in_a_row:
        return f"the coders proposed only candidates already seen ({s.duplicates_in_a_row} in a row)"
    return None


RULES: list[Callable[[StopState], str | None]] = [_interrupt, _time, _count, _llm, _floor, _duplicates]


def stop_reason(s: StopState) -> str | None:
    for rule in RULES:
        reason = rule(s)
        if reason:
            return reason
    return None


def may_start(s: StopState) -> bool:
    """Whether another step may begin: no stop reason, and the candidate count leaves room for it beside the
    steps already in flight."""
    if stop_reason(s):
        return False
    return s.max_candidates is None or s.candidates + s.in_flight < s.max_candidates


_SIGNALS = {signal.SIGINT: "interrupted (Ctrl-C)", signal.SIGTERM: "terminated (SIGTERM)"}


class CtrlC:
    """Within `with CtrlC(state):`, a first Ctrl-C (or SIGTERM) asks the run to stop cleanly, recording what is
    done; a second Ctrl-C interrupts at once."""

    def __init__(self, state: StopState):
        self.state = state
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.state.interrupted:
            raise KeyboardInterrupt
        self.state.interrupted = _SIGNALS[signum]

    def __enter__(self) -> "CtrlC":
        for sig in _SIGNALS:
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: the signals keep their default meaning
                pass
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
