"""Shared by the exact k-NN tests: data, the FAISS reference and a tie-robust check."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from retrieval.knn import l2_normalize


def unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    return l2_normalize(rng.standard_normal((n, d), dtype=np.float32))


def faiss_exact(queries: np.ndarray, index: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    flat = faiss.IndexFlatIP(index.shape[1])
    flat.add(np.ascontiguousarray(index, dtype=np.float32))
    return flat.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def assert_exact_topk(queries, index, k, scores, ids, *, relative: bool = False) -> None:
    """Tie-robust: right k-th score, right scores per id, nothing better left out.

    ``relative``: tolerances grow with the score (huge-norm rows: float32 sums of ~1e2).
    """
    sims = np.asarray(queries, np.float64) @ np.asarray(index, np.float64).T
    kth = -np.sort(-sims, axis=1)[:, k - 1]
    rtol = 1e-5 if relative else 0.0
    np.testing.assert_allclose(scores[:, -1], kth, rtol=rtol, atol=1e-5)
    np.testing.assert_allclose(np.take_along_axis(sims, ids, 1), scores, rtol=rtol, atol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 0)
    for r in range(len(ids)):
        assert len(set(ids[r])) == k
        margin = 1e-5 * max(1.0, abs(kth[r])) if relative else 1e-5
        assert set(np.flatnonzero(sims[r] > kth[r] + margin)) <= set(ids[r])


def float16_memmaps(folder: Path, rng: np.random.Generator, d: int,
                    **sizes: int) -> dict[str, np.ndarray]:
    """Unit rows written as float16 .npy files and opened read-only as memory maps."""
    arrays = {}
    for name, n in sizes.items():
        arr = np.lib.format.open_memmap(folder / f"{name}.npy", "w+", np.float16, (n, d))
        arr[:] = unit(rng, n, d)
        arr.flush()
        arrays[name] = np.load(folder / f"{name}.npy", mmap_mode="r")
    return arrays
