"""Contrast and change-vs-accuracy tables built from hand-made tidy tables (new schema)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from xalign.analysis.change import change_tables
from xalign.analysis.contrasts import contrast_rows, parse_contrast
from xalign.analysis.primary import Headline, change_measure, primary_layer
from xalign.config import load_config
from xalign.pipeline.analysis import analyse, zeroshot_intervals
from xalign.tables import SCHEMAS

T_975_2DF = 0.95 / math.sqrt(2 * 0.975 * 0.025)  # closed form of the t quantile, 2 df
HEAD = Headline("m", 1, {"tiny": 1})


def arow(cond, inter, seed, phase, lang, layer, value, *, metric="m", train_task=""):
    return {"model": "tiny", "condition": cond, "inter_task": inter, "seed": seed,
            "phase": phase, "train_task": train_task, "language": lang, "layer": layer,
            "metric": metric, "value": value}


def zrow(cond, inter, seed, lang, value, *, target="t", metric="accuracy", n=100):
    return {"model": "tiny", "condition": cond, "inter_task": inter, "seed": seed,
            "train_task": target, "target": target, "language": lang, "metric": metric,
            "value": value, "n": n, "ci_low": None, "ci_high": None}


# per-seed differences hard - easy (mean over de and fr) at layers 0, 1, 2
DIFFS = {0: [0.01, 0.02, 0.03], 1: [0.01, 0.01, 0.01], 2: [0.0, 0.0, 0.0]}


def hand_alignment() -> list[dict]:
    """easy and hard on task "x", 3 seeds, phases 0 and 1; hard - easy is DIFFS per layer.

    The languages differ in opposite directions (+-0.005), so only the language mean is
    DIFFS: a per-language pairing error would show.
    """
    rows = []
    for seed in range(3):
        for layer, diffs in DIFFS.items():
            for lang, base, tilt in (("de", 0.5, 0.005), ("fr", 0.6, -0.005)):
                easy = base + 0.1 * seed + 0.01 * layer
                hard = easy + diffs[seed] + (tilt if diffs[seed] else 0.0)
                rows += [arow("easy", "x", seed, 0, lang, layer, base),
                         arow("hard", "x", seed, 0, lang, layer, base),
                         arow("easy", "x", seed, 1, lang, layer, easy),
                         arow("hard", "x", seed, 1, lang, layer, hard)]
    return rows


def by_layer(rows, **where):
    chosen = [r for r in rows if all(r[k] == v for k, v in where.items())]
    return {r["layer"]: r for r in chosen}


def test_three_seed_contrast_by_hand():
    rows = contrast_rows(hand_alignment(), [], contrasts=["hard-easy"], headline=HEAD)
    assert {r["phase"] for r in rows} == {1}  # phase 0 is the same model for every condition
    got = by_layer(rows, contrast="hard-easy")
    first = got[0]
    assert (first["model"], first["target"], first["metric"], first["inter_task"]) == \
        ("tiny", "", "m", "x")
    assert first["estimate"] == pytest.approx(0.02, abs=1e-12)
    half = T_975_2DF * 0.01 / math.sqrt(3)  # sd of (0.01, 0.02, 0.03) is 0.01
    assert first["ci_low"] == pytest.approx(0.02 - half, abs=1e-12)
    assert first["ci_high"] == pytest.approx(0.02 + half, abs=1e-12)
    assert first["p_value"] == 0.25 and first["n_seeds"] == 3  # 2 of 8 sign patterns
    assert got[1]["p_value"] == 0.25 and got[1]["ci_low"] == pytest.approx(0.01)
    # null layer: identical conditions give estimate 0 and p = 1
    assert got[2]["estimate"] == 0.0 and got[2]["p_value"] == 1.0
    # Holm over the family (layers 0-2): 0.25 * 3 = 0.75, max(0.75, 0.25 * 2), 1.0 * 1
    assert [got[k]["p_adjusted"] for k in (0, 1, 2)] == pytest.approx([0.75, 0.75, 1.0])
    assert [got[k]["role"] for k in (0, 1, 2)] == ["exploratory", "primary", "exploratory"]
    assert set(rows[0]) == set(SCHEMAS["contrasts"])


def zeroshot_table() -> list[dict]:
    """none / easy / hard on task "x", seeds 0-4, target t in en, de, fr, ja."""
    rows = []
    for seed in range(5):
        for cond, inter, shift in (("none", "", 0.0), ("easy", "x", 0.03), ("hard", "x", 0.05)):
            for k, lang in enumerate(("en", "de", "fr", "ja")):
                noise = ((seed * 7 + k * 3 + len(cond)) % 5) / 100
                value = 0.9 if lang == "en" else 0.4 + shift + noise
                rows.append(zrow(cond, inter, seed, lang, round(value, 4)))
    return rows


def test_zeroshot_rows_equal_a_recomputation_from_the_table():
    table = zeroshot_table()
    rows = contrast_rows([], table, contrasts=["hard-easy", "easy-none", "random-none"],
                         headline=HEAD)
    assert [r["contrast"] for r in rows] == ["hard-easy", "easy-none"]  # no random: skipped
    for row in rows:
        a, b = parse_contrast(row["contrast"])
        per_seed = []
        for seed in range(5):
            mean = {c: np.mean([r["value"] for r in table if r["condition"] == c and
                                r["seed"] == seed and r["language"] != "en"]) for c in (a, b)}
            per_seed.append(mean[a] - mean[b])
        lo, hi = stats.t.interval(0.95, 4, loc=np.mean(per_seed), scale=stats.sem(per_seed))
        assert row["estimate"] == pytest.approx(np.mean(per_seed), abs=1e-12)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((lo, hi), abs=1e-12)
        assert row["p_value"] == row["p_adjusted"]  # a zero-shot row is its own family
        assert (row["metric"], row["layer"], row["phase"], row["target"], row["role"],
                row["inter_task"], row["n_seeds"]) == ("zeroshot_accuracy", None, 2, "t",
                                                       "primary", "x", 5)
    # every per-seed difference of hard - easy is positive: the floor p of 5 seeds
    assert rows[0]["p_value"] == 2 / 32


def test_pairing_of_seed_level_conditions_and_one_seed():
    table = [zrow(c, inter, seed, lang, v + 0.01 * seed)
             for seed in (0, 1)
             for c, inter, v in (("none", "", 0.4), ("random", "x", 0.45), ("random", "y", 0.5),
                                 ("task_hardest", "y" if seed else "x", 0.6),
                                 ("task_easiest", "z", 0.5))
             for lang in ("de", "fr")]
    rows = contrast_rows([], table, contrasts=["random-none", "task_hardest-task_easiest"],
                         headline=HEAD)
    got = {(r["contrast"], r["inter_task"]): r for r in rows}
    assert set(got) == {("random-none", "x"), ("random-none", "y"), (
        "task_hardest-task_easiest", "task_hardest:x|task_easiest:z;task_hardest:y|task_easiest:z")}
    assert got[("random-none", "y")]["estimate"] == pytest.approx(0.1)
    assert got[("task_hardest-task_easiest", rows[-1]["inter_task"])]["n_seeds"] == 2
    one = contrast_rows([], [r for r in table if r["seed"] == 0], contrasts=["random-none"],
                        headline=HEAD)
    assert one[0]["n_seeds"] == 1 and one[0]["estimate"] == pytest.approx(0.05)
    assert one[0]["ci_low"] is None and one[0]["p_value"] is None and one[0]["p_adjusted"] is None


def test_phase_two_rows_are_named_by_their_target_and_pair_on_it():
    rows = [arow(c, "x", s, 2, "de", 0, 0.5 + 0.1 * (c == "hard") + 0.01 * s + 0.3 * (t == "u"),
                 train_task=t) for c in ("easy", "hard") for s in (0, 1) for t in ("t", "u")]
    got = contrast_rows(rows, [], contrasts=["hard-easy"], headline=HEAD)
    assert [(r["target"], r["phase"]) for r in got] == [("t", 2), ("u", 2)]
    assert all(r["estimate"] == pytest.approx(0.1) for r in got)
    with pytest.raises(ValueError, match="not of the form 'a-b'"):
        contrast_rows(rows, [], contrasts=["hard"], headline=HEAD)


def test_primary_layer_defaults():
    assert primary_layer("FacebookAI/xlm-roberta-large", 24, None) == 14
    assert primary_layer("xlm-roberta-base", 12, None) == 8
    assert primary_layer("e5-small", 12, None) == 12
    assert primary_layer("/ckpt/xlmr-tiny", 2, None) == 2  # not a size XTREME ran
    assert primary_layer("xlm-roberta-large", 24, 20) == 20
    with pytest.raises(ValueError, match="primary_layer = 30 is outside 0..24"):
        primary_layer("xlm-roberta-large", 24, 30)
    assert change_measure("bucc_f1", 2) == "delta_bucc_f1_p2"
    assert change_measure("cka_vs_phase0", 1) == "cka_vs_phase0_p1"


def change_fixture():
    """8 checkpoints (easy/hard x seeds 0-3) on task x; target t in de, fr, ja.

    Accuracy change of a checkpoint in language l: gain[c, s] + tilt[l]; its delta of
    metric m at layer 1: 2 * gain[c, s] + twist[c, s][l]; at layer 0 unrelated noise.
    """
    gains = {("easy", 0): 0.01, ("hard", 0): 0.05, ("easy", 1): 0.03, ("hard", 1): 0.02,
             ("easy", 2): -0.02, ("hard", 2): 0.04, ("easy", 3): 0.00, ("hard", 3): 0.06}
    tilt = {"de": 0.01, "fr": -0.02, "ja": 0.01}
    align, zs = [], []
    for seed in range(4):
        for lang in ("de", "fr", "ja"):
            zs.append(zrow("none", "", seed, lang, 0.5))
        for cond in ("easy", "hard"):
            gain = gains[(cond, seed)]
            twist = {lang: ((seed + len(cond) * k) % 3 - 1) / 100
                     for k, lang in enumerate(("de", "fr", "ja"))}
            for lang in ("en", "de", "fr", "ja"):
                zs.append(zrow(cond, "x", seed, lang, 0.9 if lang == "en" else
                               0.5 + gain + tilt[lang]))
            for k, lang in enumerate(("de", "fr", "ja")):
                for layer, change in ((0, ((seed * 5 + k + len(cond)) % 7) / 50),
                                      (1, 2 * gain + twist[lang])):
                    align += [arow(cond, "x", seed, 0, lang, layer, 0.3),
                              arow(cond, "x", seed, 1, lang, layer, 0.3 + change)]
            align.append(arow(cond, "x", seed, 1, "en", 1, 0.9 - gain, metric="cka_vs_phase0"))
    return align, zs, gains, tilt


def test_change_between_checkpoints_matches_scipy_on_checkpoint_means():
    align, zs, gains, _ = change_fixture()
    rows, points = change_tables(align, zs, headline=HEAD, n_boot=200)
    between = by_layer(rows, analysis="between_checkpoint", measure="delta_m_p1")
    assert between[1]["pearson"] == pytest.approx(1.0) and between[1]["role"] == "primary"
    assert (between[1]["n_checkpoints"], between[1]["n_seeds"], between[1]["n_points"]) == \
        (8, 4, 8)
    layer0 = sorted((p for p in points if p["measure"] == "delta_m_p1" and p["layer"] == 0),
                    key=lambda p: (p["seed"], p["condition"]))
    assert len(layer0) == 8  # one point per checkpoint
    for p in layer0:  # mean over non-English languages of the change from the baseline
        tilt_mean = (0.01 - 0.02 + 0.01) / 3
        assert p["accuracy_change"] == pytest.approx(gains[(p["condition"], p["seed"])]
                                                     + tilt_mean)
    x, y = [p["change"] for p in layer0], [p["accuracy_change"] for p in layer0]
    assert between[0]["pearson"] == pytest.approx(stats.pearsonr(x, y)[0])
    assert between[0]["spearman"] == pytest.approx(stats.spearmanr(x, y)[0])
    cka = by_layer(rows, measure="cka_vs_phase0_p1")
    assert cka[1]["pearson"] == pytest.approx(-1.0) and cka[1]["analysis"] == \
        "between_checkpoint"
    assert not [r for r in rows if r["measure"] == "cka_vs_phase0_p1" and
                r["analysis"] == "within_language"]
    again, _ = change_tables(align, zs, headline=HEAD, n_boot=200)
    assert again == rows  # the cluster bootstrap is seeded


def test_change_within_language_centres_each_checkpoint():
    align, zs, gains, tilt = change_fixture()
    rows, _ = change_tables(align, zs, headline=HEAD, n_boot=200)
    within = by_layer(rows, analysis="within_language", measure="delta_m_p1")
    x, y = [], []
    for seed in range(4):
        for cond in ("easy", "hard"):
            twist = [((seed + len(cond) * k) % 3 - 1) / 100 for k in range(3)]
            x += list(np.array(twist) - np.mean(twist))  # the checkpoint's gain cancels
            acc = np.array([tilt[lang] for lang in ("de", "fr", "ja")])
            y += list(acc - acc.mean())
    assert within[1]["pearson"] == pytest.approx(stats.pearsonr(x, y)[0])
    assert (within[1]["n_checkpoints"], within[1]["n_seeds"], within[1]["n_points"]) == \
        (8, 4, 24)
    family = [r for r in rows if r["analysis"] == "within_language"]
    raw = sorted(r["p_value"] for r in family)
    assert min(r["p_adjusted"] for r in family) == pytest.approx(min(1, raw[0] * len(raw)))


def test_zeroshot_intervals_are_wilson_for_accuracy_only():
    rows = zeroshot_intervals([zrow("easy", "x", 0, "de", 0.75, n=40),
                               zrow("easy", "x", 0, "de", 0.6, metric="f1", n=40)])
    low, high = stats.binomtest(30, 40).proportion_ci(method="wilson")
    assert (rows[0]["ci_low"], rows[0]["ci_high"]) == pytest.approx((low, high))
    assert rows[1]["ci_low"] is None and rows[1]["ci_high"] is None
    with pytest.raises(ValueError, match="accuracy 75.0 on n=40"):
        zeroshot_intervals([zrow("easy", "x", 0, "de", 75.0, n=40)])


def test_analyse_returns_the_schema_tables():
    align, zs, _, _ = change_fixture()
    config = load_config(None, ["analysis.primary_metric=m", "analysis.n_boot=50"])
    tables = analyse({"alignment": align, "zeroshot": zs}, config)
    assert set(tables) == {"contrasts", "change_vs_accuracy", "change_points"}
    for name, rows in tables.items():
        assert rows and all(set(r) == set(SCHEMAS[name]) for r in rows), name
    # default layer of a 1-layer model is its last; phase 1 is the default headline phase
    primary = [r for r in tables["contrasts"] if r["role"] == "primary"]
    assert {(r["metric"], r["layer"]) for r in primary} == {("m", 1),
                                                             ("zeroshot_accuracy", None)}
    assert analyse({}, config) == {"contrasts": [], "change_vs_accuracy": [],
                                   "change_points": []}
