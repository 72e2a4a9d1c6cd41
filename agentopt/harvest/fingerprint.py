"""The hash of a module class's source, blind to the class's name, docstrings, comments and layout: patch() swaps a
user's module for a library kernel when its class is the problem's `Model` under another name."""
from __future__ import annotations

import ast
import hashlib
import inspect
import textwrap


def _normalised(cls_node: ast.ClassDef) -> str:
    cls_node.name = "Model"
    for node in ast.walk(cls_node):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body and \
                isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) and \
                isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.unparse(cls_node)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def source_class_hash(source: str, class_name: str = "Model") -> str | None:
    """The hash of class `class_name` in a module's source, or None when it has no such class."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    node = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name), None)
    return _digest(_normalised(node)) if node is not None else None


def class_hash(cls: type) -> str | None:
    """The same hash of a live class, or None when its source cannot be read (built in C, made in a REPL)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
        node = ast.parse(source).body[0]
    except (OSError, TypeError, SyntaxError, IndexError):
        return None
    return _digest(_normalised(node)) if isinstance(node, ast.ClassDef) else None
