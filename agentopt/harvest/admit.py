"""`harvest(run_dir)`: the winners of a run (best per shape and best overall) re-verified, then admitted to the
library with the kernels already there for the same problem, architecture and dtype. Those are re-verified too,
beside the winners in the same evaluators, so the kernel set is chosen over all of them by the times of this one
harvest (the machines are noisy: two sessions' times can differ by more than 2%). Kernels outside the set, or
failing today, are retired; the heatmap is redrawn."""
from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, Field

from agentopt.config import HarvestConfig
from agentopt.review import RunView, best_per_shape, shape_key

from .fingerprint import source_class_hash
from .heatmap import draw_heatmap
from .index import KernelEntry, LibraryIndex, Provenance, default_library, device_arch
from .kernel_set import select_kernels
from .verify import verify


class Rejected(BaseModel):
    candidate: str
    reason: str


class HarvestReport(BaseModel):
    run: str
    problem: str = ""
    arch: str = ""
    dtype: str = ""
    library: str = ""
    winners: list[str] = Field(default_factory=list)
    admitted: list[str] = Field(default_factory=list)  # kernel names, new in the library
    rejected: list[Rejected] = Field(default_factory=list)  # winners left out, with the reason
    retired: list[str] = Field(default_factory=list)  # kernels that left the library: others cover them, or they
    # failed re-verification today
    kernel_set: list[str] = Field(default_factory=list)  # the group's kernels after this harvest
    serving: dict[str, str] = Field(default_factory=dict)  # shape -> kernel
    unserved: list[str] = Field(default_factory=list)  # shapes where no kernel reaches min_speedup: eager runs
    heatmap: str | None = None
    notes: list[str] = Field(default_factory=list)
    error: str | None = None


def _problem(view: RunView):
    from agentopt.problems import UnknownProblem, get_problem

    spec = view.problem
    try:
        problem = get_problem(spec.get("name", "")) if spec.get("name") in _zoo() else get_problem(spec.get("path", ""))
    except UnknownProblem as exc:
        return None, f"cannot load the run's problem: {exc}"
    if spec.get("source_hash") and spec["source_hash"] != problem.source_hash:
        return None, (f"the reference of {problem.name} changed since the run (hash {spec['source_hash']} then, "
                      f"{problem.source_hash} now): its kernels were verified against another reference")
    return problem, None


def _zoo() -> set[str]:
    from agentopt.problems.zoo import ZOO

    return set(ZOO)


def _winners(view: RunView) -> list[str]:
    best = view.best()
    ids = [best.id] if best else []
    for row in best_per_shape(view.candidates).values():
        if row["id"] not in ids:
            ids.append(row["id"])
    return ids


