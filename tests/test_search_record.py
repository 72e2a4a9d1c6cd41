"""benchmarks/search_record.py: what a run reached and when, its pauses between sessions left out."""
import json
import subprocess
import sys
from pathlib import Path

from run_fixtures import make_run

from agentopt.runs import RunStore

ROOT = Path(__file__).resolve().parent.parent


def test_a_resumed_run_counts_its_sessions_time_not_the_pause(tmp_path):
    run = make_run(tmp_path / "runs")  # evaluations at 25..105 s, stopped at 120 s; c0003 the best, at 65 s
    store = RunStore.open(run)
    t0 = json.loads((run / "run.json").read_text())["created_at"]
    store.log("run_resumed", t=t0 + 1000)
    store.log("run_stopped", t=t0 + 1060, reason="time budget spent (1.0 min)")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "search_record.py"), str(run), "--out",
                          str(tmp_path / "results")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rec = json.loads((tmp_path / "results" / "cpu-search-ffn.json").read_text())
    assert rec["sessions"] == 2 and rec["search_s"] == 180.0  # 120 s, then 60 s: not the 880 s between
    assert rec["best"]["id"] == "c0003" and rec["within_1pct_of_final_best_s"] == 65.0
    assert [p["id"] for p in rec["best_over_time"]] == ["c0001", "c0002", "c0003"]
    assert len(rec["best"]["shapes"]) == 3 and rec["candidates"]["evaluated"] == 5
    assert "5 candidates in 180 s of search (2 session(s)); best c0003" in out.stdout


def test_a_folder_that_is_no_run_is_refused(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "search_record.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "is not a run directory" in out.stderr
