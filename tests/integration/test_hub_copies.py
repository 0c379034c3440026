"""Every built-in task loads from hub-layout copies through the hub path's own loaders.

The copies (:mod:`hub_copies`) hold the hub's column names and features; the tasks are
read through ``xalign.tasks.mirrored`` and ``finetune.data.load_examples``, i.e. the same
``datasets.load_dataset(path, config, split=..., revision=...)`` call as on the hub, so a
field spec, configuration or split name that does not match the real layout fails here.
"""

from __future__ import annotations

import random

import datasets
import pytest
from hub_copies import write_ccg, write_hub_copies

from finetune.data import load_examples, resolve_labels
from finetune.tasks import FORMAT_FIELDS, ConcatSource, HubSource, LocalSource, list_tasks
from xalign.tasks import OFFLINE_TASKS, hub_ids, mirrored

N_TRAIN, N_EVAL, LANGS = 12, 6, ("en", "de", "ar")
HUB_TASKS = [t.name for t in list_tasks() if not isinstance(t.source, LocalSource)]


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    rng = random.Random(0)
    mirrors = write_hub_copies(root, rng, n_train=N_TRAIN, n_eval=N_EVAL, langs=LANGS[1:])
    return mirrors, write_ccg(root / "ccg", rng, n_train=N_TRAIN, n_eval=N_EVAL)


@pytest.fixture(autouse=True)
def _datasets_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE",
                        str(tmp_path_factory.getbasetemp() / "hf-cache"))


def splits_of(task) -> list[str]:
    """The splits a run reads: no train split for a target that trains on another task."""
    parts = task.source.parts if isinstance(task.source, ConcatSource) else (task.source,)
    return [s for s in ("train", "validation", "test") if any(s in p.splits for p in parts)
            and not (s == "train" and task.train_task)]


def check_schema(task, examples) -> None:
    """Each example has exactly the local-layout fields, labels and spans valid."""
    labels = resolve_labels(task)
    for ex in examples:
        assert set(ex) == {"id", *FORMAT_FIELDS[task.format]}, ex
        if task.format == "qa":
            for text, start in zip(ex["answers"]["text"], ex["answers"]["answer_start"],
                                   strict=True):
                assert ex["context"][start:start + len(text)] == text
        elif task.format == "tagging":
            assert len(ex["tags"]) == len(ex["tokens"]) > 0
            assert all(0 <= t < len(labels) for t in ex["tags"])
        else:
            n = len(ex["choices"]) if task.format == "multiple_choice" else len(labels)
            assert 0 <= ex["label"] < n


def test_every_hub_dataset_of_the_registry_has_a_copy(copies):
    mirrors, _ = copies
    needed = {hub_id for name in HUB_TASKS for hub_id in hub_ids(mirrored_task(name, {}))}
    assert needed == set(mirrors)
    # the only tasks without a hub source are CCG (CCGbank, LDC) and the offline Debian ones
    local = {t.name for t in list_tasks() if isinstance(t.source, LocalSource)}
    assert local == {"ccg", *OFFLINE_TASKS}


def mirrored_task(name, mirrors):
    from xalign.tasks import get_task

    return mirrored(get_task(name), mirrors)


@pytest.mark.parametrize("name", HUB_TASKS)
def test_task_loads_every_split_and_language_from_its_copy(copies, name):
    task = mirrored_task(name, copies[0])
    for part in task.source.parts if isinstance(task.source, ConcatSource) else (task.source,):
        assert isinstance(part, HubSource) and part.path in copies[0].values()
        assert part.revision is None  # a mirror is a snapshot
    for split in splits_of(task):
        for lang in (x for x in LANGS if x in task.languages):
            if split != "test" and lang != "en":
                continue  # train and validation are English (zero-shot transfer)
            examples = load_examples(task, split, language=lang)
            assert examples, (name, split, lang)
            check_schema(task, examples)


def test_ccg_local_folder_loads_with_meta_json_supertags(copies):
    task = mirrored_task("ccg", {}).with_path(copies[1])
    for split in ("train", "validation", "test"):
        examples = load_examples(task, split)
        assert len(examples) == (N_TRAIN if split == "train" else N_EVAL)
        check_schema(task, examples)


def test_real_layout_details_normalise_as_on_the_hub(copies):
    mirrors = copies[0]
    # ANLI+ = ANLI rounds 1-3 (4 rows each) + MNLI + SNLI (its -1 rows dropped) + FEVER-NLI
    anli_plus = load_examples(mirrored_task("anli-plus", mirrors), "train")
    assert len(anli_plus) == 3 * (N_TRAIN // 3) + N_TRAIN + (N_TRAIN - N_TRAIN // 5) + N_TRAIN
    # SQuAD 2.0 keeps its unanswerable questions (empty answers); SQuAD 1.1 has none
    v2 = load_examples(mirrored_task("squad-v2", mirrors), "train")
    assert sum(not ex["answers"]["text"] for ex in v2) == N_TRAIN // 3
    assert all(ex["answers"]["text"] for ex in load_examples(
        mirrored_task("squad-v1", mirrors), "validation"))
    # HellaSwag's label is a digit string, its id the integer "ind"; CSQA's a letter
    hella = load_examples(mirrored_task("hellaswag", mirrors), "train")
    assert [ex["label"] for ex in hella[:5]] == [0, 1, 2, 3, 0] and hella[1]["id"] == "1"
    csqa = load_examples(mirrored_task("commonsenseqa", mirrors), "validation")
    assert [ex["label"] for ex in csqa] == [0, 1, 2, 3, 4, 0]
    assert all(len(ex["choices"]) == 5 for ex in csqa)
    cosmos = load_examples(mirrored_task("cosmosqa", mirrors), "train")[0]
    assert cosmos["context"].count(" ") > 2 and len(cosmos["choices"]) == 4
    # GLUE rows carry their integer idx as the id; XNLI has none: the row number
    assert load_examples(mirrored_task("qqp", mirrors), "train")[3]["id"] == "3"
    assert load_examples(mirrored_task("xnli", mirrors), "test", language="de")[2]["id"] \
        == "test-2"
