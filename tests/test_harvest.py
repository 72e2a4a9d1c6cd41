"""`agentopt harvest` on a small CPU run (the real evaluator re-verifies), the kernel set, and `agentopt library`."""
import json
import os
import subprocess
import sys

import pytest

from run_fixtures import make_run

from agentopt.config import HarvestConfig
from agentopt.harvest import LibraryIndex, harvest, select_kernels

QUICK = HarvestConfig(seeds_per_shape=2, repeats=1)  # for the harvests whose timings the test does not read

WRONG_FFN = '''import torch
import torch.nn as nn


class ModelNew(nn.Module):
    """Forgets the activation: right shape, wrong numbers."""

    def __init__(self, hidden_size, intermediate_size):
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(self.gate_proj(x) * self.up_proj(x))
'''


def agentopt(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "agentopt.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": "220"})


def test_kernel_set_is_the_smallest_within_98_percent_of_the_best():
    times = {"a": {"s1": 1.00, "s2": 2.00, "s3": 5.0},
             "b": {"s1": 1.01, "s2": 1.99, "s3": 4.0},  # within 98% on s1 and s2, best on s3
             "c": {"s1": 0.90, "s2": 3.00},  # best on s1 only
             "d": {"s2": 2.01}}
    chosen, serving, fraction = select_kernels(times, keep=0.98)
    # s1's best is c (0.90): b (1.01) is 89% of it; so two kernels: b covers s2, s3; c covers s1
    assert sorted(chosen) == ["b", "c"]
    assert serving == {"s1": "c", "s2": "b", "s3": "b"}
    assert fraction["a"]["s3"] == pytest.approx(0.8)
    chosen, serving, _ = select_kernels({"x": {"s1": 1.0, "s2": 1.0}, "y": {"s1": 0.995, "s2": 0.99}})
    assert chosen == ["y"] and set(serving.values()) == {"y"}  # one kernel is enough when it is within 2% everywhere


@pytest.fixture(scope="module")
def harvested(tmp_path_factory):
    """An FFN run whose best candidate (c0003) turns out wrong on re-verification; harvested into a fresh library."""
    runs, library = tmp_path_factory.mktemp("runs"), tmp_path_factory.mktemp("library")
    run = make_run(runs, "llama3-8b-ffn")
    (run / "candidates" / "c0003.py").write_text(WRONG_FFN)
    out = agentopt("harvest", str(run), "--library", str(library), "--min-speedup", "0", "--device", "cpu")
    return run, library, out


def test_harvest_admits_verified_winners_and_reports_the_failed_one(harvested):
    run, library, out = harvested
    assert out.returncode == 0, out.stdout + out.stderr
    assert "winners c0003, c0002" in out.stdout
    assert "left out c0003: failed re-verification (incorrect)" in " ".join(out.stdout.split())
    index = LibraryIndex.load(library)
    assert [k.provenance.candidate for k in index.kernels] == ["c0002"]
    k = index.kernels[0]
    assert (k.problem, k.arch, k.dtype) == ("llama3-8b-ffn", "cpu", "float32")
    from agentopt.problems import get_problem
    assert k.problem_hash == get_problem("llama3-8b-ffn").source_hash
    assert k.provenance.template == "fused_gate_up" and k.provenance.params == {"BLOCK_M": 16, "num_warps": 4}
    assert k.verification.status == "ok" and k.verification.seeds_per_shape == 8 and k.verification.repeats == 2
    assert len(k.shapes) == 3 and all(s.time_ms > 0 and s.baseline_ms > 0 and s.rel_err < 1e-3 for s in k.shapes)
    assert all(s.fraction_of_floor is not None for s in k.shapes)  # from the plan's floors
    assert (library / k.path).read_text() == (run / "candidates" / "c0002.py").read_text()
    assert json.loads((library / "index.json").read_text())["version"] == 1
    heatmap = library / "llama3-8b-ffn" / "cpu" / "heatmap.png"
    assert heatmap.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and heatmap.stat().st_size > 5000


def test_a_second_harvest_keeps_one_set_and_min_speedup_leaves_shapes_to_eager(harvested, tmp_path):
    run, library, _ = harvested
    # nothing is a million times faster than eager: every shape is left to eager, and the old kernel retires
    report = harvest(run, library=library, min_speedup=1e6, device="cpu", config=QUICK)
    assert report.error is None and report.kernel_set == [] and len(report.unserved) == 3
    assert LibraryIndex.load(library).kernels == []
    assert report.retired and not (library / "llama3-8b-ffn" / "cpu" / f"{report.retired[0]}.py").exists()
    report = harvest(run, library=library, min_speedup=0.0, device="cpu", config=QUICK)
    assert report.kernel_set and set(report.serving) == {"M=1,HIDDEN=64,INTERMEDIATE=224",
                                                         "M=16,HIDDEN=64,INTERMEDIATE=224",
                                                         "M=33,HIDDEN=128,INTERMEDIATE=96"}


