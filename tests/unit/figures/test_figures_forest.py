"""Forest plot: estimates and intervals are the table's, the primary row stands out."""

from __future__ import annotations

import math

import numpy as np
import pytest
from figrows import inside_figure, write_csv

from figures.forest import p_text, plot_contrast_forest


def contrast(metric, layer, estimate, low, high, p, p_adj, role="exploratory", n=5):
    return {"model": "tiny", "target": "", "phase": 1, "metric": metric, "layer": layer,
            "contrast": "hard-easy", "inter_task": "x", "estimate": estimate, "ci_low": low,
            "ci_high": high, "p_value": p, "p_adjusted": p_adj, "n_seeds": n, "role": role}


ROWS = [
    contrast("tatoeba_en2xx", 12, 0.012, -0.004, 0.028, 0.1875, 0.5, role="primary"),
    contrast("cka_en_xx", 12, -0.02, -0.05, 0.01, 0.25, 0.75),
    {**contrast("zeroshot_accuracy", None, 0.03, 0.01, 0.05, 0.0625, 0.0625, role="primary"),
     "target": "t", "phase": 2},
]


def test_forest_draws_table_values_top_down_and_highlights_primary():
    fig = plot_contrast_forest(ROWS)
    ax = fig.axes[0]
    lines = {line.get_gid(): line for line in ax.get_lines() if line.get_gid()}
    assert set(lines) == {"primary:0", "ci:0", "estimate:1", "ci:1", "primary:2", "ci:2"}
    for i, row in enumerate(ROWS):
        marker = lines[f"{'primary' if row['role'] == 'primary' else 'estimate'}:{i}"]
        assert marker.get_xdata()[0] == row["estimate"]
        np.testing.assert_allclose(lines[f"ci:{i}"].get_xdata(), [row["ci_low"], row["ci_high"]])
        assert marker.get_ydata()[0] == len(ROWS) - 1 - i  # first row on top
    assert lines["primary:0"].get_marker() == "D" and lines["estimate:1"].get_marker() == "o"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    # phase and target vary across the rows, so they are named; layer only where it exists
    assert labels == ["hard-easy: tatoeba_en2xx L12 p1", "hard-easy: cka_en_xx L12 p1",
                      "hard-easy: zeroshot_accuracy p2 t"]
    assert ax.get_yticklabels()[0].get_fontweight() == "bold"
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["p = 0.188, n = 5", "Holm p = 0.75, n = 5", "p = 0.0625, n = 5"]
    for artist in (ax.xaxis.label, *ax.texts, *ax.get_yticklabels()):
        assert inside_figure(fig, artist)


def test_forest_reads_csv_with_empty_cells_and_one_seed(tmp_path):
    one = contrast("tatoeba_en2xx", 3, 0.01, "", "", "", "", role="primary", n=1)
    path = write_csv(tmp_path / "contrasts.csv", [one, contrast("cka_en_xx", 3, 0.0, -0.1, 0.1,
                                                                1.0, 1.0)])
    fig = plot_contrast_forest(path)
    ax = fig.axes[0]
    assert not [line for line in ax.get_lines() if line.get_gid() == "ci:0"]
    assert [t.get_text() for t in ax.texts] == ["n = 1", "Holm p = 1, n = 5"]
    assert p_text({"n_seeds": 1.0, "role": "primary", "p_value": math.nan}) == "n = 1"
    with pytest.raises(ValueError, match="no rows match"):
        plot_contrast_forest(path, where={"model": "other"})
