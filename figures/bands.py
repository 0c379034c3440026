"""Conditions compared at every layer: seed means with 95% t-bands over seeds.

Rows: ``alignment`` (plot_condition_curves) or ``condition_cka`` (plot_condition_cka).
As in the contrasts table, each seed's value is first averaged over languages; the line
is the mean over seeds and the band the two-sided 95% t-interval over seeds (no band with
one seed). The band formula is repeated here from xalign.stats.t_interval because figures
never import xalign; it is for display, the reported intervals are in contrasts.csv.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats

from figures.style import (
    LAYER_LABEL,
    PALETTE,
    PHASE_NAMES,
    figure_function,
    integer_ticks,
    metric_label,
    new_figure,
)
from figures.tables import (
    Rows,
    RowSource,
    check_single,
    read_rows,
    require_columns,
    select,
    sort_key,
)

ALIGNMENT_COLUMNS = ("model", "condition", "inter_task", "seed", "phase", "train_task",
                     "language", "layer", "metric", "value")
CONDITION_CKA_COLUMNS = ("model", "seed", "phase", "train_task", "condition_a", "inter_task_a",
                         "condition_b", "inter_task_b", "language", "layer", "metric", "value")
DASHES = ("-", "--", "-.", ":")


def seed_band(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)`` of per-seed values: mean -+ t_{S-1} * sd / sqrt(S).

    With one value the band is (mean, NaN, NaN).
    """
    arr = np.asarray(values, dtype=np.float64)
    mean = float(arr.mean())
    if arr.size < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, arr.size - 1) * arr.std(ddof=1)
                 / math.sqrt(arr.size))
    return mean, mean - half, mean + half


def _seed_cells(rows: Rows, line: Any) -> dict[str, dict[int, list[float]]]:
    """label -> layer -> one value per seed (each the mean over that seed's languages)."""
    per_seed: dict[tuple, list[float]] = {}
    for row in rows:
        per_seed.setdefault((line(row), row["layer"], row["seed"]), []).append(row["value"])
    cells: dict[str, dict[int, list[float]]] = {}
    for (label, layer, _), values in sorted(per_seed.items(), key=lambda kv: kv[0][2]):
        cells.setdefault(label, {}).setdefault(layer, []).append(float(np.mean(values)))
    return cells


def _draw_bands(ax: Axes, cells: dict[str, dict[int, list[float]]], order: list[str]) -> int:
    """One line and band per label; returns the largest number of seeds of a point."""
    most = 0
    for i, label in enumerate(order):
        layers = sorted(cells[label])
        bands = np.array([seed_band(cells[label][layer]) for layer in layers])  # (L, 3)
        color = PALETTE[i % len(PALETTE)]
        ax.plot(layers, bands[:, 0], marker="o", color=color, label=label, gid=f"curve:{label}",
                linestyle=DASHES[(i // len(PALETTE)) % len(DASHES)])
        if np.isfinite(bands[:, 1]).any():
            ax.fill_between(layers, bands[:, 1], bands[:, 2], color=color, alpha=0.2,
                            linewidth=0, gid=f"band:{label}")
        most = max(most, max(len(v) for v in cells[label].values()))
    ax.set_xlabel(LAYER_LABEL)
    integer_ticks(ax)
    return most


def _finish(fig: Figure, phase: int, n_seeds: int, n_languages: int, title: str) -> None:
    """Title lines short enough for one column, legend below (the axes keep the width)."""
    band = f"band: 95% t-interval, {n_seeds} seeds" if n_seeds > 1 else "1 seed: no band"
    fig.suptitle(f"phase {phase} ({PHASE_NAMES.get(phase, '?')})\n"
                 f"mean of {n_languages} language{'s' if n_languages != 1 else ''}; {band}")
    fig.set_figheight(3.2)
    fig.legend(loc="outside lower center", ncols=3, title=title, frameon=False)


def _label_of(condition_key: str, inter_key: str, rows: Rows):
    """Line label: the condition, with its inter_task when several tasks are drawn."""
    several = len({r[inter_key] for r in rows if r[inter_key]}) > 1

    def label(row: Mapping[str, Any]) -> str:
        task = row[inter_key]
        return f"{row[condition_key]} ({task})" if several and task else str(row[condition_key])

    return label


@figure_function
def plot_condition_curves(rows: RowSource, *, metric: str, phase: int,
                          where: Mapping[str, Any] | None = None) -> Figure:
    """One line per condition: metric against layer at one phase, 95% t-band over seeds.

    Args:
        rows: alignment rows (or a path to alignment.csv).
        metric: the alignment metric.
        phase: 1 (after intermediate training) or 2 (after target training; choose the
            train task with ``where``).
        where: further column values, e.g. ``{"model": "xlmr", "train_task": "xnli"}``.

    Returns:
        The Figure; lines have gid ``curve:<label>``, bands ``band:<label>``.

    Raises:
        ValueError: no rows, or a column other than condition/inter_task/seed/language/layer
            still varies.
    """
    table = read_rows(rows)
    require_columns(table, ALIGNMENT_COLUMNS, "alignment rows")
    table = select(table, where, metric=metric, phase=phase)
    if not table:
        raise ValueError(f"alignment rows: no rows with metric={metric!r}, phase={phase}, "
                         f"where={dict(where or {})}")
    check_single(table, {"condition", "inter_task", "seed", "language", "layer", "value"},
                 "alignment rows")
    line = _label_of("condition", "inter_task", table)
    cells = _seed_cells(table, line)
    order = sorted(cells, key=lambda label: sort_key("condition", label.split(" (")[0]))
    fig, (ax,) = new_figure()
    n_seeds = _draw_bands(ax, cells, order)
    ax.set_ylabel(metric_label(metric, [r["value"] for r in table]))
    _finish(fig, phase, n_seeds, len({r["language"] for r in table}), "condition")
    return fig


@figure_function
def plot_condition_cka(rows: RowSource, *, where: Mapping[str, Any] | None = None) -> Figure:
    """CKA between two conditions' checkpoints of the same seed and phase, per layer.

    Args:
        rows: condition_cka rows (or a path to condition_cka.csv).
        where: values selecting one slice, e.g. ``{"model": "xlmr", "phase": 1}``.

    Returns:
        The Figure; one line per pair ``a vs b`` (gid ``curve:a vs b``) with its 95%
        t-band over seeds; the y axis spans [0, 1].

    Raises:
        ValueError: no rows, or a column such as phase or metric still varies.
    """
    table = read_rows(rows)
    require_columns(table, CONDITION_CKA_COLUMNS, "condition_cka rows")
    table = select(table, where)
    if not table:
        raise ValueError(f"condition_cka rows: no rows match where={dict(where or {})}")
    check_single(table, {"condition_a", "inter_task_a", "condition_b", "inter_task_b", "seed",
                         "language", "layer", "value"}, "condition_cka rows")
    label_a = _label_of("condition_a", "inter_task_a", table)
    label_b = _label_of("condition_b", "inter_task_b", table)
    cells = _seed_cells(table, lambda r: f"{label_a(r)} vs {label_b(r)}")
    fig, (ax,) = new_figure()
    n_seeds = _draw_bands(ax, cells, sorted(cells))
    ax.set_ylim(0.0, 1.02)
    ax.set_ylabel(f"{table[0]['metric']} between conditions")
    _finish(fig, table[0]["phase"], n_seeds, len({r["language"] for r in table}),
            "conditions")
    return fig
