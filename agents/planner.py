"""The planner: from a problem's graph and a GPU's limits to a plan.

Per shape: FLOPs and bytes of the whole problem (inputs, weights and outputs once; intermediates on chip), the
roofline floor max(bytes / bandwidth, FLOPs / matrix rate), what bounds it, its regime and strategy hints; per op
the same numbers; the fusion groups with the traffic they save; and, with an LLM, the planner agent's additions.

    plan = make_plan(problem, hardware)                 # rule-based; asks the LLM too when `llm` is given
    plan = await refine_plan(plan, problem, llm)        # the LLM pass alone, from async code
"""
from __future__ import annotations

import asyncio
import json
import statistics
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentopt.config import PlanConfig
from agentopt.hardware import HardwareProfile
from agentopt.problems import shape_label
from agentopt.prompts import render
from agentopt.sandbox.records import ShapeCost

from . import hints as rules
from .fusion import FusionGroup, find_groups
from .graph import Trace, trace_problem

Bound = Literal["memory", "compute"]


class ShapePlan(BaseModel):
    shape: dict[str, Any]
    label: str
    flops: float
    bytes: float  # inputs, weights and outputs once; intermediates on chip
    weight_bytes: float
    intensity: float  # FLOP per byte
    memory_us: float  # bytes / bandwidth
    compute_us: float  # FLOPs / matrix rate of the dtype
    floor_us: float  # the larger of the two
    bound: Bound
    regime: str  # small, large, weight-streaming, memory-streaming
    hints: list[str] = Field(default_factory=list)
    eager_us: float | None = None  # the reference in eager PyTorch, where a GPU timed it


class OpPlan(BaseModel):
    name: str
    target: str
    module: str | None = None
    kind: str
    flops: dict[str, float] = Field(default_factory=dict)  # shape label -> value, as alone
    bytes: dict[str, float] = Field(default_factory=dict)
    intensity: dict[str, float] = Field(default_factory=dict)
    bound: dict[str, Bound] = Field(default_factory=dict)


class Plan(BaseModel):
    problem: str
    gpu: str
    arch: str
    dtype: str
    device: str = "cuda"
    shapes: list[ShapePlan] = Field(default_factory=list)
    ops: list[OpPlan] = Field(default_factory=list)
    fusion_groups: list[FusionGroup] = Field(default_factory=list)
    hints: list[str] = Field(default_factory=list)
    llm_notes: str | None = None
    llm_error: str | None = None
    error: str | None = None  # the graph could not be traced: no floors, no hints


def _traces(problem, device: str) -> dict[str, Trace]:
    dtype = problem.dtype_for(device)
    return {shape_label(s): trace_problem(problem, s, dtype) for s in problem.shapes_for(device)}


def shape_costs(problem, device: str) -> list[ShapeCost] | None:
    """FLOPs and bytes of the whole problem per shape of the device, for the evaluator's floors; None if the
    reference cannot be traced. Cheap after the first call (traces are cached per source, shape and dtype)."""
    traces = list(_traces(problem, device).values())
    if any(t.error for t in traces):
        return None
    return [ShapeCost(shape=t.shape, flops=t.flops, bytes=t.bytes) for t in traces]


def _times_us(flops: float, nbytes: float, hw: HardwareProfile, dtype: str) -> tuple[float, float]:
    return nbytes / (hw.bandwidth_gbps * 1e3), flops / (hw.matmul_rate(dtype) * 1e6)


def _op_plans(traces: dict[str, Trace], hw: HardwareProfile, dtype: str) -> list[OpPlan]:
    ops: dict[str, OpPlan] = {}
    for label, trace in traces.items():
        for op in trace.ops:
            plan = ops.setdefault(op.name, OpPlan(name=op.name, target=op.target, module=op.module, kind=op.kind))
            memory_us, compute_us = _times_us(op.flops, op.bytes, hw, dtype)
            plan.flops[label], plan.bytes[label] = op.flops, op.bytes
            plan.intensity[label] = op.flops / op.bytes if op.bytes else 0.0
            plan.bound[label] = "compute" if compute_us > memory_us else "memory"
    return list(ops.values())


