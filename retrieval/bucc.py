"""BUCC-style bitext mining F1 (LASER; Artetxe & Schwenk 2019; BUCC 2017/2018 shared task).

REFERENCE.md steps 1-6: deduplicate each side, margin-mine candidates
(:func:`mine_pairs_from_embeddings`, re-exported from :mod:`retrieval.margin`), fit a
score threshold on a split with gold pairs, apply it to another split, and score
sentence-id pairs against gold.

Reference bugs avoided here:

- XTREME's BUCC path can reach an undefined threshold variable; :func:`fit_threshold`
  always returns a defined threshold (``inf`` = extract nothing when no candidate is
  correct).
- LASER / XTREME read ``scores[best + 1]`` and raise IndexError when the best F1 is at
  the last candidate; here the last position uses its own score as the threshold.
- XTREME caches candidate files under names without the split, so "test" silently reuses
  "dev" candidates; here candidates are values passed per split, never files found by
  name, and :func:`evaluate_mining` takes the fitting and evaluation splits separately.
- XTREME ignores its CLS pooling flag; retrieval takes embeddings only, so the pooling is
  the caller's explicit, recorded choice.
- MTEB's "BUCC" is a different metric (top-1 retrieval over gold sentences only, weighted
  F1); never report it as BUCC F1. The number here is LASER's mining F1.

Threshold convention: a candidate is extracted when ``score >= threshold``. Fitting and
applying use the same rule, so applying the fitted threshold to the fitting candidates
reproduces the oracle F1 exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Sequence

import numpy as np

from retrieval.margin import get_margin, margin_names, mine_pairs_from_embeddings, register_margin

__all__ = [
    "bucc_f1",
    "candidates_to_ids",
    "dedup_sentences",
    "evaluate_mining",
    "fit_threshold",
    "get_margin",
    "margin_names",
    "mine_pairs",
    "mine_pairs_from_embeddings",
    "register_margin",
]

Candidate = tuple[Hashable, Hashable, float]


def bucc_f1(
    candidates: Iterable[Candidate], gold: Iterable[tuple[Hashable, Hashable]], threshold: float
) -> dict[str, float | int]:
    """Precision, recall and F1 of the candidates with ``score >= threshold``.

    Args:
        candidates: (source, target, score) tuples (row numbers or sentence ids).
        gold: the true (source, target) pairs, same kind of keys as the candidates.
        threshold: extraction threshold; candidates with score >= threshold are kept.

    Returns:
        Dict with precision (correct/extracted, 0 if nothing is extracted), recall
        (correct/|gold|), f1 (harmonic mean, 0 if both are 0), all in [0, 1] and higher
        is better, plus n_extracted, n_correct, n_gold.

    Raises:
        ValueError: if gold is empty, the threshold is NaN, or a (source, target) pair
            appears twice among the candidates (it would be counted twice).
    """
    gold = _gold_set(gold)
    if math.isnan(threshold):
        raise ValueError("threshold is NaN; expected a number (inf extracts nothing)")
    candidates = _unique_pairs(candidates)
    extracted = [(s, t) for s, t, score in candidates if score >= threshold]
    n_correct = sum(pair in gold for pair in extracted)
    return _scores(len(extracted), n_correct, len(gold))


def _unique_pairs(candidates: Iterable[Candidate]) -> list[Candidate]:
    """The candidates as a list; a repeated (source, target) pair is an error: mining
    yields each pair once, and a repeat would count one sentence pair twice."""
    cands = list(candidates)
    seen: set = set()
    for s, t, _ in cands:
        if (s, t) in seen:
            raise ValueError(f"candidate pair ({s!r}, {t!r}) appears twice; expected each "
                             "(source, target) pair once")
        seen.add((s, t))
    return cands


def fit_threshold(
    candidates: Iterable[Candidate], gold: Iterable[tuple[Hashable, Hashable]]
) -> tuple[float, dict[str, float | int]]:
    """Oracle threshold maximising F1 on a split with gold pairs (LASER's BUCC protocol).

    Walks the candidates sorted by score descending. A cut can only fall between two
    different scores (a threshold cannot separate tied candidates), so tied candidates
    are evaluated as one group. At the best cut the threshold is the midpoint between
    the last kept score and the next lower one; if the best cut is after the last
    candidate, the threshold is that candidate's own score (kept under ``>=``), which
    avoids the reference code's IndexError. If no candidate is correct the threshold is
    ``inf`` (extract nothing, F1 = 0).

    Args:
        candidates: (source, target, score) tuples in any order.
        gold: the true (source, target) pairs.

    Returns:
        (threshold, metrics) where metrics is :func:`bucc_f1` of the candidates at that
        threshold (the oracle precision, recall and F1 of this split).

    Raises:
        ValueError: if gold is empty, a score is NaN, or a pair appears twice.
    """
    gold = _gold_set(gold)
    cands = sorted(_unique_pairs(candidates), key=lambda c: -float(c[2]))  # ties: input order
    if any(math.isnan(float(c[2])) for c in cands):
        raise ValueError("candidate scores contain NaN; expected finite margin scores")
    best_f1, best_pos, correct = 0.0, -1, 0
    for pos, (s, t, score) in enumerate(cands):
        correct += (s, t) in gold
        if pos + 1 < len(cands) and float(cands[pos + 1][2]) == float(score):
            continue  # inside a tie group: no threshold can cut here
        f1 = _scores(pos + 1, correct, len(gold))["f1"]
        if f1 > best_f1:
            best_f1, best_pos = f1, pos
    threshold = _cut(cands, best_pos)
    return threshold, bucc_f1(cands, gold, threshold)


def evaluate_mining(
    fit_candidates: Iterable[Candidate],
    fit_gold: Iterable[tuple[Hashable, Hashable]],
    eval_candidates: Iterable[Candidate],
    eval_gold: Iterable[tuple[Hashable, Hashable]],
) -> dict[str, float | int]:
    """Fit the threshold on one split and apply it to another (REFERENCE.md step 6).

    Args:
        fit_candidates: candidates of the fitting split (e.g. BUCC sample / dev).
        fit_gold: gold pairs of the fitting split.
        eval_candidates: candidates of the evaluation split, mined separately.
        eval_gold: gold pairs of the evaluation split.

    Returns:
        Dict with ``threshold``; ``oracle_precision`` / ``oracle_recall`` / ``oracle_f1``
        (+ ``oracle_n_extracted`` / ``oracle_n_correct`` / ``oracle_n_gold``) on the
        fitting split; and the same under ``transfer_*`` for the fitted threshold applied
        to the evaluation split. ``transfer_f1`` is the number comparable with LASER's
        and XTREME's BUCC F1 on test.

    Raises:
        ValueError: if either gold set is empty.
    """
    threshold, oracle = fit_threshold(fit_candidates, fit_gold)
    transfer = bucc_f1(eval_candidates, eval_gold, threshold)
    out: dict[str, float | int] = {"threshold": threshold}
    out.update({f"oracle_{key}": value for key, value in oracle.items()})
    out.update({f"transfer_{key}": value for key, value in transfer.items()})
    return out


def dedup_sentences(
    ids: Sequence[str], texts: Sequence[str]
) -> tuple[list[str], list[list[str]]]:
    """Collapse identical sentences before search (REFERENCE.md step 1).

    Args:
        ids: n unique sentence ids.
        texts: the n texts, aligned with ``ids``.

    Returns:
        (unique texts in first-seen order, for each unique text the ids that carry it).

    Raises:
        ValueError: if the lengths differ or an id repeats.
    """
    if len(ids) != len(texts):
        raise ValueError(f"ids has {len(ids)} entries but texts has {len(texts)}")
    groups: dict[str, list[str]] = {}
    seen: set[str] = set()
    for sid, text in zip(ids, texts, strict=True):
        if sid in seen:
            raise ValueError(f"duplicate sentence id {sid!r}; ids must be unique")
        seen.add(sid)
        groups.setdefault(text, []).append(sid)
    return list(groups), list(groups.values())


def candidates_to_ids(
    candidates: Iterable[tuple[int, int, float]],
    src_groups: Sequence[Sequence[str]],
    tgt_groups: Sequence[Sequence[str]],
) -> list[tuple[str, str, float]]:
    """Expand unique-text candidates to every (source id, target id) combination.

    Args:
        candidates: (unique source row, unique target row, score), e.g. from
            :func:`mine_pairs_from_embeddings` on deduplicated texts.
        src_groups: ids per unique source text, from :func:`dedup_sentences`.
        tgt_groups: ids per unique target text.

    Returns:
        (source id, target id, score) tuples, in the candidates' order.

    Raises:
        ValueError: if a candidate row is outside the groups.
    """
    out = []
    for i, j, score in candidates:
        if not (0 <= i < len(src_groups) and 0 <= j < len(tgt_groups)):
            raise ValueError(
                f"candidate rows ({i}, {j}) outside groups of sizes "
                f"{len(src_groups)} and {len(tgt_groups)}"
            )
        out.extend((a, b, score) for a in src_groups[i] for b in tgt_groups[j])
    return out


def mine_pairs(
    src_ids: Sequence[str],
    src_texts: Sequence[str],
    tgt_ids: Sequence[str],
    tgt_texts: Sequence[str],
    embed: Callable[[list[str]], np.ndarray],
    **mine_kwargs: object,
) -> list[tuple[str, str, float]]:
    """Mine (source id, target id, score) candidates from texts with a caller's encoder.

    Deduplicates each side, embeds each unique text once with ``embed``, runs
    :func:`mine_pairs_from_embeddings` and maps the pairs back to sentence ids.

    Args:
        src_ids, src_texts: the source pool (ids unique, texts aligned).
        tgt_ids, tgt_texts: the target pool.
        embed: callable list[str] -> (len, d) array (the caller's model; retrieval
            never loads one).
        **mine_kwargs: k, margin, mode for :func:`mine_pairs_from_embeddings`.

    Returns:
        Id-level candidates sorted by score descending.

    Raises:
        ValueError: on bad ids/texts, an embedding with the wrong row count, or bad
            mining arguments.
    """
    src_unique, src_groups = dedup_sentences(src_ids, src_texts)
    tgt_unique, tgt_groups = dedup_sentences(tgt_ids, tgt_texts)
    src_emb = _embed(embed, src_unique, "source")
    tgt_emb = _embed(embed, tgt_unique, "target")
    pairs = mine_pairs_from_embeddings(src_emb, tgt_emb, **mine_kwargs)  # type: ignore[arg-type]
    return candidates_to_ids(pairs, src_groups, tgt_groups)


def _embed(embed: Callable[[list[str]], np.ndarray], texts: list[str], side: str) -> np.ndarray:
    emb = np.asarray(embed(texts))
    if emb.ndim != 2 or emb.shape[0] != len(texts):
        raise ValueError(
            f"embed returned shape {emb.shape} for {len(texts)} {side} texts; "
            f"expected ({len(texts)}, d)"
        )
    return emb


def _cut(cands: list[Candidate], best_pos: int) -> float:
    """Threshold that keeps exactly cands[: best_pos + 1] under ``score >= threshold``."""
    if best_pos < 0:
        return math.inf
    high = float(cands[best_pos][2])
    if best_pos + 1 == len(cands):
        return high  # last position: no next score (reference code: IndexError)
    low = float(cands[best_pos + 1][2])
    mid = (high + low) / 2
    # Adjacent floats can round the midpoint down onto `low`, which would keep it too.
    return mid if low < mid <= high else high


def _scores(n_extracted: int, n_correct: int, n_gold: int) -> dict[str, float | int]:
    precision = n_correct / n_extracted if n_extracted else 0.0
    recall = n_correct / n_gold
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "n_extracted": n_extracted,
        "n_correct": n_correct,
        "n_gold": n_gold,
    }


def _gold_set(gold: Iterable[tuple[Hashable, Hashable]]) -> set[tuple[Hashable, Hashable]]:
    gold = {tuple(pair) for pair in gold}
    if not gold:
        raise ValueError("gold is empty; expected at least one (source, target) pair")
    return gold
