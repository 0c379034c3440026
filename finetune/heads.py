"""Build a task model (encoder + a fresh head) and save a phase's encoder for probing.

Phase chaining: the encoder may be a hub id, a base checkpoint, or the fine-tuned
checkpoint of another task. In every case only the base-model weights (``roberta.*``) are
taken; the task head is always newly initialised, even when the previous task had the
same number of labels (MNLI -> XNLI), so a phase never inherits another task's head.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMultipleChoice,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    PreTrainedModel,
)

from finetune.data import resolve_labels
from finetune.tasks import Task

log = logging.getLogger(__name__)

AUTO_CLASSES = {
    "single": AutoModelForSequenceClassification,
    "pair": AutoModelForSequenceClassification,
    "multiple_choice": AutoModelForMultipleChoice,
    "qa": AutoModelForQuestionAnswering,
    "tagging": AutoModelForTokenClassification,
}


def build_model(
    encoder: str | Path, task: Task, *, dtype: torch.dtype | None = None
) -> PreTrainedModel:
    """A model for ``task``'s format: ``encoder``'s base weights plus a fresh head.

    Args:
        encoder: hub id, base checkpoint dir, or a fine-tuned checkpoint of any task.
        task: gives the format and, for classification and tagging, the labels.
        dtype: parameter dtype (e.g. torch.bfloat16); None keeps float32.

    Raises:
        ValueError: a classification or tagging task whose labels are unknown.
    """
    config = AutoConfig.from_pretrained(encoder, trust_remote_code=False)
    # The previous task's head settings belong to its head, not ours.
    for attr in ("finetuning_task", "problem_type"):
        if hasattr(config, attr):
            setattr(config, attr, None)
    if task.format in ("single", "pair", "tagging"):
        labels = resolve_labels(task)
        if not labels:
            raise ValueError(f"task {task.name!r} has no labels: set Task.labels or give its "
                             "folder a meta.json with 'labels'")
        config.num_labels = len(labels)
        config.id2label = dict(enumerate(labels))
        config.label2id = {name: i for i, name in enumerate(labels)}
    else:  # QA heads have 2 outputs (start, end); multiple choice scores 1 per choice
        config.num_labels = 2
    config.architectures = None
    model = AUTO_CLASSES[task.format].from_config(config)
    base = AutoModel.from_pretrained(encoder, trust_remote_code=False)
    _copy_encoder(base, model)
    if dtype is not None:
        model = model.to(dtype)
    return model


def _copy_encoder(base: PreTrainedModel, model: PreTrainedModel) -> None:
    """Load ``base``'s weights into ``model.base_model`` (a pooler only where both have one)."""
    state = base.state_dict()
    target = model.base_model.state_dict()
    missing = sorted(k for k in target if k not in state)
    unexpected = sorted(k for k in state if k not in target)
    if [k for k in missing if not k.startswith("pooler.")] or \
            [k for k in unexpected if not k.startswith("pooler.")]:
        raise ValueError(f"encoder weights do not fit the {type(model).__name__} base model: "
                         f"missing {missing[:3]}, unexpected {unexpected[:3]}")
    with torch.no_grad():
        model.base_model.load_state_dict({k: v for k, v in state.items() if k in target},
                                         strict=False)
    log.debug("copied %d encoder tensors into %s", len(state), type(model).__name__)
