"""Layer-wise alignment curves from ``results/alignment.csv`` rows.

Rows: model, condition, inter_task, seed, phase, train_task, language, layer, metric, value
(one value per row). Rows that differ only in ``seed`` are averaged before drawing; any
other column that still varies must be chosen with ``where`` (or be the ``hue``), so no
two slices are mixed. Conditions compared with seed bands: :mod:`figures.bands`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from figures.style import (
    LAYER_LABEL,
    PALETTE,
    PHASE_COLORS,
    PHASE_NAMES,
    PHASE_STYLES,
    figure_function,
    integer_ticks,
    metric_label,
    new_figure,
)
from figures.tables import (
    Rows,
    RowSource,
    check_single,
    distinct,
    mean_by,
    read_rows,
    require_columns,
    select,
    sort_key,
)

COLUMNS = ("model", "condition", "inter_task", "seed", "phase", "train_task", "language",
           "layer", "metric", "value")
MARKERS = ("o", "s", "^", "D", "v")
DASHES = ("-", "--", "-.", ":")
PANELS_PER_ROW = 3  # conditions of several intermediate tasks wrap onto more rows
LEGEND_ROWS = 12  # entries per legend column, so a 36-language legend still fits the height


def _metric_rows(rows: RowSource, metric: str, where: Mapping[str, Any] | None,
                 columns: tuple[str, ...] = COLUMNS) -> Rows:
    table = read_rows(rows)
    require_columns(table, columns, "alignment rows")
    chosen = select(table, where, metric=metric)
    if not chosen:
        raise ValueError(
            f"alignment rows: no rows with metric={metric!r} and where={dict(where or {})}; "
            f"metrics present: {distinct(table, 'metric')}"
        )
    return chosen


@figure_function
def plot_layer_curves(
    rows: RowSource,
    *,
    metric: str,
    hue: str = "language",
    where: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> Figure:
    """Metric against layer, one line per ``hue`` value, the best layer of each line starred.

    Args:
        rows: alignment rows (or a path to alignment.csv).
        metric: e.g. ``"tatoeba_en2xx"`` (XTREME's direction, Hu et al. 2020) or ``"cka_en_xx"``.
        hue: the column giving one line each (``"language"``, ``"condition"``, ``"model"``...).
        where: column values selecting one slice, e.g. ``{"phase": 0, "condition": "none"}``.
        title: axes title.

    Returns:
        The Figure. Each line's best layer (argmax, lowest layer on ties) is a star marker
        whose ``gid`` is ``"best:<hue value>"``.

    Raises:
        ValueError: no rows for the metric, or a column other than hue/layer/seed varies.
    """
    # only the columns drawn are required: `xalign retrieve` draws rows without conditions
    table = _metric_rows(rows, metric, where, ("metric", "layer", "value", hue))
    # a condition's intermediate task goes with it (none has ""), if each has one task
    follows = {"inter_task"} if hue == "condition" else set()
    check_single(table, {hue, "layer", "seed", "value", *follows}, "alignment rows")
    for label in distinct(table, hue) if follows else ():
        check_single(select(table, {hue: label}), {hue, "layer", "seed", "value"},
                     "alignment rows")
    curves = mean_by(table, (hue, "layer"))
    labels = distinct(curves, hue)
    fig, (ax,) = new_figure(double=len(labels) > len(PALETTE))
    for i, label in enumerate(labels):
        line = [r for r in curves if r[hue] == label]
        x = np.array([r["layer"] for r in line])
        y = np.array([r["value"] for r in line])
        # Past 8 lines colours repeat, so marker and dash change with each round of colours.
        color, cycle = PALETTE[i % len(PALETTE)], i // len(PALETTE)
        ax.plot(x, y, marker=MARKERS[cycle % len(MARKERS)], color=color, label=str(label),
                linestyle=DASHES[cycle % len(DASHES)], gid=f"curve:{label}")
        best = int(np.nanargmax(y))
        ax.plot(x[best], y[best], marker="*", markersize=9, color=color, markeredgecolor="black",
                markeredgewidth=0.5, linestyle="none", gid=f"best:{label}", label="_best")
    ax.set_xlabel(LAYER_LABEL)
    ax.set_ylabel(metric_label(metric, [r["value"] for r in curves]))
    integer_ticks(ax)
    if title:
        ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    handles.append(_best_proxy())
    labels.append("best layer")
    fig.legend(handles, labels, loc="outside right upper", title=hue, frameon=False,
               ncols=-(-len(labels) // LEGEND_ROWS))
    return fig


def _best_proxy() -> Line2D:
    return Line2D([], [], marker="*", markersize=9, color="grey", markeredgecolor="black",
                  markeredgewidth=0.5, linestyle="none")


@figure_function
def plot_phase_curves(
    rows: RowSource,
    *,
    metric: str,
    language: str | None = None,
    train_task: str | None = None,
    where: Mapping[str, Any] | None = None,
) -> Figure:
    """Layer-wise alignment per phase (line styles), one panel per condition, shared y axis.

    With ``language=None`` each line is the mean over languages (of per-language seed
    means) and the shaded band spans the min to max across languages. A panel is one
    condition; with several intermediate tasks, one (condition, inter_task).

    Args:
        rows: alignment rows (or a path to alignment.csv).
        metric: the alignment metric to draw.
        language: one language's curves, or None for the mean over languages.
        train_task: the phase-2 rows to draw when several target tasks were trained
            (phases 0 and 1 precede any target and are always kept).
        where: further column values selecting one slice, e.g. ``{"model": "xlmr"}``.

    Returns:
        The Figure; lines have ``gid`` ``"phase:<panel>:<phase>"`` and bands
        ``"band:<panel>:<phase>"``.

    Raises:
        ValueError: no rows for the metric, or a column such as ``model`` varies.
    """
    table = _metric_rows(rows, metric, where)
    if language is not None:
        table = select(table, language=language)
        if not table:
            raise ValueError(f"alignment rows: no rows for language={language!r}")
    if train_task is not None:
        table = [r for r in table if r["phase"] != 2 or r["train_task"] == train_task]
    check_single([r for r in table if r["phase"] == 2], {"condition", "inter_task", "language",
                                                         "layer", "seed", "value"},
                 "phase-2 alignment rows")
    check_single(table, {"condition", "inter_task", "phase", "train_task", "language", "layer",
                         "seed", "value"}, "alignment rows")
    several = len({r["inter_task"] for r in table if r["inter_task"]}) > 1
    for row in table:
        task = row["inter_task"]
        row["panel"] = f"{row['condition']} ({task})" if several and task else row["condition"]
    per_language = mean_by(table, ("panel", "phase", "language", "layer"))
    panels = sorted(distinct(per_language, "panel"),
                    key=lambda p: sort_key("condition", p.split(" (")[0]) + (p,))
    ncols = min(len(panels), PANELS_PER_ROW)
    fig, axes = new_figure(ncols, nrows=-(-len(panels) // ncols), double=ncols > 2,
                           sharey=True)
    n_languages = len(distinct(per_language, "language"))
    for ax, panel in zip(axes, panels, strict=False):
        _draw_phases(ax, select(per_language, panel=panel), panel)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    what = f"mean over {n_languages} languages" if n_languages > 1 else table[0]["language"]
    label = metric_label(metric, [r["value"] for r in per_language])
    for ax in axes[::ncols]:
        ax.set_ylabel(label)
    # a long y label would be clipped by a short panel: the averaging goes above the panels
    fig.suptitle(what)
    fig.legend(*_phase_legend(axes[: len(panels)]), loc="outside lower center", ncols=2,
               frameon=False)
    return fig


def _phase_legend(axes: np.ndarray) -> tuple[list, list[str]]:
    """One entry per phase across all panels, and one neutral entry for the band."""
    seen: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label.startswith("band"):
                handle = Patch(color="grey", alpha=0.3, linewidth=0)
            seen.setdefault(label, handle)
    return list(seen.values()), list(seen)


def _draw_phases(ax: Axes, rows: Rows, condition: str) -> None:
    """One line per phase: mean over languages per layer, band = min..max across languages."""
    cells: dict[tuple, list[float]] = {}  # (phase, layer) -> one value per language
    for row in rows:
        cells.setdefault((row["phase"], row["layer"]), []).append(row["value"])
    for phase in distinct(rows, "phase"):
        layers = sorted(layer for p, layer in cells if p == phase)
        values = [cells[phase, layer] for layer in layers]
        mean = np.array([np.mean(v) for v in values])
        style = {"color": PHASE_COLORS.get(phase, "grey"),
                 "linestyle": PHASE_STYLES.get(phase, "-")}
        name = f"phase {phase}: {PHASE_NAMES.get(phase, '?')}"
        ax.plot(layers, mean, marker="o", label=name, gid=f"phase:{condition}:{phase}", **style)
        if max(len(v) for v in values) > 1:
            ax.fill_between(layers, [min(v) for v in values], [max(v) for v in values],
                            color=style["color"], alpha=0.15, linewidth=0,
                            label="band: min\u2013max across languages",
                            gid=f"band:{condition}:{phase}")
    ax.set_title(f"condition: {condition}")
    ax.set_xlabel(LAYER_LABEL)
    integer_ticks(ax)
