"""`agentopt runs`: the runs in a runs directory, newest first."""
from __future__ import annotations

from pathlib import Path

import typer

from ._common import console


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m{secs:02d}s"


def runs(runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help="where the runs live")) -> None:
    """List the runs, newest first: problem, device, best score, candidates, duration, status."""
    from rich.table import Table

    from agentopt.review import RunView
    from agentopt.runs import list_runs

    paths = list_runs(runs_dir)
    if not paths:
        console.print(f"No runs in {runs_dir}. Start one with `agentopt run --model llama3-8b-ffn`.")
        return
    table = Table(title=f"runs in {runs_dir}")
    for col in ("run", "problem", "device", "best score", "candidates (valid)", "duration", "status"):
        table.add_column(col)
    for path in paths:
        try:
            view = RunView.load(path)
        except Exception as exc:  # one unreadable run must not hide the others
            table.add_row(path.name, "?", "?", "?", "?", "?", f"unreadable: {type(exc).__name__}: {exc}")
            continue
        best = view.best()
        budget = view.budget()
        table.add_row(view.id, view.problem_name, view.gpu if view.device == "cuda" else "cpu",
                      f"{best.score:.3f}x ({best.id})" if best else "-",
                      f"{budget['evaluated']} ({budget['valid']})", _duration(view.duration_s), view.status)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("runs")(runs)
