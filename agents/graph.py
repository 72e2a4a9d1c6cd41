"""The problem's op graph at one shape: every aten op the reference runs, with its FLOPs and bytes, traced on meta
tensors (no GPU, no weights, no memory).

Why a dispatch-mode recording rather than torch.fx or torch.export: it sees the aten ops with their real shapes
and dtypes whatever the Python in `forward` does (shape-dependent branches, helper functions, `chunk`, `.to`),
needs no shape propagation pass, and behaves the same on torch 2.11 and 2.13. Module hooks name each op after
the submodule that ran it (`gate_proj.mm`).

Bytes of an op are what it reads and writes if it runs alone; `traffic(trace, ops)` is what a set of ops moves
when fused into one kernel (each outside tensor read once, only tensors used outside written), so the whole
problem's bytes are `traffic` of all ops: inputs, weights and outputs once, intermediates on chip.
"""
from __future__ import annotations

import functools
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable

from pydantic import BaseModel, Field


class Read(BaseModel):
    source: str  # "input:0", "param:gate_proj.weight", "const:0" (a tensor held outside the state dict), "op:3"
    bytes: float


class TracedOp(BaseModel):
    name: str  # unique in the trace: "gate_proj.mm", "silu", "mul_1"
    target: str  # the aten overload, "aten.mm.default"
    module: str | None = None  # the submodule that ran it
    kind: str  # matmul, conv, softmax, norm, reduction, elementwise, copy, pool, factory, other
    fusion: str  # how fusion sees it: gemm, reduction, elementwise, none
    flops: float
    bytes: float  # alone: inputs read + outputs written
    row: int = 0  # reductions: input elements that meet in one result (a softmax's or norm's row)
    reads: list[Read] = Field(default_factory=list)
    outs: dict[str, float] = Field(default_factory=dict)  # "op:<index>[:<j>]" -> bytes
    in_shapes: list[list[int]] = Field(default_factory=list)
    out_shapes: list[list[int]] = Field(default_factory=list)


class Trace(BaseModel):
    shape: dict[str, Any]
    dtype: str
    ops: list[TracedOp] = Field(default_factory=list)
    externals: dict[str, float] = Field(default_factory=dict)  # tensors from outside the forward -> bytes
    outputs: dict[str, float] = Field(default_factory=dict)  # sources of the forward's outputs -> bytes
    error: str | None = None

    @property
    def flops(self) -> float:
        return sum(op.flops for op in self.ops)

    @property
    def bytes(self) -> float:
        return traffic(self, range(len(self.ops)))

    @property
    def weight_bytes(self) -> float:
        """Bytes of the parameters and buffers the forward reads (once each)."""
        return _read_once(self, range(len(self.ops)), lambda src: src.startswith(("param:", "const:")))


# --- FLOPs and kinds of aten ops -------------------------------------------------------------------------------

@dataclass(frozen=True)
class OpKind:
    kind: str
    fusion: str  # gemm, reduction, elementwise, none
    flops: Callable[[tuple, list], float]  # (the op's args, its output tensors) -> FLOPs


def _mm(args, outs):
    a, b = args[0], args[1]
    return 2.0 * a.shape[0] * a.shape[1] * b.shape[1]


def _bmm(args, outs):
    a, b = args[0], args[1]
    return 2.0 * a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2]


def _mv(args, outs):
    return 2.0 * args[0].numel()


def _plus_out(gemm):  # addmm, baddbmm, addmv: the GEMM of args[1:] plus adding args[0]
    return lambda args, outs: gemm(args[1:], outs) + outs[0].numel()


def _conv(args, outs):
    """2 x (output elements, or input elements when transposed) x (in channels per group x kernel volume)."""
    x, w, bias, transposed = args[0], args[1], args[2], bool(args[6])
    per_element = w.shape[1] * math.prod(w.shape[2:])
    base = x.numel() if transposed else outs[0].numel()
    return 2.0 * base * per_element + (outs[0].numel() if bias is not None else 0.0)


def _per_input(factor):
    return lambda args, outs: factor * float(next(a for a in args if _is_tensor(a)).numel())


def _per_output(factor):
    return lambda args, outs: factor * float(sum(o.numel() for o in outs[:1]))


_NONE = lambda args, outs: 0.0  # noqa: E731

