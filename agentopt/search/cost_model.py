"""A cost model for template candidates, as TVM MetaSchedule's: it learns from every measured template candidate
and ranks new template points before they are compiled, so that the GPU times the promising ones.

One ridge regression per shape on log(time): per shape, a kernel's parameters act roughly additively on the log of
its time, and fitting each shape apart lets the best tile for M=1 differ from the best for M=4096. Features: the
template coder's features of the point (`features(template, params, shape)`), each as a number and each of its
values as an indicator (a tile size has a best value in the middle, not a slope), the template's name one-hot, and
the compiler's resource figures (registers, spills, shared memory) of the measured kernels; before a point is
compiled, those figures are borrowed from its nearest measured neighbour of the same template.

It also keeps, for each template candidate it ranked, its prediction beside the measurement, and says how well
the two agree (Spearman's rho and Kendall's tau on the predicted and measured scores).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from agentopt.problems import shape_label

FeatureFn = Callable[[str, dict[str, Any], dict[str, Any]], dict[str, float]]


def compiler_figures(evaluation: dict[str, Any] | None) -> dict[str, float]:
    """Resource figures of a candidate's kernels as features: the most registers and shared memory of any kernel,
    the spilled bytes of all."""
    kernels = ((evaluation or {}).get("compile") or {}).get("kernels") or []
    regs = [k["registers"] for k in kernels if k.get("registers") is not None]
    smem = [k["shared_bytes"] for k in kernels if k.get("shared_bytes") is not None]
    spills = [k["spills"] for k in kernels if k.get("spills") is not None]
    out = {}
    if regs:
        out["cc.registers"] = float(max(regs))
    if smem:
        out["cc.shared_kib"] = max(smem) / 1024.0
    if spills:
        out["cc.spill_log"] = math.log1p(sum(spills))
    return out


class _Ridge:
    """Ridge regression on standardised features, with an intercept. The penalty is `alpha` times the number of
    features: a template's ~100 features (each value an indicator) against tens of measured points need strong
    shrinkage, a small space little. Replayed over five recorded H200 llama3-8b-ffn runs, Spearman's rho of
    predicted against measured scores was 0.18-0.54 so, against -0.08-0.31 with a fixed penalty of 1
    (benchmarks/cost_model_replay.py, results/cost-model-replay.json)."""

    def __init__(self, alpha: float):
        self.alpha = alpha

    def fit(self, X: np.ndarray, y: np.ndarray) -> "_Ridge":
        self.mu, self.sd = X.mean(0), X.std(0) + 1e-9
        Z = (X - self.mu) / self.sd
        self.y0 = y.mean()
        penalty = self.alpha * Z.shape[1] * np.eye(Z.shape[1])
        self.w = np.linalg.solve(Z.T @ Z + penalty, Z.T @ (y - self.y0))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mu) / self.sd) @ self.w + self.y0


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for v in np.unique(x):  # ties share their average rank
        tie = x == v
        ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(a: list[float], b: list[float]) -> float | None:
    if len(a) < 3:
        return None
    ra, rb = _ranks(np.asarray(a, float)), _ranks(np.asarray(b, float))
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def kendall(a: list[float], b: list[float]) -> float | None:
    """Kendall's tau-b."""
    n = len(a)
    if n < 3:
        return None
    conc = disc = ties_a = ties_b = 0
    for i in range(n):
        for j in range(i + 1, n):
            da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
            if da == 0 and db == 0:
                continue
            if da == 0:
                ties_a += 1
            elif db == 0:
                ties_b += 1
            elif da == db:
                conc += 1
            else:
                disc += 1
    denom = math.sqrt((conc + disc + ties_a) * (conc + disc + ties_b))
    return (conc - disc) / denom if denom else None


