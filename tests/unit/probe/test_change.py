"""Change vs accuracy: agreement with scipy, brute-force pair and cluster bootstraps, p-values."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from probe.change import _weighted_pearson, correlate, layer_predictiveness


def _noisy_line(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return x, 0.8 * x + rng.normal(size=n)


def test_point_estimates_equal_scipy():
    x, y = _noisy_line(30)
    y = np.round(y, 0)  # ties, so Spearman needs averaged ranks
    out = correlate(x, y, n_boot=0)
    assert out["pearson"] == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-12)
    assert out["spearman"] == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)
    assert out["n"] == 30
    assert np.isnan(out["pearson_lo"]) and np.isnan(out["spearman_hi"])


def test_bootstrap_equals_brute_force_loop():
    x, y = _noisy_line(25, seed=1)
    out = correlate(x, y, n_boot=300, seed=7, ci=0.9)
    idx = np.random.default_rng(7).integers(0, 25, size=(300, 25))
    pear = [stats.pearsonr(x[i], y[i])[0] for i in idx]
    spear = [stats.spearmanr(x[i], y[i])[0] for i in idx]
    assert out["pearson_lo"] == pytest.approx(np.percentile(pear, 5), abs=1e-12)
    assert out["pearson_hi"] == pytest.approx(np.percentile(pear, 95), abs=1e-12)
    assert out["spearman_lo"] == pytest.approx(np.percentile(spear, 5), abs=1e-12)
    assert out["spearman_hi"] == pytest.approx(np.percentile(spear, 95), abs=1e-12)


def test_bootstrap_drops_constant_resamples_like_scipy_nan():
    # n = 3: 1 resample in 9 repeats one observation (constant; the mean of three 0.1s
    # is not exactly 0.1, so a naive Pearson would return +-1 from rounding residue).
    x, y = np.array([0.1, 0.7, 0.2]), np.array([0.8, 0.2, 0.1])
    out = correlate(x, y, n_boot=500, seed=3)
    idx = np.random.default_rng(3).integers(0, 3, size=(500, 3))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pear = np.array([stats.pearsonr(x[i], y[i])[0] for i in idx])
    assert np.isnan(pear).sum() > 0
    assert out["pearson_lo"] == pytest.approx(np.nanpercentile(pear, 2.5), abs=1e-12)
    assert out["pearson_hi"] == pytest.approx(np.nanpercentile(pear, 97.5), abs=1e-12)
    # Percentiles barely move when constant resamples slip in as +-1, so check the helper:
    # weights (3, 0, 0) draw the first pair three times, a constant sample
    rows = _weighted_pearson(x, y, np.array([[3.0, 0.0, 0.0], [1.0, 1.0, 1.0]]))
    assert np.isnan(rows[0]) and rows[1] == pytest.approx(stats.pearsonr(x, y)[0])


def test_interval_contains_estimate_and_shrinks_with_n():
    widths = {}
    for n in (20, 400):
        out = correlate(*_noisy_line(n, seed=2), seed=0)
        for key in ("pearson", "spearman"):
            assert -1.0 <= out[f"{key}_lo"] <= out[key] <= out[f"{key}_hi"] <= 1.0
        widths[n] = out["pearson_hi"] - out["pearson_lo"]
    assert widths[400] < widths[20] / 2


def test_deterministic_under_seed():
    x, y = _noisy_line(15, seed=3)
    assert correlate(x, y, seed=11) == correlate(x, y, seed=11)
    assert correlate(x, y, seed=11)["pearson_lo"] != correlate(x, y, seed=12)["pearson_lo"]


def test_perfect_monotone_relation():
    x = np.linspace(0.0, 1.0, 12)
    out = correlate(x, -np.exp(3 * x), n_boot=200)
    assert out["spearman"] == pytest.approx(-1.0, abs=1e-12)
    assert out["spearman_lo"] == pytest.approx(-1.0) and out["spearman_hi"] == pytest.approx(-1.0)
    assert -1.0 < out["pearson"] < -0.9


def test_constant_input_is_nan_not_error():
    out = correlate([0.2, 0.2, 0.2, 0.2], [1.0, 2.0, 3.0, 5.0])
    assert out["n"] == 4 and out["n_clusters"] == 4
    assert all(np.isnan(v) for k, v in out.items() if not k.startswith("n"))


@pytest.mark.parametrize(
    "x, y, kwargs, match",
    [
        ([1.0, 2.0], [1.0, 3.0], {}, r"n >= 3.*n=2"),
        ([1.0, 2.0, 3.0], [1.0, 3.0], {}, r"equal length.*\(3,\).*\(2,\)"),
        ([1.0, np.nan, 3.0], [1.0, 2.0, 3.0], {}, "x of shape"),
        ([1.0, 2.0, 3.0], [1.0, 2.0, 4.0], {"ci": 1.0}, "ci must be in"),
        ([1.0, 2.0, 3.0], [1.0, 2.0, 4.0], {"n_boot": -1}, "n_boot must be"),
    ],
)
def test_correlate_rejects_bad_input(x, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        correlate(x, y, **kwargs)


def test_layer_predictiveness_rows_share_resamples_across_layers():
    x, acc = _noisy_line(40, seed=4)
    rng = np.random.default_rng(9)
    # Layer 5: unrelated; layer 6: weakly related; layer 7: strongly, negatively related.
    change = np.column_stack([rng.normal(size=40), x + 2 * rng.normal(size=40), -3 * acc])
    seeds = np.repeat(np.arange(8), 5)
    rows = layer_predictiveness(change, acc, layers=[5, 6, 7], n_boot=100, seed=1,
                                clusters=seeds)
    assert [r["layer"] for r in rows] == [5, 6, 7]
    for col, row in enumerate(rows):
        assert row == {"layer": row["layer"], **correlate(change[:, col], acc, n_boot=100,
                                                          seed=1, clusters=seeds)}
    assert rows[2]["pearson"] == pytest.approx(-1.0)
    assert rows[2]["n"] == 40 and rows[2]["n_clusters"] == 8


def test_layer_predictiveness_constant_layer_and_shapes():
    x, acc = _noisy_line(10, seed=5)
    rows = layer_predictiveness(np.column_stack([np.zeros(10), x]), acc, n_boot=50)
    assert np.isnan(rows[0]["spearman"]) and np.isfinite(rows[1]["spearman"])
    with pytest.raises(ValueError, match=r"\(10,\) and \(9,\)"):
        layer_predictiveness(x, acc[:9])
    with pytest.raises(ValueError, match=r"\(10, 2\) and \(9,\)"):
        layer_predictiveness(np.column_stack([x, x]), acc[:9])
    with pytest.raises(ValueError, match="3 layer labels for 2 columns"):
        layer_predictiveness(np.column_stack([x, x]), acc, layers=[0, 1, 2])


def _brute_cluster_bootstrap(x, y, labels, n_boot, seed):
    """Resample whole clusters with the generator draws correlate makes, then call scipy."""
    names = list(dict.fromkeys(labels))
    members = [np.flatnonzero(np.asarray(labels) == name) for name in names]
    draws = np.random.default_rng(seed).integers(0, len(names), size=(n_boot, len(names)))
    pear, spear = [], []
    for draw in draws:
        idx = np.concatenate([members[c] for c in draw])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pear.append(stats.pearsonr(x[idx], y[idx])[0])
            spear.append(stats.spearmanr(x[idx], y[idx])[0])
    return np.array(pear), np.array(spear)


def test_cluster_bootstrap_equals_brute_force_with_ties_and_unequal_clusters():
    rng = np.random.default_rng(5)
    labels = ["s0"] * 3 + ["s1"] * 2 + ["s2"] * 4 + ["s3"] * 3 + ["s4"] * 3
    x = np.round(rng.normal(size=15), 1)  # ties within and across clusters
    y = np.round(0.5 * x + rng.normal(size=15), 1)
    out = correlate(x, y, n_boot=400, seed=3, clusters=labels)
    pear, spear = _brute_cluster_bootstrap(x, y, labels, 400, 3)
    assert out["n"] == 15 and out["n_clusters"] == 5
    for key, boot in (("pearson", pear), ("spearman", spear)):
        assert out[f"{key}_lo"] == pytest.approx(np.nanpercentile(boot, 2.5), abs=1e-12)
        assert out[f"{key}_hi"] == pytest.approx(np.nanpercentile(boot, 97.5), abs=1e-12)
        finite = boot[np.isfinite(boot)]
        tail = min((finite <= 0).sum(), (finite >= 0).sum())
        assert out[f"{key}_p"] == pytest.approx(min(1, 2 * (1 + tail) / (1 + finite.size)))


def test_cluster_bootstrap_is_reproducible_by_seed_and_needs_two_clusters():
    x, y = _noisy_line(12, seed=6)
    seeds = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    first = correlate(x, y, n_boot=300, seed=11, clusters=seeds)
    assert first == correlate(x, y, n_boot=300, seed=11, clusters=seeds)
    assert first["spearman_lo"] != correlate(x, y, n_boot=300, seed=12,
                                             clusters=seeds)["spearman_lo"]
    # resampling whole seeds is not resampling checkpoints: the intervals differ
    assert first["pearson_lo"] != correlate(x, y, n_boot=300, seed=11)["pearson_lo"]
    one = correlate(x, y, n_boot=300, clusters=[7] * 12)
    assert one["n_clusters"] == 1 and np.isfinite(one["pearson"])
    assert all(np.isnan(one[k]) for k in ("pearson_lo", "pearson_hi", "pearson_p",
                                          "spearman_lo", "spearman_p"))
    with pytest.raises(ValueError, match="clusters has 3 labels for 12 observations"):
        correlate(x, y, clusters=[0, 1, 2])


def test_bootstrap_p_is_small_for_a_strong_relation_and_large_for_none():
    x, y = _noisy_line(60, seed=8)
    strong = correlate(x, 3 * x + 0.1 * y, n_boot=500, seed=0)
    assert strong["pearson_p"] == pytest.approx(2 / 501)  # no resample at or below 0
    rng = np.random.default_rng(1)
    null = correlate(rng.normal(size=60), rng.normal(size=60), n_boot=500, seed=0)
    assert null["spearman_p"] > 0.1
