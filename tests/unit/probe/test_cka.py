"""CKA: REFERENCE.md values, invariants, agreement of the Gram, feature-space and grid paths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from probe.cka import (
    MinibatchCKA,
    center_gram,
    cka_diagonal,
    cka_matrix,
    default_cka_kind,
    linear_cka,
    linear_cka_features,
    linear_cka_gram,
    rbf_cka,
)


@pytest.fixture(scope="module")
def ref_xy() -> tuple[np.ndarray, np.ndarray]:
    """REFERENCE.md's pair: numpy seed 1337, X = randn(100, 10), Y = randn(100, 10) + X."""
    np.random.seed(1337)
    x = np.random.randn(100, 10)
    y = np.random.randn(100, 10) + x
    return x, y


def _pair(n: int, p1: int, p2: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p1))
    y = x @ rng.normal(size=(p1, p2)) + rng.normal(size=(n, p2))
    return x, y


def _song_hsic(k: np.ndarray, ell: np.ndarray) -> float:
    """Unbiased HSIC written out as in Song et al. 2012, eq. 5 (brute force)."""
    n = k.shape[0]
    k, ell = k.copy(), ell.copy()
    np.fill_diagonal(k, 0.0)
    np.fill_diagonal(ell, 0.0)
    one = np.ones(n)
    total = (np.trace(k @ ell) + (one @ k @ one) * (one @ ell @ one) / ((n - 1) * (n - 2))
             - 2.0 / (n - 2) * (one @ k @ ell @ one))
    return total / (n * (n - 3))


def _hsic_biased(k: np.ndarray, ell: np.ndarray) -> float:
    n = k.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    return np.trace(k @ h @ ell @ h) / (n - 1) ** 2


def test_reference_values(ref_xy):
    x, y = ref_xy
    for fn in (linear_cka, linear_cka_gram, linear_cka_features):
        assert round(fn(x, y), 5) == 0.55761
        assert round(fn(x, y, debiased=True), 5) == 0.51346
    assert round(rbf_cka(x, y, sigma=0.5), 5) == 0.65483
    assert round(float(cka_matrix(x[None], y[None], kind="rbf")[0, 0]), 5) == 0.65483


def test_brute_force_hsic_definitions(ref_xy):
    x, y = ref_xy
    k, ell = x @ x.T, y @ y.T
    biased = _hsic_biased(k, ell) / np.sqrt(_hsic_biased(k, k) * _hsic_biased(ell, ell))
    unbiased = _song_hsic(k, ell) / np.sqrt(_song_hsic(k, k) * _song_hsic(ell, ell))
    assert linear_cka(x, y) == pytest.approx(biased, abs=1e-12)
    assert linear_cka(x, y, debiased=True) == pytest.approx(unbiased, abs=1e-12)
    # The unbiased Gram centring is scaled so that <c(K), c(L)> = n(n-3) HSIC_1.
    n = x.shape[0]
    inner = np.sum(center_gram(k, unbiased=True) * center_gram(ell, unbiased=True))
    assert inner / (n * (n - 3)) == pytest.approx(_song_hsic(k, ell), rel=1e-10)


@pytest.mark.parametrize("debiased", [False, True])
def test_self_similarity_is_one(ref_xy, debiased):
    x, _ = ref_xy
    assert linear_cka(x, x, debiased=debiased) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka_gram(x, x, debiased=debiased) == pytest.approx(1.0, abs=1e-12)
    assert rbf_cka(x, x, debiased=debiased) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("debiased", [False, True])
def test_symmetry(ref_xy, debiased):
    x, y = ref_xy
    y = y[:, :7]  # different widths on the two sides
    assert linear_cka(x, y, debiased=debiased) == pytest.approx(
        linear_cka(y, x, debiased=debiased), abs=1e-13)
    assert rbf_cka(x, y, debiased=debiased) == pytest.approx(
        rbf_cka(y, x, debiased=debiased), abs=1e-13)


