"""retrieval.bucc: threshold fitting, F1, fit/apply consistency, dedup and id expansion."""

from __future__ import annotations

import math

import numpy as np
import pytest

from retrieval.bucc import (
    bucc_f1,
    candidates_to_ids,
    dedup_sentences,
    evaluate_mining,
    fit_threshold,
    mine_pairs,
    mine_pairs_from_embeddings,
)


def test_best_threshold_at_last_candidate() -> None:
    # Correct, wrong, correct, correct, correct; |gold| = 5. F1 by position:
    # 1/3, 2/7, 1/2, 2/3, 4/5 -> best at the last candidate (reference code: IndexError).
    cands = [("a", "A", 0.9), ("b", "X", 0.8), ("c", "C", 0.7), ("d", "D", 0.6), ("e", "E", 0.5)]
    gold = {("a", "A"), ("c", "C"), ("d", "D"), ("e", "E"), ("f", "F")}
    threshold, metrics = fit_threshold(cands, gold)
    assert threshold == 0.5
    assert metrics == {
        "precision": 0.8, "recall": 0.8, "f1": pytest.approx(0.8),
        "n_extracted": 5, "n_correct": 4, "n_gold": 5,
    }


def test_threshold_is_midpoint_inside() -> None:
    cands = [(0, 0, 0.9), (1, 1, 0.8), (2, 5, 0.7), (3, 6, 0.6)]
    threshold, metrics = fit_threshold(reversed(cands), {(0, 0), (1, 1)})  # any input order
    assert threshold == pytest.approx(0.75)
    assert (metrics["precision"], metrics["recall"], metrics["f1"]) == (1.0, 1.0, 1.0)


def test_tied_scores_are_never_split() -> None:
    # The 2nd and 3rd candidates tie: cutting between them is impossible, so the walk
    # compares "keep 1" (P=1, R=1/3, F1=.5) with "keep 3" (P=2/3, R=2/3, F1=2/3).
    cands = [(0, 0, 0.9), (1, 1, 0.5), (2, 9, 0.5), (3, 9, 0.1)]
    threshold, metrics = fit_threshold(cands, {(0, 0), (1, 1), (4, 4)})
    assert threshold == pytest.approx(0.3)
    assert metrics["n_extracted"] == 3 and metrics["f1"] == pytest.approx(2 / 3)


def test_no_correct_candidate_extracts_nothing() -> None:
    threshold, metrics = fit_threshold([(0, 1, 0.9), (1, 0, 0.8)], {(0, 0)})
    assert threshold == math.inf
    assert metrics["n_extracted"] == 0 and metrics["f1"] == 0.0


def test_bucc_f1_known_values_and_convention() -> None:
    cands = [(0, 0, 0.9), (1, 2, 0.8), (2, 2, 0.7)]
    gold = {(0, 0), (2, 2), (3, 3), (4, 4)}
    out = bucc_f1(cands, gold, 0.7)  # >= keeps the candidate at exactly 0.7
    assert (out["n_extracted"], out["n_correct"], out["n_gold"]) == (3, 2, 4)
    assert out["precision"] == pytest.approx(2 / 3) and out["recall"] == 0.5
    assert out["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert bucc_f1(cands, gold, 1.0)["precision"] == 0.0  # nothing extracted: P := 0


@pytest.mark.parametrize("seed", range(20))
def test_fit_apply_consistency_and_oracle_is_best(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 30))
    # Scores rounded to one decimal: many ties, as after expanding duplicates to ids.
    cands = [(i, int(rng.integers(0, 3)), round(float(rng.random()), 1)) for i in range(n)]
    gold = {(i, 0) for i in range(n + 2) if rng.random() < 0.6} | {(999, 0)}
    threshold, oracle = fit_threshold(cands, gold)
    assert bucc_f1(cands, gold, threshold) == oracle  # applying reproduces the oracle
    candidates_thresholds = {c[2] for c in cands} | {math.inf}
    best = max(bucc_f1(cands, gold, t)["f1"] for t in candidates_thresholds)
    assert oracle["f1"] == best


def test_adjacent_floats_keep_fit_and_apply_consistent() -> None:
    high = 0.5
    low = float(np.nextafter(high, 0.0))  # the midpoint rounds onto one of them
    cands = [(0, 0, high), (1, 9, low)]
    threshold, oracle = fit_threshold(cands, {(0, 0)})
    assert oracle["n_extracted"] == 1 and oracle["f1"] == 1.0
    assert low < threshold <= high


def test_evaluate_mining_transfers_the_threshold() -> None:
    fit = [(0, 0, 0.9), (1, 1, 0.8), (2, 7, 0.7)]  # oracle: keep 2, threshold 0.75
    ev = [(0, 0, 0.95), (1, 5, 0.78), (2, 2, 0.72), (3, 3, 0.6)]
    out = evaluate_mining(fit, {(0, 0), (1, 1)}, ev, {(0, 0), (2, 2), (3, 3)})
    assert out["threshold"] == pytest.approx(0.75)
    assert out["oracle_f1"] == 1.0 and out["oracle_n_extracted"] == 2
    # Transferred: keeps (0,0) and (1,5): P = 1/2, R = 1/3, F1 = 0.4.
    assert out["transfer_precision"] == 0.5 and out["transfer_recall"] == pytest.approx(1 / 3)
    assert out["transfer_f1"] == pytest.approx(0.4) and out["transfer_n_gold"] == 3


