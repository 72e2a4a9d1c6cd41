"""The library's index, kernels/library/index.json: each kernel with its problem and the hash of the reference's
source, architecture, dtype, the shapes it serves (time and speedup each), its provenance and re-verification."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

INDEX_VERSION = 1


def default_library() -> Path:
    """kernels/library/ of the installed package (the repository's, in an editable install)."""
    from agentopt import kernels

    return Path(kernels.__file__).parent / "library"


def device_arch(device: Any) -> str:
    """'sm_90' for a CUDA device of compute capability 9.0, 'cpu' for the CPU."""
    import torch

    device = torch.device(device)
    if device.type != "cuda":
        return device.type
    major, minor = torch.cuda.get_device_capability(device)
    return f"sm_{major}{minor}"


class ShapeTiming(BaseModel):
    shape: dict[str, Any]
    time_ms: float
    baseline_ms: float | None = None  # eager, timed in the same session
    speedup: float | None = None
    fraction_of_floor: float | None = None
    rel_err: float | None = None  # worst over the re-verification's seeds


class Provenance(BaseModel):
    run: str
    candidate: str
    coder: str
    model: str | None = None  # the LLM behind it, for an LLM coder's candidate
    template: str | None = None
    params: dict[str, Any] | None = None  # the template's point
    run_score: float | None = None  # the score the search measured
    refreshed: str | None = None  # when `agentopt library refresh` last put its template's new rendering in place


class Verification(BaseModel):
    status: str  # the evaluator's status of the worst repeat: ok, incorrect, ...
    reason: str | None = None
    date: str  # ISO 8601, UTC
    device: str  # cuda or cpu
    gpu: str | None = None
    seeds_per_shape: int
    repeats: int
    score: float = 0.0  # geometric mean speedup, from the slowest repeat of each shape
    held_bytes: int | None = None  # memory the kernel keeps beyond the weights (its prepared copies, buffers)


class KernelEntry(BaseModel):
    name: str
    problem: str
    problem_hash: str  # Problem.source_hash of the reference the kernel was verified against
    model_class_hash: str | None = None  # of the reference's Model class alone: patch() matches modules by it
    arch: str  # sm_90, or cpu
    dtype: str
    path: str  # relative to the library folder
    source_hash: str
    shapes: list[ShapeTiming] = Field(default_factory=list)  # the shapes it serves (the kernel set's choice)
    measured: list[ShapeTiming] = Field(default_factory=list)  # every shape, as re-verified
    provenance: Provenance
    verification: Verification

    def group(self) -> tuple[str, str, str, str]:
        return self.problem, self.problem_hash, self.arch, self.dtype


class LibraryIndex(BaseModel):
    version: int = INDEX_VERSION
    kernels: list[KernelEntry] = Field(default_factory=list)

    @classmethod
    def load(cls, library: Path | str) -> "LibraryIndex":
        path = Path(library) / "index.json"
        if not path.is_file():
            return cls()
        return cls.model_validate(json.loads(path.read_text()))

    def save(self, library: Path | str) -> Path:
        path = Path(library) / "index.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.model_dump(), indent=2) + "\n")
        os.replace(tmp, path)  # atomic: a reader never sees half an index
        return path

    def find(self, name: str) -> KernelEntry | None:
        hits = [k for k in self.kernels if k.name == name] or [k for k in self.kernels if k.name.startswith(name)]
        return hits[0] if len(hits) == 1 else None

    def for_problem(self, problem: str) -> list[KernelEntry]:
        return [k for k in self.kernels if k.problem == problem]
