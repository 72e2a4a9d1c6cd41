"""Whether a Triton kernel's machine code is unchanged by an edit, checked on a machine without a GPU.

Triton compiles for a named target without a device, and ptxas and nvdisasm ship with it; so a refactor of a
template's kernel text (a loop moved into a helper, a branch removed) can be shown not to change a single
instruction, for every configuration in a grid, before any device time is spent on it. The kernel text is read
from a module attribute (the templates keep their kernels as source strings) at a git revision and in the working
tree; both are compiled for sm_90 and their SASS compared, debug sections left out and registers named by first use.

    python3 scripts/sass_same.py kernels/templates/gated_mlp_kernels.py:GEMV _gemv_down --against HEAD \\
        --grid ROWS=1,4 BLOCK_K=1024,2048 EVEN=True,False W_EVICT=evict_first, GDC=True,False --warps 4,8 \\
        --divisible N,K

Arguments named *_ptr are 16-byte aligned pointers to --dtype, the other runtime arguments i32 (--divisible names
those that are multiples of 16, as Triton specializes them at a launch); every constexpr without a default needs a
--grid entry (values are Python literals; a bare word is a string, an empty one ''). Exit status 1 if any differs.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.util
import itertools
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSTRUCTION = re.compile(r"/\*[0-9a-f]{4}\*/\s+(?=[A-Z@{])")  # an address comment, then an opcode or a predicate


def kernel_text(path: str, attr: str, rev: str | None, root: str = ROOT) -> str:
    """The attribute (a kernel's source string) of the module at path, at a git revision or as it is now."""
    if rev is None:
        with open(os.path.join(root, path)) as f:
            text = f.read()
    else:
        text = subprocess.run(["git", "-C", root, "show", f"{rev}:{path}"], capture_output=True, text=True,
                              check=True).stdout
    env: dict = {}
    exec(compile(text, path, "exec"), env)
    return env[attr]


def load_kernel(text: str, name: str, where: str):
    """Triton needs its kernels in a file: the text written to one, imported, and the kernel taken from it."""
    path = os.path.join(where, f"k{abs(hash(text))}.py")
    with open(path, "w") as f:
        f.write("import triton\nimport triton.language as tl\n" + text)
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def literal(word: str):
    try:
        return ast.literal_eval(word)
    except (ValueError, SyntaxError):
        return word


def sass_digest(fn, constexprs: dict, dtype: str, warps: int, stages: int, where: str,
                divisible: tuple[str, ...] = ()) -> tuple[str, int]:
    """The digest and length of the kernel's SASS instructions for sm_90 (no addresses, labels or debug data).
    Pointers are taken as 16-byte aligned and the integers named in divisible as multiples of 16, as Triton
    specializes them at a launch (without it, loads are not vectorized)."""
    import triton
    from triton.backends.compiler import GPUTarget

    sig, attrs = {}, {}
    constexprs = {**{p.name: p.default for p in fn.params if p.is_constexpr and p.has_default}, **constexprs}
    for i, p in enumerate(fn.params):
        sig[p.name] = "constexpr" if p.is_constexpr else (f"*{dtype}" if p.name.endswith("_ptr") else "i32")
        if p.name.endswith("_ptr") or p.name in divisible:
            attrs[(i,)] = [["tt.divisibility", 16]]
    missing = [n for n, v in sig.items() if v == "constexpr" and n not in constexprs]
    if missing:
        sys.exit(f"no --grid values for the constexprs {missing}")
    compiled = triton.compile(triton.compiler.ASTSource(fn=fn, signature=sig, constexprs=constexprs, attrs=attrs),
                              target=GPUTarget("cuda", 90, 32), options={"num_warps": warps, "num_stages": stages})
    cubin = os.path.join(where, "k.cubin")
    with open(cubin, "wb") as f:
        f.write(compiled.asm["cubin"])
    nvdisasm = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "nvdisasm")
    sass = subprocess.run([nvdisasm, cubin], capture_output=True, text=True, check=True).stdout
    code = [re.sub(r"\.L_x_\d+", "L", INSTRUCTION.sub("", line).split(";")[0].strip())
            for line in sass.splitlines() if INSTRUCTION.search(line)]
    return hashlib.sha1("\n".join(renamed(code)).encode()).hexdigest()[:12], len(code)


def renamed(code: list[str]) -> list[str]:
    """Registers numbered by first use, per class (R, UR, P, UP): ptxas may allocate them differently when only the
    debug information changed (a helper inlined), which does not change what runs."""
    names: dict[str, dict[str, int]] = {}

    def canon(m: re.Match) -> str:
        cls = names.setdefault(m.group(1), {})
        return f"{m.group(1).lower()}{cls.setdefault(m.group(2), len(cls))}"

    return [re.sub(r"\b(UR|R|UP|P)(\d+)\b", canon, line) for line in code]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", help="FILE:ATTR, a module of the repository and its attribute holding the kernel text")
    ap.add_argument("kernel", help="the @triton.jit function's name in that text")
    ap.add_argument("--against", default="HEAD", help="git revision to compare the working tree with")
    ap.add_argument("--grid", nargs="*", default=[], metavar="NAME=V1,V2", help="constexpr values to try")
    ap.add_argument("--warps", default="4", help="num_warps values, comma-separated")
    ap.add_argument("--stages", default="3", help="num_stages values, comma-separated")
    ap.add_argument("--dtype", default="bf16", help="element type of the *_ptr arguments")
    ap.add_argument("--divisible", default="", help="integer arguments that are multiples of 16, comma-separated")
    args = ap.parse_args(argv)
    path, attr = args.source.split(":")
    grid = {}
    for item in args.grid:
        name, values = item.split("=", 1)
        grid[name] = [literal(v) if v else "" for v in values.split(",")]
    where = tempfile.mkdtemp()
    fns = {rev: load_kernel(kernel_text(path, attr, rev), args.kernel, where) for rev in (args.against, None)}
    differ = 0
    for values in itertools.product(*grid.values(), [int(w) for w in args.warps.split(",")],
                                    [int(s) for s in args.stages.split(",")]):
        constexprs, warps, stages = dict(zip(grid, values[:-2])), values[-2], values[-1]
        old, new = (sass_digest(fns[r], constexprs, args.dtype, warps, stages, where,
                                tuple(filter(None, args.divisible.split(",")))) for r in (args.against, None))
        differ += old != new
        print(f"{'same  ' if old == new else 'DIFFER'} {constexprs} warps={warps} stages={stages}: "
              f"{old[1]} -> {new[1]} instructions")
    print(f"{differ} of the configurations differ from {args.against}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
