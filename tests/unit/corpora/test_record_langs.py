"""ParallelCorpus validation and ISO 639-1 conversion."""

from __future__ import annotations

import pytest

from xalign.corpora.langs import iso1_to_iso3, to_iso639_1
from xalign.corpora.record import ParallelCorpus


def test_aligned_corpus_kind_and_length():
    corpus = ParallelCorpus("x:de-en", "de", ["a", "b"], ["A", "B"])
    assert corpus.kind == "aligned"
    assert len(corpus) == 2


def test_aligned_unequal_lengths_names_corpus_and_field():
    with pytest.raises(ValueError, match=r"'x:de-en'.*src_texts has 2.*tgt_texts has 1"):
        ParallelCorpus("x:de-en", "de", ["a", "b"], ["A"])


def test_mining_corpus_counts_gold_pairs():
    corpus = ParallelCorpus("m", "fr", ["s1", "s2", "s3"], ["t1", "t2"], ["a", "b", "c"],
                            ["x", "y"], gold=frozenset({("a", "y")}))
    assert corpus.kind == "mining"
    assert len(corpus) == 1


@pytest.mark.parametrize(
    ("src_ids", "tgt_ids", "gold", "message"),
    [
        (["a", "a"], ["x"], {("a", "x")}, "src_ids are not unique"),
        (["a", "b"], ["x"], {("c", "x")}, "gold src id 'c'"),
        (["a", "b"], ["x"], {("a", "z")}, "gold tgt id 'z'"),
        (None, ["x"], {("a", "x")}, "src_ids is required"),
        (["a"], ["x"], {("a", "x")}, "src_ids has 1 items, src_texts 2"),
    ],
)
def test_mining_validation(src_ids, tgt_ids, gold, message):
    with pytest.raises(ValueError, match=message):
        ParallelCorpus("m", "fr", ["s1", "s2"], ["t1"], src_ids, tgt_ids, gold=frozenset(gold))


@pytest.mark.parametrize(
    ("code", "iso1"),
    [("deu", "de"), ("zh_CN", "zh"), ("cmn", "zh"), ("zh-Hans", "zh"), ("zh_Hans", "zh"),
     ("pt_BR", "pt"), ("de", "de"), ("DE", "de"), ("fra", "fr"), ("swh", "sw"), ("pes", "fa"),
     ("ar_DZ", "ar"), ("ca@valencia", "ca"), ("eng", "en")],
)
def test_to_iso639_1(code, iso1):
    assert to_iso639_1(code) == iso1


@pytest.mark.parametrize("code", ["zh_Hant", "zh_TW", "sr_Latn", "sr@latin", "xyz", "german"])
def test_to_iso639_1_rejects_unknown_and_other_scripts(code):
    with pytest.raises(ValueError, match=repr(code)):
        to_iso639_1(code)


def test_iso3_round_trip_for_xtreme_tatoeba_codes():
    xtreme = ["afr", "ara", "ben", "bul", "cmn", "deu", "ell", "est", "eus", "fin", "fra",
              "heb", "hin", "hun", "ind", "ita", "jav", "jpn", "kat", "kaz", "kor", "mal",
              "mar", "nld", "pes", "por", "rus", "spa", "swh", "tam", "tel", "tgl", "tha",
              "tur", "urd", "vie"]
    for code in xtreme:
        assert iso1_to_iso3(to_iso639_1(code)) == code
