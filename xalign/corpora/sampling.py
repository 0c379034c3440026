"""Reproducible down-sampling of a corpus (``load_corpus(..., limit=N)``)."""

from __future__ import annotations

import random
from dataclasses import replace

from xalign.corpora.record import ParallelCorpus


def subsample(corpus: ParallelCorpus, limit: int, *, seed: int = 0) -> ParallelCorpus:
    """Keep at most ``limit`` pairs, chosen reproducibly from ``seed``, in original order.

    Aligned corpora keep ``limit`` pairs. Mining corpora keep ``limit`` gold pairs and the
    same fraction of the sentences that have no gold partner on each side, so the
    proportion of distractors (which sets how hard mining is) does not change.

    Returns:
        A new corpus (the input itself if it is already small enough); ``meta["limit"]``
        and ``meta["sample_seed"]`` record the sampling.
    """
    if len(corpus) <= limit:
        return corpus
    rng = random.Random(f"{corpus.name}:{corpus.split}:{seed}")
    meta = {**corpus.meta, "limit": limit, "sample_seed": seed, "full_size": len(corpus)}
    if corpus.gold is None:
        keep = sorted(rng.sample(range(len(corpus)), limit))
        return replace(
            corpus,
            src_texts=[corpus.src_texts[i] for i in keep],
            tgt_texts=[corpus.tgt_texts[i] for i in keep],
            src_ids=None if corpus.src_ids is None else [corpus.src_ids[i] for i in keep],
            tgt_ids=None if corpus.tgt_ids is None else [corpus.tgt_ids[i] for i in keep],
            meta=meta,
        )
    gold = rng.sample(sorted(corpus.gold), limit)
    fraction = limit / len(corpus.gold)
    sides = {}
    for side, ids, texts, gold_ids in (
        ("src", corpus.src_ids, corpus.src_texts, {g[0] for g in corpus.gold}),
        ("tgt", corpus.tgt_ids, corpus.tgt_texts, {g[1] for g in corpus.gold}),
    ):
        chosen = {g[0] if side == "src" else g[1] for g in gold}
        others = [i for i in ids if i not in gold_ids]
        chosen.update(rng.sample(others, round(fraction * len(others))))
        keep = [k for k, i in enumerate(ids) if i in chosen]
        sides[side] = ([ids[k] for k in keep], [texts[k] for k in keep])
    return replace(corpus, src_ids=sides["src"][0], src_texts=sides["src"][1],
                   tgt_ids=sides["tgt"][0], tgt_texts=sides["tgt"][1],
                   gold=frozenset(gold), meta=meta)
