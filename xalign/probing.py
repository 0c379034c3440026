"""Per-layer alignment of one encoder on one corpus: the code every command shares.

``xalign retrieve``, ``xalign cka`` and the phase pipeline all call these functions, so
a number in a run's report equals the number the standalone command prints for the same
checkpoint and corpus. Rows follow the tidy schema of ``results/alignment.csv``
(``language, layer, metric, value``; the caller adds model, condition, seed, phase).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from probe.cache import embed_layers
from probe.cka import cka_diagonal, cka_matrix
from probe.models import Encoder
from retrieval.bucc import candidates_to_ids, dedup_sentences, evaluate_mining
from retrieval.margin import mine_pairs_from_embeddings
from retrieval.tatoeba import tatoeba_accuracy
from xalign.config import ProbeConfig, RetrievalConfig
from xalign.corpora.record import ParallelCorpus

log = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]


def embedder(encoder: Encoder, probe: ProbeConfig, *, progress: bool = False) -> Embed:
    """texts -> (L + 1, n, d) float32, through the embedding cache."""

    def embed(texts: Sequence[str]) -> np.ndarray:
        return embed_layers(encoder, list(texts), pooling=probe.pooling,
                            max_length=probe.max_length, dtype=probe.dtype,
                            batch_size=probe.batch_size, threads=probe.threads,
                            progress=progress)

    return embed


def aligned_rows(embed: Embed, corpus: ParallelCorpus, *, cka_kind: str = "linear") -> list[dict]:
    """Tatoeba accuracy both ways (+ duplicate-aware en->xx) and en-xx CKA, every layer."""
    if corpus.gold is not None:
        raise ValueError(f"corpus {corpus.name!r} is a mining corpus; use mining_rows")
    src, tgt = embed(corpus.src_texts), embed(corpus.tgt_texts)  # (L + 1, n, d) each
    cka = cka_diagonal(tgt, src, kind=cka_kind)
    rows = []
    for layer in range(src.shape[0]):
        acc = tatoeba_accuracy(src[layer], tgt[layer], src_texts=corpus.src_texts,
                               tgt_texts=corpus.tgt_texts)
        values = {
            "tatoeba_xx2en": acc["src2tgt"],
            "tatoeba_en2xx": acc["tgt2src"],  # XTREME's direction: English queries
            "tatoeba_en2xx_dedup": acc["tgt2src_dedup"],
            "cka_en_xx": float(cka[layer]),
        }
        rows += [_row(corpus, layer, metric, value) for metric, value in values.items()]
    return rows


def mining_rows(
    embed: Embed, fit: ParallelCorpus, evaluation: ParallelCorpus, retrieval: RetrievalConfig
) -> list[dict]:
    """BUCC-style F1 per layer: threshold fitted on ``fit``, applied to ``evaluation``."""
    fit_cands = _layer_candidates(embed, fit, retrieval)
    eval_cands = _layer_candidates(embed, evaluation, retrieval)
    rows = []
    for layer, (fc, ec) in enumerate(zip(fit_cands, eval_cands, strict=True)):
        result = evaluate_mining(fc, fit.gold, ec, evaluation.gold)
        rows.append(_row(evaluation, layer, "bucc_f1", result["transfer_f1"]))
        rows.append(_row(evaluation, layer, "bucc_f1_oracle", result["oracle_f1"]))
        rows.append(_row(evaluation, layer, "bucc_threshold", result["threshold"]))
    return rows


def _layer_candidates(embed: Embed, corpus: ParallelCorpus, retrieval: RetrievalConfig):
    """Deduplicate both pools, embed each unique sentence once, mine at every layer."""
    src_texts, src_groups = dedup_sentences(corpus.src_ids, corpus.src_texts)
    tgt_texts, tgt_groups = dedup_sentences(corpus.tgt_ids, corpus.tgt_texts)
    src, tgt = embed(src_texts), embed(tgt_texts)
    out = []
    for layer in range(src.shape[0]):
        cands = mine_pairs_from_embeddings(src[layer], tgt[layer], k=retrieval.k,
                                           margin=retrieval.margin, mode=retrieval.mode)
        out.append(candidates_to_ids(cands, src_groups, tgt_groups))
    return out


def corpora_rows(embed: Embed, aligned: Sequence[ParallelCorpus],
                 mining: Sequence[tuple[ParallelCorpus, ParallelCorpus]], *,
                 retrieval: RetrievalConfig, cka_kind: str = "linear") -> list[dict]:
    """All alignment rows of one encoder: every aligned corpus, every (fit, eval) pair.

    Rows are keyed by language, so two corpora of one language would collide: refused.
    """
    check_languages(aligned, mining)
    rows = []
    for corpus in aligned:
        rows += aligned_rows(embed, corpus, cka_kind=cka_kind)
    for fit, evaluation in mining:
        rows += mining_rows(embed, fit, evaluation, retrieval)
    return rows


def check_languages(aligned, mining) -> None:
    for kind, corpora in (("aligned", aligned), ("mining", [fit for fit, _ in mining])):
        seen: dict[str, str] = {}
        for corpus in corpora:
            if corpus.lang in seen:
                raise ValueError(f"{kind} corpora {seen[corpus.lang]!r} and {corpus.name!r} are "
                                 f"both {corpus.lang!r}: use one corpus per language")
            seen[corpus.lang] = corpus.name


def english_cka_grid(stack_a: np.ndarray, stack_b: np.ndarray, *, kind: str = "linear"):
    """Layer x layer CKA between two checkpoints on the same sentences, and its diagonal."""
    return cka_matrix(stack_a, stack_b, kind=kind), cka_diagonal(stack_a, stack_b, kind=kind)


def grid_rows(grid: np.ndarray, language: str) -> list[dict]:
    return [{"language": language, "layer_a": i, "layer_b": j, "value": float(grid[i, j])}
            for i in range(grid.shape[0]) for j in range(grid.shape[1])]


def _row(corpus: ParallelCorpus, layer: int, metric: str, value: float) -> dict:
    return {"language": corpus.lang, "layer": layer, "metric": metric, "value": float(value)}