def test_invariant_to_rotation_scaling_and_shift_not_to_general_linear_maps(ref_xy):
    x, y = ref_xy
    rng = np.random.default_rng(5)
    q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    moved = 3.7 * x @ q + 5.0
    for debiased in (False, True):
        base = linear_cka(x, y, debiased=debiased)
        assert linear_cka(moved, y, debiased=debiased) == pytest.approx(base, abs=1e-12)
    assert rbf_cka(moved, y) == pytest.approx(rbf_cka(x, y), abs=1e-12)
    # An invertible but anisotropic map changes linear CKA (Kornblith et al. 2019, sec. 3).
    stretched = x @ np.diag([10.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.1])
    assert abs(linear_cka(stretched, y) - linear_cka(x, y)) > 0.05


@pytest.mark.parametrize("n, p1, p2", [(60, 5, 9), (8, 20, 15), (12, 12, 3)])
@pytest.mark.parametrize("debiased", [False, True])
def test_gram_and_feature_forms_agree(n, p1, p2, debiased):
    x, y = _pair(n, p1, p2, seed=n)
    gram = linear_cka_gram(x, y, debiased=debiased)
    assert linear_cka_features(x, y, debiased=debiased) == pytest.approx(gram, abs=1e-11)
    assert linear_cka(x, y, debiased=debiased) == pytest.approx(gram, abs=1e-11)


def test_debiased_can_be_negative_but_never_nan():
    values = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        values.append(linear_cka(rng.normal(size=(6, 3)), rng.normal(size=(6, 3)), debiased=True))
    assert all(-1.0 <= v <= 1.0 for v in values)
    assert min(values) < 0.0


@pytest.mark.parametrize("p", [4, 200])  # feature-space and Gram paths
def test_constant_representation_gives_zero_not_nan(p):
    x = np.random.default_rng(8).normal(size=(100, p))
    # 0.1 is not exact in binary: a naively centred column keeps rounding residue.
    const = np.full((100, 4), 0.1) + np.arange(4) / 3
    for debiased in (False, True):
        assert linear_cka(x, const, debiased=debiased) == 0.0
        assert linear_cka_features(const, x, debiased=debiased) == 0.0
        assert linear_cka_gram(const, x, debiased=debiased) == 0.0
        assert cka_matrix(np.stack([x[:, :4], const]), x[None], debiased=debiased)[1, 0] == 0.0


def test_float32_input_is_accumulated_in_float64():
    rng = np.random.default_rng(2)
    # A large common offset: float32 centring/accumulation drifts in the 7th digit here.
    x = (1000.0 + rng.normal(size=(500, 8))).astype(np.float32)
    y = (x + rng.normal(size=(500, 8))).astype(np.float32)
    exact = linear_cka(x.astype(np.float64), y.astype(np.float64))
    assert linear_cka(x, y) == pytest.approx(exact, abs=1e-12)
    assert float(cka_matrix(x[None], y[None])[0, 0]) == pytest.approx(exact, abs=1e-12)
    xc, yc = x - x.mean(0), y - y.mean(0)
    naive32 = np.linalg.norm(yc.T @ xc) ** 2 / (
        np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))
    assert abs(float(naive32) - exact) > 1e-9  # the test data does expose float32 accumulation


def _stacks(la, lb, n, da, db, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(la, n, da)).astype(np.float32)
    b = rng.normal(size=(lb, n, db)).astype(np.float32)
    b[: min(la, lb), :, : min(da, db)] += a[: min(la, lb), :, : min(da, db)]
    return a, b


