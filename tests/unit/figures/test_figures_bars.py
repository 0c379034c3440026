"""Zero-shot language bars and task difficulty bars: heights equal the table."""

from __future__ import annotations

import math

import numpy as np
import pytest

from figures.bars import plot_language_bars, plot_task_difficulty


def zeroshot_rows() -> list[dict]:
    rows = []
    for c, base in (("hard", 0.6), ("none", 0.4), ("easy", 0.5)):
        for s in (0, 1, 2):
            for lang, bump in (("avg", 0.0), ("fr", 0.1), ("de", 0.2)):
                rows.append({"model": "tiny", "condition": c, "seed": s, "task": "xnli",
                             "language": lang, "metric": "accuracy",
                             "value": base + bump + 0.01 * s, "n": 100})
    rows.append({**rows[0], "task": "pawsx"})
    return rows


def test_language_bars_heights_are_seed_means_in_display_order():
    fig = plot_language_bars(zeroshot_rows(), where={"task": "xnli"})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["de", "fr", "avg"]
    containers = {c.get_label(): c for c in ax.containers}
    assert list(containers) == ["none", "easy", "hard"]
    for condition, base in (("none", 0.4), ("easy", 0.5), ("hard", 0.6)):
        heights = [bar.get_height() for bar in containers[condition]]
        np.testing.assert_allclose(heights, [base + 0.2 + 0.01, base + 0.1 + 0.01, base + 0.01],
                                   atol=1e-12)
    assert ax.get_ylabel() == "zero-shot accuracy (fraction)"
    assert ax.get_xlabel().startswith("language")


def test_language_bars_missing_cell_is_empty_and_slices_are_not_mixed():
    rows = [r for r in zeroshot_rows() if not (r["condition"] == "easy" and r["language"] == "fr")]
    fig = plot_language_bars(rows, where={"task": "xnli"})
    easy = next(c for c in fig.axes[0].containers if c.get_label() == "easy")
    assert math.isnan(easy[1].get_height())
    with pytest.raises(ValueError, match="'task' has several values"):
        plot_language_bars(zeroshot_rows())


def test_task_difficulty_sorted_hardest_on_top():
    rows = [{"task": t, "budget_steps": 100, "dev_error": d, "normalised_error": e, "rank": r}
            for t, d, e, r in (("sst2", 0.1, 0.2, 3), ("hellaswag", 0.6, 0.9, 1),
                               ("mnli", 0.3, 0.5, 2))]
    fig = plot_task_difficulty(rows)
    ax = fig.axes[0]
    widths = [bar.get_width() for bar in ax.patches]
    assert widths == [0.2, 0.5, 0.9]  # bottom to top
    assert [t.get_text() for t in ax.get_yticklabels()] == ["sst2", "mnli", "hellaswag"]
    assert ax.get_xlabel().startswith("normalised dev error")
    with pytest.raises(ValueError, match="table is empty"):
        plot_task_difficulty([])
