"""The LLM coder: renders the task's prompt templates, asks a model of the ensemble, and turns its reply into a
candidate (a whole file, or SEARCH/REPLACE edits of the parent). A failed call, a reply with no code or edits
that do not apply give a Proposal with the reason, never an exception.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2

from agentopt.problems import shape_label
from agentopt.sandbox.records import KernelInfo, ShapeResult
from agentopt.prompts import render

from .base import CandidateView, CoderContext, Proposal, Task
from .edits import apply_reply
from .llm import LLMClient, format_messages

# task -> (its template, how many parents it needs, whether the reply edits the first parent)
TASKS: dict[Task, tuple[str, int, bool]] = {
    "new": ("new", 0, False),
    "improve": ("improve", 1, True),
    "fix_compile": ("fix_compile", 1, True),
    "fix_wrong": ("fix_wrong", 1, True),
    "crossover": ("crossover", 2, False),
}


# ---- what the templates see -------------------------------------------------------------------------------
def _text(item: Any) -> str:
    return item if isinstance(item, str) else json.dumps(item, default=str)


def _group(g: Any) -> dict[str, Any]:
    if not isinstance(g, dict):
        return {"name": _text(g), "kind": "", "ops": []}
    return {"name": _text(g.get("name", "")), "kind": _text(g.get("kind", "")),
            "ops": [_text(o) for o in g.get("ops") or []]}


def plan_view(plan: Any) -> dict[str, Any] | None:
    """The plan's hints, fusion groups and per-shape floors, read defensively from its dict (agents/planner.py)."""
    if plan is None:
        return None
    data = plan.model_dump() if hasattr(plan, "model_dump") else dict(plan)
    shapes = [{"label": s.get("label") or shape_label(s.get("shape") or {}), "floor_us": s.get("floor_us"),
               "bound": s.get("bound") or "unknown", "regime": s.get("regime"), "eager_us": s.get("eager_us"),
               "hints": [_text(h) for h in s.get("hints") or []]} for s in data.get("shapes") or []]
    return {"shapes": shapes, "fusion_groups": [_group(g) for g in data.get("fusion_groups") or []],
            "hints": [_text(h) for h in data.get("hints") or []], "notes": data.get("llm_notes"),
            "error": data.get("error")}


def candidate_view(c: CandidateView, log_chars: int) -> dict[str, Any]:
    """A candidate's code and evaluation (times per shape against the floor, profile, kernels, log)."""
    ev = c.evaluation or {}
    compiled = ev.get("compile") or {}
    log = compiled.get("log") or ""
    shapes = [ShapeResult(**s).model_dump() for s in ev.get("shapes") or []]
    for s in shapes:
        s["label"] = shape_label(s["shape"])
    return {"id": c.id, "coder": c.coder, "source": c.source, "evaluated": c.evaluation is not None,
            "status": ev.get("status"), "reason": ev.get("reason"), "score": ev.get("score") or 0.0,
            "shapes": shapes, "kernels": [KernelInfo(**k).model_dump() for k in compiled.get("kernels") or []],
            "compile_log": log[-log_chars:], "log_cut": max(0, len(log) - log_chars),
            "guard": ev.get("guard") or [], "flags": ev.get("flags") or []}


def prompt_vars(ctx: CoderContext, log_chars: int) -> dict[str, Any]:
    problem = ctx.problem
    dtype = problem.dtype_for(ctx.device)
    gpu = None
    if ctx.hardware is not None and ctx.device != "cpu":
        gpu = {**ctx.hardware.model_dump(), "dtype_tflops": ctx.hardware.matmul_rate(dtype)}
    parents = [candidate_view(p, log_chars) for p in ctx.parents]
    return {
        "task": ctx.task, "device": ctx.device, "gpu": gpu, "plan": plan_view(ctx.plan),
        "problem": {"name": problem.name, "description": problem.description, "source": problem.source,
                    "dtype": dtype, "tolerance": problem.tolerance(ctx.device),
                    "shapes": [shape_label(s) for s in problem.shapes_for(ctx.device)]},
        "parents": parents, "parent": parents[0] if parents else None,
        "inspirations": [candidate_view(c, log_chars) for c in ctx.inspirations],
    }


# ---- the coder --------------------------------------------------------------------------------------------
class LLMCoder:
    name = "llm"

    def __init__(self, client: LLMClient, prompt_dir: str | Path | None = None):
        self.client = client
        self.prompt_dir = prompt_dir if prompt_dir is not None else client.config.prompts_dir

    def messages(self, ctx: CoderContext) -> list[dict[str, str]]:
        """The system and user messages for the context's task (raises jinja2 errors for a broken template)."""
        variables = prompt_vars(ctx, self.client.config.prompt_log_chars)
        return [{"role": role, "content": render(name, prompts=self.prompt_dir, **variables).strip()}
                for role, name in (("system", "system"), ("user", TASKS[ctx.task][0]))]

    async def propose(self, ctx: CoderContext) -> Proposal:
        model = self.client.pick_model(ctx.rng)
        proposal = Proposal(coder=f"llm:{model}", parents=[p.id for p in ctx.parents])
        template, needs, edits_parent = TASKS[ctx.task]
        if len(ctx.parents) < needs:
            proposal.error = f"the task {ctx.task} needs {needs} parent(s), got {len(ctx.parents)}"
            return proposal
        try:
            messages = self.messages(ctx)
        except (jinja2.TemplateError, OSError) as exc:  # a user's template with a typo: say which and why
            proposal.error = f"the prompt template {template}.j2 did not render: {type(exc).__name__}: {exc}"
            return proposal
        proposal.prompt = format_messages(messages)
        reply = await self.client.chat(messages, purpose=ctx.task, model=model)
        proposal.llm_call_ids.append(reply.call_id)
        proposal.reply = reply.text
        proposal.meta = {"model": reply.model, "prompt_tokens": reply.prompt_tokens,
                         "completion_tokens": reply.completion_tokens, "cost_usd": reply.cost_usd,
                         "latency_s": reply.latency_s, "finish_reason": reply.finish_reason}
        if reply.error:
            proposal.error = f"the LLM call failed: {reply.error}"
            return proposal
        edit = apply_reply(reply.text or "", ctx.parents[0].source if edits_parent else None)
        proposal.meta.update(edit_mode=edit.mode, blocks=edit.blocks, applied=edit.applied, loosened=edit.loosened)
        proposal.source = edit.source
        proposal.error = edit.error
        if edit.error and reply.finish_reason == "length":
            proposal.error += f" (the reply was cut at {self.client.config.max_tokens} tokens)"
        return proposal
