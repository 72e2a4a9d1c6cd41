"""Helpers shared by the subcommands: one console, usage errors with a message saying what to do."""
from __future__ import annotations

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def usage_error(message: str) -> typer.Exit:
    """Print a usage error and return the Exit to raise (exit code 2)."""
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


def load_problem(name_or_path: str):
    from agentopt.problems import UnknownProblem, get_problem

    try:
        return get_problem(name_or_path)
    except UnknownProblem as exc:
        raise usage_error(str(exc)) from None
