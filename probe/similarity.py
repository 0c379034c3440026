"""Representation similarity indices beyond CKA: mutual k-NN, Procrustes, SVCCA, PWCCA.

Each index compares two views of the same n items: ``x`` (n, p1) and ``y`` (n, p2), row i
of both is the same item (a sentence and its translation, or one sentence under two
checkpoints); p1 and p2 may differ. Math in float64; results are similarities (higher =
more alike), never distances. Each index is computed in two steps, a per-view
preparation (neighbour lists, SVD, normalisation) and a cheap score of two prepared
views, so that the permutation null of ``probe.calibration`` prepares each view once.

Undefined values: a view with no variance (every row equal) has nothing to align; the
Procrustes, SVCCA and PWCCA scores are then 0.0 and a warning is logged, never NaN.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import linalg, sparse
from sklearn.neighbors import NearestNeighbors

from probe.cka_gram import centre_columns

logger = logging.getLogger(__name__)


def validate_pair(x, y, *, what: str, min_n: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Check two (n, p) views of the same items; return them as float64.

    Raises:
        ValueError: not 2-D, empty, different n, fewer than ``min_n`` items, NaN or inf.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(f"{what} expects two matrices (n, p); got shapes {x.shape} and {y.shape}")
    if 0 in x.shape or 0 in y.shape:
        raise ValueError(f"{what} got an empty array; shapes {x.shape} and {y.shape}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{what} needs the same n items on both sides; got {x.shape} and "
                         f"{y.shape}")
    if x.shape[0] < min_n:
        raise ValueError(f"{what} needs n >= {min_n} items; got {x.shape} and {y.shape}")
    for name, arr in (("x", x), ("y", y)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{what} input {name} of shape {arr.shape} has NaN or inf values")
    return x.astype(np.float64, copy=False), y.astype(np.float64, copy=False)


# --- mutual k-nearest neighbours ------------------------------------------------------

def knn_sets(x: np.ndarray, k: int) -> np.ndarray:
    """(n, k) indices of each row's k nearest other rows by cosine similarity.

    sklearn's brute-force search on L2-normalised rows (Euclidean distance there ranks as
    cosine does) works through the n x n distances in chunks, so memory stays bounded.
    """
    norms = np.linalg.norm(x, axis=1)
    if np.any(norms == 0):
        raise ValueError(f"mutual_knn: row {int(np.argmin(norms))} of a view of shape {x.shape} "
                         "is all zeros; its cosine neighbours are undefined")
    unit = x / norms[:, None]
    search = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(unit)
    idx = search.kneighbors(unit, return_distance=False)  # (n, k + 1), nearest first
    # Drop the item itself; when duplicates of a row push it off the list, drop the farthest.
    is_self = idx == np.arange(len(x))[:, None]
    order = np.argsort(is_self, axis=1, kind="stable")
    return np.take_along_axis(idx, order, axis=1)[:, :k]


def permute_knn(neighbours: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Neighbour lists of the view with items reordered as view[perm] (relabelled)."""
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(len(perm))
    return inverse[neighbours[perm]]


def mknn_score(nx: np.ndarray, ny: np.ndarray) -> float:
    """Mean over items of |NN_k(x_i) & NN_k(y_i)| / k from two (n, k) neighbour lists."""
    n, k = nx.shape
    rows = np.arange(0, n * k + 1, k)

    def indicator(nbrs):
        return sparse.csr_array((np.ones(n * k), nbrs.ravel(), rows), shape=(n, n))

    return float(indicator(nx).multiply(indicator(ny)).sum() / (n * k))


def mutual_knn(x: np.ndarray, y: np.ndarray, *, k: int = 10) -> float:
    """Mutual k-nearest-neighbour alignment (Huh et al. 2024, "The Platonic Representation
    Hypothesis").

    For every item, the k nearest other items by cosine similarity in each view; the
    score is the mean over items of |NN_k(x_i) & NN_k(y_i)| / k.

    Args:
        x: (n, p1); y: (n, p2), row i = the same item. k: neighbours, 1 <= k <= n - 1.

    Returns:
        In [0, 1]; 1 when both views have the same neighbourhoods; about k / (n - 1) for
        unrelated views. Invariant to rotation and scaling of either view (not to shifts:
        cosine is taken about the origin).

    Raises:
        ValueError: bad shapes or values, k out of range, or an all-zero row.
    """
    x, y = validate_pair(x, y, what="mutual_knn")
    if not 1 <= k <= x.shape[0] - 1:
        raise ValueError(f"mutual_knn k must be in [1, n - 1] = [1, {x.shape[0] - 1}]; got {k}")
    return mknn_score(knn_sets(x, k), knn_sets(y, k))


# --- orthogonal Procrustes --------------------------------------------------------------

def unit_centred(x: np.ndarray) -> np.ndarray:
    """(n, p) column-centred x scaled to unit Frobenius norm (zeros for a constant view)."""
    xc = centre_columns(x)
    norm = np.linalg.norm(xc)
    return xc / norm if norm > 0 else xc


def procrustes_score(ux: np.ndarray, uy: np.ndarray) -> float:
    """||X'Y||_* of two unit-norm centred views (see :func:`procrustes_similarity`)."""
    if not (ux.any() and uy.any()):
        logger.warning("Procrustes similarity undefined for a constant view; returning 0.0")
        return 0.0
    return float(min(linalg.svdvals(ux.T @ uy).sum(), 1.0))  # min: rounding past 1 only


