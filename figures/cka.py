"""Layer x layer CKA heatmaps from ``results/cka_grid.csv`` rows.

Rows: model, condition, inter_task, seed, phase_a, phase_b, train_task, language, layer_a,
layer_b, value.
Linear CKA (Kornblith et al. 2019) lies in [0, 1], so every colour bar is fixed to [0, 1]
and grids from different panels or figures are directly comparable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from figures.style import figure_function, integer_ticks, new_figure
from figures.tables import (
    Rows,
    RowSource,
    check_single,
    distinct,
    mean_by,
    read_rows,
    require_columns,
    select,
)

# the columns a grid is drawn from; `xalign cka` writes grids without an inter_task
DRAWN = ("condition", "phase_a", "phase_b", "language", "layer_a", "layer_b", "value")
CMAP = "viridis"  # perceptually uniform and colour-blind safe


def grid_matrix(rows: Rows) -> tuple[np.ndarray, list[int], list[int]]:
    """Arrange one grid's rows (seeds averaged) as a matrix.

    Args:
        rows: cka_grid rows of a single slice (one model, condition, phase pair, language).

    Returns:
        ``(matrix, layers_a, layers_b)``; matrix is ``(len(layers_a), len(layers_b))`` with
        ``matrix[i, j]`` the CKA between layer ``layers_a[i]`` and ``layers_b[j]``.

    Raises:
        ValueError: a column other than the layers and seed varies, or a cell is missing.
    """
    check_single(rows, {"layer_a", "layer_b", "seed", "value"}, "cka_grid rows")
    cells = mean_by(rows, ("layer_a", "layer_b"))
    layers_a, layers_b = distinct(cells, "layer_a"), distinct(cells, "layer_b")
    matrix = np.full((len(layers_a), len(layers_b)), np.nan)
    for cell in cells:
        matrix[layers_a.index(cell["layer_a"]), layers_b.index(cell["layer_b"])] = cell["value"]
    if np.isnan(matrix).any():
        i, j = np.argwhere(np.isnan(matrix))[0]
        raise ValueError(
            f"cka_grid rows: no value for layer_a={layers_a[i]}, layer_b={layers_b[j]}"
        )
    return matrix, layers_a, layers_b


def _draw_grid(ax: Axes, rows: Rows, title: str | None) -> AxesImage:
    matrix, layers_a, layers_b = grid_matrix(rows)
    image = ax.imshow(matrix, origin="lower", cmap=CMAP, vmin=0.0, vmax=1.0,
                      interpolation="nearest", aspect="equal",
                      extent=(layers_b[0] - 0.5, layers_b[-1] + 0.5,
                              layers_a[0] - 0.5, layers_a[-1] + 0.5))
    first = rows[0]
    side = "" if first["language"] == "en" else f", {first['language']}"
    ax.set_xlabel(f"layer, phase {first['phase_b']}{side} (hidden_states index)")
    ax.set_ylabel(f"layer, phase {first['phase_a']}{side} (hidden_states index)")
    integer_ticks(ax, "x")
    integer_ticks(ax, "y")
    ax.set_title(title if title is not None else
                 f"{first['condition']}: phase {first['phase_a']} vs {first['phase_b']}")
    return image


def _grid_rows(table: Rows, where: Mapping[str, Any] | None) -> Rows:
    rows = select(table, where)
    if not rows:
        raise ValueError(f"cka_grid rows: no rows match where={dict(where or {})}")
    return rows


@figure_function
def plot_cka_heatmap(
    grid_rows: RowSource,
    *,
    where: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> Figure:
    """One layer x layer linear-CKA grid with a colour bar fixed to [0, 1].

    Args:
        grid_rows: cka_grid rows (or a path to cka_grid.csv).
        where: column values selecting one grid, e.g.
            ``{"condition": "easy", "phase_a": 0, "phase_b": 1, "language": "en"}``.
        title: axes title; default names the condition and the two phases.

    Returns:
        The Figure; the image's array equals the grid (rows = layer_a, columns = layer_b).

    Raises:
        ValueError: nothing matches, several grids match, or a cell is missing.
    """
    table = read_rows(grid_rows)
    require_columns(table, DRAWN, "cka_grid rows")
    fig, (ax,) = new_figure()
    image = _draw_grid(ax, _grid_rows(table, where), title)
    fig.colorbar(image, ax=ax, label="linear CKA")
    return fig


@figure_function
def plot_cka_grids(
    grid_rows: RowSource,
    panels: Sequence[Mapping[str, Any]],
    *,
    ncols: int = 2,
    titles: Sequence[str] | None = None,
) -> Figure:
    """Several CKA grids side by side (e.g. phase 0 vs 1 and 0 vs 2, easy and hard rows).

    Args:
        grid_rows: cka_grid rows (or a path to cka_grid.csv).
        panels: one ``where`` mapping per panel, in reading order (row-major).
        ncols: panels per row.
        titles: one title per panel; default names condition and phases.

    Returns:
        The Figure with one shared colour bar fixed to [0, 1].

    Raises:
        ValueError: no panels, a panel matches nothing or several grids.
    """
    if not panels:
        raise ValueError("plot_cka_grids: panels is empty; expected at least one where-mapping")
    if titles is not None and len(titles) != len(panels):
        raise ValueError(f"plot_cka_grids: {len(titles)} titles for {len(panels)} panels")
    table = read_rows(grid_rows)
    require_columns(table, DRAWN, "cka_grid rows")
    ncols = max(1, min(ncols, len(panels)))
    nrows = -(-len(panels) // ncols)
    fig, axes = new_figure(ncols, nrows=nrows, double=ncols > 1)
    for k, (ax, where) in enumerate(zip(axes, panels, strict=False)):
        image = _draw_grid(ax, _grid_rows(table, where), titles[k] if titles else None)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.colorbar(image, ax=list(axes[: len(panels)]), label="linear CKA")
    return fig
