"""Shared helpers of the search modules: input checks, row chunks, FAISS threads, top-k merge.

Inputs may be numpy memory maps of float16 / float32 rows (the embedding cache returns
them); the helpers here read such arrays chunk by chunk and never copy them whole.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import faiss
import numpy as np

# Rows converted to float32 at a time when scanning a caller's (possibly memory-mapped)
# array: 2**15 rows x 1024 dims is a 128 MB float32 chunk.
SCAN_ROWS = 32_768


def as_matrix(x: np.ndarray, name: str) -> np.ndarray:
    """Check that ``x`` is a 2-D array of finite numbers; return it without copying.

    Raises:
        ValueError: if ``x`` is not 2-D or holds non-finite values.
    """
    x = x if isinstance(x, np.ndarray) else np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (n, d) array, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"{name} must hold finite numbers (dtype {x.dtype})")
    for chunk in row_chunks(x):  # chunked: a memory map is never loaded whole
        if not np.isfinite(chunk).all():
            raise ValueError(f"{name} must hold finite numbers (dtype {x.dtype})")
    return x


def check_pair(queries: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (queries, index) pair; the arrays are returned as they are (no copy).

    Raises:
        ValueError: on non-2-D or non-finite input, or different dims.
    """
    queries, index = as_matrix(queries, "queries"), as_matrix(index, "index")
    if queries.shape[1] != index.shape[1]:
        raise ValueError(f"queries dim {queries.shape[1]} != index dim {index.shape[1]}")
    return queries, index


def check_k(k: int, n: int) -> None:
    """Raise ValueError unless k is an integer with 1 <= k <= n."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if k > n:
        raise ValueError(f"k={k} exceeds the index size n={n}")


def row_chunks(x: np.ndarray, rows: int = SCAN_ROWS) -> Iterator[np.ndarray]:
    """Yield consecutive float32 C-contiguous row blocks of ``x`` (n, d)."""
    for start in range(0, x.shape[0], rows):
        yield f32(x[start : start + rows])


def f32(x: np.ndarray) -> np.ndarray:
    """C-contiguous float32 view or copy of ``x`` (FAISS and torch.from_numpy need it)."""
    return np.ascontiguousarray(x, dtype=np.float32)


def merge_topk(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the k best columns per row, sorted by score descending then id ascending."""
    order = np.lexsort((ids, -scores), axis=-1)[:, :k]
    return np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)


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
