"""Approximate inner-product k-NN with FAISS (HNSW, IVF-Flat) and its recall against exact.

Same return convention as :func:`retrieval.knn.knn`; also importable from there.
"""

from __future__ import annotations

import faiss
import numpy as np

from retrieval._common import check_k, check_pair, f32, faiss_threads

ANN_KINDS = ("hnsw", "ivf")


def ann_knn(
    queries: np.ndarray,
    index: np.ndarray,
    k: int,
    *,
    kind: str = "hnsw",
    params: dict[str, int] | None = None,
    n_threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate inner-product k-NN (FAISS HNSW or IVF-Flat), same return as :func:`knn`.

    Args:
        queries: (nq, d) query embeddings.
        index: (n, d) embeddings to search, n >= k.
        k: number of neighbours, 1 <= k <= n.
        kind: ``"hnsw"`` (graph; params ``m``=32, ``ef_construction``=80,
            ``ef_search``=64, raised to k) or ``"ivf"`` (inverted lists; params
            ``nlist``=min(4*sqrt(n), n/39), ``nprobe``=8).
        params: overrides of the parameters named above.
        n_threads: OpenMP threads for FAISS during this call; None keeps the current one.

    Returns:
        (scores, ids): (nq, k) float32 and (nq, k) int64, sorted by score descending; an
        id of -1 marks a slot the approximate search could not fill.

    Raises:
        ValueError: on bad shapes, k, an unknown kind or an unknown parameter name.
    """
    queries, index = check_pair(queries, index)
    queries, index = f32(queries), f32(index)
    check_k(k, index.shape[0])
    if kind not in ANN_KINDS:
        raise ValueError(f"kind must be one of {ANN_KINDS}, got {kind!r}")
    with faiss_threads(n_threads):
        scores, ids = _build_ann(index, kind, params, k).search(queries, k)
    return scores.astype(np.float32), ids.astype(np.int64)


def _build_ann(
    index: np.ndarray, kind: str, params: dict[str, int] | None, k: int
) -> faiss.Index:
    """Build and fill an HNSW or IVF-Flat inner-product index over ``index`` (n, d)."""
    n, d = index.shape
    if kind == "hnsw":
        p = _params(params, {"m": 32, "ef_construction": 80, "ef_search": 64})
        ann = faiss.IndexHNSWFlat(d, p["m"], faiss.METRIC_INNER_PRODUCT)
        ann.hnsw.efConstruction = p["ef_construction"]
        ann.add(index)
        ann.hnsw.efSearch = max(p["ef_search"], k)  # FAISS does not raise it to k itself
        return ann
    # FAISS wants >= 39 training points per list; more lists would train poorly.
    p = _params(params, {"nlist": max(1, min(int(4 * np.sqrt(n)), n // 39)), "nprobe": 8})
    nlist = min(p["nlist"], n)
    ann = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
    ann.cp.min_points_per_centroid = 1  # silence FAISS's stderr warning for small n
    ann.train(index)
    ann.add(index)
    ann.nprobe = min(p["nprobe"], nlist)
    return ann


def recall_at_k(approx_ids: np.ndarray, exact_ids: np.ndarray) -> float:
    """Fraction of exact k-NN ids that the approximate search also returned.

    Args:
        approx_ids: (nq, k) int ids from :func:`ann_knn` (-1 = empty slot).
        exact_ids: (nq, k) int ids from :func:`knn`.

    Returns:
        Mean over queries of |approx ∩ exact| / k, in [0, 1]; higher is better.

    Raises:
        ValueError: if the shapes differ or are not 2-D.
    """
    approx_ids, exact_ids = np.asarray(approx_ids), np.asarray(exact_ids)
    if approx_ids.ndim != 2 or approx_ids.shape != exact_ids.shape:
        raise ValueError(
            f"approx_ids {approx_ids.shape} and exact_ids {exact_ids.shape} must be equal 2-D"
        )
    hits = (approx_ids[:, :, None] == exact_ids[:, None, :]) & (exact_ids[:, None, :] >= 0)
    return float(hits.any(axis=1).sum() / exact_ids.size)


def _params(given: dict[str, int] | None, defaults: dict[str, int]) -> dict[str, int]:
    unknown = sorted(set(given or {}) - set(defaults))
    if unknown:
        raise ValueError(f"unknown ann_knn params {unknown}; known: {sorted(defaults)}")
    return {**defaults, **(given or {})}