KINDS: dict[str, OpKind] = {
    "mm": OpKind("matmul", "gemm", _mm),
    "addmm": OpKind("matmul", "gemm", _plus_out(_mm)),
    "bmm": OpKind("matmul", "gemm", _bmm),
    "baddbmm": OpKind("matmul", "gemm", _plus_out(_bmm)),
    "mv": OpKind("matmul", "gemm", _mv),
    "addmv": OpKind("matmul", "gemm", _plus_out(_mv)),
    "dot": OpKind("matmul", "gemm", _per_input(2.0)),
    "convolution": OpKind("conv", "gemm", _conv),
    **{n: OpKind("softmax", "reduction", _per_input(5.0)) for n in ("_softmax", "_log_softmax", "_safe_softmax")},
    **{n: OpKind("norm", "reduction", _per_input(5.0)) for n in (
        "native_layer_norm", "native_group_norm", "native_batch_norm", "_native_batch_norm_legit",
        "_native_batch_norm_legit_no_training", "_fused_rms_norm")},
    **{n: OpKind("pool", "none", _per_input(1.0)) for n in (
        "max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool2d", "avg_pool3d",
        "_adaptive_avg_pool2d", "_adaptive_avg_pool3d", "adaptive_max_pool2d", "adaptive_max_pool3d")},
    **{n: OpKind("copy", "elementwise", _NONE) for n in (
        "_to_copy", "clone", "copy_", "cat", "stack", "constant_pad_nd")},
}
_POINTWISE = OpKind("elementwise", "elementwise", _per_output(1.0))
_REDUCTION = OpKind("reduction", "reduction", _per_input(1.0))
_FACTORY = OpKind("factory", "elementwise", _NONE)  # no tensor inputs: allocations, arange, random numbers
_OTHER = OpKind("other", "none", _per_output(1.0))
# Views whose overload is not marked as one: outputs alias their input and cost nothing.
_ALIASES = {"_unsafe_view", "_reshape_alias", "alias", "detach", "lift_fresh"}


def classify(func, n_tensor_inputs: int) -> OpKind:
    import torch

    name = func.overloadpacket.__name__
    if name in KINDS:
        return KINDS[name]
    if n_tensor_inputs == 0:
        return _FACTORY
    if torch.Tag.pointwise in func.tags:
        return _POINTWISE
    if torch.Tag.reduction in func.tags:
        return _REDUCTION
    return _OTHER


# --- tracing ---------------------------------------------------------------------------------------------------

