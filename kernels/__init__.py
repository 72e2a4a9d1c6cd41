"""The kernel library from Python.

    from agentopt import kernels
    ffn = kernels.load("llama3-8b-ffn", device="cuda")   # a module with Model's state dict; dispatches by shape
    report = kernels.patch(model)                         # swaps matching submodules (Hugging Face LlamaMLP, ...)

A kernel serves only the shapes it was re-verified on, on the architecture and dtype it was built for; any other
call runs the reference (eager) code, and a kernel that cannot be used says why (a warning, and the report)."""
from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from agentopt.config import EvalConfig
from agentopt.harvest.fingerprint import class_hash
from agentopt.harvest.index import KernelEntry, LibraryIndex, default_library, device_arch
from agentopt.problems import get_problem, load_source, shape_label
from agentopt.sandbox.held import held_bytes


def _signature(args) -> tuple:
    return tuple(tuple(a.shape) if isinstance(a, torch.Tensor) else None for a in args)


def _input_signature(problem, shape: dict) -> tuple:
    with torch.device("meta"):  # the inputs' sizes without allocating them
        return _signature(problem.module(shape).get_inputs())


def _same(a, b) -> bool:
    return repr(a) == repr(b)


class LibraryModule(nn.Module):
    """A problem's `Model` (same parameters, same state dict) whose forward runs the library kernel that serves the
    input's shape, and the reference code for every other shape. `calls` counts which ran."""

    def __init__(self, problem, shape: dict, table: dict[tuple, KernelEntry], library: Path,
                 refused: list[str], flatten_leading: bool = False, meta: bool = False):
        super().__init__()
        mod = problem.module(shape)
        self.init_args = list(mod.get_init_inputs())
        with torch.random.fork_rng(devices=[]), (torch.device("meta") if meta else torch.device("cpu")):
            torch.manual_seed(EvalConfig().weight_seed)  # the evaluator's weights, until the caller loads its own
            reference = mod.Model(*self.init_args)
        for name, child in reference.named_children():
            self.add_module(name, child)
        for name, p in reference.named_parameters(recurse=False):
            self.register_parameter(name, p)
        for name, b in reference.named_buffers(recurse=False):
            self.register_buffer(name, b, persistent=name not in reference._non_persistent_buffers_set)
        object.__setattr__(self, "_reference", reference)  # not a submodule: its tensors are ours, shared
        self.problem_name = problem.name
        self.table = table  # input signature -> the kernel that serves it
        self.library = library
        self.refused = list(refused)  # why kernels of this problem are not used here
        self.flatten_leading = flatten_leading
        self.calls: Counter = Counter()
        self._kernels: dict[str, nn.Module] = {}
        self._broken: dict[str, str] = {}
        self._fits: dict[tuple, bool] = {}
        self.register_load_state_dict_post_hook(lambda module, keys: module._weights_changed())

    # ---- keeping the reference and the kernels on our tensors ------------------------------------------------
    def _weights_changed(self) -> None:
        ref = self._reference
        ref._parameters.update({n: p for n, p in self._parameters.items()})
        ref._buffers.update({n: b for n, b in self._buffers.items()})
        self._kernels.clear()  # rebuilt on the next call, from the new tensors (prepare() runs again)

    def _apply(self, fn, *args, **kwargs):
        out = super()._apply(fn, *args, **kwargs)
        self._weights_changed()
        return out

    def _kernel(self, entry: KernelEntry) -> nn.Module | None:
        if entry.name in self._broken:
            return None
        if entry.name not in self._kernels:
            try:
                source = (self.library / entry.path).read_text()
                module = load_source(source, f"agentopt_library_{entry.name.replace('-', '_').replace('.', '_')}")
                kernel = module.ModelNew(*self.init_args)
                param = next(iter(self.state_dict().values()), None)
                if param is not None:
                    kernel = kernel.to(param.device, param.dtype)
                kernel.load_state_dict(self.state_dict(), strict=True, assign=True)  # shares our tensors
                if hasattr(kernel, "prepare"):
                    kernel.prepare()
                self._kernels[entry.name] = kernel
            except Exception as exc:  # a kernel that will not build here runs nothing; the reason is kept
                self._broken[entry.name] = f"{type(exc).__name__}: {exc}"
                warnings.warn(f"library kernel {entry.name} cannot be used: {self._broken[entry.name]}; "
                              f"running the reference code instead", stacklevel=3)
                return None
        return self._kernels[entry.name]

    # ---- dispatch -------------------------------------------------------------------------------------------
    def kernel_for(self, *args) -> KernelEntry | None:
        entry = self.table.get(_signature(args))
        if entry is None:
            return None
        for a in args:
            if isinstance(a, torch.Tensor) and a.is_floating_point():
                key = (a.dtype, a.device, entry.name)
                if key not in self._fits:  # the kernel's dtype and architecture against this tensor's, once
                    self._fits[key] = (str(a.dtype).removeprefix("torch.") == entry.dtype
                                       and device_arch(a.device) == entry.arch)
                if not self._fits[key]:
                    return None
        return entry

    def forward(self, *args):
        x = args[0] if len(args) == 1 and isinstance(args[0], torch.Tensor) else None
        ndim = len(next(iter(self.table))[0] or ()) if self.table else 0
        if self.flatten_leading and x is not None and ndim and x.ndim > ndim:  # (batch, seq, h) -> (tokens, h)
            lead = x.shape[:x.ndim - ndim + 1]
            out = self._dispatch(x.reshape(-1, *x.shape[x.ndim - ndim + 1:]))
            return out.reshape(*lead, *out.shape[1:])
        return self._dispatch(*args)

    def _dispatch(self, *args):
        entry = self.kernel_for(*args)
        if entry is not None and (kernel := self._kernel(entry)) is not None:
            self.calls[entry.name] += 1
            return kernel(*args)
        self.calls["eager"] += 1
        return self._reference(*args)

    def held_bytes(self) -> int:
        """Memory the kernels built so far keep beyond this module's own tensors (their prepared weight copies and
        buffers: sandbox/held.py); a kernel is built at the first call it serves."""
        return sum(held_bytes(k) for k in self._kernels.values())

    def extra_repr(self) -> str:
        kernels = sorted({e.name for e in self.table.values()})
        return (f"problem={self.problem_name}, kernels={kernels}, shapes={len(self.table)}, "
                f"held_by_kernels={self.held_bytes() / 2**20:.0f} MiB")


