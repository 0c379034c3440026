"""Change vs accuracy scatter: points, printed statistics, OLS line and band."""

from __future__ import annotations

import numpy as np
import pytest
from figrows import inside_figure
from scipy import stats

from figures.change import ols_band, plot_change_vs_accuracy


def point_rows() -> list[dict]:
    """One point per checkpoint (changes already averaged over languages)."""
    rows = []
    for i, (c, x, y) in enumerate([("easy", 0.1, 1.0), ("hard", 0.4, 2.5), ("easy", 0.2, 0.5),
                                   ("hard", 0.8, 3.0), ("random", 0.5, 2.0)]):
        rows.append({"model": "tiny", "target": "t", "measure": "delta_cka_en_xx", "layer": 2,
                     "condition": c, "inter_task": "x", "seed": i, "change": x,
                     "accuracy_change": y})
    rows.append({**rows[0], "layer": 3, "change": 9.0})  # another layer: must not be drawn
    return rows


def corr_row(layer, pearson, lo, hi, spearman, s_lo, s_hi, analysis="between_checkpoint"):
    return {"model": "tiny", "target": "t", "analysis": analysis, "measure": "delta_cka_en_xx",
            "layer": layer, "pearson": pearson, "pearson_lo": lo, "pearson_hi": hi,
            "spearman": spearman, "spearman_lo": s_lo, "spearman_hi": s_hi, "p_value": 0.034,
            "n_checkpoints": 5, "n_seeds": 5}


CORR = [
    corr_row(2, 0.912, 0.2, 0.99, 0.9, -0.1, 1.0),
    corr_row(3, 0.1, -0.5, 0.6, 0.0, -0.6, 0.6),
    corr_row(2, 0.3, 0.0, 0.5, 0.2, 0.1, 0.3, analysis="within_language"),  # not this plot
]


def test_scatter_points_and_statistics_come_from_the_tables():
    fig = plot_change_vs_accuracy(point_rows(), CORR, measure="delta_cka_en_xx", layer=2)
    ax = fig.axes[0]
    offsets = {c.get_gid(): c.get_offsets().data.tolist() for c in ax.collections
               if (c.get_gid() or "").startswith("points:")}
    assert offsets == {"points:random": [[0.5, 2.0]],
                       "points:easy": [[0.1, 1.0], [0.2, 0.5]],
                       "points:hard": [[0.4, 2.5], [0.8, 3.0]]}
    text = next(t for t in ax.texts if t.get_gid() == "stats").get_text()
    assert text == ("Pearson r = 0.91 [0.20, 0.99]\nSpearman \u03c1 = 0.90 [-0.10, 1.00], "
                    "p = 0.034\nn = 5 checkpoints, 5 seeds")
    ols = next(line for line in ax.get_lines() if line.get_gid() == "ols")
    x = np.array([0.1, 0.4, 0.2, 0.8, 0.5])
    y = np.array([1.0, 2.5, 0.5, 3.0, 2.0])
    slope, intercept = np.polyfit(x, y, 1)
    np.testing.assert_allclose(ols.get_ydata(), intercept + slope * ols.get_xdata(), atol=1e-12)
    assert ax.get_xlabel() == "representation change\ndelta_cka_en_xx, layer 2"
    assert inside_figure(fig, ax.xaxis.label) and inside_figure(fig, ax.yaxis.label)
    assert ax.get_ylabel() == "\u0394 zero-shot accuracy (points)"
    # The statistics sit in headroom above every point and the band.
    assert ax.get_ylim()[1] > 3.0 + 0.3 * (3.0 - 0.5)


def test_ols_band_matches_brute_force_formula():
    rng = np.random.default_rng(0)
    x = rng.normal(size=12)
    y = 2.0 * x + rng.normal(size=12)
    grid = np.array([x.mean(), x.max()])
    fit, lower, upper = ols_band(x, y, grid)
    result = stats.linregress(x, y)
    np.testing.assert_allclose(fit, result.intercept + result.slope * grid, atol=1e-10)
    # At x = mean(x) the band half-width is t * s / sqrt(n); s from the residuals.
    resid = y - (result.intercept + result.slope * x)
    s = np.sqrt(np.sum(resid**2) / 10)
    half = stats.t.ppf(0.975, 10) * s / np.sqrt(12)
    np.testing.assert_allclose(upper[0] - fit[0], half, rtol=1e-10)
    # Away from the mean the band widens; for exact data it collapses to the line.
    assert upper[1] - lower[1] > upper[0] - lower[0]
    _, lo, hi = ols_band(np.arange(5.0), 3 * np.arange(5.0) + 1, np.arange(5.0))
    np.testing.assert_allclose(hi - lo, 0, atol=1e-9)


def test_missing_correlation_row_or_points_raise():
    with pytest.raises(ValueError, match="expected 1 row for measure='delta_cka_en_xx', layer=2"):
        plot_change_vs_accuracy(point_rows(), CORR[1:], measure="delta_cka_en_xx", layer=2)
    with pytest.raises(ValueError, match="no rows for measure='cka_vs_phase0'"):
        plot_change_vs_accuracy(point_rows(), CORR, measure="cka_vs_phase0", layer=2)


def test_long_measure_names_are_not_clipped():
    rows = [{**r, "measure": "delta_tatoeba_en2xx_dedup_p2"} for r in point_rows()]
    corr = [{**c, "measure": "delta_tatoeba_en2xx_dedup_p2"} for c in CORR]
    fig = plot_change_vs_accuracy(rows, corr, measure="delta_tatoeba_en2xx_dedup_p2", layer=2)
    ax = fig.axes[0]
    assert inside_figure(fig, ax.xaxis.label)
    assert inside_figure(fig, next(t for t in ax.texts if t.get_gid() == "stats"))


def test_two_points_draw_no_fit():
    points = [r for r in point_rows() if r["layer"] == 2][:2]
    fig = plot_change_vs_accuracy(points, CORR, measure="delta_cka_en_xx", layer=2)
    assert not [line for line in fig.axes[0].get_lines() if line.get_gid() == "ols"]
