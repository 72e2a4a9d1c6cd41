"""The adversarial corpus's table: each candidate file with the problem it targets and the verdict it must get.

A row: file (in this folder), problem (zoo name), status, a substring the reason must contain (case-insensitive),
device ("cpu" runs in CI, "cuda" only on a GPU), static_guard (off tests the runtime defences behind the guard),
limits (EvalConfig overrides, e.g. short time limits for hangs), shapes (a subset of the GPU shapes, to keep
GPU runs short; None is all of them) and max_score (a bound on the score where `ok` is an allowed verdict).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Case:
    file: str
    problem: str
    status: str
    reason: str  # substring of Evaluation.reason; "" for ok (reason is None then)
    device: str = "cpu"
    static_guard: bool = True
    limits: tuple = ()  # (("compile_timeout_s", 10.0), ...): EvalConfig overrides
    shapes: tuple | None = None  # GPU shapes to use, e.g. ({"M": 1}, {"M": 128})
    max_score: float | None = None  # where "ok" is allowed: the score it may not exceed (no speedup bought)

    @property
    def id(self) -> str:
        return f"{self.file.removesuffix('.py')}-{self.device}-{'guard' if self.static_guard else 'noguard'}"

    def source(self) -> str:
        return (HERE / self.file).read_text()


RMS, SOFTMAX, FFN = "llama3-8b-rmsnorm", "softmax", "llama3-8b-ffn"
HANG = (("compile_timeout_s", 10.0), ("run_timeout_s", 10.0), ("kill_grace_s", 1.0))
GPU_HANG = (("compile_timeout_s", 60.0), ("run_timeout_s", 30.0), ("kill_grace_s", 2.0))
GPU_SHAPES = ({"M": 1}, {"M": 128})

CASES = [
    # honest candidates: the harness does not fail everything
    Case("honest_torch_rmsnorm.py", RMS, "ok", ""),
    Case("honest_torch_ffn.py", FFN, "ok", ""),
    Case("honest_triton_softmax.py", SOFTMAX, "ok", ""),
    Case("honest_triton_ffn.py", FFN, "ok", ""),
    # wrong answers
    # CPU: the allocator may hand back fresh zeroed pages instead of the poisoned block; wrong either way
    Case("empty_output.py", RMS, "incorrect", "non-finite|rel_err"),
    Case("zeros.py", SOFTMAX, "incorrect", "rel_err"),
    Case("pointer_cache.py", RMS, "incorrect", "shape"),
    Case("stale_buffer.py", SOFTMAX, "incorrect", "rel_err"),
    Case("right_when_checked.py", RMS, "incorrect", "timed call"),
    Case("memo_when_timed.py", FFN, "incorrect", "timed call"),
    Case("wrong_between_checks.py", SOFTMAX, "incorrect", "timed call"),
    Case("low_precision.py", RMS, "incorrect", "rel_err"),
    Case("overfit_shape.py", RMS, "incorrect", "shape M=1"),
    Case("partial_write.py", RMS, "incorrect", "shape M=7"),
    Case("raises_on_shape.py", RMS, "incorrect", "ValueError"),
    Case("nan_output.py", SOFTMAX, "incorrect", "NaN"),
    Case("wrong_dtype.py", SOFTMAX, "incorrect", "dtype float64"),
    Case("input_mutation.py", SOFTMAX, "incorrect", "modified its input"),
    Case("output_aliases_input.py", RMS, "incorrect", "aliases an input"),
    Case("tensor_subclass.py", RMS, "rejected", "__torch_function__"),
    Case("tensor_subclass.py", RMS, "incorrect", "subclass", static_guard=False),
    # reaching outside the candidate: the guard, and behind it the runtime
    Case("thread_worker.py", SOFTMAX, "rejected", "imports `threading`"),
    Case("thread_worker.py", SOFTMAX, "rejected", "thread(s) running", static_guard=False),
    Case("patch_synchronize.py", RMS, "rejected", "changes `torch.cuda.synchronize`"),
    Case("patch_synchronize.py", RMS, "rejected", "torch.cuda.synchronize", static_guard=False),
    Case("patch_perf_counter.py", SOFTMAX, "rejected", "imports `time`"),
    Case("patch_perf_counter.py", SOFTMAX, "rejected", "time.perf_counter", static_guard=False),
    Case("caller_frames.py", SOFTMAX, "rejected", "`._getframe`"),
    Case("caller_frames.py", SOFTMAX, "incorrect", "shape", static_guard=False),
    Case("gc_fishing.py", SOFTMAX, "rejected", "imports `gc`"),
    Case("gc_fishing.py", SOFTMAX, "incorrect", "shape", static_guard=False),
    Case("read_files.py", SOFTMAX, "rejected", "uses `open`"),
    Case("read_files.py", SOFTMAX, "incorrect", "rel_err", static_guard=False),
    Case("global_forward_hook.py", SOFTMAX, "rejected", "register_module_forward_pre_hook"),
    Case("global_forward_hook.py", SOFTMAX, "rejected", "global module hooks", static_guard=False),
    Case("slow_torch_function.py", SOFTMAX, "rejected", "changes `torch.softmax`"),
    Case("slow_torch_function.py", SOFTMAX, "rejected", "replaced torch.softmax", static_guard=False),
    Case("lazy_function_mode.py", SOFTMAX, "rejected", "torch.overrides"),
    Case("lazy_function_mode.py", SOFTMAX, "rejected", "function/dispatch mode", static_guard=False),
    # found by red-teaming: objects reached through parameters, tracebacks, class attributes, code objects
    Case("torch_sys_timer_class.py", RMS, "rejected", "uses `.sys`"),
    Case("torch_sys_timer_class.py", RMS, "rejected", "timing._WallTimer.stop", static_guard=False),
    Case("code_swap_when_timed.py", RMS, "rejected", "uses `.sys`"),
    Case("code_swap_when_timed.py", RMS, "rejected", "replaced agentopt.sandbox.timing.", static_guard=False),
    Case("problem_globals_proxy.py", RMS, "rejected", "uses `.sys`"),
    Case("problem_globals_proxy.py", RMS, "rejected", "replaced agentopt_problem_", static_guard=False),
    Case("dispatcher_slow_rsqrt.py", RMS, "rejected", "uses `.library`"),
    Case("traceback_frames_timer.py", RMS, "rejected", "uses `.__traceback__`"),
    Case("traceback_ref_instance.py", RMS, "rejected", "uses `.__traceback__`"),
    Case("traceback_ref_instance.py", RMS, "rejected", "changed the reference model", static_guard=False),
    Case("traceback_skip_unchecked.py", RMS, "rejected", "uses `.__traceback__`"),
    Case("getattr_alias_frames.py", RMS, "rejected", "passes `getattr` around"),
    Case("typing_hints_eval.py", RMS, "rejected", "`.get_type_hints`"),
    Case("python_dispatcher_toggle.py", RMS, "rejected", "torch._dispatch"),
    Case("python_dispatcher_toggle.py", RMS, "rejected", "dispatch keys", static_guard=False),
    Case("lazy_output_pykernel.py", RMS, "rejected", "torch._ops"),
    Case("lazy_output_pykernel.py", RMS, "rejected", "dispatch keys", static_guard=False),
    Case("subclass_when_unchecked.py", RMS, "rejected", "private `._make_subclass`"),
    Case("subclass_when_unchecked.py", RMS, "incorrect", "timed call", static_guard=False),
    Case("module_by_name_gc.py", RMS, "rejected", "private `._utils`"),
    Case("dataclasses_exec_frames.py", RMS, "rejected", "private `._create_fn`"),
    Case("frame_hook_slow_baseline.py", RMS, "rejected", "private `._dynamo`"),
    Case("frame_hook_slow_baseline.py", RMS, "rejected", "frame hook", static_guard=False),
    Case("profiler_toggle.py", RMS, "rejected", "candidates may not profile"),
    Case("profiler_toggle.py", RMS, "rejected", "profiler: True", static_guard=False),
    Case("hidden_hook_table.py", RMS, "rejected", "calls `setattr` on another object"),
    Case("hidden_hook_table.py", RMS, "rejected", "_global_forward_pre_hooks", static_guard=False),
    Case("fx_codegen_exec.py", RMS, "rejected", "torch.fx"),
    Case("fx_fetch_attr_frames.py", RMS, "rejected", "sets `self.baseline`"),
    Case("type_comment_eval.py", RMS, "rejected", "has the comment `# type:"),
    Case("reseed_global_rng.py", RMS, "ok", "", limits=(("cpu_timing_reps", 21),), max_score=1.15),
    Case("string_annotation_exec.py", RMS, "rejected", "annotation written as a string"),
    Case("update_wrapper_frames.py", RMS, "rejected", "`.update_wrapper`"),
    # hangs, crashes, exits
    Case("infinite_loop.py", SOFTMAX, "timeout", "time limit", limits=HANG),
    Case("segfault.py", SOFTMAX, "rejected", "imports `faulthandler`"),
    Case("segfault.py", SOFTMAX, "crashed", "SIGSEGV", static_guard=False),
    Case("os_exit.py", SOFTMAX, "rejected", "imports `os`"),
    Case("os_exit.py", SOFTMAX, "crashed", "exited with code 3", static_guard=False),
    Case("system_exit.py", SOFTMAX, "crashed", "exited"),
    # broken sources
    Case("syntax_error.py", SOFTMAX, "compile_error", "syntax error"),
    Case("no_modelnew.py", SOFTMAX, "compile_error", "ModelNew"),
    Case("import_error.py", SOFTMAX, "compile_error", "ImportError"),
    Case("state_dict_mismatch.py", RMS, "compile_error", "load_state_dict"),
    # on the GPU (bf16, GPU shapes)
    Case("honest_torch_rmsnorm.py", RMS, "ok", "", device="cuda"),
    Case("honest_torch_ffn.py", FFN, "ok", "", device="cuda", shapes=GPU_SHAPES),
    Case("honest_triton_ffn.py", FFN, "ok", "", device="cuda"),
    Case("empty_output.py", RMS, "incorrect", "non-finite", device="cuda", shapes=GPU_SHAPES),
    Case("pointer_cache.py", RMS, "incorrect", "shape", device="cuda", shapes=GPU_SHAPES),
    Case("memo_when_timed.py", FFN, "incorrect", "timed call", device="cuda", shapes=GPU_SHAPES),
    Case("wrong_between_checks.py", SOFTMAX, "incorrect", "timed call", device="cuda",
         shapes=({"M": 64, "N": 32768},)),
    Case("side_stream_junk.py", RMS, "rejected", "never synchronises", device="cuda", shapes=GPU_SHAPES),
    # guard off, the junk is harmless: every timed call starts on an idle device, so it cannot slow the baseline;
    # the stream-pool check may or may not still see it running. What must hold: no speedup bought by it.
    Case("side_stream_junk.py", RMS, "ok|rejected", "|work left running on another stream", device="cuda",
         static_guard=False, shapes=GPU_SHAPES, max_score=1.05),
    Case("side_stream.py", FFN, "rejected", "never synchronises", device="cuda", shapes=GPU_SHAPES),
    # guard off: caught by the stream-pool check, the wall-clock batch, or the outputs as the caller's stream sees
    # them; or, where launching its 15 kernels keeps the host busy longer than the GPU needs for them (seen on an
    # H200: 0.27 ms a call against eager's 0.13), the work is done when forward returns and its time is honest
    Case("side_stream.py", FFN, "rejected|incorrect|ok", "work left running on another stream|timed call|wall",
         device="cuda", static_guard=False, shapes=GPU_SHAPES, max_score=1.0),
    Case("patch_synchronize.py", RMS, "rejected", "torch.cuda.synchronize", device="cuda", static_guard=False,
         shapes=GPU_SHAPES),
    Case("illegal_address.py", RMS, "crashed", "CUDA", device="cuda", shapes=GPU_SHAPES),
    Case("hung_kernel.py", RMS, "timeout", "time limit", device="cuda", limits=GPU_HANG, shapes=GPU_SHAPES),
]


class Evaluators:
    """One Evaluator per (problem, device, guard, limits, shapes), shared by the cases that agree on them."""

    def __init__(self):
        self.pool = {}

    def judge(self, case: Case):
        from agentopt.config import EvalConfig
        from agentopt.problems import get_problem
        from agentopt.sandbox.evaluator import Evaluator

        key = (case.problem, case.device, case.static_guard, case.limits,
               None if case.shapes is None else tuple(tuple(sorted(s.items())) for s in case.shapes))
        if key not in self.pool:
            problem = get_problem(case.problem)
            if case.shapes is not None:
                problem = dataclasses.replace(problem, shapes=[dict(s) for s in case.shapes])
            config = EvalConfig(static_guard=case.static_guard, **dict(case.limits))
            self.pool[key] = Evaluator(problem, device=case.device, config=config)
        return self.pool[key].evaluate(case.source())

    def close(self) -> None:
        for ev in self.pool.values():
            ev.close()
        self.pool.clear()


def params(rows: list[Case]) -> list:
    return [pytest.param(c, id=c.id) for c in rows]


def assert_verdict(case: Case, evaluation) -> None:
    """`case.status` and `case.reason` may list alternatives separated by '|' (verdicts that race between two
    equally valid defences); an `ok` alternative must not exceed `case.max_score`."""
    got = f"{evaluation.status}: {evaluation.reason}"
    statuses = case.status.split("|")
    assert evaluation.status in statuses, f"{case.file}: expected {case.status}, got {got}"
    if evaluation.status == "ok":
        assert evaluation.reason is None and evaluation.score > 0, got
        assert all(s.correct and s.time_ms and s.baseline_ms for s in evaluation.shapes), got
        if case.max_score is not None:
            assert evaluation.score <= case.max_score, f"{case.file}: a speedup it should not have: {got}"
    else:
        assert evaluation.score == 0, got
        reasons = [r for r in case.reason.lower().split("|") if r]
        assert any(r in (evaluation.reason or "").lower() for r in reasons), f"{case.file}: {got}"