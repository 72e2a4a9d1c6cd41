"""The evaluator on the CPU: honest candidates pass with a score, each verdict is reached, `agentopt eval` behaves.

Small CPU shapes (the zoo's cpu_shapes), PyTorch on the CPU and Triton's interpreter, wall-clock timing.
"""
import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentopt.cli import app
from agentopt.config import EvalConfig
from agentopt.problems import get_problem
from agentopt.sandbox.compiler_info import from_ptxas_log
from agentopt.sandbox.evaluator import Evaluator

CANDIDATES = Path(__file__).parent / "candidates"
FAST = EvalConfig(compile_timeout_s=60, run_timeout_s=60, kill_grace_s=0.5)
NO_GUARD = FAST.model_copy(update={"static_guard": False})  # the runtime defences on their own

RMSNORM_HEAD = """
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.eps = eps

    def reference(self, x):
        h = x.float()
        return self.weight * (h * torch.rsqrt(h.square().mean(-1, keepdim=True) + self.eps)).to(x.dtype)
"""


def rmsnorm(forward: str, prelude: str = "") -> str:
    """A candidate for llama3-8b-rmsnorm with the given forward body (self.reference(x) is the right answer)."""
    return prelude + RMSNORM_HEAD + textwrap.indent("\ndef forward(self, x):\n" + textwrap.indent(
        textwrap.dedent(forward).strip(), "    "), "    ") + "\n"


@pytest.fixture(scope="module")
def rms():
    with Evaluator(get_problem("llama3-8b-rmsnorm"), device="cpu", config=FAST) as ev:
        yield ev


@pytest.fixture(scope="module")
def rms_unguarded():
    with Evaluator(get_problem("llama3-8b-rmsnorm"), device="cpu", config=NO_GUARD) as ev:
        yield ev


def assert_ok(evaluation, n_shapes):
    assert evaluation.status == "ok", evaluation.reason
    assert evaluation.reason is None and evaluation.score > 0
    assert len(evaluation.shapes) == n_shapes
    for s in evaluation.shapes:
        assert s.correct and s.rel_err < 1e-3
        assert s.time_ms > 0 and s.baseline_ms > 0 and s.speedup == pytest.approx(s.baseline_ms / s.time_ms)


@pytest.mark.parametrize("problem,candidate", [("llama3-8b-rmsnorm", "rmsnorm_torch.py"),
                                               ("llama3-8b-ffn", "ffn_torch.py"),
                                               ("llama3-8b-rmsnorm", "rmsnorm_triton.py")])
def test_honest_candidates_are_ok_with_a_score(problem, candidate):
    prob = get_problem(problem)
    with Evaluator(prob, device="cpu", config=FAST) as ev:
        evaluation = ev.evaluate((CANDIDATES / candidate).read_text())
    assert_ok(evaluation, len(prob.cpu_shapes))
    assert evaluation.compile.ok and evaluation.compile.error is None


def test_a_torch_compile_candidate_is_ok():
    from agentopt.kernels.templates import TEMPLATES

    problem, template = get_problem("llama3-8b-rmsnorm"), TEMPLATES["torch_compile"]
    with Evaluator(problem, device="cpu", config=FAST) as ev:
        evaluation = ev.evaluate(template.render(template.SEED, problem))
    assert_ok(evaluation, len(problem.cpu_shapes))


def test_the_memory_a_candidate_keeps_beyond_its_weights_is_reported(rms):
    """A candidate that keeps a copy of its weight (as a re-layout in prepare() would) reports its bytes; one that
    keeps nothing reports zero. Both are ok: memory is reported, not scored."""
    keeps = rms.evaluate(rmsnorm("""
        if not hasattr(self, "_copy"):
            self._copy = (self.weight.detach().clone(), [torch.empty(64)])
        return self.reference(x)
    """))
    assert_ok(keeps, 3)
    assert keeps.compile.held_bytes == 256 * 4 + 64 * 4  # the largest instance's (HIDDEN=256, float32)
    honest = rms.evaluate(rmsnorm("return self.reference(x)"))
    assert_ok(honest, 3)
    assert honest.compile.held_bytes == 0


