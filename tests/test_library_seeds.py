"""A run starts where earlier runs got to: the template coder's seeds include the points of the library's kernels."""
from __future__ import annotations

import asyncio
import random

from agentopt.agents.base import CoderContext
from agentopt.agents.template_coder import TemplateCoder
from agentopt.config import SearchConfig
from agentopt.harvest.index import KernelEntry, Provenance, Verification
from agentopt.kernels.templates import TEMPLATES
from agentopt.problems import get_problem
from agentopt.runs import RunStore
from agentopt.search.loop import Search, seed_proposals

PROBLEM = get_problem("llama3-8b-rmsnorm")
RMSNORM = TEMPLATES["rmsnorm"]


def entry(name: str, params: dict | None, template: str | None = "rmsnorm", coder: str = "template") -> KernelEntry:
    return KernelEntry(name=name, problem=PROBLEM.name, problem_hash=PROBLEM.source_hash, arch="sm_90",
                       dtype="bfloat16", path=f"{name}.py", source_hash="0",
                       provenance=Provenance(run="r", candidate="c0001", coder=coder, template=template, params=params),
                       verification=Verification(status="ok", date="2026-11-30", device="cuda", seeds_per_shape=8,
                                                 repeats=2))


def ctx() -> CoderContext:
    return CoderContext(problem=PROBLEM, device="cpu", hardware=None, plan=None, task="new", rng=random.Random(0))


def a_point_unlike_the_seed() -> dict:
    point = dict(RMSNORM.SEED)
    for key, values in RMSNORM.SPACE.items():
        other = [v for v in values if v != point[key]]
        if other:
            point[key] = other[0]
            return point
    raise AssertionError("the rmsnorm template has no parameter with two values")


def test_library_points_become_proposals_and_stale_parameters_fall_back_to_the_seed():
    point = a_point_unlike_the_seed()
    stale = {**point, "a_parameter_since_removed": 3}
    bad_value = dict(point)
    key = next(iter(RMSNORM.SPACE))
    bad_value[key] = "a value no longer in the space"
    entries = [entry("k1", stale), entry("k2", point),  # the same point twice: proposed once
               entry("k3", bad_value), entry("k4", point, template="gated_mlp"),  # not a template of this problem
               entry("k5", None, template=None, coder="llm")]  # an LLM's kernel: no point to start from
    proposals = TemplateCoder().library_proposals(ctx(), entries)
    hows = [p.meta["how"] for p in proposals]
    assert hows[0] == "library kernel k1" and "library kernel k2" not in hows
    assert proposals[0].params == point and proposals[0].source == RMSNORM.render(point, PROBLEM)
    k3 = next(p for p in proposals if p.meta["how"] == "library kernel k3")
    assert k3.params[key] == RMSNORM.SEED[key]
    assert not any(h in hows for h in ("library kernel k4", "library kernel k5"))


def test_a_new_run_seeds_the_library_points_unless_told_not_to(tmp_path, monkeypatch):
    point = a_point_unlike_the_seed()
    from agentopt.harvest import index

    library = index.LibraryIndex(kernels=[entry("k1", point)])
    monkeypatch.setattr(index.LibraryIndex, "load", classmethod(lambda cls, path: library))

    def seeds(library_seeds: bool) -> list:
        store = RunStore.create(tmp_path, PROBLEM.name, {"problem": PROBLEM.to_dict()})
        search = Search(problem=PROBLEM, device="cpu", store=store, evaluator=None,
                        coders={"template": TemplateCoder()}, config=SearchConfig(library_seeds=library_seeds))
        return [p.meta.get("how") for p in asyncio.run(seed_proposals(search))]

    assert "library kernel k1" in seeds(True)
    assert seeds(False) == ["seed point"]