def test_a_harvest_times_the_library_kernels_again_and_retires_those_that_fail_today(tmp_path):
    library = tmp_path / "library"
    first = harvest(make_run(tmp_path / "runs"), library=library, min_speedup=0.0, device="cpu", config=QUICK)
    assert first.kernel_set
    index = LibraryIndex.load(library)
    for kernel in index.kernels:  # numbers from another session that would win every shape if they were believed
        for m in kernel.measured + kernel.shapes:
            m.time_ms = 1e-9
    index.save(library)
    second = harvest(make_run(tmp_path / "runs"), library=library, min_speedup=0.0, device="cpu", config=QUICK)
    assert second.error is None and second.kernel_set
    index = LibraryIndex.load(library)
    assert all(m.time_ms > 1e-6 for k in index.kernels for m in k.measured + k.shapes)  # timed again, beside

    broken = [k.name for k in index.kernels]  # a library file that computes the wrong thing today
    for kernel in index.kernels:
        (library / kernel.path).write_text(WRONG_FFN)
    third = harvest(make_run(tmp_path / "runs"), library=library, min_speedup=0.0, device="cpu", config=QUICK)
    notes = " ".join(third.notes)
    assert all(f"library kernel {name} failed re-verification (incorrect)" in notes for name in broken)
    assert set(broken) <= set(third.retired)
    kept = LibraryIndex.load(library).kernels
    assert kept and not {k.name for k in kept} & set(broken)
    assert all((library / k.path).read_text() != WRONG_FFN for k in kept)


def test_library_ls_show_and_bench_on_cpu(harvested):
    run, library, _ = harvested
    index = LibraryIndex.load(library)
    if not index.kernels:
        harvest(run, library=library, min_speedup=0.0, device="cpu", config=QUICK)
        index = LibraryIndex.load(library)
    name, seeds = index.kernels[0].name, index.kernels[0].verification.seeds_per_shape
    ls = agentopt("library", "ls", "--library", str(library))
    assert ls.returncode == 0 and name in ls.stdout and "llama3-8b-ffn" in ls.stdout and "keeps MiB" in ls.stdout
    show = agentopt("library", "show", name, "--library", str(library))
    assert show.returncode == 0 and run.name in show.stdout and f"{seeds} seeds a shape" in show.stdout
    held = index.kernels[0].verification.held_bytes  # re-verification measured it
    assert held is not None and f"keeps {held / 2**20:.0f} MiB beyond the weights" in show.stdout
    bench = agentopt("library", "bench", "--device", "cpu", "--library", str(library))
    assert bench.returncode == 0, bench.stderr
    assert "CPU wall-clock" in bench.stdout and name in bench.stdout and "held MiB" in bench.stdout


def test_harvest_refuses_a_run_of_another_device(tmp_path):
    run = make_run(tmp_path / "runs")
    info = json.loads((run / "run.json").read_text())
    info.update(device="cuda", hardware={"arch": "sm_90", "name": "NVIDIA H100"})
    (run / "run.json").write_text(json.dumps(info))
    report = harvest(run, library=tmp_path / "lib", device="cpu")
    assert report.error and "--device cuda" in report.error and not (tmp_path / "lib" / "index.json").exists()


@pytest.mark.gpu
def test_gpu_harvest_of_a_real_ffn_run_and_library_bench(tmp_path):
    runs, library = tmp_path / "runs", tmp_path / "library"
    out = agentopt("run", "--model", "llama3-8b-ffn", "--device", "cuda", "--coder", "template",
                   "--max-candidates", "8", "--budget-minutes", "4", "--runs-dir", str(runs), timeout=400)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    run = next(runs.iterdir())
    out = agentopt("harvest", str(run), "--library", str(library), "--min-speedup", "0", timeout=500)
    assert out.returncode == 0, out.stdout + out.stderr
    print(out.stdout)
    index = LibraryIndex.load(library)
    assert index.kernels and all(k.arch.startswith("sm_") and k.dtype == "bfloat16" for k in index.kernels)
    assert (library / "llama3-8b-ffn" / index.kernels[0].arch / "heatmap.png").is_file()
    served = {json.dumps(s.shape) for k in index.kernels for s in k.shapes}
    assert len(served) == 6  # every M is served at --min-speedup 0
    bench = agentopt("library", "bench", "--device", "cuda", "--library", str(library))
    assert bench.returncode == 0, bench.stderr
    print(bench.stdout)
    assert "cuda events" in bench.stdout and "M=4096" in bench.stdout
