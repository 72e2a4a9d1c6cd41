"""The LLM coder: its prompts (every template, every task, with and without a plan, StrictUndefined) and its
replies turned into Proposals, against the stand-in server."""
import asyncio
import random

import jinja2
import pytest
from fake_openai import FakeOpenAI, chat, error

from agentopt import prompts
from agentopt.agents.base import CandidateView, CoderContext
from agentopt.agents.coder import TASKS, LLMCoder, prompt_vars
from agentopt.agents.llm import LLMClient
from agentopt.config import LLMConfig
from agentopt.hardware import BUILTIN
from agentopt.problems import get_problem
from agentopt.sandbox.records import CompileResult, Evaluation, KernelInfo, ShapeResult

PROBLEM = get_problem("llama3-8b-ffn")
PARENT_SOURCE = '''import torch
import triton
import triton.language as tl


class ModelNew(torch.nn.Module):
    def __init__(self, hidden, inter):
        super().__init__()
        self.gate_proj = torch.nn.Linear(hidden, inter, bias=False)
        self.up_proj = torch.nn.Linear(hidden, inter, bias=False)
        self.down_proj = torch.nn.Linear(inter, hidden, bias=False)
        self.block_n = 64

    def forward(self, x):
        h = torch.nn.functional.silu(self.gate_proj(x)) * self.up_proj(x)
        return self.down_proj(h)
'''


def ok_evaluation() -> dict:
    shapes = [ShapeResult(shape={"M": 1}, correct=True, rel_err=2e-3, time_ms=0.138, baseline_ms=0.149, speedup=1.08,
                          floor_ms=0.117, fraction_of_floor=0.848, achieved_gbps=2550.0, bandwidth_fraction=0.85),
              ShapeResult(shape={"M": 4096}, correct=True, rel_err=3e-3, time_ms=2.4, baseline_ms=2.273,
                          speedup=0.947, floor_ms=2.121, fraction_of_floor=0.884, achieved_tflops=601.0,
                          compute_fraction=0.88)]
    kernels = [KernelInfo(name="gate_up_swiglu", registers=168, spills=24, shared_bytes=98304, num_warps=4,
                          num_stages=3)]
    return Evaluation(status="ok", score=1.01, shapes=shapes, compile=CompileResult(ok=True, kernels=kernels),
                      device="cuda", gpu="H100").model_dump()


def compile_error_evaluation() -> dict:
    log = "x" * 9000 + "\ntriton.compiler.errors.CompilationError: at 12:8: tl.dot needs 2D blocks of 16 or more"
    return Evaluation(status="compile_error", reason="CompilationError at 12:8: tl.dot needs blocks of 16 or more",
                      compile=CompileResult(ok=False, error="CompilationError", log=log)).model_dump()


def wrong_evaluation() -> dict:
    shapes = [ShapeResult(shape={"M": 1}, correct=True, rel_err=1e-3),
              ShapeResult(shape={"M": 33}, correct=False, rel_err=0.9, max_err=3.5, error="masked tail rows")]
    return Evaluation(status="incorrect", reason="wrong output at M=33", shapes=shapes).model_dump()


EVALUATIONS = {"new": ok_evaluation, "improve": ok_evaluation, "crossover": ok_evaluation,
               "fix_compile": compile_error_evaluation, "fix_wrong": wrong_evaluation}


def context(task: str, plan=None, device: str = "cuda") -> CoderContext:
    parents = [CandidateView(id=f"p{i}", source=PARENT_SOURCE.replace("64", str(64 * (i + 1))), coder="llm:m",
                             evaluation=EVALUATIONS[task]()) for i in range(TASKS[task][1])]
    inspiration = CandidateView(id="insp1", source=PARENT_SOURCE.replace("64", "256"), evaluation=ok_evaluation())
    return CoderContext(problem=PROBLEM, device=device, hardware=BUILTIN["h100"] if device == "cuda" else None,
                        plan=plan, task=task, parents=parents, inspirations=[inspiration], rng=random.Random(0))


@pytest.fixture(scope="module")
def real_plan():
    from agentopt.agents.planner import make_plan

    plan = make_plan(PROBLEM, BUILTIN["h100"])
    assert plan.error is None and plan.hints
    return plan


def coder_for(srv: FakeOpenAI | None = None, **kw) -> LLMCoder:
    url = srv.base_url if srv else "http://127.0.0.1:9/v1"
    return LLMCoder(LLMClient(LLMConfig(base_url=url, model="fake-model", retry_initial_s=0.01, **kw)))


def propose(coder: LLMCoder, *ctxs: CoderContext):
    async def go():
        try:
            return [await coder.propose(c) for c in ctxs]
        finally:
            await coder.client.close()
    out = asyncio.run(go())
    return out[0] if len(out) == 1 else out


# ---- the prompts ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("plan_kind", ["none", "real", "sparse"])
def test_every_template_renders_for_every_task_with_and_without_a_plan(task, plan_kind, request):
    plan = {"none": None, "sparse": {"hints": ["use split-K"]}}.get(plan_kind) or (
        request.getfixturevalue("real_plan") if plan_kind == "real" else None)
    system, user = (m["content"] for m in coder_for().messages(context(task, plan)))
    assert "NVIDIA H100" in system and "132 SMs" in system and "ModelNew" in system and "threads" in system
    assert "class Model(nn.Module)" in user and "M=1; M=16" in user
    assert "insp1" in user or task in ("fix_compile", "fix_wrong")
    if plan_kind == "none":
        assert "No plan" in user
    if plan_kind == "sparse":
        assert "use split-K" in user
    if plan_kind == "real":
        assert real_plan_hint(plan) in user and "gate_proj+silu+up_proj+mul" in user and "memory-bound" in user
    if TASKS[task][1]:
        assert "self.block_n = 64" in user
    if task in ("improve", "crossover"):
        assert "138.0 us vs reference 149.0 us (1.08x), floor 117.0 us (85% of the floor)" in user
        assert "168 registers, 24 bytes spilled, 98304 bytes of shared memory" in user
        assert "TFLOP/s (88% of the matrix rate)" in user
    if task == "fix_compile":
        assert "tl.dot needs 2D blocks" in user and "first 5" in user  # the log's tail, its cut said
    if task == "fix_wrong":
        assert "M=33: WRONG, relative error 9.00e-01" in user and "masked tail rows" in user
    if task == "crossover":
        assert "self.block_n = 128" in user


