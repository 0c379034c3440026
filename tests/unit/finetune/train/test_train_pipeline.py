"""End to end with finetune-data's real pieces: local task -> featurize -> Collator ->
build_model -> train (with dynamics) -> cartography subsets -> evaluate -> phase chaining."""

from __future__ import annotations

import json

import numpy as np
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
