"""Slow tests on the real fetched sources (``xalign fetch all``); skipped if not fetched."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def _require(source: str) -> dict:
    from probe.paths import cache_root

    meta = cache_root() / source / "meta.json"
    if not meta.exists():
        pytest.skip(f"{source} not fetched into {cache_root()}; run `xalign fetch {source}`")
    return json.loads(meta.read_text())


def test_real_debian_counts_and_pairs():
    from xalign.corpora import load_corpus

    meta = _require("debian")
    assert meta["counts"]["english"] > 50_000
    assert meta["pairs"]["de"]["short"] > 10_000 and meta["pairs"]["zh"]["short"] > 500
    corpus = load_corpus("debian:de-en", limit=200, seed=0)
    assert len(corpus) == 200 and len(set(corpus.tgt_texts)) == 200
    assert all(len(t.split()) >= 3 for t in corpus.tgt_texts)


def test_real_debian_bucc_halves():
    from xalign.corpora import load_corpus

    _require("debian")
    fit = load_corpus("debian-bucc:fr-en", split="fit")
    ev = load_corpus("debian-bucc:fr-en", split="eval")
    assert len(fit.tgt_ids) >= 10_000 and len(ev.tgt_ids) >= 10_000
    assert not set(fit.tgt_ids) & set(ev.tgt_ids)
    assert len(fit.tgt_ids) > len(fit)  # distractors without a translation


def test_real_catalogs():
    from xalign.corpora import load_corpus

    meta = _require("catalogs")
    assert all(meta["counts"][lang] > 1000 for lang in ("de", "fr", "es", "ru", "zh", "ar", "ja"))
    corpus = load_corpus("catalogs:sw-en")
    assert len(corpus) > 100 and corpus.lang == "sw"
