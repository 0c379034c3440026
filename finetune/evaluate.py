"""Predict, score a task split, p(gold) per example, and the zero-shot cross-lingual table.

Zero-shot protocol (Hu et al. 2020, XTREME): a model fine-tuned on English only is
scored on every evaluation language's test set; the average leaves English out.

Every result carries ``"score"``, the task's main metric in [0, 1] (accuracy, entity F1 or
SQuAD F1; the official SQuAD script's percentages are fractions here), so task difficulty
reads one key whatever the format.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from finetune.data import load_examples, resolve_labels
from finetune.dynamics import label_signals, mean_per_example, span_signals
from finetune.features import IGNORE_INDEX, Collator, featurize
from finetune.metrics import accuracy, best_span, entity_f1, squad_scores
from finetune.tasks import Task

log = logging.getLogger(__name__)

MAIN_KEY = {"accuracy": "accuracy", "f1": "f1", "squad": "f1"}
NEG = -1e9  # padding value of QA logits: never chosen as a span boundary


def predict(model, features: list[dict], collator: Collator, *, batch_size: int = 64,
            mixed_precision: str = "no") -> np.ndarray:
    """Logits of ``model`` for every feature, in feature order (no dropout, no grad).

    Features are batched by length (little padding) and put back in order.
    ``mixed_precision``: "no", or "bf16" autocast (as the model was trained, e.g.).

    Returns:
        float32 array: single/pair (n, num_labels); multiple_choice (n, C);
        tagging (n, T, num_labels) zero-padded to the longest T; qa (n, 2, T) with
        start logits in [:, 0] and end logits in [:, 1], padded with -1e9.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: expected >= 1")
    if mixed_precision not in ("no", "bf16"):
        raise ValueError(f"mixed_precision={mixed_precision!r}: expected 'no' or 'bf16'")
    order = np.argsort([-_length(f) for f in features], kind="stable")
    was_training = model.training
    model.eval()
    chunks = []
    try:
        with torch.no_grad(), torch.autocast(model.device.type, dtype=torch.bfloat16,
                                             enabled=mixed_precision == "bf16"):
            for i in range(0, len(features), batch_size):
                batch = collator([features[j] for j in order[i : i + batch_size]])
                inputs = {k: batch[k].to(model.device) for k in ("input_ids", "attention_mask")}
                out = model(**inputs)
                if collator.format == "qa":
                    chunks.append(torch.stack([out.start_logits, out.end_logits], dim=1))
                else:
                    chunks.append(out.logits)
    finally:
        model.train(was_training)
    chunks = [c.float().cpu().numpy() for c in chunks]
    if collator.format not in ("qa", "tagging"):
        logits = np.concatenate(chunks)
    else:
        width = max(c.shape[-2 if collator.format == "tagging" else -1] for c in chunks)
        fill = NEG if collator.format == "qa" else 0.0
        logits = np.concatenate([_pad_axis(c, width, fill, collator.format) for c in chunks])
    out = np.empty_like(logits)
    out[order] = logits
    return out


def _length(feature: dict) -> int:
    ids = feature["input_ids"]
    return len(ids[0]) if ids and isinstance(ids[0], list) else len(ids)


def _pad_axis(chunk: np.ndarray, width: int, fill: float, fmt: str) -> np.ndarray:
    axis = 1 if fmt == "tagging" else 2  # the token axis
    pad = [(0, 0)] * chunk.ndim
    pad[axis] = (0, width - chunk.shape[axis])
    return np.pad(chunk, pad, constant_values=fill)


def score_predictions(task: Task, examples: list[dict], features: list[dict],
                      logits: np.ndarray) -> dict:
    """Task metric(s) from ``predict``'s logits, plus "score" (the main one) and "n"."""
    fmt, n = task.format, len(examples)
    if fmt == "qa":
        result = squad_scores(qa_answers(examples, features, logits),
                              [ex["answers"]["text"] for ex in examples])
        return {**result, "score": result["f1"], "n": n}
    if fmt != "tagging":
        labels = np.array([f["labels"] for f in features])
        value = accuracy(logits.argmax(-1), labels)
        return {"accuracy": value, "score": value, "n": n}
    pred = logits.argmax(-1)  # (n, T)
    gold_ids, pred_ids = [], []
    for i, f in enumerate(features):
        keep = np.array(f["labels"]) != IGNORE_INDEX
        gold_ids.append(np.array(f["labels"])[keep])
        pred_ids.append(pred[i, : len(f["labels"])][keep])
    if task.metric == "accuracy":
        value = accuracy(np.concatenate(pred_ids), np.concatenate(gold_ids))
        return {"accuracy": value, "score": value, "n": n}
    names = resolve_labels(task)
    to_tags = lambda ids: [names[int(j)] for j in ids]  # noqa: E731
    result = entity_f1([to_tags(g) for g in gold_ids], [to_tags(p) for p in pred_ids])
    return {**result, "score": result["f1"], "n": n}


