"""`agentopt show RUN [CANDIDATE]`: a run's summary, leaderboard and best lineage; or one candidate in full."""
from __future__ import annotations

from pathlib import Path

import typer

from ._common import console, usage_error


def _fmt(value, spec: str = ".3f", none: str = "-") -> str:
    return none if value is None else format(value, spec)


def _summary(view) -> None:
    from rich.table import Table

    from agentopt.commands.runs import _duration

    b = view.budget()
    console.print(f"[bold]{view.id}[/]  problem [bold]{view.problem_name}[/]  on {view.gpu} ({view.device})  "
                  f"status {view.status}" + (f" ({view.stop_reason()})" if view.stop_reason() else ""))
    console.print(f"budget spent: {b['evaluated']} candidates evaluated ({b['valid']} valid) in "
                  f"{_duration(b['seconds'])}; LLM: {b['llm_calls']} calls, "
                  f"{b['prompt_tokens'] + b['completion_tokens']:,} tokens, ${b['cost_usd']:.4f}")
    if view.plan_shapes:
        t = Table(title="plan: roofline floor per shape")
        for col in ("shape", "floor µs", "bound", "regime", "eager µs"):
            t.add_column(col)
        for s in view.plan_shapes:
            t.add_row(_key(s.get("shape") or {}), _fmt(s.get("floor_us"), ".1f"), str(s.get("bound", "-")),
                      str(s.get("regime", "-")), _fmt(s.get("eager_us"), ".1f"))
        console.print(t)


def _key(shape) -> str:
    from agentopt.review import shape_key

    return shape_key(shape)


def _leaderboard(view, top: int) -> None:
    from rich.table import Table

    from agentopt.review import ancestry, leaderboard

    rows = leaderboard(view.candidates, top=top)
    shapes = [_key(s.get("shape") or {}) for s in view.plan_shapes] or sorted({k for r in rows for k in r.speedups})
    t = Table(title=f"leaderboard (top {top} of {len(view.candidates)}; speedup against eager per shape)")
    for col in ("#", "candidate", "status", "score", "how", "parents", *shapes):
        t.add_column(col)
    for r in rows:
        t.add_row(str(r.rank), r.id, r.status, f"{r.score:.3f}", r.how, ",".join(r.parents) or "-",
                  *[_fmt(r.speedups.get(k), ".2f") for k in shapes])
    console.print(t)
    best = view.best()
    if best is None:
        console.print("No candidate was correct on every shape yet.")
        return
    chain = ancestry(best.id, view.by_id())
    console.print("lineage of the best: " + " -> ".join(f"{c.id} ({(c.score or 0):.3f}x)" for c in chain))


def _candidate(view, ref: str) -> None:
    from rich.syntax import Syntax
    from rich.table import Table

    from agentopt.review import parent_diff

    c = view.find(ref)
    if c is None:
        raise usage_error(f"no candidate {ref!r} in {view.id}; `agentopt show {view.path}` lists them")
    ev = c.evaluation or {}
    console.print(f"[bold]{c.id}[/]  coder {c.coder}  parents {', '.join(c.parents) or '-'}  "
                  f"status [bold]{c.status or 'pending'}[/]  score {(c.score or 0):.3f}")
    if c.reason:
        console.print(f"verdict: {c.reason}")
    for flag in ev.get("flags") or []:
        console.print(f"[yellow]flag:[/] {flag}")
    if c.template:
        console.rule("template point")
        console.print(f"{c.template}: " + ", ".join(f"{k}={v}" for k, v in (c.params or {}).items()))
    for title, text in (("prompt", c.prompt), ("reply", c.reply)):
        if text:
            console.rule(title)
            console.print(text, markup=False, highlight=False)
    parent, diff = parent_diff(c, {c.id: view.source(c.id), **{p: view.source(p) for p in c.parents}})
    if parent:
        console.rule(f"diff against its parent {parent}")
        console.print(Syntax(diff, "diff") if diff else "(no difference, or a source is missing)")
    compile_log = (ev.get("compile") or {}).get("log")
    if compile_log:
        console.rule("compile log")
        console.print(compile_log, markup=False, highlight=False)
    if ev.get("shapes"):
        t = Table(title="per shape")
        for col in ("shape", "correct", "rel err", "time ms", "eager ms", "speedup", "floor ms", "of floor"):
            t.add_column(col)
        for s in ev["shapes"]:
            t.add_row(_key(s.get("shape") or {}), "yes" if s.get("correct") else f"NO {s.get('error') or ''}",
                      _fmt(s.get("rel_err"), ".1e"), _fmt(s.get("time_ms"), ".4f"), _fmt(s.get("baseline_ms"), ".4f"),
                      _fmt(s.get("speedup"), ".2f"), _fmt(s.get("floor_ms"), ".4f"),
                      _fmt(s.get("fraction_of_floor"), ".0%"))
        console.print(t)


def show(
    run: Path = typer.Argument(..., help="the run directory, e.g. runs/20250101-120000-llama3-8b-ffn-ab12"),
    candidate: str = typer.Argument(None, help="a candidate id (or a unique prefix): show it in full"),
    top: int = typer.Option(15, "--top", help="rows of the leaderboard"),
) -> None:
    """Review a run: summary, plan floors, budget spent, leaderboard, lineage of the best; or one candidate."""
    from agentopt.review import RunView

    try:
        view = RunView.load(run)
    except FileNotFoundError as exc:
        raise usage_error(f"{exc}; `agentopt runs` lists the runs") from None
    if candidate:
        _candidate(view, candidate)
        return
    _summary(view)
    _leaderboard(view, top)


def register(app: typer.Typer) -> None:
    app.command("show")(show)
