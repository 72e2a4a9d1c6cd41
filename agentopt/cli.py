"""The `agentopt` command. Each subcommand lives in agentopt/commands/<name>.py and defines `register(app)`;
they are discovered here, so adding one touches no shared file. Heavy imports stay inside the commands."""
from __future__ import annotations

import importlib
import pkgutil

import typer

from agentopt import commands

app = typer.Typer(
    name="agentopt",
    help="LLM agents and kernel templates that make GPU kernels fast. "
    "Typical use: `agentopt run --model llama3-8b-ffn`, then `agentopt show` and `agentopt harvest` on the run.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
    if not info.name.startswith("_"):
        importlib.import_module(f"agentopt.commands.{info.name}").register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
