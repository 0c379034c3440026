"""Exact and approximate inner-product k-nearest-neighbour search.

All functions take and return numpy arrays; inputs may be numpy memory maps of float16 or
float32 rows, read chunk by chunk. For cosine similarity the caller passes L2-normalised
rows (see :func:`l2_normalize`); the search itself is a plain inner product, as in
XTREME's Tatoeba and LASER's BUCC mining.

:func:`knn` is exact and picks its backend by measured capability (:func:`choose_backend`):
a CUDA GPU (torch matmul + topk, :mod:`retrieval.knn_torch`), else int8 candidate scoring
with exact float32 re-ranking and a certificate (:mod:`retrieval.knn_int8`) where the int8
GEMM is measured faster than FAISS, else FAISS ``IndexFlatIP``. Every backend returns the
same ids except among tied scores.

:func:`knn_both` searches both ways between two sets (x -> y and y -> x, what margin
mining needs); on the int8 backend from one scan of the x-y scores
(:mod:`retrieval.knn_mutual`).

Ties: results are sorted by score descending, then by index row ascending. When several
index rows tie at the k-th score, which of them fills the last slots is unspecified;
every returned row is then still a correct k-th neighbour.
"""

from __future__ import annotations

import logging

import faiss
import numpy as np
import torch

from retrieval._common import (
    SCAN_ROWS,
    as_matrix,
    check_k,
    check_pair,
    f32,
    faiss_threads,
    merge_topk,
)
from retrieval.ann import ANN_KINDS, ann_knn, recall_at_k
from retrieval.knn_int8 import int8_knn, int8_speedup
from retrieval.knn_mutual import int8_knn_both
from retrieval.knn_torch import torch_knn

__all__ = [
    "ANN_KINDS",
    "BACKENDS",
    "ann_knn",
    "choose_backend",
    "faiss_threads",
    "knn",
    "knn_both",
    "l2_normalize",
    "recall_at_k",
]

logger = logging.getLogger(__name__)

