"""Permutation calibration and per-layer tables of every similarity index."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from probe.calibration import INDICES, calibrated, similarity_diagonal
from probe.cka import cka_diagonal, linear_cka, rbf_cka
from probe.similarity import mutual_knn, procrustes_similarity, pwcca, svcca

PLAIN = {
    "cka": linear_cka,
    "debiased_cka": partial(linear_cka, debiased=True),
    "mknn": partial(mutual_knn, k=10),
    "procrustes": procrustes_similarity,
    "svcca": svcca,
    "pwcca": pwcca,
}


def _views(n=80, p=6, noise=None, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Independent views, or y = rotated x + noise (planted alignment) when noise is set."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p)) * np.linspace(2.0, 0.5, p)
    if noise is None:
        return x, rng.normal(size=(n, p + 2))
    q, _ = np.linalg.qr(rng.normal(size=(p, p)))
    return x, x @ q + noise * rng.normal(size=(n, p))


def test_every_index_is_registered_with_its_plain_function():
    assert set(INDICES) == set(PLAIN)


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_prepared_null_equals_recomputing_the_plain_function(name):
    """The fast path (each view prepared once, permuted state) against brute force."""
    x, y = _views(noise=1.5, seed=1)
    fast = calibrated(name, x, y, n_permutations=30, seed=4)
    slow = calibrated(PLAIN[name], x, y, n_permutations=30, seed=4)
    assert fast["value"] == pytest.approx(PLAIN[name](x, y), abs=1e-12)
    for key in ("value", "null_mean", "null_std", "z", "p_value"):
        assert fast[key] == pytest.approx(slow[key], abs=1e-10), key


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_independent_views_calibrate_to_about_zero(name):
    z = [calibrated(name, *_views(seed=seed), n_permutations=100, seed=seed)["z"]
         for seed in range(6)]
    assert abs(np.mean(z)) < 1.5  # mean of 6 roughly standard scores
    assert max(abs(v) for v in z) < 4.0


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_planted_alignment_calibrates_high(name):
    out = calibrated(name, *_views(noise=0.5, seed=7), n_permutations=100, seed=0)
    assert out["z"] > 8.0
    assert out["p_value"] == pytest.approx(1 / 101)
    assert out["value"] > out["null_mean"] + 8 * out["null_std"]


def test_null_statistics_follow_their_definition():
    """z, p from the same permutations written out (items of y shuffled, x fixed)."""
    x, y = _views(noise=3.0, seed=9)

    def first_column_corr(a, b):
        return float(np.corrcoef(a[:, 0], b[:, 0])[0, 1])

    out = calibrated(first_column_corr, x, y, n_permutations=50, seed=3)
    rng = np.random.default_rng(3)
    null = np.array([first_column_corr(x, y[rng.permutation(len(y))]) for _ in range(50)])
    value = first_column_corr(x, y)
    assert out["value"] == value
    assert out["null_mean"] == pytest.approx(null.mean(), abs=1e-15)
    assert out["null_std"] == pytest.approx(null.std(ddof=1), abs=1e-15)
    assert out["z"] == pytest.approx((value - null.mean()) / null.std(ddof=1), abs=1e-12)
    assert out["p_value"] == pytest.approx((1 + np.sum(null >= value)) / 51)


def test_calibration_of_a_callable_and_errors():
    x, y = _views(n=30, noise=0.3, seed=2)
    assert calibrated(rbf_cka, x, y, n_permutations=20)["z"] > 5
    with pytest.raises(ValueError, match=r"unknown similarity index 'cca'; expected one of"):
        calibrated("cca", x, y)
    with pytest.raises(ValueError, match="n_permutations >= 1; got 0"):
        calibrated("cka", x, y, n_permutations=0)
    with pytest.raises(ValueError, match=r"calibrated needs n >= 11 items"):
        calibrated("mknn", x[:10], y[:10])


def test_similarity_diagonal_is_the_index_per_layer():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(3, 40, 6)).astype(np.float32)
    b = np.concatenate([a, rng.normal(size=(3, 40, 2)).astype(np.float32)], axis=2)
    b += 0.7 * rng.normal(size=b.shape).astype(np.float32)
    for name, fn in PLAIN.items():
        want = [fn(a[layer].astype(np.float64), b[layer].astype(np.float64)) for layer in range(3)]
        np.testing.assert_allclose(similarity_diagonal(a, b, name), want, atol=1e-12)
    np.testing.assert_array_equal(similarity_diagonal(a, b, "cka"), cka_diagonal(a, b))
    np.testing.assert_allclose(similarity_diagonal(a, b, rbf_cka),
                               [rbf_cka(x, y) for x, y in zip(a, b, strict=True)], atol=1e-12)
    with pytest.raises(ValueError, match="equal L"):
        similarity_diagonal(a, b[:2], "procrustes")