@pytest.mark.parametrize("n, da, db", [(40, 6, 4), (10, 12, 16)])  # feature path, Gram path
@pytest.mark.parametrize("debiased", [False, True])
def test_cka_matrix_equals_pairwise(n, da, db, debiased):
    a, b = _stacks(3, 4, n, da, db)
    grid = cka_matrix(a, b, debiased=debiased)
    assert grid.shape == (3, 4) and grid.dtype == np.float64
    want = [[linear_cka_gram(x, y, debiased=debiased) for y in b] for x in a]
    np.testing.assert_allclose(grid, want, atol=1e-11)
    rbf = cka_matrix(a, b, kind="rbf", debiased=debiased, sigma=0.8)
    want_rbf = [[rbf_cka(x, y, sigma=0.8, debiased=debiased) for y in b] for x in a]
    np.testing.assert_allclose(rbf, want_rbf, atol=1e-11)


@pytest.mark.parametrize("kind", ["linear", "rbf"])
def test_cka_diagonal_is_the_grid_diagonal(kind):
    a, b = _stacks(3, 3, 30, 5, 5, seed=4)
    np.testing.assert_allclose(cka_diagonal(a, b, kind=kind),
                               np.diag(cka_matrix(a, b, kind=kind)), atol=1e-12)


@pytest.mark.parametrize("debiased", [False, True])
def test_minibatch_single_batch_equals_full(ref_xy, debiased):
    x, y = ref_xy
    acc = MinibatchCKA(debiased=debiased)
    acc.update(x, y)
    assert acc.value() == pytest.approx(linear_cka(x, y, debiased=debiased), abs=1e-12)


def test_minibatch_many_batches_close_to_full_debiased():
    x, y = _pair(2000, 10, 10, seed=3)
    acc = MinibatchCKA()
    for start in range(0, 2000, 200):
        acc.update(x[start : start + 200], y[start : start + 200])
    assert acc.n_batches == 10
    assert acc.value() == pytest.approx(linear_cka(x, y, debiased=True), abs=0.01)


def test_minibatch_stacks_give_the_grid():
    a, b = _stacks(2, 3, 40, 5, 5, seed=6)
    acc = MinibatchCKA()
    acc.update(a[:, :20], b[:, :20])
    acc.update(a[:, 20:], b[:, 20:])
    for i in range(2):
        for j in range(3):
            pair = MinibatchCKA()
            pair.update(a[i, :20], b[j, :20])
            pair.update(a[i, 20:], b[j, 20:])
            assert acc.matrix()[i, j] == pytest.approx(pair.value(), abs=1e-12)
    with pytest.raises(ValueError, match="one layer pair"):
        acc.value()
    with pytest.raises(ValueError, match="ndim"):
        acc.update(a[0], b[0])


@pytest.mark.parametrize(
    "x_shape, y_shape, debiased, match",
    [
        ((10, 3), (11, 3), False, r"same n items.*\(10, 3\).*\(11, 3\)"),
        ((10,), (10,), False, r"matrices \(n, p\).*\(10,\)"),
        ((1, 3), (1, 3), False, r"n >= 2"),
        ((3, 3), (3, 3), True, r"debiased CKA needs n >= 4"),
        ((5, 0), (5, 3), False, r"empty"),
    ],
)
def test_validation_names_shapes(x_shape, y_shape, debiased, match):
    with pytest.raises(ValueError, match=match):
        linear_cka(np.ones(x_shape), np.ones(y_shape), debiased=debiased)


def test_validation_other_inputs():
    x = np.random.default_rng(0).normal(size=(10, 3))
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"y of shape \(10, 3\) has NaN"):
        rbf_cka(x, bad)
    with pytest.raises(ValueError, match="layer stacks"):
        cka_matrix(x, x)
    with pytest.raises(ValueError, match="unknown CKA kind 'cosine'"):
        cka_matrix(x[None], x[None], kind="cosine")
    with pytest.raises(ValueError, match="equal layer counts"):
        cka_diagonal(np.stack([x, x]), x[None])
    with pytest.raises(ValueError, match="sigma must be > 0"):
        rbf_cka(x, x, sigma=0.0)
    with pytest.raises(ValueError, match="median squared distance is 0"):
        rbf_cka(np.ones((10, 3)), x)
    with pytest.raises(ValueError, match="no batches"):
        MinibatchCKA().value()


