"""Probing units: alignment metrics of one checkpoint; CKA of a checkpoint against phase 0."""

from __future__ import annotations

from probe.cache import texts_digest
from probe.models import Encoder
from xalign.config import ExperimentConfig, to_dict
from xalign.pipeline.data import Corpora
from xalign.pipeline.units import Units
from xalign.probing import corpora_rows, embedder, english_cka_grid, grid_rows


def _corpora_stamp(corpora: Corpora) -> list:
    stamp = [(c.name, texts_digest(c.src_texts + c.tgt_texts)) for c in corpora.aligned]
    for fit, ev in corpora.mining:
        stamp += [(c.name, c.split, texts_digest(c.src_texts + c.tgt_texts), len(c.gold))
                  for c in (fit, ev)]
    return stamp


def probe_unit(units: Units, encoder: Encoder, corpora: Corpora,
               config: ExperimentConfig) -> list[dict]:
    """Tatoeba accuracy, en-xx CKA and BUCC F1 of one checkpoint at every layer."""
    inputs = {"kind": "probe", "fingerprint": encoder.fingerprint, "prefix": encoder.prefix,
              "corpora": _corpora_stamp(corpora), "probe": to_dict(config.probe),
              "retrieval": to_dict(config.retrieval)}

    def run(folder) -> list[dict]:
        embed = embedder(encoder, config.probe, progress=True)
        return corpora_rows(embed, corpora.aligned, corpora.mining,
                            retrieval=config.retrieval, cka_kind=config.probe.cka_kind)

    return units.run(f"probe-{encoder.fingerprint}", inputs, run)


def phase_cka_unit(units: Units, base: Encoder, encoder: Encoder, corpora: Corpora,
                   config: ExperimentConfig) -> dict:
    """Layer x layer CKA between phase 0 and this checkpoint on English sentences."""
    texts = corpora.english_sentences(config.data.grid_sentences)
    inputs = {"kind": "phase_cka", "base": base.fingerprint, "fingerprint": encoder.fingerprint,
              "texts": texts_digest(texts), "probe": to_dict(config.probe)}

    def run(folder) -> dict:
        a = embedder(base, config.probe)(texts)
        b = embedder(encoder, config.probe)(texts)
        grid, diagonal = english_cka_grid(a, b, kind=config.probe.cka_kind)
        return {"diagonal": diagonal.tolist(), "rows": grid_rows(grid, "en")}

    return units.run(f"cka-{base.fingerprint}-{encoder.fingerprint}", inputs, run)
