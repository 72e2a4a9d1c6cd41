"""`agentopt hw`: this GPU's properties and measured ceilings, or a built-in profile."""
from __future__ import annotations

import json

import typer

from ._common import console, usage_error


def hw(
    profile: str = typer.Option("local", "--gpu", help="'local' (this GPU, measured and cached) or a built-in "
                                "profile: h100, h200, a100, l4, rtx4090"),
    refresh: bool = typer.Option(False, "--refresh", help="measure the ceilings again instead of using the cache"),
    as_json: bool = typer.Option(False, "--json", help="print the profile as JSON"),
) -> None:
    """Show a GPU's name, compute capability, SMs, L2, shared memory, registers and ceilings."""
    from agentopt.hardware import NoGPU, local_profile, resolve_profile

    try:
        if profile == "local":
            prof = local_profile(refresh=refresh, progress=lambda m: console.print(f"[dim]{m}[/]") if not as_json
                                 else None)
        else:
            prof = resolve_profile(profile)
    except NoGPU as exc:
        if as_json:
            print(json.dumps({"gpu": None, "reason": str(exc)}))
        else:
            console.print(f"No GPU here: {exc}. Use --gpu h100 (or h200, a100, l4, rtx4090) for a built-in profile.")
        raise typer.Exit(code=0)
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    if as_json:
        print(prof.model_dump_json(indent=2))
        return
    from rich.table import Table

    t = Table(title=f"{prof.name} ({prof.source})", show_header=False)
    rows = [("architecture", f"{prof.arch} (compute capability {prof.compute_capability[0]}.{prof.compute_capability[1]})"),
            ("SMs", str(prof.sm_count)), ("L2", f"{prof.l2_bytes / 2**20:.0f} MiB"),
            ("shared memory per block", f"{prof.smem_per_block_bytes / 1024:.0f} KiB"),
            ("registers per block / SM", f"{prof.regs_per_block} / {prof.regs_per_sm}"),
            ("memory", f"{prof.memory_bytes / 1e9:.0f} GB"),
            ("copy bandwidth", f"{prof.bandwidth_gbps:,.0f} GB/s")]
    rows += [(f"{k} matmul", f"{v:,.1f} TFLOP/s") for k, v in prof.matmul_tflops.items()]
    for k, v in rows:
        t.add_row(k, v)
    console.print(t)


def register(app: typer.Typer) -> None:
    app.command("hw")(hw)
