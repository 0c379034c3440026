"""Margin-based bitext candidate mining (LASER; Artetxe & Schwenk 2019, ACL).

Steps 2-4 of REFERENCE.md's BUCC protocol: L2-normalise, k nearest neighbours both ways
(exact inner product), margin scores, then forward / backward / intersect / max
candidates. Deduplication (step 1) and the id layer live in :mod:`retrieval.bucc`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import numpy as np

from retrieval.knn import knn_both, l2_normalize

MarginFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
MODES = ("fwd", "bwd", "intersect", "max")


def _ratio(cos: np.ndarray, mean_nn: np.ndarray) -> np.ndarray:
    return cos / mean_nn


def _distance(cos: np.ndarray, mean_nn: np.ndarray) -> np.ndarray:
    return cos - mean_nn


def _absolute(cos: np.ndarray, mean_nn: np.ndarray) -> np.ndarray:
    return cos


# name -> f(cos(x, y), m) where m = (mean cos(x, NN_k(x)) + mean cos(y, NN_k(y))) / 2.
_MARGINS: dict[str, MarginFn] = {"ratio": _ratio, "distance": _distance, "absolute": _absolute}


def register_margin(name: str, fn: MarginFn) -> None:
    """Add a margin function ``fn(cos, m) -> score`` (elementwise, higher = better pair).

    Raises:
        ValueError: if ``name`` is already registered.
    """
    if name in _MARGINS:
        raise ValueError(f"margin {name!r} is already registered")
    _MARGINS[name] = fn


def get_margin(name: str) -> MarginFn:
    """Look a margin up by name.

    Raises:
        ValueError: for an unknown name, listing the known ones and near matches.
    """
    if name not in _MARGINS:
        near = difflib.get_close_matches(str(name), _MARGINS, n=2)
        hint = f"; did you mean {near}?" if near else ""
        raise ValueError(f"unknown margin {name!r}; known: {sorted(_MARGINS)}{hint}")
    return _MARGINS[name]


def margin_names() -> list[str]:
    """Names of the registered margins, sorted."""
    return sorted(_MARGINS)


def mine_pairs_from_embeddings(
    src: np.ndarray,
    tgt: np.ndarray,
    *,
    k: int = 4,
    margin: str = "ratio",
    mode: str = "max",
) -> list[tuple[int, int, float]]:
    """Mine translation candidates between two pools with a margin score (LASER).

    For x in src and y in tgt, m = (mean cos(x, NN_k(x)) + mean cos(y, NN_k(y))) / 2 and
    the score is ``ratio`` cos/m (default), ``distance`` cos - m, or ``absolute`` cos.
    The forward candidate of x is the best-scoring of its k nearest targets, the backward
    candidate of y the best of its k nearest sources. Modes: ``fwd``, ``bwd``,
    ``intersect`` (pairs that are both), ``max`` (pool both, sort by score descending,
    keep a pair only if neither side is used yet; LASER's default).

    Args:
        src: (n, d) source embeddings (L2-normalised here), duplicates already removed.
        tgt: (m, d) target embeddings.
        k: neighbours per side, clipped to the pool sizes (min(k, m) forward,
            min(k, n) backward).
        margin: a registered margin name, see :func:`margin_names`.
        mode: one of ``fwd``, ``bwd``, ``intersect``, ``max``.

    Returns:
        (source row, target row, score) tuples sorted by score descending (ties: by rows).

    Raises:
        ValueError: for k < 1, an unknown margin or mode, empty pools, mismatched dims,
            or non-finite margin scores.
    """
    fn = get_margin(margin)
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; known: {list(MODES)}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    x, y = l2_normalize(src), l2_normalize(tgt)
    if x.shape[0] == 0 or y.shape[0] == 0:
        raise ValueError(f"empty pool: src has {x.shape[0]} rows, tgt {y.shape[0]}")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"src dim {x.shape[1]} != tgt dim {y.shape[1]}")
    # (n, kf) and (m, kb): both directions from one pass over the x-y scores where possible
    (x2y_s, x2y_i), (y2x_s, y2x_i) = knn_both(x, y, min(k, y.shape[0]), min(k, x.shape[0]))
    x_mean = x2y_s.astype(np.float64).mean(axis=1)  # (n,)
    y_mean = y2x_s.astype(np.float64).mean(axis=1)  # (m,)
    with np.errstate(divide="ignore", invalid="ignore"):
        fwd_s = fn(x2y_s.astype(np.float64), (x_mean[:, None] + y_mean[x2y_i]) / 2)
        bwd_s = fn(y2x_s.astype(np.float64), (y_mean[:, None] + x_mean[y2x_i]) / 2)
    if not (np.isfinite(fwd_s).all() and np.isfinite(bwd_s).all()):
        # e.g. ratio margin with m = 0 (zero-norm embeddings): the ranking would be NaN
        raise ValueError(f"margin {margin!r} produced non-finite scores; zero embeddings?")
    fwd = _best(fwd_s, x2y_i)
    bwd = _best(bwd_s, y2x_i)
    return _select(fwd, bwd, mode)


def _best(scores: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the neighbour id with the highest margin score, and that score."""
    col = np.argmax(scores, axis=1)
    rows = np.arange(scores.shape[0])
    return ids[rows, col], scores[rows, col]


def _select(
    fwd: tuple[np.ndarray, np.ndarray], bwd: tuple[np.ndarray, np.ndarray], mode: str
) -> list[tuple[int, int, float]]:
    fwd_best, fwd_score = fwd  # (n,) target row per source, (n,) score
    bwd_best, bwd_score = bwd  # (m,) source row per target, (m,) score
    fwd_pairs = [(i, int(fwd_best[i]), float(fwd_score[i])) for i in range(len(fwd_best))]
    bwd_pairs = [(int(bwd_best[j]), j, float(bwd_score[j])) for j in range(len(bwd_best))]
    if mode == "fwd":
        return _sort(fwd_pairs)
    if mode == "bwd":
        return _sort(bwd_pairs)
    if mode == "intersect":
        return _sort([p for p in fwd_pairs if bwd_best[p[1]] == p[0]])
    used_src: set[int] = set()
    used_tgt: set[int] = set()
    kept = []
    for i, j, s in _sort(fwd_pairs + bwd_pairs):
        if i not in used_src and j not in used_tgt:
            used_src.add(i)
            used_tgt.add(j)
            kept.append((i, j, s))
    return kept


def _sort(pairs: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))
