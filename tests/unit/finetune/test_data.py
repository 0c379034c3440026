"""load_examples: local-layout folders and hub datasets (read from local copies)."""

from __future__ import annotations

import json

import datasets
import pytest

from finetune.data import load_examples, normalise_row, resolve_labels
from finetune.tasks import ConcatSource, HubSource, LocalSource, Task, get_task


def write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_local_single_maps_label_names_to_ids_from_meta_json(local_tasks):
    task = local_tasks["single"]
    assert resolve_labels(task) == ("libs", "utils", "games")
    examples = load_examples(task, "train")
    assert [e["label"] for e in examples] == [0, 1, 2, 0]
    assert examples[1] == {"id": "s1", "text": "command line tool to manage packages",
                           "label": 1}


def test_local_tagging_and_choice_and_qa_keep_the_schema(local_tasks):
    tags = load_examples(local_tasks["tagging"], "train")[0]
    assert tags["tags"] == [0, 1, 2, 2] and tags["tokens"][0] == "The"
    choice = load_examples(local_tasks["multiple_choice"], "validation")[1]
    assert choice["label"] == 1 and len(choice["choices"]) == 4
    qa = load_examples(local_tasks["qa"], "test")[0]
    assert qa["answers"] == {"text": ["brown fox"], "answer_start": [10]}


def test_test_split_is_read_per_language(local_tasks):
    en = load_examples(local_tasks["pair"], "test", language="en")
    de = load_examples(local_tasks["pair"], "test", language="de")
    assert [e["id"] for e in de] == [e["id"] for e in reversed(en)]
    with pytest.raises(ValueError, match="language 'fr'"):
        load_examples(local_tasks["pair"], "test", language="fr")


def test_limit_takes_a_seeded_subset_in_original_order(local_tasks):
    task = local_tasks["single"]
    a = load_examples(task, "train", limit=2, seed=3)
    assert a == load_examples(task, "train", limit=2, seed=3)
    ids = [e["id"] for e in load_examples(task, "train")]
    assert len(a) == 2 and ids.index(a[0]["id"]) < ids.index(a[1]["id"])
    seen = {tuple(e["id"] for e in load_examples(task, "train", limit=2, seed=s))
            for s in range(20)}
    assert len(seen) > 1  # the seed matters


def test_task_without_folder_says_how_to_give_one():
    with pytest.raises(ValueError, match=r"'ccg' has no data folder yet: pass a path"):
        load_examples(get_task("ccg"), "train")


def test_local_task_reads_labels_from_meta_json(tmp_path):
    (tmp_path / "meta.json").write_text(json.dumps(
        {"name": "sections", "format": "single", "labels": ["admin", "games"],
         "languages": ["de", "en"]}))
    write_jsonl(tmp_path / "test.de.jsonl", [{"id": "a", "text": "Spiel", "label": "games"}])
    task = Task("sections", "single", LocalSource(str(tmp_path)), None, {}, ("de", "en"),
                "accuracy", "target")
    assert load_examples(task, "test", language="de")[0]["label"] == 1


def test_missing_file_bad_json_and_bad_label_are_reported(tmp_path, local_tasks):
    task = local_tasks["single"].with_path(tmp_path)
    (tmp_path / "meta.json").write_text(json.dumps({"labels": ["x", "y"]}))
    with pytest.raises(FileNotFoundError, match="train.jsonl"):
        load_examples(task, "train")
    (tmp_path / "train.jsonl").write_text('{"text": "a", "label": "x"}\n{oops\n')
    with pytest.raises(ValueError, match=r"train.jsonl:2: not valid JSON"):
        load_examples(task, "train")
    (tmp_path / "train.jsonl").write_text('{"text": "a", "label": "z"}\n')
    with pytest.raises(ValueError, match="label 'z' is not one of"):
        load_examples(task, "train")
    with pytest.raises(ValueError, match="split 'dev'"):
        load_examples(task, "dev")


# --- hub layouts, loaded by datasets.load_dataset from local copies ----------------------


def _hub_copy(root, configs: dict[str, dict[str, list[dict]]]):
    """A dataset folder like a hub repo: README configs -> per-split JSON Lines files."""
    lines = ["---", "configs:"]
    for config, splits in configs.items():
        lines += [f"- config_name: {config}", "  data_files:"]
        (root / config).mkdir(parents=True)
        for split, rows in splits.items():
            write_jsonl(root / config / f"{split}.jsonl", rows)
            lines += [f"  - split: {split}", f"    path: {config}/{split}.jsonl"]
    (root / "README.md").write_text("\n".join([*lines, "---", ""]))
    return str(root)


@pytest.fixture(autouse=True)
def _datasets_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))


def test_glue_mnli_layout_with_renamed_splits(tmp_path):
    rows = [{"premise": "p1", "hypothesis": "h1", "label": 2, "idx": 0},
            {"premise": "p2", "hypothesis": "h2", "label": -1, "idx": 1}]
    path = _hub_copy(tmp_path / "glue", {"mnli": {"train": rows[:1],
                                                  "validation_matched": rows}})
    mnli = get_task("mnli")
    task = Task("mnli-copy", "pair", HubSource(path, "mnli", splits=mnli.source.splits),
                mnli.labels, mnli.fields, ("en",), "accuracy", "intermediate")
    examples = load_examples(task, "validation")
    assert examples == [{"id": "validation-0", "text_a": "p1", "text_b": "h1", "label": 2}]