def _kernel_name(run_id: str, candidate: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{run_id.rsplit('-', 1)[-1]}-{candidate}")


def harvest(run_dir: Path | str, library: Path | str | None = None, min_speedup: float | None = None,
            device: str | None = None, config: HarvestConfig | None = None, progress=None) -> HarvestReport:
    config = config or HarvestConfig()
    if min_speedup is not None:
        config = config.model_copy(update={"min_speedup": min_speedup})
    view = RunView.load(run_dir)
    library = Path(library) if library else default_library()
    report = HarvestReport(run=view.id, library=str(library))
    problem, error = _problem(view)
    if problem is None:
        report.error = error
        return report
    device = device or view.device
    arch = device_arch(device)
    run_arch = "cpu" if view.device == "cpu" else (view.info.get("hardware") or {}).get("arch")
    if device != view.device or (run_arch and run_arch != arch):
        report.error = (f"the run searched on {run_arch or view.device}, this harvest would verify on {arch}: harvest "
                        f"on the run's kind of device (--device {view.device})")
        return report
    dtype = problem.dtype_for(device)
    report.problem, report.arch, report.dtype = problem.name, arch, dtype
    report.winners = _winners(view)
    if not report.winners:
        report.error = "the run has no correct candidate: nothing to harvest"
        return report
    sources = {cid: view.source(cid) for cid in report.winners}
    for cid in [c for c, s in sources.items() if s is None]:
        report.rejected.append(Rejected(candidate=cid, reason="its source file is missing from the run"))
        sources.pop(cid)
    index = LibraryIndex.load(library)
    group = (problem.name, problem.source_hash, arch, dtype)
    names = {_kernel_name(view.id, cid) for cid in sources}
    old = {k.name: k for k in index.kernels if k.group() == group and k.name not in names}
    old_sources = _library_sources(library, old, report)
    by_id = view.by_id()
    floors = view.floor_ms()
    new: list[tuple[KernelEntry, str]] = []
    for v in verify(problem, {**sources, **old_sources}, device, view.info, config, progress):
        for m in v.measured:  # the evaluator gives the floor only with the plan's costs; else the plan's own floor
            floor = floors.get(shape_key(m.shape))
            if m.fraction_of_floor is None and floor and m.time_ms:
                m.fraction_of_floor = floor / m.time_ms
        if v.candidate in old_sources:
            if v.error:
                report.notes.append(f"library kernel {v.candidate} {v.error}: retired")
                old.pop(v.candidate)
            else:  # today's numbers, measured beside the winners'
                old[v.candidate].measured, old[v.candidate].verification = v.measured, v.verification
            continue
        if v.error:
            report.rejected.append(Rejected(candidate=v.candidate, reason=v.error))
            continue
        c = by_id[v.candidate]
        models = {call["model"] for call in view.llm_calls if call.get("candidate_id") == c.id and call.get("model")}
        name = _kernel_name(view.id, c.id)
        entry = KernelEntry(
            name=name, problem=problem.name, problem_hash=problem.source_hash,
            model_class_hash=source_class_hash(problem.source), arch=arch, dtype=dtype,
            path=f"{problem.name}/{arch}/{name}.py", source_hash=c.source_hash or "",
            measured=v.measured, verification=v.verification,
            provenance=Provenance(run=view.id, candidate=c.id, coder=c.coder, model=", ".join(sorted(models)) or
                                  (c.coder.split(":", 1)[1] if c.coder.startswith("llm:") else None),
                                  template=c.template, params=c.params, run_score=c.score))
        new.append((entry, sources[c.id]))
    _admit(report, index, group, old, new, library, config)
    return report


def _library_sources(library: Path, old: dict[str, KernelEntry], report: HarvestReport) -> dict[str, str]:
    """The files of the group's library kernels, to re-verify beside the winners; a kernel without one is retired."""
    out = {}
    for name, entry in list(old.items()):
        path = library / entry.path
        if path.is_file():
            out[name] = path.read_text()
        else:
            report.notes.append(f"library kernel {name} has no file ({path}): retired")
            old.pop(name)
    return out


def _admit(report: HarvestReport, index: LibraryIndex, group: tuple[str, str, str, str], old: dict[str, KernelEntry],
           new: list[tuple[KernelEntry, str]], library: Path, config: HarvestConfig) -> None:
    """Choose the kernel set over the group's library kernels that passed again today (`old`) and the new ones,
    write the files, the index and the heatmap; the group's other kernels are retired."""
    before = [k for k in index.kernels if k.group() == group]
    if not new and len(old) == len(before):
        report.notes.append("no winner passed re-verification: the library's kernel set is unchanged")
        return
    pool = {**old, **{e.name: e for e, _ in new}}
    times = {name: {shape_key(m.shape): m.time_ms for m in e.measured
                    if m.time_ms and (m.speedup or 0.0) >= config.min_speedup}
             for name, e in pool.items()}
    all_shapes = list(dict.fromkeys(shape_key(m.shape) for e in pool.values() for m in e.measured))
    times = {k: t for k, t in times.items() if t}
    report.unserved = [s for s in all_shapes if not any(s in t for t in times.values())]
    chosen, assignment, fraction = select_kernels(times, config.keep_fraction) if times else ([], {}, {})
    for name, entry in pool.items():
        entry.shapes = [m for m in entry.measured if assignment.get(shape_key(m.shape)) == name]
    sources = {e.name: src for e, src in new}
    for name in chosen:
        if name in sources:
            path = library / pool[name].path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(sources[name])
            report.admitted.append(name)
    for entry in before:
        if entry.name not in chosen:
            (library / entry.path).unlink(missing_ok=True)
            report.retired.append(entry.name)
    for entry, _ in new:
        if entry.name not in chosen:
            report.notes.append(f"{entry.provenance.candidate} passed but is not needed: other kernels are within "
                                f"{config.keep_fraction:.0%} of the best on every shape it would serve"
                                if times.get(entry.name) else
                                f"{entry.provenance.candidate} passed but reaches {config.min_speedup}x eager on "
                                "no shape")
    index.kernels = [k for k in index.kernels if k.group() != group] + [pool[n] for n in chosen]
    index.save(library)
    report.kernel_set, report.serving = chosen, assignment
    problem, _, arch, dtype = group
    heatmap = library / problem / arch / "heatmap.png"
    shown = [s for s in all_shapes if any(s in fraction.get(k, {}) for k in pool)]
    if not shown:
        heatmap.unlink(missing_ok=True)
        report.notes.append(f"no kernel serves any shape of {problem} on {arch}: no heatmap, eager runs everywhere")
        return
    why_not = draw_heatmap(heatmap, shown, list(pool), fraction, chosen, assignment,
                           f"{problem} on {arch} ({dtype})\nfraction of the best time; * in the set; red box: serves")
    report.heatmap = None if why_not else str(heatmap)
    if why_not:
        report.notes.append(why_not)
