"""End to end with finetune-data's real pieces: local task -> featurize -> Collator ->
build_model -> train (with dynamics) -> cartography subsets -> evaluate -> phase chaining."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from finetune.cartography import cartography_stats, load_dynamics, write_cartography
from finetune.data import load_examples
from finetune.evaluate import evaluate
from finetune.features import Collator, featurize
from finetune.heads import build_model
from finetune.tasks import LocalSource, Task
from finetune.trainer import TrainConfig, train

POS = ["library for parsing configuration files", "Bibliothek zum Parsen von Dateien",
       "library for configuration", "bibliothèque pour analyser les fichiers"]
NEG = ["command line tool to manage packages", "Kommandozeilenwerkzeug zur Verwaltung",
       "outil en ligne de commande", "tool to manage packages"]


def _write_task(folder):
    folder.mkdir()
    (folder / "meta.json").write_text(json.dumps(
        {"name": "toy", "format": "single", "labels": ["tool", "library"], "languages": ["en"]}))
    rows = [{"id": f"{k}{i}", "text": t, "label": lab}
            for k, texts, lab in (("p", POS, "library"), ("n", NEG, "tool"))
            for i, t in enumerate(texts * 3)]
    for split in ("train.jsonl", "validation.jsonl", "test.en.jsonl"):
        (folder / split).write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def test_train_real_pipeline_then_select_and_chain(tiny_model_dir, tmp_path):
    _write_task(tmp_path / "toy")
    task = Task("toy", "single", LocalSource(str(tmp_path / "toy")), ("tool", "library"),
                {}, ("en",), "accuracy", "intermediate")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples = load_examples(task, "train")
    features = featurize(task, examples, tokenizer, max_length=32)
    model = build_model(tiny_model_dir, task)
    config = TrainConfig(learning_rate=5e-3, epochs=6, batch_size=8, warmup_ratio=0.0,
                         record_dynamics=True, eval_every=9)
    result = train(model, features, Collator(tokenizer, "single"), config, tmp_path / "run",
                   eval_fn=lambda m: {"dev_accuracy": evaluate(m, tokenizer, task,
                                                               "validation")["accuracy"]},
                   tokenizer=tokenizer)
    assert AutoTokenizer.from_pretrained(result.checkpoint_dir)("library").input_ids == tokenizer(
        "library").input_ids
    assert result.history[-1]["dev_accuracy"] == 1.0
    probs, correct, meta = load_dynamics(tmp_path / "run")
    assert probs.shape == (24, 6)
    stats = cartography_stats(probs, correct)
    subsets = write_cartography(tmp_path / "run", examples, fraction=1 / 3)
    labels = np.array([ex["label"] for ex in examples])
    assert all(np.bincount(labels[rows]).tolist() == [4, 4] for rows in subsets.values())
    conf = stats["confidence"]
    for label in (0, 1):  # stratified: the ranking holds within each label
        easy = [i for i in subsets["easy"] if labels[i] == label]
        hard = [i for i in subsets["hard"] if labels[i] == label]
        assert conf[easy].min() >= conf[hard].max()
    table = (tmp_path / "run" / "cartography.csv").read_text().splitlines()
    assert len(table) == 25 and table[1].startswith(examples[0]["id"] + ",")
    selection = json.loads((tmp_path / "run" / "selection.json").read_text())
    assert sorted(selection["subsets"]["easy"]) == sorted(examples[i]["id"]
                                                          for i in subsets["easy"])
    # phase chaining: the trained encoder carries over, the head is new
    chained = build_model(result.checkpoint_dir, task)
    enc = "roberta.encoder.layer.1.output.dense.weight"
    assert np.array_equal(chained.state_dict()[enc].numpy(), model.state_dict()[enc].numpy())


@pytest.mark.parametrize("fmt", ["pair", "multiple_choice", "qa", "tagging"])
def test_every_format_trains_and_resumes(local_tasks, tiny_model_dir, tmp_path, fmt):
    # finetune-data's fixture tasks (tests/unit/finetune/conftest.py), 3-4 examples each
    task = local_tasks[fmt]
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    features = featurize(task, load_examples(task, "train"), tokenizer, max_length=48)
    collator = Collator(tokenizer, fmt)
    config = TrainConfig(learning_rate=1e-3, max_steps=4, batch_size=2, save_every=2)
    torch.manual_seed(0)  # the fresh head's init
    straight = build_model(tiny_model_dir, task)
    head = {k: v.clone() for k, v in straight.state_dict().items() if "roberta." not in k}
    full = train(straight, features, collator, config, tmp_path / "a")
    assert all(np.isfinite(h["loss"]) for h in full.history)
    assert any(not torch.equal(straight.state_dict()[k], v) for k, v in head.items())
    # same run interrupted after checkpoint-2 (its later files removed), then resumed
    torch.manual_seed(0)
    train(build_model(tiny_model_dir, task), features, collator, config, tmp_path / "b")
    shutil.rmtree(tmp_path / "b" / "checkpoint-4")
    torch.manual_seed(7)  # the resumed run must not depend on the caller's RNG
    resumed = build_model(tiny_model_dir, task)
    again = train(resumed, features, collator, config, tmp_path / "b")
    assert [h["loss"] for h in again.history] == [h["loss"] for h in full.history]
    for key, value in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, rtol=0, atol=1e-6)
