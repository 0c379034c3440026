"""Corpus spec parsing: every scheme, options, errors with suggestions."""

from __future__ import annotations

from pathlib import Path

import pytest

from xalign.corpora import load_corpus, parse_spec


@pytest.mark.parametrize(
    ("spec", "scheme", "lang", "canonical"),
    [
        ("catalogs:ar-en", "catalogs", "ar", "catalogs:ar-en"),
        ("debian:de-en", "debian", "de", "debian:de-en"),
        ("debian:zh_CN-en?unit=paragraph", "debian", "zh", "debian:zh-en?unit=paragraph"),
        ("debian-bucc:fr-en", "debian-bucc", "fr", "debian-bucc:fr-en"),
        ("debian-bucc:fr-en?pool=5000", "debian-bucc", "fr", "debian-bucc:fr-en?pool=5000"),
        ("tatoeba:deu", "tatoeba", "de", "tatoeba:deu"),
        ("tatoeba:cmn?revision=r1", "tatoeba", "zh", "tatoeba:cmn?revision=r1"),
        ("bucc:de", "bucc", "de", "bucc:de"),
        ("bucc:ru-en", "bucc", "ru", "bucc:ru"),
    ],
)
def test_parse_spec_schemes(spec, scheme, lang, canonical):
    parsed = parse_spec(spec)
    assert (parsed.scheme, parsed.lang, parsed.canonical) == (scheme, lang, canonical)


def test_parse_xtreme_dir_keeps_colons_in_path():
    parsed = parse_spec("xtreme-dir:/data/x:y/download:bucc:de-en")
    assert parsed.scheme == "xtreme-dir:bucc" and parsed.lang == "de"
    assert parsed.path == Path("/data/x:y/download")
    assert parsed.canonical == "xtreme-dir:/data/x:y/download:bucc:de-en"
    tatoeba = parse_spec("xtreme-dir:rel/dir:tatoeba:jpn")
    assert tatoeba.scheme == "xtreme-dir:tatoeba" and tatoeba.lang == "ja"
    assert tatoeba.canonical == "xtreme-dir:rel/dir:tatoeba:jpn"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("debain:de-en", r"unknown scheme 'debain'.*did you mean 'debian'\?"),
        ("tatoba:deu", r"did you mean 'tatoeba'\?"),
        ("catalog:ar-en", r"did you mean 'catalogs'\?"),
        ("zzz:de-en", r"known: catalogs, debian, debian-bucc, tatoeba, bucc, xtreme-dir"),
        ("debian", "unknown scheme 'debian'"),
        ("debian:de-fr", "expected a pair 'xx-en'"),
        ("debian:xx1-en", "language code 'xx1'"),
        ("debian:de-en?pool=3", r"unknown option 'pool=3'; allowed: \['unit'\]"),
        ("catalogs:de-en?unit", "unknown option 'unit'"),
    ],
)
def test_parse_spec_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_spec(spec)


def test_load_corpus_rejects_split_on_aligned_and_bad_split_on_mining(tmp_path):
    with pytest.raises(ValueError, match="aligned and has no split"):
        load_corpus(f"xtreme-dir:{tmp_path}:tatoeba:deu", split="fit")
    with pytest.raises(ValueError, match="split 'train', expected fit or eval"):
        load_corpus("debian-bucc:de-en", split="train")
    with pytest.raises(ValueError, match="limit=0"):
        load_corpus(f"xtreme-dir:{tmp_path}:tatoeba:deu", limit=0)