# --- kinds ------------------------------------------------------------------------------

def test_default_kind_and_kind_names(ref_xy, caplog):
    assert default_cka_kind(32, 384) == "debiased"
    assert default_cka_kind(384, 384) == "debiased"
    assert default_cka_kind(385, 384) == "linear"
    a, b = _stacks(2, 3, 30, 5, 5, seed=1)
    np.testing.assert_array_equal(cka_matrix(a, b, kind="debiased"),
                                  cka_matrix(a, b, debiased=True))
    np.testing.assert_array_equal(cka_matrix(a, b, kind="auto"), cka_matrix(a, b))  # n > d
    narrow = a[:, :4]  # n = 4 <= d = 5
    np.testing.assert_array_equal(cka_diagonal(narrow, b[:2, :4], kind="auto"),
                                  cka_diagonal(narrow, b[:2, :4], kind="debiased"))
    with caplog.at_level("WARNING", logger="probe.cka"):
        cka_diagonal(narrow, b[:2, :4])
    assert "biased linear CKA at n = 4 <= d = 5" in caplog.text


def test_independent_gaussians_biased_inflated_debiased_near_zero():
    """REFERENCE.md sanity values: independent 8-dim Gaussians (p / (n + p) for biased)."""
    rng = np.random.default_rng(11)
    for n, biased_want in ((32, 0.20), (256, 0.03)):
        pairs = [(rng.normal(size=(n, 8)), rng.normal(size=(n, 8))) for _ in range(200)]
        biased = np.mean([linear_cka(x, y) for x, y in pairs])
        debiased = np.mean([linear_cka(x, y, debiased=True) for x, y in pairs])
        assert biased == pytest.approx(biased_want, rel=0.15)
        assert abs(debiased) < 0.15 * biased_want  # 200 draws: sd of the mean ~ 0.003 / 0.0005


# --- streamed feature path --------------------------------------------------------------

@pytest.fixture
def tiny_chunks(monkeypatch):
    """Force several row chunks and several layer groups on small test stacks."""
    import probe.cka_stream as stream
    monkeypatch.setattr(stream, "CHUNK_BYTES", 8 * 64 * 50)
    monkeypatch.setattr(stream, "MIN_CHUNK_ROWS", 7)
    monkeypatch.setattr(stream, "CROSS_BYTES", 8 * 6 * 5 * 4 * 2)  # two a-layers per pass
    return stream


@pytest.mark.parametrize("debiased", [False, True])
def test_chunks_and_layer_groups_match_the_gram_form(tiny_chunks, debiased):
    rng = np.random.default_rng(3)
    a = (100 + rng.normal(size=(5, 300, 6))).astype(np.float32)
    b = (rng.normal(size=(4, 300, 5)) - 50).astype(np.float16)
    assert len(tiny_chunks._chunks(300, 5 * 6 + 4 * 5)) > 3
    assert len(tiny_chunks._layer_groups(5, 6, 4 * 5)) == 3
    want = [[linear_cka_gram(x.astype(np.float64), y.astype(np.float64), debiased=debiased)
             for y in b] for x in a]
    np.testing.assert_allclose(cka_matrix(a, b, debiased=debiased), want, atol=1e-12)
    diag = [linear_cka_gram(a[i, :, :5].astype(np.float64), b[i].astype(np.float64),
                            debiased=debiased) for i in range(4)]
    np.testing.assert_allclose(cka_diagonal(a[:4, :, :5], b, debiased=debiased), diag,
                               atol=1e-12)


