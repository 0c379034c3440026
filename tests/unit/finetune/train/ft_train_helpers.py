"""Small deterministic features, the real collator and model builders for training tests.

Shared by the tests and by ``ddp_worker.py`` (which runs under torchrun, outside pytest).
"""

from __future__ import annotations

import numpy as np
import torch


def make_features(n: int = 24, *, seed: int = 0, vocab: int = 180, n_labels: int = 2) -> list:
    """Classification features whose label is learnable: a marker token (10 + label) first."""
    rng = np.random.default_rng(seed)
    feats = []
    for i in range(n):
        length = int(rng.integers(4, 13))
        label = int(rng.integers(n_labels))
        body = [10 + label, *rng.integers(20, vocab, size=length).tolist()]
        ids = [0, *body, 2]
        feats.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": label,
                      "example_index": i})
    return feats


def make_collator(model_dir):
    """finetune-data's dynamic-padding Collator with the tiny model's tokenizer."""
    from transformers import AutoTokenizer

    from finetune.features import Collator

    return Collator(AutoTokenizer.from_pretrained(model_dir), "single")


def make_model(model_dir, *, num_labels: int = 2, dropout: float = 0.1, seed: int = 0):
    """A tiny XLM-R classifier whose fresh head is the same for the same seed."""
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(seed)
    return AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=num_labels, hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )


def make_multitask(model_dir, *, dropout: float = 0.1, seed: int = 0) -> tuple[dict, dict]:
    """Two tasks (2 and 3 labels, 16 and 40 features) sharing one tiny encoder."""
    from finetune.sampling import share_encoder

    models = share_encoder({
        "two": make_model(model_dir, dropout=dropout, seed=seed),
        "three": make_model(model_dir, num_labels=3, dropout=dropout, seed=seed),
    })
    features = {"two": make_features(16, seed=1), "three": make_features(40, n_labels=3)}
    return models, features


def flat_params(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class Crash(RuntimeError):
    """Raised by :func:`crash_at`: a run killed between two optimizer steps."""


def crash_at(step: int):
    """An eval_fn that kills the run after optimizer step ``step`` (before it is saved)."""
    calls = {"n": 0}

    def eval_fn(model):
        calls["n"] += 1
        if calls["n"] == step:
            raise Crash
        return {}

    return eval_fn
