"""Relating per-layer representation change to downstream (zero-shot) accuracy change.

Metric-agnostic: the caller decides what "change" is (CKA(phase 0, phase k) per layer, the
change in en-xx CKA, in Tatoeba accuracy, in BUCC F1, ...) and what an observation is
(e.g. one (condition, seed, language)). This module only correlates, with bootstrap
percentile intervals (Efron & Tibshirani 1993) over resampled observation pairs or whole
clusters of them (e.g. all checkpoints of one seed). Randomness comes only from the
``seed`` argument.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

logger = logging.getLogger(__name__)

CORR_KEYS = ("pearson", "spearman")
_CHUNK_CELLS = 1 << 22  # bootstrap resamples are drawn in blocks of about 4M indices


def _validate(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"correlate needs two 1-D arrays of equal length; got {x.shape} and "
                         f"{y.shape}")
    if x.shape[0] < 3:
        raise ValueError(f"correlate needs n >= 3 observations; got n={x.shape[0]}")
    for name, arr in (("x", x), ("y", y)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"correlate input {name} of shape {arr.shape} has NaN or inf values")
    return x, y


def _is_constant(a: np.ndarray) -> bool:
    return bool(np.all(a == a[0]))


def _resample_weights(clusters: np.ndarray, n_clusters: int, rng, size: int) -> np.ndarray:
    """(size, n) observation weights: how often each observation's cluster was drawn.

    Drawing n_clusters clusters with replacement and keeping every observation of each
    drawn cluster is the same as weighting every observation by its cluster's draw count.
    With one cluster per observation this is the ordinary pairs bootstrap.
    """
    draws = rng.integers(0, n_clusters, size=(size, n_clusters))
    offsets = np.arange(size)[:, None] * n_clusters  # one bincount for all rows
    counts = np.bincount((draws + offsets).ravel(), minlength=size * n_clusters)
    return counts.reshape(size, n_clusters)[:, clusters].astype(np.float64)


def _weighted_ranks(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mid-ranks (ties averaged) each x_i has in the sample repeating it w[b, i] times.

    A tie group holding G repeated values after `below` smaller ones occupies ranks
    below+1 .. below+G, so its mid-rank is below + (G + 1) / 2, as scipy's rankdata gives.

    Returns:
        ranks (b, n), and (b,) the number of distinct values drawn: a resample with one
        is constant, whatever rounding the mean of its values leaves.
    """
    order = np.argsort(x, kind="stable")
    ordered = x[order]
    new_group = np.r_[True, ordered[1:] != ordered[:-1]]
    group_of = np.cumsum(new_group) - 1  # tie group of each sorted observation
    size = np.add.reduceat(w[:, order], np.flatnonzero(new_group), axis=1)  # (b, groups)
    mid = np.cumsum(size, axis=1) - size + (size + 1) / 2
    ranks = np.empty_like(w)
    ranks[:, order] = mid[:, group_of]
    return ranks, np.count_nonzero(size, axis=1)


