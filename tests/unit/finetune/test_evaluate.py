"""predict / evaluate / zero_shot_table on the tiny model, and scoring of known logits."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from finetune.data import load_examples
from finetune.evaluate import (
    MAIN_KEY,
    evaluate,
    predict,
    qa_answers,
    score_predictions,
    zero_shot_table,
)
from finetune.features import IGNORE_INDEX, Collator, featurize
from finetune.heads import build_model


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def _model(tiny_model_dir, task):
    torch.manual_seed(0)
    return build_model(tiny_model_dir, task)


@pytest.mark.parametrize("fmt", ["single", "multiple_choice", "tagging", "qa"])
def test_predict_does_not_depend_on_batch_size_or_padding(fmt, local_tasks, tiny_model_dir,
                                                          tokenizer):
    task = local_tasks[fmt]
    model = _model(tiny_model_dir, task).train()
    features = featurize(task, load_examples(task, "train"), tokenizer)
    collator = Collator(tokenizer, fmt)
    one_by_one = predict(model, features, collator, batch_size=1)
    together = predict(model, features, collator, batch_size=64)
    assert model.training  # restored
    assert one_by_one.shape == together.shape and one_by_one.shape[0] == len(features)
    for i, f in enumerate(features):  # compare only real (unpadded) positions
        n = len(f["input_ids"]) if fmt in ("tagging", "qa") else None
        a = one_by_one[i][..., :n] if fmt == "qa" else one_by_one[i][:n]
        b = together[i][..., :n] if fmt == "qa" else together[i][:n]
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_bf16_prediction_is_close_to_fp32_and_other_precisions_are_refused(
        local_tasks, tiny_model_dir, tokenizer):
    task = local_tasks["single"]
    model = _model(tiny_model_dir, task)
    features = featurize(task, load_examples(task, "train"), tokenizer)
    collator = Collator(tokenizer, "single")
    fp32 = predict(model, features, collator)
    bf16 = predict(model, features, collator, mixed_precision="bf16")
    assert bf16.dtype == np.float32 and not np.array_equal(bf16, fp32)  # autocast was on
    np.testing.assert_allclose(bf16, fp32, atol=0.05)
    with pytest.raises(ValueError, match="mixed_precision"):
        predict(model, features, collator, mixed_precision="fp16")


def test_scores_of_known_logits_for_classification_and_tagging(local_tasks, tokenizer):
    task = local_tasks["single"]
    examples = load_examples(task, "train")  # labels 0, 1, 2, 0
    features = featurize(task, examples, tokenizer)
    logits = np.eye(3)[[0, 1, 1, 0]]
    assert score_predictions(task, examples, features, logits) == {"accuracy": 0.75,
                                                                   "score": 0.75, "n": 4}

    task = local_tasks["tagging"]  # O B-ANI I-ANI B-LIB I-LIB
    examples = load_examples(task, "train")
    features = featurize(task, examples, tokenizer)
    width = max(len(f["input_ids"]) for f in features)
    gold = np.zeros((len(features), width), dtype=int)
    for i, f in enumerate(features):
        gold[i, : len(f["labels"])] = [max(y, 0) for y in f["labels"]]
    perfect = np.eye(5)[gold]
    assert score_predictions(task, examples, features, perfect)["f1"] == 1.0
    # break the second sentence's B-LIB into O: 2 of 3 entities found, none spurious
    first_word = features[1]["labels"].index(3)
    broken = gold.copy()
    broken[1, first_word] = 0
    result = score_predictions(task, examples, features, np.eye(5)[broken])
    assert result["precision"] == 1.0 and result["recall"] == pytest.approx(2 / 3)
    assert result["score"] == result["f1"] == pytest.approx(0.8)
    accuracy_task = type(task)(**{**task.__dict__, "metric": "accuracy"})  # POS-style
    result = score_predictions(accuracy_task, examples, features, np.eye(5)[broken])
    labelled = sum(y != IGNORE_INDEX for f in features for y in f["labels"])
    assert result["score"] == result["accuracy"] == pytest.approx(1 - 1 / labelled)
    # predictions on ignored sub-tokens do not count
    noisy = gold.copy()
    noisy[np.array([[y == IGNORE_INDEX for y in f["labels"]] + [False] * (
        width - len(f["labels"])) for f in features])] = 4
    assert score_predictions(task, examples, features, np.eye(5)[noisy])["f1"] == 1.0


def _qa_logits(features, spans, width, null=False):
    logits = np.full((len(features), 2, width), -5.0)
    for i, (s, e) in enumerate(spans):
        logits[i, 0, s], logits[i, 1, e] = 5.0, 5.0
        if null:
            logits[i, :, 0] = 9.0
    return logits


def test_qa_answers_from_gold_positions_are_exact(local_tasks, tokenizer):
    task = local_tasks["qa"]
    examples = load_examples(task, "train")
    features = featurize(task, examples, tokenizer)
    width = max(len(f["input_ids"]) for f in features)
    spans = [(f["start_positions"], f["end_positions"]) for f in features]
    logits = _qa_logits(features, spans, width)
    assert qa_answers(examples, features, logits) == ["brown fox", "packages"]
    assert score_predictions(task, examples, features, logits) == {
        "exact_match": 1.0, "f1": 1.0, "score": 1.0, "n": 2}
    # a high <s> score means "no answer" only if some question is unanswerable
    assert qa_answers(examples, features, _qa_logits(features, spans, width, null=True)) == \
        ["brown fox", "packages"]
    examples[1] = {**examples[1], "answers": {"text": [], "answer_start": []}}
    assert qa_answers(examples, features, _qa_logits(features, spans, width, null=True)) == \
        ["", ""]


@pytest.mark.parametrize("fmt", ["single", "pair", "multiple_choice", "qa", "tagging"])
def test_evaluate_every_format_gives_metrics_in_range(fmt, local_tasks, tiny_model_dir,
                                                      tokenizer):
    task = local_tasks[fmt]
    result = evaluate(_model(tiny_model_dir, task), tokenizer, task, "test", language="de",
                      max_length=48, batch_size=2)
    assert result["n"] == len(load_examples(task, "test", language="de"))
    keys = {"single": ["accuracy"], "pair": ["accuracy"], "multiple_choice": ["accuracy"],
            "qa": ["exact_match", "f1"], "tagging": ["precision", "recall", "f1"]}[fmt]
    for key in keys:
        assert 0.0 <= result[key] <= 1.0
    assert result["score"] == result[MAIN_KEY[task.metric]]


def test_zero_shot_table_averages_the_non_english_rows(local_task_dirs, local_tasks,
                                                       tiny_model_dir, tokenizer, tmp_path):
    folder = tmp_path / "pair"
    shutil.copytree(local_task_dirs["pair"], folder)
    rows = [json.loads(line) for line in (folder / "test.en.jsonl").read_text().splitlines()]
    (folder / "test.fr.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    task = local_tasks["pair"].with_path(folder)
    task = type(task)(**{**task.__dict__, "languages": ("en", "de", "fr")})
    model = _model(tiny_model_dir, task)
    table = zero_shot_table(model, tokenizer, task, batch_size=2)
    assert [r["language"] for r in table] == ["en", "de", "fr", "avg"]
    by_lang = {r["language"]: r for r in table}
    for lang in ("en", "de", "fr"):
        assert by_lang[lang]["value"] == evaluate(model, tokenizer, task, "test",
                                                  language=lang)["accuracy"]
    assert by_lang["avg"]["value"] == pytest.approx(
        (by_lang["de"]["value"] + by_lang["fr"]["value"]) / 2)
    assert by_lang["avg"]["n"] == 3 + 2 and by_lang["avg"]["metric"] == "accuracy"
    only_en = zero_shot_table(model, tokenizer, task, languages=["en"])
    assert only_en[-1] == {"language": "avg", "metric": "accuracy", "value": None, "n": 0}


def test_zero_shot_average_leaves_english_out(monkeypatch, local_tasks):
    import finetune.evaluate as ev

    scores = {"en": (0.9, 10), "de": (0.5, 4), "fr": (0.2, 6)}
    monkeypatch.setattr(ev, "evaluate", lambda model, tok, task, split, language, **kw: {
        "f1": scores[language][0], "exact_match": 0.0, "n": scores[language][1]})
    table = ev.zero_shot_table(None, None, local_tasks["qa"], languages=["en", "de", "fr"])
    assert table[-1] == {"language": "avg", "metric": "f1", "value": pytest.approx(0.35),
                         "n": 10}
    assert [r["value"] for r in table[:3]] == [0.9, 0.5, 0.2]
