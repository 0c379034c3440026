"""Relating per-layer representation change to downstream (zero-shot) accuracy change.

Metric-agnostic: the caller decides what "change" is (CKA(phase 0, phase k) per layer, the
change in en-xx CKA, in Tatoeba accuracy, in BUCC F1, ...) and what an observation is
(e.g. one (condition, seed, language)). This module only correlates, with bootstrap
percentile intervals (Efron & Tibshirani 1993) over resampled observation pairs.
Randomness comes only from the ``seed`` argument.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

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


def _rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of each row pair of (b, n) arrays; NaN where a row is constant."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    den = np.sqrt(np.einsum("ij,ij->i", xc, xc) * np.einsum("ij,ij->i", yc, yc))
    num = np.einsum("ij,ij->i", xc, yc)
    # Exact test for constant rows: a rounded mean leaves residue that would give a number.
    defined = (np.ptp(x, axis=1) > 0) & (np.ptp(y, axis=1) > 0) & (den > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(defined, num / den, np.nan)
    return np.clip(r, -1.0, 1.0)


def _is_constant(a: np.ndarray) -> bool:
    return bool(np.all(a == a[0]))


def _bootstrap(x, y, *, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Pearson and Spearman on n_boot resamples of the n observation pairs, (n_boot,) each."""
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    chunk = max(1, _CHUNK_CELLS // n)
    pearson, spearman = [], []
    for start in range(0, n_boot, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_boot - start), n))  # (b, n)
        xs, ys = x[idx], y[idx]
        pearson.append(_rowwise_pearson(xs, ys))
        # Ranks within each resample (ties averaged), as spearmanr does on that sample.
        spearman.append(_rowwise_pearson(rankdata(xs, axis=1), rankdata(ys, axis=1)))
    return np.concatenate(pearson), np.concatenate(spearman)


def _interval(values: np.ndarray, ci: float) -> tuple[float, float]:
    """Percentile interval over the finite resample statistics (NaN if none is finite)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    alpha = 100.0 * (1.0 - ci) / 2.0
    lo, hi = np.percentile(finite, [alpha, 100.0 - alpha])
    return float(lo), float(hi)


def correlate(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, *,
              n_boot: int = 2000, seed: int = 0, ci: float = 0.95) -> dict:
    """Pearson and Spearman correlation with bootstrap percentile intervals.

    Observation pairs (x_i, y_i) are resampled with replacement ``n_boot`` times with
    ``numpy.random.default_rng(seed)``. Resamples in which one side is constant (possible
    at small n) have no correlation and are left out of the percentiles.

    Args:
        x: (n,) e.g. a layer's representation change per observation.
        y: (n,) e.g. the zero-shot accuracy change of the same observations.
        n_boot: number of resamples; 0 skips the bootstrap (intervals are NaN).
        seed: seed of the resampling generator (same seed -> same result).
        ci: central coverage of the interval, in (0, 1).

    Returns:
        {"pearson", "pearson_lo", "pearson_hi", "spearman", "spearman_lo", "spearman_hi",
        "n"}. If x or y is constant the correlation is undefined (zero variance) and every
        value except n is NaN; a warning is logged instead of raising.

    Raises:
        ValueError: not two equal-length 1-D arrays, n < 3, non-finite values, bad n_boot/ci.
    """
    x, y = _validate(x, y)
    if not 0.0 < ci < 1.0:
        raise ValueError(f"correlate ci must be in (0, 1); got {ci}")
    if n_boot < 0:
        raise ValueError(f"correlate n_boot must be >= 0; got {n_boot}")
    n = int(x.shape[0])
    out = {key: float("nan") for key in ("pearson", "pearson_lo", "pearson_hi",
                                         "spearman", "spearman_lo", "spearman_hi")}
    out["n"] = n
    if _is_constant(x) or _is_constant(y):
        logger.warning("correlate: constant input (zero variance), correlation is NaN; n=%d", n)
        return out
    out["pearson"] = float(_rowwise_pearson(x[None], y[None])[0])
    out["spearman"] = float(_rowwise_pearson(rankdata(x)[None], rankdata(y)[None])[0])
    if n_boot > 0:
        boot_p, boot_s = _bootstrap(x, y, n_boot=n_boot, seed=seed)
        out["pearson_lo"], out["pearson_hi"] = _interval(boot_p, ci)
        out["spearman_lo"], out["spearman_hi"] = _interval(boot_s, ci)
    return out


def layer_predictiveness(change: np.ndarray, accuracy_change: np.ndarray, *,
                         layers: Sequence[int] | None = None, n_boot: int = 2000,
                         seed: int = 0) -> list[dict]:
    """Correlate each layer's representation change with the accuracy change.

    Every layer uses the same ``seed``, so all layers see the same bootstrap resamples of
    observations (a paired comparison across layers).

    Args:
        change: (n_obs, L) representation-change measure per observation and layer.
        accuracy_change: (n_obs,) accuracy change of the same observations.
        layers: (L,) hidden_states indices labelling the columns of ``change``;
            default 0..L-1.
        n_boot: bootstrap resamples per layer. seed: resampling seed.

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
    return [{"layer": label, **correlate(change[:, col], acc, n_boot=n_boot, seed=seed)}
            for col, label in enumerate(labels)]


def best_layer(rows: Sequence[dict], key: str = "spearman") -> int:
    """The layer whose change is most predictive: largest |rows[i][key]|.

    Absolute value, because a change measure may relate to accuracy with either sign
    (e.g. CKA to phase 0 falls as representations move); the sign stays in ``rows``.
    Rows with a NaN correlation are skipped; ties go to the lowest layer.

    Args:
        rows: output of :func:`layer_predictiveness`.
        key: "pearson" or "spearman" (rank-based, robust to a few extreme observations).

    Returns:
        The "layer" label of the chosen row.

    Raises:
        ValueError: unknown key, or no row with a finite correlation.
    """
    if key not in CORR_KEYS:
        raise ValueError(f"best_layer key must be one of {CORR_KEYS}; got {key!r}")
    finite = [r for r in rows if np.isfinite(r[key])]
    if not finite:
        raise ValueError(f"best_layer: no row has a finite {key} correlation ({len(rows)} rows)")
    best = max(abs(r[key]) for r in finite)
    return min(int(r["layer"]) for r in finite if abs(r[key]) == best)