def test_per_language_configs_like_xnli(tmp_path):
    row = {"premise": "Der Hund", "hypothesis": "Ein Tier", "label": 0}
    path = _hub_copy(tmp_path / "xnli", {"de": {"test": [row]}, "en": {"test": [row, row]}})
    xnli = get_task("xnli")
    source = HubSource(path, language_configs={"de": "de", "en": "en"})
    task = Task("xnli-copy", "pair", source, xnli.labels, xnli.fields, ("de", "en"),
                "accuracy", "target")
    assert len(load_examples(task, "test", language="de")) == 1
    assert len(load_examples(task, "test")) == 2  # English by default


def test_concat_source_joins_split_expressions_and_parts(tmp_path):
    nli = lambda p: {"premise": p, "hypothesis": "h", "label": 1}  # noqa: E731
    anli = _hub_copy(tmp_path / "anli", {"default": {"train_r1": [nli("r1")],
                                                     "train_r2": [nli("r2")]}})
    snli = _hub_copy(tmp_path / "snli", {"default": {"train": [nli("s"), {
        "premise": "x", "hypothesis": "y", "label": -1}]}})
    source = ConcatSource((HubSource(anli, splits={"train": "train_r1+train_r2"}),
                           HubSource(snli, splits={"train": "train"})))
    task = Task("nli-copy", "pair", source, ("entailment", "neutral", "contradiction"),
                get_task("anli-plus").fields, ("en",), "accuracy", "intermediate")
    assert [e["text_a"] for e in load_examples(task, "train")] == ["r1", "r2", "s"]
    with pytest.raises(ValueError, match="no 'test' split"):
        load_examples(task, "test")


@pytest.mark.parametrize("name, row, expected", [
    ("hellaswag", {"ind": 7, "ctx": "A man", "endings": ["a", "b", "c", "d"], "label": "2"},
     {"id": "7", "context": "A man", "choices": ["a", "b", "c", "d"], "label": 2}),
    ("cosmosqa", {"id": "c1", "context": "Ctx.", "question": "Why?", "answer0": "a",
                  "answer1": "b", "answer2": "c", "answer3": "d", "label": 3},
     {"id": "c1", "context": "Ctx. Why?", "choices": ["a", "b", "c", "d"], "label": 3}),
    ("commonsenseqa", {"id": "q", "question": "Where?", "question_concept": "x",
                       "choices": {"label": list("ABCDE"), "text": list("vwxyz")},
                       "answerKey": "D"},
     {"id": "q", "context": "Where?", "choices": list("vwxyz"), "label": 3}),
    ("squad-v2", {"id": "s", "title": "t", "context": "Paris is big.", "question": "What?",
                  "answers": {"text": [], "answer_start": []}},
     {"id": "s", "context": "Paris is big.", "question": "What?",
      "answers": {"text": [], "answer_start": []}}),
    ("wikiann", {"tokens": ["Paris", "is"], "ner_tags": [5, 0], "langs": ["en", "en"],
                 "spans": ["LOC: Paris"]},
     {"id": "train-0", "tokens": ["Paris", "is"], "tags": [5, 0]}),
])
def test_hub_column_layouts_normalise_to_the_local_schema(tmp_path, name, row, expected):
    real = get_task(name)
    path = _hub_copy(tmp_path / name, {"default": {"train": [row]}})
    task = Task(f"{name}-copy", real.format, HubSource(path), real.labels, real.fields,
                ("en",), real.metric, real.role)
    assert load_examples(task, "train") == [expected]


def test_missing_column_names_the_columns_there_are(tmp_path):
    path = _hub_copy(tmp_path / "sst", {"default": {"train": [{"sentence": "a", "y": 1}]}})
    real = get_task("sst2")
    task = Task("sst-copy", "single", HubSource(path), real.labels, real.fields, ("en",),
                "accuracy", "intermediate")
    expected = r"column 'idx' not found; columns are \['sentence', 'y'\]"
    with pytest.raises(ValueError, match=expected):
        load_examples(task, "train")


def test_local_source_task_reads_local_layout_even_if_fields_are_identity(local_task_dirs):
    task = Task("x", "pair", LocalSource(str(local_task_dirs["pair"])), ("match", "mismatch"),
                {}, ("en",), "accuracy", "target")
    assert [e["label"] for e in load_examples(task, "train")] == [0, 1, 0]


@pytest.mark.parametrize("raw, expected", [(True, 1), (False, 0), ("1", 1), ("true", 1),
                                           (-1, None), (None, None)])
def test_label_values_of_every_kind_map_to_ids(raw, expected):
    task = Task("b", "single", HubSource("x/y"), ("false", "true"),
                {"text": "q", "label": "answer"}, ("en",), "accuracy", "intermediate")
    example = normalise_row(task, {"q": "is it?", "answer": raw}, task.labels)
    assert (example["label"] if example else None) == expected


def test_label_out_of_range_is_an_error():
    task = Task("b", "single", HubSource("x/y"), ("a", "b"), {"text": "q", "label": "y"},
                ("en",), "accuracy", "intermediate")
    with pytest.raises(ValueError, match=r"label 2 outside 0..1"):
        normalise_row(task, {"q": "x", "y": 2}, task.labels)
