"""What a search reached and when, read from its run directory (no GPU needed): issue 7's "reached by agentopt
itself" in numbers.

    python benchmarks/search_record.py runs/<id>            # after `agentopt run`, on any machine

Writes benchmarks/results/<gpu>-search-<problem-short>.json: the run's configuration, its search time (the
sessions' own time: the pauses between a stop and a resume are left out), the candidates, the best candidate's
per-shape speedups over eager and fractions of the floor, the best score over time, and when the run first came
within 1% of its final best. The run's scores are the search's own timings; the harvest re-verifies them."""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agentopt.review import RunView  # noqa: E402
from agentopt.review.leaderboard import best_over_time, shape_results  # noqa: E402


def record(view: RunView) -> dict:
    evaluated_s = {cid: view.search_s(t) for cid, t in view.evaluated_at().items()}
    points = best_over_time(view.candidates, evaluated_s, 0.0)
    improved = [p for i, p in enumerate(points) if i == 0 or p["best"] > points[i - 1]["best"]]
    best = view.best()
    final = best.score if best else 0.0
    within = next((p["seconds"] for p in points if p["best"] >= 0.99 * final), None)
    config = (view.info.get("config") or {}).get("search") or {}
    return {
        "run": view.id, "problem": view.problem_name, "gpu": view.gpu, "coder": config.get("coder"),
        "library_seeds": config.get("library_seeds"), "sessions": 1 + len(view.pauses()),
        "search_s": round(view.search_s(view.ended_at), 1), "stop_reason": view.stop_reason(),
        "candidates": {k: v for k, v in view.budget().items() if k != "seconds"},  # seconds: pauses in
        "best": None if best is None else {
            "id": best.id, "score": final, "template": best.template, "params": best.params,
            "shapes": [{"shape": s.get("shape"), "speedup_vs_eager": s.get("speedup"),
                        "fraction_of_floor": s.get("fraction_of_floor")} for s in shape_results(best).values()]},
        "within_1pct_of_final_best_s": None if within is None else round(within, 1),
        "best_over_time": [{"s": round(p["seconds"], 1), "id": p["id"], "best": round(p["best"], 4)}
                           for p in improved],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a run directory (runs/<id>)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results", help="results folder")
    args = ap.parse_args()
    if not (args.run / "run.json").is_file():
        sys.exit(f"{args.run} is not a run directory (no run.json)")
    rec = record(RunView.load(args.run))
    slug = re.sub(r"[^a-z0-9]+", "-", rec["gpu"].lower()).strip("-")
    short = rec["problem"].rsplit("-", 1)[-1]
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{slug}-search-{short}.json"
    path.write_text(json.dumps(rec, indent=2))
    b = rec["best"] or {}
    print(f"{rec['problem']} on {rec['gpu']}: {rec['candidates']['evaluated']} candidates in {rec['search_s']:.0f} s "
          f"of search ({rec['sessions']} session(s)); best {b.get('id')} {b.get('score', 0):.3f}x, within 1% of it "
          f"after {rec['within_1pct_of_final_best_s']} s")
    for s in b.get("shapes", []):
        print(f"  {s['shape']}: {s['speedup_vs_eager']:.3f}x eager, {s['fraction_of_floor'] or 0:.1%} of the floor")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