# 2**17 index rows x 384 dims is a 200 MB float32 copy inside IndexFlatIP: bounded memory
# for pools of 10^6 sentences while keeping BLAS calls large enough to be efficient.
DEFAULT_CHUNK_SIZE = 131_072
BACKENDS = ("auto", "faiss", "int8", "torch")
# Quantising the index costs about what FAISS spends searching it for ~500 queries.
INT8_MIN_QUERIES = 1024
# (largest d or None, fewest index rows) for int8: below, re-ranking the candidates costs
# more than the faster scan saves. Measured crossovers with 2 threads: about 2k rows at
# d = 384 (int8 1.2x FAISS there), about 10k at d = 1024 (0.54x at 5k, 1.08x at 10k).
INT8_MIN_ROWS = ((512, 4096), (None, 32_768))
# int8 tile scan vs FAISS on one tile, both one thread: re-ranking and merging cost about
# as much again as the scan at 10k rows, so a smaller gain would not beat FAISS there.
INT8_MIN_SPEEDUP = 2.0


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Return a float32 copy of ``x`` with every row scaled to unit L2 norm.

    Args:
        x: (n, d) array of any real dtype (a memory map is read chunk by chunk).

    Returns:
        (n, d) float32 array. Rows of zero norm stay zero (no NaN).

    Raises:
        ValueError: if ``x`` is not 2-D or holds non-finite values.
    """
    x = as_matrix(x, "x")
    out = np.empty(x.shape, dtype=np.float32)
    for start in range(0, x.shape[0], SCAN_ROWS):  # chunked: a memory map is never loaded whole
        chunk = f32(x[start : start + SCAN_ROWS])
        # float64 sums of squares, float32 division: 10x faster than a float64 copy and
        # within one float32 rounding of it.
        norms = np.sqrt(np.einsum("ij,ij->i", chunk, chunk, dtype=np.float64))
        # Dividing a zero row by 1 keeps it zero instead of producing 0/0 = NaN.
        safe = np.where(norms > 0, norms, 1.0).astype(np.float32)
        out[start : start + len(chunk)] = chunk / safe[:, None]
    return out


def knn(
    queries: np.ndarray,
    index: np.ndarray,
    k: int,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    n_threads: int | None = None,
    backend: str = "auto",
    device: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product k-NN with bounded memory, on the fastest measured backend.

    Backends (all exact; ids agree except among tied scores):

    - ``"faiss"``: FAISS ``IndexFlatIP`` over index chunks of ``chunk_size`` rows, the
      per-chunk top-k lists merged; queries in chunks of ``chunk_size`` too.
    - ``"int8"``: int8 candidate scoring, float32 re-ranking of k + 28 candidates (k + 60
      for d > 512) and a certificate (:mod:`retrieval.knn_int8`); queries that fail it
      twice are searched again with FAISS (CPU only).
    - ``"torch"``: float32 torch matmul + topk in blocks on ``device`` (default "cuda").
    - ``"auto"``: :func:`choose_backend`.

    Args:
        queries: (nq, d) query embeddings (float16/32/64; a memory map is read in chunks).
        index: (n, d) embeddings to search, n >= k.
        k: number of neighbours, 1 <= k <= n.
        chunk_size: rows per query and index chunk of the faiss backend, cap on the
            torch backend's blocks (k may exceed it); the int8 backend uses cache-sized
            tiles of its own.
        n_threads: threads for FAISS (OpenMP) or the int8 workers during this call; None
            keeps FAISS's setting and uses torch's thread count for int8. The previous
            FAISS setting is restored afterwards.
        backend: one of ``BACKENDS``.
        device: torch device of the torch backend; None = "cuda".

    Returns:
        (scores, ids): (nq, k) float32 inner products and (nq, k) int64 row numbers into
        ``index``, sorted by score descending (ties: row ascending).

    Raises:
        ValueError: on non-2-D or non-finite input, mismatched dims, k < 1, k > n,
            chunk_size < 1, n_threads < 1 or an unknown backend.
    """
    queries, index = check_pair(queries, index)
    check_k(k, index.shape[0])
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    _check_options(n_threads, backend)
    if backend == "auto":
        backend, device = choose_backend(queries.shape[0], index.shape[0], index.shape[1])
    if backend == "torch":
        return torch_knn(queries, index, k, device=device or "cuda", chunk_size=chunk_size)
    if backend == "int8":
        return _int8_then_faiss(queries, index, k, n_threads)
    return _faiss_knn(queries, index, k, chunk_size, n_threads)


