"""The command line, the zoo and the hardware profiles, as a newcomer meets them."""
import json
import subprocess
import sys

import pytest

from agentopt.hardware import BUILTIN, resolve_profile
from agentopt.problems import UnknownProblem, get_problem, list_problems


def agentopt(*args):
    return subprocess.run([sys.executable, "-m", "agentopt.cli", *args], capture_output=True, text=True, timeout=120)


def test_help_lists_subcommands_and_each_has_help():
    out = agentopt("--help")
    assert out.returncode == 0
    for sub in ("problems", "hw"):
        assert sub in out.stdout
        sub_help = agentopt(sub, "--help")
        assert sub_help.returncode == 0 and "Usage" in sub_help.stdout


def test_problems_json_lists_the_zoo_with_shapes():
    out = agentopt("problems", "--json")
    zoo = {p["name"]: p for p in json.loads(out.stdout)}
    assert {"llama3-8b-ffn", "llama3-8b-rmsnorm"} <= set(zoo)
    assert [s["M"] for s in zoo["llama3-8b-ffn"]["shapes"]] == [1, 16, 64, 128, 1024, 4096]
    assert zoo["llama3-8b-ffn"]["dtype"] == "bfloat16"


def test_ffn_reference_matches_llama_mlp_layout():
    p = get_problem("llama3-8b-ffn")
    mod = p.module({"M": 2})
    model = mod.Model(*mod.get_init_inputs())
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == {"gate_proj.weight": (14336, 4096), "up_proj.weight": (14336, 4096),
                      "down_proj.weight": (4096, 14336)}
    assert tuple(mod.get_inputs()[0].shape) == (2, 4096)


@pytest.mark.parametrize("problem", [p.name for p in list_problems()])
def test_every_zoo_problem_runs_on_its_cpu_shapes(problem):
    p = get_problem(problem)
    for shape in p.cpu_shapes:
        mod = p.module(shape)
        out = mod.Model(*mod.get_init_inputs())(*mod.get_inputs())
        assert out.isfinite().all()


def test_unknown_problem_says_what_to_do(tmp_path):
    with pytest.raises(UnknownProblem, match="agentopt problems"):
        get_problem("llama-nonexistent")
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\n")
    with pytest.raises(UnknownProblem, match="lacks Model, get_inputs, get_init_inputs"):
        get_problem(str(bad))


def test_hw_without_gpu_says_so_plainly_and_builtin_profiles_work():
    out = agentopt("hw")
    assert out.returncode == 0
    import torch
    if not torch.cuda.is_available():
        assert "No GPU here" in out.stdout
    h100 = json.loads(agentopt("hw", "--gpu", "h100", "--json").stdout)
    assert h100["sm_count"] == 132 and h100["arch"] == "sm_90"
    assert set(BUILTIN) >= {"h100", "h200", "a100", "l4", "rtx4090"}
    assert resolve_profile("A100").compute_capability == (8, 0)
    assert agentopt("hw", "--gpu", "nosuchgpu").returncode == 2
