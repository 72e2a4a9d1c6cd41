"""The evaluator's records. Each stage returns one; a failed stage is a record with a reason, never an exception."""
from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field

Status = Literal["ok", "compile_error", "incorrect", "rejected", "timeout", "crashed"]


class ShapeCost(BaseModel):
    """The work of one shape, for roofline floors: FLOPs and the bytes that must cross DRAM at least once."""
    shape: dict[str, Any]
    flops: float
    bytes: float


class KernelInfo(BaseModel):
    """What the compiler says of one kernel, for the coders' prompts."""
    name: str
    kind: str = "triton"  # triton, cuda
    registers: int | None = None
    spills: int | None = None  # bytes spilled to local memory
    shared_bytes: int | None = None
    num_warps: int | None = None
    num_stages: int | None = None


class CompileResult(BaseModel):
    ok: bool
    error: str | None = None
    log: str = ""  # the compiler's and the import's output, kept whole
    seconds: float = 0.0
    kernels: list[KernelInfo] = Field(default_factory=list)
    # memory a ModelNew keeps beyond the reference's weights after its first call on every shape (prepared weight
    # copies, buffers: sandbox/held.py), the most of its instances; not weighed in the score
    held_bytes: int | None = None


class CheckResult(BaseModel):
    shape: dict[str, Any]
    correct: bool
    rel_err: float | None = None  # worst over seeds of ||out - ref|| / ||ref||, float64
    max_err: float | None = None  # worst over seeds of max |out - ref| / max |ref|
    seeds: int = 0
    error: str | None = None


class TimingResult(BaseModel):
    shape: dict[str, Any]
    time_ms: float | None = None  # candidate median
    p20_ms: float | None = None
    p80_ms: float | None = None
    baseline_ms: float | None = None  # reference median, timed interleaved in the same session
    baseline_p20_ms: float | None = None
    baseline_p80_ms: float | None = None
    wall_ms: float | None = None  # wall-clock per call, for the cross-check against the events
    reps: int = 0
    error: str | None = None


class ShapeResult(BaseModel):
    shape: dict[str, Any]
    correct: bool
    rel_err: float | None = None
    max_err: float | None = None
    time_ms: float | None = None
    p20_ms: float | None = None
    p80_ms: float | None = None
    baseline_ms: float | None = None
    speedup: float | None = None  # baseline_ms / time_ms; in a search, against the lower of it and steady_baseline_ms
    # where a search found baseline_ms far above the run's median for this shape: that median, which the search
    # scored against instead (agentopt/search/steady.py)
    steady_baseline_ms: float | None = None
    floor_ms: float | None = None  # the roofline floor, when costs were given
    fraction_of_floor: float | None = None  # floor_ms / time_ms
    achieved_gbps: float | None = None
    achieved_tflops: float | None = None
    bandwidth_fraction: float | None = None  # of the measured copy bandwidth
    compute_fraction: float | None = None  # of the measured matrix rate of the dtype
    error: str | None = None


class Evaluation(BaseModel):
    status: Status
    reason: str | None = None  # a sentence a person or a model can act on; None when ok
    score: float = 0.0  # geometric mean over shapes of baseline / candidate; 0 unless ok
    shapes: list[ShapeResult] = Field(default_factory=list)
    compile: CompileResult | None = None
    guard: list[str] = Field(default_factory=list)  # the static policy's findings
    flags: list[str] = Field(default_factory=list)  # e.g. faster than the roofline floor: suspicious
    device: str = "cpu"
    gpu: str | None = None
    seconds: float = 0.0  # wall time of the whole evaluation
    phases: dict[str, float] = Field(default_factory=dict)  # seconds per step of the evaluation (Evaluator.finish)

    @property
    def error(self) -> str | None:
        return self.reason

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def geomean(values: list[float | None]) -> float:
    """An evaluation's score: the geometric mean of its shapes' speedups (0 unless every shape has one)."""
    vals = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals and len(vals) == len(values) else 0.0
