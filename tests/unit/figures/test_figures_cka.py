"""CKA heatmaps: the image is the grid, the colour bar spans [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest

from figures.cka import plot_cka_grids, plot_cka_heatmap


def cka_value(condition: str, phase_b: int, a: int, b: int, seed: int) -> float:
    return round(0.05 * a + 0.1 * b + 0.2 * (condition == "hard") + 0.05 * phase_b
                 + 0.01 * seed, 6)


def grid_rows() -> list[dict]:
    return [
        {"model": "tiny", "condition": c, "inter_task": "x", "seed": s, "phase_a": 0,
         "phase_b": p, "train_task": "t" if p == 2 else "", "language": "en", "layer_a": a,
         "layer_b": b, "value": cka_value(c, p, a, b, s)}
        for c in ("easy", "hard") for s in (0, 1) for p in (1, 2)
        for b in range(3) for a in range(3)
    ]


def expected_grid(condition: str, phase_b: int) -> np.ndarray:
    return np.array([[np.mean([cka_value(condition, phase_b, a, b, s) for s in (0, 1)])
                      for b in range(3)] for a in range(3)])


def test_heatmap_image_equals_grid_and_colour_bar_is_fixed():
    fig = plot_cka_heatmap(grid_rows(), where={"condition": "hard", "phase_b": 2})
    ax, cax = fig.axes
    image = ax.images[0]
    np.testing.assert_allclose(image.get_array(), expected_grid("hard", 2), atol=1e-12)
    assert image.get_clim() == (0.0, 1.0)
    assert cax.get_ylim() == (0.0, 1.0)
    assert cax.get_ylabel() == "linear CKA"
    assert image.origin == "lower"
    assert ax.get_xlabel() == "layer, phase 2 (hidden_states index)"
    assert ax.get_ylabel() == "layer, phase 0 (hidden_states index)"
    assert ax.get_title() == "hard: phase 0 vs 2"
    # Cell centres sit on integer layer indices.
    assert image.get_extent() == [-0.5, 2.5, -0.5, 2.5]


def test_heatmap_rejects_mixed_or_incomplete_grids():
    with pytest.raises(ValueError, match="'condition' has several values"):
        plot_cka_heatmap(grid_rows(), where={"phase_b": 1})
    holey = [r for r in grid_rows() if not (r["layer_a"] == 1 and r["layer_b"] == 2)]
    with pytest.raises(ValueError, match="no value for layer_a=1, layer_b=2"):
        plot_cka_heatmap(holey, where={"condition": "easy", "phase_b": 1})
    with pytest.raises(ValueError, match="no rows match"):
        plot_cka_heatmap(grid_rows(), where={"condition": "medium"})


def test_grids_layout_one_panel_per_where_and_one_colour_bar():
    panels = [{"condition": c, "phase_b": p} for c in ("easy", "hard") for p in (1, 2)]
    fig = plot_cka_grids(grid_rows(), panels, ncols=2)
    heatmaps = [ax for ax in fig.axes if ax.images]
    assert len(heatmaps) == 4
    for ax, where in zip(heatmaps, panels, strict=True):
        np.testing.assert_allclose(ax.images[0].get_array(),
                                   expected_grid(where["condition"], where["phase_b"]),
                                   atol=1e-12)
        assert ax.images[0].get_clim() == (0.0, 1.0)
    colour_bars = [ax for ax in fig.axes if ax.get_ylabel() == "linear CKA"]
    assert len(colour_bars) == 1 and colour_bars[0].get_ylim() == (0.0, 1.0)
    with pytest.raises(ValueError, match="panels is empty"):
        plot_cka_grids(grid_rows(), [])


def test_heatmap_of_a_standalone_grid_without_checkpoint_columns():
    # `xalign cka` writes grids of one model pair: no inter_task or train_task
    rows = [{k: v for k, v in r.items() if k not in ("inter_task", "train_task")}
            for r in grid_rows() if r["condition"] == "easy" and r["phase_b"] == 1]
    fig = plot_cka_heatmap(rows)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), expected_grid("easy", 1),
                               atol=1e-12)
