"""The evaluator on a CUDA GPU: an honest Triton FFN is ok with its speedups, the reference against itself scores
about 1, an illegal memory access is a crash and a hung kernel a timeout (the run goes on after both)."""
from pathlib import Path

import pytest

from agentopt.config import EvalConfig
from agentopt.problems import get_problem, shape_label
from agentopt.sandbox.evaluator import Evaluator

pytestmark = pytest.mark.gpu
CANDIDATES = Path(__file__).parent / "candidates"

RMSNORM_WRAPPER = """
import torch
import torch.nn as nn
import triton
import triton.language as tl

{kernel}

class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))

    def forward(self, x):
        out = torch.empty_like(x)
        flag = torch.zeros(1, device=x.device, dtype=torch.int32)
        bad_kernel[(1,)](x, out, flag, BLOCK=triton.next_power_of_2(x.shape[-1]))
        return out
"""
ILLEGAL_ADDRESS = """
@triton.jit
def bad_kernel(x_ptr, out_ptr, flag_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    far = tl.full([BLOCK], 1099511627776, tl.int64)  # 1 TiB past the output: not mapped
    tl.store(out_ptr + far + offs, tl.load(x_ptr + offs))
"""
HUNG_KERNEL = """
@triton.jit
def bad_kernel(x_ptr, out_ptr, flag_ptr, BLOCK: tl.constexpr):
    flag = tl.load(flag_ptr, volatile=True)
    while flag == 0:  # the flag is zero and nobody sets it
        tl.store(out_ptr, tl.load(x_ptr))
        flag = tl.load(flag_ptr, volatile=True)
"""


@pytest.fixture(scope="module")
def ffn():
    from agentopt.hardware import local_profile

    with Evaluator(get_problem("llama3-8b-ffn"), device="cuda", config=EvalConfig(),
                   hardware=local_profile()) as ev:
        yield ev


def show(evaluation, title: str) -> str:
    rows = [f"{title}: {evaluation.status} score {evaluation.score:.3f} ({evaluation.seconds:.1f} s)"]
    if evaluation.reason:
        rows.append(f"  reason: {evaluation.reason}")
    for s in evaluation.shapes:
        if s.time_ms is not None:
            rows.append(f"  {shape_label(s.shape):>8}  rel_err {s.rel_err:.2e}  {s.time_ms:.4f} ms vs eager "
                        f"{s.baseline_ms:.4f} ms  speedup {s.speedup:.2f}x")
    return "\n".join(rows)


def test_triton_ffn_candidate_is_ok_on_all_six_shapes(ffn, capsys):
    evaluation = ffn.evaluate((CANDIDATES / "ffn_triton.py").read_text())
    with capsys.disabled():
        print("\n" + show(evaluation, "Triton llama3-8b-ffn (gate+up fused with SwiGLU, then down)"))
    assert evaluation.status == "ok", evaluation.reason
    assert [s.shape["M"] for s in evaluation.shapes] == [1, 16, 64, 128, 1024, 4096]
    assert all(s.correct and s.speedup > 0 and s.p20_ms <= s.time_ms <= s.p80_ms for s in evaluation.shapes)
    kernels = {k.name for k in evaluation.compile.kernels if k.registers and k.num_warps}
    assert any("swiglu" in name for name in kernels), evaluation.compile.kernels


def test_reference_against_itself_scores_about_one(ffn, capsys):
    source = get_problem("llama3-8b-ffn").source + "\n\nclass ModelNew(Model):\n    pass\n"
    evaluation = ffn.evaluate(source)
    with capsys.disabled():
        print("\n" + show(evaluation, "reference as candidate"))
    assert evaluation.status == "ok", evaluation.reason
    assert 0.9 <= evaluation.score <= 1.1


def test_the_weight_copies_a_template_point_keeps_are_reported(ffn):
    """What a user patching many layers pays, as the evaluator reports it after the first calls: the SEED (TMA
    gate-up, which reads gate and up where they lie) keeps no copy of the weights, only its intermediates; the
    point with both small-path weights tile-major keeps exactly one more copy of the three weights; the point with
    cuBLAS's gate-up keeps [gate; up] concatenated (made at its first call at M >= 128)."""
    from agentopt.kernels.templates import TEMPLATES

    t, problem = TEMPLATES["gated_mlp"], get_problem("llama3-8b-ffn")
    held = {}
    for name, params in (("seed", t.SEED), ("tile-major", {**t.SEED, **t.VARIANTS[0]}),
                         ("cublas gate-up", {**t.SEED, "large_gateup": "cublas"})):
        evaluation = ffn.evaluate(t.render(params, problem))
        assert evaluation.status == "ok", evaluation.reason
        held[name] = evaluation.compile.held_bytes
    weights = 3 * 4096 * 14336 * 2
    assert 0 < held["seed"] < weights / 10
    assert held["tile-major"] - held["seed"] == weights
    assert held["cublas gate-up"] - held["seed"] == 2 * 4096 * 14336 * 2


def test_illegal_memory_access_is_a_crash_and_the_next_candidate_runs():
    config = EvalConfig(static_guard=False, compile_timeout_s=120, run_timeout_s=60)
    with Evaluator(get_problem("llama3-8b-rmsnorm"), device="cuda", config=config) as ev:
        evaluation = ev.evaluate(RMSNORM_WRAPPER.format(kernel=ILLEGAL_ADDRESS))
        assert evaluation.status == "crashed", evaluation.reason
        assert "shape M=1" in evaluation.reason or "compile" in evaluation.reason
        after = ev.evaluate((CANDIDATES / "rmsnorm_triton.py").read_text())
        assert after.status == "ok", after.reason


def test_hung_kernel_times_out_and_is_killed():
    config = EvalConfig(static_guard=False, compile_timeout_s=30, kill_grace_s=2)
    with Evaluator(get_problem("llama3-8b-rmsnorm"), device="cuda", config=config) as ev:
        evaluation = ev.evaluate(RMSNORM_WRAPPER.format(kernel=HUNG_KERNEL))
        assert evaluation.status == "timeout", evaluation.reason
        assert evaluation.seconds < 60
        after = ev.evaluate((CANDIDATES / "rmsnorm_torch.py").read_text())
        assert after.status == "ok", after.reason


def test_triton_compiling_outside_the_gpu_lock_keeps_the_verdict():
    """EvalConfig.jit_outside_lock: the hooks are taken by this Triton and an honest Triton kernel stays ok."""
    config = EvalConfig(jit_outside_lock=True)
    with Evaluator(get_problem("llama3-8b-rmsnorm"), device="cuda", config=config) as ev:
        evaluation = ev.evaluate((CANDIDATES / "rmsnorm_triton.py").read_text())
    assert evaluation.status == "ok", evaluation.reason
    assert "Triton's JIT outside the GPU lock: on" in evaluation.compile.log
