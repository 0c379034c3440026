"""retrieval.tatoeba: known accuracies, direction naming, duplicate-aware variant."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.tatoeba import tatoeba_accuracy


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
