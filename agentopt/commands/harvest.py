"""`agentopt harvest RUN`: re-verify a run's winners and admit them to the kernel library."""
from __future__ import annotations

from pathlib import Path

import typer

from ._common import console, usage_error


def harvest(
    run: Path = typer.Argument(..., help="the run directory"),
    library: Path = typer.Option(None, "--library", help="the library folder (default: the package's kernels/library)"),
    min_speedup: float = typer.Option(None, "--min-speedup", help="serve a shape only at this speedup over eager or "
                                      "more (default from HarvestConfig: 1.0)"),
    device: str = typer.Option(None, "--device", help="cuda or cpu (default: the run's device)"),
) -> None:
    """Re-verify the winners (best per shape and overall: more seeds, every shape, timing repeated) and, beside
    them in the same evaluators, the library's kernels of that problem; then write the library's index, the kernel
    set (the fewest kernels within 98% of the best on every shape, by this harvest's times) and the heatmap.
    Library kernels left out of the set, or failing today, are retired."""
    from agentopt.harvest import harvest as run_harvest
    from agentopt.hardware import gpu_available

    if not (run / "run.json").is_file():
        raise usage_error(f"{run} is not a run directory (no run.json); `agentopt runs` lists the runs")
    if device not in (None, "cuda", "cpu"):
        raise usage_error(f"--device must be cuda or cpu, not {device!r}")
    if device == "cuda" and not gpu_available():
        raise usage_error("--device cuda, but this machine has no CUDA GPU; harvest a CPU run with --device cpu")
    report = run_harvest(run, library=library, min_speedup=min_speedup, device=device,
                         progress=lambda m: console.print(f"[dim]{m}[/]"))
    if report.error:
        console.print(f"[bold red]not harvested:[/] {report.error}")
        raise typer.Exit(code=1)
    console.print(f"{report.problem} on {report.arch} ({report.dtype}): winners {', '.join(report.winners)}")
    for r in report.rejected:
        console.print(f"[yellow]left out[/] {r.candidate}: {r.reason}")
    for note in report.notes:
        console.print(f"note: {note}")
    console.print(f"admitted: {', '.join(report.admitted) or 'none'}; retired: {', '.join(report.retired) or 'none'}")
    console.print(f"kernel set: {', '.join(report.kernel_set) or 'empty'}")
    for shape, kernel in report.serving.items():
        console.print(f"  {shape}: {kernel}")
    for shape in report.unserved:
        console.print(f"  {shape}: eager (no kernel reaches the minimum speedup)")
    console.print(f"library: {report.library}" + (f"; heatmap: {report.heatmap}" if report.heatmap else ""))


def register(app: typer.Typer) -> None:
    app.command("harvest")(harvest)
