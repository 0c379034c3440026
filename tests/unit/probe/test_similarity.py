"""Mutual k-NN, Procrustes, SVCCA, PWCCA: hand-computed values, brute force, invariances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes

from probe.similarity import knn_sets, mutual_knn, procrustes_similarity, pwcca, svcca


def _angles(degrees) -> np.ndarray:
    rad = np.deg2rad(degrees)
    return np.stack([np.cos(rad), np.sin(rad)], axis=1)


def _rotation(p: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(p, p)))
    return q


def _aligned(n=120, p=8, noise=0.5, seed=0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p)) * np.linspace(2.0, 0.5, p)  # distinct variances per direction
    return x, x @ _rotation(p, seed + 1) + noise * rng.normal(size=(n, p))


# Orthogonal, centred columns on 8 items (Hadamard rows): a hand-computable CCA case.
U1 = 2.0 * np.array([1, 1, 1, 1, -1, -1, -1, -1])
U2 = np.array([1, 1, -1, -1, 1, 1, -1, -1], dtype=float)
W = np.array([1, -1, 1, -1, 1, -1, 1, -1], dtype=float)


# --- mutual k-NN ------------------------------------------------------------------------

def test_mutual_knn_hand_computed():
    # Unit vectors at these angles; nearest other item by cosine (k = 1):
    # x: 0->1, 1->0, 2->1, 3->4, 4->3, 5->4;  y: 0->1, 1->0, 2->1, 3->5, 4->5, 5->3.
    x = 3.0 * _angles([0, 10, 25, 90, 100, 130])
    y = _angles([0, 10, 25, 90, 140, 100])
    assert mutual_knn(x, y, k=1) == pytest.approx(3 / 6)
    assert mutual_knn(x, x, k=3) == 1.0


def test_mutual_knn_equals_brute_force():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(60, 5)), rng.normal(size=(60, 7))
    y[:, :5] += x

    def neighbours(v, k):
        unit = v / np.linalg.norm(v, axis=1, keepdims=True)
        sim = unit @ unit.T
        np.fill_diagonal(sim, -np.inf)
        return [set(np.argsort(-row)[:k]) for row in sim]

    for k in (1, 4, 59):
        want = np.mean([len(a & b) / k for a, b in zip(neighbours(x, k), neighbours(y, k),
                                                       strict=True)])
        assert mutual_knn(x, y, k=k) == pytest.approx(want, abs=1e-12)
    assert mutual_knn(x, y, k=59) == 1.0  # every other item is a neighbour


def test_mutual_knn_invariances_and_chance_level():
    x, y = _aligned(seed=2)
    base = mutual_knn(x, y, k=5)
    perm = np.random.default_rng(3).permutation(len(x))
    assert mutual_knn(2.5 * x @ _rotation(8, 4), y, k=5) == pytest.approx(base, abs=1e-12)
    assert mutual_knn(x[perm], y[perm], k=5) == pytest.approx(base, abs=1e-12)
    rng = np.random.default_rng(5)
    unrelated = np.mean([mutual_knn(rng.normal(size=(200, 8)), rng.normal(size=(200, 8)), k=10)
                         for _ in range(5)])
    assert unrelated == pytest.approx(10 / 199, abs=0.02)
    assert base > 0.4


def test_knn_never_lists_the_item_itself_even_among_duplicates():
    x = np.repeat(_angles([0, 90, 180, 270]), 4, axis=0)  # each point four times
    neighbours = knn_sets(x, 2)  # 3 candidates among 4 tied copies: self may be left out
    rows = np.arange(16)[:, None]
    assert np.all(neighbours != rows)
    assert np.all(neighbours // 4 == rows // 4)  # only copies of the same point


def test_mutual_knn_rejects_bad_k_and_zero_rows():
    x = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match=r"k must be in \[1, n - 1\] = \[1, 9\]; got 10"):
        mutual_knn(x, x, k=10)
    zero = x.copy()
    zero[4] = 0.0
    with pytest.raises(ValueError, match="row 4 .* all zeros"):
        mutual_knn(x, zero, k=2)


# --- Procrustes -------------------------------------------------------------------------

def test_procrustes_hand_computed():
    x = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])  # centred, ||x||^2 = 10
    y = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])  # ||y||^2 = 2
    # X'Y = [[2, 0], [0, 0]]: nuclear norm 2, divided by sqrt(10 * 2).
    assert procrustes_similarity(x, y) == pytest.approx(2 / np.sqrt(20), abs=1e-15)


def test_procrustes_is_the_best_rotation_or_reflection():
    x, y = _aligned(n=50, p=2, noise=1.0, seed=6)
    xc, yc = x - x.mean(0), y - y.mean(0)
    xc, yc = xc / np.linalg.norm(xc), yc / np.linalg.norm(yc)
    best = 0.0
    for theta in np.linspace(0, 2 * np.pi, 20001):
        r = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        for flip in (np.eye(2), np.diag([1.0, -1.0])):
            best = max(best, np.trace((r @ flip).T @ xc.T @ yc))
    assert procrustes_similarity(x, y) == pytest.approx(best, abs=1e-7)
    assert procrustes_similarity(x, y) == pytest.approx(orthogonal_procrustes(xc, yc)[1])


def test_procrustes_invariances():
    x, y = _aligned(seed=7)
    base = procrustes_similarity(x, y)
    perm = np.random.default_rng(8).permutation(len(x))
    assert procrustes_similarity(3.0 * x @ _rotation(8, 9) - 4.0, y) == pytest.approx(base)
    assert procrustes_similarity(x[perm], y[perm]) == pytest.approx(base, abs=1e-14)
    assert procrustes_similarity(y, x) == pytest.approx(base, abs=1e-14)
    assert procrustes_similarity(x, 0.1 * x @ _rotation(8, 10) + 2) == pytest.approx(1.0)
    stretched = x * np.linspace(5.0, 0.2, 8)
    assert abs(procrustes_similarity(stretched, y) - base) > 0.05


def test_procrustes_constant_view_is_zero():
    x = np.random.default_rng(0).normal(size=(10, 3))
    assert procrustes_similarity(x, np.full((10, 2), 0.1)) == 0.0


# --- SVCCA / PWCCA ----------------------------------------------------------------------

def test_cca_single_direction_is_the_absolute_correlation():
    u, v = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 3.0, 2.0, 4.0])
    # Centred: (-1.5, -.5, .5, 1.5) and (-1.5, .5, -.5, 1.5): dot 4, norms^2 5 -> 0.8.
    assert svcca(u[:, None], v[:, None]) == pytest.approx(0.8)
    assert pwcca(u[:, None], -v[:, None]) == pytest.approx(0.8)


def test_svcca_and_pwcca_hand_computed():
    x = np.stack([U1, U2], axis=1)  # feature norms 2 sqrt(8), sqrt(8)
    y = np.stack([U1, U2 + W], axis=1)
    # Canonical correlations 1 (U1) and 1/sqrt(2) (U2 against (U2 + W) / sqrt(2)).
    assert svcca(x, y) == pytest.approx((1 + 1 / np.sqrt(2)) / 2)
    # PWCCA weights from x (ties go to x): |<h_i, x_j>| summed over features = (2, 1) sqrt(8).
    assert pwcca(x, y) == pytest.approx(2 / 3 + 1 / (3 * np.sqrt(2)))
    # From y's side: weights 2 sqrt(8) and 4: PWCCA is not symmetric.
    assert pwcca(y, x) == pytest.approx((2 * np.sqrt(8) + 4 / np.sqrt(2)) / (2 * np.sqrt(8) + 4))


def test_svd_truncation_drops_low_variance_directions():
    x = np.stack([U1, 0.01 * U2], axis=1)  # U2 holds 2.5e-5 of the variance
    assert svcca(x, U2[:, None]) == pytest.approx(0.0, abs=1e-12)
    assert svcca(x, U2[:, None], keep_variance=1.0) == pytest.approx(1.0)


def test_svcca_pwcca_invariances():
    x, y = _aligned(seed=11)
    perm = np.random.default_rng(12).permutation(len(x))
    base = svcca(x, y)
    assert svcca(2.0 * x @ _rotation(8, 13) + 1.0, y) == pytest.approx(base, abs=1e-10)
    assert svcca(x[perm], y[perm]) == pytest.approx(base, abs=1e-12)
    assert svcca(y, x) == pytest.approx(base, abs=1e-12)
    pw = pwcca(x, y)
    signs = np.where(np.arange(8) % 2 == 0, 1.0, -1.0)
    assert pwcca(5.0 * x[:, ::-1] * signs - 3.0, y) == pytest.approx(pw, abs=1e-10)
    assert pwcca(x[perm], y[perm]) == pytest.approx(pw, abs=1e-12)
    assert 0.5 < pw <= 1.0 and 0.5 < base <= 1.0


def test_cca_warns_when_the_subspaces_must_intersect(caplog):
    rng = np.random.default_rng(14)
    x, y = rng.normal(size=(12, 8)), rng.normal(size=(12, 8))
    with caplog.at_level("WARNING", logger="probe.similarity"):
        value = svcca(x, y)
    assert "correlations are inflated" in caplog.text
    assert value > 0.5  # unrelated data, yet high: the degenerate regime the warning names


@pytest.mark.parametrize("fn", [svcca, pwcca])
def test_cca_validation_and_constant_view(fn):
    x = np.random.default_rng(0).normal(size=(10, 3))
    assert fn(x, np.ones((10, 2))) == 0.0
    with pytest.raises(ValueError, match=r"keep_variance must be in \(0, 1\]; got 0"):
        fn(x, x, keep_variance=0)
    with pytest.raises(ValueError, match=r"same n items.*\(10, 3\).*\(9, 3\)"):
        fn(x, x[:9])
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"input y of shape \(10, 3\) has NaN"):
        fn(x, bad)
