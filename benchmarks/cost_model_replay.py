"""How well does the search's cost model rank template points? Replays recorded runs, no GPU needed.

In a run the cost model's agreement is measured only on the points it chose (the top of each drawn pool), a
narrow sample. This replays every measured template candidate of each run in its order: before observing a
candidate, the model (trained on the earlier ones) predicts its score; Spearman's rho and Kendall's tau of
predicted against measured scores, per run and pooled over runs, for the model as configured and for variants
(ridge strength, value indicators, the compiler's figures).

    python3 benchmarks/cost_model_replay.py RUN_DIR [RUN_DIR ...]

Writes benchmarks/results/cost-model-replay.json and prints a table.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS  # noqa: E402


def variants() -> dict:
    """name -> (CostModel keyword arguments, row-feature transform or None)."""
    def no_indicators(f: dict) -> dict:
        return {k: v for k, v in f.items() if "=" not in k or k.startswith("template=")}

    def no_compiler(f: dict) -> dict:
        return {k: v for k, v in f.items() if not k.startswith("cc.")}

    return {"as configured (penalty 1 x features)": ({}, None), "penalty 0.01 x features": ({"alpha": 0.01}, None),
            "penalty 0.1 x features": ({"alpha": 0.1}, None), "penalty 10 x features": ({"alpha": 10.0}, None),
            "no value indicators": ({}, no_indicators), "no compiler figures": ({}, no_compiler)}


def replay(run: Path, kwargs: dict, transform) -> list[tuple[float, float]]:
    from agentopt.agents.template_coder import TemplateCoder
    from agentopt.problems import get_problem
    from agentopt.search.cost_model import CostModel

    info = json.loads((run / "run.json").read_text())
    problem = get_problem(info.get("problem_spec") or info["problem"]["name"])
    model = CostModel(TemplateCoder().features, problem.shapes_for("cuda"), **kwargs)
    if transform is not None:
        plain = model._row_features
        model._row_features = lambda *a: transform(plain(*a))
    db = sqlite3.connect(run / "run.db")
    rows = db.execute("select template, params, evaluation from candidates where template is not null "
                      "and evaluation is not null order by id").fetchall()
    pairs = []
    for template, params, evaluation in rows:
        params, evaluation = json.loads(params or "{}"), json.loads(evaluation)
        if evaluation.get("status") == "ok":
            predicted = model.predict_score(template, params)
            if predicted is not None:
                pairs.append((predicted, float(evaluation.get("score") or 0.0)))
        model.observe(template, params, evaluation)
    return pairs


def main() -> int:
    from agentopt.search.cost_model import kendall, spearman

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run directories (run.json and run.db)")
    args = ap.parse_args()
    table = {}
    for name, (kwargs, transform) in variants().items():
        per_run = {}
        for run in args.runs:
            pairs = replay(run, kwargs, transform)
            per_run[run.name] = {"n": len(pairs), "spearman": spearman(*zip(*pairs)) if len(pairs) > 2 else None,
                                 "kendall": kendall(*map(list, zip(*pairs))) if len(pairs) > 2 else None}
        rhos = [r["spearman"] for r in per_run.values() if r["spearman"] is not None]
        table[name] = {"runs": per_run, "mean_spearman": sum(rhos) / len(rhos) if rhos else None}
    path = write_result_plain(table, args.runs)
    width = max(len(n) for n in table)
    print(f"{'variant':<{width}}  mean rho  " + "  ".join(r.name[-4:] for r in args.runs))
    for name, row in table.items():
        cells = "  ".join(f"{row['runs'][r.name]['spearman']:+.2f}" if row["runs"][r.name]["spearman"] is not None
                          else "   - " for r in args.runs)
        print(f"{name:<{width}}  {row['mean_spearman'] or 0:+.3f}    {cells}")
    print(f"-> {path}")
    return 0


def write_result_plain(table: dict, runs: list[Path]) -> Path:
    """Not tied to this machine's GPU: the runs' own GPUs are in their run.json."""
    gpus = sorted({json.loads((r / "run.json").read_text()).get("hardware", {}).get("name", "?") for r in runs})
    path = RESULTS / "cost-model-replay.json"
    path.write_text(json.dumps({"gpus": gpus, "runs": [r.name for r in runs], "variants": table}, indent=2))
    return path


if __name__ == "__main__":
    sys.exit(main())
