"""The coder interface, shared by the LLM coder and the template coder, and what the loop hands them."""
from __future__ import annotations

import random
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

Task = Literal["new", "improve", "fix_compile", "fix_wrong", "crossover"]


class CandidateView(BaseModel):
    """A candidate as a coder sees it: its code, how it was made, and its evaluation (a dict of the sandbox's
    Evaluation, or None before evaluation)."""
    id: str
    source: str
    coder: str = "template"
    template: str | None = None
    params: dict[str, Any] | None = None
    evaluation: dict[str, Any] | None = None

    @property
    def score(self) -> float:
        return (self.evaluation or {}).get("score", 0.0) or 0.0


class CoderContext(BaseModel):
    """Everything a coder may use to propose one candidate."""
    model_config = ConfigDict(arbitrary_types_allowed=True)
    problem: Any  # agentopt.problems.Problem
    device: str = "cuda"
    hardware: Any = None  # agentopt.hardware.HardwareProfile or None (CPU)
    plan: Any = None  # agents.planner.Plan or None
    task: Task = "new"
    parents: list[CandidateView] = Field(default_factory=list)  # one for improve/fix, two for crossover
    inspirations: list[CandidateView] = Field(default_factory=list)  # a few other good candidates
    rng: random.Random = Field(default_factory=random.Random)


class Proposal(BaseModel):
    """What a coder returns: a candidate's source, or the reason there is none (a failed candidate, not a crash)."""
    source: str | None = None
    error: str | None = None
    coder: str = "template"  # "template" or "llm:<model>"
    parents: list[str] = Field(default_factory=list)
    template: str | None = None  # template coder: the template's name
    params: dict[str, Any] | None = None  # template coder: the point of its parameter space
    prompt: str | None = None  # LLM coder: the rendered prompt (system + user)
    reply: str | None = None  # LLM coder: the model's reply
    llm_call_ids: list[int] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)


class Coder(Protocol):
    name: str

    async def propose(self, ctx: CoderContext) -> Proposal:
        """One candidate (or the reason there is none). Never raises for a bad reply or a failed template."""
        ...
