"""Fusion groups, found the way Welder and Inductor find them, on one shape's trace.

Walking the ops in order, each op joins the groups of the ops it reads from when the result is still one kernel
a coder would write:
- an elementwise op joins its producers' groups: a GEMM's (the epilogue), a reduction's, other elementwise ops';
- a reduction joins the elementwise ops that feed it (a norm's or softmax's prologue), never a GEMM's group;
- a GEMM joins a group whose GEMMs read the same activation (the gate and up projections of a gated MLP), and
  takes no prologue: its input comes from memory.
A group holds GEMMs only if they all share an input, never a GEMM and a reduction together, reductions only
over rows of one length (a softmax's max and sum, a norm's mean and variance), and no op the fusers leave alone
(pools, gathers, sorts: fusion class "none"). What fusing a group saves is the traffic of its ops run alone minus
its traffic fused (`graph.traffic`).
"""
from __future__ import annotations

from pydantic import BaseModel, Field

from .graph import Trace, consumers, traffic


class FusionGroup(BaseModel):
    name: str
    kind: str  # shared-input GEMMs (+ epilogue), GEMM + epilogue, reduction + elementwise, elementwise chain
    ops: list[str]
    bytes_saved: dict[str, float] = Field(default_factory=dict)  # shape label -> bytes no longer moved


def _producers(trace: Trace, i: int) -> list[int]:
    return [int(r.source.split(":")[1]) for r in trace.ops[i].reads if r.source.startswith("op:")]


def _activations(trace: Trace, i: int) -> set[str]:
    return {r.source for r in trace.ops[i].reads if not r.source.startswith(("param:", "const:"))}


def _one_kernel(trace: Trace, members: set[int]) -> bool:
    fusions = [trace.ops[i].fusion for i in members]
    gemms = [i for i in members if trace.ops[i].fusion == "gemm"]
    rows = {trace.ops[i].row for i in members if trace.ops[i].fusion == "reduction"}
    if "none" in fusions or (gemms and rows) or len(rows) > 1:
        return False
    return len(gemms) <= 1 or bool(set.intersection(*(_activations(trace, i) for i in gemms)))


# which groups an op of each fusion class may join: its producers' groups, or (GEMMs) any group with a GEMM
_JOINS = {
    "elementwise": lambda trace, i, group: bool(set(_producers(trace, i)) & group),
    "reduction": lambda trace, i, group: bool(set(_producers(trace, i)) & group)
    and all(trace.ops[j].fusion != "gemm" for j in group),
    "gemm": lambda trace, i, group: any(trace.ops[j].fusion == "gemm" for j in group),
}


def group_ops(trace: Trace) -> list[set[int]]:
    """Indices of the ops of each group of two or more, in trace order."""
    groups: list[set[int]] = []
    for i, op in enumerate(trace.ops):
        group = {i}
        joins = _JOINS.get(op.fusion)
        if joins:
            for other in [g for g in groups if joins(trace, i, g)]:
                if _one_kernel(trace, group | other):
                    group |= other
                    groups.remove(other)
        groups.append(group)
    return sorted((g for g in groups if len(g) > 1), key=min)


def _kind(trace: Trace, members: set[int]) -> str:
    fusions = [trace.ops[i].fusion for i in members]
    gemms = fusions.count("gemm")
    if gemms > 1:
        return "shared-input GEMMs + epilogue" if len(fusions) > gemms else "shared-input GEMMs"
    if gemms == 1:
        return "GEMM + epilogue"
    return "reduction + elementwise" if "reduction" in fusions else "elementwise chain"


def _short(trace: Trace, i: int) -> str:
    op = trace.ops[i]
    return op.module or op.name


def find_groups(traces: dict[str, Trace]) -> list[FusionGroup]:
    """Groups found on the first traced shape; bytes saved on every shape whose trace has the same ops."""
    first = next(iter(traces.values()))
    found = []
    for members in group_ops(first):
        order = sorted(members)
        names = [first.ops[i].name for i in order]
        found.append(FusionGroup(name="+".join(dict.fromkeys(_short(first, i) for i in order)),
                                 kind=_kind(first, members), ops=names))
    for label, trace in traces.items():
        index = {op.name: i for i, op in enumerate(trace.ops)}
        users = consumers(trace)
        for group in found:
            if all(n in index for n in group.ops):
                members = {index[n] for n in group.ops}
                alone = sum(trace.ops[i].bytes for i in members)
                group.bytes_saved[label] = alone - traffic(trace, members, users)
    return found
