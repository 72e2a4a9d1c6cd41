"""The planner: floors against hand arithmetic, bounds, fusion groups, KernelBench files of other shapes, the CLI,
and the optional LLM pass (with a fake client)."""
import json
import textwrap

import pytest
from typer.testing import CliRunner

from agentopt.agents.planner import Plan, make_plan, shape_costs, time_eager
from agentopt.cli import app
from agentopt.hardware import BUILTIN, gpu_available
from agentopt.problems import get_problem

H100 = BUILTIN["h100"]
HIDDEN, INTER = 4096, 14336  # Llama-3-8B
BF16 = 2


def _floor_us(flops, nbytes, profile=H100, dtype="bfloat16"):
    return max(nbytes / (profile.bandwidth_gbps * 1e3), flops / (profile.matmul_tflops[dtype] * 1e6))


@pytest.fixture(scope="module")
def ffn_plan():
    return make_plan(get_problem("llama3-8b-ffn"), H100)


def test_ffn_floors_agree_with_hand_arithmetic(ffn_plan):
    assert ffn_plan.error is None
    assert [s.shape["M"] for s in ffn_plan.shapes] == [1, 16, 64, 128, 1024, 4096]
    for s in ffn_plan.shapes:
        m = s.shape["M"]
        weights = 3 * HIDDEN * INTER * BF16
        nbytes = weights + 2 * m * HIDDEN * BF16  # x in, out back; gate/up/product stay on chip
        flops = 3 * 2 * m * HIDDEN * INTER
        assert s.bytes == pytest.approx(nbytes, rel=0.01)
        assert s.flops == pytest.approx(flops, rel=0.01)
        assert s.floor_us == pytest.approx(_floor_us(flops, nbytes), rel=0.01)
    m1 = ffn_plan.shapes[0]
    assert m1.bytes == pytest.approx(352.3e6, rel=0.001)
    assert m1.floor_us == pytest.approx(352.3e6 / (3350 * 1e3), rel=0.01)


def test_ffn_bounds_and_regimes(ffn_plan):
    by_m = {s.shape["M"]: s for s in ffn_plan.shapes}
    assert all(by_m[m].bound == "memory" for m in (1, 16, 64, 128))
    assert all(by_m[m].bound == "compute" for m in (1024, 4096))
    assert by_m[1].regime == "weight-streaming" and by_m[4096].regime == "large"
    assert any("split" in h.lower() and "down_proj" in h for h in by_m[16].hints)
    assert any("vectorized" in h for h in by_m[1].hints)
    assert any("raster" in h for h in by_m[4096].hints)
    assert not any("raster" in h for h in by_m[1].hints)
    # one token: the GEMV hint (whole rows a program, products summed once, weights evict_first), only there
    assert any("GEMV" in h and "evict_first" in h for h in by_m[1].hints)
    assert not any("GEMV" in h for m in (16, 1024) for h in by_m[m].hints)
    assert not any(h.startswith("Split-K") for h in by_m[1].hints)  # a row a program needs no split of K
    # compute-bound shapes on Hopper: the tensor-copy engine's descriptors; not where weights stream, nor before Hopper
    assert any("TensorDescriptor" in h for h in by_m[4096].hints)
    assert not any("TensorDescriptor" in h for h in by_m[1].hints)
    a100 = {s.shape["M"]: s for s in make_plan(get_problem("llama3-8b-ffn"), BUILTIN["a100"]).shapes}
    assert a100[4096].regime == "large" and not any("TensorDescriptor" in h for h in a100[4096].hints)


def test_ffn_one_fusion_group_holds_gate_up_and_swiglu(ffn_plan):
    groups = [g for g in ffn_plan.fusion_groups if any("gate_proj" in op for op in g.ops)]
    assert len(groups) == 1
    ops = groups[0].ops
    assert any("up_proj" in op for op in ops)
    assert any("silu" in op for op in ops) and any(op.startswith("mul") for op in ops)
    assert not any("down_proj" in op for op in ops)
    m = 4096
    # x read once instead of twice; gate, silu and up outputs never written and read back
    saved = m * HIDDEN * BF16 + 3 * 2 * m * INTER * BF16
    assert groups[0].bytes_saved["M=4096"] == pytest.approx(saved, rel=0.01)


