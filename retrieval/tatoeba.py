"""Tatoeba-style parallel-sentence retrieval accuracy (XTREME, Hu et al. 2020).

Row i of ``src`` and row i of ``tgt`` are translations of each other. Convention in
xalign: ``src`` is the non-English side (xx), ``tgt`` is English (en).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retrieval.knn import knn, l2_normalize

DEDUP_KEYS = ("src2tgt_dedup", "tgt2src_dedup")


def tatoeba_hits(
    src: np.ndarray,
    tgt: np.ndarray,
    *,
    src_texts: Sequence[str] | None = None,
    tgt_texts: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Per-query top-1 hits in both directions (the instances behind Tatoeba accuracy).

    Both sides are L2-normalised here and searched exactly (inner product, k=1).

    Args:
        src: (n, d) embeddings of the xx sentences.
        tgt: (n, d) embeddings of their English translations, same order.
        src_texts: the n xx texts; enables ``tgt2src_dedup`` (src is its index side).
        tgt_texts: the n English texts; enables ``src2tgt_dedup``.

    Returns:
        Dict of (n,) bool arrays: ``src2tgt`` (query src i retrieves tgt i),
        ``tgt2src`` (query tgt i retrieves src i; XTREME's direction), and
        ``src2tgt_dedup`` / ``tgt2src_dedup`` (the retrieved row carries the gold row's
        text) when the corresponding texts are given.

    Raises:
        ValueError: if the row counts or dims differ, n = 0, or a text list has the
            wrong length.
    """
    src, tgt = np.asarray(src), np.asarray(tgt)
    if src.ndim != 2 or tgt.ndim != 2 or src.shape[0] != tgt.shape[0]:
        raise ValueError(
            f"src {src.shape} and tgt {tgt.shape} must be 2-D with the same number of rows"
        )
    n = src.shape[0]
    if n == 0:
        raise ValueError("src and tgt are empty: need at least one pair")
    for name, texts in (("src_texts", src_texts), ("tgt_texts", tgt_texts)):
        if texts is not None and len(texts) != n:
            raise ValueError(f"{name} has {len(texts)} entries, expected n={n}")
    src, tgt = l2_normalize(src), l2_normalize(tgt)
    gold = np.arange(n)
    s2t = knn(src, tgt, 1)[1][:, 0]  # (n,) row of tgt retrieved for each src
    t2s = knn(tgt, src, 1)[1][:, 0]
    hits = {"src2tgt": s2t == gold, "tgt2src": t2s == gold}
    if tgt_texts is not None:
        hits["src2tgt_dedup"] = _text_hits(s2t, tgt_texts)
    if src_texts is not None:
        hits["tgt2src_dedup"] = _text_hits(t2s, src_texts)
    return hits


def tatoeba_accuracy(
    src: np.ndarray,
    tgt: np.ndarray,
    *,
    src_texts: Sequence[str] | None = None,
    tgt_texts: Sequence[str] | None = None,
) -> dict[str, float | int]:
    """Top-1 translation retrieval accuracy in both directions (XTREME's Tatoeba task).

    The mean of each :func:`tatoeba_hits` vector; both sides are L2-normalised and
    searched exactly (inner product, k=1).

    Which number is XTREME's: XTREME (Hu et al. 2020, and its Tatoeba script) uses the
    English sentences as queries and the other language as the index. With xalign's
    convention (src = xx, tgt = en) that is **``tgt2src``** (en -> xx). ``src2tgt``
    (xx -> en) is the other direction, reported as well because the two differ.

    Duplicate-aware variants: identical index texts make top-1 unfair (only one of the
    identical rows can be "the" gold row). ``*_dedup`` counts a hit when the retrieved
    index row's text equals the gold row's text.

    Args:
        src: (n, d) embeddings of the xx sentences.
        tgt: (n, d) embeddings of their English translations, same order.
        src_texts: the n xx texts; enables ``tgt2src_dedup`` (src is its index side).
        tgt_texts: the n English texts; enables ``src2tgt_dedup``.

    Returns:
        Dict with ``src2tgt`` (queries src, index tgt) and ``tgt2src`` (queries tgt,
        index src; XTREME's number), fractions in [0, 1], higher is better; ``n``; and
        ``src2tgt_dedup`` / ``tgt2src_dedup`` when the corresponding texts are given.

    Raises:
        ValueError: if the row counts or dims differ, n = 0, or a text list has the
            wrong length.
    """
    hits = tatoeba_hits(src, tgt, src_texts=src_texts, tgt_texts=tgt_texts)
    out: dict[str, float | int] = {
        "src2tgt": float(np.mean(hits["src2tgt"])),
        "tgt2src": float(np.mean(hits["tgt2src"])),
        "n": len(hits["src2tgt"]),
    }
    out.update({key: float(np.mean(hits[key])) for key in DEDUP_KEYS if key in hits})
    return out


def flips(before: np.ndarray, after: np.ndarray) -> dict[str, np.ndarray | int]:
    """Instances whose correctness changed between two evaluations of the same queries.

    Args:
        before: (n,) bool, per-query correctness of the first model (e.g. phase 0),
            such as a :func:`tatoeba_hits` vector.
        after: (n,) bool, the same queries under the second model.

    Returns:
        Dict with ``correct_to_wrong`` and ``wrong_to_correct``: int64 query indices,
        ascending; their counts ``n_correct_to_wrong`` / ``n_wrong_to_correct``; and
        ``n`` (queries compared). Accuracy after minus before equals
        (n_wrong_to_correct - n_correct_to_wrong) / n.

    Raises:
        ValueError: if the arrays are not 1-D of equal length or not boolean.
    """
    before, after = np.asarray(before), np.asarray(after)
    if before.ndim != 1 or before.shape != after.shape:
        raise ValueError(
            f"before {before.shape} and after {after.shape} must be 1-D of equal length"
        )
    if before.dtype != bool or after.dtype != bool:
        raise ValueError(f"before/after must be bool arrays, got {before.dtype}/{after.dtype}")
    to_wrong = np.flatnonzero(before & ~after)
    to_right = np.flatnonzero(~before & after)
    return {
        "correct_to_wrong": to_wrong,
        "wrong_to_correct": to_right,
        "n_correct_to_wrong": len(to_wrong),
        "n_wrong_to_correct": len(to_right),
        "n": len(before),
    }


def _text_hits(predicted: np.ndarray, index_texts: Sequence[str]) -> np.ndarray:
    """(n,) bool: query i's retrieved row carries the same text as row i."""
    return np.array([index_texts[int(p)] == index_texts[i] for i, p in enumerate(predicted)])
