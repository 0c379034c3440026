"""Centred kernel alignment (CKA) between representations of the same items.

Linear, RBF and debiased CKA follow Kornblith et al. 2019 ("Similarity of Neural Network
Representations Revisited"); the debiased variant and minibatch accumulation follow
Nguyen et al. 2021 ("Do Wide and Deep Networks Learn the Same Things?"), using the
unbiased HSIC estimator of Song et al. 2012. Shape convention: ``x`` is (n, p1), ``y`` is
(n, p2) and row i of both is the same item (or its translation); a layer stack is
(L, n, d). Everything is computed in float64 whatever the input dtype. The result is a
similarity (1 = identical up to rotation and scale), never a distance.

Undefined values: when a self-similarity HSIC(K, K) is not positive (a constant
representation, or a debiased estimate that is zero), CKA is 0/0; 0.0 is returned ("no
shared structure measurable") and a warning is logged, never NaN.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

KINDS = ("linear", "rbf")


def _validate(x, y, *, debiased: bool, ndim: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Check two matrices (ndim=2) or layer stacks (ndim=3); return them as float64."""
    x, y = np.asarray(x), np.asarray(y)
    what = "matrices (n, p)" if ndim == 2 else "layer stacks (L, n, d)"
    if x.ndim != ndim or y.ndim != ndim:
        raise ValueError(f"CKA expects two {what}; got shapes {x.shape} and {y.shape}")
    if 0 in x.shape or 0 in y.shape:
        raise ValueError(f"CKA got an empty array; shapes {x.shape} and {y.shape}")
    n, n_y = x.shape[-2], y.shape[-2]
    if n != n_y:
        raise ValueError(f"CKA needs the same n items on both sides; got {x.shape} and {y.shape}")
    min_n = 4 if debiased else 2
    if n < min_n:
        kind = "debiased CKA" if debiased else "CKA"
        raise ValueError(f"{kind} needs n >= {min_n} items; got {x.shape} and {y.shape}")
    for name, arr in (("x", x), ("y", y)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"CKA input {name} of shape {arr.shape} has NaN or inf values")
    return x.astype(np.float64, copy=False), y.astype(np.float64, copy=False)


def _centre(a: np.ndarray) -> np.ndarray:
    """Column-centre (n, p) or each layer of (L, n, d): subtract the mean over items."""
    centred = a - a.mean(axis=-2, keepdims=True)
    # A constant column must centre to exact zeros: the rounded mean leaves ~1e-17 residue
    # that CKA's normalisation would blow up into an arbitrary value.
    return np.where(np.ptp(a, axis=-2, keepdims=True) == 0, 0.0, centred)


def _ratio(cross: np.ndarray, self_a: np.ndarray, self_b: np.ndarray) -> np.ndarray:
    """HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) for a (La, Lb) grid, 0.0 where undefined."""
    den = np.outer(self_a, self_b)
    ok = den > 0
    if not np.all(ok):
        logger.warning("CKA undefined for %d pair(s) (non-positive self-HSIC); returning 0.0",
                       int((~ok).sum()))
    out = np.where(ok, cross / np.sqrt(np.where(ok, den, 1.0)), 0.0)
    # Cauchy-Schwarz bounds every variant; clipping only removes rounding beyond +-1.
    return np.clip(out, -1.0, 1.0)


def _debias(xty, rows, norms, n: int):
    """n(n-3) x the unbiased HSIC (Song et al. 2012) from column-centred linear features.

    ``xty`` = ||Y'X||_F^2, ``rows`` = dot product of the squared row norms of X and Y,
    ``norms`` = product of their sums: zeroing the Gram diagonals and the U-statistic
    correction reduce to these terms once features are centred (Kornblith et al. 2019 code).
    """
    return xty - n / (n - 2.0) * rows + norms / ((n - 1.0) * (n - 2.0))


