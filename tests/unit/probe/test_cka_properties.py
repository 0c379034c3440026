"""Property-based tests (hypothesis) of CKA: bounds, symmetry, invariances, brute force.

Linear CKA runs on small integer-valued matrices (exact centring, frequent degenerate
cases such as constant or collinear columns); debiased CKA on Gaussian matrices, where
the unbiased self-HSIC is safely away from 0 (near 0 CKA is 0/0 and the two forms may
legitimately round to different sides).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from probe.cka import MinibatchCKA, cka_matrix, linear_cka, linear_cka_features, linear_cka_gram

PROPS = settings(max_examples=50, deadline=None, database=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TOL = 1e-9


def int_matrix(n: int, p: int) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, (n, p), elements=st.integers(-5, 5).map(float))


@st.composite
def int_pairs(draw, n_min: int = 2):
    """(x, y) of shapes (n, p1), (n, p2); p up to beyond n so both CKA forms are used."""
    n = draw(st.integers(n_min, 10))
    return draw(int_matrix(n, draw(st.integers(1, 12)))), \
        draw(int_matrix(n, draw(st.integers(1, 12))))


@st.composite
def gaussian_pairs(draw, n_min: int = 6):
    n, p1, p2 = draw(st.integers(n_min, 16)), draw(st.integers(1, 8)), draw(st.integers(1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((n, p1))
    return x, x @ rng.standard_normal((p1, p2)) * draw(st.floats(0, 2)) \
        + rng.standard_normal((n, p2))


def rotation(seed: int, p: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((p, p)))
    return q * np.sign(np.diag(r))


def is_constant(x: np.ndarray) -> bool:
    return bool(np.all(np.ptp(x, axis=0) == 0))


def hsic_biased(k: np.ndarray, ell: np.ndarray) -> float:
    """tr(KHLH), Kornblith et al. 2019 eq. 3 without the 1/(n-1)^2 that CKA cancels."""
    h = np.eye(len(k)) - 1.0 / len(k)
    return float(np.trace(k @ h @ ell @ h))


def hsic_unbiased(k: np.ndarray, ell: np.ndarray) -> float:
    """Song et al. 2012's unbiased estimator, written out (Nguyen et al. 2021, eq. 3)."""
    n = len(k)
    k, ell = k - np.diag(np.diag(k)), ell - np.diag(np.diag(ell))
    one = np.ones(n)
    return float(np.trace(k @ ell) + (one @ k @ one) * (one @ ell @ one) / ((n - 1) * (n - 2))
                 - 2.0 / (n - 2) * (one @ k @ ell @ one)) / (n * (n - 3))


def brute_force_cka(x: np.ndarray, y: np.ndarray, *, debiased: bool) -> float:
    hsic = hsic_unbiased if debiased else hsic_biased
    k, ell = x @ x.T, y @ y.T
    self_k, self_l = hsic(k, k), hsic(ell, ell)
    if self_k <= 0 or self_l <= 0:
        return 0.0  # the module's documented value where CKA is 0/0
    return float(np.clip(hsic(k, ell) / np.sqrt(self_k * self_l), -1.0, 1.0))


def self_hsics_clear(x: np.ndarray, y: np.ndarray) -> bool:
    """Debiased self-HSICs clearly positive relative to the data's scale."""
    return all(hsic_unbiased(a @ a.T, a @ a.T) > 1e-6 * np.sum(a * a) ** 2 for a in (x, y))


# --- linear CKA ---------------------------------------------------------------------------

@PROPS
@given(int_pairs())
def test_linear_cka_equals_brute_force_gram_formula(pair):
    x, y = pair
    expected = 0.0 if is_constant(x) or is_constant(y) else brute_force_cka(x, y,
                                                                            debiased=False)
    assert linear_cka(x, y) == pytest.approx(expected, abs=TOL)
    assert linear_cka_gram(x, y) == pytest.approx(linear_cka_features(x, y), abs=TOL)


@PROPS
@given(int_pairs())
def test_linear_cka_lies_in_unit_interval_and_is_symmetric(pair):
    x, y = pair
    value = linear_cka(x, y)
    assert 0.0 <= value <= 1.0
    assert linear_cka(y, x) == pytest.approx(value, abs=TOL)


