"""Training dynamics and p(gold) for every format, against a per-feature brute force.

The brute force runs the model on one feature at a time (no batch padding) and computes
p(gold), correctness and margin in numpy loops, so it checks the vectorised signals, the
QA window masking and the per-example mean over QA windows at once.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from finetune.data import load_examples
from finetune.dynamics import read_dynamics
from finetune.evaluate import gold_probabilities
from finetune.features import Collator, featurize
from finetune.heads import build_model
from finetune.pvi import null_examples
from finetune.trainer import TrainConfig, train

QA_LENGTH = 32  # with stride 2 the fixture's two QA examples give 5 + 2 windows


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def _model(tiny_model_dir, task):
    torch.manual_seed(0)
    model = build_model(tiny_model_dir, task)
    for module in model.modules():  # no dropout: training passes equal eval passes
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return model


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _gold(scores, gold):
    """p(gold), argmax == gold, gold - best other score along the last axis of (K,)."""
    return (_softmax(scores)[gold], float(np.argmax(scores) == gold),
            scores[gold] - np.delete(scores, gold).max())


def _feature_signals(model, collator, feature, fmt):
    batch = collator([feature])
    with torch.no_grad():
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    if fmt == "qa":
        start = _gold(out.start_logits[0].double().numpy(), feature["start_positions"])
        end = _gold(out.end_logits[0].double().numpy(), feature["end_positions"])
        return start[0] * end[0], start[1] * end[1], (start[2] + end[2]) / 2
    logits = out.logits[0].double().numpy()
    if fmt != "tagging":
        return _gold(logits, feature["labels"])
    per_token = [_gold(logits[t], y) for t, y in enumerate(feature["labels"]) if y != -100]
    return tuple(np.mean(per_token, axis=0))


def _brute_force(model, tokenizer, task, examples, max_length, stride=None):
    """(n_examples, 3): mean over each example's features of (p_gold, correct, margin)."""
    model.eval()
    features = featurize(task, examples, tokenizer, max_length=max_length, stride=stride)
    collator = Collator(tokenizer, task.format)
    rows = [[] for _ in examples]
    for f in features:
        rows[f["example_index"]].append(_feature_signals(model, collator, f, task.format))
    return np.array([np.mean(r, axis=0) for r in rows]), features


@pytest.mark.parametrize("fmt", ["multiple_choice", "qa", "tagging"])
def test_recorded_dynamics_equal_the_brute_force(fmt, local_tasks, tiny_model_dir, tokenizer,
                                                 tmp_path):
    task = local_tasks[fmt]
    examples = load_examples(task, "train")
    model = _model(tiny_model_dir, task)
    expected, features = _brute_force(model, tokenizer, task, examples, QA_LENGTH, stride=2)
    if fmt == "qa":
        assert len(features) > len(examples) + 2  # several windows, most without the answer
    # lr 0 and no dropout: every epoch's record equals one eval pass; batches of 3 pad
    config = TrainConfig(learning_rate=0.0, epochs=2, batch_size=3, record_dynamics=True)
    train(model, features, Collator(tokenizer, fmt), config, tmp_path)
    dynamics, meta = read_dynamics(tmp_path)
    assert meta["n_epochs"] == 2 and dynamics.probs.shape == (len(examples), 2)
    for epoch in range(2):
        np.testing.assert_allclose(dynamics.probs[:, epoch], expected[:, 0], rtol=1e-4)
        np.testing.assert_allclose(dynamics.correct[:, epoch], expected[:, 1], atol=1e-6)
        np.testing.assert_allclose(dynamics.margins[:, epoch], expected[:, 2], atol=1e-4)


@pytest.mark.parametrize("null", [False, True])
@pytest.mark.parametrize("fmt", ["single", "pair", "multiple_choice", "qa", "tagging"])
def test_gold_probabilities_equal_the_brute_force(fmt, null, local_tasks, tiny_model_dir,
                                                  tokenizer):
    task = local_tasks[fmt]
    examples = load_examples(task, "train")
    if null:  # PVI's null inputs go through the same featurize / predict path
        examples = null_examples(task, examples)
    model = _model(tiny_model_dir, task).train()
    expected, features = _brute_force(model, tokenizer, task, examples, QA_LENGTH)
    if fmt == "qa":
        assert len(features) > len(examples)  # several windows per question
    model.train()
    p = gold_probabilities(model, tokenizer, task, examples, max_length=QA_LENGTH,
                           batch_size=2)
    assert model.training  # predict restores the mode
    np.testing.assert_allclose(p, expected[:, 0], rtol=1e-4)
