"""The template coder: candidates from kernel templates (agentopt.kernels.templates) and parameter sampling, no LLM.

"new" draws a fresh point of a matching template (each template's SEED first, then its VARIANTS, then each
parameter group drawn or kept at the SEED), "improve" mutates the parent's point (one parameter resampled, or a
structural variant switched), "crossover" takes each independent parameter group from one of two parents of the
same template.
Points that cannot fit the GPU are pruned before anything is compiled; a problem that no kernel template
matches gets torch.compile candidates and a one-line note.
"""
from __future__ import annotations

import json
import math
import random
from types import ModuleType
from typing import Any

from agentopt.config import TemplateConfig
from agentopt.kernels.templates import FALLBACK, TEMPLATES
from agentopt.kernels.templates._base import point_today, sample

from .base import CandidateView, CoderContext, Proposal


class TemplateCoder:
    name = "template"

    def __init__(self, hardware=None, config: TemplateConfig | None = None):
        self.hardware = hardware  # overrides the context's profile for pruning
        self.config = config or TemplateConfig()
        self._dims: dict[tuple[str, str, str], list[dict[str, int]]] = {}
        self._seeded: set[tuple[str, str, int]] = set()  # (problem, template, i) whose i-th seed point was proposed

    # What applies to a problem
    def matching_templates(self, problem, device: str) -> list[ModuleType]:
        """Kernel templates that match the problem and run on the device; the torch.compile one if none does."""
        found = [t for name, t in TEMPLATES.items()
                 if name != FALLBACK and device in t.DEVICES and t.matches(problem)]
        return found or [TEMPLATES[FALLBACK]]

    def note(self, problem, device: str) -> str | None:
        """One line when no kernel template matches the problem, else None."""
        names = [t.NAME for t in self.matching_templates(problem, device)]
        if names != [FALLBACK]:
            return None
        return (f"no kernel template matches {problem.name} (templates know: "
                f"{', '.join(sorted({t.PATTERN for t in TEMPLATES.values() if t.NAME != FALLBACK}))}); "
                "offering torch.compile variants of the reference")

    def features(self, template: str, params: dict[str, Any], shape: dict[str, Any]) -> dict[str, float]:
        """Numeric features of a point at a shape for the cost model: the numbers (and their log2), one-hot
        categories, the shape's sizes (log2), and for each `*_max_m` threshold whether this M falls under it."""
        out: dict[str, float] = {}
        m = shape.get("M")
        for key, value in params.items():
            if isinstance(value, bool):
                out[key] = float(value)
            elif isinstance(value, (int, float)):
                out[key] = float(value)
                out[f"log2_{key}"] = math.log2(value) if value > 0 else -1.0
                if key.endswith("_max_m") and m is not None:
                    out[f"M<={key}"] = float(m <= value)
            else:
                out[f"{key}={value}"] = 1.0
        for key, value in shape.items():
            if isinstance(value, (int, float)) and value > 0:
                out[f"log2_{key}"] = math.log2(value)
        return out

    def library_proposals(self, ctx: CoderContext, entries: list) -> list[Proposal]:
        """The points of the library's kernels (harvest.index.KernelEntry) that came from a template that matches
        the problem, each a proposal: a run starts where earlier runs got to. A parameter the template no longer
        has, or a value no longer in its space, falls back to the SEED's; points that do not fit are left out."""
        templates = {t.NAME: t for t in self.matching_templates(ctx.problem, ctx.device)}
        out, seen = [], set()
        for entry in entries:
            made = entry.provenance
            t = templates.get(made.template or "")
            if t is None or not made.params:
                continue
            params = point_today(t, made.params)
            key = (t.NAME, json.dumps(params, sort_keys=True, default=str))
            if key not in seen and self._fits(t, params, ctx) is None:
                seen.add(key)
                out.append(self._proposal(t, params, ctx, [], f"library kernel {entry.name}"))
        return out

    # Proposals
    async def propose(self, ctx: CoderContext) -> Proposal:
        templates = self.matching_templates(ctx.problem, ctx.device)
        note = self.note(ctx.problem, ctx.device)
        parents = [p for p in ctx.parents if p.template in {t.NAME for t in templates} and p.params]
        if ctx.task == "crossover" and len(parents) >= 2 and parents[0].template == parents[1].template:
            proposal = self._crossover(ctx, parents[0], parents[1])
        elif ctx.task in ("improve", "fix_compile", "fix_wrong", "crossover") and parents:
            proposal = self._mutate(ctx, parents[0])
        else:
            proposal = self._new(ctx, templates)
        if note:
            proposal.meta["note"] = note
        proposal.meta["task"] = ctx.task
        return proposal

    def _hardware(self, ctx: CoderContext):
        return None if ctx.device == "cpu" else (self.hardware or ctx.hardware)

    def _shape_dims(self, template: ModuleType, ctx: CoderContext) -> list[dict[str, int]]:
        key = (template.NAME, ctx.problem.name, ctx.device)
        if key not in self._dims:
            self._dims[key] = [template.dims(ctx.problem, s) for s in ctx.problem.shapes_for(ctx.device)]
        return self._dims[key]

    def _fits(self, template: ModuleType, params: dict[str, Any], ctx: CoderContext) -> str | None:
        hardware = self._hardware(ctx)
        dims = self._shape_dims(template, ctx) if hardware is not None else []
        return template.prune(params, hardware, dims)

    def _proposal(self, template: ModuleType, params: dict[str, Any], ctx: CoderContext,
                  parents: list[CandidateView], how: str) -> Proposal:
        try:
            source = template.render(params, ctx.problem)
        except Exception as exc:  # a template bug is a failed candidate with the reason, never a crash of the run
            return Proposal(error=f"template {template.NAME} failed to render: {type(exc).__name__}: {exc}",
                            template=template.NAME, params=params, parents=[p.id for p in parents])
        return Proposal(source=source, template=template.NAME, params=params, coder="template",
                        parents=[p.id for p in parents], meta={"how": how})

    def _new(self, ctx: CoderContext, templates: list[ModuleType]) -> Proposal:
        rng = ctx.rng
        if self.config.seed_first:  # every template's SEED, then each template's first variant, and so on
            seeds = {t.NAME: seed_points(t) for t in templates}
            for i in range(max(len(s) for s in seeds.values())):
                for t in templates:
                    key = (ctx.problem.name, t.NAME, i)
                    if i < len(seeds[t.NAME]) and key not in self._seeded:
                        self._seeded.add(key)
                        if self._fits(t, seeds[t.NAME][i], ctx) is None:
                            return self._proposal(t, seeds[t.NAME][i], ctx, [], "seed point" if i == 0 else
                                                  f"seed variant {i}")
        reasons: dict[str, str] = {}
        for _ in range(self.config.max_tries):
            t = rng.choice(templates)
            params = draw(t, rng)
            why = self._fits(t, params, ctx)
            if why is None:
                return self._proposal(t, params, ctx, [], "sampled")
            reasons[t.NAME] = why
        return Proposal(error="no sampled point fits: " + "; ".join(f"{k}: {v}" for k, v in reasons.items()))

    def _mutate(self, ctx: CoderContext, parent: CandidateView) -> Proposal:
        t = TEMPLATES[parent.template]
        rng = ctx.rng
        for _ in range(self.config.max_tries):
            params, how = mutate(t, parent.params, rng, self.config.structural_fraction)
            if self._fits(t, params, ctx) is None:
                proposal = self._proposal(t, params, ctx, [parent], how)
                if proposal.source != parent.source:  # a parameter the parent's code does not use changes nothing
                    return proposal
        return Proposal(error=f"no mutation of {parent.id} fits and changes its code", template=t.NAME,
                        parents=[parent.id])

    def _crossover(self, ctx: CoderContext, a: CandidateView, b: CandidateView) -> Proposal:
        t = TEMPLATES[a.template]
        for _ in range(self.config.max_tries):
            params = crossover(t, a.params, b.params, ctx.rng)
            if self._fits(t, params, ctx) is None:
                proposal = self._proposal(t, params, ctx, [a, b], "crossover of parameter groups")
                if proposal.source not in (a.source, b.source):
                    return proposal
        return self._mutate(ctx, a)


