"""knn_both: both directions from one int8 scan equal FAISS / brute force, each certified.

The int8 tiles are shrunk (monkeypatch) so that a few hundred rows cross many x blocks
and y tiles, partial last blocks and tiles, and the sparse merges of both passes.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from knn_helpers import assert_exact_topk, faiss_exact, float16_memmaps, unit

from retrieval import knn as knn_module
from retrieval import knn_int8, knn_mutual, knn_scan
from retrieval.knn import knn, knn_both, l2_normalize
from retrieval.knn_mutual import int8_knn_both


@pytest.fixture(autouse=True)
def small_tiles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(knn_int8, "QUERY_BLOCK", 96)
    monkeypatch.setattr(knn_mutual, "BLOCK", 256)  # 256 / GROUP >= k': seeded columns
    for module in (knn_int8, knn_mutual):
        monkeypatch.setattr(module, "TILE", 256)
    monkeypatch.setattr(knn_int8, "RERANK_ROWS", 1000)
    monkeypatch.setattr(knn_mutual, "FINISH_ROWS", 300)


def data(kind: str, d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) pools; sizes are not multiples of the (patched) block and tile sizes."""
    if kind == "random":
        return unit(rng, 333, d), unit(rng, 1100, d)
    if kind == "clusters":  # tight clusters: top-k gaps of ~1e-3 inside a cluster
        centers = unit(rng, 10, d)

        def pool(n: int) -> np.ndarray:
            noise = 0.03 * rng.standard_normal((n, d), dtype=np.float32)
            return l2_normalize(centers[rng.integers(0, 10, n)] + noise)

        return pool(700), pool(500)
    if kind == "duplicates":  # every row appears 4 (x) or 5 (y) times: ties at every rank
        x, y = unit(rng, 100, d), unit(rng, 200, d)
        return np.repeat(x, 4, axis=0)[rng.permutation(400)], np.repeat(y, 5, axis=0)
    # zero and huge-norm rows on both sides: raw inner product, not cosine
    x, y = unit(rng, 400, d), unit(rng, 500, d)
    x[:5], y[7:12] = 0.0, 0.0
    x[::37] *= 40.0
    y[::53] *= 60.0
    return x, y


@pytest.mark.parametrize("d", [384, 1024])
@pytest.mark.parametrize(("k_xy", "k_yx"), [(4, 4), (1, 10)])
def test_random_both_directions_equal_faiss(d: int, k_xy: int, k_yx: int) -> None:
    x, y = data("random", d, np.random.default_rng(d + k_yx))
    (s_xy, i_xy), (s_yx, i_yx) = knn_both(x, y, k_xy, k_yx, backend="int8", n_threads=2)
    for (scores, ids), (q, index, k) in zip(
        ((s_xy, i_xy), (s_yx, i_yx)), ((x, y, k_xy), (y, x, k_yx)), strict=True
    ):
        want_scores, want_ids = faiss_exact(q, index, k)
        np.testing.assert_array_equal(ids, want_ids)
        np.testing.assert_allclose(scores, want_scores, atol=1e-5)
        assert scores.dtype == np.float32 and ids.dtype == np.int64


@pytest.mark.parametrize("d", [384, 1024])
@pytest.mark.parametrize("kind", ["clusters", "duplicates", "norms"])
def test_adversarial_both_directions_exact(kind: str, d: int) -> None:
    x, y = data(kind, d, np.random.default_rng(7))
    (s_xy, i_xy), (s_yx, i_yx) = knn_both(x, y, 4, 6, backend="int8", n_threads=2)
    assert_exact_topk(x, y, 4, s_xy, i_xy, relative=True)
    assert_exact_topk(y, x, 6, s_yx, i_yx, relative=True)


def test_both_passes_merge_sparsely_from_a_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Random data at d = 384: after a seeded first tile (rows) or block (columns), every
    # merge reads only the passing groups; the dense top-k is a fallback that never runs.
    calls = {"dense": 0, "seed": 0}
    for name in ("_dense_rows", "_dense_cols", "_seed"):
        real = getattr(knn_scan, name)

        def spy(*args, real=real, key="seed" if name == "_seed" else "dense"):
            calls[key] += 1
            return real(*args)

        monkeypatch.setattr(knn_scan, name, spy)
    x, y = data("random", 384, np.random.default_rng(1))
    (_, i_xy), (_, i_yx) = knn_both(x, y, 4, backend="int8")
    assert calls["dense"] == 0 and calls["seed"] > 0
    np.testing.assert_array_equal(i_xy, faiss_exact(x, y, 4)[1])
    np.testing.assert_array_equal(i_yx, faiss_exact(y, x, 4)[1])


@pytest.mark.parametrize("n_threads", [1, 3])
def test_certified_rows_exact_on_both_sides(n_threads: int) -> None:
    # 16 extra candidates on clustered data: measured 46 % (x) and 27 % (y) certified.
    x, y = data("clusters", 384, np.random.default_rng(3))
    xy, yx = int8_knn_both(x, y, 4, 4, n_threads=n_threads, extras=(16,))
    for (scores, ids, certified), (q, index) in zip((xy, yx), ((x, y), (y, x)), strict=True):
        assert 0 < certified.sum() < len(certified)
        ok = np.flatnonzero(certified)
        # the certificate is sound
        assert_exact_topk(q[ok], index, 4, scores[ok], ids[ok], relative=True)