def qa_answers(examples: list[dict], features: list[dict], logits: np.ndarray,
               max_answer_tokens: int = 30) -> list[str]:
    """Best answer text per example over all its windows (SQuAD post-processing).

    The empty answer is allowed only when some evaluated example is unanswerable
    (SQuAD 2.0 style): it wins when the <s> score start[0] + end[0] beats every span.
    """
    allow_null = any(not ex["answers"]["text"] for ex in examples)
    best: dict[int, tuple[float, str]] = {}
    null: dict[int, float] = {}
    for f, (start, end) in zip(features, logits, strict=True):
        i = f["example_index"]
        allowed = np.array([o is not None for o in f["offset_mapping"]]
                           + [False] * (len(start) - len(f["offset_mapping"])))
        score, s, e = best_span(start, end, allowed, max_answer_tokens)
        null[i] = max(null.get(i, -np.inf), float(start[0] + end[0]))
        if score > best.get(i, (-np.inf, ""))[0]:
            context = examples[i]["context"]
            text = context[f["offset_mapping"][s][0] : f["offset_mapping"][e][1]].strip()
            best[i] = (score, text)
    answers = []
    for i in range(len(examples)):
        score, text = best.get(i, (-np.inf, ""))
        answers.append("" if allow_null and null.get(i, -np.inf) > score else text)
    return answers


def gold_probabilities(model, tokenizer, task: Task, examples: list[dict], *,
                       max_length: int = 128, batch_size: int = 64) -> np.ndarray:
    """p(gold) of every example under ``model`` (eval mode), e.g. PVI's p_x or p_null.

    single / pair / multiple_choice: softmax(logits)[gold]; tagging: the mean gold-tag
    probability over labelled tokens; qa: softmax(start)[gold_start] *
    softmax(end)[gold_end] over each window ((0, 0) = <s> where the window lacks the
    answer), averaged over the example's windows. As recorded during training
    (:mod:`finetune.dynamics`), but with dropout off and the weights fixed.

    Returns:
        (len(examples),) float64; NaN for a tagging example without a labelled token.
    """
    features = featurize(task, examples, tokenizer, max_length=max_length)
    collator = Collator(tokenizer, task.format)
    probs = []
    # one batch at a time: a whole split's tagging logits (n, T, tags) need not fit in memory
    for start in range(0, len(features), batch_size):
        chunk = features[start : start + batch_size]
        logits = torch.from_numpy(predict(model, chunk, collator, batch_size=batch_size))
        probs.append(_feature_probs(task.format, chunk, logits))
    probs = np.concatenate(probs) if probs else np.zeros(0)
    return mean_per_example(probs, [f["example_index"] for f in features], len(examples))


def _feature_probs(fmt: str, features: list[dict], logits: torch.Tensor) -> np.ndarray:
    """(n_features,) p(gold) from ``predict``'s logits of ``features``."""
    if fmt == "qa":
        lengths = torch.tensor([len(f["input_ids"]) for f in features])
        window = torch.arange(logits.shape[-1])[None, :] < lengths[:, None]  # (n, T)
        gold = [torch.tensor([f[key] for f in features])
                for key in ("start_positions", "end_positions")]
        return span_signals(logits[:, 0], logits[:, 1], *gold, window)["probs"]
    if fmt == "tagging":
        labels = torch.full(logits.shape[:2], IGNORE_INDEX)
        for i, f in enumerate(features):
            labels[i, : len(f["labels"])] = torch.tensor(f["labels"])
        return label_signals(logits, labels)["probs"]
    return label_signals(logits, torch.tensor([f["labels"] for f in features]))["probs"]


def evaluate(model, tokenizer, task: Task, split: str, *, language: str | None = None,
             max_length: int = 128, batch_size: int = 64, limit: int | None = None,
             mixed_precision: str = "no") -> dict:
    """Score ``model`` on one split and language of ``task``.

    Returns:
        {"accuracy", "score", "n"}, {"precision", "recall", "f1", "score", "n"} (entity
        F1) or {"exact_match", "f1", "score", "n"} (QA); values in [0, 1], "score" = the
        main metric (:data:`MAIN_KEY`).
    """
    examples = load_examples(task, split, language=language, limit=limit)
    if not examples:
        raise ValueError(f"task {task.name!r}, split {split!r}, language {language!r}: "
                         "no labelled examples")
    features = featurize(task, examples, tokenizer, max_length=max_length)
    logits = predict(model, features, Collator(tokenizer, task.format), batch_size=batch_size,
                     mixed_precision=mixed_precision)
    result = score_predictions(task, examples, features, logits)
    log.info("%s %s %s: %s", task.name, split, language or "en", result)
    return result


def zero_shot_table(model, tokenizer, task: Task, *, languages: list[str] | None = None,
                    split: str = "test", **kwargs) -> list[dict]:
    """One row per language, {"language", "metric", "value", "n"}, plus an "avg" row.

    Args:
        languages: default task.languages.
        split: the split scored in every language.
        **kwargs: max_length, batch_size, limit, mixed_precision (passed to ``evaluate``).

    Returns:
        Rows in ``languages`` order, then {"language": "avg", ...}: the unweighted mean of
        the non-English rows' values ("n" = their total; value None if there are none).
    """
    key = MAIN_KEY[task.metric]
    rows = []
    for lang in languages or task.languages:
        result = evaluate(model, tokenizer, task, split, language=lang, **kwargs)
        rows.append({"language": lang, "metric": key, "value": result[key], "n": result["n"]})
    others = [r for r in rows if r["language"] != "en"]
    avg = float(np.mean([r["value"] for r in others])) if others else None
    rows.append({"language": "avg", "metric": key, "value": avg,
                 "n": int(sum(r["n"] for r in others))})
    return rows
