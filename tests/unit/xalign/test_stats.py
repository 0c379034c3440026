"""The paired seed estimator against hand-computed cases, brute force and a null case."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from xalign.stats import (
    EXACT_MAX_SEEDS,
    holm,
    minimum_detectable_effect,
    paired_contrast,
    sign_flip_floor,
    sign_flip_p,
    t_interval,
    wilson_interval,
)

# The t quantile with 2 degrees of freedom has a closed form, (2q - 1) / sqrt(2q(1 - q)):
# at q = 0.975 that is 0.95 / sqrt(0.04875) = 4.3027 (tables: 4.303).
T_975_2DF = 0.95 / math.sqrt(2 * 0.975 * 0.025)


def test_three_seed_case_by_hand():
    # per-seed differences 1, 2, 3: mean 2, sd 1, se 1/sqrt(3)
    out = paired_contrast([1.0, 2.0, 3.0])
    assert out["estimate"] == 2.0 and out["sd"] == 1.0 and out["n_seeds"] == 3
    assert out["ci_low"] == pytest.approx(2 - T_975_2DF / math.sqrt(3), abs=1e-12)
    assert out["ci_high"] == pytest.approx(2 + T_975_2DF / math.sqrt(3), abs=1e-12)
    # sign patterns: sums +-1 +-2 +-3 = 6, 4, 2, 0, 0, -2, -4, -6; |sum| >= 6 twice of 8
    assert out["p_value"] == 2 / 8


def test_null_case_identical_conditions():
    out = paired_contrast([0.0, 0.0, 0.0, 0.0, 0.0])
    assert out["estimate"] == 0.0 and out["p_value"] == 1.0
    assert out["ci_low"] == 0.0 and out["ci_high"] == 0.0


def test_sign_flip_equals_brute_force_enumeration():
    rng = np.random.default_rng(0)
    for size in (2, 4, 7):
        d = rng.normal(0.3, 1.0, size=size)
        means = [abs(np.mean(np.array(signs) * d))
                 for signs in itertools.product((-1, 1), repeat=size)]
        expected = np.mean(np.array(means) >= abs(d.mean()) - 1e-12)
        assert sign_flip_p(d) == pytest.approx(expected, abs=1e-15)


def test_sign_flip_floor_and_ties():
    for size in (3, 5, 6):
        assert sign_flip_p(np.full(size, 0.01)) == sign_flip_floor(size) == 2 / 2**size
    assert sign_flip_floor(5) == 0.0625 and sign_flip_floor(6) == 0.03125
    # 0.55 + 0.94 - 1.49 is not 0 in floating point: patterns that tie the observed |sum| in
    # exact arithmetic must still count, as exact rational enumeration says
    d = [0.55, 0.94, 0.82, -1.49, 0.01]  # naive float comparison counts 22, not 24
    exact = [Fraction(str(v)) for v in d]
    hits = sum(abs(sum(s * v for s, v in zip(signs, exact, strict=True))) >= abs(sum(exact))
               for signs in itertools.product((-1, 1), repeat=len(d)))
    assert sign_flip_p(d) == hits / 32
    assert math.isnan(sign_flip_p([1.0]))


def test_sign_flip_monte_carlo_above_the_exact_limit():
    d = np.r_[np.full(EXACT_MAX_SEEDS + 1, 0.5), -0.4]
    p = sign_flip_p(d, seed=3)
    assert p == sign_flip_p(d, seed=3)  # seeded
    # normal approximation of the exact p: sum of +-d_i has sd sqrt(sum d_i^2)
    approx = 2 * stats.norm.sf(abs(d.sum()) / np.sqrt(np.sum(d**2)))
    assert p == pytest.approx(approx, abs=0.01)


def test_holm_by_hand_and_nan_left_out():
    # sorted 0.01, 0.03, 0.04 times 3, 2, 1 = 0.03, 0.06, 0.04 -> running max 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    adjusted = holm([0.2, math.nan, 0.01])
    assert adjusted[0] == pytest.approx(0.2) and adjusted[2] == pytest.approx(0.02)
    assert math.isnan(adjusted[1])
    assert holm([0.5, 0.9]) == [1.0, 1.0]
    assert holm([]) == []


def test_t_interval_matches_scipy_and_needs_two_values():
    values = [0.1, 0.4, 0.35, 0.2, 0.15]
    low, high = t_interval(values)
    ref = stats.t.interval(0.95, 4, loc=np.mean(values), scale=stats.sem(values))
    assert (low, high) == pytest.approx(ref, abs=1e-12)
    assert all(math.isnan(v) for v in t_interval([0.3]))
    one = paired_contrast([0.25])
    assert one["estimate"] == 0.25 and one["n_seeds"] == 1
    assert all(math.isnan(one[k]) for k in ("ci_low", "ci_high", "p_value", "sd"))
    with pytest.raises(ValueError, match="NaN or inf"):
        t_interval([0.1, math.nan])


def test_minimum_detectable_effect_has_the_requested_power():
    sd, n = 0.02, 5
    delta = minimum_detectable_effect(sd, n)
    crit = stats.t.ppf(0.975, n - 1)
    nc = delta * math.sqrt(n) / sd
    power = stats.nct.sf(crit, n - 1, nc) + stats.nct.cdf(-crit, n - 1, nc)
    assert power == pytest.approx(0.8, abs=1e-9)
    # more than the CI half-width (detecting needs more than just excluding 0 at the mean)
    assert delta > crit * sd / math.sqrt(n)
    assert minimum_detectable_effect(sd, 20) < delta
    assert math.isnan(minimum_detectable_effect(sd, 1)) and minimum_detectable_effect(0, 5) == 0


def test_wilson_interval_by_formula():
    k, n, z = 30, 40, stats.norm.ppf(0.975)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    assert wilson_interval(k, n) == pytest.approx((centre - half, centre + half), abs=1e-12)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and 0 < high < 0.35
    with pytest.raises(ValueError, match="successes=11, n=10"):
        wilson_interval(11, 10)
