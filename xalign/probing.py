"""Per-layer alignment of one encoder: the one module the commands and the pipeline share.

``xalign retrieve``, ``xalign cka`` and the pipeline's probing units all call these
functions, so a number in a run's report equals the number the standalone command prints
for the same checkpoint, corpus and settings. Rows follow the tidy schema of
``results/alignment.csv`` (``language, layer, metric, value``; the caller adds the
checkpoint's identity).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from probe.cache import embed_layers
from probe.calibration import calibrated, similarity_diagonal
from probe.cka import cka_diagonal, cka_matrix, default_cka_kind
from probe.models import Encoder
from retrieval.bucc import candidates_to_ids, dedup_sentences, evaluate_mining
from retrieval.margin import mine_pairs_from_embeddings
from retrieval.tatoeba import tatoeba_hits
from xalign.analysis.flips import DIRECTIONS, encode_hits
from xalign.config import ProbeConfig, RetrievalConfig
from xalign.corpora.record import ParallelCorpus

log = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]

# Alignment indices beside the retrieval metrics; "cka" is always computed.
MEASURES = ("cka", "mknn", "procrustes", "svcca", "pwcca")
BASE_METRICS = ("tatoeba_xx2en", "tatoeba_en2xx", "tatoeba_en2xx_dedup", "cka_en_xx",
                "bucc_f1", "bucc_f1_oracle", "bucc_threshold", "cka_vs_phase0")


def metric_names(measures: Sequence[str] = ("cka",)) -> list[str]:
    """Every alignment-table metric a run with these measures can write."""
    names = list(BASE_METRICS)
    for measure in measures:
        for suffix in ("_en_xx", "_vs_phase0"):
            names += [f"{measure}{suffix}", f"{measure}{suffix}_calibrated"]
    return list(dict.fromkeys(names))


def embedder(encoder: Encoder, probe: ProbeConfig, *, progress: bool = False) -> Embed:
    """texts -> (L + 1, n, d) float32, through the embedding cache."""

    def embed(texts: Sequence[str]) -> np.ndarray:
        return embed_layers(encoder, list(texts), pooling=probe.pooling,
                            max_length=probe.max_length, dtype=probe.dtype,
                            batch_size=probe.batch_size, batch_tokens=probe.batch_tokens,
                            threads=probe.threads, progress=progress)

    return embed


def resolve_cka_kind(kind: str, n: int, d: int) -> str:
    """``auto`` -> debiased when n <= d (biased CKA is inflated there), else linear."""
    return default_cka_kind(n, d) if kind == "auto" else kind


def cka_layers(stack_a: np.ndarray, stack_b: np.ndarray, kind: str) -> np.ndarray:
    """Same-layer CKA of two (L + 1, n, d) stacks (``auto`` resolved for their size)."""
    return cka_diagonal(stack_a, stack_b, kind=kind)


def cka_grid(stack_a: np.ndarray, stack_b: np.ndarray, kind: str) -> np.ndarray:
    """Layer x layer CKA of two (L + 1, n, d) stacks, (L + 1, L + 1)."""
    return cka_matrix(stack_a, stack_b, kind=kind)


def index_name(measure: str, probe: ProbeConfig, n: int, d: int) -> str:
    """The probe.calibration index of a measure ("cka" follows probe.cka_kind)."""
    if measure != "cka":
        return measure
    kind = resolve_cka_kind(probe.cka_kind, n, d)
    if kind == "rbf":
        raise ValueError("probe.cka_kind: rbf has no calibrated variant; use linear, "
                         "debiased or auto with probe.calibrate")
    return "debiased_cka" if kind == "debiased" else "cka"


def similarity_values(stack_a: np.ndarray, stack_b: np.ndarray, probe: ProbeConfig,
                      suffix: str) -> dict[str, np.ndarray]:
    """metric -> (L + 1,) per-layer values of every configured index (``<m><suffix>``),
    plus the z-scores against the permutation null when ``probe.calibrate`` > 0."""
    n, d = stack_a.shape[1], min(stack_a.shape[2], stack_b.shape[2])
    out = {f"cka{suffix}": cka_layers(stack_a, stack_b, probe.cka_kind)}
    for measure in probe.measures:
        if measure != "cka":
            out[f"{measure}{suffix}"] = similarity_diagonal(stack_a, stack_b, measure)
        if probe.calibrate:
            index = index_name(measure, probe, n, d)
            out[f"{measure}{suffix}_calibrated"] = np.array([
                calibrated(index, stack_a[layer], stack_b[layer],
                           n_permutations=probe.calibrate, seed=layer)["z"]
                for layer in range(stack_a.shape[0])])
    return out


def aligned_rows(embed: Embed, corpus: ParallelCorpus, probe: ProbeConfig, *,
                 hits: dict | None = None) -> list[dict]:
    """Tatoeba accuracy both ways (+ duplicate-aware en->xx) and en-xx similarity, every layer.

    ``hits``: when given, filled with ``{language: {direction: [hits per layer]}}``, each
    the per-pair top-1 hits as "0"/"1" strings (which pairs flip between checkpoints).
    """
    if corpus.gold is not None:
        raise ValueError(f"corpus {corpus.name!r} is a mining corpus; use mining_rows")
    src, tgt = embed(corpus.src_texts), embed(corpus.tgt_texts)  # (L + 1, n, d) each
    similarity = similarity_values(tgt, src, probe, "_en_xx")
    rows, per_layer = [], {direction: [] for direction in DIRECTIONS}
    for layer in range(src.shape[0]):
        found = tatoeba_hits(src[layer], tgt[layer], src_texts=corpus.src_texts,
                             tgt_texts=corpus.tgt_texts)
        acc = {key: float(np.mean(value)) for key, value in found.items()}
        for direction in DIRECTIONS:
            per_layer[direction].append(encode_hits(found[direction]))
        values = {
            "tatoeba_xx2en": acc["src2tgt"],
            "tatoeba_en2xx": acc["tgt2src"],  # XTREME's direction: English queries
            "tatoeba_en2xx_dedup": acc["tgt2src_dedup"],
            **{metric: float(v[layer]) for metric, v in similarity.items()},
        }
        rows += [_row(corpus, layer, metric, value) for metric, value in values.items()]
    if hits is not None:
        hits[corpus.lang] = per_layer
    return rows


def mining_rows(embed: Embed, fit: ParallelCorpus, evaluation: ParallelCorpus,
                retrieval: RetrievalConfig) -> list[dict]:
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
                 probe: ProbeConfig, retrieval: RetrievalConfig,
                 hits: dict | None = None) -> list[dict]:
    """All alignment rows of one encoder: every aligned corpus, every (fit, eval) pair."""
    rows = []
    for corpus in aligned:
        rows += aligned_rows(embed, corpus, probe, hits=hits)
    for fit, evaluation in mining:
        rows += mining_rows(embed, fit, evaluation, retrieval)
    return rows


def grid_rows(grid: np.ndarray, language: str) -> list[dict]:
    return [{"language": language, "layer_a": i, "layer_b": j, "value": float(grid[i, j])}
            for i in range(grid.shape[0]) for j in range(grid.shape[1])]


def keep_layers(rows: list[dict], layers: Sequence[int] | None, n_states: int) -> list[dict]:
    """Rows of the requested hidden_states indices (checked: 0..L, no negative indexing)."""
    if layers is None:
        return rows
    from probe.embed import resolve_layers

    keep = set(resolve_layers(layers, n_states))
    return [r for r in rows if r["layer"] in keep]


def _row(corpus: ParallelCorpus, layer: int, metric: str, value: float) -> dict:
    return {"language": corpus.lang, "layer": layer, "metric": metric, "value": float(value)}


def load_probe_corpora(specs: Sequence[str], *, limit: int | None, seed: int):
    """(aligned, mining) corpora of ``specs``; mining ones as (fit, eval) pairs."""
    from xalign.corpora.spec import LOADERS, load_corpus, parse_spec
    from xalign.errors import user_input

    aligned, mining = [], []
    for spec in specs:
        with user_input(f"--corpus {spec}"):
            if LOADERS[parse_spec(spec).scheme][1]:
                mining.append(tuple(load_corpus(spec, split=s, limit=limit, seed=seed)
                                    for s in ("fit", "eval")))
            else:
                aligned.append(load_corpus(spec, limit=limit, seed=seed))
    return aligned, mining


def retrieve_rows(encoder: Encoder, specs: Sequence[str], probe: ProbeConfig,
                  retrieval: RetrievalConfig, *, limit: int | None = None, seed: int = 0,
                  layers: Sequence[int] | None = None) -> list[dict]:
    """Alignment rows of one encoder (phase 0) on every corpus in ``specs``."""
    aligned, mining = load_probe_corpora(specs, limit=limit, seed=seed)
    rows = corpora_rows(embedder(encoder, probe, progress=True), aligned, mining,
                        probe=probe, retrieval=retrieval)
    return keep_layers(rows, layers, encoder.num_layers + 1)


def pair_cka_rows(encoder_a: Encoder, encoder_b: Encoder | None, corpus: ParallelCorpus,
                  probe: ProbeConfig) -> list[dict]:
    """Layer x layer CKA: en vs xx of ``encoder_a``, or ``encoder_a`` vs ``encoder_b`` on en."""
    stack_en = embedder(encoder_a, probe, progress=True)(corpus.tgt_texts)
    if encoder_b is None:
        other, language = embedder(encoder_a, probe)(corpus.src_texts), corpus.lang
    else:
        other, language = embedder(encoder_b, probe, progress=True)(corpus.tgt_texts), "en"
    return grid_rows(cka_grid(stack_en, other, probe.cka_kind), language)