def test_ops_have_flops_bytes_and_bounds(ffn_plan):
    down = next(op for op in ffn_plan.ops if op.name.startswith("down_proj"))
    assert down.kind == "matmul"
    assert down.flops["M=1"] == pytest.approx(2 * HIDDEN * INTER)
    assert down.bound["M=1"] == "memory" and down.bound["M=4096"] == "compute"
    silu = next(op for op in ffn_plan.ops if op.name == "silu")
    assert silu.bound["M=4096"] == "memory"


def test_plan_survives_a_json_round_trip(ffn_plan):
    again = Plan.model_validate_json(ffn_plan.model_dump_json())
    assert again == ffn_plan


def test_rmsnorm_is_memory_bound_everywhere():
    plan = make_plan(get_problem("llama3-8b-rmsnorm"), H100)
    assert plan.error is None and plan.shapes
    assert all(s.bound == "memory" for s in plan.shapes)
    big = plan.shapes[-1]
    m = big.shape["M"]
    assert big.bytes == pytest.approx(2 * m * HIDDEN * BF16 + HIDDEN * BF16, rel=0.01)
    assert [g.kind for g in plan.fusion_groups] == ["reduction + elementwise"]
    assert any("one program per row" in h for h in big.hints)


KB_CONV = """
import torch
import torch.nn as nn

batch_size = 8
in_channels = 3
out_channels = 32
kernel_size = 3
height = 64
width = 64

class Model(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size):
        super(Model, self).__init__()
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, bias=False)

    def forward(self, x):
        return torch.relu(self.conv2d(x))

def get_inputs():
    return [torch.randn(batch_size, in_channels, height, width)]

def get_init_inputs():
    return [in_channels, out_channels, kernel_size]
"""

KB_SOFTMAX = """
import torch
import torch.nn as nn

batch_size = 4096
dim = 393216

class Model(nn.Module):
    def __init__(self):
        super(Model, self).__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x, dim=1)

def get_inputs():
    return [torch.randn(batch_size, dim)]

def get_init_inputs():
    return []
"""


def _kb_problem(tmp_path, name, source):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return get_problem(str(path))


def test_kernelbench_conv_plans(tmp_path):
    plan = make_plan(_kb_problem(tmp_path, "conv", KB_CONV), H100)
    assert plan.error is None
    (s,) = plan.shapes
    out = 8 * 32 * 62 * 62
    conv_flops = 2 * out * 3 * 3 * 3
    assert s.flops == pytest.approx(conv_flops + out, rel=0.01)  # + the relu
    f32 = 4
    assert s.bytes == pytest.approx((8 * 3 * 64 * 64 + 32 * 3 * 3 * 3 + out) * f32, rel=0.01)
    assert [g.kind for g in plan.fusion_groups] == ["GEMM + epilogue"]
    assert any("implicit GEMM" in h for h in s.hints)


def test_kernelbench_softmax_plans_without_allocating(tmp_path):
    # 4096 x 393216 float32 is 6.4 GB: tracing must not make the tensors
    plan = make_plan(_kb_problem(tmp_path, "softmax", KB_SOFTMAX), H100)
    assert plan.error is None
    (s,) = plan.shapes
    assert s.bound == "memory"
    assert s.bytes == pytest.approx(2 * 4096 * 393216 * 4, rel=0.01)
    assert any("online" in h for h in s.hints)  # rows far too long for registers


def test_untraceable_model_gives_a_plan_with_the_reason(tmp_path):
    source = KB_SOFTMAX.replace("return torch.softmax(x, dim=1)", "return x * float(x.sum().item())")
    problem = _kb_problem(tmp_path, "item", source)
    plan = make_plan(problem, H100)
    assert plan.error and "item" in plan.error.lower()
    assert shape_costs(problem, "cuda") is None


def test_shape_costs_follow_the_device():
    problem = get_problem("llama3-8b-ffn")
    gpu = shape_costs(problem, "cuda")
    assert [c.shape for c in gpu] == problem.shapes
    assert gpu[0].bytes == pytest.approx(3 * HIDDEN * INTER * BF16 + 2 * HIDDEN * BF16, rel=0.001)
    cpu = shape_costs(problem, "cpu")  # small shapes, float32
    assert [c.shape for c in cpu] == problem.cpu_shapes
    s = problem.cpu_shapes[0]
    f32 = 4
    assert cpu[0].bytes == pytest.approx((3 * s["HIDDEN"] * s["INTERMEDIATE"] + 2 * s["HIDDEN"]) * f32, rel=0.001)


