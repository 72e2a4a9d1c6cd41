"""`agentopt runs` and `agentopt show` on a small run, and the review helpers behind them."""
import subprocess
import sys

from run_fixtures import make_run

from agentopt.review import RunView, ancestry, best_over_time, best_per_shape, leaderboard, parent_diff


def agentopt(*args):
    return subprocess.run([sys.executable, "-m", "agentopt.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "COLUMNS": "200"})


def test_runs_lists_newest_first_with_best_score(tmp_path):
    first = make_run(tmp_path, "llama3-8b-rmsnorm")
    second = make_run(tmp_path, "llama3-8b-ffn")
    import os
    os.utime(first, (1, 1))  # the first run is older
    out = agentopt("runs", "--runs-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.index(second.name) < out.stdout.index(first.name)
    assert "1.244x (c0003)" in out.stdout and "finished" in out.stdout and "5 (4)" in out.stdout


def test_show_summarises_the_run(tmp_path):
    run = make_run(tmp_path)
    out = agentopt("show", str(run))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "llama3-8b-ffn" in text and "max_candidates reached" in text
    assert "5 candidates evaluated (4 valid)" in text and "3,200 tokens" in text and "$0.0250" in text
    assert "60.0" in text  # the plan's floor of the first shape, in µs
    assert text.index("c0003") < text.index("c0002") < text.index("c0005")  # leaderboard order
    assert "lineage of the best: c0001 (1.000x) -> c0002 (1.197x) -> c0003 (1.244x)" in text


def test_show_one_candidate_with_prompt_diff_log_and_shapes(tmp_path):
    run = make_run(tmp_path)
    llm = agentopt("show", str(run), "c0003").stdout
    assert "Improve this ModelNew" in llm and "The sigmoid form" in llm  # prompt and reply
    assert "-    def prepare(self):" in llm and "+        up = x @ self.up_proj.weight.t()" in llm  # diff vs c0002
    assert "1.40" in llm and "29%" in llm  # speedup and fraction of the floor of M=33
    template = agentopt("show", str(run), "c0002").stdout
    assert "fused_gate_up: BLOCK_M=16, num_warps=4" in template
    broken = agentopt("show", str(run), "c0004").stdout
    assert "compile_error" in broken and "SyntaxError: expected ':'" in broken and "def forward(self, x)" in broken
    missing = agentopt("show", str(run), "nope")
    assert missing.returncode == 2 and "no candidate 'nope'" in missing.stderr


def test_helpers_rank_trace_and_diff(tmp_path):
    view = RunView.load(make_run(tmp_path))
    rows = leaderboard(view.candidates)
    assert [r.id for r in rows] == ["c0003", "c0002", "c0005", "c0001", "c0004"]
    assert rows[-1].status == "compile_error"
    best = best_per_shape(view.candidates)
    assert [b["id"] for b in best.values()] == ["c0002", "c0003", "c0003"]
    points = best_over_time(view.candidates, view.evaluated_at(), view.started_at)
    assert [p["best"] for p in points] == sorted(p["best"] for p in points)  # never goes down
    assert points[3]["ok"] is False and points[3]["best"] == points[2]["best"]
    assert [c.id for c in ancestry("c0005", view.by_id())] == ["c0001", "c0002", "c0003", "c0005"]
    parent, diff = parent_diff(view.find("c0002"), {c.id: view.source(c.id) for c in view.candidates})
    assert parent == "c0001" and "+    def prepare(self):" in diff


def test_show_on_something_that_is_not_a_run(tmp_path):
    out = agentopt("show", str(tmp_path))
    assert out.returncode == 2 and "no run.json" in out.stderr
