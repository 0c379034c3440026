"""Small deterministic features, a minimal collator and model builders for training tests.

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


class PadCollator:
    """Pads to the longest feature in the batch (pad id 1, XLM-R's)."""

    def __call__(self, features: list) -> dict:
        width = max(len(f["input_ids"]) for f in features)
        ids = [f["input_ids"] + [1] * (width - len(f["input_ids"])) for f in features]
        mask = [f["attention_mask"] + [0] * (width - len(f["attention_mask"])) for f in features]
        return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask),
                "labels": torch.tensor([f["labels"] for f in features]),
                "example_index": torch.tensor([f["example_index"] for f in features])}


def make_model(model_dir, *, num_labels: int = 2, dropout: float = 0.1, seed: int = 0):
    """A tiny XLM-R classifier whose fresh head is the same for the same seed."""
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(seed)
    return AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=num_labels, hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )


def flat_params(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
