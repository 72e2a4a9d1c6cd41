"""The static guard: a policy over a candidate's syntax tree naming what a candidate may not do.

`check_source(source)` returns findings, each a sentence a person or a model can act on
("line 12: imports `threading`: candidates may not start threads or processes"). An empty list means the
guard has nothing against the source. A source that does not parse gives [] (the evaluator reports the
syntax error itself). The guard is a first line: the evaluator's runtime checks catch what a static reading
cannot (tampering done by other means, work left running, wrong answers).
"""
from __future__ import annotations

import ast

from agentopt.sandbox.guard_policy import (
    ALLOWED_MODULES, ALLOWED_PACKAGES, CURRENT_STREAM, FORBIDDEN_BUILTINS, FORBIDDEN_CALLS,
    FORBIDDEN_CALL_NAMES, FORBIDDEN_MODULES, INTERCEPT_PARTS, INTERCEPT_PREFIXES, INTERNAL_ATTRS,
    INTERNAL_STRINGS, NAME_GETTERS, PUBLIC_DUNDERS, STREAM_MAKERS, STREAM_SYNCS, TYPE_COMMENT, INTERCEPT,
    INTERNALS, PRIVATE, STRING_ANNOTATION, FORBIDDEN_DEFS, JIT_OK,
)


def _base(node: ast.expr) -> ast.expr:
    """The object at the root of an attribute or subscript chain (`self` in `self.w[0].data`)."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node


def check_source(source: str) -> list[str]:
    """The guard's findings on a candidate's source, one sentence each, in line order; [] when it is clean."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    return _Guard(tree, source).findings()


def _string_annotations(tree: ast.Module) -> list[int]:
    """Lines of annotations (of arguments, returns, assignments) that hold a string constant anywhere inside."""
    annotations = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            annotations += [a.annotation for a in every if a is not None and a.annotation is not None]
            annotations += [node.returns] if getattr(node, "returns", None) is not None else []
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
    return [a.lineno for a in annotations
            if any(isinstance(n, ast.Constant) and isinstance(n.value, str) for n in ast.walk(a))]


def _type_comments(source: str) -> list[tuple[int, str]]:
    """`# type: ...` comments other than `# type: ignore` (which only linters read), with their lines."""
    import io
    import tokenize

    found = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            text = tok.string.lstrip("#").strip()
            if tok.type == tokenize.COMMENT and text.startswith("type:") and not text[5:].strip().startswith("ignore"):
                found.append((tok.start[0], tok.string.strip()))
    except (tokenize.TokenError, SyntaxError):
        pass
    return found


def part_finding(part: str) -> str | None:
    """Why a module or attribute of this name is off limits wherever it is reached from, or None."""
    if part in FORBIDDEN_MODULES:
        return FORBIDDEN_MODULES[part]
    if part in INTERCEPT_PARTS or part.startswith(INTERCEPT_PREFIXES):
        return INTERCEPT
    return None


def module_finding(module: str) -> str | None:
    """Why importing `module` is not allowed, or None when it is."""
    if module in ALLOWED_MODULES or module.startswith(ALLOWED_PACKAGES):
        return None
    for part in module.split("."):
        if part_finding(part):
            return part_finding(part)
    allowed = ", ".join(sorted(m for m in ALLOWED_MODULES if m != "__future__"))
    return f"it is not on the list of modules a candidate may use ({allowed})"


