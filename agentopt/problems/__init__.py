"""The problem zoo and the KernelBench loader: `get_problem(name_or_path)`."""
from __future__ import annotations

from pathlib import Path

from .problem import REL_TOL, Problem, load_source, shape_label  # noqa: F401
from .zoo import ZOO


class UnknownProblem(ValueError):
    pass


def list_problems() -> list[Problem]:
    return [_zoo_problem(name) for name in ZOO]


def _zoo_problem(name: str) -> Problem:
    entry = ZOO[name]
    path = Path(__file__).parent / "zoo" / entry["file"]
    return Problem(name=name, source=path.read_text(), path=str(path),
                   **{k: v for k, v in entry.items() if k != "file"})


def get_problem(name_or_path: str) -> Problem:
    """A zoo problem by name, or a KernelBench-format file by path. Raises UnknownProblem with what to do."""
    if name_or_path in ZOO:
        return _zoo_problem(name_or_path)
    path = Path(name_or_path)
    if path.suffix == ".py" or path.exists():
        if not path.is_file():
            raise UnknownProblem(f"no such file: {path}. Give a zoo name (agentopt problems) or a KernelBench file.")
        from .problem import check_kernelbench_source

        source = path.read_text()
        problem_error = check_kernelbench_source(source, path)
        if problem_error:
            raise UnknownProblem(problem_error)
        return Problem(name=path.stem, source=source, shapes=[{}], cpu_shapes=[{}], dtype="float32",
                       cpu_dtype="float32", description=f"KernelBench-format file {path}", path=str(path.resolve()))
    raise UnknownProblem(f"unknown problem {name_or_path!r}; the zoo has: {', '.join(ZOO)} "
                         "(run `agentopt problems`), or give the path of a KernelBench-format .py file")
