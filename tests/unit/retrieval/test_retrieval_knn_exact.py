"""Exact k-NN backends (int8 + certificate, torch blocks) equal FAISS and a brute force.

The int8 tiles are shrunk (monkeypatch) so that small arrays still cross many query blocks
and index tiles, a partial last tile, and the sparse merge path.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from knn_helpers import assert_exact_topk, faiss_exact, float16_memmaps, unit

from retrieval import knn as knn_module
from retrieval import knn_int8
from retrieval.knn import choose_backend, knn, l2_normalize
from retrieval.knn_int8 import int8_knn

BACKENDS = [("int8", None), ("torch", "cpu"), ("faiss", None)]


@pytest.fixture(autouse=True)
def small_tiles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(knn_int8, "QUERY_BLOCK", 96)
    monkeypatch.setattr(knn_int8, "TILE", 256)
    monkeypatch.setattr(knn_int8, "RERANK_ROWS", 1000)


@pytest.mark.parametrize(("backend", "device"), BACKENDS)
@pytest.mark.parametrize(("d", "k"), [(384, 1), (384, 4), (1024, 4), (384, 10)])
def test_random_ids_equal_faiss(backend: str, device: str | None, d: int, k: int) -> None:
    rng = np.random.default_rng(d + k)
    queries, index = unit(rng, 333, d), unit(rng, 1500, d)  # 333: not a block multiple
    scores, ids = knn(queries, index, k, backend=backend, device=device, chunk_size=200)
    want_scores, want_ids = faiss_exact(queries, index, k)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)
    assert scores.dtype == np.float32 and ids.dtype == np.int64


def adversarial(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Data where int8 errors exceed the gaps between neighbours."""
    d = 384
    if kind == "duplicates":  # every index row appears 5 times: ties at every rank
        base = unit(rng, 200, d)
        return unit(rng, 150, d), np.repeat(base, 5, axis=0)[rng.permutation(1000)]
    if kind == "near_ties":  # index rows differ by ~1e-5, far below an int8 step
        base = unit(rng, 40, d)
        noise = 1e-5 * rng.standard_normal((1000, d), dtype=np.float32)
        return unit(rng, 150, d), l2_normalize(base[rng.integers(0, 40, 1000)] + noise)
    if kind == "clusters":  # tight clusters: top-k gaps of ~1e-3 inside a cluster
        centers = unit(rng, 10, d)
        pick = lambda n: centers[rng.integers(0, 10, n)]  # noqa: E731
        noise = lambda n: 0.03 * rng.standard_normal((n, d), dtype=np.float32)  # noqa: E731
        return l2_normalize(pick(150) + noise(150)), l2_normalize(pick(1000) + noise(1000))
    # zero and huge-norm rows: raw inner product, not cosine
    queries, index = unit(rng, 150, d), unit(rng, 1000, d)
    queries[:5] = 0.0
    index[::97] *= 50.0
    return queries, index


@pytest.mark.parametrize(("backend", "device"), BACKENDS[:2])
@pytest.mark.parametrize("kind", ["duplicates", "near_ties", "clusters", "norms"])
@pytest.mark.parametrize("k", [1, 4, 16])
def test_adversarial_exact(backend: str, device: str | None, kind: str, k: int) -> None:
    queries, index = adversarial(kind, np.random.default_rng(7))
    scores, ids = knn(queries, index, k, backend=backend, device=device, chunk_size=128)
    assert_exact_topk(queries, index, k, scores, ids)


def test_certified_rows_are_exact_and_failures_redone(monkeypatch: pytest.MonkeyPatch) -> None:
    # 16 extra candidates on clustered data: measured 35 % of the queries certified.
    queries, index = adversarial("clusters", np.random.default_rng(3))
    scores, ids, certified = int8_knn(queries, index, 4, extras=(16,))
    assert 0 < certified.sum() < len(certified)
    ok = np.flatnonzero(certified)
    assert_exact_topk(queries[ok], index, 4, scores[ok], ids[ok])  # the certificate is sound

    redone: list[int] = []
    real = knn_module._faiss_knn

    def spy(q, *args):
        redone.append(len(q))
        return real(q, *args)

    monkeypatch.setattr(knn_module, "_faiss_knn", spy)
    monkeypatch.setattr(knn_module, "int8_knn", lambda *a, **kw: int8_knn(*a, extras=(16,)))
    scores, ids = knn(queries, index, 4, backend="int8")
    assert redone == [int((~certified).sum())]  # exactly the uncertified rows, once
    assert_exact_topk(queries, index, 4, scores, ids)


def test_second_round_certifies_more() -> None:
    queries, index = adversarial("clusters", np.random.default_rng(3))
    _, _, one = int8_knn(queries, index, 4, extras=(16,))
    _, _, two = int8_knn(queries, index, 4, extras=(16, 60))  # measured: 35 % -> 100 %
    assert two.sum() > one.sum() and np.all(two[one])


def test_float16_memmap_input(tmp_path) -> None:
    rng = np.random.default_rng(5)
    arrays = float16_memmaps(tmp_path, rng, 384, queries=250, index=1200)
    q, x = arrays["queries"], arrays["index"]
    want = faiss_exact(q.astype(np.float32), x.astype(np.float32), 4)
    for backend, device in BACKENDS:
        scores, ids = knn(q, x, 4, backend=backend, device=device, chunk_size=300)
        np.testing.assert_array_equal(ids, want[1])
        np.testing.assert_allclose(scores, want[0], atol=1e-5)


def test_small_index_and_k_equal_n() -> None:
    rng = np.random.default_rng(9)
    queries, index = unit(rng, 20, 32), unit(rng, 7, 32)
    for k in (1, 7):
        for backend, device in BACKENDS:
            scores, ids = knn(queries, index, k, backend=backend, device=device)
            assert_exact_topk(queries, index, k, scores, ids)


def test_choose_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert choose_backend(10, 10, 384) == ("torch", "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(knn_module, "int8_speedup", lambda dim: 3.0)
    assert choose_backend(10, 10, 384) == ("faiss", None)  # too small to pay off
    assert choose_backend(100_000, 100_000, 384) == ("int8", None)
    monkeypatch.setattr(knn_module, "int8_speedup", lambda dim: 1.1)  # no int8 gain here
    assert choose_backend(100_000, 100_000, 384) == ("faiss", None)


def test_auto_on_a_gpu_machine_runs_the_torch_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # No GPU here: the "cuda" choice is redirected to the CPU to run the same code.
    calls: list[str] = []
    real = knn_module.torch_knn

    def on_cpu(queries, index, k, *, device, chunk_size):
        calls.append(str(device))
        return real(queries, index, k, device="cpu", chunk_size=chunk_size)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(knn_module, "torch_knn", on_cpu)
    rng = np.random.default_rng(11)
    queries, index = unit(rng, 50, 64), unit(rng, 300, 64)
    _, ids = knn(queries, index, 3)
    assert calls == ["cuda"]
    np.testing.assert_array_equal(ids, faiss_exact(queries, index, 3)[1])


def test_measured_int8_speedup_is_a_ratio() -> None:
    speedup = knn_int8.int8_speedup(64)
    assert speedup == knn_int8.int8_speedup(64)  # measured once per process
    assert speedup == 0.0 or 0.05 < speedup < 100


def test_bad_backend_and_threads() -> None:
    with pytest.raises(ValueError, match="backend must be one of"):
        knn(np.ones((2, 3)), np.ones((4, 3)), 1, backend="gpu")
    with pytest.raises(ValueError, match="n_threads must be >= 1, got 0"):
        knn(np.ones((2, 3)), np.ones((4, 3)), 1, n_threads=0)