def center_gram(gram: np.ndarray, *, unbiased: bool = False) -> np.ndarray:
    """Centre an (n, n) symmetric Gram matrix (returns a new float64 array).

    Biased: H K H with H = I - 11'/n. Unbiased (Song et al. 2012; Kornblith et al. 2019's
    form): zero the diagonal, subtract row/column means with the U-statistic correction and
    zero the diagonal again, so that <center(K), center(L)> = n(n-3) x unbiased HSIC.
    """
    g = np.array(gram, dtype=np.float64)
    n = g.shape[0]
    if unbiased:
        np.fill_diagonal(g, 0.0)
        means = g.sum(axis=0) / (n - 2)
        means -= means.sum() / (2 * (n - 1))
    else:
        means = g.mean(axis=0)
        means -= means.mean() / 2
    g -= means[:, None]
    g -= means[None, :]
    if unbiased:
        np.fill_diagonal(g, 0.0)
    return g


def rbf_gram(x: np.ndarray, *, sigma: float = 0.5) -> np.ndarray:
    """(n, n) RBF Gram exp(-d_ij^2 / (2 sigma^2 median(d^2))) of rows of x (n, p).

    The median runs over the full n x n squared-distance matrix including its zero
    diagonal, as in Kornblith et al. 2019.
    """
    if not sigma > 0:
        raise ValueError(f"rbf sigma must be > 0; got {sigma}")
    xc = _centre(np.asarray(x, dtype=np.float64))  # distances are shift-invariant; better rounding
    sq = np.einsum("ij,ij->i", xc, xc)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (xc @ xc.T), 0.0)  # rounding can dip < 0
    np.fill_diagonal(d2, 0.0)
    med = float(np.median(d2))
    if med <= 0:
        raise ValueError(f"rbf bandwidth undefined: median squared distance is 0 for {x.shape} "
                         "(at least half of the pairs coincide)")
    return np.exp(-d2 / (2.0 * sigma**2 * med))


def _cka_from_grams(gram_x: np.ndarray, gram_y: np.ndarray, debiased: bool) -> float:
    gx = center_gram(gram_x, unbiased=debiased).ravel()
    gy = center_gram(gram_y, unbiased=debiased).ravel()
    return float(_ratio(np.array([[gx @ gy]]), np.array([gx @ gx]), np.array([gy @ gy]))[0, 0])


def linear_cka_gram(x: np.ndarray, y: np.ndarray, *, debiased: bool = False) -> float:
    """Linear CKA via n x n Gram matrices K = XX', L = YY' (Kornblith et al. 2019, eq. 3).

    Args:
        x: (n, p1) representations; y: (n, p2), row i = the same item as row i of x.
        debiased: use the unbiased HSIC estimator (Nguyen et al. 2021); needs n >= 4,
            can be negative.

    Returns:
        HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)); in [0, 1] unless debiased.

    Raises:
        ValueError: shapes differ in n, are not 2-D, n too small, or non-finite values.
    """
    x, y = _validate(x, y, debiased=debiased)
    x, y = _centre(x), _centre(y)  # exact zeros for constant columns; HKH is unchanged
    return _cka_from_grams(x @ x.T, y @ y.T, debiased)


def linear_cka_features(x: np.ndarray, y: np.ndarray, *, debiased: bool = False) -> float:
    """Linear CKA in feature space: ||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F), X, Y column-centred.

    Same value as :func:`linear_cka_gram` (Kornblith et al. 2019); O(n p^2) instead of
    O(n^2 p). Args, returns and errors as :func:`linear_cka_gram`.
    """
    x, y = _validate(x, y, debiased=debiased)
    return float(_ratio(*_feature_parts(_centre(x[None]), _centre(y[None]), debiased))[0, 0])


def linear_cka(x: np.ndarray, y: np.ndarray, *, debiased: bool = False) -> float:
    """Linear CKA (Kornblith et al. 2019); debiased variant per Nguyen et al. 2021.

    Uses the feature-space form when n > max(p1, p2), the Gram form otherwise (the
    cheaper of the two), as :func:`cka_matrix` does. Args, returns and errors as
    :func:`linear_cka_gram`.
    """
    x, y = _validate(x, y, debiased=debiased)
    return float(_linear_grid(x[None], y[None], debiased=debiased)[0, 0])


