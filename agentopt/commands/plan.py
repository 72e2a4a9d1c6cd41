"""`agentopt plan`: the planner's reading of a problem on a GPU: floors, bounds, fusion groups, hints."""
from __future__ import annotations

import asyncio

import typer

from ._common import console, err_console, load_problem, usage_error


def _profile(spec: str | None, quiet: bool):
    """The profile and whether it is this machine's GPU (then eager times can stand beside the floors)."""
    from agentopt.hardware import BUILTIN, NoGPU, local_profile, resolve_profile

    if spec in (None, "local"):
        try:
            return local_profile(progress=None if quiet else lambda m: err_console.print(f"[dim]{m}[/]")), True
        except NoGPU as exc:
            raise usage_error(f"{exc}. Plan for a GPU you name instead: --gpu h100 (built-in profiles: "
                              f"{', '.join(BUILTIN)}), or --gpu PATH of a profile JSON from `agentopt hw --json`."
                              ) from None
    try:
        return resolve_profile(spec), False
    except ValueError as exc:
        raise usage_error(str(exc)) from None


def _llm(base_url: str | None, model: str | None):
    """The LLM client when an endpoint is configured (flags or OPENAI_* variables), else None."""
    try:
        from agentopt.agents.llm import LLMClient, endpoint_configured, llm_config_from_env
    except ImportError as exc:
        err_console.print(f"[dim]no LLM pass: {exc}[/]")
        return None
    cfg = llm_config_from_env(base_url, model)
    return LLMClient(cfg) if endpoint_configured(cfg) else None


async def _refine(plan, problem, llm):
    from agentopt.agents.planner import refine_plan

    try:
        return await refine_plan(plan, problem, llm)
    finally:
        await llm.close()


def plan(
    model: str = typer.Option(..., "--model", help="a zoo problem (agentopt problems) or a KernelBench-format file"),
    gpu: str = typer.Option(None, "--gpu", help="this machine's GPU (default; measured once and cached), a built-in "
                            "profile (h100, h200, a100, l4, rtx4090), or a profile JSON file"),
    as_json: bool = typer.Option(False, "--json", help="print the plan as JSON"),
    use_llm: bool = typer.Option(True, "--llm/--no-llm", help="let the planner agent add hints when an endpoint "
                                 "is configured"),
    llm_base_url: str = typer.Option(None, "--llm-base-url", help="OpenAI-compatible endpoint (or OPENAI_BASE_URL)"),
    llm_model: str = typer.Option(None, "--llm-model", help="model name (or OPENAI_MODEL)"),
) -> None:
    """Trace a problem and read it against a GPU: per shape FLOPs, bytes, roofline floor and bound (with eager
    time on this GPU), the ops worth fusing, and the strategy hints the coders get."""
    from agentopt.agents.planner import make_plan, time_eager

    problem = load_problem(model)
    profile, local = _profile(gpu, quiet=as_json)
    eager = time_eager(problem, profile.l2_bytes) if local else None
    result = make_plan(problem, profile, device="cuda", eager_times_ms=eager)
    llm = _llm(llm_base_url, llm_model) if use_llm and result.error is None else None
    if llm is not None:
        result = asyncio.run(_refine(result, problem, llm))
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        _print(result)
    if result.error:
        raise typer.Exit(code=1)


def _print(p) -> None:
    from rich.table import Table

    if p.error:
        console.print(f"[bold red]no plan for {p.problem}:[/] {p.error}")
        return
    shapes = Table(title=f"{p.problem} on {p.gpu} ({p.dtype}): floor = max(bytes / bandwidth, FLOPs / matrix rate)")
    eager = any(s.eager_us is not None for s in p.shapes)
    for col in ["shape", "GFLOP", "MB", "FLOP/byte", "bound", "floor us"] + (["eager us", "floor/eager"] if eager
                                                                              else []) + ["regime"]:
        shapes.add_column(col, justify="left" if col in ("shape", "bound", "regime") else "right")
    for s in p.shapes:
        times = [f"{s.eager_us:,.1f}", f"{s.floor_us / s.eager_us:.0%}"] if s.eager_us else ["-", "-"]
        shapes.add_row(s.label, f"{s.flops / 1e9:,.3f}", f"{s.bytes / 1e6:,.2f}", f"{s.intensity:,.1f}", s.bound,
                       f"{s.floor_us:,.2f}", *(times if eager else []), s.regime)
    console.print(shapes)
    last = p.shapes[-1].label
    ops = Table(title=f"ops at {last}, each as if run alone")
    for col in ("op", "kind", "GFLOP", "MB", "FLOP/byte", "bound"):
        ops.add_column(col, justify="left" if col in ("op", "kind", "bound") else "right")
    for op in p.ops:
        if last in op.flops:
            ops.add_row(op.name, op.kind, f"{op.flops[last] / 1e9:,.3f}", f"{op.bytes[last] / 1e6:,.2f}",
                        f"{op.intensity[last]:,.1f}", op.bound[last])
    console.print(ops)
    if p.fusion_groups:
        groups = Table(title="fusion groups (MB of traffic saved per shape)")
        for col in ("group", "kind", "ops", "saved MB"):
            groups.add_column(col)
        for g in p.fusion_groups:
            groups.add_row(g.name, g.kind, ", ".join(g.ops),
                           "; ".join(f"{label} {b / 1e6:,.2f}" for label, b in g.bytes_saved.items()))
        console.print(groups)
    else:
        console.print("no fusion groups: no two ops worth one kernel")
    console.print("[bold]hints[/]")
    for h in p.hints:
        console.print(f"- {h}", highlight=False)
    for s in p.shapes:
        console.print(f"[bold]{s.label}[/] ({s.regime})")
        for h in s.hints:
            console.print(f"  - {h}", highlight=False)
    if p.llm_notes:
        console.print(f"[bold]planner agent:[/] {p.llm_notes}", highlight=False)
    if p.llm_error:
        console.print(f"[yellow]planner agent:[/] {p.llm_error}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