def test_ctrl_c_is_left_to_the_judge(rms):
    """Ctrl-C reaches the whole process group: the reference and the workers ignore it, the judge ends them."""
    import multiprocessing
    import os
    import signal
    import time

    pending = rms.start((CANDIDATES / "rmsnorm_torch.py").read_text())
    while not os.path.exists(pending.log_path):  # the worker's entry point opens it (after setting its handlers)
        time.sleep(0.01)
    children = multiprocessing.active_children()
    assert pending.proc in children and len(children) >= 2  # the worker and the reference process
    for child in children:
        os.kill(child.pid, signal.SIGINT)
    evaluation = rms.finish(pending)
    assert_ok(evaluation, 3)
    assert "KeyboardInterrupt" not in evaluation.compile.log


def test_start_then_finish_overlaps_candidates(rms):
    honest = (CANDIDATES / "rmsnorm_torch.py").read_text()
    first, second = rms.start(honest), rms.start(honest)
    evaluation = rms.finish(first)
    assert_ok(evaluation, 3)
    assert_ok(rms.finish(second), 3)
    for phase in ("compile_wait", "checks", "timing", "check_compare", "worker_first_calls"):
        assert evaluation.phases.get(phase, -1) >= 0, f"phase {phase} missing from {evaluation.phases}"


def test_gpu_lock_is_shared_by_readers_and_writers_go_first():
    """Readers share the lock; a waiting writer holds new readers back (timing is not starved)."""
    import threading
    import time

    from agentopt.sandbox.procs import gpu_lock

    index, events = 4242, []
    inside = threading.Event()

    def reader(name, hold_s, entered=None):
        with gpu_lock(index, shared=True):
            events.append(f"{name} in")
            if entered is not None:
                entered.set()
            time.sleep(hold_s)
            events.append(f"{name} out")  # recorded while still holding the lock

    def writer():
        with gpu_lock(index):
            events.append("writer in")
            time.sleep(0.1)
            events.append("writer out")

    first = threading.Thread(target=reader, args=("r1", 0.5, inside))
    first.start()
    inside.wait(5)
    second = threading.Thread(target=reader, args=("r2", 0.0))
    second.start()
    second.join(5)
    assert events[:3] == ["r1 in", "r2 in", "r2 out"]  # shared: the second reader did not wait
    w = threading.Thread(target=writer)
    w.start()
    time.sleep(0.15)  # the writer now waits for r1
    late = threading.Thread(target=reader, args=("r3", 0.0))
    late.start()
    for t in (first, w, late):
        t.join(5)
    assert events.index("r1 out") < events.index("writer in") < events.index("writer out") < events.index("r3 in")


def test_a_reader_that_steps_aside_lets_a_waiting_writer_in_and_comes_back_after_it():
    """What compile-ahead workers do while Triton compiles (sandbox/jit_hooks.py)."""
    import threading
    import time

    from agentopt.sandbox.procs import gpu_lock

    index, events, paused = 4243, [], threading.Event()

    def reader():
        with gpu_lock(index, shared=True) as hold:
            hold.pause()
            events.append("reader paused")
            paused.set()
            time.sleep(0.2)  # "compiling"
            hold.resume()
            events.append("reader back")

    def writer():
        paused.wait(5)
        with gpu_lock(index):
            events.append("writer in")
            time.sleep(0.3)
            events.append("writer out")

    threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert events == ["reader paused", "writer in", "writer out", "reader back"]


def test_the_jit_hooks_step_aside_only_while_a_compile_step_holds_the_lock():
    pytest.importorskip("triton")
    from triton import knobs

    from agentopt.sandbox import jit_hooks

    class Hold:
        paused = False

        def pause(self):
            self.paused = True

        def resume(self):
            self.paused = False

    hold, synced, current = Hold(), [], [None]
    saved = knobs.runtime.jit_cache_hook, knobs.runtime.jit_post_compile_hook
    try:
        assert jit_hooks.install(lambda: current[0], lambda: synced.append(1))
        before, after = knobs.runtime.jit_cache_hook, knobs.runtime.jit_post_compile_hook
        assert before(key="k", fn=None, compile={}) is False and not synced  # the judged phase: no hold
        current[0] = hold
        assert before(key="k", fn=None, compile={}) is False  # never skips the compilation
        assert hold.paused and synced == [1]  # the device synchronised before the lock was let go
        after(key="k")
        assert not hold.paused
    finally:
        knobs.runtime.jit_cache_hook, knobs.runtime.jit_post_compile_hook = saved


def _stubborn(conn) -> None:
    """A worker that ignores SIGTERM and never exits by itself."""
    import signal
    import time

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    conn.send_bytes(b"ready")
    while True:
        time.sleep(1)