class CostModel:
    def __init__(self, features: FeatureFn, shapes: list[dict[str, Any]], min_measured: int = 8,
                 alpha: float = 1.0):
        self.features = features
        self.shapes = shapes
        self.min_measured = min_measured
        self.alpha = alpha
        # (template, params, compiler figures, time_ms per shape label) of each measured template candidate
        self.rows: list[tuple[str, dict[str, Any], dict[str, float], dict[str, float]]] = []
        self.baseline: dict[str, list[float]] = {}
        self.models: dict[str, tuple[list[str], _Ridge]] = {}
        self.pairs: list[tuple[float, float]] = []  # (predicted score, measured score) of ranked candidates

    @property
    def trained(self) -> bool:
        return bool(self.models)

    # ---- learning -------------------------------------------------------------------------------------------
    def observe(self, template: str, params: dict[str, Any], evaluation: dict[str, Any] | None,
                predicted: float | None = None) -> None:
        """Learn from a measured template candidate; `predicted` is the score the model gave it before."""
        ev = evaluation or {}
        times = {shape_label(s["shape"]): s["time_ms"] for s in ev.get("shapes", []) if s.get("time_ms")}
        for s in ev.get("shapes", []):
            if s.get("baseline_ms"):
                self.baseline.setdefault(shape_label(s["shape"]), []).append(s["baseline_ms"])
        if predicted is not None and ev.get("status") == "ok":
            self.pairs.append((predicted, float(ev.get("score") or 0.0)))
        if ev.get("status") != "ok" or not times:
            return
        self.rows.append((template, params, compiler_figures(ev), times))
        if len(self.rows) >= self.min_measured:
            self._fit()

    def _row_features(self, template: str, params: dict[str, Any], shape: dict[str, Any],
                      figures: dict[str, float]) -> dict[str, float]:
        raw = self.features(template, params, shape)
        f = {f"p.{k}": float(v) for k, v in raw.items()}
        f.update({f"p.{k}={float(v):g}": 1.0 for k, v in raw.items()})  # each value its own effect: tile sizes
        f[f"template={template}"] = 1.0                                  # have a best in the middle, not a slope
        return {**f, **figures}

    def _fit(self) -> None:
        models = {}
        for shape in self.shapes:
            label = shape_label(shape)
            data = [(self._row_features(t, p, shape, fig), times[label]) for t, p, fig, times in self.rows
                    if label in times]
            if len(data) < self.min_measured:
                continue
            keys = sorted({k for f, _ in data for k in f})
            X = np.array([[f.get(k, 0.0) for k in keys] for f, _ in data])
            y = np.log(np.array([t for _, t in data]))
            models[label] = (keys, _Ridge(self.alpha).fit(X, y))
        self.models = models

    # ---- predicting -----------------------------------------------------------------------------------------
    def _borrowed_figures(self, template: str, params: dict[str, Any]) -> dict[str, float]:
        """The compiler's figures of the measured point of the same template that shares the most parameters."""
        same = [(sum(p.get(k) == v for k, v in params.items()), fig) for t, p, fig, _ in self.rows
                if t == template and fig]
        return max(same, key=lambda x: x[0])[1] if same else {}

    def predict_times(self, template: str, params: dict[str, Any]) -> dict[str, float] | None:
        if not self.trained:
            return None
        figures = self._borrowed_figures(template, params)
        out = {}
        for shape in self.shapes:
            label = shape_label(shape)
            if label not in self.models:
                continue
            keys, model = self.models[label]
            f = self._row_features(template, params, shape, figures)
            out[label] = float(np.exp(model.predict(np.array([[f.get(k, 0.0) for k in keys]]))[0]))
        return out or None

    def predict_score(self, template: str, params: dict[str, Any]) -> float | None:
        """Predicted geometric-mean speedup over eager (None until trained)."""
        times = self.predict_times(template, params)
        if not times:
            return None
        logs = [math.log(np.mean(self.baseline[label]) / t) for label, t in times.items() if label in self.baseline]
        return math.exp(sum(logs) / len(logs)) if logs else None

    def rank(self, points: list[tuple[str, dict[str, Any]]]) -> list[tuple[int, float | None]]:
        """(index, predicted score) of each point, most promising first; the given order while untrained."""
        scored = [(i, self.predict_score(t, p)) for i, (t, p) in enumerate(points)]
        if not self.trained:
            return scored
        return sorted(scored, key=lambda x: -(x[1] if x[1] is not None else -math.inf))

    # ---- agreement ------------------------------------------------------------------------------------------
    def agreement(self) -> dict[str, Any]:
        pred = [p for p, _ in self.pairs]
        meas = [m for _, m in self.pairs]
        return {"n": len(self.pairs), "measured_rows": len(self.rows), "spearman": spearman(pred, meas),
                "kendall": kendall(pred, meas)}
