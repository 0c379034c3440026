"""Hub loading through datasets.load_dataset, against a local copy in XTREME's layout."""

from __future__ import annotations

import pytest

from xalign.corpora import load_corpus

README = """---
configs:
- config_name: tatoeba.deu
  data_files:
  - split: validation
    path: tatoeba.deu/validation-*
- config_name: bucc18.de
  data_files:
  - split: validation
    path: bucc18.de/validation-*
  - split: test
    path: bucc18.de/test-*
---
"""


@pytest.fixture
def local_xtreme(tmp_path):
    """A folder laid out like the hub's google/xtreme (README configs + parquet)."""
    import datasets

    root = tmp_path / "xtreme"
    root.mkdir()
    (root / "README.md").write_text(README)
    datasets.Dataset.from_dict({
        # XTREME's loader kept the newline of every line
        "source_sentence": ["Hallo Welt\n", "Danke schön\n", "Guten Tag\n"],
        "target_sentence": ["Hello world\n", "Thank you\n", "Good day\n"],
        "source_lang": ["deu"] * 3, "target_lang": ["eng"] * 3,
    }).to_parquet(str(root / "tatoeba.deu" / "validation-00000-of-00001.parquet"))
    for split, ids in (("validation", ["de-000001", "de-000007"]), ("test", ["de-000002"])):
        datasets.Dataset.from_dict({
            "source_sentence": [f"Satz {i}" for i in ids],
            "target_sentence": [f"Sentence {i}" for i in ids],
            "source_lang": ids, "target_lang": [i.replace("de-", "en-") for i in ids],
        }).to_parquet(str(root / "bucc18.de" / f"{split}-00000-of-00001.parquet"))
    return root


def test_hub_tatoeba_from_local_copy(local_xtreme):
    corpus = load_corpus(f"tatoeba:deu?dataset={local_xtreme}")
    assert corpus.lang == "de" and corpus.kind == "aligned"
    assert corpus.src_texts == ["Hallo Welt", "Danke schön", "Guten Tag"]
    assert corpus.tgt_texts == ["Hello world", "Thank you", "Good day"]
    assert corpus.meta["config"] == "tatoeba.deu"


def test_hub_tatoeba_accepts_iso1_code(local_xtreme):
    corpus = load_corpus(f"tatoeba:de?dataset={local_xtreme}", limit=2, seed=1)
    assert corpus.name == f"tatoeba:deu?dataset={local_xtreme}"
    assert len(corpus) == 2
    pairs = set(zip(corpus.src_texts, corpus.tgt_texts, strict=True))
    assert pairs <= {("Hallo Welt", "Hello world"), ("Danke schön", "Thank you"),
                     ("Guten Tag", "Good day")}


def test_hub_bucc_splits_and_gold(local_xtreme):
    fit = load_corpus(f"bucc:de?dataset={local_xtreme}", split="fit")
    assert fit.gold == {("de-000001", "en-000001"), ("de-000007", "en-000007")}
    assert dict(zip(fit.src_ids, fit.src_texts, strict=True))["de-000007"] == "Satz de-000007"
    assert fit.meta["gold_only_pools"] is True
    ev = load_corpus(f"bucc:de-en?dataset={local_xtreme}", split="eval")
    assert ev.gold == {("de-000002", "en-000002")}


def test_hub_unknown_config_is_value_error(local_xtreme):
    with pytest.raises(ValueError, match="config 'tatoeba.fra'"):
        load_corpus(f"tatoeba:fra?dataset={local_xtreme}")


def test_hub_missing_fields(tmp_path):
    import datasets

    root = tmp_path / "bad"
    (root / "tatoeba.deu").mkdir(parents=True)
    (root / "README.md").write_text(README.split("- config_name: bucc18")[0] + "---\n")
    datasets.Dataset.from_dict({"text": ["a"]}).to_parquet(
        str(root / "tatoeba.deu" / "validation-00000-of-00001.parquet"))
    with pytest.raises(ValueError, match=r"missing field\(s\) \['source_sentence'"):
        load_corpus(f"tatoeba:deu?dataset={root}")


def test_revision_is_passed_for_hub_ids(monkeypatch):
    import datasets

    seen = {}

    def fake_load(path, name=None, **kwargs):
        seen.update(path=path, name=name, **kwargs)
        return datasets.Dataset.from_dict({"source_sentence": ["a"], "target_sentence": ["b"],
                                           "source_lang": ["deu"], "target_lang": ["eng"]})

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    load_corpus("tatoeba:deu?revision=abc123")
    assert seen["path"] == "google/xtreme" and seen["name"] == "tatoeba.deu"
    assert seen["revision"] == "abc123" and seen["split"] == "validation"
