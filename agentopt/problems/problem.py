"""A problem: a reference module in KernelBench's format, the shapes to make it fast on, a dtype, a tolerance.

A problem's source defines `Model`, `get_init_inputs()` and `get_inputs()`; a shape is a dict of overrides of the
source's module-level globals (e.g. {"M": 128}), applied before those functions run, so one file serves every shape.
"""
from __future__ import annotations

import hashlib
import importlib.util
import itertools
import os
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Bound on the relative error ||out - ref|| / ||ref|| (float64) per dtype, against a float32 reference.
# float32 allows tf32 matrix units (~3e-4); bf16/fp16 operands land between 1e-3 and 1e-2.
REL_TOL = {"float32": 1e-3, "float16": 5e-3, "bfloat16": 1.6e-2}
_module_counter = itertools.count()
# The worst element may be off by at most this many times REL_TOL, relative to max |ref|.
WORST_ELEMENT_FACTOR = 8.0


@dataclass
class Problem:
    name: str
    source: str
    shapes: list[dict[str, int]]  # GPU shapes
    cpu_shapes: list[dict[str, int]]  # small shapes for CPU tests and --device cpu
    dtype: str = "float32"  # GPU dtype
    cpu_dtype: str = "float32"  # Triton's interpreter gets bf16 tl.dot wrong: CPU runs use float32
    description: str = ""
    path: str | None = None
    shape_keys: list[str] = field(default_factory=list)  # the names that vary across shapes (e.g. ["M"])

    def shapes_for(self, device: str) -> list[dict[str, int]]:
        return self.shapes if device == "cuda" else self.cpu_shapes

    def dtype_for(self, device: str) -> str:
        return self.dtype if device == "cuda" else self.cpu_dtype

    def tolerance(self, device: str) -> float:
        return REL_TOL[self.dtype_for(device)]

    @property
    def source_hash(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()[:16]

    def module(self, shape: dict[str, Any] | None = None) -> types.ModuleType:
        """A fresh module of the reference source with the shape's globals applied."""
        return load_source(self.source, f"agentopt_problem_{self.name.replace('-', '_')}", shape)

    def to_dict(self) -> dict:
        return {"name": self.name, "shapes": self.shapes, "cpu_shapes": self.cpu_shapes, "dtype": self.dtype,
                "cpu_dtype": self.cpu_dtype, "description": self.description, "path": self.path,
                "source_hash": self.source_hash}


def shape_label(shape: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in shape.items()) or "default"


def load_source(source: str, module_name: str, overrides: dict[str, Any] | None = None) -> types.ModuleType:
    """Import `source` as a fresh module, from a file named by its content hash (Triton's @jit and torch.compile
    read a function's source through its file, so an exec'd string will not do), then apply the overrides."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    folder = Path(os.environ.get("AGENTOPT_CACHE", Path.home() / ".cache" / "agentopt")) / "sources"
    path = folder / f"{module_name}_{digest}.py"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)
    unique = f"{module_name}_{digest}_{next(_module_counter)}"
    spec = importlib.util.spec_from_file_location(unique, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[unique] = mod  # torch.compile looks a function's module up by name
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(unique, None)
        raise
    for key, value in (overrides or {}).items():
        if key not in mod.__dict__:
            raise KeyError(f"shape key {key!r} is not a module-level name of the problem's source")
        mod.__dict__[key] = value
    return mod


def check_kernelbench_source(source: str, path: Path) -> str | None:
    """None if the source looks like a KernelBench problem, else what is missing."""
    try:
        mod = load_source(source, "agentopt_problem_check")
    except Exception as exc:  # a user's file: report, do not crash
        return f"{path} does not import: {type(exc).__name__}: {exc}"
    missing = [n for n in ("Model", "get_inputs", "get_init_inputs") if not hasattr(mod, n)]
    if missing:
        return f"{path} is not in KernelBench's format: it lacks {', '.join(missing)}"
    return None
