"""Similarity indices by name, per-layer tables, and their permutation calibration.

Raw similarity values are not comparable across indices, layers or sample sizes: biased
CKA of unrelated views grows as n shrinks, mutual k-NN's chance level is k / (n - 1).
``calibrated`` sets each value against its own null: the items of ``y`` are shuffled
(rows permuted), which keeps both views' internal structure and breaks only the
item-to-item correspondence, the thing a cross-lingual or cross-checkpoint index
claims to measure (the permutation test of e.g. Ding et al. 2021). The z-score is the
distance from the null mean in null standard deviations, the p-value
(1 + #{null >= value}) / (1 + n_permutations) (Phipson and Smyth 2010).

Named indices (``INDICES``; metric names ``<name>_en_xx``, ``<name>_calibrated``):
"cka" (biased linear), "debiased_cka", "mknn" (k = 10), "procrustes", "svcca", "pwcca"
(99% variance). Each view is prepared once (centring, SVD, neighbour lists) and only
the cheap score runs per permutation. Any other callable f(x, y) -> float works too,
recomputed per permutation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from probe.cka import cka_diagonal
from probe.cka_gram import centre_columns
from probe.cka_stream import debias
from probe.similarity import (
    cca_scores,
    knn_sets,
    mknn_score,
    permute_knn,
    procrustes_score,
    svd_view,
    unit_centred,
    validate_pair,
)

logger = logging.getLogger(__name__)

MKNN_K = 10  # as in the authors' code (github.com/minyoungg/platonic-rep)
KEEP_VARIANCE = 0.99  # Raghu et al. 2017


class Index(NamedTuple):
    """A similarity index in two steps, so a permutation null prepares each view once."""

    prepare: Callable  # (n, p) float64 view -> state
    score: Callable  # (state_x, state_y) -> float
    permute: Callable  # (state, perm) -> state of view[perm]
    min_n: int = 2


def _cka_prepare(x: np.ndarray) -> tuple:
    """Centred view, squared row norms and its own feature-space ||X'X||_F^2."""
    xc = centre_columns(x)
    return xc, np.einsum("ij,ij->i", xc, xc), float(np.sum((xc.T.copy() @ xc) ** 2))


def _cka_score(sx: tuple, sy: tuple, *, debiased: bool) -> float:
    (xc, rx, self_x), (yc, ry, self_y) = sx, sy
    cross = float(np.sum((yc.T @ xc) ** 2))
    if debiased:  # the unbiased HSIC in feature space (probe.cka_stream.debias)
        n = len(rx)
        cross = debias(cross, rx @ ry, rx.sum() * ry.sum(), n)
        self_x = debias(self_x, rx @ rx, rx.sum() ** 2, n)
        self_y = debias(self_y, ry @ ry, ry.sum() ** 2, n)
    den = self_x * self_y
    if den <= 0:
        logger.warning("CKA undefined (non-positive self-HSIC); returning 0.0")
        return 0.0
    return float(np.clip(cross / np.sqrt(den), -1.0, 1.0))


def _rows(state, perm):
    return state[perm]


INDICES: dict[str, Index] = {
    "cka": Index(_cka_prepare, lambda sx, sy: _cka_score(sx, sy, debiased=False),
                 lambda s, p: (s[0][p], s[1][p], s[2])),
    "debiased_cka": Index(_cka_prepare, lambda sx, sy: _cka_score(sx, sy, debiased=True),
                          lambda s, p: (s[0][p], s[1][p], s[2]), min_n=4),
    "mknn": Index(lambda x: knn_sets(x, MKNN_K), mknn_score, permute_knn, min_n=MKNN_K + 1),
    "procrustes": Index(unit_centred, procrustes_score, _rows),
    "svcca": Index(lambda x: svd_view(x, KEEP_VARIANCE), lambda a, b: cca_scores(a, b)[0],
                   lambda s, p: (s[0][p], s[1])),
    "pwcca": Index(lambda x: svd_view(x, KEEP_VARIANCE), lambda a, b: cca_scores(a, b)[1],
                   lambda s, p: (s[0][p], s[1])),
}