def real_plan_hint(plan) -> str:
    return plan.hints[0][:60]


def test_on_cpu_the_system_prompt_says_interpreter_and_float32():
    system, _ = (m["content"] for m in coder_for().messages(context("new", device="cpu")))
    assert "Triton's interpreter" in system and "float32" in system and "H100" not in system


def test_a_missing_variable_raises_instead_of_leaving_a_hole():
    variables = prompt_vars(context("improve"), 4000)
    assert prompts.render("improve", **variables)
    del variables["parent"]
    with pytest.raises(jinja2.UndefinedError, match="parent"):
        prompts.render("improve", **variables)


def test_a_users_prompt_dir_overrides_one_template_and_a_typo_there_is_a_failed_proposal(tmp_path, monkeypatch):
    (tmp_path / "system.j2").write_text("Custom system prompt for {{ problem.name }}.")
    system, user = (m["content"] for m in LLMCoder(coder_for().client, prompt_dir=tmp_path).messages(
        context("new")))
    assert system == "Custom system prompt for llama3-8b-ffn." and "from scratch" in user
    monkeypatch.setenv(prompts.PROMPT_DIR_ENV, str(tmp_path))
    assert prompts.render("system", problem={"name": "x"}) == "Custom system prompt for x.\n"
    (tmp_path / "improve.j2").write_text("{{ parnet.source }}")
    proposal = propose(coder_for(), context("improve"))
    assert proposal.source is None and "improve.j2 did not render" in proposal.error and "parnet" in proposal.error
    with pytest.raises(FileNotFoundError, match="does not exist"):
        prompts.set_prompt_dir(tmp_path / "missing")


# ---- proposals from replies -------------------------------------------------------------------------------------
EDIT = "Wider blocks.\n<<<<<<< SEARCH\n        self.block_n = 64\n=======\n        self.block_n = 128\n>>>>>>> REPLACE\n"


def test_an_edit_reply_becomes_a_candidate_with_its_prompt_reply_and_call():
    with FakeOpenAI([chat(EDIT)]) as srv:
        proposal = propose(coder_for(srv), context("improve"))
    assert proposal.error is None and "self.block_n = 128" in proposal.source
    assert proposal.coder == "llm:fake-model" and proposal.parents == ["p0"] and proposal.llm_call_ids == [1]
    assert proposal.reply == EDIT and "self.block_n = 64" in proposal.prompt
    sent = srv.chat_requests[0].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user"] and "SEARCH" in sent[1]["content"]


def test_a_crossover_reply_is_a_whole_file():
    child = PARENT_SOURCE.replace("64", "96")
    with FakeOpenAI([chat(f"Mixed.\n```python\n{child}```")]) as srv:
        proposal = propose(coder_for(srv), context("crossover"))
    assert proposal.source == child and proposal.parents == ["p0", "p1"] and proposal.meta["edit_mode"] == "whole"


def test_no_code_a_diff_that_does_not_apply_and_a_failed_call_are_failed_proposals_with_the_reason():
    bad_edit = EDIT.replace("self.block_n = 64", "self.block_m = 64", 1)
    with FakeOpenAI([chat("You could try a larger block."), chat(bad_edit, finish_reason="length")],
                    default=error(500, "overloaded")) as srv:
        no_code, no_match, failed = propose(coder_for(srv, max_retries=1), *[context("improve")] * 3)
    assert no_code.source is None and no_code.error.startswith("the reply holds no code")
    assert no_match.source is None and "block 1 did not match" in no_match.error
    assert "self.block_n = 64" in no_match.error and "cut at 8192 tokens" in no_match.error
    assert failed.source is None and failed.error.startswith("the LLM call failed") and "500" in failed.error
    assert len(srv.chat_requests) == 4  # the last call tried twice


def test_the_token_budget_stops_the_coder_without_calling_the_server():
    with FakeOpenAI(default=chat(EDIT, prompt_tokens=900, completion_tokens=200)) as srv:
        first, second = propose(coder_for(srv, token_budget=1000), context("improve"), context("improve"))
    assert first.source and second.source is None and "token budget spent (1100 of 1000)" in second.error
    assert len(srv.chat_requests) == 1


def test_a_task_without_its_parents_is_refused():
    proposal = propose(coder_for(), context("new").model_copy(update={"task": "crossover"}))
    assert "needs 2 parent(s), got 0" in proposal.error


def test_the_ensemble_picks_the_model_from_the_contexts_rng():
    with FakeOpenAI(default=chat(EDIT)) as srv:
        coder = coder_for(srv, ensemble=[("cheap", 1.0), ("strong", 1.0)])
        proposals = propose(coder, *[context("improve").model_copy(update={"rng": random.Random(s)})
                                     for s in range(8)])
    sent = [r.body["model"] for r in srv.chat_requests]
    assert set(sent) == {"cheap", "strong"} and [p.coder for p in proposals] == [f"llm:{m}" for m in sent]