def test_a_judged_worker_is_gone_at_once_when_its_replies_are_in():
    """The judge lets the GPU go only after the worker is dead, and that must not wait on the worker's goodwill."""
    import time

    from agentopt.sandbox import procs

    proc, conn = procs.start(_stubborn)
    assert conn.poll(60) and conn.recv_bytes() == b"ready"
    t0 = time.monotonic()
    procs.kill(proc, conn, grace_s=5.0)
    assert not proc.is_alive() and proc.exitcode == -9
    assert time.monotonic() - t0 < 1.0


def test_zeros_are_incorrect_with_the_shape_and_error(rms):
    evaluation = rms.evaluate(rmsnorm("return torch.zeros_like(x)"))
    assert evaluation.status == "incorrect" and evaluation.score == 0
    assert "shape M=1,HIDDEN=256" in evaluation.reason and "rel_err" in evaluation.reason
    assert evaluation.shapes[-1].correct is False


@pytest.mark.parametrize("forward,words", [
    ("y = self.reference(x)\nx.zero_()\nreturn y", "modified its input"),
    ("y = self.reference(x)\nx.copy_(y)\nreturn x", "aliases an input"),
    ("return self.reference(x).double()", "dtype float64"),
    ("return self.reference(x)[:, :-1]", "shape"),
    ("return self.reference(x) * (1 + 3e-4 * torch.randn_like(x))", "race"),
    ("raise ValueError('not for this shape')", "ValueError"),
])
def test_wrong_outputs_are_incorrect(rms, forward, words):
    evaluation = rms.evaluate(rmsnorm(forward))
    assert evaluation.status == "incorrect", evaluation.reason
    assert words in evaluation.reason


def test_right_when_checked_wrong_when_timed_is_incorrect(rms):
    source = rmsnorm("""
        self.calls = getattr(self, 'calls', 0) + 1
        return self.reference(x) if self.calls <= 12 else torch.zeros_like(x)
    """)
    evaluation = rms.evaluate(source)
    assert evaluation.status == "incorrect"
    assert "timed call" in evaluation.reason


def test_one_wrong_timed_call_among_many_is_caught(rms):
    # call 14 of the first model is the third timed repetition on shape M=1 (after 2 compile, 8 check and 1
    # warm-up calls); whether or not the judge drew it for a full check, it is compared with the baseline
    source = rmsnorm("""
        self.calls = getattr(self, 'calls', 0) + 1
        return torch.zeros_like(x) if self.calls == 14 else self.reference(x)
    """)
    evaluation = rms.evaluate(source)
    assert evaluation.status == "incorrect"
    assert "shape M=1,HIDDEN=256" in evaluation.reason and "timed call" in evaluation.reason


def test_syntax_error_and_missing_modelnew_are_compile_errors(rms):
    syntax = rms.evaluate("import torch\nclass ModelNew(:\n    pass\n")
    assert syntax.status == "compile_error" and "line 2" in syntax.reason
    assert syntax.compile.ok is False and syntax.compile.error == syntax.reason
    missing = rms.evaluate("import torch\nclass Model2(torch.nn.Module):\n    pass\n")
    assert missing.status == "compile_error" and "ModelNew" in missing.reason
    state = rms.evaluate(rmsnorm("return x").replace("self.weight = nn.Parameter", "self.w = nn.Parameter"))
    assert state.status == "compile_error" and "load_state_dict" in state.reason


def test_infinite_loop_times_out():
    config = NO_GUARD.model_copy(update={"compile_timeout_s": 3.0})
    with Evaluator(get_problem("llama3-8b-rmsnorm"), device="cpu", config=config) as ev:
        evaluation = ev.evaluate(rmsnorm("while True:\n    pass"))
    assert evaluation.status == "timeout" and "time limit" in evaluation.reason
    assert evaluation.seconds < 30


@pytest.mark.parametrize("prelude,forward,words", [
    ("import os\n", "os._exit(7)", "code 7"),
    ("import ctypes\n", "ctypes.string_at(0)", "SIGSEGV"),
    ("", "raise SystemExit(3)", "code 3"),
])
def test_hard_exits_and_segfaults_are_crashes(rms_unguarded, prelude, forward, words):
    evaluation = rms_unguarded.evaluate(rmsnorm(forward, prelude))
    assert evaluation.status == "crashed", evaluation.reason
    assert words in evaluation.reason and "compile" in evaluation.reason