def test_float16_memory_map_is_read_in_chunks(tmp_path, tiny_chunks):
    a, b = _stacks(3, 2, 200, 6, 5, seed=9)
    np.save(tmp_path / "a.npy", a.astype(np.float16))
    mapped = np.load(tmp_path / "a.npy", mmap_mode="r")
    exact = np.asarray(mapped, dtype=np.float64)
    for kind in ("linear", "debiased"):
        np.testing.assert_allclose(cka_matrix(mapped, b, kind=kind),
                                   cka_matrix(exact, b, kind=kind), atol=1e-13)
        np.testing.assert_allclose(cka_diagonal(mapped[:2], b, kind=kind),
                                   cka_diagonal(exact[:2], b, kind=kind), atol=1e-13)


def test_large_offset_keeps_float64_accuracy(tiny_chunks):
    """Centring before the product: no Z'Z - n mu mu' cancellation."""
    rng = np.random.default_rng(4)
    noise = rng.normal(size=(2, 400, 6))
    other = noise[::-1] + 0.5 * noise
    # v - 1e5 is exact here (Sterbenz lemma), so the reference sees the same values unshifted.
    stack, shifted = 1e5 + noise, 1e5 + other
    want = [[linear_cka_gram(x - 1e5, y - 1e5, debiased=True) for y in shifted] for x in stack]
    np.testing.assert_allclose(cka_matrix(stack, shifted, kind="debiased"), want, atol=1e-12)
    x, y = stack[0], shifted[0]
    zz = np.concatenate([x, y], axis=1)
    g = zz.T @ zz - 400 * np.outer(zz.mean(0), zz.mean(0))  # the algebraic shortcut
    naive = np.sum(g[:6, 6:] ** 2) / np.sqrt(np.sum(g[:6, :6] ** 2) * np.sum(g[6:, 6:] ** 2))
    assert abs(naive - linear_cka_gram(x - 1e5, y - 1e5)) > 1e-8  # the data does expose it


def test_non_finite_stack_is_rejected_before_the_products(tmp_path):
    a, b = _stacks(3, 3, 50, 4, 4, seed=2)
    a[2, 17, 1] = np.inf
    np.save(tmp_path / "a.npy", a)
    with pytest.raises(ValueError, match=r"stack_a of shape \(3, 50, 4\) has NaN or inf.*\[2\]"):
        cka_matrix(np.load(tmp_path / "a.npy", mmap_mode="r"), b)


# --- memory guard and the SIGSEGV size ----------------------------------------------------

def test_gram_paths_refuse_what_would_not_fit(monkeypatch):
    import probe.cka_gram as gram_module
    monkeypatch.setattr(gram_module, "available_bytes", lambda: 10**6)
    x = np.random.default_rng(0).normal(size=(300, 5))  # three 300 x 300 Grams = 2.2 MB
    with pytest.raises(ValueError, match=r"RBF CKA at n = 300 needs .* use kind='linear'"):
        rbf_cka(x, x)
    with pytest.raises(ValueError, match="RBF CKA at n = 300"):
        cka_diagonal(x[None], x[None], kind="rbf")
    with pytest.raises(ValueError, match="Gram-form linear CKA at n = 300"):
        linear_cka_gram(x, x)
    assert linear_cka(x, x) == pytest.approx(1.0)  # the feature form needs no n x n memory


@pytest.mark.slow
def test_gram_form_at_n_20000_does_not_crash():
    """Issue 11: numpy's syrk for x @ x.T killed the process at (20000, 384) on AMD EPYC.

    Runs in a subprocess so that a crash fails this test instead of killing pytest.
    """
    import probe.cka_gram as gram_module
    if gram_module.available_bytes() < 10 * 2**30:
        pytest.skip("needs about 8 GB free for two 20000 x 20000 float64 Grams")
    code = ("import numpy as np; from probe.cka import linear_cka_gram, linear_cka_features;"
            "rng = np.random.default_rng(0); x = rng.normal(size=(20000, 384));"
            "y = x + rng.normal(size=(20000, 384));"
            "print(linear_cka_gram(x, y) - linear_cka_features(x, y))")
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=1200)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-500:]}"
    assert abs(float(done.stdout)) < 1e-10
