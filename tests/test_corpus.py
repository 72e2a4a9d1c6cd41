"""The adversarial corpus on CPU: every way to cheat or break in tests/corpus/ gets the verdict its row names.

The GPU rows run in tests/test_corpus_gpu.py. One Evaluator is shared by the rows that agree on problem, device,
guard and limits, so the reference process starts once for them.
"""
import ast
import importlib.util
import re
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "corpus"


def load_cases():
    """tests/corpus/cases.py, imported by path (tests/ is no package); shared with test_corpus_gpu.py."""
    name = "agentopt_test_corpus_cases"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, CORPUS / "cases.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


cases = load_cases()
CPU_CASES = [c for c in cases.CASES if c.device == "cpu"]


@pytest.fixture(scope="module")
def evaluators():
    pool = cases.Evaluators()
    yield pool
    pool.close()


@pytest.mark.parametrize("case", cases.params(CPU_CASES))
def test_cpu_case_gets_its_verdict(case, evaluators):
    cases.assert_verdict(case, evaluators.judge(case))


def _docstring(path: Path) -> str:
    """The file's leading docstring, read as text (some corpus files do not parse, on purpose)."""
    match = re.match(r'\s*"""(.*?)"""', path.read_text(), re.S)
    return match.group(1) if match else ""


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.py")), ids=lambda p: p.name)
def test_each_corpus_file_says_what_it_tries_and_is_in_the_table(path):
    if path.name == "cases.py":
        return
    rows = [c for c in cases.CASES if c.file == path.name]
    assert rows, f"{path.name} has no row in tests/corpus/cases.py"
    doc = _docstring(path)
    assert len(doc) > 40, f"{path.name} must start with a docstring saying what it tries"
    for row in rows:
        for status in row.status.split("|"):
            assert f"`{status}`" in doc, f"{path.name}: its docstring does not name the verdict `{status}`"


def test_the_corpus_covers_at_least_fifteen_kinds_and_honest_candidates():
    attacks = {c.file for c in cases.CASES if "ok" not in c.status.split("|")}
    assert len(attacks) >= 15
    assert {c.device for c in cases.CASES if c.status == "ok"} == {"cpu", "cuda"}
    assert all(ast.parse(c.source()) for c in cases.CASES if c.status not in ("compile_error",))
