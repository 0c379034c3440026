"""Representation change vs zero-shot accuracy change, from change_points / change_vs_accuracy.

One point per checkpoint (its changes averaged over languages). The correlation printed in
the panel is the between-checkpoint row of ``results/change_vs_accuracy.csv`` (computed by
the analysis, with seed-cluster bootstrap intervals); the OLS line and its band are
computed here on the drawn points for display only and are not reported anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats

from figures.style import PALETTE, figure_function, new_figure, unit_of
from figures.tables import Rows, RowSource, distinct, read_rows, require_columns, select, sort_key

POINT_COLUMNS = ("model", "target", "measure", "layer", "condition", "inter_task", "seed",
                 "change", "accuracy_change")
CORR_COLUMNS = ("model", "target", "analysis", "measure", "layer", "pearson", "pearson_lo",
                "pearson_hi", "spearman", "spearman_lo", "spearman_hi", "p_value",
                "n_checkpoints", "n_seeds")


def ols_band(
    x: np.ndarray, y: np.ndarray, grid: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OLS fit of y on x and the analytic confidence band of the mean on ``grid``.

    Args:
        x: (n,) predictor, n >= 3 and not constant.
        y: (n,) response.
        grid: (m,) x positions to evaluate.
        level: two-sided confidence level.

    Returns:
        ``(fit, lower, upper)``, each (m,): a + b*grid and the t-based band
        ``fit -+ t * s * sqrt(1/n + (grid - mean(x))^2 / Sxx)``.
    """
    n = len(x)
    slope, intercept = np.polyfit(x, y, 1)
    fit = intercept + slope * grid
    resid = y - (intercept + slope * x)
    s = np.sqrt(resid @ resid / (n - 2))
    sxx = np.sum((x - x.mean()) ** 2)
    half = stats.t.ppf(0.5 + level / 2, n - 2) * s * np.sqrt(1 / n + (grid - x.mean()) ** 2 / sxx)
    return fit, fit - half, fit + half


def _number(value: Any, spec: str) -> str:
    """A statistic, or "n/a" where the table has none (NaN, or an empty CSV column)."""
    if isinstance(value, int | float) and np.isfinite(value):
        return format(value, spec)
    return "n/a"


def stats_text(corr: Mapping[str, Any]) -> str:
    """The panel's statistic lines, e.g. ``Pearson r = 0.61 [0.20, 0.85]``."""
    def est(key: str) -> str:
        return (f"{_number(corr[key], '.2f')} [{_number(corr[key + '_lo'], '.2f')}, "
                f"{_number(corr[key + '_hi'], '.2f')}]")

    return (f"Pearson r = {est('pearson')}\n"
            f"Spearman \u03c1 = {est('spearman')}, p = {_number(corr['p_value'], '.3g')}\n"
            f"n = {int(corr['n_checkpoints'])} checkpoints, {int(corr['n_seeds'])} seeds")


@figure_function
def plot_change_vs_accuracy(
    point_rows: RowSource,
    corr_rows: RowSource,
    *,
    measure: str,
    layer: int,
    where: Mapping[str, Any] | None = None,
) -> Figure:
    """Scatter of representation change vs zero-shot accuracy change at one layer.

    One point per checkpoint, coloured by condition; the OLS line with its 95% band is
    drawn when there are at least 3 points with distinct x. The panel prints Pearson r and
    Spearman rho with their intervals, p and n, as given in the between-checkpoint row of
    ``corr_rows``.

    Args:
        point_rows: change_points rows (or a path to change_points.csv).
        corr_rows: change_vs_accuracy rows (or a path to change_vs_accuracy.csv).
        measure: e.g. ``"delta_cka_en_xx"``.
        layer: hidden_states index.
        where: further column values selecting points and the correlation row, e.g.
            ``{"model": "xlmr", "target": "xnli"}``.

    Returns:
        The Figure; scatter collections have ``gid`` ``"points:<condition>"``, the text
        box ``"stats"``, the fit line ``"ols"``.

    Raises:
        ValueError: no points, or not exactly one correlation row for measure and layer.
    """
    points = read_rows(point_rows)
    require_columns(points, POINT_COLUMNS, "change_points rows")
    points = select(points, where, measure=measure, layer=layer)
    if not points:
        raise ValueError(f"change_points rows: no rows for measure={measure!r}, layer={layer}")
    corr = read_rows(corr_rows)
    require_columns(corr, CORR_COLUMNS, "change_vs_accuracy rows")
    corr = select(corr, where, measure=measure, layer=layer, analysis="between_checkpoint")
    if len(corr) != 1:
        raise ValueError(f"change_vs_accuracy rows: expected 1 row for measure={measure!r}, "
                         f"layer={layer}; found {len(corr)}")
    fig, (ax,) = new_figure()
    fig.set_figheight(3.2)  # room for the legend below and an unclipped y label
    _scatter(ax, points)
    # two short lines: a one-line label wider than the axes was cut at the figure edge
    ax.set_xlabel(f"representation change\n{measure}, layer {layer}")
    unit = unit_of([r["accuracy_change"] for r in points])
    ax.set_ylabel(f"\u0394 zero-shot accuracy ({'points' if unit == '%' else unit})")
    # Headroom above the data holds the statistics, so the text never hides a point.
    ax.autoscale_view()
    y0, y1 = ax.get_ylim()
    ax.set_ylim(y0, y1 + 0.45 * (y1 - y0))
    ax.text(0.03, 0.97, stats_text(corr[0]), transform=ax.transAxes, ha="left", va="top",
            fontsize=7, gid="stats")
    # below the panel, so the axes (and its labels and statistics) keep the full width
    fig.legend(loc="outside lower center", ncols=4, frameon=False)
    return fig


def _scatter(ax: Axes, points: Rows) -> None:
    several = len({r["inter_task"] for r in points if r["inter_task"]}) > 1
    for row in points:
        task = row["inter_task"]
        row["label"] = f"{row['condition']} ({task})" if several and task else row["condition"]
    for i, label in enumerate(sorted(distinct(points, "label"),
                                     key=lambda c: sort_key("condition", c.split(" (")[0]))):
        chosen = select(points, label=label)
        ax.scatter([r["change"] for r in chosen], [r["accuracy_change"] for r in chosen],
                   s=14, color=PALETTE[i % len(PALETTE)], edgecolors="white", linewidths=0.4,
                   label=str(label), gid=f"points:{label}", zorder=3)
    x = np.array([r["change"] for r in points], dtype=float)
    y = np.array([r["accuracy_change"] for r in points], dtype=float)
    if len(x) >= 3 and np.ptp(x) > 0:
        grid = np.linspace(x.min(), x.max(), 50)
        fit, lower, upper = ols_band(x, y, grid)
        ax.plot(grid, fit, color="black", linewidth=1.0, gid="ols", label="OLS fit, 95% band")
        ax.fill_between(grid, lower, upper, color="grey", alpha=0.2, linewidth=0, gid="ols_band")

