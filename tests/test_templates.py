"""The kernel templates and the template coder, on the CPU: every point renders to a compilable candidate, a
sample runs right under Triton's interpreter, the CUDA C compiles with nvcc, and the coder proposes sensibly.

The interpreter checks run in a subprocess (this file run as a script) with TRITON_INTERPRET=1 set before
triton is imported, so no other test module's triton import can get in the way."""
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import textwrap

import pytest

from agentopt.hardware import BUILTIN
from agentopt.problems import get_problem, load_source
from agentopt.kernels.templates import FALLBACK, TEMPLATES
from agentopt.kernels.templates._base import points
from agentopt.agents.base import CandidateView, CoderContext
from agentopt.agents.template_coder import TemplateCoder, crossover, mutate

H100 = BUILTIN["h100"]
LINEAR_GELU = textwrap.dedent('''
    import torch
    import torch.nn as nn

    M = 33
    class Model(nn.Module):
        def __init__(self, k, n):
            super().__init__()
            self.fc = nn.Linear(k, n)
            self.act = nn.GELU()
        def forward(self, x):
            return self.act(self.fc(x))
    def get_inputs():
        return [torch.randn(M, 40)]
    def get_init_inputs():
        return [40, 72]
''')
CONV = textwrap.dedent('''
    import torch
    import torch.nn as nn

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
        def forward(self, x):
            return torch.relu(self.conv(x))
    def get_inputs():
        return [torch.randn(2, 3, 8, 8)]
    def get_init_inputs():
        return []
''')


def _problem(spec: str, tmp_dir) -> object:
    if spec in ("linear_gelu", "conv"):
        path = os.path.join(tmp_dir, f"{spec}.py")
        with open(path, "w") as f:
            f.write(LINEAR_GELU if spec == "linear_gelu" else CONV)
        return get_problem(path)
    return get_problem(spec)


# template -> the problem it is tested on
PROBLEM_OF = {"gated_mlp": "llama3-8b-ffn", "gemv_cuda": "llama3-8b-ffn", "rmsnorm": "llama3-8b-rmsnorm",
              "softmax": "softmax", "rope": "llama3-8b-rope", "gemm_epilogue": "linear_gelu", "torch_compile": "conv"}


@pytest.fixture(scope="module")
def tmp_problems(tmp_path_factory):
    d = tmp_path_factory.mktemp("problems")
    return {spec: _problem(spec, str(d)) for spec in set(PROBLEM_OF.values())}


def space_points(t) -> list[dict]:
    """Every point of a template's space; for a space too large to list, every point of each independent
    parameter group with the other groups at the SEED (each group only changes its own part of the code)."""
    size = 1
    for values in t.SPACE.values():
        size *= len(values)
    if size <= 5000:
        return points(t.SPACE)
    out = []
    for keys in t.GROUPS.values():
        out += [{**t.SEED, **sub} for sub in points({k: t.SPACE[k] for k in keys})]
    return out


def test_registry_templates_are_complete():
    assert {"gated-mlp", "gemm-epilogue", "row-reduction", "elementwise", "any"} <= {t.PATTERN for t in TEMPLATES.values()}
    for t in TEMPLATES.values():
        grouped = [k for keys in t.GROUPS.values() for k in keys]
        assert sorted(grouped) == sorted(t.SPACE), f"{t.NAME}: GROUPS must partition SPACE"
        assert set(t.STRUCTURAL) <= set(t.SPACE)
        assert all(t.SEED[k] in t.SPACE[k] for k in t.SPACE) and set(t.SEED) == set(t.SPACE)


@pytest.mark.parametrize("name", sorted(PROBLEM_OF))
def test_every_point_that_survives_pruning_renders_a_candidate(name, tmp_problems):
    from agentopt.sandbox.guard import check_source

    t = TEMPLATES[name]
    problem = tmp_problems[PROBLEM_OF[name]]
    assert t.matches(problem)
    dims = [t.dims(problem, s) for s in problem.shapes]
    if PROBLEM_OF[name] not in ("linear_gelu", "conv"):  # SEEDs are chosen for the zoo's problems
        assert t.prune(t.SEED, H100, dims) is None, "the SEED point must fit an H100"
    kept = pruned = 0
    for params in space_points(t):
        why = t.prune(params, H100, dims)
        if why is not None:
            assert isinstance(why, str) and why
            pruned += 1
            continue
        source = t.render(params, problem)
        code = compile(source, f"<{name}>", "exec")
        assert "ModelNew" in code.co_names
        kept += 1
    assert kept > 0
    if name == "gated_mlp":
        assert pruned > 0, "shared memory, registers and divisibility must prune some gated-MLP points"
    if name != "gemv_cuda":  # CuPy launches on torch's stream through cupy.cuda.ExternalStream
        assert check_source(source) == []


