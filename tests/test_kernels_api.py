"""agentopt.kernels: load() dispatches by shape to library kernels; patch() swaps LlamaMLP-shaped blocks (and
modules whose class is a problem's reference) with the same state dict; kernels of another arch/dtype are refused."""
import datetime as dt
import warnings

import pytest
import torch
import torch.nn as nn

from run_fixtures import FFN_FUSED, FFN_LLM, RMS_FUSED

from agentopt import kernels
from agentopt.harvest.fingerprint import source_class_hash
from agentopt.harvest.index import KernelEntry, LibraryIndex, Provenance, ShapeTiming, Verification
from agentopt.problems import get_problem

FFN = get_problem("llama3-8b-ffn")
RMS = get_problem("llama3-8b-rmsnorm")


def _entry(library, problem, name, source, shapes, arch="cpu", dtype="float32"):
    path = f"{problem.name}/{arch}/{name}.py"
    (library / path).parent.mkdir(parents=True, exist_ok=True)
    (library / path).write_text(source)
    return KernelEntry(name=name, problem=problem.name, problem_hash=problem.source_hash,
                       model_class_hash=source_class_hash(problem.source), arch=arch, dtype=dtype, path=path,
                       source_hash="x", shapes=[ShapeTiming(shape=s, time_ms=0.1, baseline_ms=0.2, speedup=2.0)
                                                for s in shapes],
                       provenance=Provenance(run="r", candidate=name, coder="template"),
                       verification=Verification(status="ok", date=dt.date.today().isoformat(), device="cpu",
                                                 seeds_per_shape=8, repeats=2))


@pytest.fixture
def library(tmp_path):
    small, small2, other = FFN.cpu_shapes
    LibraryIndex(kernels=[
        _entry(tmp_path, FFN, "fused", FFN_FUSED, [small, small2]),
        _entry(tmp_path, FFN, "sigmoid", FFN_LLM, [other]),
        _entry(tmp_path, FFN, "h100", FFN_LLM, [small, small2], arch="sm_90", dtype="bfloat16"),
        _entry(tmp_path, RMS, "rms", RMS_FUSED, RMS.cpu_shapes[:2]),
    ]).save(tmp_path)
    return tmp_path


def _reference(problem, shape):
    mod = problem.module(shape)
    torch.manual_seed(0)
    return mod, mod.Model(*mod.get_init_inputs())


def test_load_dispatches_by_shape_and_matches_the_reference(library):
    shape = FFN.cpu_shapes[0]
    ffn = kernels.load("llama3-8b-ffn", device="cpu", library=library, shape=shape)
    mod, ref = _reference(FFN, shape)
    assert set(ffn.state_dict()) == set(ref.state_dict())
    ffn.load_state_dict(ref.state_dict())
    for m in (1, 16):
        x = torch.randn(m, 64)
        torch.testing.assert_close(ffn(x), ref(x), rtol=1e-4, atol=1e-5)
    assert ffn.calls["fused"] == 2
    ffn(torch.randn(5, 64))  # a shape the library never verified: the reference code runs
    assert ffn.calls["eager"] == 1
    # the refused kernel says why
    assert any("h100: built for sm_90, this device is cpu" in r for r in ffn.refused)
    other = kernels.load(FFN, device="cpu", library=library, shape=FFN.cpu_shapes[2])
    other(torch.randn(33, 128))
    assert other.calls["sigmoid"] == 1


def test_new_weights_reach_the_kernel_after_prepare(library):
    ffn = kernels.load("llama3-8b-ffn", device="cpu", library=library, shape=FFN.cpu_shapes[0])
    x = torch.randn(16, 64)
    first = ffn(x)  # builds the fused kernel; prepare() stacks gate and up
    _, ref = _reference(FFN, FFN.cpu_shapes[0])
    with torch.no_grad():
        for p in ref.parameters():
            p.mul_(-2.0)
    ffn.load_state_dict(ref.state_dict())
    torch.testing.assert_close(ffn(x), ref(x), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(first, ffn(x))


class LlamaMLP(nn.Module):  # Hugging Face's layout, without transformers
    def __init__(self, hidden, intermediate):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, intermediate, bias=False)
        self.up_proj = nn.Linear(hidden, intermediate, bias=False)
        self.down_proj = nn.Linear(intermediate, hidden, bias=False)
        self.act_fn = nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class MyRMSNorm(nn.Module):  # the rmsnorm problem's Model under another name, with its own docstring
    """Root-mean-square layer norm."""

    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps
        with torch.no_grad():  # a non-trivial weight, so that a kernel that ignores it fails
            self.weight.add_(0.1 * torch.randn(hidden_size))

    def forward(self, x):
        dtype = x.dtype
        h = x.to(torch.float32)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * h.to(dtype)


