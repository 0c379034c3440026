"""Zero-shot language bars and task difficulty bars: heights equal the table."""

from __future__ import annotations

import math

import numpy as np
import pytest

from figures.bars import plot_language_bars, plot_task_difficulty


def zeroshot_rows() -> list[dict]:
    rows = []
    for c, inter, base in (("hard", "x", 0.6), ("none", "", 0.4), ("easy", "x", 0.5)):
        for s in (0, 1, 2):
            for lang, bump in (("fr", 0.1), ("de", 0.2)):
                value = base + bump + 0.01 * s
                rows.append({"model": "tiny", "condition": c, "inter_task": inter, "seed": s,
                             "train_task": "xnli", "target": "xnli", "language": lang,
                             "metric": "accuracy", "value": value, "n": 100,
                             "ci_low": value - 0.05 - 0.01 * s, "ci_high": value + 0.04})
    rows.append({**rows[0], "target": "pawsx"})
    return rows


def _by_gid(ax, prefix):
    return {c.get_gid().split(":", 1)[1]: c for c in ax.collections
            if (c.get_gid() or "").startswith(prefix)}


def test_language_bars_heights_test_intervals_and_seed_dots():
    fig = plot_language_bars(zeroshot_rows(), where={"target": "xnli"})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["de", "fr"]
    containers = {c.get_label(): c for c in ax.containers}
    assert list(containers) == ["none", "easy", "hard"]
    intervals, dots = _by_gid(ax, "test_ci:"), _by_gid(ax, "seeds:")
    for condition, base in (("none", 0.4), ("easy", 0.5), ("hard", 0.6)):
        means = [base + 0.2 + 0.01, base + 0.1 + 0.01]  # seed means: seeds add 0, .01, .02
        heights = [bar.get_height() for bar in containers[condition]]
        np.testing.assert_allclose(heights, means, atol=1e-12)
        # interval: mean over seeds of ci_low (value - 0.05 - 0.01 s) and ci_high
        segments = intervals[condition].get_segments()
        np.testing.assert_allclose([seg[:, 1] for seg in segments],
                                   [[m - 0.06, m + 0.04] for m in means], atol=1e-12)
        ys = sorted(dots[condition].get_offsets()[:, 1])
        np.testing.assert_allclose(ys, sorted(base + b + 0.01 * s for b in (0.2, 0.1)
                                              for s in (0, 1, 2)), atol=1e-12)
    assert ax.get_ylabel() == "zero-shot accuracy (fraction)"
    assert ax.get_title() == "target: xnli"


def test_language_bars_without_intervals_missing_cells_and_mixed_slices():
    rows = [{**r, "ci_low": math.nan, "ci_high": math.nan, "metric": "f1"}
            for r in zeroshot_rows()
            if not (r["condition"] == "easy" and r["language"] == "fr")]
    fig = plot_language_bars(rows, metric="f1", where={"target": "xnli"})
    easy = next(c for c in fig.axes[0].containers if c.get_label() == "easy")
    assert math.isnan(easy[1].get_height())
    assert not _by_gid(fig.axes[0], "test_ci:")
    with pytest.raises(ValueError, match="'target' has several values"):
        plot_language_bars(zeroshot_rows())


def test_task_difficulty_seed_means_sorted_hardest_on_top():
    rows = [{"model": "m", "seed": s, "task": t, "format": "pair", "metric": "accuracy",
             "budget_steps": 100, "dev_score": 1 - e - 0.01 * s, "baseline_score": 0.5,
             "normalised_error": e + 0.02 * s, "rank": r}
            for s in (0, 1) for t, e, r in (("sst2", 0.2, 3), ("hellaswag", 0.9, 1),
                                            ("mnli", 0.5, 2))]
    fig = plot_task_difficulty(rows + [{**rows[0], "model": "other"}], where={"model": "m"})
    ax = fig.axes[0]
    widths = [bar.get_width() for bar in ax.patches]
    np.testing.assert_allclose(widths, [0.21, 0.51, 0.91])  # bottom to top
    assert [t.get_text() for t in ax.get_yticklabels()] == ["sst2", "mnli", "hellaswag"]
    assert [t.get_text() for t in ax.texts][0] == " 0.795"  # mean dev score of sst2
    assert ax.get_xlabel().startswith("normalised dev error, mean of 2 seeds")
    with pytest.raises(ValueError, match="no rows"):
        plot_task_difficulty([])
    with pytest.raises(ValueError, match="'model' has several values|several values"):
        plot_task_difficulty(rows + [{**rows[0], "model": "other"}])
