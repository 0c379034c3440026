"""Parallel corpora from the Debian tables: aligned pairs and BUCC-like mining halves.

Pairs align on ``Description-md5``. Short descriptions (and, with ``unit="paragraph"``,
long-description paragraphs of descriptions whose paragraph counts agree) are kept when
the English side has at least 3 words, then deduplicated on both sides (first wins, in
index order).

The mining set (``debian-bucc``) mirrors BUCC 2018 (Zweigenbaum et al. 2018): the English
pool is every unique English short description, only some of which have a translation.
The gold pairs are split into two disjoint halves, and the English sentences without a
translation into two disjoint halves, so ``fit`` and ``eval`` are two complete, disjoint
mining problems: fit the threshold on one, apply it to the other.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

MIN_WORDS = 3
ORPHAN_FRACTION = 0.5  # translated sentences whose English original is left out of the pool
DEFAULT_POOL = 12_000  # English sentences per half: at least 10k distractor-rich pool


def aligned_pairs(english: list[dict], translated: list[dict], *, unit: str = "short"
                  ) -> list[tuple[str, str, str]]:
    """Return ``(md5, english, translated)`` triples, filtered and deduplicated.

    Args:
        english: rows of the English table (``md5``, ``short``, ``paragraphs``).
        translated: rows of one Translation table.
        unit: ``"short"`` descriptions or long-description ``"paragraph"``s.

    Raises:
        ValueError: unknown unit.
    """
    if unit not in ("short", "paragraph"):
        raise ValueError(f"debian unit {unit!r}: expected 'short' or 'paragraph'")
    by_md5 = {row["md5"]: row for row in english}
    triples = []
    for row in translated:
        source = by_md5.get(row["md5"])
        if source is None:
            continue
        if unit == "short":
            triples.append((row["md5"], source["short"], row["short"]))
        elif len(source["paragraphs"]) == len(row["paragraphs"]):
            triples.extend((row["md5"], e, t)
                           for e, t in zip(source["paragraphs"], row["paragraphs"], strict=True))
    return dedupe(t for t in triples if len(t[1].split()) >= MIN_WORDS and t[2])


def dedupe(triples: Iterable[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Keep the first triple for each English text and each translated text."""
    seen_en, seen_xx, kept = set(), set(), []
    for md5, en, xx in triples:
        if en in seen_en or xx in seen_xx:
            continue
        seen_en.add(en)
        seen_xx.add(xx)
        kept.append((md5, en, xx))
    return kept


def english_pool(english: list[dict]) -> dict[str, str]:
    """Unique English short descriptions (>= 3 words) -> id ``"en-<md5>"`` (first wins)."""
    pool: dict[str, str] = {}
    for row in english:
        if len(row["short"].split()) >= MIN_WORDS:
            pool.setdefault(row["short"], f"en-{row['md5']}")
    return pool


def mining_half(english: list[dict], translated: list[dict], lang: str, half: int,
                *, pool: int = DEFAULT_POOL, seed: int = 0, max_gold: int | None = None) -> dict:
    """Build one half (0 = fit, 1 = eval) of the BUCC-like mining set.

    Returns:
        ``{"src_ids", "src_texts", "tgt_ids", "tgt_texts", "gold"}``: the translated
        sentences of this half, an English pool made of the originals of a share
        (1 - ORPHAN_FRACTION) of them plus ``max(pool - n_gold, n_gold)`` distractors (as
        many as this half's share of untranslated English allows), and the gold id pairs.
        The other translated sentences are orphans: their original is not in the pool, so
        the threshold must reject them, as in BUCC, where most sentences of both sides
        have no translation on the other. ``max_gold`` caps the gold pairs (and as many
        orphans) of the half without shrinking the English pool: a small translated side
        against a large English pool, cheap to embed and still BUCC-like.
    """
    ids = english_pool(english)
    gold = [(md5, en, xx) for md5, en, xx in aligned_pairs(english, translated) if en in ids]
    rng = random.Random(f"debian-bucc:{lang}:{seed}")
    rng.shuffle(gold)
    mine = gold[half::2]
    if max_gold is not None:
        mine = mine[: int(round(max_gold / (1 - ORPHAN_FRACTION)))]
    n_orphans = int(round(ORPHAN_FRACTION * len(mine)))
    orphans, mine = mine[:n_orphans], mine[n_orphans:]
    gold_en = {en for _, en, _ in gold}
    rest = sorted(text for text in ids if text not in gold_en)
    rng.shuffle(rest)
    # At least as many distractors as gold sentences (when there are that many): most
    # sentences of a BUCC pool have no translation, and mining without them is trivial.
    fill = rest[half::2][: max(pool - len(mine), len(mine))]
    if max_gold is not None:  # the English originals left out by the cap are distractors too
        fill += [en for _, en, _ in gold[half::2][len(mine) + n_orphans :]]
        fill = fill[: max(pool - len(mine), len(mine))]
    tgt_texts = [en for _, en, _ in mine] + fill
    rng.shuffle(tgt_texts)  # gold must not sit at the front of the pool
    return {
        "src_ids": [f"{lang}-{md5}" for md5, _, _ in mine + orphans],
        "src_texts": [xx for _, _, xx in mine + orphans],
        "tgt_ids": [ids[t] for t in tgt_texts],
        "tgt_texts": tgt_texts,
        "gold": frozenset((f"{lang}-{md5}", ids[en]) for md5, en, _ in mine),
    }
