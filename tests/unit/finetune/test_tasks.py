"""The task registry: built-in tasks, look-up errors, registration rules."""

from __future__ import annotations

import pytest

from finetune.tasks import (
    ConcatSource,
    HubSource,
    LocalSource,
    Task,
    describe_source,
    get_task,
    list_tasks,
    register_task,
)

PHANG_NINE = {"anli-plus", "mnli", "qqp", "squad-v2", "hellaswag", "cosmosqa", "ccg",
              "commonsenseqa", "sst2"}


def test_the_nine_intermediate_tasks_of_phang_et_al_are_registered():
    intermediate = {t.name for t in list_tasks() if t.role == "intermediate"}
    assert PHANG_NINE <= intermediate
    assert all(get_task(n).languages == ("en",) for n in PHANG_NINE)


def test_hub_sources_carry_the_real_ids_configs_and_label_orders():
    mnli = get_task("mnli")
    assert (mnli.source.path, mnli.source.config) == ("nyu-mll/glue", "mnli")
    assert mnli.source.splits["validation"] == "validation_matched"
    assert mnli.labels == ("entailment", "neutral", "contradiction")
    xnli = get_task("xnli")
    assert xnli.source.language_configs["de"] == "de" and "en" in xnli.languages
    assert len(xnli.languages) == 15
    assert get_task("udpos").source.language_configs["de"] == "udpos.German"
    assert get_task("mlqa").source.language_configs["hi"] == "MLQA.hi.hi"
    anli = get_task("anli-plus").source
    assert isinstance(anli, ConcatSource)
    assert [p.path for p in anli.parts] == ["facebook/anli", "nyu-mll/glue",
                                             "stanfordnlp/snli", "pietrolesci/nli_fever"]


def test_targets_name_their_english_training_task():
    assert get_task("xquad").train_task == get_task("mlqa").train_task == "squad-v1"
    assert get_task("xnli").train_task == "mnli"
    assert get_task("pawsx").train_task is None  # its own English train split
    assert get_task("mnli").train_size == 392_702


def test_unknown_name_lists_known_tasks_and_suggests_close_ones():
    with pytest.raises(ValueError, match=r"unknown task 'mnlii'\. Did you mean mnli") as err:
        get_task("mnlii")
    assert "xnli" in str(err.value) and "sst2" in str(err.value)
    with pytest.raises(ValueError, match="Known tasks") as err:
        get_task("zzzzzz")
    assert "Did you mean" not in str(err.value)


def test_register_refuses_duplicates_unless_overwritten():
    task = Task("tmp-test-task", "single", LocalSource("/x"), ("a", "b"), {}, ("en",),
                "accuracy", "target")
    register_task(task, overwrite=True)
    with pytest.raises(ValueError, match="already registered"):
        register_task(task)
    assert get_task("tmp-test-task") is task


@pytest.mark.parametrize("attr, value", [("format", "regression"), ("metric", "bleu"),
                                         ("role", "pretrain")])
def test_task_rejects_unknown_format_metric_and_role(attr, value):
    kwargs = dict(name="t", format="single", source=LocalSource(), labels=None, fields={},
                  languages=("en",), metric="accuracy", role="target")
    kwargs[attr] = value
    with pytest.raises(ValueError, match=f"{attr}='{value}'"):
        Task(**kwargs)


def test_hub_task_must_map_every_field_of_its_format():
    with pytest.raises(ValueError, match="text_b"):
        Task("t", "pair", HubSource("x/y"), ("a",), {"text_a": "s1", "label": "y"}, ("en",),
             "accuracy", "target")


def test_with_path_returns_a_copy_pointing_at_the_folder(tmp_path):
    section = get_task("ccg")
    local = section.with_path(tmp_path)
    assert local.source == LocalSource(str(tmp_path)) and local.name == section.name
    assert section.source.path is None  # the registered task is unchanged


def test_describe_source_shortens_commits_but_not_branches():
    assert describe_source(HubSource("a/b", "c", revision="0123456789" * 4)) == "a/b/c@0123456789"
    assert describe_source(HubSource("a/b", revision="refs/convert/parquet")).endswith(
        "@refs/convert/parquet")
    assert describe_source(LocalSource()) == "local:(set at run time)"


def test_cli_lists_every_task_as_an_aligned_table(capsys):
    from xalign.cli import main

    assert main(["tasks"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "format", "role", "metric", "train_task", "source",
                                "languages"]
    assert len(lines) == 1 + len(list_tasks())
    starts = {line.index("intermediate") if "intermediate" in line else line.index("target")
              for line in lines[1:]}
    assert len(starts) == 1  # the role column is aligned
    xnli = next(line for line in lines if line.startswith("xnli "))
    assert "facebook/xnli" in xnli and xnli.rstrip().endswith("vi zh")


def test_cli_json_round_trips_the_registry(capsys):
    import json

    from xalign.cli import main

    assert main(["tasks", "--format", "json", "--role", "target"]) == 0
    records = json.loads(capsys.readouterr().out)
    names = {r["name"] for r in records}
    assert {"xnli", "pawsx", "debian-section"} <= names and "mnli" not in names
    pawsx = next(r for r in records if r["name"] == "pawsx")
    assert pawsx["source"]["kind"] == "HubSource"
    assert pawsx["source"]["language_configs"]["ja"] == "ja"
    assert pawsx["labels"] == ["not_paraphrase", "paraphrase"]
