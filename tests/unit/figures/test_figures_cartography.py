"""Data map: offsets are (variability, confidence), colours are correctness on [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest

from figures.cartography import plot_cartography_map


def test_map_draws_table_values_with_regions():
    rows = [{"id": i, "label": i % 2, "confidence": c, "variability": v, "correctness": k,
             "subset": s}
            for i, (c, v, k, s) in enumerate([(0.95, 0.05, 1.0, "easy"), (0.1, 0.05, 0.0, "hard"),
                                              (0.5, 0.45, 0.6, "ambiguous"), (0.7, 0.2, 0.8, "")])]
    fig = plot_cartography_map(rows, title="xnli")
    ax, cax = fig.axes
    points = next(c for c in ax.collections if c.get_gid() == "examples")
    np.testing.assert_allclose(points.get_offsets(), [[0.05, 0.95], [0.05, 0.1], [0.45, 0.5],
                                                      [0.2, 0.7]])
    np.testing.assert_allclose(points.get_array(), [1.0, 0.0, 0.6, 0.8])
    assert points.get_clim() == (0.0, 1.0) and cax.get_ylim() == (0.0, 1.0)
    regions = {t.get_text() for t in ax.texts if (t.get_gid() or "").startswith("region:")}
    assert regions == {"easy-to-learn", "hard-to-learn", "ambiguous"}
    assert ax.get_xlabel().startswith("variability") and ax.get_ylabel().startswith("confidence")
    one_label = plot_cartography_map(rows, where={"label": 1})
    assert len(one_label.axes[0].collections[0].get_offsets()) == 2
    with pytest.raises(ValueError, match="missing column 'confidence'"):
        plot_cartography_map([{"id": 0, "label": 0}])
