"""Property-based tests (hypothesis) of the retrieval metrics against brute force.

Where an answer depends on which of two nearly equal scores wins, the example is skipped
(``assume``) unless the gap is well above float32 rounding: the metrics search in float32
(FAISS), the references here compute in float64.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from retrieval.bucc import bucc_f1, fit_threshold
from retrieval.knn import faiss_threads, knn, l2_normalize
from retrieval.margin import MODES, mine_pairs_from_embeddings
from retrieval.tatoeba import tatoeba_accuracy

PROPS = settings(max_examples=50, deadline=None, database=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
GAP = 1e-4  # score gaps below this are treated as ties that float32 search may order freely


@pytest.fixture(autouse=True, scope="module")
def _one_faiss_thread():
    """Searches here are tiny: waking OpenMP threads on shared cores costs ~30 ms a call,
    one thread ~1 ms."""
    with faiss_threads(1):
        yield


def small_ints(shape) -> st.SearchStrategy[np.ndarray]:
    """Integer-valued float32 arrays: inner products are exact, ties are frequent."""
    return hnp.arrays(np.float32, shape, elements=st.integers(-4, 4).map(float))


@st.composite
def gaussian_pairs(draw, n_max: int = 10, d_max: int = 6):
    """(src, tgt): tgt = src + noise, rows in general position (a seed drawn by hypothesis)."""
    n, d = draw(st.integers(1, n_max)), draw(st.integers(2, d_max))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    src = rng.standard_normal((n, d))
    return src, src + draw(st.floats(0, 2)) * rng.standard_normal((n, d))


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def top1_is_clear(scores: np.ndarray) -> bool:
    """Every row's best score beats its second best by more than GAP."""
    if scores.shape[1] < 2:
        return True
    top = -np.sort(-scores, axis=1)
    return bool(np.all(top[:, 0] - top[:, 1] > GAP))


