"""Task metrics: pure functions of predictions and gold labels, all reported in [0, 1].

- accuracy: classification, multiple choice, and token accuracy for POS / CCG tagging.
- entity_f1: CoNLL-2003 / seqeval-style micro entity F1 over BIO tags (Tjong Kim Sang
  and De Meulder 2003; seqeval's default, non-strict mode), written here.
- squad_scores: SQuAD exact match and token F1 with the official answer normalisation
  (Rajpurkar et al. 2016): max over gold answers, averaged over questions. The official
  script reports percentages; here they are fractions. An unanswerable question (no gold
  answer, SQuAD 2.0) scores 1 only for the empty prediction.
"""

from __future__ import annotations

import collections
import re
import string

import numpy as np


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of predictions equal to the gold labels.

    Args:
        predictions: (n,) int class ids.
        labels: (n,) int gold ids; entries of -100 (ignored positions) are left out.
    """
    predictions, labels = np.asarray(predictions).ravel(), np.asarray(labels).ravel()
    if predictions.shape != labels.shape:
        raise ValueError(f"predictions {predictions.shape} and labels {labels.shape} differ")
    keep = labels != -100
    if not keep.any():
        raise ValueError("no labelled items to score")
    return float((predictions[keep] == labels[keep]).mean())


def bio_entities(tags: list[str]) -> set[tuple[str, int, int]]:
    """Entities (type, first, last) of a BIO tag sequence, conlleval-style.

    An I-X that does not continue an X entity starts a new one (conlleval's rule), and
    a B-X always starts a new entity.
    """
    entities, start, kind = set(), None, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, label = tag.partition("-")
        continues = prefix == "I" and kind == label
        if start is not None and not continues:
            entities.add((kind, start, i - 1))
            start, kind = None, None
        if prefix in ("B", "I") and not continues:
            start, kind = i, label
    return entities


def entity_f1(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, float]:
    """Micro precision, recall and F1 over exact-match entities of all sentences.

    Args:
        gold: per sentence, the gold BIO tags.
        predicted: per sentence, the predicted tags (same lengths).

    Returns:
        {"precision", "recall", "f1"} in [0, 1]; 0 where undefined (no entities).
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted")
    n_gold = n_pred = n_correct = 0
    for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted")
        gold_entities, pred_entities = bio_entities(g), bio_entities(p)
        n_gold += len(gold_entities)
        n_pred += len(pred_entities)
        n_correct += len(gold_entities & pred_entities)
    precision = n_correct / n_pred if n_pred else 0.0
    recall = n_correct / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, drop punctuation, articles and extra whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _token_f1(prediction: str, gold: str) -> float:
    pred_tokens, gold_tokens = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    common = collections.Counter(pred_tokens) & collections.Counter(gold_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(pred_tokens), overlap / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions: list[str], gold_answers: list[list[str]]) -> dict[str, float]:
    """SQuAD exact match and F1 (fractions), each the max over a question's gold answers.

    Args:
        predictions: one predicted answer string per question ("" = no answer).
        gold_answers: per question, its gold answer strings ([] = unanswerable).
    """
    if len(predictions) != len(gold_answers):
        raise ValueError(f"{len(predictions)} predictions but {len(gold_answers)} questions")
    if not predictions:
        raise ValueError("no questions to score")
    em, f1 = [], []
    for prediction, golds in zip(predictions, gold_answers, strict=True):
        golds = golds or [""]
        em.append(max(float(normalize_answer(prediction) == normalize_answer(g))
                      for g in golds))
        f1.append(max(_token_f1(prediction, g) for g in golds))
    return {"exact_match": float(np.mean(em)), "f1": float(np.mean(f1))}


def best_span(
    start_logits: np.ndarray, end_logits: np.ndarray, allowed: np.ndarray,
    max_answer_tokens: int = 30,
) -> tuple[float, int, int]:
    """Highest-scoring span (start <= end, within max_answer_tokens, both allowed).

    Args:
        start_logits, end_logits: (T,) logits of one feature.
        allowed: (T,) bool, True on context tokens.

    Returns:
        (score, start, end); score is -inf and the span (0, 0) if no span is allowed.
    """
    scores = start_logits[:, None] + end_logits[None, :]  # (T, T): start x end
    length = np.arange(len(end_logits))[None, :] - np.arange(len(start_logits))[:, None]
    valid = (length >= 0) & (length < max_answer_tokens) & allowed[:, None] & allowed[None, :]
    if not valid.any():
        return float("-inf"), 0, 0
    scores = np.where(valid, scores, -np.inf)
    start, end = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(scores[start, end]), int(start), int(end)
