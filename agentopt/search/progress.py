"""Progress of a run as people expect from a long job: a live panel (rich) on a terminal, one plain line per
recorded candidate otherwise (logs, CI, pipes).

It shows candidates evaluated and the share that were valid, the best score, per shape the best speedup over eager
and the fraction of the roofline floor, the GPU's busy time, the LLM's tokens and cost, and the time left. It reads
the figures of `Search.summary()`.
"""
from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "no limit"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def headline(s: dict[str, Any]) -> str:
    valid = f"{s['valid'] / s['evaluated']:.0%}" if s["evaluated"] else "-"
    best = f"{s['best_score']:.3f}x ({s['best_id']})" if s["best_score"] is not None else "-"
    busy = f"{s['gpu_busy_s']:.0f}s ({s['gpu_busy_s'] / s['elapsed_s']:.0%})" if s["elapsed_s"] else "-"
    busy_label = "GPU busy" if s.get("device", "cuda") == "cuda" else "judging"  # on the CPU: checks and timing
    parts = [f"candidates {s['candidates']}", f"valid {valid}", f"best {best}", f"{busy_label} {busy}"]
    if s.get("llm_tokens") is not None:
        parts.append(f"LLM {s['llm_tokens']:,} tokens ${s['llm_cost_usd']:.3f}")
    parts.append(f"left {_minutes(s['time_left_s'])}")
    return " · ".join(parts)


def shape_table(s: dict[str, Any]) -> Table:
    table = Table(box=None, pad_edge=False)
    table.add_column("shape")
    table.add_column("best speedup vs eager", justify="right")
    table.add_column("fraction of floor", justify="right")
    for label in s["shapes"]:
        sp, frac = s["speedups"].get(label), s["fraction_of_floor"].get(label)
        table.add_row(label, f"{sp:.3f}x" if sp else "-", f"{frac:.0%}" if frac else "-")
    return table


class ProgressDisplay:
    """`with ProgressDisplay(title) as p: p.update(search.summary())`."""

    def __init__(self, title: str, console: Console | None = None, live: bool | None = None):
        self.title = title
        self.console = console or Console()
        self.live = self.console.is_terminal if live is None else live
        self._live: Live | None = None
        self._printed = -1

    def __enter__(self) -> "ProgressDisplay":
        if self.live:
            self._live = Live(Text(self.title), console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def update(self, s: dict[str, Any]) -> None:
        if self._live is not None:
            self._live.update(Group(Text(self.title, style="bold"), Text(headline(s)), shape_table(s)))
        elif s["candidates"] != self._printed:  # plain: a line whenever a candidate is recorded
            self._printed = s["candidates"]
            self.console.print(headline(s), highlight=False, soft_wrap=True)
