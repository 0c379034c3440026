"""The scorer-agreement heatmap shows the seed means of difficulty_agreement rows."""

from __future__ import annotations

import pytest

from figures.agreement import plot_scorer_agreement


def rows():
    out = []
    for seed, (rho, hard) in enumerate(((0.2, 0.5), (0.4, 0.7))):
        for a, b, scale in (("loss", "aum", 1.0), ("loss", "forgetting", -1.0),
                            ("aum", "forgetting", 0.5)):
            out.append({"model": "m", "seed": seed, "task": "t", "scorer_a": a, "scorer_b": b,
                        "spearman": scale * rho, "easy_jaccard": 0.1, "hard_jaccard": hard,
                        "n": 30})
    return out


def test_cells_are_the_seed_means_and_the_diagonal_is_one():
    fig = plot_scorer_agreement(rows())
    ax = fig.axes[0]
    image = ax.get_images()[0].get_array()
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(names) == ["aum", "forgetting", "loss"]
    at = {(a, b): image[names.index(a), names.index(b)] for a in names for b in names}
    assert at["loss", "aum"] == pytest.approx(0.3) == at["aum", "loss"]
    assert at["loss", "forgetting"] == pytest.approx(-0.3)
    assert at["aum", "forgetting"] == pytest.approx(0.15)
    assert [at[n, n] for n in names] == [1, 1, 1]
    hard = plot_scorer_agreement(rows(), value="hard_jaccard").axes[0]
    names = [t.get_text() for t in hard.get_yticklabels()]
    assert hard.get_images()[0].get_array()[names.index("loss"), names.index("aum")] == \
        pytest.approx(0.6)


def test_mixing_tasks_or_an_unknown_value_is_refused():
    mixed = rows() + [{**rows()[0], "task": "other"}]
    with pytest.raises(ValueError, match="task"):
        plot_scorer_agreement(mixed)
    with pytest.raises(ValueError, match="value 'kendall'"):
        plot_scorer_agreement(rows(), value="kendall")