def procrustes_similarity(x: np.ndarray, y: np.ndarray) -> float:
    """Orthogonal Procrustes similarity (Schoenemann 1966; Ding et al. 2021, "Grounding
    Representation Similarity with Statistical Testing").

    Both views are column-centred and scaled to unit Frobenius norm; the score is the
    nuclear norm ||X'Y||_* = max over orthogonal (semi-orthogonal when p1 != p2) R of
    tr(R'X'Y), so the Procrustes distance is min_R ||XR - Y||_F^2 = 2 - 2 x score.

    Args:
        x: (n, p1); y: (n, p2), row i = the same item.

    Returns:
        In [0, 1]; 1 when y is x rotated (or reflected), scaled and shifted. Invariant to
        rotation, isotropic scaling and shift of either view, not to other linear maps.

    Raises:
        ValueError: bad shapes or values.
    """
    x, y = validate_pair(x, y, what="procrustes_similarity")
    return procrustes_score(unit_centred(x), unit_centred(y))


# --- SVCCA and PWCCA --------------------------------------------------------------------

def svd_view(x: np.ndarray, keep_variance: float) -> tuple[np.ndarray, np.ndarray]:
    """SVD reduction of a view: (n, k) orthonormal basis U_k and (k, p) S_k V_k'.

    k is the fewest directions holding ``keep_variance`` of the centred variance (Raghu
    et al. 2017); U_k spans the reduced view, S_k V_k' = U_k' X_c gives every original
    feature's coordinates in it (PWCCA's weights). A constant view gives k = 0.
    """
    u, s, vt = linalg.svd(centre_columns(x), full_matrices=False)
    rank = int(np.sum(s > s[0] * max(x.shape) * np.finfo(float).eps)) if s[0] > 0 else 0
    if rank == 0:
        return u[:, :0], vt[:0]
    share = np.cumsum(s[:rank] ** 2) / np.sum(s[:rank] ** 2)
    k = min(int(np.searchsorted(share, keep_variance)) + 1, rank)
    return u[:, :k], s[:k, None] * vt[:k]


def cca_scores(vx, vy) -> tuple[float, float]:
    """(SVCCA, PWCCA) of two :func:`svd_view` reductions; 0.0 for a constant view."""
    (ux, sx), (uy, sy) = vx, vy
    if ux.shape[1] == 0 or uy.shape[1] == 0:
        logger.warning("SVCCA/PWCCA undefined for a constant view; returning 0.0")
        return 0.0, 0.0
    if ux.shape[1] + uy.shape[1] >= ux.shape[0]:
        logger.warning("CCA on %d + %d kept directions with only n = %d items: the subspaces "
                       "must intersect, so correlations are inflated towards 1",
                       ux.shape[1], uy.shape[1], ux.shape[0])
    # Canonical correlations are the singular values of Q_x'Q_y for orthonormal bases of
    # the two views (Bjorck and Golub 1973); U_k from the SVD already is one.
    left, rho, right_t = linalg.svd(ux.T @ uy, full_matrices=False)
    rho = np.clip(rho, 0.0, 1.0)
    # PWCCA weighs each canonical variate h_i by sum_j |<h_i, x_j>| over the features x_j
    # of the view with fewer kept directions (x on ties), as in Morcos et al.'s code.
    coef, coords = (left, sx) if ux.shape[1] <= uy.shape[1] else (right_t.T, sy)
    weights = np.abs(coef.T @ coords).sum(axis=1)  # (m,)
    return float(rho.mean()), float(weights @ rho / weights.sum())


def _check_keep(keep_variance: float, what: str) -> None:
    if not 0.0 < keep_variance <= 1.0:
        raise ValueError(f"{what} keep_variance must be in (0, 1]; got {keep_variance}")


def svcca(x: np.ndarray, y: np.ndarray, *, keep_variance: float = 0.99) -> float:
    """SVCCA (Raghu et al. 2017, "SVCCA: Singular Vector Canonical Correlation Analysis").

    Each centred view is reduced by SVD to the fewest directions holding
    ``keep_variance`` of its variance; the score is the mean of the canonical
    correlations between the two reduced views (min(k_x, k_y) of them).

    Args:
        x: (n, p1); y: (n, p2), row i = the same item. keep_variance: in (0, 1].

    Returns:
        In [0, 1]. Invariant to rotation, isotropic scaling and shift of either view.
        Inflated towards 1 when k_x + k_y approaches n (a warning is logged).

    Raises:
        ValueError: bad shapes or values, keep_variance out of range.
    """
    _check_keep(keep_variance, "svcca")
    x, y = validate_pair(x, y, what="svcca")
    return cca_scores(svd_view(x, keep_variance), svd_view(y, keep_variance))[0]


def pwcca(x: np.ndarray, y: np.ndarray, *, keep_variance: float = 0.99) -> float:
    """Projection-weighted CCA (Morcos et al. 2018, "Insights on representational similarity
    in neural networks with canonical correlation").

    The canonical correlations of :func:`svcca`, averaged with weights alpha_i proportional
    to sum_j |<h_i, x_j>|: how much of the view's centred features x_j its canonical
    variate h_i accounts for, taken in the view with fewer kept directions (x on ties).

    Args, raises: as :func:`svcca`.

    Returns:
        In [0, 1]. Invariant to isotropic scaling, shift, and permuting or flipping the
        sign of features; not to general rotations (the weights sum over features), and
        not symmetric in x and y.
    """
    _check_keep(keep_variance, "pwcca")
    x, y = validate_pair(x, y, what="pwcca")
    return cca_scores(svd_view(x, keep_variance), svd_view(y, keep_variance))[1]
