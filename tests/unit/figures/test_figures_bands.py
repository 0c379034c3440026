"""Condition curves and condition CKA: seed means and t-bands equal hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from figrows import alignment_rows, alignment_value, inside_figure
from scipy import stats

from figures.bands import plot_condition_cka, plot_condition_curves, seed_band


def _gid(ax, prefix):
    found = {a.get_gid().split(":", 1)[1]: a for a in [*ax.get_lines(), *ax.collections]
             if (a.get_gid() or "").startswith(prefix)}
    return found


def test_seed_band_is_the_t_interval():
    values = [0.2, 0.35, 0.3]
    mean, low, high = seed_band(values)
    ref = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert mean == pytest.approx(np.mean(values)) and (low, high) == pytest.approx(ref)
    one = seed_band([0.4])
    assert one[0] == 0.4 and math.isnan(one[1]) and math.isnan(one[2])


def test_condition_curves_average_languages_per_seed_then_band_over_seeds():
    fig = plot_condition_curves(alignment_rows(), metric="tatoeba_en2xx", phase=1)
    ax = fig.axes[0]
    curves, bands = _gid(ax, "curve:"), _gid(ax, "band:")
    assert list(curves) == ["none", "easy", "hard"]
    for condition in ("none", "easy", "hard"):
        per_seed = np.array([[np.mean([alignment_value(condition, s, 1, lang, k)
                                       for lang in ("de", "fr", "ru")]) for k in range(4)]
                             for s in (0, 1)])  # (seeds, layers)
        np.testing.assert_allclose(curves[condition].get_ydata(), per_seed.mean(axis=0),
                                   atol=1e-12)
        half = stats.t.ppf(0.975, 1) * per_seed.std(axis=0, ddof=1) / math.sqrt(2)
        ys = bands[condition].get_paths()[0].vertices[:, 1]
        np.testing.assert_allclose([ys.min(), ys.max()],
                                   [(per_seed.mean(0) - half).min(),
                                    (per_seed.mean(0) + half).max()], atol=1e-12)
    assert fig.get_suptitle() == ("phase 1 (after intermediate)\nmean of 3 languages; band: "
                                  "95% t-interval, 2 seeds")
    for artist in (ax.xaxis.label, ax.yaxis.label, fig._suptitle, fig.legends[0]):
        assert inside_figure(fig, artist)


def test_condition_curves_need_one_train_task_and_label_several_inter_tasks():
    rows = alignment_rows() + [{**r, "train_task": "u"} for r in alignment_rows()
                               if r["phase"] == 2]
    with pytest.raises(ValueError, match="'train_task' has several values"):
        plot_condition_curves(rows, metric="tatoeba_en2xx", phase=2)
    fig = plot_condition_curves(rows, metric="tatoeba_en2xx", phase=2, where={"train_task": "u"})
    assert "1 seed" not in fig.get_suptitle()
    two = alignment_rows() + [{**r, "inter_task": "y", "value": r["value"] + 1}
                              for r in alignment_rows() if r["condition"] == "hard"]
    fig = plot_condition_curves([r for r in two if r["seed"] == 0], metric="tatoeba_en2xx",
                                phase=1)
    assert list(_gid(fig.axes[0], "curve:")) == ["none", "easy (x)", "hard (x)", "hard (y)"]
    assert not _gid(fig.axes[0], "band:")  # one seed: no band
    assert "1 seed: no band" in fig.get_suptitle()


def cka_rows():
    return [{"model": "tiny", "seed": s, "phase": 1, "train_task": "", "condition_a": "easy",
             "inter_task_a": "x", "condition_b": b, "inter_task_b": "x", "language": "en",
             "layer": k, "metric": "cka", "value": 1.0 - 0.1 * k - 0.05 * (b == "random")
             + 0.01 * s}
            for s in (0, 1, 2) for b in ("hard", "random") for k in range(3)]


def test_condition_cka_lines_per_pair_with_seed_bands():
    fig = plot_condition_cka(cka_rows())
    ax = fig.axes[0]
    curves = _gid(ax, "curve:")
    assert list(curves) == ["easy vs hard", "easy vs random"]
    np.testing.assert_allclose(curves["easy vs random"].get_ydata(),
                               [1.0 - 0.1 * k - 0.05 + 0.01 for k in range(3)], atol=1e-12)
    assert ax.get_ylim() == (0.0, 1.02)
    assert ax.get_ylabel() == "cka between conditions"
    with pytest.raises(ValueError, match="'phase' has several values"):
        plot_condition_cka(cka_rows() + [{**cka_rows()[0], "phase": 2}])