def test_pruning_gives_reasons_a_person_can_act_on(tmp_problems):
    t = TEMPLATES["gated_mlp"]
    problem = tmp_problems["llama3-8b-ffn"]
    dims = [t.dims(problem, s) for s in problem.shapes]
    big = {**t.SEED, "small_block_m": 128, "small_block_n": 128, "small_block_k": 64, "small_warps": 4,
           "small_stages": 3}
    assert "registers" in t.prune(big, H100, dims)
    smem = {**t.SEED, "large_gateup": "triton", "large_block_m": 128, "large_block_n": 256, "large_warps": 8,
            "large_stages": 4}
    assert "shared memory" in t.prune(smem, H100, dims) or "registers" in t.prune(smem, H100, dims)
    # the TMA kernel also stages its output tile in shared memory: 4 stages of 128x128x64 and the tile (224 KiB)
    # fit on Hopper (they ran on an H200); 256 wide does not
    tiles = {"large_block_m": 128, "large_block_n": 128, "large_block_k": 64, "large_warps": 8, "large_stages": 4}
    for path in ("triton", "tma"):
        assert t.prune({**t.SEED, **tiles, "large_gateup": path}, H100, dims) is None
        assert t.prune({**t.SEED, **tiles, "large_block_n": 256, "large_gateup": path}, H100, dims) is not None
    assert t.prune(smem, None, dims) is None  # the interpreter runs anything
    assert "GPU" in TEMPLATES["gemv_cuda"].prune(TEMPLATES["gemv_cuda"].SEED, None, [])


def _interpreter_cases(problems) -> list[dict]:
    """(template, problem spec, params, shapes) to run under the interpreter: the SEED and two sampled points
    of each Triton template; for the gated MLP also points that take the other variants, and shapes that reach
    the tiny (M <= 4) and the large (M > 256) paths."""
    rng = random.Random(7)
    cases = []
    for name, spec in PROBLEM_OF.items():
        t = TEMPLATES[name]
        if "cpu" not in t.DEVICES:
            continue
        problem = problems[spec]
        chosen = [t.SEED]
        while len(chosen) < (1 if name == "torch_compile" else 3):
            params = {k: rng.choice(v) for k, v in t.SPACE.items()}
            if t.prune(params, H100, [t.dims(problem, s) for s in problem.shapes]) is None:
                chosen.append(params)
        shapes = list(problem.cpu_shapes)
        if name == "gated_mlp":
            # the one-token GEMV, its blocks larger than HIDDEN 64 (masked)
            chosen.append({**t.SEED, "fma_max_m": 1, "fma_block_n": 8, "fma_block_k": 2048, "large_gateup": "cublas",
                           "large_down": "triton"})
            # the down kernel's last program of each tile summing the split-K partials (a counter per tile)
            chosen.append({**t.SEED, "small_down_reduce": "last", "small_down_split": 2})
            # the fused persistent kernel (its tiles divide INTERMEDIATE 512; at 96 the separate kernels serve)
            chosen.append({**t.SEED, "small_fused": 1, "fused_gu_bn": 16, "fused_gu_bk": 64, "fused_d_bn": 32,
                           "fused_d_bk": 64, "fused_d_split": 4})
            # the small path's weights tile-major (the SEED's tiles divide INTERMEDIATE 512, not 96), also with
            # gate-up split over K (its halves divide HIDDEN 128)
            chosen.append({**t.SEED, "small_packed": 1, "small_down_packed": 1})
            chosen.append({**t.SEED, "small_packed": 1, "small_down_packed": 1, "small_gu_split": 2})
            # gate-up split over K, its partials summed by the last program of each tile (a counter per tile):
            # 4 ways (at HIDDEN 64 three of the four K ranges are past the end, masked), and tile-major in 2
            chosen.append({**t.SEED, "small_gu_split": 4, "small_gu_reduce": "last"})
            chosen.append({**t.SEED, "small_packed": 1, "small_down_packed": 1, "small_gu_split": 2,
                           "small_gu_reduce": "last", "small_down_reduce": "last", "small_down_split": 2})
            shapes += [{"M": 4, "HIDDEN": 64, "INTERMEDIATE": 96}, {"M": 300, "HIDDEN": 64, "INTERMEDIATE": 96},
                       {"M": 5, "HIDDEN": 64, "INTERMEDIATE": 512}, {"M": 5, "HIDDEN": 128, "INTERMEDIATE": 512}]
        if name == "softmax":
            chosen.append({**t.SEED, "variant": "online", "block_n": 1024})
            shapes.append({"M": 3, "N": 2500})
        if name == "torch_compile":
            shapes = shapes[:1]
        cases += [{"template": name, "problem": spec, "params": p, "shapes": shapes} for p in chosen]
        if name == "gated_mlp":
            # the large path's TMA kernel itself (on the CPU a candidate takes its fallback unless told otherwise;
            # the interpreter runs tensor descriptors in float32), gate-up and down, tiles clipped at M=300, N=96
            cases.append({"template": name, "problem": spec, "attrs": {"_tma": True},
                          "params": {**t.SEED, "large_gateup": "tma", "large_down": "tma"},
                          "shapes": [{"M": 300, "HIDDEN": 64, "INTERMEDIATE": 96}]})
    return cases


