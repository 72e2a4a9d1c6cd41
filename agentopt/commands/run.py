"""`agentopt run`: plan, ask the coders, evaluate, keep the best, repeat, until a budget is spent or the kernels
are close to the floor. `--resume RUN_DIR` continues a run (stopped, killed or finished) where it left off."""
from __future__ import annotations

import asyncio
import json
import platform
from pathlib import Path
from typing import Any

import typer

from ._common import console, load_problem, usage_error

CODER_CHOICES = ("auto", "template", "llm", "both")


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {"python": platform.python_version()}
    for name in ("torch", "triton", "agentopt"):
        try:
            out[name] = version(name)
        except Exception:  # not installed (triton on macOS): say so rather than fail
            out[name] = "not installed"
    return out


def _coders(choice: str, llm_ready: bool) -> tuple[list[str], str | None]:
    """The coders to use and a one-line note about the choice (None when nothing needs saying)."""
    if choice == "llm" and not llm_ready:
        raise usage_error("--coder llm needs an LLM endpoint: pass --llm-base-url URL and --llm-model M (or set "
                          "OPENAI_BASE_URL / OPENAI_API_KEY), or use --coder template")
    if not llm_ready:
        return ["template"], ("No LLM endpoint configured (--llm-base-url or OPENAI_BASE_URL/OPENAI_API_KEY): "
                              "using the template coder.")
    return {"auto": ["llm"], "template": ["template"], "llm": ["llm"], "both": ["template", "llm"]}[choice], None


def _search_config(stored: dict[str, Any], **flags: Any):
    from agentopt.config import SearchConfig

    return SearchConfig(**{**stored, **{k: v for k, v in flags.items() if v is not None}})


def run(
    model: str = typer.Option(None, "--model", help="a zoo problem (agentopt problems) or a KernelBench-format file"),
    coder: str = typer.Option("auto", "--coder", help="template, llm or both; auto: llm when an endpoint is "
                              "configured, else template"),
    budget_minutes: float = typer.Option(None, "--budget-minutes", help="wall-clock budget of this session "
                                         "(default 20)"),
    max_candidates: int = typer.Option(None, "--max-candidates", help="stop once the run holds this many "
                                       "candidates (earlier sessions' included)"),
    islands: int = typer.Option(None, "--islands", help="populations that evolve apart and exchange their best "
                                "(default 2)"),
    seed: int = typer.Option(None, "--seed", help="random seed of the search (default 0)"),
    device: str = typer.Option(None, "--device", help="cuda or cpu (Triton's interpreter, small shapes, for "
                               "trying things out) (default cuda)"),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help="where new runs are created"),
    resume: Path = typer.Option(None, "--resume", help="a run directory to continue (on a GPU of the name it "
                                "started on)"),
    llm_base_url: str = typer.Option(None, "--llm-base-url", help="OpenAI-compatible endpoint (or OPENAI_BASE_URL)"),
    llm_model: str = typer.Option(None, "--llm-model", help="model name (or OPENAI_MODEL)"),
    prompts: Path = typer.Option(None, "--prompts", help="a directory with your own copies of prompts/*.j2"),
    library_seeds: bool = typer.Option(None, "--library-seeds/--no-library-seeds",
                                       help="start from the points of the library's kernels for this problem too "
                                            "(default: yes; no: only the templates' own starting points)"),
) -> None:
    """Search for fast kernels of a problem; writes runs/<id>/ (run.json, run.db, transcript.jsonl, best/)."""
    from agentopt.hardware import gpu_available

    if coder not in CODER_CHOICES:
        raise usage_error(f"--coder must be one of {', '.join(CODER_CHOICES)}, not {coder!r}")
    if (model is None) == (resume is None):
        raise usage_error("give --model NAME|FILE for a new run, or --resume RUN_DIR to continue one")
    stored: dict[str, Any] = {}
    if resume is not None:
        if not (resume / "run.json").is_file():
            raise usage_error(f"{resume} is not a run directory (no run.json); `agentopt runs` lists the runs")
        stored = json.loads((resume / "run.json").read_text())
        model = stored.get("problem_spec") or stored["problem"]["name"]
        device = device or stored.get("device")
    device = device or "cuda"
    if device not in ("cuda", "cpu"):
        raise usage_error(f"--device must be cuda or cpu, not {device!r}")
    if device == "cuda" and not gpu_available():
        raise usage_error("no CUDA GPU here (torch.cuda.is_available() is False). Pass --device cpu to search on "
                          "the CPU: Triton's interpreter on the problem's small shapes, for trying agentopt out.")
    if resume is not None and device == "cuda":
        import torch

        mismatch = other_gpu((stored.get("hardware") or {}).get("name"), torch.cuda.get_device_name(0))
        if mismatch:
            raise usage_error(mismatch)
    problem = load_problem(model)
    cfg = _search_config((stored.get("config") or {}).get("search") or {}, budget_minutes=budget_minutes,
                         max_candidates=max_candidates, islands=islands, seed=seed, library_seeds=library_seeds,
                         coder=coder if resume is None or coder != "auto" else None)
    llm, llm_cfg = _llm_client(llm_base_url, llm_model, prompts)
    names, note = _coders(cfg.coder, llm is not None)
    if note:
        console.print(note, highlight=False)
    spec = model if problem.path is None or Path(model).suffix != ".py" else problem.path
    reason, summary, path = asyncio.run(_session(problem, spec, device, cfg, llm, llm_cfg, names, note, stored,
                                                 runs_dir, resume))
    console.print(f"stopped: {reason}", highlight=False)
    if summary.get("best_id"):
        console.print(f"{summary['candidates']} candidates, best {summary['best_id']} "
                      f"({summary['best_score']:.3f}x over eager)", highlight=False)
    else:
        console.print(f"{summary['candidates']} candidates, none valid yet", highlight=False)
    console.print(f"run: {path}   review: agentopt show {path}   continue: agentopt run --resume {path}",
                  highlight=False)


