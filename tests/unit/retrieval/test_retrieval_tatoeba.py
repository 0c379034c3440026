"""retrieval.tatoeba: known accuracies, direction naming, duplicate-aware variant."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.tatoeba import flips, tatoeba_accuracy, tatoeba_hits


def test_identical_embeddings_give_accuracy_one() -> None:
    emb = np.random.default_rng(0).normal(size=(50, 16))
    out = tatoeba_accuracy(emb, emb.copy())
    assert out == {"src2tgt": 1.0, "tgt2src": 1.0, "n": 50}


def test_derangement_gives_accuracy_zero() -> None:
    eye = np.eye(6)
    out = tatoeba_accuracy(eye, np.roll(eye, 1, axis=0))  # tgt row j = e_(j-1)
    assert out["src2tgt"] == 0.0 and out["tgt2src"] == 0.0


def test_directions_are_named_by_query_side() -> None:
    s = 1 / np.sqrt(1.25)
    src = np.array([[1, 0, 0], [s, 0.5 * s, 0], [0, 0, 1]])  # src 1 leans towards tgt 0
    tgt = np.eye(3)
    out = tatoeba_accuracy(src, tgt)
    assert out["src2tgt"] == pytest.approx(2 / 3)  # src 1 as a query finds tgt 0
    assert out["tgt2src"] == 1.0  # every tgt query still finds its own src (XTREME's)


def test_cosine_not_raw_inner_product() -> None:
    # Row 1 of tgt has a huge norm: raw inner product would make it everyone's neighbour.
    src = np.array([[1.0, 0.1], [0.1, 1.0]])
    tgt = np.array([[1.0, 0.0], [0.0, 100.0]])
    assert tatoeba_accuracy(src, tgt)["src2tgt"] == 1.0


def test_duplicate_aware_variant() -> None:
    # tgt rows 0 and 1 carry the same English text; src 1 retrieves tgt 0.
    src = np.array([[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 0.0, 1.0]])
    tgt = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    out = tatoeba_accuracy(
        src, tgt, src_texts=["un", "une", "trois"], tgt_texts=["one", "one", "three"]
    )
    assert out["src2tgt"] == pytest.approx(2 / 3)
    assert out["src2tgt_dedup"] == 1.0
    # tgt 1 = e2 retrieves src 1 (cos 0.11 vs 0): correct; texts differ anyway.
    assert out["tgt2src"] == 1.0 and out["tgt2src_dedup"] == 1.0
    only_tgt = tatoeba_accuracy(src, tgt, tgt_texts=["one", "one", "three"])
    assert "src2tgt_dedup" in only_tgt and "tgt2src_dedup" not in only_tgt


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(2, 4\)"):
        tatoeba_accuracy(np.ones((3, 4)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="dim 4 != index dim 5"):
        tatoeba_accuracy(np.ones((3, 4)), np.ones((3, 5)))
    with pytest.raises(ValueError, match="tgt_texts has 2 entries, expected n=3"):
        tatoeba_accuracy(np.eye(3), np.eye(3), tgt_texts=["a", "b"])
    with pytest.raises(ValueError, match="empty"):
        tatoeba_accuracy(np.ones((0, 4)), np.ones((0, 4)))


def test_hits_are_the_instances_behind_the_accuracy() -> None:
    rng = np.random.default_rng(4)
    src = rng.normal(size=(60, 8))
    tgt = src + 0.8 * rng.normal(size=(60, 8))  # noisy: some queries miss
    texts = [f"t{i % 50}" for i in range(60)]  # rows i and i + 50 share a text
    hits = tatoeba_hits(src, tgt, src_texts=texts, tgt_texts=texts)
    acc = tatoeba_accuracy(src, tgt, src_texts=texts, tgt_texts=texts)
    sims = src @ tgt.T / np.outer(np.linalg.norm(src, axis=1), np.linalg.norm(tgt, axis=1))
    np.testing.assert_array_equal(hits["src2tgt"], sims.argmax(1) == np.arange(60))
    np.testing.assert_array_equal(hits["tgt2src"], sims.argmax(0) == np.arange(60))
    assert 0 < hits["src2tgt"].sum() < 60
    for key, vector in hits.items():
        assert vector.dtype == bool and acc[key] == vector.mean()
    assert np.all(hits["src2tgt_dedup"] >= hits["src2tgt"])


def test_flips_equal_a_brute_force_comparison() -> None:
    rng = np.random.default_rng(6)
    before, after = rng.random(200) < 0.6, rng.random(200) < 0.7
    out = flips(before, after)
    want_to_wrong = [i for i in range(200) if before[i] and not after[i]]
    want_to_right = [i for i in range(200) if not before[i] and after[i]]
    assert out["correct_to_wrong"].tolist() == want_to_wrong
    assert out["wrong_to_correct"].tolist() == want_to_right
    assert (out["n_correct_to_wrong"], out["n_wrong_to_correct"], out["n"]) == (
        len(want_to_wrong), len(want_to_right), 200
    )
    delta = (out["n_wrong_to_correct"] - out["n_correct_to_wrong"]) / 200
    assert delta == pytest.approx(after.mean() - before.mean())


def test_flips_known_case_and_bad_input() -> None:
    out = flips(np.array([True, True, False, False]), np.array([True, False, True, False]))
    assert out["correct_to_wrong"].tolist() == [1] and out["wrong_to_correct"].tolist() == [2]
    with pytest.raises(ValueError, match=r"\(3,\) and after \(2,\)"):
        flips(np.ones(3, bool), np.ones(2, bool))
    with pytest.raises(ValueError, match="bool arrays, got int64"):
        flips(np.ones(3, np.int64), np.ones(3, np.int64))
