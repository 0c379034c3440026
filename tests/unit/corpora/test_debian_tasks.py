"""The Debian task builder on synthetic indexes: layout, labels, hold-out, reuse."""

from __future__ import annotations

import json

import pytest

from xalign.corpora import build_debian_tasks
from xalign.corpora.debian_intermediate import MAX_WORDS

SIZES = {"sections": 2, "train": 10, "validation": 4, "test_per_section": 3,
         "inter_train": 10, "inter_validation": 4, "inter_test": 4}


def read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def md5_of(row_id: str) -> str:
    return row_id.split("-")[1] if row_id.count("-") else row_id


@pytest.fixture
def tasks(debian_cache, tmp_path):
    return build_debian_tasks(tmp_path / "tasks", langs=("de", "fr"), seed=0, sizes=SIZES)


def test_layout_and_meta(tasks):
    assert sorted(tasks) == ["debian-choice", "debian-match-random", "debian-match-section",
                             "debian-section"]
    target = tasks["debian-section"]
    names = sorted(p.name for p in target.iterdir())
    assert names == ["meta.json", "test.de.jsonl", "test.en.jsonl", "test.fr.jsonl",
                     "train.jsonl", "validation.jsonl"]
    meta = json.loads((target / "meta.json").read_text())
    assert meta["name"] == "debian-section" and meta["format"] == "single"
    assert meta["languages"] == ["de", "en", "fr"]
    assert meta["created_by"].startswith("xalign ")
    assert meta["counts"] == {"train": 10, "validation": 4, "test.de": 6, "test.en": 6,
                              "test.fr": 6}
    for name in ("debian-match-random", "debian-match-section", "debian-choice"):
        files = sorted(p.name for p in tasks[name].iterdir())
        assert files == ["meta.json", "test.en.jsonl", "train.jsonl", "validation.jsonl"]
    assert json.loads((tasks["debian-choice"] / "meta.json").read_text())["labels"] is None


def test_target_labels_balanced_and_translated(tasks, debian_cache):
    target = tasks["debian-section"]
    labels = json.loads((target / "meta.json").read_text())["labels"]
    assert len(labels) == 2 and set(labels) <= {"games", "utils", "sound"}
    by_md5 = {}
    for row in read(target / "test.en.jsonl"):
        by_md5[md5_of(row["id"])] = row
    for lang in ("de", "fr"):
        rows = read(target / f"test.{lang}.jsonl")
        assert sorted(r["label"] for r in rows) == sorted(labels * 3)
        assert all(r["text"].startswith(f"[{lang}] ") for r in rows)
    packages = {p["short"]: p["section"] for p in debian_cache["packages"]}
    for split in ("train", "validation", "test.en"):
        for row in read(target / f"{split}.jsonl"):
            assert row["label"] in labels and packages[row["text"]] == row["label"]


def test_held_out_packages_never_in_training(tasks):
    target = tasks["debian-section"]
    held = {md5_of(r["id"]) for lang in ("de", "fr", "en")
            for r in read(target / f"test.{lang}.jsonl")}
    assert len(held) >= 6
    trained = {md5_of(r["id"]) for split in ("train", "validation")
               for r in read(target / f"{split}.jsonl")}
    assert not held & trained
    for name in ("debian-match-random", "debian-match-section", "debian-choice"):
        for split in ("train", "validation", "test.en"):
            for row in read(tasks[name] / f"{split}.jsonl"):
                assert row["id"].split("-")[0] not in held


def test_sibling_packages_of_held_out_sources_never_in_training(tasks, debian_cache):
    from xalign.corpora.debian import load_english

    english = load_english()
    source_of = {row["md5"]: row["source"] for row in english}
    target = tasks["debian-section"]
    held = {source_of[md5_of(r["id"])] for lang in ("de", "fr", "en")
            for r in read(target / f"test.{lang}.jsonl")}
    used = {md5_of(r["id"]) for split in ("train", "validation")
            for r in read(target / f"{split}.jsonl")}
    for name in ("debian-match-random", "debian-match-section", "debian-choice"):
        used |= {r["id"].split("-")[0] for split in ("train", "validation", "test.en")
                 for r in read(tasks[name] / f"{split}.jsonl")}
    assert used and not {source_of[md5] for md5 in used} & held


def test_intermediate_labels_and_answers(tasks, debian_cache):
    para = {p["short"]: " ".join(p["paras"][0].split()[:MAX_WORDS])
            for p in debian_cache["packages"]}
    section = {p["short"]: p["section"] for p in debian_cache["packages"]}
    section_of_para = {v: section[k] for k, v in para.items()}
    for name in ("debian-match-random", "debian-match-section"):
        rows = read(tasks[name] / "train.jsonl")
        assert {r["label"] for r in rows} == {"match", "mismatch"}
        for r in rows:
            assert (r["text_b"] == para[r["text_a"]]) == (r["label"] == "match")
            if name == "debian-match-section":
                assert section_of_para[r["text_b"]] == section[r["text_a"]]
    for r in read(tasks["debian-choice"] / "train.jsonl"):
        assert len(r["choices"]) == 4 and len(set(r["choices"])) == 4
        assert r["choices"][r["label"]] == para[r["context"]]
        assert {section_of_para[c] for c in r["choices"]} == {section[r["context"]]}


def test_second_call_reuses_and_other_seed_rebuilds(tasks, tmp_path):
    stamp = (tasks["debian-section"] / "train.jsonl").stat().st_mtime_ns
    again = build_debian_tasks(tmp_path / "tasks", langs=("de", "fr"), seed=0, sizes=SIZES)
    assert again == tasks
    assert (tasks["debian-section"] / "train.jsonl").stat().st_mtime_ns == stamp
    before = read(tasks["debian-section"] / "train.jsonl")
    build_debian_tasks(tmp_path / "tasks", langs=("de", "fr"), seed=5, sizes=SIZES)
    assert read(tasks["debian-section"] / "train.jsonl") != before
    assert not [p for p in (tmp_path / "tasks").iterdir() if p.name.startswith(".")]


def test_deterministic_across_roots(tasks, tmp_path):
    other = build_debian_tasks(tmp_path / "again", langs=("de", "fr"), seed=0, sizes=SIZES)
    for name, path in tasks.items():
        for file in path.glob("*.jsonl"):
            assert file.read_bytes() == (other[name] / file.name).read_bytes()


def test_unknown_size_key(debian_cache, tmp_path):
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['trian'\]"):
        build_debian_tasks(tmp_path / "t", langs=("de",), sizes={"trian": 5})
