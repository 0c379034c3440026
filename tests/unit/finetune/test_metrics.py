"""Metrics against hand-computed cases and brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from finetune.metrics import (
    accuracy,
    best_span,
    bio_entities,
    entity_f1,
    normalize_answer,
    squad_scores,
)


def test_accuracy_known_values_and_ignored_positions():
    assert accuracy(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2])) == 0.75
    # -100 marks positions without a label (tagging); they do not count
    assert accuracy(np.array([[1, 0, 5]]), np.array([[1, -100, 4]])) == 0.5
    with pytest.raises(ValueError, match="differ"):
        accuracy(np.array([1, 2]), np.array([1]))
    with pytest.raises(ValueError, match="no labelled items"):
        accuracy(np.array([1]), np.array([-100]))


def test_bio_entities_follow_conlleval():
    tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "I-ORG", "B-ORG", "B-ORG"]
    assert bio_entities(tags) == {("PER", 0, 1), ("LOC", 3, 4), ("LOC", 5, 5),
                                  ("ORG", 6, 6), ("ORG", 7, 7), ("ORG", 8, 8)}
    assert bio_entities(["O", "O"]) == set()
    assert bio_entities(["B-MISC", "I-MISC"]) == {("MISC", 0, 1)}  # entity at the end


def test_entity_f1_hand_computed():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "B-LOC"]]
    # gold: PER(0-1), LOC(3), ORG(0) = 3; predicted: PER, ORG(3), ORG(0), LOC(1) = 4;
    # correct: PER, ORG(0) = 2 -> P = 2/4, R = 2/3, F1 = 2 * .5 * .667 / 1.167 = 4/7
    result = entity_f1(gold, pred)
    assert result["precision"] == pytest.approx(0.5)
    assert result["recall"] == pytest.approx(2 / 3)
    assert result["f1"] == pytest.approx(4 / 7)
    assert entity_f1(gold, gold)["f1"] == 1.0
    # a boundary error is a miss: partial overlap gets no credit
    assert entity_f1([["B-PER", "I-PER"]], [["B-PER", "O"]])["f1"] == 0.0
    assert entity_f1([["O"]], [["O"]]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    with pytest.raises(ValueError, match="sentence 0: 2 gold tags but 1"):
        entity_f1([["O", "O"]], [["O"]])


def test_squad_normalisation_and_scores_hand_computed():
    assert normalize_answer("The  Brown, Fox!") == "brown fox"
    assert normalize_answer("an apple a day") == "apple day"
    scores = squad_scores(
        ["the brown fox", "lazy dog", "Paris", ""],
        [["Brown fox", "a fox"], ["the lazy old dog"], ["London"], []],
    )
    # EM: 1, 0, 0, 1 (unanswerable, empty prediction)
    # F1: 1; "lazy dog" vs "lazy old dog": P=1, R=2/3 -> 0.8; 0; 1
    assert scores["exact_match"] == pytest.approx(0.5)
    assert scores["f1"] == pytest.approx((1 + 0.8 + 0 + 1) / 4)
    assert squad_scores(["x"], [[]]) == {"exact_match": 0.0, "f1": 0.0}
    with pytest.raises(ValueError, match="2 predictions but 1 questions"):
        squad_scores(["a", "b"], [["a"]])


def test_squad_f1_takes_the_max_over_gold_answers():
    both = squad_scores(["big red car"], [["red car", "big car here"]])
    # vs "red car": P=2/3 R=1 -> 0.8; vs "big car here": P=2/3 R=2/3 -> 2/3
    assert both["f1"] == pytest.approx(0.8)


def test_best_span_equals_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        t = 12
        start, end = rng.normal(size=t), rng.normal(size=t)
        allowed = rng.random(t) > 0.3
        score, s, e = best_span(start, end, allowed, max_answer_tokens=4)
        candidates = [(start[i] + end[j], i, j) for i, j in itertools.product(range(t), repeat=2)
                      if allowed[i] and allowed[j] and 0 <= j - i < 4]
        if not candidates:
            assert (score, s, e) == (float("-inf"), 0, 0)
            continue
        expected = max(candidates)
        assert score == pytest.approx(expected[0]) and (s, e) == expected[1:]
