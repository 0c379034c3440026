"""Turn local-schema examples into model features, and batch them with dynamic padding.

Every feature holds "input_ids", "attention_mask" and "example_index" (its row in the
examples list). Classification formats add an int "labels"; tagging a list of labels with
-100 on special tokens and on every sub-token but a word's first (the XTREME / BERT
convention); QA adds "start_positions" / "end_positions" (both 0, the <s> token, when the
answer is not inside this window) and "offset_mapping" (character spans of context tokens,
None elsewhere) for turning predicted spans back into text. Long QA contexts give several
features per example, overlapping by ``stride`` tokens (Devlin et al. 2019).
"""

from __future__ import annotations

import torch

from finetune.tasks import FORMATS, Task

IGNORE_INDEX = -100
MODEL_KEYS = ("input_ids", "attention_mask", "labels", "start_positions", "end_positions")


def featurize(
    task: Task, examples: list[dict], tokenizer, *, max_length: int = 128,
    stride: int | None = None,
) -> list[dict]:
    """Features of ``examples`` (local-layout dicts) for ``task``'s format.

    Args:
        task: gives the format.
        examples: from ``finetune.data.load_examples``.
        tokenizer: a fast (tokenizers-backed) Hugging Face tokenizer.
        max_length: tokens per sequence, special tokens included.
        stride: QA only: tokens shared by consecutive windows; default max_length // 4.

    Returns:
        One feature per example (QA: one per context window).
    """
    if max_length < 8:
        raise ValueError(f"max_length={max_length}: expected at least 8 tokens")
    fmt = task.format
    if fmt == "qa":
        return _featurize_qa(examples, tokenizer, max_length, stride or max_length // 4)
    if fmt == "tagging":
        return [_featurize_tagging(i, ex, tokenizer, max_length)
                for i, ex in enumerate(examples)]
    features = []
    for i, ex in enumerate(examples):
        if fmt == "single":
            enc = tokenizer(ex["text"], truncation=True, max_length=max_length)
        elif fmt == "pair":
            enc = tokenizer(ex["text_a"], ex["text_b"], truncation=True, max_length=max_length)
        else:  # multiple_choice: one (context, choice) sequence per choice
            enc = tokenizer([ex["context"]] * len(ex["choices"]), ex["choices"],
                            truncation=True, max_length=max_length)
        features.append({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                         "labels": int(ex["label"]), "example_index": i})
    return features


def _featurize_tagging(index: int, example: dict, tokenizer, max_length: int) -> dict:
    enc = tokenizer(example["tokens"], is_split_into_words=True, truncation=True,
                    max_length=max_length)
    labels, previous = [], None
    for word in enc.word_ids():
        first = word is not None and word != previous
        labels.append(int(example["tags"][word]) if first else IGNORE_INDEX)
        previous = word
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
            "labels": labels, "example_index": index}


def _featurize_qa(examples: list[dict], tokenizer, max_length: int, stride: int) -> list[dict]:
    """Question first, context second (only the context is truncated into windows)."""
    if not examples:
        return []
    questions = [ex["question"].lstrip() for ex in examples]
    # Checked before tokenising the pairs: when a window has no more context tokens than
    # the stride, the Rust tokenizer does not raise but panics (a BaseException).
    longest = max(len(ids) for ids in tokenizer(questions, add_special_tokens=False)["input_ids"])
    room = max_length - longest - tokenizer.num_special_tokens_to_add(pair=True)
    if room <= stride:
        raise ValueError(f"QA max_length={max_length}, stride={stride}: the longest question "
                         f"({longest} tokens) leaves {max(room, 0)} tokens of context per "
                         "window; raise max_length or lower stride")
    enc = tokenizer(
        questions, [ex["context"] for ex in examples],
        truncation="only_second", max_length=max_length, stride=stride,
        return_overflowing_tokens=True, return_offsets_mapping=True,
    )
    features = []
    for j, input_ids in enumerate(enc["input_ids"]):
        index = enc["overflow_to_sample_mapping"][j]
        seq_ids = enc.sequence_ids(j)
        offsets = [tuple(o) if s == 1 else None
                   for o, s in zip(enc["offset_mapping"][j], seq_ids, strict=True)]
        start, end = _answer_positions(examples[index]["answers"], offsets)
        features.append({"input_ids": input_ids, "attention_mask": enc["attention_mask"][j],
                         "start_positions": start, "end_positions": end,
                         "offset_mapping": offsets, "example_index": index})
    return features


def _answer_positions(answers: dict, offsets: list) -> tuple[int, int]:
    """Token span of the first gold answer if it lies inside this window, else (0, 0)."""
    if not answers["text"]:
        return 0, 0
    char_start = answers["answer_start"][0]
    char_end = char_start + len(answers["text"][0])
    inside = [i for i, o in enumerate(offsets) if o is not None]
    if not inside or offsets[inside[0]][0] > char_start or offsets[inside[-1]][1] < char_end:
        return 0, 0
    start = next(i for i in inside if offsets[i][1] > char_start)
    end = next(i for i in reversed(inside) if offsets[i][0] < char_end)
    return start, end


class Collator:
    """Pad a list of features to the longest in the batch; return model kwargs as tensors.

    Returns "input_ids" and "attention_mask" (B, T), or (B, C, T) for multiple choice;
    "labels" (B,) or (B, T) for tagging (padded with -100); "start_positions" and
    "end_positions" (B,) for QA; and "example_index" (B,), which the caller pops before
    ``model(**batch)``. Other feature keys (offset mappings) are left out.
    """

    def __init__(self, tokenizer, format: str) -> None:
        if format not in FORMATS:
            raise ValueError(f"format {format!r}: expected one of {FORMATS}")
        if tokenizer.pad_token_id is None:
            raise ValueError("tokenizer has no pad token; set tokenizer.pad_token first")
        self.pad_id = int(tokenizer.pad_token_id)
        self.format = format

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        if not features:
            raise ValueError("cannot collate an empty batch")
        if self.format == "multiple_choice":
            seqs = [s for f in features for s in f["input_ids"]]
            masks = [m for f in features for m in f["attention_mask"]]
            n_choices = {len(f["input_ids"]) for f in features}
            if len(n_choices) != 1:
                raise ValueError(f"choices per example differ in one batch: {n_choices}")
            shape = (len(features), n_choices.pop(), -1)  # (B, C, T)
        else:
            seqs = [f["input_ids"] for f in features]
            masks = [f["attention_mask"] for f in features]
            shape = (len(features), -1)
        width = max(len(s) for s in seqs)
        batch = {"input_ids": _pad(seqs, width, self.pad_id).view(shape),
                 "attention_mask": _pad(masks, width, 0).view(shape)}
        if self.format == "tagging":
            batch["labels"] = _pad([f["labels"] for f in features], width, IGNORE_INDEX)
        elif self.format == "qa":
            for key in ("start_positions", "end_positions"):
                batch[key] = torch.tensor([f[key] for f in features], dtype=torch.long)
        else:
            batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.long)
        batch["example_index"] = torch.tensor([f["example_index"] for f in features],
                                              dtype=torch.long)
        return batch


def _pad(seqs: list[list[int]], width: int, value: int) -> torch.Tensor:
    out = torch.full((len(seqs), width), value, dtype=torch.long)
    for i, seq in enumerate(seqs):
        out[i, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return out