def test_uncertified_rows_are_redone_per_direction(monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = data("clusters", 384, np.random.default_rng(3))
    xy, yx = int8_knn_both(x, y, 4, 4, extras=(16,))
    redone: list[tuple[int, int]] = []
    real = knn_module._faiss_knn

    def spy(q, index, *args):
        redone.append((len(q), len(index)))
        return real(q, index, *args)

    monkeypatch.setattr(knn_module, "_faiss_knn", spy)
    one_round = functools.partial(int8_knn_both, extras=(16,))
    monkeypatch.setattr(knn_module, "int8_knn_both", lambda *a, **kw: one_round(*a))
    (s_xy, i_xy), (s_yx, i_yx) = knn_both(x, y, 4, backend="int8")
    # each direction's failures searched once, against the other pool
    assert redone == [(int((~xy[2]).sum()), len(y)), (int((~yx[2]).sum()), len(x))]
    assert_exact_topk(x, y, 4, s_xy, i_xy, relative=True)
    assert_exact_topk(y, x, 4, s_yx, i_yx, relative=True)


def test_second_round_reuses_the_int8_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = data("clusters", 384, np.random.default_rng(3))
    one = int8_knn_both(x, y, 4, 4, extras=(16,))
    quantised: list[int] = []
    real = knn_mutual.quantize_rows

    def spy(rows, *args):
        quantised.append(len(rows))
        return real(rows, *args)

    monkeypatch.setattr(knn_mutual, "quantize_rows", spy)
    two = int8_knn_both(x, y, 4, 4, extras=(16, 60))  # measured: all certified
    assert quantised == [len(x), len(y)]  # the second round quantised nothing again
    for (_, _, first), (scores, ids, second), (q, index) in zip(
        one, two, ((x, y), (y, x)), strict=True
    ):
        assert second.all() and not first.all()
        assert_exact_topk(q, index, 4, scores, ids, relative=True)


@pytest.mark.parametrize(("backend", "device"), [("faiss", None), ("torch", "cpu")])
def test_other_backends_search_twice(backend: str, device: str | None) -> None:
    x, y = data("random", 64, np.random.default_rng(2))
    (s_xy, i_xy), (s_yx, i_yx) = knn_both(x, y, 3, 5, backend=backend, device=device)
    np.testing.assert_array_equal(i_xy, knn(x, y, 3, backend="faiss")[1])
    np.testing.assert_array_equal(i_yx, knn(y, x, 5, backend="faiss")[1])
    assert s_xy.shape == (len(x), 3) and s_yx.shape == (len(y), 5)


def test_auto_uses_one_scan_only_when_both_directions_pick_int8(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    real = knn_module.int8_knn_both

    def spy(*args, **kwargs):
        calls.append("both")
        return real(*args, **kwargs)

    monkeypatch.setattr(knn_module, "int8_knn_both", spy)
    x, y = data("random", 64, np.random.default_rng(4))
    monkeypatch.setattr(knn_module, "choose_backend", lambda nq, n, d: ("int8", None))
    knn_both(x, y, 2)
    assert calls == ["both"]
    monkeypatch.setattr(
        knn_module, "choose_backend", lambda nq, n, d: ("int8", None) if nq > n else ("faiss", None)
    )
    (_, i_xy), (_, i_yx) = knn_both(x, y, 2)
    assert calls == ["both"]  # mixed choice: two searches
    np.testing.assert_array_equal(i_xy, faiss_exact(x, y, 2)[1])
    np.testing.assert_array_equal(i_yx, faiss_exact(y, x, 2)[1])


def test_float16_memmaps_and_tiny_pools(tmp_path) -> None:
    rng = np.random.default_rng(5)
    arrays = float16_memmaps(tmp_path, rng, 384, x=250, y=700)
    x, y = arrays["x"], arrays["y"]
    (_, i_xy), (_, i_yx) = knn_both(x, y, 4, backend="int8")
    np.testing.assert_array_equal(i_xy, faiss_exact(x.astype(np.float32), y, 4)[1])
    np.testing.assert_array_equal(i_yx, faiss_exact(y.astype(np.float32), x, 4)[1])
    small_x, small_y = unit(rng, 20, 32), unit(rng, 7, 32)  # k = n: every row kept
    (s_xy, i_xy), (s_yx, i_yx) = knn_both(small_x, small_y, 7, 20, backend="int8")
    assert_exact_topk(small_x, small_y, 7, s_xy, i_xy, relative=True)
    assert_exact_topk(small_y, small_x, 20, s_yx, i_yx, relative=True)


def test_bad_input_names_the_argument() -> None:
    with pytest.raises(ValueError, match="x dim 3 != y dim 4"):
        knn_both(np.ones((2, 3)), np.ones((4, 4)), 1)
    with pytest.raises(ValueError, match="k=3 exceeds the index size n=2"):
        knn_both(np.ones((2, 3)), np.ones((4, 3)), 1, 3)
    with pytest.raises(ValueError, match="y must hold finite numbers"):
        knn_both(np.ones((2, 3)), np.full((4, 3), np.nan), 1)
    with pytest.raises(ValueError, match="backend must be one of"):
        knn_both(np.ones((2, 3)), np.ones((4, 3)), 1, backend="gpu")
