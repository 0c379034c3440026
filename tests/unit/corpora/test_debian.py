"""Debian tables, aligned pairs and the BUCC-like mining halves on synthetic indexes."""

from __future__ import annotations

import subprocess

import pytest

from xalign.corpora import load_corpus
from xalign.corpora.debian import apt_config, fetch_debian
from xalign.corpora.debian_pairs import aligned_pairs, dedupe, mining_half


def test_tables_cached_and_second_fetch_does_not_run_apt(debian_cache, monkeypatch):
    meta = debian_cache["meta"]
    assert meta["counts"] == {"english": 60, "de": 40, "fr": 40}
    assert set(meta["sha256"]) == {"Packages", "Translation-en", "Translation-de",
                                   "Translation-fr"}

    def no_apt(*args, **kwargs):
        raise AssertionError("apt must not run when the tables are cached")

    monkeypatch.setattr(subprocess, "run", no_apt)
    assert fetch_debian() == meta


def test_apt_config_writes_only_under_cache(tmp_path):
    text = apt_config(tmp_path)
    assert text.startswith("#clear Acquire::Languages;\n")
    assert '"zh_CN"' in text and '"de"' in text
    assert f'Dir::State::Lists "{tmp_path / "lists"}";' in text
    assert f'Dir::Cache "{tmp_path / "apt-cache"}";' in text


def test_debian_short_pairs_align_by_md5(debian_cache):
    corpus = load_corpus("debian:de-en")
    assert corpus.kind == "aligned" and len(corpus) == 40
    for xx, en in zip(corpus.src_texts, corpus.tgt_texts, strict=True):
        assert xx == f"[de] {en}"  # the synthetic translation of exactly this description


def test_debian_paragraph_pairs(debian_cache):
    corpus = load_corpus("debian:de-en?unit=paragraph")
    assert all(xx == f"[de] {en}" for xx, en in zip(corpus.src_texts, corpus.tgt_texts,
                                                   strict=True))
    # paragraphs are deduplicated: every English paragraph appears once
    assert len(set(corpus.tgt_texts)) == len(corpus) == debian_cache["meta"]["pairs"]["de"][
        "paragraph"]


def test_unknown_language_lists_available(debian_cache):
    with pytest.raises(ValueError, match=r"no translations for language 'ko'; have \['de', 'fr'\]"):
        load_corpus("debian:ko-en")


def test_dedupe_and_min_words():
    english = [{"md5": "a", "short": "one two three", "paragraphs": []},
               {"md5": "b", "short": "two words", "paragraphs": []},
               {"md5": "c", "short": "one two three", "paragraphs": []},
               {"md5": "d", "short": "four five six", "paragraphs": []}]
    translated = [{"md5": m, "short": s, "paragraphs": []}
                  for m, s in (("a", "x"), ("b", "y"), ("c", "z"), ("d", "x"), ("e", "w"))]
    assert aligned_pairs(english, translated) == [("a", "one two three", "x")]
    assert dedupe([("1", "e", "x"), ("2", "f", "x")]) == [("1", "e", "x")]


def test_mining_halves_are_disjoint_complete_problems(debian_cache):
    fit = load_corpus("debian-bucc:de-en?pool=25", split="fit")
    ev = load_corpus("debian-bucc:de-en?pool=25", split="eval")
    for half in (fit, ev):
        assert half.kind == "mining"
        # 20 translated sentences per half: 10 paired, 10 orphans (original left out)
        assert len(half.src_texts) == 20 and len(half.gold) == 10
        # 10 gold English + this half's 10 untranslated (fewer than max(25 - 10, 10))
        assert len(half.tgt_texts) == 20
        paired = {s for s, _ in half.gold}
        assert paired < set(half.src_ids)
        text = dict(zip(half.tgt_ids, half.tgt_texts, strict=True))
        src = dict(zip(half.src_ids, half.src_texts, strict=True))
        assert all(src[s] == f"[de] {text[t]}" for s, t in half.gold)
        # an orphan's English original is in neither pool
        pooled = set(fit.tgt_texts) | set(ev.tgt_texts)
        assert all(src[s][len("[de] "):] not in pooled for s in set(half.src_ids) - paired)
    assert len(fit) + len(ev) == 20 and abs(len(fit) - len(ev)) <= 1
    assert not set(fit.tgt_ids) & set(ev.tgt_ids)
    assert not set(fit.src_ids) & set(ev.src_ids)


def test_mining_half_is_deterministic_from_seed(debian_cache):
    from xalign.corpora.debian import load_tables

    english, translated, _ = load_tables("de")
    a = mining_half(english, translated, "de", 0, pool=30, seed=1)
    b = mining_half(english, translated, "de", 0, pool=30, seed=1)
    c = mining_half(english, translated, "de", 0, pool=30, seed=2)
    assert a == b and a["gold"] != c["gold"]


def test_mining_limit_scales_distractors(debian_cache):
    full = load_corpus("debian-bucc:de-en?pool=30", split="fit")
    small = load_corpus("debian-bucc:de-en?pool=30", split="fit", limit=5)
    assert len(small) == 5 and small.gold <= full.gold
    distractors = len(full.tgt_ids) - len(full)
    assert len(small.tgt_ids) - 5 == round(5 / len(full) * distractors)
    orphans = len(full.src_ids) - len(full)
    assert len(small.src_ids) - 5 == round(5 / len(full) * orphans)
    assert small.meta["full_size"] == len(full)


def test_mining_pool_size_and_minimum_distractors():
    english = [{"md5": f"{i:03d}", "short": f"english text number {i}", "paragraphs": []}
               for i in range(100)]
    translated = [{"md5": f"{i:03d}", "short": f"xx {i}", "paragraphs": []} for i in range(10)]
    # 5 translated sentences per half: round(0.5 * 5) = 2 orphans, 3 gold pairs
    big = mining_half(english, translated, "de", 0, pool=30, seed=0)
    assert len(big["src_ids"]) == 5 and len(big["gold"]) == 3 and len(big["tgt_ids"]) == 30
    small = mining_half(english, translated, "de", 1, pool=4, seed=0)
    assert len(small["gold"]) == 3 and len(small["tgt_ids"]) == 6  # >= 1 distractor per gold
    assert not set(big["tgt_ids"]) & set(small["tgt_ids"])


def test_gold_cap_keeps_the_english_pool():
    english = [{"md5": f"{i:03d}", "short": f"english text number {i}", "paragraphs": []}
               for i in range(200)]
    translated = [{"md5": f"{i:03d}", "short": f"xx {i}", "paragraphs": []} for i in range(80)]
    full = mining_half(english, translated, "de", 0, pool=100, seed=0)
    capped = mining_half(english, translated, "de", 0, pool=100, seed=0, max_gold=5)
    assert len(capped["gold"]) == 5 and len(capped["src_ids"]) == 10  # 5 gold + 5 orphans
    # the full half has 20 gold + this half's 60 untranslated English; with the cap, the
    # 30 gold originals left out of the half become distractors too: 5 + 60 + 30
    assert len(full["tgt_ids"]) == 80 and len(capped["tgt_ids"]) == 95
    assert set(capped["src_ids"]) < set(full["src_ids"])
    # no orphan's English original may be in the pool
    by_md5 = {row["md5"]: row["short"] for row in english}
    paired = {s for s, _ in capped["gold"]}
    orphan_en = {by_md5[s.split("-", 1)[1]] for s in capped["src_ids"] if s not in paired}
    assert not orphan_en & set(capped["tgt_texts"])
