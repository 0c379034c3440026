"""build_model per format, phase chaining, and saving a phase's encoder."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from finetune.data import load_examples
from finetune.features import Collator, featurize
from finetune.heads import build_model
from finetune.tasks import LocalSource, Task, get_task

HEAD_CLASS = {"single": "ForSequenceClassification", "pair": "ForSequenceClassification",
              "multiple_choice": "ForMultipleChoice", "qa": "ForQuestionAnswering",
              "tagging": "ForTokenClassification"}


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.mark.parametrize("fmt", list(HEAD_CLASS))
def test_every_format_trains_end_to_end(fmt, local_tasks, tiny_model_dir, tokenizer):
    task = local_tasks[fmt]
    torch.manual_seed(0)
    model = build_model(tiny_model_dir, task)
    assert type(model).__name__.endswith(HEAD_CLASS[fmt])
    features = featurize(task, load_examples(task, "train"), tokenizer, max_length=48)
    batch = Collator(tokenizer, fmt)(features)
    batch.pop("example_index")
    model.train()
    out = model(**batch)
    assert torch.isfinite(out.loss)
    out.loss.backward()  # gradients reach the encoder's first layer
    grad = model.base_model.embeddings.word_embeddings.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    if fmt in ("single", "pair", "tagging"):  # labels come from the folder's meta.json
        first, n = {"single": ("libs", 3), "pair": ("match", 2), "tagging": ("O", 5)}[fmt]
        assert model.config.num_labels == n and model.config.id2label[0] == first


def test_phase_chaining_keeps_the_encoder_and_gives_a_fresh_head(tmp_path, tiny_model_dir):
    torch.manual_seed(0)
    mnli = build_model(tiny_model_dir, get_task("mnli"))
    with torch.no_grad():  # make the "fine-tuned" encoder differ from the pretrained one
        for p in mnli.parameters():
            p.add_(0.01 * torch.randn_like(p))
    mnli.save_pretrained(tmp_path / "mnli")
    before = _encoder_state(mnli)
    for task_name in ("xnli", "hellaswag", "wikiann", "squad-v2"):
        torch.manual_seed(123)
        chained = build_model(tmp_path / "mnli", get_task(task_name))
        after = _encoder_state(chained)
        shared = [k for k in before if not k.startswith("pooler.")]
        assert shared and all(torch.equal(before[k], after[k]) for k in shared), task_name
    # same label count as MNLI (3), yet the head must not be inherited
    xnli = build_model(tmp_path / "mnli", get_task("xnli"))
    assert not torch.equal(xnli.classifier.out_proj.weight, mnli.classifier.out_proj.weight)
    assert xnli.config.id2label == {0: "entailment", 1: "neutral", 2: "contradiction"}
    pretrained = AutoModel.from_pretrained(tiny_model_dir).state_dict()
    assert not torch.equal(after["encoder.layer.0.attention.self.query.weight"],
                           pretrained["encoder.layer.0.attention.self.query.weight"])


def test_build_model_from_a_base_checkpoint_copies_its_weights(tiny_model_dir):
    base = AutoModel.from_pretrained(tiny_model_dir).state_dict()
    model = build_model(tiny_model_dir, get_task("hellaswag"))  # keeps a pooler
    state = _encoder_state(model)
    assert set(state) == set(base)
    assert all(torch.equal(state[k], base[k]) for k in base)


def test_dtype_is_applied(tiny_model_dir):
    model = build_model(tiny_model_dir, get_task("sst2"), dtype=torch.bfloat16)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}


def test_task_without_labels_is_refused(tiny_model_dir, tmp_path):
    task = Task("nolabels", "single", LocalSource(str(tmp_path)), None, {}, ("en",),
                "accuracy", "target")
    with pytest.raises(ValueError, match="task 'nolabels' has no labels"):
        build_model(tiny_model_dir, task)


def _encoder_state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.base_model.state_dict().items()}
