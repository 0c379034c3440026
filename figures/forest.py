"""Forest plot of condition contrasts from ``results/contrasts.csv`` rows.

One line per row: the estimate (mean over seeds of the per-seed difference a - b) with
its 95% t-interval; the headline rows (role "primary") are drawn as diamonds in a second
colour. The text right of each line gives the p-value (raw for primary rows, Holm-adjusted
for exploratory ones) and n, the number of seeds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import blended_transform_factory

from figures.style import PALETTE, SINGLE_COLUMN, figure_function, new_figure
from figures.tables import RowSource, read_rows, require_columns, select

COLUMNS = ("model", "target", "phase", "metric", "layer", "contrast", "inter_task", "estimate",
           "ci_low", "ci_high", "p_value", "p_adjusted", "n_seeds", "role")
ROW_HEIGHT = 0.2  # inches per contrast row


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def row_label(row: Mapping[str, Any], varying: set[str]) -> str:
    """``contrast: metric`` plus whichever of layer, inter_task, phase, target vary."""
    parts = [f"{row['contrast']}: {row['metric']}"]
    if "layer" in varying and _finite(row["layer"]):
        parts.append(f"L{int(row['layer'])}")
    for column, prefix in (("inter_task", ""), ("phase", "p"), ("target", "")):
        if column in varying and row[column] not in ("", None):
            parts.append(f"{prefix}{row[column]}")
    return " ".join(parts)


def p_text(row: Mapping[str, Any]) -> str:
    """``p = 0.19, n = 5`` (primary) or ``Holm p = 0.75, n = 5``; ``n = 1`` without a test."""
    n = f"n = {int(row['n_seeds'])}"
    primary = row["role"] == "primary"
    p = row["p_value"] if primary else row["p_adjusted"]
    if not _finite(p):
        return n
    return f"{'p' if primary else 'Holm p'} = {p:.3g}, {n}"


@figure_function
def plot_contrast_forest(rows: RowSource, *, where: Mapping[str, Any] | None = None,
                         title: str | None = None) -> Figure:
    """Estimates with 95% intervals, one line per contrasts row, in the given order.

    Args:
        rows: contrasts rows (or a path to contrasts.csv), already narrowed to the lines
            to show (e.g. every metric at the headline layer plus the zero-shot rows).
        where: further column values selecting rows, e.g. ``{"model": "xlmr"}``.
        title: axes title.

    Returns:
        The Figure; the estimate markers have gid ``estimate:<i>`` (i = row index, top
        row 0), the primary ones ``primary:<i>``; the interval lines ``ci:<i>``.

    Raises:
        ValueError: no rows match.
    """
    table = read_rows(rows)
    require_columns(table, COLUMNS, "contrasts rows")
    table = select(table, where)
    if not table:
        raise ValueError(f"contrasts rows: no rows match where={dict(where or {})}")
    varying = {c for c in ("layer", "inter_task", "phase", "target")
               if len({str(r[c]) for r in table}) > 1}
    fig, (ax,) = new_figure()
    fig.set_size_inches(SINGLE_COLUMN + 1.2, ROW_HEIGHT * len(table) + 1.0)
    ys = np.arange(len(table))[::-1]
    side = blended_transform_factory(ax.transAxes, ax.transData)
    for i, (y, row) in enumerate(zip(ys, table, strict=True)):
        primary = row["role"] == "primary"
        color = PALETTE[1] if primary else PALETTE[0]
        if _finite(row["ci_low"]) and _finite(row["ci_high"]):
            ax.plot([row["ci_low"], row["ci_high"]], [y, y], color=color, linewidth=1.2,
                    gid=f"ci:{i}")
        ax.plot([row["estimate"]], [y], marker="D" if primary else "o", color=color,
                markersize=5 if primary else 4, linestyle="none",
                gid=f"{'primary' if primary else 'estimate'}:{i}")
        ax.text(1.02, y, p_text(row), transform=side, va="center", fontsize=7)
    ax.axvline(0.0, color="grey", linewidth=0.8, linestyle=":")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4))  # tick labels such as -0.025 never touch
    ax.set_yticks(ys, [row_label(r, varying) for r in table])
    for tick, row in zip(ax.get_yticklabels(), table, strict=True):
        if row["role"] == "primary":
            tick.set_fontweight("bold")
    ax.set_ylim(-0.7, len(table) - 0.3)
    ax.set_xlabel("a \u2212 b, mean over seeds (95% t-interval)")
    if title:
        ax.set_title(title)
    return fig

