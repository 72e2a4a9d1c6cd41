"""Plots drawn as inline SVG, so that report.html needs nothing but itself: a step/line chart, grouped bars, a tree.

Each function returns SVG markup; every label passes through html.escape."""
from __future__ import annotations

import math
from html import escape

W, H = 720, 300  # drawing size in px
PAD_L, PAD_R, PAD_T, PAD_B = 56, 16, 16, 44
COLORS = ["#2563eb", "#9ca3af", "#f59e0b", "#16a34a", "#dc2626", "#7c3aed"]
STATUS_COLORS = {"ok": "#16a34a", "incorrect": "#f59e0b", "compile_error": "#dc2626", "rejected": "#7c3aed",
                 "timeout": "#6b7280", "crashed": "#111827", "pending": "#d1d5db"}


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if step * m >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _fmt(v: float) -> str:
    return f"{v:.3g}"


class _Axes:
    def __init__(self, x_lo: float, x_hi: float, y_lo: float, y_hi: float):
        self.x_lo, self.x_hi = x_lo, x_hi if x_hi > x_lo else x_lo + 1.0
        self.y_lo, self.y_hi = y_lo, y_hi if y_hi > y_lo else y_lo + 1.0

    def x(self, v: float) -> float:
        return PAD_L + (v - self.x_lo) / (self.x_hi - self.x_lo) * (W - PAD_L - PAD_R)

    def y(self, v: float) -> float:
        return H - PAD_B - (v - self.y_lo) / (self.y_hi - self.y_lo) * (H - PAD_T - PAD_B)

    def frame(self, x_label: str, y_label: str, x_ticks: bool = True) -> list[str]:
        out = [f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}" stroke="#374151"/>',
               f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{H - PAD_B}" stroke="#374151"/>']
        for t in _ticks(self.y_lo, self.y_hi):
            y = self.y(t)
            out.append(f'<line x1="{PAD_L}" y1="{y:.1f}" x2="{W - PAD_R}" y2="{y:.1f}" stroke="#e5e7eb"/>'
                       f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{_fmt(t)}</text>')
        if x_ticks:
            for t in _ticks(self.x_lo, self.x_hi, 8):
                x = self.x(t)
                out.append(f'<text x="{x:.1f}" y="{H - PAD_B + 16}" text-anchor="middle" class="tick">{_fmt(t)}</text>')
        out.append(f'<text x="{(PAD_L + W - PAD_R) / 2}" y="{H - 8}" text-anchor="middle" class="label">'
                   f'{escape(x_label)}</text>'
                   f'<text x="14" y="{(PAD_T + H - PAD_B) / 2}" text-anchor="middle" class="label" '
                   f'transform="rotate(-90 14 {(PAD_T + H - PAD_B) / 2})">{escape(y_label)}</text>')
        return out


def _svg(body: list[str], name: str, height: int = H, width: int = W) -> str:
    return (f'<svg class="plot" data-plot="{escape(name)}" xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="{escape(name)}">' + "".join(body) + "</svg>")


def progress_chart(points: list[dict], x: str, x_label: str, name: str) -> str:
    """Each candidate's score as a dot (red cross when it failed) and the best so far as a step line."""
    if not points:
        return _svg([f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle">no candidate evaluated yet</text>'], name)
    xs = [p[x] for p in points]
    top = max(max(p["best"] for p in points), 1.0) * 1.1
    ax = _Axes(0.0, max(xs) * 1.02 or 1.0, 0.0, top)
    body = ax.frame(x_label, "speedup over eager (score)")
    body.append(f'<line x1="{PAD_L}" y1="{ax.y(1):.1f}" x2="{W - PAD_R}" y2="{ax.y(1):.1f}" stroke="#9ca3af" '
                f'stroke-dasharray="4 3"/>')
    d, prev = [], None
    for p in points:
        px, py = ax.x(p[x]), ax.y(p["best"])
        d.append(f"M{px:.1f},{py:.1f}" if prev is None else f"H{px:.1f}V{py:.1f}")
        prev = py
    d.append(f"H{ax.x(max(xs)):.1f}")
    body.append(f'<path class="best-line" d="{"".join(d)}" fill="none" stroke="{COLORS[0]}" stroke-width="2.5"/>')
    for p in points:
        px, py = ax.x(p[x]), ax.y(p["score"])
        tip = f"<title>{escape(p['id'])}: {p['score']:.3f}x</title>"
        if p["ok"]:
            body.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{COLORS[0]}" fill-opacity="0.45">'
                        f"{tip}</circle>")
        else:
            body.append(f'<path d="M{px - 4:.1f},{py - 4:.1f}l8,8m0,-8l-8,8" stroke="#dc2626" stroke-width="2">{tip}'
                        "</path>")
    return _svg(body, name)


def grouped_bars(groups: list[str], series: dict[str, list[float | None]], y_label: str, name: str) -> str:
    """One group of bars per shape (label), one bar per series (best candidate, eager, torch.compile, floor)."""
    values = [v for vs in series.values() for v in vs if v]
    ax = _Axes(0.0, float(len(groups)), 0.0, (max(values) if values else 1.0) * 1.1)
    body = ax.frame("shape", y_label, x_ticks=False)
    n = max(len(series), 1)
    slot = (W - PAD_L - PAD_R) / max(len(groups), 1)
    bar_w = slot * 0.8 / n
    for gi, group in enumerate(groups):
        cx = PAD_L + slot * (gi + 0.5)
        body.append(f'<text x="{cx:.1f}" y="{H - PAD_B + 16}" text-anchor="middle" class="tick">{escape(group)}</text>')
        for si, (sname, vs) in enumerate(series.items()):
            v = vs[gi]
            if not v:
                continue
            x0 = PAD_L + slot * gi + slot * 0.1 + si * bar_w
            y0 = ax.y(v)
            body.append(f'<rect class="bar" x="{x0:.1f}" y="{y0:.1f}" width="{bar_w * 0.92:.1f}" '
                        f'height="{H - PAD_B - y0:.1f}" fill="{COLORS[si % len(COLORS)]}">'
                        f"<title>{escape(sname)} {escape(group)}: {_fmt(v)}</title></rect>")
    for si, sname in enumerate(series):  # legend
        lx = PAD_L + 10 + si * 150
        body.append(f'<rect x="{lx}" y="{PAD_T}" width="12" height="12" fill="{COLORS[si % len(COLORS)]}"/>'
                    f'<text x="{lx + 16}" y="{PAD_T + 11}" class="tick">{escape(sname)}</text>')
    return _svg(body, name)


def lineage_tree(nodes: list, edges: list[tuple[str, str]], best: str | None, name: str) -> str:
    """Candidates as circles in columns by generation, edges from parent to child, each node a link to its page."""
    if not nodes:
        return _svg([f'<text x="{W / 2}" y="40" text-anchor="middle">no candidates</text>'], name, height=80)
    col_w, row_h = 110, 44
    width = max(W, 60 + col_w * (1 + max(n.depth for n in nodes)))
    height = 40 + row_h * (1 + max(n.row for n in nodes))
    pos = {n.id: (40 + col_w * n.depth, 30 + row_h * n.row) for n in nodes}
    body = []
    for parent, child in edges:
        (x1, y1), (x2, y2) = pos[parent], pos[child]
        mid = (x1 + x2) / 2
        body.append(f'<path class="edge" d="M{x1},{y1}C{mid},{y1} {mid},{y2} {x2},{y2}" fill="none" stroke="#9ca3af"/>')
    for n in nodes:
        x, y = pos[n.id]
        ring = ' stroke="#111827" stroke-width="3"' if n.id == best else ""
        label = f"{n.score:.2f}x" if n.status == "ok" else n.status
        body.append(f'<a href="#cand-{escape(n.id)}"><circle class="node" cx="{x}" cy="{y}" r="9" '
                    f'fill="{STATUS_COLORS.get(n.status, "#d1d5db")}"{ring}>'
                    f"<title>{escape(n.id)}: {escape(label)}</title></circle>"
                    f'<text x="{x + 13}" y="{y - 3}" class="tick">{escape(n.id)}</text>'
                    f'<text x="{x + 13}" y="{y + 10}" class="tick muted">{escape(label)}</text></a>')
    return _svg(body, name, height=height, width=width)