def test_cli_plan_json(monkeypatch):
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"):
        monkeypatch.delenv(var, raising=False)
    result = CliRunner().invoke(app, ["plan", "--model", "llama3-8b-ffn", "--gpu", "h100", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["shapes"][0]["shape"] == {"M": 1}
    assert data["shapes"][0]["bound"] == "memory" and data["shapes"][-1]["bound"] == "compute"
    assert data["shapes"][0]["floor_us"] == pytest.approx(_floor_us(0, 3 * HIDDEN * INTER * BF16), rel=0.01)
    assert len(data["fusion_groups"]) == 1 and data["hints"]


def test_cli_plan_table():
    result = CliRunner().invoke(app, ["plan", "--model", "llama3-8b-rmsnorm", "--gpu", "a100", "--no-llm"])
    assert result.exit_code == 0, result.output
    for text in ("floor", "memory", "fusion groups", "reduction + elementwise", "hints"):
        assert text in result.output


@pytest.mark.skipif(gpu_available(), reason="a GPU is here: --gpu defaults to it")
def test_cli_plan_without_gpu_says_to_name_one():
    result = CliRunner().invoke(app, ["plan", "--model", "llama3-8b-ffn"])
    assert result.exit_code == 2
    assert "--gpu h100" in " ".join(result.output.split())


class FakeLLM:
    """The LLM client's interface: async chat(...) -> an object with text and error."""

    def __init__(self, text, error=None):
        self.text, self.error, self.calls = text, error, []

    async def chat(self, messages, *, purpose, candidate_id=None, json_schema=None):
        self.calls.append({"messages": messages, "purpose": purpose, "json_schema": json_schema})
        return type("Reply", (), {"text": self.text, "error": self.error})()


def test_llm_reply_that_is_not_json_leaves_the_rule_based_plan(ffn_plan):
    llm = FakeLLM("Sure! Here are my hints: use split-K.")
    plan = make_plan(get_problem("llama3-8b-ffn"), H100, llm=llm)
    assert llm.calls and "M=1" in llm.calls[0]["messages"][-1]["content"]
    assert "not valid JSON" in plan.llm_error
    assert [s.hints for s in plan.shapes] == [s.hints for s in ffn_plan.shapes]
    assert plan.hints == ffn_plan.hints


def test_llm_reply_with_an_unknown_shape_is_rejected(ffn_plan):
    llm = FakeLLM(json.dumps({"hints": {"M=3": ["anything"]}}))
    plan = make_plan(get_problem("llama3-8b-ffn"), H100, llm=llm)
    assert "M=3" in plan.llm_error
    assert [s.hints for s in plan.shapes] == [s.hints for s in ffn_plan.shapes]


def test_llm_failed_call_is_recorded(ffn_plan):
    plan = make_plan(get_problem("llama3-8b-ffn"), H100, llm=FakeLLM(None, error="HTTP 503"))
    assert "HTTP 503" in plan.llm_error
    assert plan.hints == ffn_plan.hints


def test_valid_llm_reply_adds_hints(ffn_plan):
    reply = {"hints": {"M=1": ["Use 8 warps per program and BLOCK_K=256.", ffn_plan.shapes[0].hints[-1]]},
             "global_hints": ["Try the template coder's split-K kernel first."], "notes": "M=1 is all about HBM."}
    plan = make_plan(get_problem("llama3-8b-ffn"), H100, llm=FakeLLM("```json\n" + json.dumps(reply) + "\n```"))
    assert plan.llm_error is None and plan.llm_notes == "M=1 is all about HBM."
    m1, rule_m1 = plan.shapes[0].hints, ffn_plan.shapes[0].hints
    assert m1[:2] == reply["hints"]["M=1"]  # the new hint first, the repeated one moved up
    assert set(m1) == set(rule_m1) | set(reply["hints"]["M=1"]) and len(m1) == len(set(m1))
    assert plan.shapes[1].hints == ffn_plan.shapes[1].hints
    assert plan.hints[0] == reply["global_hints"][0] and set(ffn_plan.hints) <= set(plan.hints)


@pytest.mark.gpu
def test_eager_time_stands_beside_the_floor_on_this_gpu():
    from agentopt.hardware import local_profile

    problem = get_problem("llama3-8b-ffn")
    profile = local_profile()
    eager = time_eager(problem, profile.l2_bytes)
    plan = make_plan(problem, profile, eager_times_ms=eager)
    for s in plan.shapes:
        assert s.eager_us is not None
        assert s.eager_us > 0.9 * s.floor_us, f"{s.label}: eager {s.eager_us:.1f} us beats the floor {s.floor_us:.1f}"
    assert plan.shapes[0].eager_us < 3 * plan.shapes[0].floor_us