def reduced_row(kind: OpKind, args: tuple, ins: list, outs: list) -> int:
    """Input elements per result of a reduction: the softmax's dim, else input size over the smallest output
    (a norm's mean or rstd, a sum's result); 0 for other ops."""
    if kind.fusion != "reduction" or not ins:
        return 0
    x = ins[0]
    if kind.kind == "softmax":
        return int(x.shape[args[1]]) if x.dim() else 1
    smallest = min((o.numel() for o in outs if o.numel()), default=x.numel())
    return int(x.numel() // smallest) if smallest < x.numel() else int(x.shape[-1] if x.dim() else 1)


def _is_tensor(x) -> bool:
    import torch

    return isinstance(x, torch.Tensor)


def tensor_bytes(t) -> float:
    """Bytes a kernel touches in t: its elements, or its storage when smaller (an expanded, broadcast view)."""
    dense = t.numel() * t.element_size()
    try:
        return float(min(dense, t.untyped_storage().nbytes()))
    except (RuntimeError, NotImplementedError):
        return float(dense)


def _dispatch_recorder():
    """A TorchDispatchMode that appends a TracedOp per aten op and follows tensors from op to op."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class Recorder(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops: list[TracedOp] = []
            self.source: dict[int, str] = {}  # id(tensor) -> source
            self.size: dict[str, float] = {}  # source -> bytes of the whole tensor
            self.externals: dict[str, float] = {}
            self.keep: list = []  # keeps every tensor alive, so that ids are never reused
            self.modules: list[str] = []
            self.names: dict[str, int] = {}

        def bind(self, t, source: str, external: bool) -> None:
            self.keep.append(t)
            self.source[id(t)] = source
            self.size.setdefault(source, tensor_bytes(t))
            if external:
                self.externals.setdefault(source, self.size[source])

        def source_of(self, t) -> str:
            if id(t) not in self.source:
                self.bind(t, f"const:{sum(s.startswith('const:') for s in self.externals)}", external=True)
            return self.source[id(t)]

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            ins = [a for a in tree_flatten((args, kwargs))[0] if isinstance(a, torch.Tensor)]
            outs = [o for o in tree_flatten(out)[0] if isinstance(o, torch.Tensor)]
            short = func.overloadpacket.__name__
            if ins and (func.is_view or short in _ALIASES):
                for o in outs:
                    self.bind(o, self.source_of(ins[0]), external=False)
                return out
            kind = classify(func, len(ins))
            index = len(self.ops)
            keys = [f"op:{index}" if len(outs) == 1 else f"op:{index}:{j}" for j in range(len(outs))]
            reads = [Read(source=self.source_of(t), bytes=tensor_bytes(t)) for t in ins]
            for key, o in zip(keys, outs):
                self.bind(o, key, external=False)
            module = self.modules[-1] if self.modules else None
            name = f"{module}.{short}" if module else short
            seen = self.names.get(name, 0)
            self.names[name] = seen + 1
            out_bytes = {key: tensor_bytes(o) for key, o in zip(keys, outs)}
            self.ops.append(TracedOp(
                name=name if seen == 0 else f"{name}_{seen}", target=str(func), module=module, kind=kind.kind,
                fusion=kind.fusion, flops=float(kind.flops(args, outs)), row=reduced_row(kind, args, ins, outs),
                bytes=0.0 if kind is _FACTORY else sum(r.bytes for r in reads) + sum(out_bytes.values()),
                reads=reads, outs=out_bytes, in_shapes=[list(t.shape) for t in ins],
                out_shapes=[list(o.shape) for o in outs]))
            return out

    return Recorder()


def _meta_instance(mod, dtype):
    """The reference model and its inputs as meta tensors of the problem's dtype (floating tensors cast).
    Each is built on the meta device; one that needs real data (`.item()`, numpy) is built on the CPU and moved."""
    import torch

    def on_meta(make):
        try:
            with torch.device("meta"):
                return make()
        except (RuntimeError, NotImplementedError, TypeError):
            return make()

    model = on_meta(lambda: mod.Model(*mod.get_init_inputs())).to(device="meta", dtype=dtype)
    inputs = on_meta(mod.get_inputs)
    inputs = [x.to(device="meta", dtype=dtype if x.is_floating_point() else x.dtype) if isinstance(x, torch.Tensor)
              else x for x in inputs]
    return model, inputs


def _trace(problem, shape: dict[str, Any], dtype: str) -> Trace:
    import torch
    from torch.utils._pytree import tree_flatten

    rec = _dispatch_recorder()
    hooks = []
    try:
        model, inputs = _meta_instance(problem.module(shape), getattr(torch, dtype))
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            rec.bind(t, f"param:{name}", external=True)
        for i, x in enumerate(inputs):
            if isinstance(x, torch.Tensor):
                rec.bind(x, f"input:{i}", external=True)
        def enter(module, args, name):
            rec.modules.append(name)

        def leave(module, args, output):
            rec.modules.pop()

        for name, sub in model.named_modules():
            if name:
                hooks.append(sub.register_forward_pre_hook(functools.partial(enter, name=name)))
                hooks.append(sub.register_forward_hook(leave))
        with torch.no_grad(), rec:
            out = model(*inputs)
        outputs = {}
        for o in tree_flatten(out)[0]:
            if isinstance(o, torch.Tensor):
                src = rec.source_of(o)
                outputs[src] = outputs.get(src, 0.0) + tensor_bytes(o)
    except Exception as exc:  # a user's model: say why it cannot be traced, do not crash the planner
        return Trace(shape=shape, dtype=dtype, error=f"tracing on meta tensors failed: {type(exc).__name__}: {exc}")
    finally:
        for h in hooks:
            h.remove()
    return Trace(shape=shape, dtype=dtype, ops=rec.ops, externals=rec.externals, outputs=outputs)


_CACHE: dict[tuple[str, str, str], Trace] = {}


def trace_problem(problem, shape: dict[str, Any], dtype: str) -> Trace:
    """The problem's ops at one shape in one dtype ('bfloat16'), cached per source hash, shape and dtype."""
    key = (problem.source_hash, json.dumps(shape, sort_keys=True), dtype)
    if key not in _CACHE:
        _CACHE[key] = _trace(problem, shape, dtype)
    return _CACHE[key]


# --- traffic of fused sets -------------------------------------------------------------------------------------

def consumers(trace: Trace) -> dict[str, set[int]]:
    users: dict[str, set[int]] = defaultdict(set)
    for i, op in enumerate(trace.ops):
        for r in op.reads:
            users[r.source].add(i)
    return users


def _sizes(trace: Trace) -> dict[str, float]:
    sizes = dict(trace.externals)
    for op in trace.ops:
        sizes.update(op.outs)
    return sizes


def _read_once(trace: Trace, members, keep: Callable[[str], bool]) -> float:
    """Bytes read by a fused set of ops from tensors made outside it: each tensor once (at most its size)."""
    members = set(members)
    produced = {key for i in members for key in trace.ops[i].outs}
    read: dict[str, float] = defaultdict(float)
    for i in members:
        for r in trace.ops[i].reads:
            if r.source not in produced and keep(r.source):
                read[r.source] += r.bytes
    sizes = _sizes(trace)
    return sum(min(b, sizes.get(src, b)) for src, b in read.items())


def traffic(trace: Trace, members, users: dict[str, set[int]] | None = None) -> float:
    """Bytes a fused set of ops moves: outside tensors read once, and the outputs that are used outside the set
    or are the forward's outputs written once; everything else stays on chip."""
    members = set(members)
    users = consumers(trace) if users is None else users
    written = sum(b for i in members for key, b in trace.ops[i].outs.items()
                  if key in trace.outputs or users.get(key, set()) - members)
    return _read_once(trace, members, lambda src: True) + written
