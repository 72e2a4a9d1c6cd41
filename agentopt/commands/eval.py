"""`agentopt eval PROBLEM CANDIDATE.py`: judge one candidate, a verdict and a table per shape."""
from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape

from ._common import console, err_console, load_problem, usage_error


def _costs(problem, device: str):
    """Roofline costs per shape when the planner is there; None otherwise (no floors in the table)."""
    try:
        from agentopt.agents.planner import shape_costs
    except ImportError:
        return None
    return shape_costs(problem, device)


def _hardware(device: str):
    if device != "cuda":
        return None
    from agentopt.hardware import local_profile

    return local_profile(progress=lambda m: err_console.print(f"[dim]{m}[/]"))


def eval_command(
    problem: str = typer.Argument(..., help="a zoo name (agentopt problems) or a KernelBench-format .py file"),
    candidate: Path = typer.Argument(..., help="the candidate: a .py file defining ModelNew"),
    device: str = typer.Option(None, "--device", help="cuda or cpu (default: cuda when a GPU is visible)"),
    as_json: bool = typer.Option(False, "--json", help="print the evaluation as one JSON object on stdout"),
    seeds: int = typer.Option(None, "--seeds", min=1, help="random input sets per shape (the last heavy-tailed)"),
) -> None:
    """Compile, check and time a candidate against the problem's reference; exit 0 whatever the verdict."""
    from agentopt.config import EvalConfig
    from agentopt.hardware import gpu_available

    prob = load_problem(problem)
    if not candidate.is_file():
        raise usage_error(f"no candidate file {candidate}: give the path of a .py file that defines ModelNew")
    has_gpu = gpu_available()
    device = device or ("cuda" if has_gpu else "cpu")
    if device not in ("cuda", "cpu"):
        raise usage_error(f"--device must be cuda or cpu, not {device!r}")
    if device == "cuda" and not has_gpu:
        raise usage_error("no CUDA GPU is visible here; use --device cpu (PyTorch on the CPU, Triton's interpreter)")
    config = EvalConfig() if seeds is None else EvalConfig(seeds_per_shape=seeds)
    from agentopt.sandbox.evaluator import Evaluator, ReferenceFailed

    shapes = prob.shapes_for(device)
    err_console.print(f"evaluating {candidate} on {prob.name} ({len(shapes)} shapes, {prob.dtype_for(device)}, "
                      f"{device})")
    try:
        with Evaluator(prob, device=device, config=config, hardware=_hardware(device),
                       costs=_costs(prob, device)) as ev:
            evaluation = ev.evaluate(candidate.read_text())
    except ReferenceFailed as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}; the problem itself must run before candidates "
                          "can be judged")
        raise typer.Exit(code=1) from None
    if as_json:
        print(json.dumps(evaluation.model_dump(mode="json")))
        return
    _print_table(evaluation)


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _print_table(evaluation) -> None:
    from rich.table import Table

    from agentopt.problems import shape_label

    table = Table(title=f"{evaluation.device}{' · ' + evaluation.gpu if evaluation.gpu else ''}")
    for col in ("shape", "correct", "rel_err", "time ms", "baseline ms", "speedup", "of floor"):
        table.add_column(col, justify="left" if col == "shape" else "right", no_wrap=col != "shape")
    for r in evaluation.shapes:
        table.add_row(shape_label(r.shape), "yes" if r.correct else "[red]no[/]", _fmt(r.rel_err, ".2e"),
                      _fmt(r.time_ms, ".4f"), _fmt(r.baseline_ms, ".4f"),
                      _fmt(r.speedup, ".2f") + ("x" if r.speedup else ""), _fmt(r.fraction_of_floor, ".0%"))
    if evaluation.shapes:
        console.print(table)
    for k in (evaluation.compile.kernels if evaluation.compile else []):
        console.print(f"[dim]kernel {k.name}: {k.registers} registers, {k.spills} spilled, "
                      f"{k.shared_bytes} B shared, {k.num_warps} warps, {k.num_stages} stages[/]")
    for flag in evaluation.flags:
        console.print(f"[yellow]flag:[/] {escape(flag)}")
    colour = "green" if evaluation.ok else "red"
    line = f"[bold {colour}]{evaluation.status}[/]"
    if evaluation.ok:
        line += f"  score {evaluation.score:.3f}x (geometric mean speedup)"
    else:
        line += f"  {escape(evaluation.reason or '')}"
    console.print(line + f"  [dim]({evaluation.seconds:.1f} s)[/]")


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