def rbf_cka(x: np.ndarray, y: np.ndarray, *, sigma: float = 0.5, debiased: bool = False) -> float:
    """RBF-kernel CKA (Kornblith et al. 2019) with bandwidth sigma x median distance.

    Args:
        x: (n, p1); y: (n, p2), row i = the same item. sigma: bandwidth as a fraction of
            the median distance (0.5 in the paper). debiased: unbiased HSIC, n >= 4.

    Returns:
        CKA of the two RBF Gram matrices; in [0, 1] unless debiased.

    Raises:
        ValueError: bad shapes or values, sigma <= 0, or a zero median distance.
    """
    x, y = _validate(x, y, debiased=debiased)
    return _cka_from_grams(rbf_gram(x, sigma=sigma), rbf_gram(y, sigma=sigma), debiased)


def _hsic_parts(a: np.ndarray, b: np.ndarray, *, debiased: bool):
    """Unnormalised HSICs of two float64 linear stacks (La, n, da), (Lb, n, db).

    Returns (cross (La, Lb), self_a (La,), self_b (Lb,)), all scaled by the same n-only
    factor ((n-1)^2 biased, n(n-3) debiased). Each layer is centred once and its
    self-term computed once; feature space when n > d, Gram form otherwise.
    """
    ca, cb = _centre(a), _centre(b)
    if a.shape[1] <= max(a.shape[2], b.shape[2]):
        return _gram_parts([x @ x.T for x in ca], [y @ y.T for y in cb], debiased)
    return _feature_parts(ca, cb, debiased)


def _feature_parts(ca: np.ndarray, cb: np.ndarray, debiased: bool):
    """As :func:`_hsic_parts` in feature space, from column-centred stacks."""
    (lb, n, db) = cb.shape
    wide_b = cb.transpose(1, 0, 2).reshape(n, lb * db)  # (n, Lb*db): one GEMM per layer of a
    cross = np.stack([((x.T @ wide_b).reshape(-1, lb, db) ** 2).sum(axis=(0, 2)) for x in ca])
    self_a = np.array([np.sum((x.T @ x) ** 2) for x in ca])
    self_b = np.array([np.sum((y.T @ y) ** 2) for y in cb])
    if debiased:
        ra, rb = np.einsum("lij,lij->li", ca, ca), np.einsum("lij,lij->li", cb, cb)  # (L, n)
        na, nb = ra.sum(axis=1), rb.sum(axis=1)
        cross = _debias(cross, ra @ rb.T, np.outer(na, nb), n)
        self_a = _debias(self_a, np.einsum("li,li->l", ra, ra), na**2, n)
        self_b = _debias(self_b, np.einsum("li,li->l", rb, rb), nb**2, n)
    return cross, self_a, self_b


def _gram_parts(grams_a: list, grams_b: list, debiased: bool):
    """(cross, self_a, self_b) HSICs from lists of raw (n, n) Grams, each centred once."""
    ga = np.stack([center_gram(g, unbiased=debiased).ravel() for g in grams_a])  # (La, n*n)
    gb = np.stack([center_gram(g, unbiased=debiased).ravel() for g in grams_b])
    return ga @ gb.T, np.einsum("ij,ij->i", ga, ga), np.einsum("ij,ij->i", gb, gb)


def _linear_grid(a: np.ndarray, b: np.ndarray, *, debiased: bool) -> np.ndarray:
    return _ratio(*_hsic_parts(a, b, debiased=debiased))


def _rbf_grid(a: np.ndarray, b: np.ndarray, *, sigma: float, debiased: bool) -> np.ndarray:
    grams_a = [rbf_gram(x, sigma=sigma) for x in a]
    return _ratio(*_gram_parts(grams_a, [rbf_gram(y, sigma=sigma) for y in b], debiased))


