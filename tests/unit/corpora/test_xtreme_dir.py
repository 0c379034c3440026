"""XTREME's Tatoeba and BUCC 2018 folder layouts, good and malformed."""

from __future__ import annotations

import pytest

from xalign.corpora import load_corpus


def write_tatoeba(folder, src, tgt, lang3="deu"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"tatoeba.{lang3}-eng.{lang3}").write_text("".join(s + "\n" for s in src))
    (folder / f"tatoeba.{lang3}-eng.eng").write_text("".join(s + "\n" for s in tgt))


def write_bucc(folder, split="sample", lang="de", gold=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{lang}-en.{split}.{lang}").write_text(
        f"{lang}-000001\tHallo Welt\n{lang}-000002\tGuten Morgen\n{lang}-000003\tNur hier\n")
    (folder / f"{lang}-en.{split}.en").write_text(
        "en-000001\tGood morning\nen-000002\tOnly English\nen-000003\tHello world\n")
    gold = gold or f"{lang}-000001\ten-000003\n{lang}-000002\ten-000001\n"
    (folder / f"{lang}-en.{split}.gold").write_text(gold)


def test_tatoeba_dir_loads_aligned_pairs(tmp_path):
    write_tatoeba(tmp_path / "tatoeba", ["Hallo", "Danke"], ["Hello", "Thanks"])
    corpus = load_corpus(f"xtreme-dir:{tmp_path}:tatoeba:deu")
    assert corpus.kind == "aligned" and corpus.lang == "de"
    assert corpus.src_texts == ["Hallo", "Danke"] and corpus.tgt_texts == ["Hello", "Thanks"]
    assert corpus.name == f"xtreme-dir:{tmp_path}:tatoeba:deu"
    assert set(corpus.meta["sha256"]) == {"tatoeba.deu-eng.deu", "tatoeba.deu-eng.eng"}


def test_tatoeba_line_counts_differ(tmp_path):
    write_tatoeba(tmp_path, ["Hallo", "Danke", "Bitte"], ["Hello", "Thanks"])
    with pytest.raises(ValueError, match=r"tatoeba.deu-eng.deu: 3 lines but .* has 2"):
        load_corpus(f"xtreme-dir:{tmp_path}:tatoeba:deu")


def test_tatoeba_invalid_utf8_names_file_and_line(tmp_path):
    write_tatoeba(tmp_path, ["Hallo", "Danke"], ["Hello", "Thanks"])
    (tmp_path / "tatoeba.deu-eng.deu").write_bytes(b"Hallo\nDan\xffke\n")
    with pytest.raises(ValueError, match=r"tatoeba.deu-eng.deu:2: invalid UTF-8"):
        load_corpus(f"xtreme-dir:{tmp_path}:tatoeba:deu")


def test_tatoeba_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="tatoeba.fra-eng.fra"):
        load_corpus(f"xtreme-dir:{tmp_path}:tatoeba:fra")


def test_bucc_dir_fit_is_sample_eval_is_training(tmp_path):
    write_bucc(tmp_path / "bucc2018", "sample")
    write_bucc(tmp_path / "bucc2018", "training",
               gold="de-000003\ten-000002\n")
    fit = load_corpus(f"xtreme-dir:{tmp_path}:bucc:de-en", split="fit")
    assert fit.kind == "mining" and fit.split == "fit"
    assert fit.gold == {("de-000001", "en-000003"), ("de-000002", "en-000001")}
    assert fit.src_ids == ["de-000001", "de-000002", "de-000003"]
    assert fit.tgt_texts[2] == "Hello world"
    ev = load_corpus(f"xtreme-dir:{tmp_path}:bucc:de-en")  # eval is the default split
    assert ev.split == "eval" and ev.gold == {("de-000003", "en-000002")}
    assert ev.meta["file_split"] == "training"


@pytest.mark.parametrize(
    ("gold", "message"),
    [("de-000001\ten-000999\n", r"sample.gold:1: gold id 'en-000999'"),
     ("de-000001\ten-000001\nde-000009\ten-000002\n", r"sample.gold:2: gold id 'de-000009'"),
     ("de-000001 en-000001\n", r"sample.gold:1: expected 'src_id<TAB>tgt_id'")],
)
def test_bucc_bad_gold(tmp_path, gold, message):
    write_bucc(tmp_path, gold=gold)
    with pytest.raises(ValueError, match=message):
        load_corpus(f"xtreme-dir:{tmp_path}:bucc:de-en", split="fit")


def test_bucc_missing_tab_and_duplicate_id(tmp_path):
    write_bucc(tmp_path)
    (tmp_path / "de-en.sample.en").write_text("en-000001\tGood morning\nen-000002 no tab\n")
    with pytest.raises(ValueError, match=r"sample.en:2: expected 'id<TAB>sentence'"):
        load_corpus(f"xtreme-dir:{tmp_path}:bucc:de-en", split="fit")
    (tmp_path / "de-en.sample.en").write_text("en-000001\tA\nen-000001\tB\n")
    with pytest.raises(ValueError, match=r"sample.en:2: duplicate sentence id 'en-000001'"):
        load_corpus(f"xtreme-dir:{tmp_path}:bucc:de-en", split="fit")


def test_bucc_invalid_utf8(tmp_path):
    write_bucc(tmp_path)
    (tmp_path / "de-en.sample.de").write_bytes(b"de-000001\tok\nde-000002\t\xc3\x28\n")
    with pytest.raises(ValueError, match=r"sample.de:2: invalid UTF-8"):
        load_corpus(f"xtreme-dir:{tmp_path}:bucc:de-en", split="fit")


def test_bucc_unknown_split(tmp_path):
    write_bucc(tmp_path)
    with pytest.raises(ValueError, match="BUCC split 'test'"):
        load_corpus(f"xtreme-dir:{tmp_path}:bucc:de-en", split="test")


def test_limit_on_mining_keeps_gold_consistent(tmp_path):
    write_bucc(tmp_path)
    small = load_corpus(f"xtreme-dir:{tmp_path}:bucc:de-en", split="fit", limit=1, seed=3)
    assert len(small) == 1
    (src_id, tgt_id), = small.gold
    assert src_id in small.src_ids and tgt_id in small.tgt_ids
    again = load_corpus(f"xtreme-dir:{tmp_path}:bucc:de-en", split="fit", limit=1, seed=3)
    assert again.gold == small.gold and again.tgt_ids == small.tgt_ids
