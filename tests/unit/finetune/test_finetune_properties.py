"""Property-based tests (hypothesis) of Dataset Cartography and the task metrics."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from finetune.cartography import SUBSETS, cartography_stats, select_subsets
from finetune.metrics import accuracy, entity_f1, squad_scores

PROPS = settings(max_examples=50, deadline=None, database=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# --- cartography ----------------------------------------------------------------------------

PROB = st.sampled_from([0.0, 0.25, 0.5, 1.0]) | st.floats(0, 1)  # ties are common in practice


@st.composite
def dynamics(draw, n_min: int = 1):
    n, epochs = draw(st.integers(n_min, 40)), draw(st.integers(1, 4))
    probs = draw(hnp.arrays(np.float64, (n, epochs), elements=PROB))
    correct = draw(hnp.arrays(np.float64, (n, epochs), elements=st.sampled_from([0.0, 1.0])))
    return probs, correct


@PROPS
@given(dynamics())
def test_cartography_stats_equal_per_example_loops(arrays):
    probs, correct = arrays
    stats = cartography_stats(probs, correct)
    for i, (p, c) in enumerate(zip(probs.tolist(), correct.tolist(), strict=True)):
        assert stats["confidence"][i] == pytest.approx(statistics.fmean(p), abs=1e-12)
        assert stats["variability"][i] == pytest.approx(statistics.pstdev(p), abs=1e-12)
        assert stats["correctness"][i] == pytest.approx(statistics.fmean(c), abs=1e-12)
    assert np.all((stats["confidence"] >= 0) & (stats["confidence"] <= 1))
    assert np.all((stats["variability"] >= 0) & (stats["variability"] <= 0.5 + 1e-12))


def exact_quotas(labels: list[int], total: int) -> dict[int, Fraction]:
    """Each label's exact share of ``total`` picks (a Fraction: no rounding)."""
    return {label: Fraction(labels.count(label) * total, len(labels))
            for label in sorted(set(labels))}


def largest_remainder(labels: list[int], total: int) -> dict[int, int]:
    """Label quotas in exact arithmetic; equal remainders go to the smaller label."""
    exact = exact_quotas(labels, total)
    quota = {label: math.floor(e) for label, e in exact.items()}
    order = sorted(exact, key=lambda label: (-(exact[label] - quota[label]), label))
    for label in order[: total - sum(quota.values())]:
        quota[label] += 1
    return quota


def is_largest_remainder(quotas: dict[int, int], labels: list[int], total: int) -> bool:
    """Some largest-remainder allocation, whichever way exact ties between remainders go."""
    exact = exact_quotas(labels, total)
    if sum(quotas.values()) != total or any(q - math.floor(exact[lab]) not in (0, 1)
                                            for lab, q in quotas.items()):
        return False
    up = [exact[lab] % 1 for lab, q in quotas.items() if q > math.floor(exact[lab])]
    down = [exact[lab] % 1 for lab, q in quotas.items() if q == math.floor(exact[lab])]
    return not up or not down or min(up) >= max(down)


@st.composite
def selections(draw):
    """(stats, labels or None, fraction)."""
    probs, correct = draw(dynamics(n_min=3))
    n = len(probs)
    labels = draw(st.none() | st.lists(st.integers(0, 3), min_size=n, max_size=n))
    fraction = draw(st.sampled_from([1 / 3, 0.33, 0.25, 0.1]) | st.floats(0.01, 1 / 3))
    return cartography_stats(probs, correct), labels, fraction


