"""`agentopt report RUN`: write RUN/report.html, one self-contained page of plots, lineage and every candidate."""
from __future__ import annotations

from pathlib import Path

import typer

from ._common import console, usage_error


def report(run: Path = typer.Argument(..., help="the run directory")) -> None:
    """Write a self-contained report.html into the run directory and print its path."""
    from agentopt.report import write_report

    if not (run / "run.json").is_file():
        raise usage_error(f"{run} is not a run directory (no run.json); `agentopt runs` lists the runs")
    path = write_report(run)
    console.print(str(path), soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