def _shape_facts(trace: Trace, label: str, hw: HardwareProfile, dtype: str, groups: list[FusionGroup],
                 config: PlanConfig) -> dict[str, Any]:
    flops, nbytes = trace.flops, trace.bytes
    memory_us, compute_us = _times_us(flops, nbytes, hw, dtype)
    shared = next((g for g in groups if g.kind.startswith("shared-input")), None)
    gemms = rules.gemm_shapes(trace.ops)
    gemm_names = {op.name for op in trace.ops if op.fusion == "gemm"}
    facts = {
        "label": label, "flops": flops, "bytes": nbytes, "weight_bytes": trace.weight_bytes,
        "intensity": flops / nbytes if nbytes else 0.0, "memory_us": memory_us, "compute_us": compute_us,
        "floor_us": max(memory_us, compute_us), "bound": "compute" if compute_us > memory_us else "memory",
        "ridge": hw.matmul_rate(dtype) * 1e3 / hw.bandwidth_gbps, "dtype": dtype,
        "sm_count": hw.sm_count, "l2_mb": hw.l2_bytes / 2**20,
        "has_gemm": bool(gemm_names),
        "has_conv": any(op.kind == "conv" for op in trace.ops),
        "shared_input_gemms": [n for n in shared.ops if n in gemm_names] if shared else [],
        "shared_input_epilogue": bool(shared) and shared.kind.endswith("epilogue"),
        "gemm_epilogue": any("epilogue" in g.kind for g in groups),
        "row": max((op.row for op in trace.ops), default=0),
        "row_in_registers": config.row_in_registers, "split_k_tile_n": config.split_k_tile_n,
        "split_k": rules.split_k(gemms, hw.sm_count, config),
        "gemv": bool(gemms) and all(g["m"] == 1 for g in gemms),  # every matrix product has one row
        "tma": tuple(hw.compute_capability) >= (9, 0),  # Hopper's tensor-copy engine
    }
    facts["regime"] = rules.regime(facts, config)
    return facts


def make_plan(problem, hardware: HardwareProfile, device: str = "cuda", llm=None,
              eager_times_ms: dict[str, float] | None = None, config: PlanConfig | None = None) -> Plan:
    """The rule-based plan of a problem on a GPU profile; with `llm` (and config.llm_pass), refined by the planner
    agent. `eager_times_ms` maps shape labels to eager times measured elsewhere. Never raises for a bad model:
    a graph that cannot be traced gives a plan with `error`."""
    config = config or PlanConfig()
    dtype = problem.dtype_for(device)
    plan = Plan(problem=problem.name, gpu=hardware.name, arch=hardware.arch, dtype=dtype, device=device)
    traces = _traces(problem, device)
    failed = next((t for t in traces.values() if t.error), None)
    if failed:
        plan.error = f"at {shape_label(failed.shape)}: {failed.error}"
        return plan
    plan.ops = _op_plans(traces, hardware, dtype)
    plan.fusion_groups = find_groups(traces)
    eager = eager_times_ms or {}
    for label, trace in traces.items():
        f = _shape_facts(trace, label, hardware, dtype, plan.fusion_groups, config)
        plan.shapes.append(ShapePlan(
            shape=trace.shape, label=label, flops=f["flops"], bytes=f["bytes"], weight_bytes=f["weight_bytes"],
            intensity=f["intensity"], memory_us=f["memory_us"], compute_us=f["compute_us"], floor_us=f["floor_us"],
            bound=f["bound"], regime=f["regime"], hints=rules.shape_hints(f),
            eager_us=eager[label] * 1e3 if label in eager else None))
    groups = [{**g.model_dump(), "most_saved": max(g.bytes_saved.values(), default=0.0)} for g in plan.fusion_groups]
    plan.hints = rules.global_hints({
        "groups": groups, "shapes": [s.model_dump() for s in plan.shapes],
        "regimes": list(dict.fromkeys(s.regime for s in plan.shapes)),
        "has_gemm": any(op.kind in ("matmul", "conv") for op in plan.ops), "dtype": dtype,
        "has_reduction": any(op.kind in ("softmax", "norm", "reduction") for op in plan.ops),
        "weight_bytes": max(s.weight_bytes for s in plan.shapes)})
    if llm is not None and config.llm_pass:
        plan = _run_llm_pass(plan, problem, llm)
    return plan


# --- the planner agent (optional LLM pass) ---------------------------------------------------------------------