def check_selection(stats, labels, fraction, *, tie_rule: bool = False) -> None:
    """The contract of select_subsets; ``tie_rule``: equal remainders favour the smaller label."""
    n = len(stats["confidence"])
    subsets = select_subsets(stats, labels, fraction=fraction)
    k = math.floor(fraction * n)
    counts = Counter(labels if labels is not None else [0] * n)
    room = sum(c // 3 for c in counts.values())  # a label gives at most a third per subset
    assert sorted(subsets) == sorted(SUBSETS)
    assert [len(subsets[name]) for name in SUBSETS] == [min(k, room)] * 3
    chosen = np.concatenate([subsets[name] for name in SUBSETS])
    assert len(set(chosen.tolist())) == len(chosen)  # disjoint
    label_of = labels if labels is not None else [0] * n
    conf, var = stats["confidence"], stats["variability"]
    quotas = {}
    for label in sorted(set(label_of)):
        rows = [i for i in range(n) if label_of[i] == label]
        picked = {name: [i for i in subsets[name] if label_of[i] == label] for name in SUBSETS}
        assert len(picked["easy"]) == len(picked["hard"]) == len(picked["ambiguous"])
        quotas[label] = len(picked["easy"])
        others = [i for i in rows if i not in picked["easy"]]
        if picked["easy"] and others:  # easy = the most confident of the label
            assert min(conf[picked["easy"]]) >= max(conf[others])
        others = [i for i in rows if i not in picked["hard"]]
        if picked["hard"] and others:  # hard = the least confident
            assert max(conf[picked["hard"]]) <= min(conf[others])
        rest = [i for i in rows if i not in picked["easy"] + picked["hard"] + picked["ambiguous"]]
        if picked["ambiguous"] and rest:  # ambiguous = the most variable of the rest
            assert min(var[picked["ambiguous"]]) >= max(var[rest])
    assert all(quotas[label] <= counts[label] // 3 for label in quotas), quotas
    plain = largest_remainder(list(label_of), k)
    if all(plain[label] <= counts[label] // 3 for label in plain):  # no cap binds
        assert is_largest_remainder(quotas, list(label_of), k), quotas
        if tie_rule:
            assert quotas == plain


@st.composite
def roomy_selections(draw):
    """Selections where every label has 3 examples per slot of any quota it may get."""
    stats, labels, fraction = draw(selections())
    label_of = list(labels if labels is not None else [0] * len(stats["confidence"]))
    exact = exact_quotas(label_of, math.floor(fraction * len(label_of)))
    assume(all(3 * math.ceil(e) <= label_of.count(label) for label, e in exact.items()))
    return stats, labels, fraction


@PROPS
@given(roomy_selections())
def test_select_subsets_disjoint_equal_stratified_and_ordered(case):
    check_selection(*case)


_ONE_EACH = {"confidence": np.array([0.1, 0.5, 0.9]), "variability": np.array([0.1, 0.2, 0.3]),
             "correctness": np.zeros(3)}


@PROPS
@given(roomy_selections())
@example((cartography_stats(np.linspace(0, 1, 14)[:, None], np.ones((14, 1))),
          [0, 0, 0, 1] + [2] * 10, 0.15))
def test_select_subsets_ties_between_remainders_go_to_the_smaller_label(case):
    check_selection(*case, tie_rule=True)


@PROPS
@given(selections())
@example((_ONE_EACH, [0, 1, 2], 1 / 3))
def test_select_subsets_with_rare_labels(case):
    check_selection(*case)


# --- task metrics --------------------------------------------------------------------------

@PROPS
@given(st.integers(1, 30).flatmap(lambda n: st.tuples(
    hnp.arrays(np.int64, n, elements=st.integers(0, 3)),
    hnp.arrays(np.int64, n, elements=st.sampled_from([-100, 0, 1, 2, 3])))))
def test_accuracy_equals_count_over_labelled_items(arrays):
    predictions, labels = arrays
    keep = [i for i in range(len(labels)) if labels[i] != -100]
    assume(keep)
    expected = sum(predictions[i] == labels[i] for i in keep) / len(keep)
    assert accuracy(predictions, labels) == pytest.approx(expected, abs=1e-12)
    assert accuracy(np.where(labels == -100, 0, labels), labels) == 1.0


TAG = st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-ORG", "B-MISC", "E-PER"])


@st.composite
def tagged_corpora(draw):
    lengths = draw(st.lists(st.integers(0, 8), min_size=1, max_size=5))
    gold = [draw(st.lists(TAG, min_size=n, max_size=n)) for n in lengths]
    predicted = [draw(st.lists(TAG, min_size=n, max_size=n)) for n in lengths]
    return gold, predicted


def has_entities(tags: list[list[str]]) -> bool:
    return any(t[:2] in ("B-", "I-") for sentence in tags for t in sentence)


@PROPS
@given(tagged_corpora())
def test_entity_f1_bounds_identity_and_swap_symmetry(corpora):
    gold, predicted = corpora
    out = entity_f1(gold, predicted)
    assert all(0.0 <= out[key] <= 1.0 for key in ("precision", "recall", "f1"))
    swapped = entity_f1(predicted, gold)
    assert (swapped["precision"], swapped["recall"]) == (out["recall"], out["precision"])
    assert swapped["f1"] == pytest.approx(out["f1"], abs=1e-12)
    expected = 1.0 if has_entities(gold) else 0.0  # 0 where undefined (no entities)
    assert entity_f1(gold, gold) == {"precision": expected, "recall": expected, "f1": expected}


ANSWER = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@PROPS
@given(st.lists(st.lists(ANSWER, max_size=3), min_size=1, max_size=6), st.data())
def test_squad_exact_answers_score_one(golds, data):
    predictions = [data.draw(st.sampled_from(g)) if g else "" for g in golds]
    assert squad_scores(predictions, golds) == {"exact_match": 1.0, "f1": 1.0}


@PROPS
@given(st.lists(ANSWER, min_size=1, max_size=6), st.data())
def test_squad_scores_lie_in_unit_interval_with_f1_at_least_em(predictions, data):
    golds = [data.draw(st.lists(ANSWER, max_size=3)) for _ in predictions]
    out = squad_scores(predictions, golds)
    assert 0.0 <= out["exact_match"] <= out["f1"] <= 1.0
