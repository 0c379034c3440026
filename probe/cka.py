"""Centred kernel alignment (CKA) between representations of the same items.

Linear, RBF and debiased CKA follow Kornblith et al. 2019 ("Similarity of Neural Network
Representations Revisited"); the debiased variant and minibatch accumulation follow
Nguyen et al. 2021 ("Do Wide and Deep Networks Learn the Same Things?"), using the
unbiased HSIC estimator of Song et al. 2012. Shape convention: ``x`` is (n, p1), ``y`` is
(n, p2) and row i of both is the same item (or its translation); a layer stack is
(L, n, d), a numpy array or memory map of any float dtype. Everything is computed in
float64. The result is a similarity (1 = identical up to rotation and scale), never a
distance.

Which form runs: linear and debiased CKA use the feature-space form, streamed over row
chunks of the stacks (``probe.cka_stream``: the grid is one centred cross product A'B
plus per-layer self blocks, memory independent of n), unless the n x n Gram form is
cheaper and small (n well below the feature widths). RBF CKA is Gram-only
(``probe.cka_gram``) and refuses sizes whose Grams would not fit in memory.

Undefined values: when a self-similarity HSIC(K, K) is not positive (a constant
representation, or a debiased estimate that is zero), CKA is 0/0; 0.0 is returned ("no
shared structure measurable") and a warning is logged, never NaN.
"""

from __future__ import annotations

import logging

import numpy as np

from probe.cka_gram import (
    center_gram,
    check_gram_memory,
    gram,
    gram_hsic_parts,
    rbf_gram,
)
from probe.cka_stream import column_centres, stack_hsic_parts

__all__ = ["KINDS", "MinibatchCKA", "center_gram", "cka_diagonal", "cka_matrix",
           "default_cka_kind", "linear_cka", "linear_cka_features", "linear_cka_gram",
           "rbf_cka", "rbf_gram"]

logger = logging.getLogger(__name__)

# "debiased" = debiased linear CKA; "auto" = default_cka_kind(n, d).
KINDS = ("linear", "debiased", "rbf", "auto")
# The linear Gram path keeps La + 1 Grams; above this it streams features instead.
LINEAR_GRAM_BYTES = 256 * 2**20


def default_cka_kind(n: int, d: int) -> str:
    """The CKA kind to use for n items of width d (the larger width of the two sides).

    Biased linear CKA is inflated when n is not much larger than d (about 0.2 for
    independent 8-dim Gaussians at n = 32); the debiased estimator is not. Returns
    "debiased" when n <= d, else "linear" (the variant of the published comparisons).
    """
    return "debiased" if n <= d else "linear"


