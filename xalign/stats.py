"""Statistics of paired seed contrasts: the estimator of REFERENCE.md "Statistics protocol".

Pure functions over arrays of numbers; no table handling (see :mod:`xalign.analysis`).
The unit of replication is the seed: a contrast between two conditions is a vector of
per-seed differences d (one per seed, each already averaged over languages), and

- estimate: mean(d);
- interval: two-sided t-interval over seeds, mean(d) -+ t_{S-1} * sd(d) / sqrt(S);
- p: exact two-sided sign-flip permutation test (all 2^S sign patterns, statistic |mean|,
  observed pattern counted; Good 2005, "Permutation, Parametric and Bootstrap Tests");
- multiplicity: Holm (1979) step-down adjustment within a family.

With S seeds the smallest attainable sign-flip p is 2 / 2^S (5 seeds: 0.0625).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import optimize, stats

EXACT_MAX_SEEDS = 20  # 2^20 patterns is about a second; above it, a seeded Monte Carlo
MONTE_CARLO_PATTERNS = 100_000  # sign patterns drawn above EXACT_MAX_SEEDS (p resolution 1e-5)
_CHUNK = 1 << 14  # sign patterns scored per block (bounds memory at S = 20)


def _finite_vector(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of per-seed values; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has NaN or inf values: {arr.tolist()}")
    return arr


def t_interval(values: Sequence[float] | np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Two-sided t-interval for the mean of ``values`` (NaN, NaN with fewer than 2 values).

    Args:
        values: (S,) one number per seed, e.g. the per-seed differences of a contrast.
        level: coverage, in (0, 1).

    Returns:
        ``(low, high)`` = mean -+ t_{level, S-1} * sd / sqrt(S), sd with ddof=1.
    """
    arr = _finite_vector(values, "t_interval values")
    if not 0.0 < level < 1.0:
        raise ValueError(f"t_interval level must be in (0, 1); got {level}")
    if arr.size < 2:
        return math.nan, math.nan
    half = stats.t.ppf(0.5 + level / 2, arr.size - 1) * arr.std(ddof=1) / math.sqrt(arr.size)
    mean = float(arr.mean())
    return mean - float(half), mean + float(half)


def sign_flip_p(differences: Sequence[float] | np.ndarray, *, seed: int = 0) -> float:
    """Two-sided paired sign-flip permutation p-value of the mean difference.

    Under the null hypothesis (no difference between the paired conditions) each per-seed
    difference is as likely to have either sign. The p-value is the fraction of sign
    patterns whose |mean| is at least the observed |mean|, the observed pattern included.
    Up to :data:`EXACT_MAX_SEEDS` seeds every one of the 2^S patterns is enumerated (exact);
    above that :data:`MONTE_CARLO_PATTERNS` patterns are drawn with ``seed`` and
    p = (1 + hits) / (1 + draws).

    Args:
        differences: (S,) per-seed differences.
        seed: generator seed of the Monte Carlo variant (unused when exact).

    Returns:
        p in (0, 1]; NaN with fewer than 2 differences. All-zero differences give p = 1.
    """
    d = _finite_vector(differences, "sign_flip_p differences")
    if d.size < 2:
        return math.nan
    observed = abs(d.sum())
    # sums of S numbers differ by rounding only at ~S * 1e-16 * sum|d|: count those as ties
    threshold = observed - 1e-10 * float(np.abs(d).sum())
    if d.size <= EXACT_MAX_SEEDS:
        hits, total = 0, 1 << d.size
        bits = np.arange(d.size)
        for start in range(0, total, _CHUNK):
            codes = np.arange(start, min(start + _CHUNK, total))[:, None]
            signs = 1.0 - 2.0 * ((codes >> bits) & 1)  # (chunk, S), every pattern once
            hits += int(np.count_nonzero(np.abs(signs @ d) >= threshold))
        return hits / total
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, MONTE_CARLO_PATTERNS, _CHUNK):
        n = min(_CHUNK, MONTE_CARLO_PATTERNS - start)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(n, d.size))
        hits += int(np.count_nonzero(np.abs(signs @ d) >= threshold))
    return (1 + hits) / (1 + MONTE_CARLO_PATTERNS)


def sign_flip_floor(n_seeds: int) -> float:
    """The smallest two-sided p the exact sign-flip test can give with ``n_seeds``: 2 / 2^S."""
    if n_seeds < 1:
        raise ValueError(f"sign_flip_floor needs n_seeds >= 1; got {n_seeds}")
    return min(1.0, 2.0 / 2.0**n_seeds)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979), in input order.

    NaN entries (tests that could not be run) are left NaN and do not count towards the
    family size m. Written here because scipy offers only Benjamini-Hochberg
    (``false_discovery_control``) and statsmodels is not a dependency.

    Args:
        p_values: (m,) raw p-values of one family.

    Returns:
        adjusted_i = max over j <= rank(i) of min(1, (m - j) * p_(j)), 0-based j.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = order.size
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        out[index] = running
    return out.tolist()


def paired_contrast(differences: Sequence[float] | np.ndarray, level: float = 0.95) -> dict:
    """The primary estimator on per-seed differences (a minus b, one per seed).

    Returns:
        {"estimate", "ci_low", "ci_high", "p_value", "sd", "n_seeds"}; with one seed the
        interval, p and sd are NaN.
    """
    d = _finite_vector(differences, "paired_contrast differences")
    if d.size == 0:
        raise ValueError("paired_contrast needs at least one per-seed difference; got none")
    low, high = t_interval(d, level)
    return {"estimate": float(d.mean()), "ci_low": low, "ci_high": high,
            "p_value": sign_flip_p(d), "sd": float(d.std(ddof=1)) if d.size > 1 else math.nan,
            "n_seeds": int(d.size)}


def minimum_detectable_effect(sd: float, n_seeds: int, *, alpha: float = 0.05,
                              power: float = 0.8) -> float:
    """Smallest true mean difference a two-sided paired t-test detects with ``power``.

    Solves P(|T| > t_{1-alpha/2, S-1}) = power for T ~ noncentral t(S-1, delta*sqrt(S)/sd),
    the exact power of the t-test (not the normal approximation).

    Args:
        sd: seed standard deviation of the per-seed differences.
        n_seeds: number of seeds S (>= 2).

    Returns:
        delta in the units of the differences; NaN if S < 2 or sd is not finite; 0 if sd = 0.
    """
    if n_seeds < 2 or not math.isfinite(sd):
        return math.nan
    if sd == 0:
        return 0.0
    df = n_seeds - 1
    crit = stats.t.ppf(1 - alpha / 2, df)

    def shortfall(delta: float) -> float:
        nc = delta * math.sqrt(n_seeds) / sd
        return stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc) - power

    high = sd
    while shortfall(high) < 0:  # bracket the root; power grows with delta
        high *= 2
    return float(optimize.brentq(shortfall, 0.0, high, xtol=1e-12 * sd))


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (Wilson 1927), via scipy.

    Args:
        successes: correct items, 0 <= successes <= n.
        n: items scored (n >= 1).
        level: coverage.

    Returns:
        ``(low, high)`` as fractions in [0, 1].
    """
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"wilson_interval needs 0 <= successes <= n and n >= 1; got "
                         f"successes={successes}, n={n}")
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(confidence_level=level,
                                                               method="wilson")
    return float(ci.low), float(ci.high)