def _usable(problem, entries: list[KernelEntry], arch: str, dtype: str) -> tuple[list[KernelEntry], list[str]]:
    usable, refused = [], []
    for e in entries:
        if e.problem_hash != problem.source_hash:
            refused.append(f"{e.name}: verified against another version of {problem.name}'s reference "
                           f"(hash {e.problem_hash}, now {problem.source_hash})")
        elif e.arch != arch:
            refused.append(f"{e.name}: built for {e.arch}, this device is {arch}")
        elif e.dtype != dtype:
            refused.append(f"{e.name}: built for {e.dtype}, the module is {dtype}")
        else:
            usable.append(e)
    return usable, refused


def _table(problem, usable: list[KernelEntry], init_args: list) -> dict[tuple, KernelEntry]:
    """Input signature -> the fastest usable kernel serving it, over the served shapes built with these init args."""
    table, best = {}, {}
    for e in usable:
        for s in e.shapes:
            if not _same(list(problem.module(s.shape).get_init_inputs()), init_args):
                continue
            sig = _input_signature(problem, s.shape)
            if sig not in best or s.time_ms < best[sig]:
                table[sig], best[sig] = e, s.time_ms
    return table


def _resolve(problem):
    return get_problem(problem) if isinstance(problem, str) else problem


def load(problem, device: str = "cuda", library: Path | str | None = None, shape: dict | None = None) -> LibraryModule:
    """The library's kernels for a problem (a zoo name or a Problem) on a device, as one module with the reference's
    state dict (weights: the reference's initialisation; load yours with load_state_dict). `shape` picks the sizes
    the module is built for (default: the device's first shape); calls of other shapes run the reference code."""
    problem = _resolve(problem)
    library = Path(library) if library else default_library()
    arch, dtype = device_arch(device), problem.dtype_for(device)
    shape = shape if shape is not None else problem.shapes_for(device)[0]
    usable, refused = _usable(problem, LibraryIndex.load(library).for_problem(problem.name), arch, dtype)
    init_args = list(problem.module(shape).get_init_inputs())
    table = _table(problem, usable, init_args)
    if not table:
        why = "; ".join(refused) or f"the library at {library} has no kernel of {problem.name} for these sizes"
        warnings.warn(f"no library kernel for {problem.name} on {arch}/{dtype}: {why}. The module runs the "
                      "reference code.", stacklevel=2)
    module = LibraryModule(problem, shape, table, library, refused)
    return module.to(device=device, dtype=getattr(torch, dtype))


# ---- patch ------------------------------------------------------------------------------------------------------
@dataclass
class Match:
    problem: str
    flatten_leading: bool  # token-wise op: inputs of shape (..., features) may be flattened to (tokens, features)


