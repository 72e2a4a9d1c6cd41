"""Kernel templates the template coder fills: a registry name -> template module.

A template is a module with
  NAME, PATTERN (the fusion pattern it serves), DEVICES (where its candidates run),
  SPACE (parameter -> values), STRUCTURAL (parameters that switch a structural variant),
  GROUPS (independent parameter groups: each changes only its own part of the code), SEED (a good first point),
  optionally VARIANTS (changes to the SEED that measured well too, each a dict: the coder proposes them next),
  matches(problem) -> bool, dims(problem, shape) -> sizes for pruning,
  prune(params, hardware, dims_per_shape) -> why the point cannot fit, or None (hardware None: the CPU),
  render(params, problem) -> a candidate's source (ModelNew derives from the reference's Model).
"""
from __future__ import annotations

from types import ModuleType

from . import gated_mlp, gemm_epilogue, gemv_cuda, rmsnorm, rope, softmax, torch_compile

TEMPLATES: dict[str, ModuleType] = {m.NAME: m for m in (gated_mlp, gemv_cuda, gemm_epilogue, rmsnorm, softmax,
                                                         rope, torch_compile)}
# Offered when no kernel template matches a problem.
FALLBACK = torch_compile.NAME
