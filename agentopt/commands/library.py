"""`agentopt library ls | show KERNEL | bench | refresh`: what the kernel library holds, how fast it is here, and its
template kernels rendered again by today's templates."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from ._common import console, usage_error

app = typer.Typer(help="The kernel library: ls, show KERNEL, bench, refresh.", no_args_is_help=True)
LIBRARY = typer.Option(None, "--library", help="the library folder (default: the package's kernels/library)")


def _index(library: Path | None):
    from agentopt.harvest import LibraryIndex, default_library

    library = library or default_library()
    return library, LibraryIndex.load(library)


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


@app.command("ls")
def ls(library: Path = LIBRARY) -> None:
    """The kernels: problem, architecture, dtype, the shapes each serves with its speedup over eager, and the memory
    each keeps beyond the weights (measured at its re-verification; '-' for kernels harvested before that)."""
    from rich.table import Table

    from agentopt.problems import shape_label

    library, index = _index(library)
    if not index.kernels:
        console.print(f"The library at {library} is empty. Fill it with `agentopt harvest runs/<id>`.")
        return
    t = Table(title=f"kernel library {library}")
    for col in ("kernel", "problem", "arch", "dtype", "serves (speedup over eager)", "keeps MiB", "from", "verified"):
        t.add_column(col)
    for k in index.kernels:
        held = k.verification.held_bytes
        t.add_row(k.name, k.problem, k.arch, k.dtype,
                  ", ".join(f"{shape_label(s.shape)} {_fmt(s.speedup, '.2f')}x" for s in k.shapes) or "-",
                  _fmt(None if held is None else held / 2**20, ".0f"),
                  f"{k.provenance.run} {k.provenance.candidate}", f"{k.verification.status} {k.verification.date}")
    console.print(t)


@app.command("show")
def show(kernel: str = typer.Argument(..., help="a kernel name (or a unique prefix)"), library: Path = LIBRARY,
         as_json: bool = typer.Option(False, "--json", help="print the index entry as JSON")) -> None:
    """One kernel: provenance, re-verification and timings on every shape."""
    from rich.table import Table

    from agentopt.problems import shape_label

    library, index = _index(library)
    k = index.find(kernel)
    if k is None:
        raise usage_error(f"no kernel {kernel!r} in {library}; `agentopt library ls` lists them")
    if as_json:
        print(json.dumps(k.model_dump(), indent=2))
        return
    p, v = k.provenance, k.verification
    console.print(f"[bold]{k.name}[/]  {k.problem} (reference {k.problem_hash})  {k.arch}  {k.dtype}  "
                  f"file {library / k.path}")
    console.print(f"from run {p.run}, candidate {p.candidate}, coder {p.coder}" + (f", model {p.model}" if p.model
                  else "") + (f", template {p.template} {p.params}" if p.template else "") +
                  (f"; the search measured {p.run_score:.3f}x" if p.run_score else "") +
                  (f"; rendered again by its template {p.refreshed}" if p.refreshed else ""))
    console.print(f"re-verified {v.date} on {v.gpu or v.device}: {v.status}, {v.seeds_per_shape} seeds a shape, "
                  f"{v.repeats} repeats (slowest kept), score {v.score:.3f}x" + (f"; {v.reason}" if v.reason else ""))
    if v.held_bytes is not None:
        console.print(f"keeps {v.held_bytes / 2**20:.0f} MiB beyond the weights it shares (prepared copies, buffers), "
                      "once per module that uses it")
    served = {repr(s.shape) for s in k.shapes}
    t = Table(title="timings (re-verification)")
    for col in ("shape", "serves", "time ms", "eager ms", "speedup", "of floor", "rel err"):
        t.add_column(col)
    for s in k.measured:
        t.add_row(shape_label(s.shape), "yes" if repr(s.shape) in served else "-", _fmt(s.time_ms, ".4f"),
                  _fmt(s.baseline_ms, ".4f"), _fmt(s.speedup, ".2f"), _fmt(s.fraction_of_floor, ".0%"),
                  _fmt(s.rel_err, ".1e"))
    console.print(t)


@app.command("bench")
def bench(device: str = typer.Option(None, "--device", help="cuda or cpu (default: cuda where there is a GPU)"),
          library: Path = LIBRARY) -> None:
    """Time the library (agentopt.kernels.load) against eager on this machine, on every shape it serves."""
    from rich.table import Table

    from agentopt.config import HarvestConfig
    from agentopt.harvest.bench import bench as run_bench
    from agentopt.hardware import gpu_available
    from agentopt.problems import shape_label

    device = device or ("cuda" if gpu_available() else "cpu")
    if device == "cuda" and not gpu_available():
        raise usage_error("--device cuda, but this machine has no CUDA GPU; use --device cpu")
    library, _ = _index(library)
    rows, notes = run_bench(library, device, HarvestConfig().bench_reps,
                            progress=lambda m: console.print(f"[dim]{m}[/]"))
    for note in notes:
        console.print(f"note: {note}")
    if not rows:
        console.print(f"Nothing to time: no kernel in {library} serves a shape on this device ({device}).")
        return
    clock = rows[0].clock
    title = f"library vs eager on this {'GPU' if device == 'cuda' else 'CPU'} ({clock}, median)"
    t = Table(title=title)
    for col in ("problem", "shape", "kernel", "library ms", "eager ms", "speedup", "at harvest", "rel err", "held MiB"):
        t.add_column(col)
    for r in rows:
        t.add_row(r.problem, shape_label(r.shape), r.kernel, f"{r.library_ms:.4f}", f"{r.eager_ms:.4f}",
                  f"{r.speedup:.2f}x", _fmt(r.indexed_speedup, ".2f"), f"{r.rel_err:.1e}", f"{r.held_mib:.0f}")
    console.print(t)
    console.print("held MiB: memory the kernel keeps beyond the weights it shares (prepared copies, buffers), "
                  "once per patched module.")
    if device == "cpu":
        console.print("These are CPU wall-clock timings, not GPU timings.")


@app.command("refresh")
def refresh(device: str = typer.Option(None, "--device", help="cuda or cpu (default: cuda where there is a GPU)"),
            problem: str = typer.Option(None, "--problem", help="only this problem's kernels"),
            library: Path = LIBRARY) -> None:
    """Render each kernel a template wrote again from the same point; where the code changed (a template change
    that alters no GPU time, such as how kernels are launched, which a harvest cannot see), re-verify it as a
    harvest does and put it in place if it passes and keeps its speedup on the shapes it serves."""
    from rich.table import Table

    from agentopt.config import HarvestConfig
    from agentopt.harvest.refresh import refresh as run_refresh
    from agentopt.hardware import gpu_available

    device = device or ("cuda" if gpu_available() else "cpu")
    if device == "cuda" and not gpu_available():
        raise usage_error("--device cuda, but this machine has no CUDA GPU; use --device cpu")
    library, index = _index(library)
    if problem and not index.for_problem(problem):
        raise usage_error(f"no kernel for {problem!r} in {library}; `agentopt library ls` lists them")
    rows = run_refresh(library, device, HarvestConfig(), problem, progress=lambda m: console.print(f"[dim]{m}[/]"))
    if not rows:
        console.print(f"Nothing to refresh: no kernel in {library} is for this device ({device}).")
        return
    t = Table(title=f"library refresh on {device}")
    for col in ("kernel", "status", "why / speedup over eager on the shapes it serves"):
        t.add_column(col)
    for r in rows:
        t.add_row(r.kernel, r.status, r.reason)
    console.print(t)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="library")
