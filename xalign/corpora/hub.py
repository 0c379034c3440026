"""XTREME's Tatoeba and BUCC configurations through ``datasets.load_dataset``.

The Hugging Face copy of XTREME (``google/xtreme``, Hu et al. 2020) has one configuration
per task and language: ``tatoeba.deu`` (split ``validation``; fields ``source_sentence``,
``target_sentence``, ``source_lang``, ``target_lang``) and ``bucc18.de`` (splits
``validation`` = BUCC sample and ``test`` = BUCC training; the same fields, where
``source_lang``/``target_lang`` hold the BUCC sentence ids). A local folder in the same
layout (a README with ``configs:`` and parquet files) can stand in for the id, which is how
the tests run this code offline.

Caveat: the hub's ``bucc18`` rows are the gold pairs only, so a mining corpus loaded from
the hub has no distractor sentences (MTEB's "BUCC" has the same limitation). Use
``xtreme-dir:PATH:bucc:de-en`` with the original BUCC files for the real protocol.
"""

from __future__ import annotations

import logging
from pathlib import Path

from xalign.corpora.langs import to_iso639_1
from xalign.corpora.record import ParallelCorpus

log = logging.getLogger(__name__)

XTREME_ID = "google/xtreme"
FIELDS = ("source_sentence", "target_sentence", "source_lang", "target_lang")
# Mining splits of the hub copy: fit on the BUCC sample, evaluate on BUCC training.
HUB_BUCC_SPLITS = {"fit": "validation", "eval": "test"}


def _load_rows(dataset: str, config: str, split: str, revision: str | None) -> dict:
    """Load one split as a dict of columns, checking the fields XTREME's copy has."""
    import datasets

    from probe.paths import cache_root

    local = Path(dataset).expanduser().exists()
    # A pinned revision only means something for a hub id; a local folder is what it is.
    kwargs = {} if local or revision is None else {"revision": revision}
    try:
        ds = datasets.load_dataset(dataset, config, split=split,
                                   cache_dir=str(cache_root() / "hf-datasets"), **kwargs)
    except ValueError as exc:
        raise ValueError(f"dataset {dataset!r} config {config!r} split {split!r}: {exc}") from None
    missing = [f for f in FIELDS if f not in ds.column_names]
    if missing:
        raise ValueError(
            f"dataset {dataset!r} config {config!r}: missing field(s) {missing}, "
            f"expected {list(FIELDS)}"
        )
    return {f: list(ds[f]) for f in FIELDS}


def load_hub_tatoeba(
    lang3: str, *, dataset: str = XTREME_ID, revision: str | None = None, name: str
) -> ParallelCorpus:
    """Load XTREME's Tatoeba pairs for one language (``tatoeba.<lang3>``, split validation).

    Args:
        lang3: XTREME's code, e.g. ``"deu"``.
        dataset: hub id or a local folder in the same layout.
        revision: pinned hub revision (commit or tag), passed to ``load_dataset``.
        name: canonical spec string for the record.

    Returns:
        An aligned corpus; trailing newlines left by XTREME's loader are stripped.
    """
    rows = _load_rows(dataset, f"tatoeba.{lang3}", "validation", revision)
    src = [s.rstrip("\r\n") for s in rows["source_sentence"]]
    tgt = [s.rstrip("\r\n") for s in rows["target_sentence"]]
    meta = {"source": "hub/xtreme", "dataset": dataset, "revision": revision,
            "config": f"tatoeba.{lang3}", "count": len(src)}
    return ParallelCorpus(name=name, lang=to_iso639_1(lang3), src_texts=src, tgt_texts=tgt,
                          meta=meta)


def load_hub_bucc(
    lang: str, split: str, *, dataset: str = XTREME_ID, revision: str | None = None, name: str
) -> ParallelCorpus:
    """Load XTREME's BUCC 2018 gold pairs (``bucc18.<lang>``) as a mining corpus.

    Args:
        lang: ISO 639-1 code (de, fr, ru, zh).
        split: ``"fit"`` (hub validation = BUCC sample) or ``"eval"`` (hub test = training).
        dataset: hub id or a local folder in the same layout.
        revision: pinned hub revision.
        name: canonical spec string for the record.

    Returns:
        A mining corpus whose pools hold only the gold sentences (see module caveat).
    """
    if split not in HUB_BUCC_SPLITS:
        raise ValueError(f"BUCC split {split!r}: expected one of {sorted(HUB_BUCC_SPLITS)}")
    rows = _load_rows(dataset, f"bucc18.{lang}", HUB_BUCC_SPLITS[split], revision)
    src, tgt = dict(), dict()
    for s, t, sid, tid in zip(*(rows[f] for f in FIELDS), strict=True):
        src.setdefault(sid, s.rstrip("\r\n"))
        tgt.setdefault(tid, t.rstrip("\r\n"))
    gold = frozenset(zip(rows["source_lang"], rows["target_lang"], strict=True))
    log.warning("%s: the hub copy of BUCC holds gold pairs only; the pools have no distractors",
                name)
    meta = {"source": "hub/xtreme", "dataset": dataset, "revision": revision,
            "config": f"bucc18.{lang}", "hub_split": HUB_BUCC_SPLITS[split],
            "gold_only_pools": True, "counts": {"gold": len(gold)}}
    return ParallelCorpus(name=name, lang=lang, src_texts=list(src.values()),
                          tgt_texts=list(tgt.values()), src_ids=list(src), tgt_ids=list(tgt),
                          gold=gold, split=split, meta=meta)
