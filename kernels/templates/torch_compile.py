"""Template: the reference's own forward through torch.compile. What the template coder offers for a problem
that no kernel template matches: a candidate that is correct by construction and often faster than eager."""
from __future__ import annotations

from typing import Any

from ._base import header, reference_definitions

NAME = "torch_compile"
PATTERN = "any"
DEVICES = ("cuda", "cpu")
SPACE: dict[str, list] = {"mode": ["default", "max-autotune-no-cudagraphs"]}
STRUCTURAL = ("mode",)
GROUPS = {"mode": list(SPACE)}
SEED = {"mode": "default"}


def matches(problem) -> bool:
    return True


def dims(problem, shape: dict[str, Any]) -> dict[str, int]:
    return {}


def prune(params: dict[str, Any], hardware, shapes: list[dict[str, int]]) -> str | None:
    if hardware is None and params["mode"] != "default":
        return "max-autotune tunes GPU kernels; on the CPU only the default mode applies"
    return None


def render(params: dict[str, Any], problem) -> str:
    return f'''{header(NAME, f"The reference's forward through torch.compile (mode {params['mode']!r}).", params)}
import torch

{reference_definitions(problem.source)}


class ModelNew(Model):
    """The reference's Model, its forward compiled by torch.compile on first use."""

    _compiled = None

    def forward(self, *args):
        if self._compiled is None:
            self._compiled = torch.compile(super().forward, mode={params["mode"]!r}, dynamic=False)
        return self._compiled(*args)
'''
