"""featurize and Collator: label alignment, QA spans and windows, dynamic padding."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer

from finetune.data import load_examples
from finetune.features import IGNORE_INDEX, Collator, featurize
from finetune.tasks import LocalSource, Task

X = -100


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def qa_task() -> Task:
    return Task("qa", "qa", LocalSource("/unused"), None, {}, ("en",), "squad", "target")


def test_single_and_pair_features_are_the_tokenizer_output(local_tasks, tokenizer):
    for fmt in ("single", "pair"):
        examples = load_examples(local_tasks[fmt], "train")
        features = featurize(local_tasks[fmt], examples, tokenizer, max_length=64)
        for i, (ex, f) in enumerate(zip(examples, features, strict=True)):
            texts = [ex["text"]] if fmt == "single" else [ex["text_a"], ex["text_b"]]
            assert f["input_ids"] == tokenizer(*texts)["input_ids"]
            assert f["labels"] == ex["label"] and f["example_index"] == i


def test_pair_truncation_respects_max_length(local_tasks, tokenizer):
    features = featurize(local_tasks["pair"], load_examples(local_tasks["pair"], "train"),
                         tokenizer, max_length=12)
    assert max(len(f["input_ids"]) for f in features) == 12


def test_tagging_labels_sit_on_the_first_subtoken_of_each_word(tokenizer):
    # Hand-computed from the tokenizer's pieces: <s> ▁ T he | ▁ qu i ck | ▁br o w n | ▁fo x </s>
    # word_ids: None 0 0 0 1 1 1 1 2 2 2 2 3 3 None
    task = Task("tag", "tagging", LocalSource("/unused"), ("O", "B", "I"), {}, ("en",),
                "f1", "target")
    example = {"id": "0", "tokens": ["The", "quick", "brown", "fox"], "tags": [0, 1, 2, 2]}
    (feature,) = featurize(task, [example], tokenizer)
    assert feature["labels"] == [X, 0, X, X, 1, X, X, X, 2, X, X, X, 2, X, X]
    (short,) = featurize(task, [example], tokenizer, max_length=10)  # cuts inside "brown"
    assert short["labels"] == [X, 0, X, X, 1, X, X, X, 2, X]
    assert len(short["input_ids"]) == 10


def test_qa_positions_map_back_to_the_answer_text(local_tasks, tokenizer):
    examples = load_examples(local_tasks["qa"], "train")
    features = featurize(local_tasks["qa"], examples, tokenizer, max_length=64)
    assert [f["example_index"] for f in features] == [0, 1]
    for ex, f in zip(examples, features, strict=True):
        start, end = f["offset_mapping"][f["start_positions"]], f["offset_mapping"][
            f["end_positions"]]
        assert ex["context"][start[0] : end[1]].strip() == ex["answers"]["text"][0]
        # offsets only on context tokens
        assert f["offset_mapping"][0] is None and f["offset_mapping"][-1] is None


def test_qa_long_context_gives_overlapping_windows(tokenizer):
    context = "The quick brown fox jumps over the lazy dog. " * 4 + "library for parsing files"
    answer_start = context.index("parsing")
    example = {"id": "0", "context": context, "question": "what?",
               "answers": {"text": ["parsing"], "answer_start": [answer_start]}}
    features = featurize(qa_task(), [example], tokenizer, max_length=48, stride=8)
    assert len(features) >= 3 and {f["example_index"] for f in features} == {0}
    for a, b in zip(features, features[1:], strict=False):
        ctx_a = [t for t, o in zip(a["input_ids"], a["offset_mapping"], strict=True) if o]
        ctx_b = [t for t, o in zip(b["input_ids"], b["offset_mapping"], strict=True) if o]
        assert ctx_a[-8:] == ctx_b[:8]  # consecutive windows share `stride` tokens
    found = [f for f in features if f["start_positions"] > 0]
    assert found and all(f["start_positions"] == 0 for f in features[:-len(found)])
    for f in found:
        s, e = f["offset_mapping"][f["start_positions"]], f["offset_mapping"][f["end_positions"]]
        assert context[s[0] : e[1]].strip() == "parsing"


def test_qa_unanswerable_points_at_the_start_token(tokenizer):
    example = {"id": "0", "context": "The lazy dog.", "question": "who?",
               "answers": {"text": [], "answer_start": []}}
    (f,) = featurize(qa_task(), [example], tokenizer)
    assert (f["start_positions"], f["end_positions"]) == (0, 0)


def test_collator_pads_to_the_longest_in_the_batch(local_tasks, tokenizer):
    task = local_tasks["tagging"]
    features = featurize(task, load_examples(task, "train"), tokenizer)
    batch = Collator(tokenizer, "tagging")(features)
    lengths = [len(f["input_ids"]) for f in features]
    assert batch["input_ids"].shape == (3, max(lengths))
    for i, n in enumerate(lengths):
        assert batch["input_ids"][i, :n].tolist() == features[i]["input_ids"]
        assert (batch["input_ids"][i, n:] == tokenizer.pad_token_id).all()
        assert batch["attention_mask"][i].sum() == n
        assert (batch["labels"][i, n:] == IGNORE_INDEX).all()
    assert batch["example_index"].tolist() == [0, 1, 2]
    assert batch["example_index"].dtype == torch.long


def test_collator_multiple_choice_is_batch_by_choice_by_token(local_tasks, tokenizer):
    task = local_tasks["multiple_choice"]
    examples = load_examples(task, "train")
    features = featurize(task, examples, tokenizer)
    assert features[0]["input_ids"][2] == tokenizer(examples[0]["context"],
                                                    examples[0]["choices"][2])["input_ids"]
    batch = Collator(tokenizer, "multiple_choice")(features)
    width = max(len(s) for f in features for s in f["input_ids"])
    assert batch["input_ids"].shape == (2, 4, width)
    assert batch["input_ids"][1, 3, : len(features[1]["input_ids"][3])].tolist() == \
        features[1]["input_ids"][3]
    assert batch["labels"].tolist() == [0, 1]


def test_collator_qa_drops_offsets_and_keeps_positions(local_tasks, tokenizer):
    task = local_tasks["qa"]
    features = featurize(task, load_examples(task, "train"), tokenizer)
    batch = Collator(tokenizer, "qa")(features)
    assert set(batch) == {"input_ids", "attention_mask", "start_positions", "end_positions",
                          "example_index"}
    assert batch["start_positions"].tolist() == [f["start_positions"] for f in features]


def test_bad_inputs_raise_value_errors(tokenizer):
    with pytest.raises(ValueError, match="format 'regression'"):
        Collator(tokenizer, "regression")
    with pytest.raises(ValueError, match="empty batch"):
        Collator(tokenizer, "single")([])
    with pytest.raises(ValueError, match="max_length=4"):
        featurize(qa_task(), [], tokenizer, max_length=4)
    question = {"id": "0", "context": "The lazy dog.", "question": "what jumps " * 20,
                "answers": {"text": [], "answer_start": []}}
    with pytest.raises(ValueError, match="tokens of context per window"):
        featurize(qa_task(), [question], tokenizer, max_length=32)
    short = {**question, "question": "what jumps " * 3}  # the tokenizer would panic here
    with pytest.raises(ValueError, match="stride=4"):
        featurize(qa_task(), [short], tokenizer, max_length=24, stride=4)