class PlannerReply(BaseModel):
    """What the planner agent must answer: hints to add or move up, per shape label and for the whole problem."""
    model_config = ConfigDict(extra="forbid")
    hints: dict[str, list[str]] = Field(default_factory=dict)
    global_hints: list[str] = Field(default_factory=list)
    notes: str = ""


def _json_text(text: str) -> str:
    """The reply without a Markdown code fence around it."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0]
    return body.strip()


def _parse_reply(text: str | None, labels: list[str]) -> tuple[PlannerReply | None, str | None]:
    if not text:
        return None, "the planner agent's reply was empty"
    try:
        reply = PlannerReply.model_validate(json.loads(_json_text(text)))
    except json.JSONDecodeError as exc:
        return None, f"the planner agent's reply is not valid JSON ({exc}); the rule-based plan stands"
    except ValidationError as exc:
        return None, f"the planner agent's reply does not fit the schema ({exc}); the rule-based plan stands"
    unknown = [k for k in reply.hints if k not in labels]
    if unknown:
        return None, (f"the planner agent's reply names shapes that do not exist ({', '.join(unknown)}; the shapes "
                      f"are {', '.join(labels)}); the rule-based plan stands")
    return reply, None


def _first(new: list[str], old: list[str]) -> list[str]:
    return list(dict.fromkeys([h.strip() for h in new if h.strip()] + old))


async def refine_plan(plan: Plan, problem, llm) -> Plan:
    """The planner agent reads the analysis and puts its hints first (new ones added, repeated ones moved up).
    A failed call or a reply that fails validation is recorded in `llm_error`; the rule-based plan stands."""
    prompt = render("planner", plan=plan.model_dump(), problem=problem.to_dict(), source=problem.source,
                    schema=json.dumps(PlannerReply.model_json_schema()))
    reply = await llm.chat([{"role": "user", "content": prompt}], purpose="plan",
                           json_schema=PlannerReply.model_json_schema())
    if reply.error:
        return plan.model_copy(update={"llm_error": f"the planner agent's call failed: {reply.error}"})
    parsed, error = _parse_reply(reply.text, [s.label for s in plan.shapes])
    if parsed is None:
        return plan.model_copy(update={"llm_error": error})
    shapes = [s.model_copy(update={"hints": _first(parsed.hints.get(s.label, []), s.hints)}) for s in plan.shapes]
    return plan.model_copy(update={"shapes": shapes, "hints": _first(parsed.global_hints, plan.hints),
                                   "llm_notes": parsed.notes or None, "llm_error": None})


def _run_llm_pass(plan: Plan, problem, llm) -> Plan:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(refine_plan(plan, problem, llm))
    return plan.model_copy(update={"llm_error": "make_plan was called inside a running event loop, where it cannot "
                                   "wait for the LLM: call make_plan(..., llm=None), then await refine_plan(...)"})


# --- eager time on this GPU ------------------------------------------------------------------------------------

def time_eager(problem, l2_bytes: int, config: PlanConfig | None = None) -> dict[str, float]:
    """Median milliseconds of the reference in eager PyTorch per GPU shape, CUDA events, L2 flushed before each
    call. A shape that fails (e.g. out of memory) is left out."""
    import torch

    config = config or PlanConfig()
    dtype = getattr(torch, problem.dtype)
    flush = torch.empty(max(2 * l2_bytes, 2**20), dtype=torch.uint8, device="cuda")
    times: dict[str, float] = {}
    for shape in problem.shapes:
        mod = problem.module(shape)
        try:
            with torch.device("cuda"), torch.no_grad():
                model = mod.Model(*mod.get_init_inputs()).to(device="cuda", dtype=dtype)
                inputs = [x.to(device="cuda", dtype=dtype if x.is_floating_point() else x.dtype)
                          if isinstance(x, torch.Tensor) else x for x in mod.get_inputs()]
                for _ in range(config.eager_warmup):
                    model(*inputs)
                pairs = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                         for _ in range(config.eager_reps)]
                for start, end in pairs:
                    flush.zero_()
                    start.record()
                    model(*inputs)
                    end.record()
                torch.cuda.synchronize()
            times[shape_label(shape)] = statistics.median(s.elapsed_time(e) for s, e in pairs)
        except torch.cuda.OutOfMemoryError:
            pass
        finally:
            torch.cuda.empty_cache()
    return times
