"""Bar charts: zero-shot score per language (``zeroshot.csv``) and task difficulty."""

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
    sort_key,
)

ZEROSHOT_COLUMNS = ("model", "condition", "inter_task", "seed", "train_task", "target",
                    "language", "metric", "value", "n", "ci_low", "ci_high")
DIFFICULTY_COLUMNS = ("model", "seed", "task", "dev_score", "normalised_error", "rank")


def _finite_mean(values: list[float]) -> float:
    finite = [v for v in values if isinstance(v, int | float) and np.isfinite(v)]
    return float(np.mean(finite)) if len(finite) == len(values) and finite else np.nan


@figure_function
def plot_language_bars(
    rows: RowSource, *, metric: str = "accuracy", where: Mapping[str, Any] | None = None
) -> Figure:
    """Zero-shot score per language: one bar per condition, test-set interval, seed dots.

    Bar: mean over seeds. Black line: the test-set interval of one checkpoint (Wilson for
    accuracy, from ``ci_low``/``ci_high``), averaged over seeds; absent when the table has
    none (F1, exact match). Dots: the individual seeds, i.e. the seed spread.

    Args:
        rows: zeroshot rows (or a path to zeroshot.csv).
        metric: the zero-shot metric, e.g. ``"accuracy"``.
        where: values selecting one slice, e.g. ``{"target": "xnli", "model": "xlmr"}``.

    Returns:
        The Figure; bar containers are labelled with the condition (its inter_task in
        brackets when several are drawn), bars in language order; interval lines have gid
        ``test_ci:<label>`` and seed dots ``seeds:<label>``.

    Raises:
        ValueError: no rows, or target/model still vary after ``where``.
    """
    table = read_rows(rows)
    require_columns(table, ZEROSHOT_COLUMNS, "zeroshot rows")
    table = select(table, where, metric=metric)
    if not table:
        raise ValueError(f"zeroshot rows: no rows with metric={metric!r}, where={where}")
    check_single(table, {"condition", "inter_task", "seed", "language", "value", "n", "ci_low",
                         "ci_high"}, "zeroshot rows")
    several = len({r["inter_task"] for r in table if r["inter_task"]}) > 1
    cells: dict[tuple[str, str], list[dict]] = {}
    for row in table:
        label = (f"{row['condition']} ({row['inter_task']})" if several and row["inter_task"]
                 else str(row["condition"]))
        cells.setdefault((label, row["language"]), []).append(row)
    languages = distinct(table, "language")
    labels = sorted({label for label, _ in cells},
                    key=lambda c: sort_key("condition", c.split(" (")[0]) + (c,))
    fig, (ax,) = new_figure(double=len(languages) * len(labels) > 16)
    width = 0.8 / len(labels)
    for k, label in enumerate(labels):
        x = np.arange(len(languages)) + (k - (len(labels) - 1) / 2) * width
        chosen = [cells.get((label, lang), []) for lang in languages]
        heights = [np.mean([r["value"] for r in c]) if c else np.nan for c in chosen]
        ax.bar(x, heights, width, label=label, color=PALETTE[k % len(PALETTE)],
               gid=f"bars:{label}")
        low = [_finite_mean([r["ci_low"] for r in c]) if c else np.nan for c in chosen]
        high = [_finite_mean([r["ci_high"] for r in c]) if c else np.nan for c in chosen]
        if np.isfinite(low).any():
            ax.vlines(x, low, high, color="black", linewidth=1.0, gid=f"test_ci:{label}")
        dots = [(xi, r["value"]) for xi, c in zip(x, chosen, strict=True) for r in c]
        ax.scatter([d[0] for d in dots], [d[1] for d in dots], s=5, color="white",
                   edgecolors="black", linewidths=0.4, zorder=3, gid=f"seeds:{label}")
    ax.set_xticks(np.arange(len(languages)), [str(lang) for lang in languages])
    ax.set_xlabel("language (ISO 639-1)")
    ax.set_ylabel(f"zero-shot {metric} ({unit_of([r['value'] for r in table])})")
    ax.set_title(f"target: {table[0]['target']}")
    fig.legend(loc="outside right upper", title="condition", frameon=False)
    return fig


@figure_function
def plot_task_difficulty(rows: RowSource, *, where: Mapping[str, Any] | None = None) -> Figure:
    """Normalised dev error per task (mean over seeds) as horizontal bars, hardest on top.

    Args:
        rows: task_difficulty rows (or a path to task_difficulty.csv).
        where: values selecting one model, e.g. ``{"model": "xlmr"}``.

    Returns:
        The Figure; bar widths are the seed means of ``normalised_error`` sorted ascending
        from the bottom bar to the top (hardest on top), ties broken by task name; each bar
        is labelled with the mean dev score.

    Raises:
        ValueError: a column is missing, nothing matches, or several models remain.
    """
    table = select(read_rows(rows), where)
    if not table:
        raise ValueError(f"task_difficulty rows: no rows (where={dict(where or {})})")
    require_columns(table, DIFFICULTY_COLUMNS, "task_difficulty rows")
    check_single(table, set(table[0]) - {"model"}, "task_difficulty rows")
    error = {r["task"]: r["normalised_error"] for r in mean_by(table, ("task",),
                                                                "normalised_error")}
    score = {r["task"]: r["dev_score"] for r in mean_by(table, ("task",), "dev_score")}
    ordered = sorted(error, key=lambda task: (error[task], str(task)))
    fig, (ax,) = new_figure()
    fig.set_figheight(max(1.6, 0.25 * len(ordered) + 0.8))
    ax.barh(np.arange(len(ordered)), [error[t] for t in ordered], color=PALETTE[0],
            gid="difficulty")
    ax.set_yticks(np.arange(len(ordered)), [str(t) for t in ordered])
    for i, task in enumerate(ordered):
        ax.text(error[task], i, f" {score[task]:.3f}", va="center", fontsize=7)
    n_seeds = len({r["seed"] for r in table})
    ax.set_xlabel(f"normalised dev error, mean of {n_seeds} seeds\n(label: dev score)")
    ax.set_ylabel("intermediate task")
    return fig