def _match_llama_mlp(module: nn.Module, index: LibraryIndex) -> Match | None:
    """Hugging Face's LlamaMLP (and any module of that name with its layout): down(act(gate(x)) * up(x)), SiLU."""
    if type(module).__name__ != "LlamaMLP":
        return None
    parts = [getattr(module, n, None) for n in ("gate_proj", "up_proj", "down_proj")]
    if not all(isinstance(p, nn.Linear) and p.bias is None for p in parts) or \
            not callable(getattr(module, "act_fn", None)):
        return None
    probe = torch.linspace(-4, 4, 17)
    if not torch.allclose(module.act_fn(probe), F.silu(probe), atol=1e-5):
        return None  # another activation: not the problem's MLP
    return Match(problem="llama3-8b-ffn", flatten_leading=True)


def _match_reference_class(module: nn.Module, index: LibraryIndex) -> Match | None:
    """Any module whose class is a library problem's reference `Model` under another name (same source)."""
    h = class_hash(type(module))
    hit = next((e for e in index.kernels if h and e.model_class_hash == h), None)
    return Match(problem=hit.problem, flatten_leading=False) if hit else None


MATCHERS = [_match_llama_mlp, _match_reference_class]  # first match wins


@dataclass
class PatchReport:
    swapped: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (module path, problem, kernels)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (module path, why it was left alone)

    def __str__(self) -> str:
        lines = [f"swapped {path}: {problem} -> {', '.join(kernels)}" for path, problem, kernels in self.swapped]
        return "\n".join(lines + [f"left {path}: {why}" for path, why in self.skipped]) or "nothing matched"


def _tensor_shapes(module: nn.Module) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _scalars(module: nn.Module) -> dict[str, Any]:
    return {k: v for k, v in vars(module).items() if not k.startswith("_") and k != "training"
            and isinstance(v, (int, float, bool, str))}


def _sizes_shape(problem, module: nn.Module) -> dict | None:
    """A shape of the problem whose reference has this module's tensors and settings (None: no such shape)."""
    want, scalars = _tensor_shapes(module), _scalars(module)
    for shape in problem.shapes + problem.cpu_shapes:
        mod = problem.module(shape)
        with torch.device("meta"):
            ref = mod.Model(*mod.get_init_inputs())
        if _tensor_shapes(ref) == want and all(scalars.get(k, v) == v for k, v in _scalars(ref).items()):
            return shape
    return None


def _swap(module: nn.Module, match: Match, index: LibraryIndex, library: Path) -> tuple[LibraryModule | None, str]:
    problem = get_problem(match.problem)
    shape = _sizes_shape(problem, module)
    if shape is None:
        return None, f"matches {problem.name}, but its sizes are none of the problem's shapes"
    tensor = next(iter(module.state_dict().values()))
    arch, dtype = device_arch(tensor.device), str(tensor.dtype).removeprefix("torch.")
    usable, refused = _usable(problem, index.for_problem(problem.name), arch, dtype)
    table = _table(problem, usable, list(problem.module(shape).get_init_inputs()))
    if not table:
        return None, (f"matches {problem.name} ({shape_label(shape)}), but no library kernel serves it on "
                      f"{arch}/{dtype}: " + ("; ".join(refused) or "the library has none for these sizes"))
    lib = LibraryModule(problem, shape, table, library, refused, flatten_leading=match.flatten_leading, meta=True)
    lib.load_state_dict(module.state_dict(), strict=True, assign=True)  # the module's own tensors, not a copy
    return lib, ""


def patch(model: nn.Module, library: Path | str | None = None) -> PatchReport:
    """Swap the submodules of `model` that match a library problem (Hugging Face LlamaMLP; modules whose class is a
    problem's reference) for library modules with the same state dict. Returns what was swapped and, for modules
    that matched but were left alone, why (also warned)."""
    library = Path(library) if library else default_library()
    index = LibraryIndex.load(library)
    report = PatchReport()
    done: list[str] = []
    for path, module in list(model.named_modules()):
        if not path or any(path.startswith(d + ".") for d in done) or isinstance(module, LibraryModule):
            continue
        match = next((m for f in MATCHERS if (m := f(module, index)) is not None), None)
        if match is None:
            continue
        lib, why = _swap(module, match, index, library)
        if lib is None:
            report.skipped.append((path, why))
            warnings.warn(f"{path} was not swapped: {why}", stacklevel=2)
            continue
        parent_path, _, name = path.rpartition(".")
        setattr(model.get_submodule(parent_path) if parent_path else model, name, lib)
        report.swapped.append((path, match.problem, sorted({e.name for e in lib.table.values()})))
        done.append(path)
    return report