def cka_matrix(stack_a: np.ndarray, stack_b: np.ndarray, *, kind: str = "linear",
               debiased: bool = False, sigma: float = 0.5) -> np.ndarray:
    """Layer-by-layer CKA grid (Kornblith et al. 2019, fig. 2 style).

    Args:
        stack_a: (La, n, da) per-layer embeddings (float32 fine; computed in float64).
        stack_b: (Lb, n, db); item i of both stacks is the same item or its translation.
        kind: "linear" or "rbf". debiased: unbiased HSIC (n >= 4). sigma: RBF bandwidth.

    Returns:
        (La, Lb) float64, entry [i, j] = CKA(stack_a[i], stack_b[j]).

    Raises:
        ValueError: stacks not 3-D, different n, too few items, non-finite, unknown kind.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown CKA kind {kind!r}; expected one of {KINDS}")
    a, b = _validate(stack_a, stack_b, debiased=debiased, ndim=3)
    if kind == "rbf":
        return _rbf_grid(a, b, sigma=sigma, debiased=debiased)
    return _linear_grid(a, b, debiased=debiased)


def cka_diagonal(stack_a: np.ndarray, stack_b: np.ndarray, *, kind: str = "linear",
                 debiased: bool = False, sigma: float = 0.5) -> np.ndarray:
    """Same-layer CKA: entry l = CKA(stack_a[l], stack_b[l]); both stacks (L, n, d).

    Returns (L,) float64. Raises ValueError as :func:`cka_matrix`, or if the layer counts
    differ.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown CKA kind {kind!r}; expected one of {KINDS}")
    a, b = _validate(stack_a, stack_b, debiased=debiased, ndim=3)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"cka_diagonal needs equal layer counts; got {a.shape} and {b.shape}")
    out = np.empty(a.shape[0], dtype=np.float64)
    for layer in range(a.shape[0]):
        x, y = a[layer : layer + 1], b[layer : layer + 1]
        if kind == "rbf":
            out[layer] = _rbf_grid(x, y, sigma=sigma, debiased=debiased)[0, 0]
        else:
            out[layer] = _linear_grid(x, y, debiased=debiased)[0, 0]
    return out


class MinibatchCKA:
    """Linear CKA accumulated over minibatches (Nguyen et al. 2021, eq. 3).

    CKA = sum_b HSIC(K_b, L_b) / sqrt(sum_b HSIC(K_b, K_b) x sum_b HSIC(L_b, L_b)), each
    HSIC the unbiased estimator (debiased=True, the paper's choice; batches of >= 4) or
    the biased one divided by (n_b - 1)^2. Meant for equal-size batches; with one batch it
    equals the full-data CKA. ``update`` takes pairs (n_b, p) or layer stacks (L, n_b, d),
    the same kind and layer counts every call; ``matrix`` gives the (La, Lb) grid.
    """

    def __init__(self, *, debiased: bool = True) -> None:
        self.debiased = debiased
        self.n_batches = 0
        self._parts: list[np.ndarray] | None = None
        self._ndim: int | None = None

    def update(self, x: np.ndarray, y: np.ndarray) -> None:
        """Add one batch: x, y (n_b, p) or stacks (L, n_b, d); rows are the same items."""
        ndim = np.ndim(x)
        if self._ndim is not None and ndim != self._ndim:
            raise ValueError(f"MinibatchCKA got ndim {ndim} after ndim {self._ndim} batches")
        a, b = _validate(x, y, debiased=self.debiased, ndim=3 if ndim == 3 else 2)
        if ndim == 2:
            a, b = a[None], b[None]
        n = a.shape[1]
        scale = n * (n - 3.0) if self.debiased else (n - 1.0) ** 2
        parts = [p / scale for p in _hsic_parts(a, b, debiased=self.debiased)]
        if self._parts is not None and parts[0].shape != self._parts[0].shape:
            raise ValueError(f"MinibatchCKA layer counts changed: {parts[0].shape} after "
                             f"{self._parts[0].shape}")
        if self._parts is not None:
            parts = [s + p for s, p in zip(self._parts, parts, strict=True)]
        self._parts = parts
        self._ndim = ndim
        self.n_batches += 1

    def matrix(self) -> np.ndarray:
        """(La, Lb) float64 CKA from all batches so far; ValueError before any update."""
        if self._parts is None:
            raise ValueError("MinibatchCKA has no batches yet; call update(x, y) first")
        return _ratio(*self._parts)

    def value(self) -> float:
        """Scalar CKA for pair updates (or 1-layer stacks); ValueError otherwise."""
        grid = self.matrix()
        if grid.shape != (1, 1):
            raise ValueError(f"MinibatchCKA.value needs one layer pair; have {grid.shape}, "
                             "use matrix()")
        return float(grid[0, 0])
