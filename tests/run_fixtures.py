"""Small runs built with the real run store, for the review, report, harvest and library tests.

`make_run(runs_dir, problem)` writes a run of five candidates of llama3-8b-ffn or llama3-8b-rmsnorm at the CPU
shapes: honest PyTorch `ModelNew` sources (each one correct), a lineage (seed -> template child -> LLM child,
a crossover), one failing candidate with a compile log, an LLM prompt and reply on one, template parameters on
others (c0005 stands for the torch_compile template). The recorded timings are made up (the run never ran): the
harvest re-measures them for real."""
from __future__ import annotations

import time
from pathlib import Path

from agentopt.problems import get_problem
from agentopt.runs import CandidateRecord, RunStore
from agentopt.sandbox.records import CompileResult, Evaluation, KernelInfo, ShapeResult

FFN_PLAIN = '''import torch
import torch.nn as nn
import torch.nn.functional as F


class ModelNew(nn.Module):
    def __init__(self, hidden_size, intermediate_size):
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))
'''

FFN_FUSED = '''import torch
import torch.nn as nn
import torch.nn.functional as F


class ModelNew(nn.Module):
    """gate and up in one matrix product: their weights stacked once in prepare()."""

    def __init__(self, hidden_size, intermediate_size):
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)
        self.w13 = None

    def prepare(self):
        self.w13 = torch.cat([self.gate_proj.weight, self.up_proj.weight], dim=0).detach()

    def forward(self, x):
        w13 = self.w13 if self.w13 is not None else torch.cat([self.gate_proj.weight, self.up_proj.weight])
        gate, up = F.linear(x, w13).chunk(2, dim=-1)
        return F.linear(F.silu(gate) * up, self.down_proj.weight)
'''

FFN_LLM = '''import torch
import torch.nn as nn
import torch.nn.functional as F


class ModelNew(nn.Module):
    def __init__(self, hidden_size, intermediate_size):
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)

    def forward(self, x):
        gate = x @ self.gate_proj.weight.t()
        up = x @ self.up_proj.weight.t()
        return (gate * torch.sigmoid(gate) * up) @ self.down_proj.weight.t()
'''

RMS_PLAIN = '''import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * h.to(x.dtype)
'''

RMS_FUSED = '''import torch
import torch.nn as nn
import torch.nn.functional as F


class ModelNew(nn.Module):
    """torch's own rms_norm: one pass over the row."""

    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        return F.rms_norm(x.float(), (x.shape[-1],), self.weight.float(), self.variance_epsilon).to(x.dtype)
'''

RMS_LLM = '''import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        h = x.float()
        inv = (h * h).mean(dim=-1, keepdim=True).add(self.variance_epsilon).rsqrt()
        return (h * inv).to(x.dtype) * self.weight
'''

BROKEN = '''import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def forward(self, x)
        return x
'''

SOURCES = {"llama3-8b-ffn": (FFN_PLAIN, FFN_FUSED, FFN_LLM), "llama3-8b-rmsnorm": (RMS_PLAIN, RMS_FUSED, RMS_LLM)}

PROMPT = "You write fast kernels.\nImprove this ModelNew for the shapes M=1, M=16, M=33; the parent's score is 1.21."
REPLY = "The sigmoid form saves a kernel launch.\n```python\n# whole file\n```"


def _evaluation(problem, speedups: list[float], floors_ms: list[float]) -> dict:
    shapes = []
    for shape, speedup, floor in zip(problem.cpu_shapes, speedups, floors_ms):
        baseline = 0.05 * shape["M"] + 0.2
        t = baseline / speedup
        shapes.append(ShapeResult(shape=shape, correct=True, rel_err=2e-7, max_err=1e-6, time_ms=t, p20_ms=t * 0.95,
                                  p80_ms=t * 1.05, baseline_ms=baseline, speedup=speedup, floor_ms=floor,
                                  fraction_of_floor=floor / t))
    score = 1.0
    for s in speedups:
        score *= s
    return Evaluation(status="ok", score=score ** (1 / len(speedups)), shapes=shapes,
                      compile=CompileResult(ok=True, log="imported ModelNew", seconds=0.1,
                                            kernels=[KernelInfo(name="aten", kind="torch")])).model_dump()