def _side(v: np.ndarray, w: np.ndarray, total: np.ndarray) -> tuple:
    """One variable of the weighted samples: centred values and ranks, their sums of
    squares, and the number of distinct values drawn."""
    ranks, distinct = _weighted_ranks(v, w)

    def centred(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = a - (w * a).sum(axis=1, keepdims=True) / total
        return c, (w * c * c).sum(axis=1)

    return (*centred(np.broadcast_to(v, w.shape)), *centred(ranks), distinct)


def _both(xs: tuple, ys: tuple, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted Pearson of the values and of the ranks (Spearman), (b,) each; NaN where a
    resample is constant on either side."""
    defined = (xs[4] > 1) & (ys[4] > 1)
    out = []
    for xc, sxx, yc, syy in ((xs[0], xs[1], ys[0], ys[1]), (xs[2], xs[3], ys[2], ys[3])):
        den = np.sqrt(sxx * syy)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(defined & (den > 0), (w * xc * yc).sum(axis=1) / den, np.nan)
        out.append(np.clip(r, -1.0, 1.0))
    return out[0], out[1]


def _weighted_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Pearson r of the samples that repeat (x_i, y_i) w[b, i] times; (b,), NaN if constant.

    x, y: (n,); w: (b, n) non-negative integer weights.
    """
    total = w.sum(axis=1, keepdims=True)
    return _both(_side(x, w, total), _side(y, w, total), w)[0]


def _bootstrap(x: np.ndarray, y: np.ndarray, clusters: np.ndarray, *, n_boot: int,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Pearson and Spearman of every column of x (n, L) with y on n_boot cluster resamples.

    All columns see the same resamples, and y's part is computed once per resample.

    Returns:
        (pearson, spearman), each (L, n_boot).
    """
    rng = np.random.default_rng(seed)
    n_clusters = int(clusters.max()) + 1
    chunk = max(1, _CHUNK_CELLS // x.shape[0])
    pearson = np.empty((x.shape[1], n_boot))
    spearman = np.empty((x.shape[1], n_boot))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        w = _resample_weights(clusters, n_clusters, rng, stop - start)
        total = w.sum(axis=1, keepdims=True)
        ys = _side(y, w, total)
        for col in range(x.shape[1]):
            pearson[col, start:stop], spearman[col, start:stop] = _both(
                _side(x[:, col], w, total), ys, w)
    return pearson, spearman


def _interval(values: np.ndarray, ci: float) -> tuple[float, float]:
    """Percentile interval over the finite resample statistics (NaN if none is finite)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    alpha = 100.0 * (1.0 - ci) / 2.0
    lo, hi = np.percentile(finite, [alpha, 100.0 - alpha])
    return float(lo), float(hi)


def _bootstrap_p(values: np.ndarray) -> float:
    """Two-sided bootstrap p of "correlation = 0": twice the smaller tail at or beyond 0.

    One is added to the tail count and to the number of resamples, so p is never 0
    (its resolution is about 2 / n_boot).
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan")
    tail = min(np.count_nonzero(finite <= 0), np.count_nonzero(finite >= 0))
    return float(min(1.0, 2.0 * (1 + tail) / (1 + finite.size)))


def _cluster_codes(clusters, n: int) -> np.ndarray:
    """Cluster labels (any hashable) as codes 0..C-1; default: every observation its own."""
    if clusters is None:
        return np.arange(n)
    labels = list(clusters)
    if len(labels) != n:
        raise ValueError(f"correlate clusters has {len(labels)} labels for {n} observations")
    codes = {label: i for i, label in enumerate(dict.fromkeys(labels))}
    return np.array([codes[label] for label in labels])


def correlate(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, *,
              n_boot: int = 2000, seed: int = 0, ci: float = 0.95,
              clusters: Sequence | None = None) -> dict:
    """Pearson and Spearman correlation with bootstrap percentile intervals and p-values.

    The bootstrap resamples with ``numpy.random.default_rng(seed)``: observation pairs
    (x_i, y_i) by default, or whole clusters with ``clusters`` (all observations of a
    drawn cluster enter together, e.g. all checkpoints of one seed; Field & Welsh 2007,
    "Bootstrapping clustered data"). Resamples in which one side is constant have no
    correlation and are left out. With fewer than 2 clusters there is nothing to
    resample: intervals and p-values are NaN.

    Args:
        x: (n,) e.g. a layer's representation change per observation.
        y: (n,) e.g. the zero-shot accuracy change of the same observations.
        n_boot: number of resamples; 0 skips the bootstrap (intervals and p are NaN).
        seed: seed of the resampling generator (same seed -> same result).
        ci: central coverage of the interval, in (0, 1).
        clusters: (n,) cluster label of each observation, or None (independent pairs).

    Returns:
        {"pearson", "pearson_lo", "pearson_hi", "pearson_p", "spearman", "spearman_lo",
        "spearman_hi", "spearman_p", "n", "n_clusters"}; p is the two-sided bootstrap p of
        :func:`_bootstrap_p`. If x or y is constant the correlation is undefined and every
        value except the counts is NaN; a warning is logged instead of raising.

    Raises:
        ValueError: not two equal-length 1-D arrays, n < 3, non-finite values, bad n_boot/ci,
            or a clusters sequence of the wrong length.
    """
    x, y = _validate(x, y)
    return _correlate_columns(x[:, None], y, n_boot=n_boot, seed=seed, ci=ci,
                              clusters=clusters)[0]


def _correlate_columns(x: np.ndarray, y: np.ndarray, *, n_boot: int, seed: int, ci: float,
                       clusters: Sequence | None) -> list[dict]:
    """:func:`correlate` of every column of x (n, L) with y (n,), one resampling for all."""
    if not 0.0 < ci < 1.0:
        raise ValueError(f"correlate ci must be in (0, 1); got {ci}")
    if n_boot < 0:
        raise ValueError(f"correlate n_boot must be >= 0; got {n_boot}")
    n = int(x.shape[0])
    codes = _cluster_codes(clusters, n)
    empty = {f"{key}{part}": float("nan") for key in CORR_KEYS
             for part in ("", "_lo", "_hi", "_p")}
    rows = [{**empty, "n": n, "n_clusters": int(codes.max()) + 1} for _ in range(x.shape[1])]
    live = [col for col in range(x.shape[1])
            if not (_is_constant(x[:, col]) or _is_constant(y))]
    if len(live) < x.shape[1]:
        logger.warning("correlate: constant input (zero variance), correlation is NaN; n=%d", n)
    ones = np.ones((1, n))
    total = ones.sum(axis=1, keepdims=True)
    ys = _side(y, ones, total)
    for col in live:
        pearson, spearman = _both(_side(x[:, col], ones, total), ys, ones)
        rows[col]["pearson"], rows[col]["spearman"] = float(pearson[0]), float(spearman[0])
    if n_boot > 0 and rows[0]["n_clusters"] > 1 and live:
        boot = _bootstrap(x[:, live], y, codes, n_boot=n_boot, seed=seed)
        for key, values in zip(CORR_KEYS, boot, strict=True):
            for i, col in enumerate(live):
                rows[col][f"{key}_lo"], rows[col][f"{key}_hi"] = _interval(values[i], ci)
                rows[col][f"{key}_p"] = _bootstrap_p(values[i])
    return rows


def layer_predictiveness(change: np.ndarray, accuracy_change: np.ndarray, *,
                         layers: Sequence[int] | None = None, n_boot: int = 2000,
                         seed: int = 0, clusters: Sequence | None = None) -> list[dict]:
    """Correlate each layer's representation change with the accuracy change.

    All layers see the same bootstrap resamples of observations (a paired comparison
    across layers); the result equals :func:`correlate` of each column with this seed.

    Args:
        change: (n_obs, L) representation-change measure per observation and layer.
        accuracy_change: (n_obs,) accuracy change of the same observations.
        layers: (L,) hidden_states indices labelling the columns of ``change``;
            default 0..L-1.
        n_boot: bootstrap resamples per layer. seed: resampling seed.
        clusters: (n_obs,) cluster label per observation (see :func:`correlate`).

    Returns:
        One dict per column, in column order: {"layer": int, **correlate(...)}.

    Raises:
        ValueError: change not 2-D, row count differs from accuracy_change, wrong number of
            layer labels, or anything :func:`correlate` rejects.
    """
    change = np.asarray(change, dtype=np.float64)
    acc = np.asarray(accuracy_change, dtype=np.float64)
    if change.ndim != 2 or acc.ndim != 1 or change.shape[0] != acc.shape[0]:
        raise ValueError(f"layer_predictiveness needs change (n_obs, L) and accuracy_change "
                         f"(n_obs,); got {change.shape} and {acc.shape}")
    labels = list(range(change.shape[1])) if layers is None else [int(v) for v in layers]
    if len(labels) != change.shape[1]:
        raise ValueError(f"layer_predictiveness got {len(labels)} layer labels for "
                         f"{change.shape[1]} columns of change {change.shape}")
    for col in range(change.shape[1]):
        _validate(change[:, col], acc)  # n >= 3, finite: the checks correlate makes
    found = _correlate_columns(change, acc, n_boot=n_boot, seed=seed, ci=0.95,
                               clusters=clusters)
    return [{"layer": label, **row} for label, row in zip(labels, found, strict=True)]