@pytest.fixture(scope="module")
def interpreter_results(tmp_problems):
    cases = _interpreter_cases(tmp_problems)
    for case in cases:  # the worker loads problems by zoo name or by path
        case["problem"] = tmp_problems[case["problem"]].path
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    out = subprocess.run([sys.executable, __file__], input=json.dumps(cases), capture_output=True, text=True,
                         env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(n for n in PROBLEM_OF if "cpu" in TEMPLATES[n].DEVICES))
def test_sampled_points_match_the_reference_under_the_interpreter(name, interpreter_results):
    rows = [r for r in interpreter_results if r["template"] == name]
    assert rows
    for r in rows:
        assert r["error"] is None, f"{name} {r['params']} at {r['shape']}: {r['error']}"
        assert r["rel_err"] <= r["tol"], f"{name} {r['params']} at {r['shape']}: relative error {r['rel_err']:.2e}"


def test_packed_points_give_the_small_path_tile_major_weights_where_their_tiles_divide(tmp_problems):
    """small_packed / small_down_packed: the small path copies each weight tile into one run of memory, in the
    order the kernels read them; where the tiles do not divide the weights, nn.Linear's layout is kept."""
    import torch

    t, problem = TEMPLATES["gated_mlp"], tmp_problems["llama3-8b-ffn"]
    params = {**t.SEED, "small_packed": 1, "small_down_packed": 1}
    cand = load_source(t.render(params, problem), "agentopt_candidate_packed")
    for inter, divides in ((512, True), (96, False)):
        mod = problem.module({"M": 5, "HIDDEN": 64, "INTERMEDIATE": inter})
        model = cand.ModelNew(*mod.get_init_inputs())
        model.prepare()
        (wg, wu, packed), (wd, down_packed) = model._small_weights()
        assert packed is divides and down_packed is divides
        if not divides:
            assert wg is model._wg and wu is model._wu and wd is model._wd
            continue
        bn, bk = params["small_block_n"], params["small_block_k"]
        assert wg.is_contiguous() and wg.shape == (inter // bn, 64 // bk, 2, bn, bk)
        i, j = inter // bn - 1, 0  # a tile: gate then up, each the block of the weight it stands for
        assert torch.equal(wg[i, j, 0], model._wg[i * bn:(i + 1) * bn, j * bk:(j + 1) * bk])
        assert torch.equal(wg[i, j, 1], model._wu[i * bn:(i + 1) * bn, j * bk:(j + 1) * bk])
        dbn, dbk = params["small_down_block_n"], params["small_down_block_k"]
        assert wd.shape == (64 // dbn, inter // dbk, 1, dbn, dbk)
        assert torch.equal(wd[0, inter // dbk - 1, 0], model._wd[:dbn, inter - dbk:])


def test_held_bytes_count_the_tile_major_copies_a_packed_point_keeps(tmp_problems):
    """What a user patching many layers pays in memory: a point with both weights tile-major keeps one more copy
    of W_gate, W_up and W_down than the same point in nn.Linear's layout once its small path has run, none before
    (a decode-only caller, served by the one-token GEMV), and nothing it shares with its caller."""
    import torch
    from agentopt.sandbox.held import held_bytes

    t, problem = TEMPLATES["gated_mlp"], tmp_problems["llama3-8b-ffn"]
    mod = problem.module({"M": 5, "HIDDEN": 64, "INTERMEDIATE": 512})
    held, prepared = {}, {}
    for flag in (0, 1):
        cand = load_source(t.render({**t.SEED, "small_packed": flag, "small_down_packed": flag}, problem),
                           f"agentopt_candidate_held{flag}")
        cand._bind = lambda kernel, grid, meta, args: lambda *again: None  # launches stood in for
        model = cand.ModelNew(*mod.get_init_inputs())
        model.prepare()
        prepared[flag] = held_bytes(model)
        with torch.no_grad():
            model(torch.randn(1, 64))  # the one-token GEMV: no small path yet
        assert held_bytes(model) - prepared[flag] < 64 * 1024  # its scratch, no copy of a weight
        with torch.no_grad():
            model(torch.randn(16, 64))  # the small path
        held[flag] = held_bytes(model)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    assert prepared[1] == prepared[0] < weights / 10  # the shared weights themselves are not counted
    assert held[1] - held[0] == weights == 3 * 512 * 64 * 4
    assert held[0] > prepared[0]  # the small path's intermediates are counted too
    # after calls the model is still an nn.Module a user can save: its state dict is a fresh one's
    assert list(model.state_dict()) == list(cand.ModelNew(*mod.get_init_inputs()).state_dict())


def test_bound_launches_repeat_their_first_calls_arguments(tmp_problems):
    """After a path's first call at an M, its Triton launches go through runners that keep that call's grid and
    constexprs and take only the arguments (on a GPU; the interpreter has none, so they are stood in for here):
    each runner must get its own kernel's arguments, of the same shapes and dtypes in the same order, and calls
    at another M or on another path must bind anew, never reuse a runner made for something else."""
    import torch

    def kinds(args):
        return tuple((tuple(a.shape), a.dtype) if isinstance(a, torch.Tensor) else a for a in args)

    t, problem = TEMPLATES["gated_mlp"], tmp_problems["llama3-8b-ffn"]
    params = {**t.SEED, "fma_max_m": 1, "small_packed": 1, "small_down_packed": 1}
    cand = load_source(t.render(params, problem), "agentopt_candidate_bound")
    binds, runs = [], []

    def stand_in(kernel, grid, meta, args):
        first = (kernel.fn.__name__, grid, kinds(args))
        binds.append(first)
        return lambda *again: runs.append((first, kinds(again)))

    cand._bind = stand_in
    mod = problem.module({"M": 5, "HIDDEN": 64, "INTERMEDIATE": 512})
    model = cand.ModelNew(*mod.get_init_inputs())
    model.prepare()
    per_m = {}
    with torch.no_grad():
        for m in (1, 16, 64, 300, 16):  # the one-token path, the small one at two M, the large one, then M=16 again
            before = len(binds)
            for _ in range(3):
                model(torch.randn(m, 64))
            per_m.setdefault(m, []).append(len(binds) - before)
    # two GEMVs; gate-up, down, split-K sum; the large gate-up GEMM (on the CPU the TMA kernel's fallback)
    assert per_m == {1: [2], 16: [3, 0], 64: [3], 300: [1]}
    assert [b[0] for b in binds] == (["_gemv_gateup", "_gemv_down"] + ["_gateup_stream", "_down_stream", "_splitk_sum"]
                                     * 2 + ["_gateup_gemm"])
    assert len(runs) == 2 * 2 + 3 * 2 * 2 + 2 * 1 + 3 * 3  # every later call, all through runners
    for first, again in runs:
        assert again == first[2], f"{first[0]} bound with {first[2]}, called with {again}"
    # the RMSNorm template launches its one kernel the same way
    rms = tmp_problems["llama3-8b-rmsnorm"]
    cand = load_source(TEMPLATES["rmsnorm"].render(TEMPLATES["rmsnorm"].SEED, rms), "agentopt_candidate_bound_rms")
    binds.clear()
    runs.clear()
    cand._bind = stand_in
    mod = rms.module(rms.cpu_shapes[0])
    model = cand.ModelNew(*mod.get_init_inputs())
    with torch.no_grad():
        for m in (1, 1, 1, 4, 4):
            model(torch.randn(m, mod.get_inputs()[0].shape[-1]))
    assert [b[0] for b in binds] == ["_rmsnorm", "_rmsnorm"] and len(runs) == 3
    for first, again in runs:
        assert again == first[2], f"{first[0]} bound with {first[2]}, called with {again}"


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed here")
def test_cuda_c_template_compiles_with_nvcc(tmp_path):
    t = TEMPLATES["gemv_cuda"]
    heavy = {**t.SEED, "passes": 2, "max_m": 8, "rows": 4, "warps": 8, "gu_kw": 2, "down_kw": 8, "unroll": 2,
             "load": "__ldg"}
    fused = {**t.SEED, "passes": 1, "max_m": 8, "rows": 1, "warps": 16, "unroll": 2, "blocks_per_sm": 1}
    for i, params in enumerate([t.SEED, heavy, fused]):
        src = tmp_path / f"k{i}.cu"
        src.write_text(t.cuda_source(params, 4096))
        out = subprocess.run(["nvcc", "-cubin", "-arch=sm_90", "-o", str(tmp_path / f"k{i}.cubin"), str(src)],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        assert (tmp_path / f"k{i}.cubin").stat().st_size > 0


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_mutation_and_crossover_stay_inside_the_space(name):
    t = TEMPLATES[name]
    rng = random.Random(1)
    for _ in range(200):
        a = {k: rng.choice(v) for k, v in t.SPACE.items()}
        b = {k: rng.choice(v) for k, v in t.SPACE.items()}
        child, how = mutate(t, a, rng, 0.3)
        assert set(child) == set(t.SPACE) and all(child[k] in t.SPACE[k] for k in child)
        if any(len(v) > 1 for v in t.SPACE.values()):
            assert sum(child[k] != a[k] for k in a) == 1 and "->" in how
        mixed = crossover(t, a, b, rng)
        assert all(mixed[k] in t.SPACE[k] for k in t.SPACE)
        for keys in t.GROUPS.values():
            assert all(mixed[k] == a[k] for k in keys) or all(mixed[k] == b[k] for k in keys)


def _propose(coder, problem, device, task="new", parents=(), seed=0):
    ctx = CoderContext(problem=problem, device=device, hardware=H100 if device == "cuda" else None, task=task,
                       parents=list(parents), rng=random.Random(seed))
    return asyncio.run(coder.propose(ctx))


def test_coder_proposes_seeds_then_samples_for_the_ffn():
    problem = get_problem("llama3-8b-ffn")
    coder = TemplateCoder()
    assert [t.NAME for t in coder.matching_templates(problem, "cuda")] == ["gated_mlp", "gemv_cuda"]
    assert [t.NAME for t in coder.matching_templates(problem, "cpu")] == ["gated_mlp"]
    first = [_propose(coder, problem, "cuda", seed=i) for i in range(6)]
    gated, gemv = TEMPLATES["gated_mlp"], TEMPLATES["gemv_cuda"]
    tile_major = {"small_packed": 1, "small_down_packed": 1, "small_stages": 3}  # the measured variant, proposed next
    assert [(p.template, p.params, p.meta["how"]) for p in first[:4]] == [
        ("gated_mlp", gated.SEED, "seed point"), ("gemv_cuda", gemv.SEED, "seed point"),
        ("gated_mlp", {**gated.SEED, **tile_major}, "seed variant 1"),
        ("gemv_cuda", {**gemv.SEED, **tile_major}, "seed variant 1")]
    assert "seed" not in first[4].meta["how"]  # then sampled points
    for p in first:
        assert p.error is None and p.coder == "template" and "class ModelNew(" in p.source
        assert "note" not in p.meta
    dims = [TEMPLATES[p.template].dims(problem, s) for s in problem.shapes]
    assert all(TEMPLATES[p.template].prune(p.params, H100, dims) is None for p in first)
    cpu = TemplateCoder()
    assert {_propose(cpu, problem, "cpu", seed=i).template for i in range(10)} == {"gated_mlp"}


def test_coder_improves_and_crosses_parents():
    problem = get_problem("llama3-8b-ffn")
    coder = TemplateCoder()
    t = TEMPLATES["gated_mlp"]
    seed = _propose(coder, problem, "cuda")
    parent = CandidateView(id="c1", source=seed.source, template=seed.template, params=seed.params)
    child = _propose(coder, problem, "cuda", "improve", [parent], seed=3)
    assert child.error is None and child.template == "gated_mlp" and child.parents == ["c1"]
    assert child.source != parent.source
    assert sum(child.params[k] != parent.params[k] for k in t.SPACE) == 1
    other_params = {**t.SEED, "small_block_n": 128, "small_warps": 8, "large_gateup": "cublas"}
    other = CandidateView(id="c2", source=t.render(other_params, problem), template="gated_mlp", params=other_params)
    mixed = _propose(coder, problem, "cuda", "crossover", [parent, other], seed=5)
    assert mixed.error is None and set(mixed.parents) <= {"c1", "c2"} and mixed.template == "gated_mlp"


def test_coder_says_so_for_an_unmatched_problem_and_offers_torch_compile(tmp_problems):
    problem = tmp_problems["conv"]
    coder = TemplateCoder()
    note = coder.note(problem, "cuda")
    assert note and "no kernel template matches" in note and "\n" not in note
    proposal = _propose(coder, problem, "cuda")
    assert proposal.template == FALLBACK and proposal.meta["note"] == note
    assert "torch.compile" in proposal.source and "class Model(nn.Module)" in proposal.source
    modes = {_propose(coder, problem, "cuda", seed=i).params["mode"] for i in range(12)}
    assert modes == {"default", "max-autotune-no-cudagraphs"}
    assert coder.note(get_problem("llama3-8b-rmsnorm"), "cuda") is None


def test_features_are_numbers_that_tell_points_apart():
    coder = TemplateCoder()
    t = TEMPLATES["gated_mlp"]
    a = coder.features("gated_mlp", t.SEED, {"M": 16})
    b = coder.features("gated_mlp", {**t.SEED, "large_gateup": "cublas"}, {"M": 4096})
    assert all(isinstance(v, float) for v in {**a, **b}.values())
    assert a != b and a["M<=small_max_m"] == 1.0 and b["M<=small_max_m"] == 0.0 and a["M<=fma_max_m"] == 0.0


def _run_cases(cases: list[dict]) -> list[dict]:
    """The subprocess side: build each candidate and the reference at each CPU shape and compare, two calls."""
    import torch

    out = []
    for case in cases:
        problem = get_problem(case["problem"])
        t = TEMPLATES[case["template"]]
        for shape in case["shapes"]:
            row = {"template": case["template"], "params": case["params"], "shape": shape, "error": None,
                   "rel_err": None, "tol": problem.tolerance("cpu")}
            try:
                mod = problem.module(shape)
                cand = load_source(t.render(case["params"], problem), "agentopt_candidate")
                sys.modules[cand.__name__] = cand  # torch.compile looks the candidate's module up by name
                torch.manual_seed(0)
                ref = mod.Model(*mod.get_init_inputs())
                new = cand.ModelNew(*mod.get_init_inputs())
                new.load_state_dict(ref.state_dict(), strict=True)
                if hasattr(new, "prepare"):
                    new.prepare()
                for name, value in case.get("attrs", {}).items():
                    setattr(new, name, value)
                errs = []
                for seed in (1, 2):  # two calls: a kernel that leaves state behind (counters) fails the second
                    torch.manual_seed(seed)
                    inputs = mod.get_inputs()
                    with torch.no_grad():
                        want = ref(*inputs).double()
                        got = new(*inputs)
                    assert got.shape == want.shape and got.dtype == torch.float32, (got.shape, got.dtype)
                    errs.append(((got.double() - want).norm() / want.norm()).item())
                row["rel_err"] = max(errs)
            except Exception as exc:  # reported to the test, which shows it
                row["error"] = f"{type(exc).__name__}: {exc}"
            out.append(row)
    return out


if __name__ == "__main__":
    print(json.dumps(_run_cases(json.loads(sys.stdin.read()))))