def _check_shapes(x, y, *, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """Check two matrices (ndim=2) or layer stacks (ndim=3) without reading their data."""
    x = x if isinstance(x, np.ndarray) else np.asarray(x)
    y = y if isinstance(y, np.ndarray) else np.asarray(y)
    what = "matrices (n, p)" if ndim == 2 else "layer stacks (L, n, d)"
    if x.ndim != ndim or y.ndim != ndim:
        raise ValueError(f"CKA expects two {what}; got shapes {x.shape} and {y.shape}")
    if 0 in x.shape or 0 in y.shape:
        raise ValueError(f"CKA got an empty array; shapes {x.shape} and {y.shape}")
    if x.shape[-2] != y.shape[-2]:
        raise ValueError(f"CKA needs the same n items on both sides; got {x.shape} and {y.shape}")
    return x, y


def _check_n(x, y, *, debiased: bool) -> None:
    min_n = 4 if debiased else 2
    if x.shape[-2] < min_n:
        kind = "debiased CKA" if debiased else "CKA"
        raise ValueError(f"{kind} needs n >= {min_n} items; got {x.shape} and {y.shape}")


def _validate(x, y, *, debiased: bool) -> tuple[np.ndarray, np.ndarray]:
    """Check two (n, p) matrices fully; return them as float64."""
    x, y = _check_shapes(x, y, ndim=2)
    _check_n(x, y, debiased=debiased)
    for name, arr in (("x", x), ("y", y)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"CKA input {name} of shape {arr.shape} has NaN or inf values")
    return x.astype(np.float64, copy=False), y.astype(np.float64, copy=False)


def _resolve_kind(kind: str, debiased: bool, a, b) -> tuple[str, bool]:
    """(kernel "linear"/"rbf", debiased) for a kind; warns on biased CKA at n <= d."""
    if kind not in KINDS:
        raise ValueError(f"unknown CKA kind {kind!r}; expected one of {KINDS}")
    n, d = a.shape[-2], max(a.shape[-1], b.shape[-1])
    if kind == "auto":
        kind = default_cka_kind(n, d)
    if kind == "debiased":
        kind, debiased = "linear", True
    if kind == "linear" and not debiased and n <= d:
        logger.warning("biased linear CKA at n = %d <= d = %d is inflated by its bias; "
                       "kind='debiased' is the estimator for this regime", n, d)
    return kind, debiased


def _ratio(cross: np.ndarray, self_a: np.ndarray, self_b: np.ndarray) -> np.ndarray:
    """HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)): (La, Lb) grid, or (L,) same-layer pairs.

    0.0 where undefined (a non-positive self-HSIC).
    """
    den = np.outer(self_a, self_b) if np.ndim(cross) == 2 else self_a * self_b
    ok = den > 0
    if not np.all(ok):
        logger.warning("CKA undefined for %d pair(s) (non-positive self-HSIC); returning 0.0",
                       int((~ok).sum()))
    out = np.where(ok, cross / np.sqrt(np.where(ok, den, 1.0)), 0.0)
    # Cauchy-Schwarz bounds every variant; clipping only removes rounding beyond +-1.
    return np.clip(out, -1.0, 1.0)


def _prefer_gram(a_shape, b_shape, *, diagonal: bool) -> bool:
    """Whether the n x n Gram form is cheaper (multiply-adds) and small enough."""
    (la, n, da), (lb, _, db) = a_shape, b_shape
    pairs = la if diagonal else la * lb
    feature = n * (pairs * da * db + la * da * da + lb * db * db)
    gram_cost = n * n * (la * da + lb * db + pairs)
    kept = (1 if diagonal else la) + 1
    return gram_cost < feature and 8 * kept * n * n <= LINEAR_GRAM_BYTES


def _linear_grams(stack, centres):
    return lambda layer: gram(np.subtract(stack[layer], centres[layer]))  # (n, n) float64


def _rbf_grams(stack, sigma: float):
    return lambda layer: rbf_gram(stack[layer], sigma=sigma)


def _stack_parts(a, b, *, kind: str, debiased: bool, sigma: float, diagonal: bool,
                 form: str = "auto"):
    """Unnormalised (cross, self_a, self_b) HSICs of two stacks (see _ratio for shapes).

    ``form`` forces "gram" or "features" for the linear kernel (the 2-D wrappers).
    Pass 1 (column means) also checks for NaN/inf, before any heavy work.
    """
    ca, cb = column_centres(a, "stack_a"), column_centres(b, "stack_b")
    la, lb, n = a.shape[0], b.shape[0], a.shape[1]
    kept = 1 if diagonal else la
    if kind == "rbf":
        check_gram_memory(n, kept + 2, "RBF CKA")
        grams = _rbf_grams(a, sigma), _rbf_grams(b, sigma)
    elif form == "gram" or (form == "auto" and _prefer_gram(a.shape, b.shape, diagonal=diagonal)):
        check_gram_memory(n, kept + 1, "Gram-form linear CKA")
        grams = _linear_grams(a, ca), _linear_grams(b, cb)
    else:
        return stack_hsic_parts(a, b, ca, cb, debiased=debiased, diagonal=diagonal)
    return gram_hsic_parts(*grams, la, lb, debiased=debiased, diagonal=diagonal)


def _pair_cka(x, y, *, kind: str, debiased: bool, sigma: float = 0.5, form: str = "auto"):
    x, y = _validate(x, y, debiased=debiased)
    parts = _stack_parts(x[None], y[None], kind=kind, debiased=debiased, sigma=sigma,
                         diagonal=True, form=form)
    return float(_ratio(*parts)[0])


def linear_cka_gram(x: np.ndarray, y: np.ndarray, *, debiased: bool = False) -> float:
    """Linear CKA via n x n Gram matrices K = XX', L = YY' (Kornblith et al. 2019, eq. 3).

    Args:
        x: (n, p1) representations; y: (n, p2), row i = the same item as row i of x.
        debiased: use the unbiased HSIC estimator (Nguyen et al. 2021); needs n >= 4,
            can be negative.

    Returns:
        HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)); in [0, 1] unless debiased.

    Raises:
        ValueError: shapes differ in n, are not 2-D, n too small, non-finite values, or
            the two n x n Grams would not fit in memory.
    """
    return _pair_cka(x, y, kind="linear", debiased=debiased, form="gram")


def linear_cka_features(x: np.ndarray, y: np.ndarray, *, debiased: bool = False) -> float:
    """Linear CKA in feature space: ||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F), X, Y column-centred.

    Same value as :func:`linear_cka_gram` (Kornblith et al. 2019); O(n p^2) instead of
    O(n^2 p), memory independent of n. The debiased variant uses the feature-space form
    of the unbiased HSIC. Args, returns and errors as :func:`linear_cka_gram`.
    """
    return _pair_cka(x, y, kind="linear", debiased=debiased, form="features")


def linear_cka(x: np.ndarray, y: np.ndarray, *, debiased: bool = False) -> float:
    """Linear CKA (Kornblith et al. 2019); debiased variant per Nguyen et al. 2021.

    Uses whichever of the feature-space and Gram forms is cheaper (Gram only while
    small), as :func:`cka_matrix` does. Args, returns and errors as
    :func:`linear_cka_gram`.
    """
    return _pair_cka(x, y, kind="linear", debiased=debiased)


def rbf_cka(x: np.ndarray, y: np.ndarray, *, sigma: float = 0.5, debiased: bool = False) -> float:
    """RBF-kernel CKA (Kornblith et al. 2019) with bandwidth sigma x median distance.

    Args:
        x: (n, p1); y: (n, p2), row i = the same item. sigma: bandwidth as a fraction of
            the median distance (0.5 in the paper). debiased: unbiased HSIC, n >= 4.

    Returns:
        CKA of the two RBF Gram matrices; in [0, 1] unless debiased.

    Raises:
        ValueError: bad shapes or values, sigma <= 0, a zero median distance, or Grams
            too large for the memory (three n x n float64 arrays at a time).
    """
    if not sigma > 0:
        raise ValueError(f"rbf sigma must be > 0; got {sigma}")
    return _pair_cka(x, y, kind="rbf", debiased=debiased, sigma=sigma)


def _stack_cka(stack_a, stack_b, *, kind: str, debiased: bool, sigma: float, diagonal: bool):
    a, b = _check_shapes(stack_a, stack_b, ndim=3)
    kind, debiased = _resolve_kind(kind, debiased, a, b)
    _check_n(a, b, debiased=debiased)
    if diagonal and a.shape[0] != b.shape[0]:
        raise ValueError(f"cka_diagonal needs equal layer counts; got {a.shape} and {b.shape}")
    if kind == "rbf" and not sigma > 0:
        raise ValueError(f"rbf sigma must be > 0; got {sigma}")
    parts = _stack_parts(a, b, kind=kind, debiased=debiased, sigma=sigma, diagonal=diagonal)
    return _ratio(*parts)


def cka_matrix(stack_a: np.ndarray, stack_b: np.ndarray, *, kind: str = "linear",
               debiased: bool = False, sigma: float = 0.5) -> np.ndarray:
    """Layer-by-layer CKA grid (Kornblith et al. 2019, fig. 2 style).

    Args:
        stack_a: (La, n, da) per-layer embeddings: array or memory map, float16/32/64
            (computed in float64; linear kinds read it in row chunks).
        stack_b: (Lb, n, db); item i of both stacks is the same item or its translation.
        kind: "linear", "debiased" (debiased linear), "rbf", or "auto"
            (:func:`default_cka_kind`). debiased: unbiased HSIC (n >= 4), also for RBF.
        sigma: RBF bandwidth as a fraction of the median distance.

    Returns:
        (La, Lb) float64, entry [i, j] = CKA(stack_a[i], stack_b[j]).

    Raises:
        ValueError: stacks not 3-D, different n, too few items, non-finite, unknown
            kind, or RBF Grams that would not fit in memory.
    """
    return _stack_cka(stack_a, stack_b, kind=kind, debiased=debiased, sigma=sigma,
                      diagonal=False)


def cka_diagonal(stack_a: np.ndarray, stack_b: np.ndarray, *, kind: str = "linear",
                 debiased: bool = False, sigma: float = 0.5) -> np.ndarray:
    """Same-layer CKA: entry l = CKA(stack_a[l], stack_b[l]); both stacks (L, n, d).

    Only the L same-layer cross products are formed (not the grid). Args as
    :func:`cka_matrix`. Returns (L,) float64. Raises ValueError as :func:`cka_matrix`,
    or if the layer counts differ.
    """
    return _stack_cka(stack_a, stack_b, kind=kind, debiased=debiased, sigma=sigma,
                      diagonal=True)


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
        if ndim == 3:
            a, b = _check_shapes(x, y, ndim=3)
            _check_n(a, b, debiased=self.debiased)
        else:
            a, b = (m[None] for m in _validate(x, y, debiased=self.debiased))
        n = a.shape[1]
        scale = n * (n - 3.0) if self.debiased else (n - 1.0) ** 2
        parts = _stack_parts(a, b, kind="linear", debiased=self.debiased, sigma=0.5,
                             diagonal=False)
        parts = [p / scale for p in parts]
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