@pytest.mark.parametrize("prelude,forward,words", [
    ("import time\ntime.perf_counter = lambda: 0.0\n", "return self.reference(x)", "time.perf_counter"),
    ("import torch\ntorch.allclose = lambda *a, **k: True\n", "return self.reference(x)", "torch.allclose"),
    ("import threading\n", "threading.Thread(target=__import__('time').sleep, args=(30,), daemon=True).start()\n"
     "return self.reference(x)", "thread"),
    # dressed as torch._dynamo's own wrapper of manual_seed (which torch.compile's first call installs), but a spy
    ("import torch\nseen = []\nw = torch._disable_dynamo(seen.append)\nw.__wrapped__ = torch.manual_seed\n"
     "torch.manual_seed = w\n", "return self.reference(x)", "torch.manual_seed"),
])
def test_runtime_tampering_is_rejected_without_the_static_guard(rms_unguarded, prelude, forward, words):
    evaluation = rms_unguarded.evaluate(rmsnorm(forward, prelude))
    assert evaluation.status == "rejected", evaluation.reason
    assert words in evaluation.reason


def run_cli(*args):
    result = CliRunner().invoke(app, ["eval", *map(str, args)])
    return result


def test_cli_json_gives_one_object_and_exit_0_on_any_verdict(tmp_path):
    bad = tmp_path / "zeros.py"
    bad.write_text(rmsnorm("return torch.zeros_like(x)"))
    result = run_cli("llama3-8b-rmsnorm", bad, "--device", "cpu", "--json", "--seeds", "2")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["status"] == "incorrect" and data["score"] == 0 and "M=1" in data["reason"]
    good = run_cli("llama3-8b-rmsnorm", CANDIDATES / "rmsnorm_torch.py", "--device", "cpu", "--json")
    data = json.loads(good.stdout)
    assert good.exit_code == 0 and data["status"] == "ok" and data["reason"] is None and data["score"] > 0
    assert {"correct", "rel_err", "time_ms", "baseline_ms"} <= set(data["shapes"][0])
    table = run_cli("llama3-8b-rmsnorm", CANDIDATES / "rmsnorm_torch.py", "--device", "cpu")
    assert table.exit_code == 0 and "speedup" in table.stdout and "ok" in table.stdout


def test_cli_usage_errors_exit_2_and_say_what_to_do(tmp_path):
    unknown = run_cli("no-such-problem", CANDIDATES / "rmsnorm_torch.py", "--device", "cpu")
    assert unknown.exit_code == 2 and "agentopt problems" in unknown.output
    missing = run_cli("llama3-8b-rmsnorm", tmp_path / "absent.py", "--device", "cpu")
    assert missing.exit_code == 2 and "ModelNew" in missing.output


def test_cli_cuda_without_gpu_names_device_cpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present, so --device cuda is valid here")
    result = run_cli("llama3-8b-rmsnorm", CANDIDATES / "rmsnorm_torch.py", "--device", "cuda")
    assert result.exit_code == 2 and "--device cpu" in result.output


def test_cli_takes_a_kernelbench_file_as_problem(tmp_path):
    problem = tmp_path / "scaled_relu.py"
    problem.write_text(textwrap.dedent("""
        import torch
        import torch.nn as nn

        class Model(nn.Module):
            def __init__(self, n):
                super().__init__()
                self.scale = nn.Parameter(torch.randn(n))

            def forward(self, x):
                return torch.relu(x * self.scale)

        def get_inputs():
            return [torch.randn(8, 32)]

        def get_init_inputs():
            return [32]
    """))
    candidate = tmp_path / "cand.py"
    candidate.write_text(textwrap.dedent("""
        import torch
        import torch.nn as nn

        class ModelNew(nn.Module):
            def __init__(self, n):
                super().__init__()
                self.scale = nn.Parameter(torch.zeros(n))

            def forward(self, x):
                return (x * self.scale).clamp_min(0)
    """))
    result = run_cli(problem, candidate, "--device", "cpu", "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and data["status"] == "ok" and len(data["shapes"]) == 1


def test_ptxas_resource_usage_is_read_from_a_compile_log():
    log = ("ptxas info    : Compiling entry function 'swiglu' for 'sm_90'\n"
           "ptxas info    : Function properties for swiglu\n"
           "    0 bytes stack frame, 8 bytes spill stores, 8 bytes spill loads\n"
           "ptxas info    : Used 40 registers, 16384 bytes smem, 380 bytes cmem[0]\n")
    assert from_ptxas_log(log) == [{"name": "swiglu", "kind": "cuda", "spills": 8, "registers": 40,
                                    "shared_bytes": 16384}]