class _Guard:
    def __init__(self, tree: ast.Module, source: str = ""):
        self.tree, self.source = tree, source
        self.out: list[tuple[int, str]] = []
        self.imported: dict[str, str] = {}  # local name -> the dotted module path or object it is bound to
        self.docstrings = {id(node.value) for node in ast.walk(tree)
                           if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
        self.called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
        self.parent = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        self.methods = {node.name: {f.name for f in node.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
                        for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}  # the candidate's classes

    def findings(self) -> list[str]:
        for line, text in _type_comments(self.source):
            self._add(line, f"has the comment `{text}`: {TYPE_COMMENT}")
        for line in _string_annotations(self.tree):
            self._add(line, f"has an annotation written as a string: {STRING_ANNOTATION}")
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self._import(node)
        self._aliases()
        streams: list[tuple[int, str]] = []
        synced = False
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
                self._assignment(node)
            elif isinstance(node, ast.Call):
                self._call(node)
                name = node.func.attr if isinstance(node.func, ast.Attribute) else None
                if name in STREAM_MAKERS and not self._wraps_current_stream(node):
                    streams.append((node.lineno, self._dotted(node.func) or name))
                synced = synced or name in STREAM_SYNCS
            elif isinstance(node, ast.Attribute):
                self._attribute(node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in INTERCEPT_PARTS:
                self._add(node.lineno, f"defines `{node.name}`: {INTERCEPT}")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in FORBIDDEN_DEFS:
                self._add(node.lineno, f"defines `{node.name}`: a candidate's classes may not define hooks that "
                                       "hand them attribute names or other objects at run time")
            elif isinstance(node, ast.Name):
                self._name(node)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in self.docstrings:
                self._string(node)
        if not synced:
            for line, what in streams:
                self._add(line, f"uses a CUDA stream (`{what}`) but never synchronises it (`wait_stream` or "
                                "`synchronize`): work left on a side stream escapes the timing")
        seen: set[tuple[int, str]] = set()
        return [f"line {line}: {text}" for line, text in sorted(self.out)
                if not ((line, text) in seen or seen.add((line, text)))]

    def _wraps_current_stream(self, node: ast.Call) -> bool:
        """`ExternalStream(torch.cuda.current_stream().cuda_stream)`, the handle given positionally or as ptr=."""
        if node.func.attr != "ExternalStream":
            return False
        handles = node.args[:1] or [k.value for k in node.keywords if k.arg == "ptr"]
        handle = handles[0] if handles else None
        return (isinstance(handle, ast.Attribute) and handle.attr == "cuda_stream"
                and isinstance(handle.value, ast.Call) and self._dotted(handle.value.func) == CURRENT_STREAM)

    def _own(self, node: ast.expr) -> bool:
        """Whether `node` (or the root of its attribute chain) is the candidate's own instance or class: the first
        parameter of a method of one of its classes, not merely a name `self` (a helper `def f(self): ...` is
        handed whatever its caller likes)."""
        base = _base(node)
        if not isinstance(base, ast.Name):
            return False
        scope = self.parent.get(id(base))
        while scope is not None:
            if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                args = scope.args
                names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
                names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
                if base.id in names:
                    positional = [a.arg for a in (*args.posonlyargs, *args.args)]
                    static = any(isinstance(d, ast.Name) and d.id == "staticmethod"
                                 for d in getattr(scope, "decorator_list", []))
                    return (isinstance(self.parent.get(id(scope)), ast.ClassDef) and not static
                            and positional[:1] == [base.id])
            scope = self.parent.get(id(scope))
        return False

    def _add(self, line: int, text: str) -> None:
        self.out.append((line, text))

    # Imports: the allow-list, and which local names stand for modules (or objects taken from them).
    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                self._check_module(node.lineno, alias.name)
                local = alias.asname or alias.name.split(".")[0]
                self.imported[local] = alias.name if alias.asname else local
            return
        if node.level:
            self._add(node.lineno, "uses a relative import: a candidate is one self-contained file")
            return
        module = node.module or ""
        self._check_module(node.lineno, module)
        for alias in node.names:
            if alias.name == "*":
                self._add(node.lineno, f"imports * from `{module}`: name what the candidate uses")
                continue
            full = f"{module}.{alias.name}"
            reason = (part_finding(alias.name) or (INTERNALS if alias.name in INTERNAL_ATTRS else None)
                      or (PRIVATE if alias.name.startswith("_") and alias.name not in PUBLIC_DUNDERS else None))
            if module_finding(module) is None and reason:
                self._add(node.lineno, f"imports `{full}`: {reason}")
            if full in FORBIDDEN_CALLS:
                self._add(node.lineno, f"imports `{full}`: {FORBIDDEN_CALLS[full]}")
            self.imported[alias.asname or alias.name] = full

    def _check_module(self, line: int, module: str) -> None:
        reason = module_finding(module)
        if reason:
            self._add(line, f"imports `{module}`: {reason}")

    def _aliases(self) -> None:
        """Names assigned from an imported module's attributes (`c = torch.cuda`) stand for it too."""
        changed = True
        while changed:
            changed = False
            for node in ast.walk(self.tree):
                if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Attribute, ast.Name)):
                    dotted = self._dotted(node.value)
                    for target in node.targets:
                        if dotted and isinstance(target, ast.Name) and target.id not in self.imported:
                            self.imported[target.id] = dotted
                            changed = True

    def _dotted(self, node: ast.expr) -> str | None:
        """`torch.cuda.synchronize` for an attribute chain rooted at an imported name, else None."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in self.imported:
            return ".".join([self.imported[node.id], *reversed(parts)])
        return None

    def _root(self, node: ast.expr) -> str | None:
        """The dotted path of the imported object an assignment target changes, if any."""
        while isinstance(node, ast.Subscript):
            node = node.value
        return self._dotted(node) if isinstance(node, (ast.Attribute, ast.Name)) else None

    def _assignment(self, node: ast.stmt) -> None:
        targets = {ast.Assign: lambda n: n.targets, ast.Delete: lambda n: n.targets}.get(
            type(node), lambda n: [n.target])(node)
        for target in targets:
            for element in (target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]):
                if isinstance(element, ast.Name):
                    continue
                dotted = self._root(element)
                if dotted:
                    self._add(node.lineno, f"changes `{dotted}`: candidates may not patch torch, triton, "
                                           "timers, imported modules or the harness")
                elif isinstance(element, ast.Attribute) and not self._own(element):
                    self._add(node.lineno, f"sets `{ast.unparse(element)}`: a candidate sets attributes only on "
                                           "its own module (`self`), never on objects it is handed or reaches")
                elif (isinstance(element, ast.Subscript) and isinstance(element.value, ast.Attribute)
                      and not self._own(element)):
                    self._add(node.lineno, f"sets `{ast.unparse(element)}`: a candidate changes the contents of "
                                           "its own objects only (`self.x[...]`, or its own names)")

    def _call(self, node: ast.Call) -> None:
        """getattr and its kin on any object: the name must be written in the source, and be one a candidate may
        reach (a parameter or local bound to torch, a module or the harness's objects is as good as the import).
        And no custom torch.compile backend: it is handed graph modules whose code it can rewrite."""
        for kw in node.keywords:
            if kw.arg == "backend" and not (isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)):
                self._add(node.lineno, "passes a custom `backend=`: name one of torch.compile's own backends "
                                       "(a string); a backend function is handed code it can rewrite")
        func = node.func
        kind = func.id if isinstance(func, ast.Name) else None
        if kind not in NAME_GETTERS or not node.args:
            return
        obj, name = node.args[0], node.args[1] if len(node.args) > 1 else None
        target = self._root(obj)
        if kind != "getattr" and target is not None:
            self._add(node.lineno, f"calls `{kind}` on `{target}`: candidates may not patch torch, triton, "
                                   "timers, imported modules or the harness")
            return
        if kind != "getattr" and not self._own(obj):
            self._add(node.lineno, f"calls `{kind}` on another object than its own module (`self`): a candidate "
                                   "sets attributes only on itself")
            return
        literal = name.value if isinstance(name, ast.Constant) and isinstance(name.value, str) else None
        if literal is None:
            if kind == "getattr":  # setattr/delattr on self with a computed name: its own attributes
                self._add(node.lineno, "calls `getattr` with a name computed at run time: name the attribute in "
                                       "the source")
            return
        reason = self._name_finding(literal)
        if reason:
            self._add(node.lineno, f"reaches `{literal}` through `{kind}`: {reason}")
        elif isinstance(obj, ast.Name) and literal in self.methods.get(obj.id, ()):
            self._add(node.lineno, f"takes the method `{obj.id}.{literal}` off its class: call methods on an "
                                   "instance (a method handed another object acts on that object)")

    def _unbound(self, node: ast.Attribute) -> bool:
        """`Cls.method` of a candidate's class (but `Base.method(self, ...)` on its own instance), or anything
        taken off `type(...)` or `super(...)` with arguments."""
        value = node.value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ("type", "super"):
            return bool(value.args) and node.attr not in PUBLIC_DUNDERS
        if not (isinstance(value, ast.Name) and node.attr in self.methods.get(value.id, ())):
            return False
        call = self.parent.get(id(node))
        return not (isinstance(call, ast.Call) and call.func is node and call.args and self._own(call.args[0]))

    @staticmethod
    def _name_finding(attr: str) -> str | None:
        """Why an attribute of this name is off limits on any object, or None."""
        if attr in INTERNAL_ATTRS:
            return INTERNALS
        if attr in FORBIDDEN_CALL_NAMES:
            return "candidates may not change torch's global settings or read files"
        return part_finding(attr)

    def _attribute(self, node: ast.Attribute) -> None:
        dotted = self._dotted(node)
        if dotted in FORBIDDEN_CALLS:
            self._add(node.lineno, f"uses `{dotted}`: {FORBIDDEN_CALLS[dotted]}")
            return
        parts = dotted.split(".") if dotted else []
        for i, part in enumerate(parts[1:], start=2):
            if part_finding(part):
                self._add(node.lineno, f"reaches `{part}` through `{'.'.join(parts[:i])}`: {part_finding(part)}")
                return
        if self._unbound(node):
            self._add(node.lineno, f"takes the method `{ast.unparse(node)}` off its class: call methods on an "
                                   "instance (a method handed another object acts on that object)")
        if node.attr == "jit" and dotted not in JIT_OK:
            self._add(node.lineno, f"uses `{ast.unparse(node)}`: only `triton.jit` (torch.jit is TorchScript, which "
                                   "evaluates type lines and strings as code)")
        reason = self._name_finding(node.attr)  # whatever it is reached from: `t.sys` with `t` a parameter too
        if reason:
            self._add(node.lineno, f"uses `.{node.attr}`: {reason}")
        elif node.attr.startswith("_") and node.attr not in PUBLIC_DUNDERS and not (
                isinstance(node.value, ast.Name) and self._own(node.value)):  # `self._x`, not `self.t._x`
            self._add(node.lineno, f"uses the private `.{node.attr}`: {PRIVATE}")

    def _name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)) and node.id in ("self", "cls"):
            self._add(node.lineno, f"rebinds `{node.id}`: it stands for the candidate's own instance or class")
        if node.id in NAME_GETTERS and id(node) not in self.called and node.id not in self.imported:
            self._add(node.lineno, f"passes `{node.id}` around: call it directly, with the attribute's name written "
                                   "in the source")
        elif node.id in FORBIDDEN_BUILTINS and node.id not in self.imported:
            self._add(node.lineno, f"uses `{node.id}`: {FORBIDDEN_BUILTINS[node.id]}")
        elif node.id in INTERNAL_ATTRS:
            self._add(node.lineno, f"uses `{node.id}`: {INTERNALS}")

    def _string(self, node: ast.Constant) -> None:
        for name in sorted(INTERNAL_STRINGS):
            if name in node.value:
                self._add(node.lineno, f"names `{name}` in a string: {INTERNALS}")