def other_gpu(searched_on: str | None, here: str) -> str | None:
    """Why a run cannot go on on this GPU, or None: its candidates are ranked by speedups measured on the GPU it
    started on, against the plan and floors made for that GPU."""
    if not searched_on or searched_on == here:
        return None
    return (f"this run searched on {searched_on}, and this machine has {here}: its scores, plan and floors were "
            f"measured there, and a resumed run ranks new candidates against them. Start a new run here (`agentopt "
            f"run --model ...`): it starts from the library's kernels of the problem, where it has some")


async def _session(problem, spec: str, device: str, cfg, llm, llm_cfg, names: list[str], note: str | None,
                   stored: dict[str, Any], runs_dir: Path, resume: Path | None):
    """The LLM check, the plan and the search in one event loop (the LLM client's connections belong to it)."""
    from agentopt.runs import RunStore
    from agentopt.search.loop import search_session

    if llm is not None:
        problem_text = await llm.check()
        if problem_text:
            raise usage_error(f"the LLM endpoint is not usable: {problem_text}")
    hardware, plan, costs = await _plan(problem, device, llm, stored)
    if resume is None:
        plan_dict = plan.model_dump(mode="json")
        store = RunStore.create(runs_dir, problem.name, {
            "problem_spec": spec, "problem": problem.to_dict(), "device": device,
            "hardware": hardware.model_dump(mode="json") if hardware is not None else None, "plan": plan_dict,
            "config": _config_dump(cfg, llm_cfg, names), "versions": _versions()})
        store.log("run_started", problem=problem.name, device=device, coders=names, config=cfg.model_dump())
        store.log("plan", gpu=plan_dict["gpu"], shapes=plan_dict["shapes"], hints=plan_dict["hints"],
                  error=plan_dict["error"], llm_error=plan_dict["llm_error"])
    else:
        store = RunStore.open(resume)
        store.update_info(status="running", config=_config_dump(cfg, llm_cfg, names))
        store.log("run_resumed", coders=names, config=cfg.model_dump())
    if note:
        store.log("coder_note", note=note)
    if llm is not None:
        from agentopt.agents.llm import store_recorder

        llm.recorder = store_recorder(store)
    try:
        reason, summary = await search_session(problem, device, store, cfg, names, hardware=hardware, plan=plan,
                                               costs=costs, llm=llm, resumed=resume is not None, console=console)
    finally:
        store.close()
    return reason, summary, store.path


def _llm_client(base_url: str | None, model: str | None, prompts: Path | None):
    from agentopt.agents.llm import LLMClient, endpoint_configured, llm_config_from_env

    try:
        cfg = llm_config_from_env(base_url, model, prompts_dir=str(prompts) if prompts else None)
    except Exception as exc:  # a malformed value in the environment
        raise usage_error(f"LLM settings: {exc}") from None
    if prompts is not None and not prompts.is_dir():
        raise usage_error(f"--prompts {prompts} is not a directory (copy prompts/ there to start from the built-in "
                          "ones)")
    return (LLMClient(cfg) if endpoint_configured(cfg) else None), cfg


async def _plan(problem, device: str, llm, stored: dict[str, Any]):
    """The hardware profile (None on the CPU), the plan (the stored one on resume) and the per-shape costs for
    the evaluator. On the CPU the plan reads the problem against the h100 datasheet profile: its hints are what a
    GPU kernel should do, which is what the coders write even when the CPU runs them."""
    from agentopt.agents.planner import Plan, make_plan, refine_plan, shape_costs, time_eager
    from agentopt.config import PlanConfig
    from agentopt.hardware import BUILTIN, HardwareProfile, local_profile

    if stored:
        hw = stored.get("hardware")
        hardware = HardwareProfile.model_validate(hw) if hw else None
        plan = Plan.model_validate(stored["plan"]) if stored.get("plan") else None
    elif device == "cuda":
        console.print("[dim]the GPU's profile (measured once, then cached), the plan and eager times...[/]")
        hardware = local_profile()
        plan = make_plan(problem, hardware, device=device, eager_times_ms=time_eager(problem, hardware.l2_bytes))
    else:
        hardware = None
        plan = make_plan(problem, BUILTIN["h100"], device=device)
    if llm is not None and PlanConfig().llm_pass:
        plan = await refine_plan(plan, problem, llm)
    return hardware, plan, shape_costs(problem, device)


def _config_dump(cfg, llm_cfg, names: list[str]) -> dict[str, Any]:
    from agentopt.config import EvalConfig

    out = {"search": cfg.model_dump(), "eval": EvalConfig().model_dump(), "coders": names}
    if "llm" in names:
        out["llm"] = llm_cfg.model_dump(exclude={"api_key"})  # never a key in run.json
    return out


def register(app: typer.Typer) -> None:
    app.command("run")(run)
