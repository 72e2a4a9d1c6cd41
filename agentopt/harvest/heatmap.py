"""The shape-by-kernel heatmap beside the index: each cell is the kernel's fraction of the best time on that shape;
the kernels chosen for the set are starred and each shape's serving kernel is boxed."""
from __future__ import annotations

from pathlib import Path


def draw_heatmap(path: Path, shapes: list[str], kernels: list[str], fraction: dict[str, dict[str, float]],
                 chosen: list[str], assignment: dict[str, str], title: str) -> str | None:
    """Write the PNG; returns None, or why there is no heatmap (matplotlib missing: `pip install agentopt[report]`)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError as exc:
        return f"no heatmap: {exc} (pip install 'agentopt[report]')"
    grid = np.array([[fraction.get(k, {}).get(s, np.nan) for k in kernels] for s in shapes], dtype=float)
    fig, ax = plt.subplots(figsize=(max(5.5, 2.6 + 1.1 * len(kernels)), 1.6 + 0.45 * len(shapes)), dpi=110)
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", vmin=min(0.5, np.nanmin(grid) if grid.size else 0.5),
                      vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(kernels)), [("* " if k in chosen else "") + k for k in kernels], rotation=30, ha="right",
                  fontsize=8)
    ax.set_yticks(range(len(shapes)), shapes, fontsize=8)
    for i, s in enumerate(shapes):
        for j, k in enumerate(kernels):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="black" if grid[i, j] > 0.8 else "white")
            if assignment.get(s) == k:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2))
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, label="fraction of the best time")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return None
