"""`agentopt run` end to end on the CPU: the template coder, the LLM coder against the stand-in server, resume,
Ctrl-C, kill -9, and the usage errors a user meets first."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentopt.runs import RunStore
from fake_openai import FakeOpenAI, chat

RMSNORM = "llama3-8b-rmsnorm"

WHOLE_FILE = '''Here is a plain PyTorch RMSNorm.

```python
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    """RMSNorm in float32, as the reference."""
    variant = {n}

    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        h = x.to(torch.float32)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * h.to(x.dtype)
```
'''

# The edit finds the class line that the reference candidate and the whole-file candidates both have.
EDIT = '''One change: the mean of squares through torch.mean of x*x.

<<<<<<< SEARCH
class ModelNew({base}):
=======
class ModelNew({base}):
    edit = {n}

    def forward(self, x):
        h = x.to(torch.float32)
        h = h * torch.rsqrt(torch.mean(h * h, dim=-1, keepdim=True) + self.variance_epsilon)
        return self.weight * h.to(x.dtype)
>>>>>>> REPLACE
'''


def scripted(body):
    """Edits when the prompt asks for them (of whichever parent it shows), else a whole file; each reply new."""
    scripted.n += 1
    prompt = "\n".join(m["content"] for m in body["messages"])
    if "<<<<<<< SEARCH" in prompt:
        base = "Model" if "class ModelNew(Model):" in prompt else "nn.Module"
        return chat(EDIT.format(base=base, n=scripted.n))
    return chat(WHOLE_FILE.format(n=scripted.n))


scripted.n = 0


def cli_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def agentopt(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "agentopt.cli", "run", *args], capture_output=True, text=True,
                          timeout=timeout, env=cli_env())


def only_run(runs_dir: Path) -> Path:
    runs = [p for p in runs_dir.iterdir() if (p / "run.json").is_file()]
    assert len(runs) == 1
    return runs[0]


def check_run_is_whole(run: Path):
    """Every row has its source, its candidate_evaluated event, and every transcript line parses."""
    store = RunStore.open(run)
    rows = store.candidates()
    lines = (run / "transcript.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    evaluated = {e["id"] for e in events if e["event"] == "candidate_evaluated"}
    for r in rows:
        assert r.id in evaluated
        if r.path:
            assert (run / r.path).is_file()
    store.close()
    return rows, events


def test_no_gpu_stops_at_once_naming_device_cpu(tmp_path):
    out = agentopt("--model", RMSNORM, "--runs-dir", str(tmp_path))
    assert out.returncode == 2
    assert "--device cpu" in out.stderr
    assert not any(tmp_path.iterdir())


def test_unknown_model_and_llm_without_endpoint_are_usage_errors(tmp_path):
    out = agentopt("--model", "no-such-model", "--device", "cpu", "--runs-dir", str(tmp_path))
    assert out.returncode == 2 and "agentopt problems" in out.stderr
    out = agentopt("--model", RMSNORM, "--device", "cpu", "--coder", "llm", "--runs-dir", str(tmp_path))
    assert out.returncode == 2 and "--llm-base-url" in out.stderr


def test_template_coder_run_then_resume(tmp_path):
    out = agentopt("--model", RMSNORM, "--device", "cpu", "--max-candidates", "2", "--runs-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "No LLM endpoint configured" in out.stdout and "using the template coder" in out.stdout
    run = only_run(tmp_path)
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and info["plan"]["shapes"] and info["versions"]["torch"]
    rows, _ = check_run_is_whole(run)
    assert len(rows) == 2 and all(r.coder == "template" for r in rows)
    assert any(r.ok and r.score > 0 for r in rows), [(r.status, r.reason) for r in rows]
    assert (run / "best" / "best.py").is_file()

    out = agentopt("--resume", str(run), "--max-candidates", "4")
    assert out.returncode == 0, out.stderr
    rows, events = check_run_is_whole(run)
    assert len(rows) == 4 and len({r.id for r in rows}) == 4
    names = [e["event"] for e in events]
    assert names.count("run_started") == 1 and names.count("run_resumed") == 1
    assert names.index("run_resumed") > names.index("run_stopped")
    assert names[-1] == "run_stopped"


def test_a_run_is_not_resumed_on_another_gpu():
    from agentopt.commands.run import other_gpu

    assert other_gpu("NVIDIA H200", "NVIDIA H200") is None and other_gpu(None, "NVIDIA H100") is None
    why = other_gpu("NVIDIA H200", "NVIDIA H100 80GB HBM3")
    assert "searched on NVIDIA H200" in why and "this machine has NVIDIA H100 80GB HBM3" in why
    assert "Start a new run here" in why


@pytest.mark.gpu
def test_resuming_a_run_of_another_gpu_is_refused_before_anything_runs(tmp_path):
    run = tmp_path / "20261201-000000-llama3-8b-rmsnorm-0000"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"id": run.name, "problem_spec": RMSNORM, "problem": {"name": RMSNORM},
                                              "device": "cuda", "hardware": {"name": "NVIDIA B300 (not this one)"}}))
    out = agentopt("--resume", str(run))
    assert out.returncode == 2 and "searched on NVIDIA B300 (not this one)" in " ".join(out.stderr.split())
    assert sorted(p.name for p in run.iterdir()) == ["run.json"]  # nothing written


def test_llm_coder_against_the_stand_in_server(tmp_path):
    scripted.n = 0
    with FakeOpenAI(default=scripted) as server:
        out = agentopt("--model", RMSNORM, "--device", "cpu", "--max-candidates", "4", "--coder", "llm",
                       "--llm-base-url", server.base_url, "--llm-model", "fake-model", "--runs-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    run = only_run(tmp_path)
    rows, _ = check_run_is_whole(run)
    assert len(rows) == 4
    reference = [r for r in rows if r.coder == "reference"]
    assert len(reference) == 1 and reference[0].ok and 0.3 < reference[0].score < 3.0
    llm_rows = [r for r in rows if r.coder.startswith("llm:")]
    assert llm_rows and all(r.ok for r in llm_rows), [(r.status, r.reason) for r in llm_rows]
    assert all(r.prompt and r.reply for r in llm_rows)
    store = RunStore.open(run)
    calls = store.llm_calls()
    assert {c["candidate_id"] for c in calls if c["candidate_id"]} == {r.id for r in llm_rows}
    assert "api_key" not in json.dumps(json.loads((run / "run.json").read_text())["config"])


def _wait_for_rows(run_db: Path, n: int, proc, timeout=300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        if run_db.is_file():
            try:
                with sqlite3.connect(run_db) as db:
                    if db.execute("SELECT count(*) FROM candidates").fetchone()[0] >= n:
                        return
            except sqlite3.OperationalError:  # the table is being created
                pass
        time.sleep(0.2)
    raise AssertionError("no candidate was recorded in time")


def _start(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "agentopt.cli", "run", "--model", RMSNORM, "--device", "cpu",
                             "--max-candidates", "40", "--runs-dir", str(tmp_path)], env=cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    for _ in range(600):
        if any((p / "run.json").is_file() for p in tmp_path.iterdir()):
            break
        time.sleep(0.1)
    return proc, only_run(tmp_path)


def test_kill_9_loses_nothing_recorded_and_resume_continues(tmp_path):
    proc, run = _start(tmp_path)
    _wait_for_rows(run / "run.db", 1, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole job: the command, its forkserver and workers
    proc.wait(30)
    rows, events = check_run_is_whole(run)
    assert len(rows) >= 1
    assert json.loads((run / "run.json").read_text())["status"] == "running"  # it never got to say otherwise
    out = agentopt("--resume", str(run), "--max-candidates", str(len(rows) + 1))
    assert out.returncode == 0, out.stderr
    after, _ = check_run_is_whole(run)
    assert len(after) == len(rows) + 1 and len({r.id for r in after}) == len(after)
    assert [r.id for r in after][:len(rows)] == [r.id for r in rows]


def test_ctrl_c_stops_cleanly(tmp_path):
    proc, run = _start(tmp_path)
    _wait_for_rows(run / "run.db", 1, proc)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole foreground job
    assert proc.wait(120) == 0
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "stopped" and info["stop_reason"] == "interrupted (Ctrl-C)"
    rows, events = check_run_is_whole(run)
    assert events[-1]["event"] == "run_stopped" and events[-1]["reason"] == "interrupted (Ctrl-C)"
    assert events[-1]["candidates"] == len(rows)


@pytest.mark.gpu
def test_template_run_on_the_gpu_reaches_a_valid_kernel_with_floors(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    out = subprocess.run([sys.executable, "-m", "agentopt.cli", "run", "--model", RMSNORM, "--max-candidates", "4",
                          "--budget-minutes", "5", "--runs-dir", str(tmp_path)], capture_output=True, text=True,
                         timeout=900, env=env)
    assert out.returncode == 0, out.stderr
    run = only_run(tmp_path)
    rows, _ = check_run_is_whole(run)
    assert len(rows) == 4
    ok = [r for r in rows if r.ok]
    assert ok, [(r.status, r.reason) for r in rows]
    shapes = ok[0].evaluation["shapes"]
    assert len(shapes) == 6 and all(s["fraction_of_floor"] for s in shapes)
    info = json.loads((run / "run.json").read_text())
    assert info["hardware"]["source"] == "measured" and info["plan"]["shapes"][0]["eager_us"]