def knn_both(
    x: np.ndarray,
    y: np.ndarray,
    k_xy: int,
    k_yx: int | None = None,
    *,
    n_threads: int | None = None,
    backend: str = "auto",
    device: str | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Exact k-NN both ways: the k_xy nearest y of every x and the k_yx nearest x of every y.

    Equal to ``knn(x, y, k_xy)`` and ``knn(y, x, k_yx)`` (ids except among tied scores).
    The int8 backend scores each x block against each y tile once for both directions
    (:func:`retrieval.knn_mutual.int8_knn_both`), each with its own certificate; rows that
    fail it are searched again. Other backends run :func:`knn` twice; ``"auto"`` takes
    int8 when :func:`choose_backend` picks it both ways, else each direction's choice.

    Args:
        x: (n_x, d) embeddings (float16/32/64; a memory map is read in chunks).
        y: (n_y, d) embeddings.
        k_xy: neighbours of each x row among y, 1 <= k_xy <= n_y.
        k_yx: neighbours of each y row among x, 1 <= k_yx <= n_x; None: k_xy.
        n_threads, backend, device: as for :func:`knn`.

    Returns:
        ((scores_xy, ids_xy), (scores_yx, ids_yx)): (n_x, k_xy) and (n_y, k_yx) float32
        inner products and int64 row numbers (into y, into x), sorted by score descending
        (ties: row ascending).

    Raises:
        ValueError: as :func:`knn`, naming x and y.
    """
    x, y = as_matrix(x, "x"), as_matrix(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x dim {x.shape[1]} != y dim {y.shape[1]}")
    k_yx = k_xy if k_yx is None else k_yx
    check_k(k_xy, y.shape[0])
    check_k(k_yx, x.shape[0])
    _check_options(n_threads, backend)
    if backend == "auto":
        forward = choose_backend(x.shape[0], y.shape[0], x.shape[1])
        backward = choose_backend(y.shape[0], x.shape[0], x.shape[1])
        if forward == backward == ("int8", None):
            backend = "int8"
        else:
            return (
                knn(x, y, k_xy, n_threads=n_threads, backend=forward[0], device=forward[1]),
                knn(y, x, k_yx, n_threads=n_threads, backend=backward[0], device=backward[1]),
            )
    if backend != "int8":
        options = {"n_threads": n_threads, "backend": backend, "device": device}
        return knn(x, y, k_xy, **options), knn(y, x, k_yx, **options)
    xy, yx = int8_knn_both(x, y, k_xy, k_yx, n_threads=n_threads)
    return (
        _faiss_uncertified(x, y, k_xy, xy, n_threads),
        _faiss_uncertified(y, x, k_yx, yx, n_threads),
    )


def choose_backend(n_queries: int, n_index: int, dim: int) -> tuple[str, str | None]:
    """The exact backend :func:`knn` uses for a search of this size, and its device.

    A CUDA GPU when torch sees one; otherwise int8 when the search is large enough and a
    one-tile measurement (:func:`retrieval.knn_int8.int8_speedup`, once per process and
    dimension) finds the int8 scan at least ``INT8_MIN_SPEEDUP`` times faster than FAISS
    on this CPU; otherwise FAISS.

    Returns:
        (backend, device): ("torch", "cuda"), ("int8", None) or ("faiss", None).
    """
    if torch.cuda.is_available():
        return "torch", "cuda"
    min_rows = next(rows for d, rows in INT8_MIN_ROWS if d is None or dim <= d)
    if n_queries >= INT8_MIN_QUERIES and n_index >= min_rows:
        speedup = int8_speedup(dim)
        logger.debug("int8 tile scan measured %.2fx FAISS at dim %d", speedup, dim)
        if speedup >= INT8_MIN_SPEEDUP:
            return "int8", None
    return "faiss", None


def _check_options(n_threads: int | None, backend: str) -> None:
    if n_threads is not None and n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def _int8_then_faiss(
    queries: np.ndarray, index: np.ndarray, k: int, n_threads: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """int8 search; the queries its certificate does not cover are redone with FAISS."""
    found = int8_knn(queries, index, k, n_threads=n_threads)
    return _faiss_uncertified(queries, index, k, found, n_threads)


def _faiss_uncertified(
    queries: np.ndarray,
    index: np.ndarray,
    k: int,
    found: tuple[np.ndarray, np.ndarray, np.ndarray],
    n_threads: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """An int8 result with the rows its certificate misses searched again with FAISS."""
    scores, ids, certified = found
    redo = np.flatnonzero(~certified)
    if len(redo):
        logger.debug("int8 certificate failed for %d of %d queries", len(redo), len(ids))
        scores[redo], ids[redo] = _faiss_knn(
            queries[redo], index, k, DEFAULT_CHUNK_SIZE, n_threads
        )
    return scores, ids


def _faiss_knn(
    queries: np.ndarray, index: np.ndarray, k: int, chunk_size: int, n_threads: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """FAISS IndexFlatIP over index chunks, merging the per-chunk top-k lists."""
    nq = queries.shape[0]
    scores = np.empty((nq, 0), dtype=np.float32)  # running top-k, grows to (nq, k)
    ids = np.empty((nq, 0), dtype=np.int64)
    with faiss_threads(n_threads):
        # Index chunks outermost so that each chunk is copied into FAISS only once.
        for i0 in range(0, index.shape[0], chunk_size):
            flat = faiss.IndexFlatIP(index.shape[1])
            flat.add(f32(index[i0 : i0 + chunk_size]))
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
        s, i = flat.search(f32(queries[rows]), kc)
        scores[rows], ids[rows] = merge_topk(
            np.concatenate([best[0][rows], s], axis=1),
            np.concatenate([best[1][rows], i + offset], axis=1),
            k,
        )
    return scores, ids
