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


def test_debian_tasks_wait_for_a_folder():
    section = get_task("debian-section")
    assert section.source == LocalSource(None) and section.labels is None
    assert set(section.languages) == {"de", "fr", "es", "it", "ja", "ru", "pl", "uk", "en"}
    assert get_task("debian-match-section").labels == ("match", "mismatch")
    assert get_task("debian-choice").format == "multiple_choice"


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
    section = get_task("debian-section")
    local = section.with_path(tmp_path)
    assert local.source == LocalSource(str(tmp_path)) and local.name == section.name
    assert section.source.path is None  # the registered task is unchanged


def test_describe_source_shortens_commits_but_not_branches():
    assert describe_source(HubSource("a/b", "c", revision="0123456789" * 4)) == "a/b/c@0123456789"
    assert describe_source(HubSource("a/b", revision="refs/convert/parquet")).endswith(
        "@refs/convert/parquet")
    assert describe_source(LocalSource()) == "local:(set at run time)"