def _lookup(index: str | Callable) -> Index:
    """The Index for a name, or a recompute-everything Index for a callable f(x, y)."""
    if callable(index):
        return Index(lambda x: x, index, _rows)
    if index not in INDICES:
        raise ValueError(f"unknown similarity index {index!r}; expected one of "
                         f"{sorted(INDICES)} or a callable f(x, y) -> float")
    return INDICES[index]


def calibrated(index: str | Callable, x: np.ndarray, y: np.ndarray, *,
               n_permutations: int = 200, seed: int = 0) -> dict:
    """A similarity value against its permutation null (items of ``y`` shuffled).

    Args:
        index: a name in ``INDICES`` or a callable f(x, y) -> float (e.g.
            ``functools.partial(mutual_knn, k=5)``, ``rbf_cka``).
        x: (n, p1); y: (n, p2), row i = the same item.
        n_permutations: null draws (>= 1); the smallest p-value is 1 / (1 + this).
        seed: seed of ``numpy.random.default_rng`` drawing the permutations.

    Returns:
        {"value", "null_mean", "null_std" (ddof 1), "z" = (value - null_mean) /
        null_std (NaN, with a warning, when the null has no spread), "p_value" =
        (1 + #{null >= value}) / (1 + n_permutations)}, all floats.

    Raises:
        ValueError: unknown index, n_permutations < 1, or the index's own input errors.
    """
    if n_permutations < 1:
        raise ValueError(f"calibrated needs n_permutations >= 1; got {n_permutations}")
    spec = _lookup(index)
    x, y = validate_pair(x, y, what="calibrated", min_n=spec.min_n)
    sx, sy = spec.prepare(x), spec.prepare(y)
    value = float(spec.score(sx, sy))
    rng = np.random.default_rng(seed)
    null = np.array([spec.score(sx, spec.permute(sy, rng.permutation(len(y))))
                     for _ in range(n_permutations)])
    mean = float(null.mean())
    std = float(null.std(ddof=1)) if n_permutations > 1 else 0.0
    if std > 0:
        z = (value - mean) / std
    else:
        logger.warning("calibrated: the permutation null has no spread; z is NaN")
        z = float("nan")
    p_value = (1 + int(np.sum(null >= value))) / (1 + n_permutations)
    return {"value": value, "null_mean": mean, "null_std": std, "z": float(z),
            "p_value": float(p_value)}


def similarity_diagonal(stack_a, stack_b, index: str | Callable) -> np.ndarray:
    """Same-layer similarity: entry l = index(stack_a[l], stack_b[l]).

    Args:
        stack_a: (L, n, da) per-layer embeddings (array or memory map, any float dtype);
            stack_b: (L, n, db), item i of both is the same item or its translation.
        index: a name in ``INDICES`` or a callable f(x, y) -> float. "cka" and
            "debiased_cka" run :func:`probe.cka.cka_diagonal` (streamed, one pass).

    Returns:
        (L,) float64.

    Raises:
        ValueError: stacks not 3-D or of different layer counts, unknown index, or the
            index's own input errors.
    """
    if index in ("cka", "debiased_cka"):
        return cka_diagonal(stack_a, stack_b, kind="linear" if index == "cka" else "debiased")
    spec = _lookup(index)
    shapes = (np.shape(stack_a), np.shape(stack_b))
    if len(shapes[0]) != 3 or len(shapes[1]) != 3 or shapes[0][0] != shapes[1][0]:
        raise ValueError(f"similarity_diagonal needs two layer stacks (L, n, d) with equal L; "
                         f"got shapes {shapes[0]} and {shapes[1]}")
    out = np.empty(shapes[0][0])
    for layer in range(shapes[0][0]):
        x, y = validate_pair(stack_a[layer], stack_b[layer], what="similarity_diagonal",
                             min_n=spec.min_n)
        out[layer] = spec.score(spec.prepare(x), spec.prepare(y))
    return out