def random_rotation(seed: int, d: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q * np.sign(np.diag(r))


# --- Tatoeba accuracy ---------------------------------------------------------------------

@st.composite
def distinct_directions(draw):
    n, d = draw(st.integers(1, 8)), draw(st.integers(2, 5))
    x = draw(small_ints((n, d))).astype(np.float64)
    assume(np.all(np.linalg.norm(x, axis=1) > 0))
    cos = cosines(x, x)
    np.fill_diagonal(cos, -1.0)
    assume(np.all(cos < 1 - 1e-3))  # no two rows point the same way
    return x


@PROPS
@given(distinct_directions())
def test_tatoeba_identical_embeddings_score_one(x):
    out = tatoeba_accuracy(x, x.copy())
    assert (out["src2tgt"], out["tgt2src"], out["n"]) == (1.0, 1.0, len(x))


@PROPS
@given(gaussian_pairs())
def test_tatoeba_accuracy_equals_brute_force_argmax(pair):
    src, tgt = pair
    cos = cosines(src, tgt)
    assume(top1_is_clear(cos) and top1_is_clear(cos.T))
    gold = np.arange(len(src))
    out = tatoeba_accuracy(src, tgt)
    assert out["src2tgt"] == np.mean(cos.argmax(axis=1) == gold)
    assert out["tgt2src"] == np.mean(cos.argmax(axis=0) == gold)
    assert 0.0 <= out["src2tgt"] <= 1.0 and 0.0 <= out["tgt2src"] <= 1.0


@PROPS
@given(gaussian_pairs(), st.integers(0, 2**32 - 1),
       st.lists(st.floats(1e-2, 1e2), min_size=20, max_size=20))
def test_tatoeba_invariant_to_rotation_and_row_scaling(pair, seed, scales):
    src, tgt = pair
    cos = cosines(src, tgt)
    assume(top1_is_clear(cos) and top1_is_clear(cos.T))
    q = random_rotation(seed, src.shape[1])
    n = len(src)
    scale_src, scale_tgt = np.array(scales[:n])[:, None], np.array(scales[10:10 + n])[:, None]
    assert tatoeba_accuracy(scale_src * (src @ q), scale_tgt * (tgt @ q)) == \
        tatoeba_accuracy(src, tgt)


@PROPS
@given(gaussian_pairs(), st.data())
def test_tatoeba_dedup_counts_every_exact_hit(pair, data):
    src, tgt = pair
    n = len(src)
    texts = data.draw(st.lists(st.sampled_from("abc"), min_size=n, max_size=n))
    out = tatoeba_accuracy(src, tgt, src_texts=texts, tgt_texts=texts)
    assert out["src2tgt"] <= out["src2tgt_dedup"] <= 1.0
    assert out["tgt2src"] <= out["tgt2src_dedup"] <= 1.0
    distinct = tatoeba_accuracy(src, tgt, tgt_texts=[str(i) for i in range(n)])
    assert distinct["src2tgt_dedup"] == distinct["src2tgt"]


# --- exact k-NN -----------------------------------------------------------------------------

@st.composite
def knn_cases(draw, elements=None):
    nq, n, d = draw(st.integers(1, 6)), draw(st.integers(1, 9)), draw(st.integers(1, 5))
    if elements is None:
        queries, index = draw(small_ints((nq, d))), draw(small_ints((n, d)))
    else:
        queries = draw(hnp.arrays(np.float32, (nq, d), elements=elements))
        index = draw(hnp.arrays(np.float32, (n, d), elements=elements))
    return queries, index, draw(st.integers(1, n)), draw(st.integers(1, n + 1))


def check_knn(queries, index, k, chunk_size) -> None:
    scores, ids = knn(queries, index, k, chunk_size=chunk_size)
    brute = queries.astype(np.float64) @ index.astype(np.float64).T  # (nq, n)
    assert scores.shape == ids.shape == (len(queries), k)
    np.testing.assert_allclose(scores, -np.sort(-brute, axis=1)[:, :k], atol=1e-5)
    for row in range(len(queries)):
        assert len(set(ids[row].tolist())) == k  # k different index rows
        np.testing.assert_allclose(brute[row, ids[row]], scores[row], atol=1e-5)
        for j in range(k - 1):  # score descending, ties by row ascending
            assert scores[row, j] > scores[row, j + 1] or (
                scores[row, j] == scores[row, j + 1] and ids[row, j] < ids[row, j + 1])


@PROPS
@given(knn_cases())
def test_knn_equals_brute_force_with_exact_ties(case):
    check_knn(*case)


@PROPS
@given(knn_cases(elements=st.floats(-1, 1, width=32)))
def test_knn_equals_brute_force_on_floats(case):
    check_knn(*case)


@PROPS
@given(knn_cases(elements=st.floats(-1, 1, width=32)))
def test_knn_chunking_does_not_change_scores(case):
    queries, index, k, chunk_size = case
    whole, _ = knn(queries, index, k)
    chunked, _ = knn(queries, index, k, chunk_size=chunk_size)
    np.testing.assert_allclose(chunked, whole, atol=1e-5)


# --- margin mining ---------------------------------------------------------------------------

MARGIN_FNS = {"ratio": lambda cos, m: cos / m, "distance": lambda cos, m: cos - m,
              "absolute": lambda cos, m: cos}


def separated(values: np.ndarray, *, keep_equal_to: int | None = None) -> bool:
    """Sorted values differ by more than GAP around position ``keep_equal_to`` (or all)."""
    v = np.sort(values)[::-1]
    if keep_equal_to is not None:
        return keep_equal_to >= len(v) or v[keep_equal_to - 1] - v[keep_equal_to] > GAP
    return bool(np.all(np.diff(v) < -GAP)) if len(v) > 1 else True


def brute_force_candidates(src, tgt, k, margin):
    """Forward and backward candidates by loops over every pair (Artetxe & Schwenk 2019);
    None when a near tie would let float32 rounding decide."""
    x, y = l2_normalize(src).astype(np.float64), l2_normalize(tgt).astype(np.float64)
    cos = x @ y.T
    n, m = cos.shape
    kf, kb = min(k, m), min(k, n)
    if not (all(separated(cos[i], keep_equal_to=kf) for i in range(n))
            and all(separated(cos[:, j], keep_equal_to=kb) for j in range(m))):
        return None
    nn_x = [np.argsort(-cos[i])[:kf] for i in range(n)]
    nn_y = [np.argsort(-cos[:, j])[:kb] for j in range(m)]
    mean_x = [cos[i, nn_x[i]].mean() for i in range(n)]
    mean_y = [cos[nn_y[j], j].mean() for j in range(m)]
    if margin == "ratio" and min(mean_x + mean_y) < 0.1:
        return None  # cos / m with m near 0 magnifies float32 rounding

    def score(i, j):
        return MARGIN_FNS[margin](cos[i, j], (mean_x[i] + mean_y[j]) / 2)

    def best(pairs):
        scores = np.array([score(i, j) for i, j in pairs])
        if not separated(scores, keep_equal_to=1):
            return None
        i, j = pairs[int(scores.argmax())]
        return i, j, score(i, j)

    fwd = [best([(i, int(j)) for j in nn_x[i]]) for i in range(n)]
    bwd = [best([(int(i), j) for i in nn_y[j]]) for j in range(m)]
    return None if None in fwd or None in bwd else (fwd, bwd)


def brute_force_select(fwd, bwd, mode):
    def ranked(pairs):
        return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))

    if mode == "fwd":
        return ranked(fwd)
    if mode == "bwd":
        return ranked(bwd)
    if mode == "intersect":
        return ranked([p for p in fwd if (p[0], p[1]) in {(b[0], b[1]) for b in bwd}])
    kept, used_src, used_tgt = [], set(), set()
    for i, j, s in ranked(fwd + bwd):
        if i not in used_src and j not in used_tgt:
            kept.append((i, j, s))
            used_src.add(i)
            used_tgt.add(j)
    return kept


