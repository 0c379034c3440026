"""Data map of a training set (Swayamdipta et al. 2020) from ``results/cartography_<task>.csv``.

Rows: id, label, confidence, variability, correctness, subset. The statistics come from
the fine-tuning stage; this module only draws them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure

from figures.style import figure_function, new_figure
from figures.tables import RowSource, read_rows, require_columns, select

COLUMNS = ("id", "label", "confidence", "variability", "correctness", "subset")
CMAP = "viridis"

# Where the paper's three regions lie on the map, in axes coordinates: easy-to-learn
# examples are confident and stable (top left), hard-to-learn ones stable but not
# confident (bottom left), ambiguous ones vary most across epochs (right).
REGIONS = {
    "easy-to-learn": (0.03, 0.97, "left", "top"),
    "hard-to-learn": (0.03, 0.03, "left", "bottom"),
    "ambiguous": (0.97, 0.5, "right", "center"),
}


@figure_function
def plot_cartography_map(
    rows: RowSource, *, where: Mapping[str, Any] | None = None, title: str | None = None
) -> Figure:
    """Confidence (y) vs variability (x), coloured by correctness, regions annotated.

    Args:
        rows: cartography rows (or a path to cartography_<task>.csv).
        where: column values selecting examples, e.g. ``{"label": 1}``.
        title: axes title, e.g. the task name.

    Returns:
        The Figure; the scatter (``gid`` ``"examples"``) has offsets
        (variability, confidence) and colour values = correctness on a [0, 1] colour bar.

    Raises:
        ValueError: a column is missing or nothing matches ``where``.
    """
    table = read_rows(rows)
    require_columns(table, COLUMNS, "cartography rows")
    table = select(table, where)
    if not table:
        raise ValueError(f"cartography rows: no rows match where={dict(where or {})}")
    fig, (ax,) = new_figure()
    # Rasterised points keep the PDF small for training sets of 10^5 examples.
    points = ax.scatter([r["variability"] for r in table], [r["confidence"] for r in table],
                        c=[r["correctness"] for r in table], cmap=CMAP, vmin=0.0, vmax=1.0,
                        s=4, linewidths=0, alpha=0.8, rasterized=True, gid="examples")
    for name, (x, y, ha, va) in REGIONS.items():
        ax.text(x, y, name, transform=ax.transAxes, ha=ha, va=va, fontsize=7, gid=f"region:{name}",
                bbox={"facecolor": "white", "edgecolor": "black", "linewidth": 0.5,
                      "alpha": 0.8, "boxstyle": "round,pad=0.2"})
    ax.set_xlabel("variability (std of p(gold) over epochs)")
    ax.set_ylabel("confidence (mean p(gold))")
    if title:
        ax.set_title(title)
    fig.colorbar(points, ax=ax, label="correctness (fraction of epochs)")
    return fig
