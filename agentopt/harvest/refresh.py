"""`agentopt library refresh`: each library kernel that a template wrote is rendered again by that template from
the same point. Where the source changed, it is re-verified as a harvest verifies, beside the old file in the same
evaluator (the machines are noisy: speedups of two runs do not compare), and it takes the old file's place only if
it passes and is no slower than `keep_fraction` of the old file's speedup on every shape it serves (the speedups
recorded in the index where the old file fails to run today).
A harvest cannot bring in a template change that alters no GPU time (how kernels are launched, what the host
does around them): the evaluator's timing does not see it, so a search ties with the old kernel. The entry keeps
its provenance, records the refresh and its new re-verification, and keeps serving the same shapes."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agentopt.config import HarvestConfig
from agentopt.review import shape_key

from .index import KernelEntry, LibraryIndex, device_arch
from .verify import verify


AS_IT_IS = "{} as it is"  # the name under which the old file is re-verified beside its new rendering


class Refreshed(BaseModel):
    kernel: str
    status: str  # refreshed, up to date, kept (the new rendering failed or was slower), skipped
    reason: str = ""


def rendering(entry: KernelEntry) -> tuple[str | None, str]:
    """The entry's point rendered by its template today, or None and why not."""
    from agentopt.kernels.templates import TEMPLATES
    from agentopt.kernels.templates._base import point_today
    from agentopt.problems import UnknownProblem, get_problem

    made = entry.provenance
    template = TEMPLATES.get(made.template or "")
    if template is None or not made.params:
        return None, "not written by a template"
    try:
        problem = get_problem(entry.problem)
    except UnknownProblem as exc:
        return None, str(exc)
    if problem.source_hash != entry.problem_hash:
        return None, "its reference changed since it was verified"
    return template.render(point_today(template, made.params), problem), ""


def refresh(library: Path, device: str, config: HarvestConfig, problem: str | None = None,
            progress=None) -> list[Refreshed]:
    from agentopt.problems import get_problem
    from agentopt.search.population import source_hash

    index = LibraryIndex.load(library)
    arch = device_arch(device)
    info: dict[str, Any] = {}
    if device == "cuda":
        from agentopt.hardware import local_profile

        info["hardware"] = local_profile().model_dump(mode="json")
    out, changed = [], False
    for entry in index.kernels:
        if entry.arch != arch or (problem and entry.problem != problem):
            continue
        source, why = rendering(entry)
        path = library / entry.path
        if source is None:
            out.append(Refreshed(kernel=entry.name, status="skipped", reason=why))
            continue
        if path.is_file() and path.read_text() == source:
            out.append(Refreshed(kernel=entry.name, status="up to date"))
            continue
        sources = {entry.name: source}
        if path.is_file():
            sources[AS_IT_IS.format(entry.name)] = path.read_text()
        verified, *beside = verify(get_problem(entry.problem), sources, device, info, config, progress)
        if verified.error:
            out.append(Refreshed(kernel=entry.name, status="kept", reason=f"the new rendering {verified.error}"))
            continue
        old = {shape_key(m.shape): m for m in entry.measured}
        new = {shape_key(m.shape): m for m in verified.measured}
        served = {shape_key(s.shape): s.speedup or 0.0 for s in entry.shapes}
        if beside and not beside[0].error:  # the old file's speedups in this run
            today = {shape_key(m.shape): m.speedup or 0.0 for m in beside[0].measured}
            served = {k: today.get(k, was) for k, was in served.items()}
        slower = [k for k, was in served.items() if (new[k].speedup or 0.0) < config.keep_fraction * was]
        if slower:
            out.append(Refreshed(kernel=entry.name, status="kept", reason=", ".join(
                f"{k}: {new[k].speedup or 0.0:.3f}x eager against {served[k]:.3f}x" for k in slower)))
            continue
        for k, m in new.items():  # the same floor: its fraction scales with the time
            if m.fraction_of_floor is None and k in old and old[k].fraction_of_floor and old[k].time_ms and m.time_ms:
                m.fraction_of_floor = old[k].fraction_of_floor * old[k].time_ms / m.time_ms
        entry.measured = verified.measured
        entry.shapes = [new[k] for k in served]
        entry.verification = verified.verification
        entry.source_hash = source_hash(source)
        entry.provenance.refreshed = verified.verification.date
        path.write_text(source)
        changed = True
        out.append(Refreshed(kernel=entry.name, status="refreshed", reason=", ".join(
            f"{k}: {was:.3f}x -> {new[k].speedup or 0.0:.3f}x eager" for k, was in served.items())))
    if changed:
        index.save(library)
    return out
