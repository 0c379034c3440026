"""Change-vs-accuracy observations built from tidy tables, on a case with known answers."""

from __future__ import annotations

import pytest
from scipy import stats

from xalign.pipeline.analysis import accuracy_changes, change_tables

LANGS = ["de", "fr", "ja", "ru"]


def tables():
    """Two conditions x 4 languages; at layer 1 delta CKA tracks the accuracy gain exactly."""
    zeroshot, alignment = [], []
    gains = {("easy", "de"): 0.10, ("easy", "fr"): 0.02, ("easy", "ja"): 0.05,
             ("easy", "ru"): -0.01, ("hard", "de"): 0.07, ("hard", "fr"): 0.00,
             ("hard", "ja"): 0.12, ("hard", "ru"): 0.03}
    noise = dict(zip(gains, [0.03, 0.01, 0.06, 0.00, 0.02, 0.05, 0.01, 0.04], strict=True))
    for lang in LANGS:
        zeroshot.append({"model": "m", "condition": "none", "seed": 0, "task": "t",
                         "language": lang, "metric": "accuracy", "value": 0.5})
        for layer in (0, 1):
            alignment.append({"model": "m", "condition": "easy", "seed": 0, "phase": 0,
                              "language": lang, "layer": layer, "metric": "cka_en_xx",
                              "value": 0.6})
            alignment.append({"model": "m", "condition": "hard", "seed": 0, "phase": 0,
                              "language": lang, "layer": layer, "metric": "cka_en_xx",
                              "value": 0.6})
    for (cond, lang), gain in gains.items():
        zeroshot.append({"model": "m", "condition": cond, "seed": 0, "task": "t",
                         "language": lang, "metric": "accuracy", "value": 0.5 + gain})
        for layer, change in ((0, noise[(cond, lang)]), (1, 2 * gain)):
            alignment.append({"model": "m", "condition": cond, "seed": 0, "phase": 1,
                              "language": lang, "layer": layer, "metric": "cka_en_xx",
                              "value": 0.6 + change})
    return alignment, zeroshot, gains


def test_accuracy_change_is_relative_to_the_none_baseline():
    _, zeroshot, gains = tables()
    acc = accuracy_changes(zeroshot, "t")
    assert acc.keys() == {("m", c, 0, lang) for c, lang in gains}
    for (cond, lang), gain in gains.items():
        assert acc[("m", cond, 0, lang)] == pytest.approx(gain)


def test_correlations_per_layer_match_scipy():
    alignment, zeroshot, gains = tables()
    corr, points = change_tables(alignment, zeroshot, "t", phases=(1,), n_boot=200)
    rows = {r["layer"]: r for r in corr if r["measure"] == "delta_cka_en_xx_p1"}
    assert rows[1]["pearson"] == pytest.approx(1.0) and rows[1]["n"] == 8
    layer0 = [p for p in points if p["measure"] == "delta_cka_en_xx_p1" and p["layer"] == 0]
    x = [p["change"] for p in layer0]
    y = [p["accuracy_change"] for p in layer0]
    assert rows[0]["pearson"] == pytest.approx(stats.pearsonr(x, y)[0])
    assert rows[0]["spearman"] == pytest.approx(stats.spearmanr(x, y)[0])
    # measures without data (Tatoeba, BUCC, CKA to phase 0) produce no rows
    assert {r["measure"] for r in corr} == {"delta_cka_en_xx_p1"}
