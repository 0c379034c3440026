"""Exact and approximate inner-product k-nearest-neighbour search with FAISS.

All functions take and return numpy arrays. For cosine similarity the caller passes
L2-normalised rows (see :func:`l2_normalize`); the search itself is a plain inner product,
as in XTREME's Tatoeba and LASER's BUCC mining.

Ties: results are sorted by score descending, then by index row ascending. When several
index rows tie at the k-th score, which of them fills the last slots is unspecified (FAISS
does not break ties by id); every returned row is then still a correct k-th neighbour.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import faiss
import numpy as np

logger = logging.getLogger(__name__)

# 2**17 index rows x 384 dims is a 200 MB float32 copy inside IndexFlatIP: bounded memory
# for pools of 10^6 sentences while keeping BLAS calls large enough to be efficient.
DEFAULT_CHUNK_SIZE = 131_072
ANN_KINDS = ("hnsw", "ivf")


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Return a float32 copy of ``x`` with every row scaled to unit L2 norm.

    Args:
        x: (n, d) array of any real dtype.

    Returns:
        (n, d) float32 array. Rows of zero norm stay zero (no NaN).

    Raises:
        ValueError: if ``x`` is not 2-D or holds non-finite values.
    """
    x = _as_matrix(x, "x")
    norms = np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    # Dividing a zero row by 1 keeps it zero instead of producing 0/0 = NaN.
    safe = np.where(norms > 0, norms, 1.0)
    return (x / safe).astype(np.float32)


def knn(
    queries: np.ndarray,
    index: np.ndarray,
    k: int,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    n_threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product k-NN (FAISS ``IndexFlatIP``) with bounded memory.

    The index side is searched chunk by chunk and the per-chunk top-k lists are merged,
    so at most ``chunk_size`` index rows are copied into FAISS at a time; queries are
    processed in chunks of ``chunk_size`` rows as well. Pass L2-normalised arrays to get
    cosine similarities.

    Args:
        queries: (nq, d) query embeddings.
        index: (n, d) embeddings to search, n >= k.
        k: number of neighbours, 1 <= k <= n.
        chunk_size: rows per query chunk and per index chunk (k may exceed it).
        n_threads: OpenMP threads for FAISS during this call; None keeps the current
            setting. The previous setting is restored afterwards.

    Returns:
        (scores, ids): (nq, k) float32 inner products and (nq, k) int64 row numbers into
        ``index``, sorted by score descending (ties: row ascending).

    Raises:
        ValueError: on non-2-D input, mismatched dims, k < 1, k > n or chunk_size < 1.
    """
    queries, index = _check_pair(queries, index)
    _check_k(k, index.shape[0])
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    nq = queries.shape[0]
    scores = np.empty((nq, 0), dtype=np.float32)  # running top-k, grows to (nq, k)
    ids = np.empty((nq, 0), dtype=np.int64)
    with faiss_threads(n_threads):
        # Index chunks outermost so that each chunk is copied into FAISS only once.
        for i0 in range(0, index.shape[0], chunk_size):
            flat = faiss.IndexFlatIP(index.shape[1])
            flat.add(index[i0 : i0 + chunk_size])
            scores, ids = _search_queries(flat, queries, (scores, ids), i0, k, chunk_size)
    return scores, ids


def _search_queries(
    flat: faiss.IndexFlatIP,
    queries: np.ndarray,
    best: tuple[np.ndarray, np.ndarray],
    offset: int,
    k: int,
    chunk_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Search one index chunk query-chunk by query-chunk, merging into the running top-k."""
    kc = min(k, flat.ntotal)
    width = min(k, best[0].shape[1] + kc)
    scores = np.empty((queries.shape[0], width), dtype=np.float32)
    ids = np.empty((queries.shape[0], width), dtype=np.int64)
    for q0 in range(0, queries.shape[0], chunk_size):
        rows = slice(q0, q0 + chunk_size)
        s, i = flat.search(queries[rows], kc)
        scores[rows], ids[rows] = _merge_topk(
            np.concatenate([best[0][rows], s], axis=1),
            np.concatenate([best[1][rows], i + offset], axis=1),
            k,
        )
    return scores, ids


def _merge_topk(
    scores: np.ndarray, ids: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the k best columns per row, sorted by score desc then id asc."""
    order = np.lexsort((ids, -scores), axis=-1)[:, :k]
    return np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)


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
    queries, index = _check_pair(queries, index)
    _check_k(k, index.shape[0])
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


@contextlib.contextmanager
def faiss_threads(n_threads: int | None) -> Iterator[None]:
    """Temporarily set FAISS's OpenMP thread count (None: leave it unchanged)."""
    if n_threads is None:
        yield
        return
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n_threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def _params(given: dict[str, int] | None, defaults: dict[str, int]) -> dict[str, int]:
    unknown = sorted(set(given or {}) - set(defaults))
    if unknown:
        raise ValueError(f"unknown ann_knn params {unknown}; known: {sorted(defaults)}")
    return {**defaults, **(given or {})}


def _as_matrix(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (n, d) array, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
        raise ValueError(f"{name} must hold finite numbers (dtype {x.dtype})")
    return x


def _check_pair(queries: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert to C-contiguous float32, as FAISS requires."""
    queries, index = _as_matrix(queries, "queries"), _as_matrix(index, "index")
    if queries.shape[1] != index.shape[1]:
        raise ValueError(
            f"queries dim {queries.shape[1]} != index dim {index.shape[1]}"
        )
    as32 = np.ascontiguousarray
    return as32(queries, dtype=np.float32), as32(index, dtype=np.float32)


def _check_k(k: int, n: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if k > n:
        raise ValueError(f"k={k} exceeds the index size n={n}")
