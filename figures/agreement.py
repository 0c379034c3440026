"""How far difficulty measures agree: a scorer x scorer heatmap (difficulty_agreement rows).

Rows: model, seed, task, scorer_a, scorer_b, spearman, easy_jaccard, hard_jaccard, n; one
per pair of scorers. Seeds are averaged; the diagonal is 1 by definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from figures.style import figure_function, new_figure
from figures.tables import RowSource, check_single, mean_by, read_rows, require_columns, select

COLUMNS = ("model", "seed", "task", "scorer_a", "scorer_b", "spearman", "easy_jaccard",
           "hard_jaccard", "n")
VALUES = {"spearman": "Spearman rank correlation of the scores",
          "hard_jaccard": "overlap (Jaccard) of the hard thirds",
          "easy_jaccard": "overlap (Jaccard) of the easy thirds"}


@figure_function
def plot_scorer_agreement(rows: RowSource, *, value: str = "spearman",
                          where: Mapping[str, Any] | None = None) -> Figure:
    """Mean over seeds of ``value`` for every pair of difficulty scorers of one task.

    Args:
        rows: difficulty_agreement rows (or a path to the CSV).
        value: spearman, easy_jaccard or hard_jaccard.
        where: values selecting one model and task.

    Raises:
        ValueError: unknown value, missing column, nothing selected, or several models or
            tasks remain.
    """
    if value not in VALUES:
        raise ValueError(f"value {value!r}: expected one of {sorted(VALUES)}")
    table = select(read_rows(rows), where)
    if not table:
        raise ValueError(f"difficulty_agreement rows: no rows (where={dict(where or {})})")
    require_columns(table, COLUMNS, "difficulty_agreement rows")
    check_single(table, set(table[0]) - {"model", "task"}, "difficulty_agreement rows")
    means = mean_by(table, ("scorer_a", "scorer_b"), value)
    names = list(dict.fromkeys([r["scorer_a"] for r in means] + [r["scorer_b"] for r in means]))
    grid = np.eye(len(names))
    for r in means:
        i, j = names.index(r["scorer_a"]), names.index(r["scorer_b"])
        grid[i, j] = grid[j, i] = r[value]
    fig, (ax,) = new_figure()
    fig.set_figheight(max(2.4, 0.35 * len(names) + 1.2))
    image = ax.imshow(grid, vmin=-1 if value == "spearman" else 0, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=6)
    seeds = len({r["seed"] for r in table})
    fig.colorbar(image, ax=ax, shrink=0.8, label=f"{VALUES[value]}\n(mean of {seeds} seeds)")
    ax.set_title(f"{table[0]['task']}", fontsize=8)
    return fig
