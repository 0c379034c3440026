"""Bar charts: zero-shot accuracy per language (``zeroshot.csv``) and task difficulty."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from figures.style import PALETTE, figure_function, new_figure, unit_of
from figures.tables import (
    RowSource,
    check_single,
    distinct,
    mean_by,
    read_rows,
    require_columns,
    select,
)

ZEROSHOT_COLUMNS = ("model", "condition", "seed", "task", "language", "metric", "value", "n")
DIFFICULTY_COLUMNS = ("task", "budget_steps", "dev_error", "normalised_error", "rank")


@figure_function
def plot_language_bars(
    rows: RowSource, *, metric: str = "accuracy", where: Mapping[str, Any] | None = None
) -> Figure:
    """Zero-shot score per language, bars grouped by language, one bar per condition.

    Seeds are averaged. The ``"avg"`` language (mean over non-English languages, as the
    pipeline writes it) is drawn last, after a dotted separator.

    Args:
        rows: zeroshot rows (or a path to zeroshot.csv).
        metric: the zero-shot metric, e.g. ``"accuracy"``.
        where: values selecting one slice, e.g. ``{"task": "xnli", "model": "xlmr"}``.

    Returns:
        The Figure; bar containers are labelled with the condition and each bar's height is
        the seed mean for (language, condition), languages in display order.

    Raises:
        ValueError: no rows, or task/model still vary after ``where``.
    """
    table = read_rows(rows)
    require_columns(table, ZEROSHOT_COLUMNS, "zeroshot rows")
    table = select(table, where, metric=metric)
    if not table:
        raise ValueError(f"zeroshot rows: no rows with metric={metric!r}, where={where}")
    check_single(table, {"condition", "seed", "language", "value", "n"}, "zeroshot rows")
    means = mean_by(table, ("language", "condition"))
    languages, conditions = distinct(means, "language"), distinct(means, "condition")
    fig, (ax,) = new_figure(double=len(languages) > 8)
    width = 0.8 / len(conditions)
    for k, condition in enumerate(conditions):
        heights = [
            next((r["value"] for r in select(means, language=lang, condition=condition)), np.nan)
            for lang in languages
        ]
        x = np.arange(len(languages)) + (k - (len(conditions) - 1) / 2) * width
        ax.bar(x, heights, width, label=str(condition), color=PALETTE[k % len(PALETTE)],
               gid=f"bars:{condition}")
    if "avg" in languages and len(languages) > 1:
        ax.axvline(len(languages) - 1.5, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xticks(np.arange(len(languages)), [str(lang) for lang in languages])
    ax.set_xlabel("language (ISO 639-1; avg = mean over non-English)")
    ax.set_ylabel(f"zero-shot {metric} ({unit_of([r['value'] for r in means])})")
    ax.set_title(f"task: {table[0]['task']}")
    fig.legend(loc="outside right upper", title="condition", frameon=False)
    return fig


@figure_function
def plot_task_difficulty(rows: RowSource) -> Figure:
    """Normalised dev error per task as horizontal bars, hardest task on top.

    Args:
        rows: task_difficulty rows (or a path to task_difficulty.csv).

    Returns:
        The Figure; bar widths are the ``normalised_error`` values sorted ascending from the
        bottom bar to the top (hardest on top), ties broken by task name.

    Raises:
        ValueError: a column is missing or the table is empty.
    """
    table = read_rows(rows)
    if not table:
        raise ValueError("task_difficulty rows: table is empty")
    require_columns(table, DIFFICULTY_COLUMNS, "task_difficulty rows")
    ordered = sorted(table, key=lambda r: (r["normalised_error"], str(r["task"])))
    fig, (ax,) = new_figure()
    fig.set_figheight(max(1.6, 0.25 * len(ordered) + 0.8))
    widths = [r["normalised_error"] for r in ordered]
    ax.barh(np.arange(len(ordered)), widths, color=PALETTE[0], gid="difficulty")
    ax.set_yticks(np.arange(len(ordered)), [str(r["task"]) for r in ordered])
    for i, row in enumerate(ordered):
        ax.text(row["normalised_error"], i, f" {row['dev_error']:.3f}", va="center", fontsize=7)
    ax.set_xlabel("normalised dev error (label: raw dev error)")
    ax.set_ylabel("intermediate task")
    return fig