@PROPS
@given(st.integers(1, 8), st.integers(1, 8), st.integers(2, 5), st.integers(0, 2**32 - 1),
       st.integers(1, 6), st.sampled_from(sorted(MARGIN_FNS)), st.sampled_from(MODES))
def test_margin_mining_equals_brute_force_loop(n, m, d, seed, k, margin, mode):
    rng = np.random.default_rng(seed)
    src, tgt = rng.standard_normal((n, d)), rng.standard_normal((m, d))
    reference = brute_force_candidates(src, tgt, k, margin)
    assume(reference is not None)
    expected = brute_force_select(*reference, mode)
    # no near tie between two candidates (max mode's greedy pass sees all of them)
    distinct = {(i, j): s for i, j, s in reference[0] + reference[1]}
    assume(separated(np.array(list(distinct.values()))))
    mined = mine_pairs_from_embeddings(src, tgt, k=k, margin=margin, mode=mode)
    assert [(i, j) for i, j, _ in mined] == [(i, j) for i, j, _ in expected]
    np.testing.assert_allclose([s for *_, s in mined], [s for *_, s in expected],
                               rtol=1e-4, atol=1e-5)


# --- BUCC F1 and the oracle threshold -----------------------------------------------------

PAIR = st.tuples(st.integers(0, 4), st.integers(0, 4))
SCORE = st.sampled_from([0.1, 0.5, 0.9, 1.0]) | st.floats(allow_nan=False)


@st.composite
def mining_cases(draw, *, unique: bool = True):
    pairs = draw(st.lists(PAIR, unique=unique, max_size=12))
    candidates = [(s, t, draw(SCORE)) for s, t in pairs]
    return candidates, draw(st.sets(PAIR, min_size=1, max_size=6))


def brute_force_f1(candidates, gold, threshold) -> dict:
    extracted = [(s, t) for s, t, score in candidates if score >= threshold]
    correct = sum(p in gold for p in extracted)
    precision = correct / len(extracted) if extracted else 0.0
    recall = correct / len(gold)
    f1 = 2 * precision * recall / (precision + recall) if correct else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "n_extracted": len(extracted), "n_correct": correct, "n_gold": len(gold)}


def check_f1_contract(candidates, gold, threshold) -> None:
    out = bucc_f1(candidates, gold, threshold)
    assert out == pytest.approx(brute_force_f1(candidates, gold, threshold))
    assert all(0.0 <= out[key] <= 1.0 for key in ("precision", "recall", "f1"))


@PROPS
@given(mining_cases(), SCORE)
def test_bucc_f1_equals_brute_force_and_lies_in_unit_interval(case, threshold):
    check_f1_contract(*case, threshold)


@PROPS
@given(mining_cases(unique=False), SCORE)
@example(([(0, 0, 1.0), (0, 0, 0.5)], {(0, 0)}), 0.0)
def test_bucc_f1_with_repeated_candidates_is_refused_or_in_unit_interval(case, threshold):
    candidates, gold = case
    if len({(s, t) for s, t, _ in candidates}) < len(candidates):
        with pytest.raises(ValueError, match="appears twice"):
            bucc_f1(candidates, gold, threshold)
        with pytest.raises(ValueError, match="appears twice"):
            fit_threshold(candidates, gold)
    else:
        check_f1_contract(candidates, gold, threshold)


@PROPS
@given(mining_cases(), st.randoms(use_true_random=False))
def test_fit_threshold_reaches_the_best_f1_over_all_cuts(case, rnd: random.Random):
    candidates, gold = case
    threshold, metrics = fit_threshold(candidates, gold)
    cuts = {score for *_, score in candidates} | {math.inf}
    best = max(brute_force_f1(candidates, gold, cut)["f1"] for cut in cuts)
    assert metrics["f1"] == pytest.approx(best, abs=1e-12)
    assert bucc_f1(candidates, gold, threshold) == metrics
    assert 0.0 <= metrics["f1"] <= 1.0
    shuffled = candidates[:]
    rnd.shuffle(shuffled)
    assert fit_threshold(shuffled, gold) == (threshold, metrics)
