"""Issue 5's speed benchmark: the search loop with the template coder on llama3-8b-ffn, on one GPU.

    python3 benchmarks/run_speed.py [--minutes 4] [--problem llama3-8b-ffn]

Reports candidates evaluated per minute (each evaluated on all the problem's GPU shapes; candidates the coder
could not write are not counted) and how busy the GPU was: the share of the search's wall time in which the
evaluator held the GPU (the loop's own figure), and nvidia-smi's utilisation sampled twice a second over the
search (the share of time a kernel was running). Also the mean seconds per phase of an evaluation
(Evaluation.phases: compile wait, references, lock wait, checks, timing, stopping the worker, and the worker's own
steps; judge_gap: from one verdict to the next evaluation's start, the loop's own overhead). Targets: at least 20
candidates a minute, the GPU busy at least 70% of the time. Writes benchmarks/results/<gpu-slug>-run-speed.json; the
run itself stays in runs/.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import gpu_slug, write_result  # noqa: E402


class UtilisationSampler(threading.Thread):
    """nvidia-smi's GPU utilisation (percent of time a kernel ran), sampled every `every_s` seconds."""

    def __init__(self, every_s: float = 0.5):
        super().__init__(daemon=True)
        self.every_s, self.samples, self.stopped = every_s, [], threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                                      "-i", "0"], capture_output=True, text=True, timeout=5)
                self.samples.append(float(out.stdout.strip().splitlines()[0]))
            except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
                return  # no nvidia-smi: the loop's own figure stands alone
            self.stopped.wait(self.every_s)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problem", default="llama3-8b-ffn")
    ap.add_argument("--minutes", type=float, default=4.0, help="the search's time budget")
    ap.add_argument("--runs-dir", default="runs")
    ap.add_argument("--jit-inside-lock", action="store_true",
                    help="compile-ahead workers keep the GPU lock while Triton compiles (EvalConfig.jit_outside_lock "
                         "off), for comparison")
    ap.add_argument("--compile-ahead", type=int, default=None, help="SearchConfig.compile_ahead (default: its own)")
    ap.add_argument("--tag", default="", help="suffix of the results file's name: run-speed-TAG.json")
    args = ap.parse_args()

    import torch

    from agentopt.agents.planner import make_plan, shape_costs
    from agentopt.config import EvalConfig, SearchConfig
    from agentopt.hardware import local_profile
    from agentopt.problems import get_problem, shape_label
    from agentopt.runs import RunStore
    from agentopt.search.loop import run_session

    if not torch.cuda.is_available():
        print("no CUDA GPU here: this benchmark needs one")
        return 2
    problem = get_problem(args.problem)
    hardware = local_profile()
    plan = make_plan(problem, hardware, device="cuda")
    config = SearchConfig(coder="template", budget_minutes=args.minutes,
                          **({} if args.compile_ahead is None else {"compile_ahead": args.compile_ahead}))
    store = RunStore.create(args.runs_dir, problem.name, {
        "problem_spec": problem.name, "problem": problem.to_dict(), "device": "cuda",
        "hardware": hardware.model_dump(), "plan": plan.model_dump(mode="json"),
        "config": {"search": config.model_dump(), "coders": ["template"]}, "versions": {"torch": torch.__version__},
        "benchmark": "run_speed"})
    store.log("run_started", problem=problem.name, device="cuda", coders=["template"], config=config.model_dump())
    sampler = UtilisationSampler()
    sampler.start()
    t0 = time.monotonic()
    eval_config = EvalConfig(jit_outside_lock=not args.jit_inside_lock)
    reason, summary = run_session(problem, "cuda", store, config, ["template"], hardware=hardware, plan=plan,
                                  costs=shape_costs(problem, "cuda"), eval_config=eval_config)
    wall_s = time.monotonic() - t0
    sampler.stopped.set()
    rows = store.candidates()
    evaluated = [r for r in rows if r.evaluation is not None]
    by_status: dict[str, int] = {}
    for r in rows:
        by_status[r.status or "?"] = by_status.get(r.status or "?", 0) + 1
    events = store.events()
    agreement = [e for e in events if e["event"] == "cost_model"]
    t_run = next(e["t"] for e in events if e["event"] == "run_started")
    verdicts = [e["t"] for e in events if e["event"] == "candidate_evaluated"]
    steady = ((len(verdicts) - 1) * 60 / (verdicts[-1] - verdicts[0])  # the first verdict waits on a compilation
              if len(verdicts) > 1 and verdicts[-1] > verdicts[0] else None)
    phases: dict[str, list[float]] = {}
    for r in evaluated:
        for name, seconds in (r.evaluation.get("phases") or {}).items():
            phases.setdefault(name, []).append(seconds)
    gaps = [r.meta["judge_gap_s"] for r in evaluated if (r.meta or {}).get("judge_gap_s") is not None]
    if gaps:  # from one candidate's verdict to the next one's evaluation going on (the loop's own overhead)
        phases["judge_gap"] = gaps
    baselines: dict[str, list[float]] = {}  # the eager baseline as each evaluation timed it, per shape
    for r in evaluated:
        for sh in r.evaluation.get("shapes") or []:
            if sh.get("baseline_ms"):
                baselines.setdefault(shape_label(sh["shape"]), []).append(sh["baseline_ms"])
    seconds = [r.evaluation.get("seconds", 0.0) for r in evaluated]
    per_minute = len(evaluated) / (summary["elapsed_s"] / 60)
    busy = summary["gpu_busy_s"] / summary["elapsed_s"]
    result = {
        "gpu": torch.cuda.get_device_name(0), "slug": gpu_slug(), "problem": problem.name,
        "shapes": len(problem.shapes), "budget_minutes": args.minutes, "stop_reason": reason,
        "search_s": summary["elapsed_s"], "wall_s_with_setup": wall_s,
        "candidates": len(rows), "evaluated": len(evaluated), "by_status": by_status,
        "candidates_per_minute": per_minute, "gpu_busy_fraction": busy,
        "candidates_per_minute_after_first_verdict": steady, "first_verdict_s": verdicts[0] - t_run if verdicts else None,
        "nvidia_smi_utilisation_mean": statistics.mean(sampler.samples) / 100 if sampler.samples else None,
        "nvidia_smi_samples": len(sampler.samples),
        "best_score": summary["best_score"], "best_per_shape_speedup": summary["speedups"],
        "best_fraction_of_floor": summary["fraction_of_floor"],
        "cost_model": agreement[-1] if agreement else None,
        "evaluation_seconds_median": statistics.median(seconds) if seconds else None,
        "phases_mean_s": {k: statistics.mean(v) for k, v in sorted(phases.items())},
        "baseline_ms_in_run": {k: {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}
                               for k, v in baselines.items()},
        "targets": {"candidates_per_minute": 20, "gpu_busy_fraction": 0.7},
        "meets_targets": per_minute >= 20 and busy >= 0.7,
        "run": str(store.path), "torch": torch.__version__, "jit_outside_lock": eval_config.jit_outside_lock,
        "compile_ahead": config.compile_ahead,
    }
    path = write_result("run-speed" + (f"-{args.tag}" if args.tag else ""), result)
    print(f"{len(evaluated)} candidates evaluated in {summary['elapsed_s']:.0f} s: {per_minute:.1f} per minute "
          f"(target 20; {steady or 0:.1f} from the first verdict on); GPU held {busy:.0%} of the time (target 70%), nvidia-smi "
          f"{result['nvidia_smi_utilisation_mean'] or 0:.0%}; best {summary['best_score'] or 0:.3f}x; "
          f"statuses {by_status} -> {path}")
    print("eager baseline in the run, median (min-max) us: " + ", ".join(
        f"{k} {v['median'] * 1e3:.0f} ({v['min'] * 1e3:.0f}-{v['max'] * 1e3:.0f})"
        for k, v in result["baseline_ms_in_run"].items()))
    print("phases (mean s): " + ", ".join(f"{k} {v:.3f}" for k, v in result["phases_mean_s"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
