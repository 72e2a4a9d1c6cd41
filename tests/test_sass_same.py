"""scripts/sass_same.py tells an edit that leaves a kernel's machine code alone from one that changes it, on a
machine without a GPU (Triton compiles for sm_90 here; its wheel carries ptxas and nvdisasm)."""
import importlib.util
import os
import subprocess

import pytest

pytest.importorskip("triton")

spec = importlib.util.spec_from_file_location(
    "sass_same", os.path.join(os.path.dirname(__file__), "..", "scripts", "sass_same.py"))
sass_same = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sass_same)

KERNEL = '''
@triton.jit
def _scale(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=offs < n) * 2, mask=offs < n)
'''
# the same code three lines further down (the debug sections' line table changes, the instructions do not)
MOVED = '\n# a comment\n\n' + KERNEL.replace("    offs", "    # the block's offsets\n    offs")
CHANGED = KERNEL.replace("* 2", "* 3")


def digest(text, tmp_path):
    fn = sass_same.load_kernel(text, "_scale", str(tmp_path))
    return sass_same.sass_digest(fn, {"BLOCK": 256}, "bf16", 4, 3, str(tmp_path))


def test_moved_lines_compile_to_the_same_instructions_and_a_changed_constant_does_not(tmp_path):
    same, length = digest(KERNEL, tmp_path)
    assert length > 5
    assert digest(MOVED, tmp_path) == (same, length)
    assert digest(CHANGED, tmp_path)[0] != same


def test_the_kernel_text_is_read_at_a_revision_and_as_it_is_now(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    (tmp_path / "k.py").write_text(f"TEXT = {KERNEL!r}\n")
    git("init", "-q")
    git("add", "k.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "k")
    (tmp_path / "k.py").write_text(f"TEXT = {CHANGED!r}\n")
    assert sass_same.kernel_text("k.py", "TEXT", "HEAD", root=str(tmp_path)) == KERNEL
    assert sass_same.kernel_text("k.py", "TEXT", None, root=str(tmp_path)) == CHANGED


def test_registers_allocated_differently_compare_the_same_and_reordered_instructions_do_not():
    old = ["LDG.E.64 R10, desc[UR10][R12.64]", "FFMA R4, R10, R11, R4"]
    assert sass_same.renamed(old) == sass_same.renamed(["LDG.E.64 R2, desc[UR8][R6.64]", "FFMA R9, R2, R3, R9"])
    assert sass_same.renamed(old) != sass_same.renamed(old[::-1])
    assert sass_same.renamed(old) != sass_same.renamed(["LDG.E.64 R10, desc[UR10][R12.64]", "FFMA R4, R11, R10, R4"])