def test_dedup_and_id_expansion() -> None:
    texts, groups = dedup_sentences(["s1", "s2", "s3", "s4"], ["a", "b", "a", "c"])
    assert texts == ["a", "b", "c"] and groups == [["s1", "s3"], ["s2"], ["s4"]]
    expanded = candidates_to_ids([(0, 1, 0.9), (2, 0, 0.4)], groups, [["t1"], ["t2", "t5"]])
    assert expanded == [
        ("s1", "t2", 0.9), ("s1", "t5", 0.9), ("s3", "t2", 0.9), ("s3", "t5", 0.9),
        ("s4", "t1", 0.4),
    ]


def test_mine_pairs_embeds_unique_texts_once_and_maps_to_ids() -> None:
    vectors = {"x1": [1, 0, 0], "x2": [0, 1, 0], "y1": [1, 0.1, 0], "y2": [0, 1, 0.1],
               "y3": [0, 0, 1]}
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.array([vectors[t] for t in texts], dtype=np.float32)

    pairs = mine_pairs(
        ["s1", "s2", "s3"], ["x1", "x2", "x1"],
        ["t1", "t2", "t3", "t4"], ["y1", "y2", "y2", "y3"],
        embed, k=2, margin="ratio", mode="max",
    )
    assert calls == [["x1", "x2"], ["y1", "y2", "y3"]]
    id_pairs = {(s, t) for s, t, _ in pairs}
    assert id_pairs == {("s1", "t1"), ("s3", "t1"), ("s2", "t2"), ("s2", "t3")}
    gold = {("s1", "t1"), ("s3", "t1"), ("s2", "t2"), ("s2", "t3")}
    assert fit_threshold(pairs, gold)[1]["f1"] == 1.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: dedup_sentences(["a", "a"], ["x", "y"]), "duplicate sentence id 'a'"),
        (lambda: dedup_sentences(["a"], ["x", "y"]), "ids has 1 entries but texts has 2"),
        (lambda: candidates_to_ids([(0, 3, 1.0)], [["a"]], [["b"]]), r"\(0, 3\)"),
        (lambda: bucc_f1([(0, 0, 1.0)], set(), 0.5), "gold is empty"),
        (lambda: fit_threshold([(0, 0, float("nan"))], {(0, 0)}), "NaN"),
        (lambda: mine_pairs(["a"], ["x"], ["b"], ["y"], lambda t: np.ones((3, 2))),
         r"shape \(3, 2\) for 1 source texts"),
        (lambda: mine_pairs(["a"], ["x"], ["b"], ["y"], lambda t: np.ones((1, 2)), mode="all"),
         "unknown mode 'all'"),
    ],
)
def test_bad_input(call, match) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def planted_split(seed: int) -> tuple[np.ndarray, np.ndarray, set[tuple[int, int]]]:
    """150 noisy translation pairs among distractors, plus 20 target "hubs" near the
    common offset shared by all vectors (hubness is what the margin corrects)."""
    rng = np.random.default_rng(seed)
    d, n_gold = 32, 150
    offset = rng.normal(size=d)
    offset *= 4 / np.linalg.norm(offset)
    base = rng.normal(size=(n_gold, d))
    src = np.vstack([base + 0.6 * rng.normal(size=(n_gold, d)), rng.normal(size=(100, d))])
    tgt = np.vstack([
        base + 0.6 * rng.normal(size=(n_gold, d)),
        rng.normal(size=(250, d)),
        offset + 0.3 * rng.normal(size=(20, d)),
    ])
    ps, pt = rng.permutation(len(src)), rng.permutation(len(tgt))
    inv_s, inv_t = np.argsort(ps), np.argsort(pt)
    gold = {(int(inv_s[i]), int(inv_t[i])) for i in range(n_gold)}
    return src[ps] + offset, tgt[pt] + offset, gold


@pytest.mark.parametrize("seed", [0, 2])
def test_planted_pairs_margin_beats_raw_cosine(seed: int) -> None:
    # Measured (seeds 0, 2, 4): ratio transfer F1 0.927-0.941, absolute 0.847-0.866.
    fit_src, fit_tgt, fit_gold = planted_split(seed)
    ev_src, ev_tgt, ev_gold = planted_split(seed + 1)
    f1 = {}
    for margin in ("ratio", "absolute"):
        out = evaluate_mining(
            mine_pairs_from_embeddings(fit_src, fit_tgt, margin=margin), fit_gold,
            mine_pairs_from_embeddings(ev_src, ev_tgt, margin=margin), ev_gold,
        )
        assert out["transfer_n_gold"] == 150
        f1[margin] = out["transfer_f1"]
    assert f1["ratio"] >= 0.9
    assert f1["ratio"] > f1["absolute"] + 0.04