@PROPS
@given(int_pairs(), st.integers(0, 2**32 - 1), st.floats(1e-3, 1e3), st.floats(1e-3, 1e3))
def test_linear_cka_invariant_to_rotation_and_isotropic_scaling(pair, seed, a, b):
    x, y = pair
    rotated = (a * x @ rotation(seed, x.shape[1]), b * y @ rotation(seed + 1, y.shape[1]))
    assert linear_cka(*rotated) == pytest.approx(linear_cka(x, y), abs=1e-8)


@PROPS
@given(int_matrix(6, 3) | int_matrix(3, 7))
def test_linear_cka_of_a_matrix_with_itself_is_one(x):
    assume(not is_constant(x))
    assert linear_cka(x, x) == pytest.approx(1.0, abs=TOL)
    assert linear_cka(x, 3.0 * x + 7.0) == pytest.approx(1.0, abs=TOL)  # shifts centre away


# --- debiased CKA -------------------------------------------------------------------------

@PROPS
@given(gaussian_pairs())
def test_debiased_cka_equals_brute_force_and_both_forms_agree(pair):
    x, y = pair
    assume(self_hsics_clear(x, y))
    expected = brute_force_cka(x, y, debiased=True)
    assert linear_cka(x, y, debiased=True) == pytest.approx(expected, abs=TOL)
    assert linear_cka_gram(x, y, debiased=True) == pytest.approx(
        linear_cka_features(x, y, debiased=True), abs=TOL)


@PROPS
@given(gaussian_pairs(), st.integers(0, 2**32 - 1), st.floats(1e-3, 1e3), st.floats(1e-3, 1e3))
def test_debiased_cka_symmetric_and_invariant_to_rotation_and_scaling(pair, seed, a, b):
    x, y = pair
    assume(self_hsics_clear(x, y))
    value = linear_cka(x, y, debiased=True)
    assert linear_cka(y, x, debiased=True) == pytest.approx(value, abs=TOL)
    rotated = (a * x @ rotation(seed, x.shape[1]), b * y @ rotation(seed + 1, y.shape[1]))
    assert linear_cka(*rotated, debiased=True) == pytest.approx(value, abs=1e-8)


# --- the layer grid and minibatches -------------------------------------------------------

@st.composite
def int_stacks(draw):
    n = draw(st.integers(4, 8))
    la, lb = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    a = draw(hnp.arrays(np.float64, (la, n, draw(st.integers(1, 10))),
                        elements=st.integers(-5, 5).map(float)))
    b = draw(hnp.arrays(np.float64, (lb, n, draw(st.integers(1, 10))),
                        elements=st.integers(-5, 5).map(float)))
    return a, b


@PROPS
@given(int_stacks())
def test_cka_matrix_equals_pairwise_linear_cka(stacks):
    a, b = stacks
    grid = cka_matrix(a, b)
    assert grid.shape == (len(a), len(b))
    expected = [[linear_cka(x, y) for y in b] for x in a]
    np.testing.assert_allclose(grid, expected, atol=TOL)
    assert np.all((grid >= 0.0) & (grid <= 1.0))


@PROPS
@given(int_stacks())
def test_cka_matrix_of_a_stack_with_itself_is_symmetric_with_unit_diagonal(stacks):
    a, _ = stacks
    grid = cka_matrix(a, a)
    np.testing.assert_allclose(grid, grid.T, atol=TOL)
    constant = np.array([is_constant(layer) for layer in a])
    np.testing.assert_allclose(np.diag(grid), np.where(constant, 0.0, 1.0), atol=TOL)


@PROPS
@given(gaussian_pairs(), st.booleans())
def test_one_minibatch_equals_full_data_cka(pair, debiased):
    x, y = pair
    assume(self_hsics_clear(x, y))
    batches = MinibatchCKA(debiased=debiased)
    batches.update(x, y)
    assert batches.value() == pytest.approx(linear_cka(x, y, debiased=debiased), abs=TOL)