class Layer(nn.Module):
    def __init__(self, hidden, intermediate):
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.mlp = LlamaMLP(hidden, intermediate)

    def forward(self, x):
        return x + self.mlp(self.norm(x))


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([Layer(64, 224), Layer(64, 224)])
        self.odd = LlamaMLP(64, 100)  # sizes the library has no kernel for
        self.gelu = LlamaMLP(64, 224)
        self.gelu.act_fn = nn.GELU()  # not SiLU: not the problem
        self.proj = nn.Linear(64, 256)
        self.head_norm = MyRMSNorm(256, 1e-5)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        h = self.proj(x + self.odd(x) + self.gelu(x))
        return self.head_norm(h.reshape(-1, h.shape[-1]))  # (tokens, hidden), as the problem's inputs are


def test_patch_swaps_llama_mlp_blocks_and_reference_classes_with_outputs_unchanged(library):
    torch.manual_seed(3)
    model = Tiny()
    x16, x7 = torch.randn(2, 8, 64), torch.randn(1, 7, 64)  # (batch, sequence, hidden): 16 and 7 tokens
    before16, before7 = model(x16), model(x7)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = kernels.patch(model, library=library)
    swapped = {path: (problem, names) for path, problem, names in report.swapped}
    assert swapped == {"layers.0.mlp": ("llama3-8b-ffn", ["fused"]), "layers.1.mlp": ("llama3-8b-ffn", ["fused"]),
                       "head_norm": ("llama3-8b-rmsnorm", ["rms"])}
    skipped = dict(report.skipped)
    assert "none of the problem's shapes" in skipped["odd"] and "gelu" not in skipped
    assert any("odd was not swapped" in str(w.message) for w in caught)
    assert isinstance(model.layers[0].mlp, kernels.LibraryModule)
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in state.items()}
    torch.testing.assert_close(model(x16), before16, rtol=1e-4, atol=1e-5)
    assert model.layers[0].mlp.calls == {"fused": 1}  # 16 tokens: the FFN kernel, not the norm's (M=1, M=7 only)
    assert model.head_norm.calls == {"eager": 1}
    torch.testing.assert_close(model(x7), before7, rtol=1e-4, atol=1e-5)
    assert model.layers[1].mlp.calls == {"fused": 1, "eager": 1} and model.head_norm.calls["rms"] == 1


def test_patch_refuses_kernels_of_another_dtype_and_says_why(library):
    model = nn.Sequential(LlamaMLP(64, 224)).to(torch.float64)
    with pytest.warns(UserWarning, match="built for float32, the module is float64"):
        report = kernels.patch(model, library=library)
    assert report.swapped == [] and "cpu/float64" in report.skipped[0][1]
    assert "h100: built for sm_90" in report.skipped[0][1]
    assert type(model[0]) is LlamaMLP


def test_load_with_only_foreign_kernels_warns_and_runs_the_reference(tmp_path):
    LibraryIndex(kernels=[_entry(tmp_path, FFN, "h100", FFN_LLM, FFN.cpu_shapes[:2], arch="sm_90",
                                 dtype="bfloat16")]).save(tmp_path)
    with pytest.warns(UserWarning, match="built for sm_90, this device is cpu"):
        ffn = kernels.load("llama3-8b-ffn", device="cpu", library=tmp_path, shape=FFN.cpu_shapes[0])
    mod, ref = _reference(FFN, FFN.cpu_shapes[0])
    x = torch.randn(1, 64)
    torch.testing.assert_close(ffn(x), ref(x))
    assert ffn.calls == {"eager": 1}
