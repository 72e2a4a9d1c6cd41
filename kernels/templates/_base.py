"""What the templates share: reading a problem (its sizes, its reference's state dict and graph, on the meta
device so that nothing is allocated), walking a parameter space, and the candidate's common parts."""
from __future__ import annotations

import ast
import functools
import itertools
import random
from typing import Any, Callable

_MEMO: dict[tuple, Any] = {}

HEADER = '''"""{title}

Written by agentopt's template coder from the template `{name}` at the point:
{params}
"""
'''


def _memo(problem, what: str, shape: dict[str, Any] | None, compute: Callable[[], Any]) -> Any:
    """What compute() reads from the problem's reference (its inputs' and state dict's shapes: pure functions of
    its source, dtype and the shape), computed once for each. Rendering a candidate asks for them several times,
    and each time built the reference's module and model afresh: half the time of the test that renders every
    point."""
    key = (what, problem.name, problem.source, problem.dtype, tuple(sorted((shape or {}).items())))
    if key not in _MEMO:
        if len(_MEMO) > 4096:
            _MEMO.clear()
        _MEMO[key] = compute()
    return _MEMO[key]


def meta_model(problem, shape: dict[str, Any] | None = None):
    """The reference Model built on the meta device (no memory, no init cost), or None if it cannot be built."""
    import torch

    try:
        mod = problem.module(shape or {})
        with torch.device("meta"):
            return mod.Model(*mod.get_init_inputs())
    except Exception:  # a user's model that cannot be built on meta simply matches no template
        return None


def state_shapes(problem, shape: dict[str, Any] | None = None) -> dict[str, tuple[int, ...]]:
    """The reference's state-dict shapes ({} if it cannot be built on meta)."""
    def compute():
        model = meta_model(problem, shape)
        return {} if model is None else {k: tuple(v.shape) for k, v in model.state_dict().items()}

    return dict(_memo(problem, "state_shapes", shape, compute))


def input_shapes(problem, shape: dict[str, Any]) -> list[tuple[int, ...]]:
    """The shapes of the reference's get_inputs() at the shape (built on meta)."""
    def compute():
        import torch

        mod = problem.module(shape)
        with torch.device("meta"):
            return [tuple(x.shape) for x in mod.get_inputs()]

    return list(_memo(problem, "input_shapes", shape, compute))


def traced_graph(problem):
    """The reference's torch.fx graph (symbolic trace on meta), or None if it does not trace."""
    import torch.fx

    model = meta_model(problem)
    if model is None:
        return None
    try:
        return torch.fx.symbolic_trace(model)
    except Exception:  # untraceable control flow: no template that needs the graph matches
        return None


def float_attribute(problem, candidates: tuple[str, ...]) -> str | None:
    """The name of the first float attribute of the reference module among `candidates` (e.g. its eps)."""
    model = meta_model(problem)
    for name in candidates:
        if isinstance(getattr(model, name, None), float):
            return name
    return None


@functools.lru_cache(maxsize=64)
def reference_definitions(source: str) -> str:
    """The reference's source without its docstring and get_inputs/get_init_inputs: Model and what it uses.
    A candidate defines `ModelNew(Model)`, so it keeps the reference's constructor, state-dict keys and
    attributes exactly."""
    tree = ast.parse(source)
    keep = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in ("get_inputs", "get_init_inputs"):
            continue
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)):
            continue  # the reference's docstring; the candidate has its own
        keep.append(ast.get_source_segment(source, node))
    return "# The reference, unchanged: ModelNew derives from its Model.\n" + "\n".join(keep)


def header(name: str, title: str, params: dict[str, Any]) -> str:
    lines = "\n".join(f"    {k} = {v!r}" for k, v in params.items())
    return HEADER.format(title=title, name=name, params=lines)


def points(space: dict[str, list]) -> list[dict[str, Any]]:
    """Every point of a parameter space, in a fixed order."""
    keys = list(space)
    return [dict(zip(keys, values)) for values in itertools.product(*(space[k] for k in keys))]


def point_today(template, params: dict[str, Any]) -> dict[str, Any]:
    """A point stored earlier (a library kernel's provenance) on the template's space today: a parameter the
    template gained, or a value it no longer has, takes the SEED's value."""
    return {k: params[k] if k in params and params[k] in template.SPACE.get(k, [seed]) else seed
            for k, seed in template.SEED.items()}


def sample(space: dict[str, list], rng: random.Random) -> dict[str, Any]:
    return {k: rng.choice(v) for k, v in space.items()}


def next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def dtype_bytes(dtype: str) -> int:
    return {"float32": 4, "float16": 2, "bfloat16": 2}[dtype]