def make_run(runs_dir: Path, problem_name: str = "llama3-8b-ffn") -> Path:
    """A finished run in runs_dir: 5 candidates (4 correct, 1 compile error); returns its directory."""
    problem = get_problem(problem_name)
    floors_ms = [0.01 * s["M"] + 0.05 for s in problem.cpu_shapes]
    plan = {"shapes": [{"shape": s, "floor_us": f * 1000, "bound": "memory", "regime": "small",
                        "eager_us": (0.05 * s["M"] + 0.2) * 1000}
                       for s, f in zip(problem.cpu_shapes, floors_ms)],
            "fusion_groups": [["gate", "up", "silu", "mul"], ["down"]]}
    store = RunStore.create(runs_dir, problem_name, {
        "problem": problem.to_dict(), "device": "cpu", "hardware": None, "plan": plan,
        "config": {"search": {"max_candidates": 5}}, "versions": {"torch": "test"}})
    t0 = time.time() - 120  # the run's clock: events carry their own times (RunStore.log lets `t` through)
    store.update_info(created_at=t0)
    store.log("run_started", t=t0, problem=problem_name, device="cpu")
    store.log("plan", t=t0 + 1, shapes=plan["shapes"])
    plain, fused, llm = SOURCES[problem_name]
    made = [
        ("c0001", plain, [], "template", "reference_copy", {}, None, [1.0, 1.0, 1.0]),
        ("c0002", fused, ["c0001"], "template", "fused_gate_up", {"BLOCK_M": 16, "num_warps": 4}, None,
         [1.3, 1.2, 1.1]),
        ("c0003", llm, ["c0002"], "llm:test-model", None, None, (PROMPT, REPLY), [1.1, 1.25, 1.4]),
        ("c0004", BROKEN, ["c0003"], "llm:test-model", None, None, (PROMPT, "```python\n...\n```"), None),
        ("c0005", llm, ["c0003", "c0002"], "template", "torch_compile", {"mode": "max-autotune"}, None,
         [1.05, 1.0, 1.35]),
    ]
    best = 0.0
    for i, (cid, source, parents, coder, template, params, llm_io, speedups) in enumerate(made):
        path = store.save_source(cid, source)
        store.log("candidate_proposed", t=t0 + 10 + 20 * i, id=cid, coder=coder, parents=parents)
        if speedups is None:
            evaluation = Evaluation(status="compile_error", reason="SyntaxError: expected ':' (line 6)",
                                    compile=CompileResult(ok=False, error="SyntaxError: expected ':'",
                                                          log="  File \"c0004.py\", line 6\n    def forward(self, x)\n"
                                                              "                        ^\nSyntaxError: expected ':'"))
            evaluation = evaluation.model_dump()
        else:
            evaluation = _evaluation(problem, speedups, floors_ms)
        rec = CandidateRecord(id=cid, created_at=t0 + 10 + 20 * i, generation=len(parents) and i, coder=coder,
                              parents=parents, template=template, params=params, source_hash=f"h{cid}", path=path,
                              status=evaluation["status"], reason=evaluation["reason"], score=evaluation["score"],
                              evaluation=evaluation, prompt=llm_io[0] if llm_io else None,
                              reply=llm_io[1] if llm_io else None)
        store.put_candidate(rec)
        if llm_io:
            store.add_llm_call(candidate_id=cid, model="test-model", prompt=llm_io[0], reply=llm_io[1],
                               prompt_tokens=1200, completion_tokens=400, latency_s=3.0, cost_usd=0.0125)
        store.log("candidate_evaluated", t=t0 + 25 + 20 * i, id=cid, status=rec.status, score=rec.score)
        if rec.ok and rec.score > best:
            best = rec.score
            store.write_best("overall", source)
            store.log("new_best", t=t0 + 25 + 20 * i, id=cid, score=rec.score)
    store.log("run_stopped", t=t0 + 120, reason="max_candidates reached (5)")
    store.update_info(status="finished")
    store.close()
    return store.path
