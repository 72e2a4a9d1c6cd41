"""Does a running search slow the evaluator's timings? One GPU call (about 6 minutes with the defaults).

Inside `agentopt run`, the eager baseline of llama3-8b-ffn at M=1 was timed at 132-148 us (median over a run's
evaluations) against 112 us under do_bench. Most of that was the timing's head start, since lengthened (median
110 us in a run, docs/PERF_NOTES.md); what CPU contention from compile-ahead workers still costs, and whether the
timing core (AGENTOPT_TIMING_CORE) helps, is what this measures, side by side in one call:

  alone    the evaluator on the reference itself and on the gemv_cuda template's seed, nothing else running
  on/off   a short template-coder search with compile-ahead, with the judged worker on a core of its own
           (AGENTOPT_TIMING_CORE=on, sandbox/cpus.py) and without (off, the default): per shape, the eager
           baseline's median, min and max over the run's evaluations; candidates a minute; gemv_cuda's
           speedup at M=1

    python3 benchmarks/run_contention.py [--minutes 2] [--problem llama3-8b-ffn]

Writes benchmarks/results/<gpu-slug>-run-contention.json and prints a table.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import write_result  # noqa: E402

from agentopt.problems import shape_label  # noqa: E402


def evaluate_alone(problem, source: str) -> dict:
    """`agentopt eval --json` of one source: per shape label, the candidate's and the baseline's median ms."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(source)
    out = subprocess.run(["agentopt", "eval", problem.name, f.name, "--device", "cuda", "--json"],
                         capture_output=True, text=True, timeout=600)
    os.unlink(f.name)
    try:
        result = json.loads(out.stdout)
    except json.JSONDecodeError:
        return {"status": "failed", "reason": (out.stderr or out.stdout)[-2000:]}
    return {"status": result["status"], "reason": result["reason"],
            "shapes": {shape_label(s["shape"]): {"time_ms": s["time_ms"], "baseline_ms": s["baseline_ms"]}
                       for s in result["shapes"]}}


def search(problem, minutes: float, timing_core: str, runs_dir: Path) -> dict:
    """A template-coder search; the eager baselines its evaluations timed, per shape."""
    env = {**os.environ, "AGENTOPT_TIMING_CORE": timing_core}
    before = set(runs_dir.glob("*"))
    out = subprocess.run(["agentopt", "run", "--model", problem.name, "--coder", "template", "--device", "cuda",
                          "--budget-minutes", str(minutes), "--runs-dir", str(runs_dir)],
                         env=env, capture_output=True, text=True, timeout=int(minutes * 60) + 300)
    new = sorted(set(runs_dir.glob("*")) - before)
    if out.returncode != 0 or not new:
        return {"status": "failed", "reason": (out.stderr or out.stdout)[-2000:]}
    db = sqlite3.connect(new[-1] / "run.db")
    rows = db.execute("select template, evaluation from candidates where status = 'ok'").fetchall()
    summary = json.loads((new[-1] / "run.json").read_text()).get("summary") or {}
    baselines: dict[str, list[float]] = {}
    gemv_m1 = []
    for template, evaluation in rows:
        for s in json.loads(evaluation)["shapes"]:
            label = shape_label(s["shape"])
            baselines.setdefault(label, []).append(s["baseline_ms"])
            if template == "gemv_cuda" and label == "M=1" and s["time_ms"]:
                gemv_m1.append(s["baseline_ms"] / s["time_ms"])
    elapsed = summary.get("elapsed_s") or minutes * 60
    return {"status": "ok", "run": str(new[-1]), "candidates": len(rows),
            "candidates_per_minute": len(rows) / elapsed * 60,
            "gpu_busy_fraction": (summary.get("gpu_busy_s") or 0) / elapsed,
            "baseline_ms": {k: {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}
                            for k, v in baselines.items()},
            "gemv_cuda_m1_speedup_median": statistics.median(gemv_m1) if gemv_m1 else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problem", default="llama3-8b-ffn")
    ap.add_argument("--minutes", type=float, default=2.0, help="each search's time budget")
    ap.add_argument("--runs-dir", type=Path, default=Path("runs"))
    args = ap.parse_args()

    import torch

    from agentopt.kernels.templates import TEMPLATES
    from agentopt.problems import get_problem

    if not torch.cuda.is_available():
        print("no CUDA GPU here: this benchmark needs one")
        return 2
    problem = get_problem(args.problem)
    args.runs_dir.mkdir(parents=True, exist_ok=True)
    gemv = TEMPLATES["gemv_cuda"]
    reference = problem.source + "\n\nclass ModelNew(Model):\n    pass\n"
    payload = {"problem": problem.name, "gpu": torch.cuda.get_device_name(0), "minutes": args.minutes,
               "alone": {"reference": evaluate_alone(problem, reference),
                         "gemv_cuda_seed": evaluate_alone(problem, gemv.render(gemv.SEED, problem))}}
    for core in ("on", "off"):
        print(f"search with the timing core {core} ({args.minutes} min)...", flush=True)
        payload[f"search_timing_core_{core}"] = search(problem, args.minutes, core, args.runs_dir)
    path = write_result("run-contention", payload)
    print_table(payload)
    print(f"written to {path}")
    return 0


def print_table(p: dict) -> None:
    alone = p["alone"]["reference"].get("shapes", {})
    gemv = p["alone"]["gemv_cuda_seed"].get("shapes", {})
    on, off = p["search_timing_core_on"], p["search_timing_core_off"]
    print(f"\n{p['problem']} on {p['gpu']}: eager baseline (us) as the evaluator timed it")
    print(f"{'shape':>8} {'alone':>8} {'run, core on':>20} {'run, core off':>20} {'gemv alone x':>13}")
    for label, a in alone.items():
        def run_cell(r):
            b = r.get("baseline_ms", {}).get(label)
            return f"{b['median'] * 1e3:.1f} ({b['min'] * 1e3:.0f}-{b['max'] * 1e3:.0f})" if b else "-"
        g = gemv.get(label)
        gx = f"{g['baseline_ms'] / g['time_ms']:.2f}" if g and g["time_ms"] else "-"
        print(f"{label:>8} {a['baseline_ms'] * 1e3:>8.1f} {run_cell(on):>20} {run_cell(off):>20} {gx:>13}")
    for name, r in (("core on", on), ("core off", off)):
        if r.get("status") == "ok":
            gm = r["gemv_cuda_m1_speedup_median"]
            print(f"{name}: {r['candidates_per_minute']:.1f} candidates/min, GPU busy {r['gpu_busy_fraction']:.0%}, "
                  f"gemv_cuda at M=1 {gm:.2f}x" if gm else f"{name}: {r['candidates_per_minute']:.1f}/min")
        else:
            print(f"{name}: {r.get('reason')}")


if __name__ == "__main__":
    sys.exit(main())
