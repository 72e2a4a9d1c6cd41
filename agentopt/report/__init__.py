"""`report.html` for a run: one self-contained file (inline CSS and SVG, no network) with the progress plots,
per-shape bars, the lineage tree, the leaderboard, and a section per candidate (code, diff, prompt, verdict)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import jinja2
from markupsafe import Markup

from agentopt.review import (RunView, best_over_time, best_per_shape, leaderboard, parent_diff, shape_key,
                             tree_layout)

from agentopt.kernels.templates.torch_compile import NAME as TORCH_COMPILE_TEMPLATE

from . import svg

TEMPLATE = "report.html.j2"


def _shape_bars(view: RunView) -> str:
    best = best_per_shape(view.candidates)
    plan = {shape_key(s.get("shape") or {}): s for s in view.plan_shapes}
    keys = list(plan) or list(best)

    def plan_ms(key: str, *names: str) -> float | None:
        us = next((plan.get(key, {}).get(n) for n in names if plan.get(key, {}).get(n) is not None), None)
        return us / 1000.0 if us is not None else None

    # torch.compile is measured where the search tried the torch_compile template (a candidate like any other)
    compiled = best_per_shape([c for c in view.candidates if c.template == TORCH_COMPILE_TEMPLATE])
    series = {"best candidate": [best.get(k, {}).get("time_ms") for k in keys],
              "eager": [best.get(k, {}).get("baseline_ms") or plan_ms(k, "eager_us") for k in keys],
              "torch.compile": [compiled.get(k, {}).get("time_ms") or plan_ms(k, "compile_us") for k in keys],
              "roofline floor": [plan_ms(k, "floor_us") for k in keys]}
    series = {name: vs for name, vs in series.items() if any(vs)}  # torch.compile only where it was measured
    return svg.grouped_bars(keys, series, "time per call (ms), lower is better", "shapes")


def _candidate_pages(view: RunView) -> list[dict]:
    sources = {c.id: view.source(c.id) for c in view.candidates}
    pages = []
    for c in view.candidates:
        parent, diff = parent_diff(c, sources)
        ev = c.evaluation or {}
        pages.append({"c": c, "source": sources[c.id] or "(source missing)", "parent": parent,
                      "diff": [(_diff_class(line), line) for line in diff.splitlines()],
                      "shapes": [{**s, "key": shape_key(s.get("shape") or {})} for s in ev.get("shapes", [])],
                      "compile_log": (ev.get("compile") or {}).get("log") or "", "flags": ev.get("flags") or [],
                      "guard": ev.get("guard") or []})
    return pages


def _diff_class(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "file"
    return {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "ctx")


def render(view: RunView) -> str:
    points = best_over_time(view.candidates, view.evaluated_at(), view.started_at)
    for p in points:
        p["minutes"] = p["seconds"] / 60.0
    nodes, edges = tree_layout(view.candidates)
    best = view.best()
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template(TEMPLATE).render(
        view=view, best=best, budget=view.budget(), stop_reason=view.stop_reason(),
        started=dt.datetime.fromtimestamp(view.started_at).strftime("%Y-%m-%d %H:%M:%S"),
        plan_shapes=[{**s, "key": shape_key(s.get("shape") or {})} for s in view.plan_shapes],
        rows=leaderboard(view.candidates),
        shape_keys=[shape_key(s.get("shape") or {}) for s in view.plan_shapes],
        plot_time=Markup(svg.progress_chart(points, "minutes", "minutes since the start", "over-time")),
        plot_count=Markup(svg.progress_chart(points, "n", "candidates evaluated", "over-candidates")),
        plot_shapes=Markup(_shape_bars(view)),
        plot_tree=Markup(svg.lineage_tree(nodes, edges, best.id if best else None, "lineage")),
        pages=_candidate_pages(view))


def write_report(run_dir: Path | str) -> Path:
    """Render RUN/report.html from the run directory and return its path."""
    view = RunView.load(run_dir)
    out = Path(run_dir) / "report.html"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(render(view), encoding="utf-8")
    tmp.replace(out)
    return out