def seed_points(template: ModuleType) -> list[dict[str, Any]]:
    """The template's SEED, then the SEED changed by each of its VARIANTS (points that measured well too)."""
    return [dict(template.SEED)] + [{**template.SEED, **v} for v in getattr(template, "VARIANTS", ())]


def draw(template: ModuleType, rng: random.Random) -> dict[str, Any]:
    """A fresh point: each parameter group drawn at random, or kept at the SEED, with even odds. Large spaces
    (the CUDA C template carries the gated-MLP paths) are mostly points that cannot fit when drawn uniformly."""
    out = dict(template.SEED)
    for keys in template.GROUPS.values():
        if rng.random() < 0.5:
            out.update(sample({k: template.SPACE[k] for k in keys}, rng))
    return out


def mutate(template: ModuleType, params: dict[str, Any], rng: random.Random,
           structural_fraction: float) -> tuple[dict[str, Any], str]:
    """A copy of `params` with one parameter set to another value of its space (a structural one with
    probability `structural_fraction`), and what changed."""
    space = template.SPACE
    choices = [k for k in space if len(space[k]) > 1]
    structural = [k for k in template.STRUCTURAL if k in choices]
    pool = structural if structural and rng.random() < structural_fraction else choices
    key = rng.choice(pool)
    out = {**{k: params.get(k, v[0]) for k, v in space.items()}, **{k: v for k, v in params.items() if k not in space}}
    out[key] = rng.choice([v for v in space[key] if v != out[key]])
    return out, f"{key}: {params.get(key)!r} -> {out[key]!r}"


def crossover(template: ModuleType, a: dict[str, Any], b: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Each independent parameter group taken whole from one parent or the other."""
    out: dict[str, Any] = {}
    for keys in template.GROUPS.values():
        source = a if rng.random() < 0.5 else b
        out.update({k: source[k] for k in keys})
    return out
