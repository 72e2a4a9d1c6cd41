"""`agentopt problems`: the zoo, with shapes."""
from __future__ import annotations

import json

import typer

from ._common import console


def problems(as_json: bool = typer.Option(False, "--json", help="print the zoo as JSON")) -> None:
    """List the built-in problems with their GPU shapes, dtype and CPU test shapes."""
    from rich.table import Table

    from agentopt.problems import list_problems, shape_label

    zoo = list_problems()
    if as_json:
        print(json.dumps([p.to_dict() for p in zoo], indent=2))
        return
    table = Table(title="agentopt problem zoo (any KernelBench-format .py file works too)")
    for col in ("problem", "dtype", "GPU shapes", "CPU shapes", "what"):
        table.add_column(col)
    for p in zoo:
        table.add_row(p.name, p.dtype, "; ".join(shape_label(s) for s in p.shapes),
                      "; ".join(shape_label(s) for s in p.cpu_shapes), p.description)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("problems")(problems)
